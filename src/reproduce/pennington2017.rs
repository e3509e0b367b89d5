//! Pennington, Schoenholz & Ganguli 2017 ("Resurrecting the sigmoid in
//! deep learning through dynamical isometry"): the spectrum of the
//! input-output Jacobian `J` of a random deep net at initialization.
//!
//! At criticality (mean eigenvalue of `J J^T` equal to 1) the eigenvalues'
//! variance grows linearly with depth at a slope set by the activation and
//! the weights (their Table 1, with the 2018 sequel): `L` for linear nets
//! with Gaussian weights, 0 with orthogonal ones, `2L` for ReLU with
//! Gaussian weights at `sigma_w^2 = 2` and `L` with orthogonal ones. A tanh
//! net with orthogonal weights on the critical line at a small fixed point
//! `q*` is close to linear and orthogonal: its singular values stay near 1
//! at any depth (dynamical isometry), while with Gaussian weights they
//! spread. The slopes come from [`crate::analysis::spectrum::measure`];
//! the tanh nets start at their fixed point (`input_variance`), as in the
//! paper.

use super::{Check, Context, Outcome, Progress, Reproduction, Table};
use crate::analysis::spectrum::{measure, Spectrum, SpectrumConfig, WeightInit};
use crate::analysis::theory::GaussHermite;
use crate::error::Result;
use crate::nn::Activation;
use crate::report::plot::{Line, Plot};
use crate::report::Figure;

/// The reproduction.
pub const REPRODUCTION: Reproduction = Reproduction {
    name: "pennington2017",
    paper: "Pennington, Schoenholz & Ganguli 2017, Resurrecting the sigmoid in deep learning \
            through dynamical isometry: theory and practice (Table 1, Figures 1 and 3)",
    shows: "Orthogonal weights keep a critical tanh net's Jacobian well conditioned at any depth; \
            Gaussian weights and ReLU do not",
    quick_seconds: 8,
    full_seconds: 300,
    run,
};

/// The tanh nets' fixed point `q*` (the paper's Figure 3 uses 1/64 among
/// others; our choice of the smallest).
const Q_STAR: f64 = 1.0 / 64.0;

/// One net of the comparison: its name, activation, weights, `sigma_w^2`,
/// `sigma_b^2`, the input's variance, and the predicted variance slope
/// (for tanh, its limit as `q* -> 0`).
struct Net {
    name: &'static str,
    activation: Activation,
    init: WeightInit,
    sigma_w2: f64,
    sigma_b2: f64,
    input_variance: f64,
    slope: Option<f64>,
}

fn nets() -> Vec<Net> {
    let (w2, b2) = tanh_critical_at(Q_STAR);
    let plain = |name, activation, init, sigma_w2, slope| Net {
        name,
        activation,
        init,
        sigma_w2,
        sigma_b2: 0.0,
        input_variance: 1.0,
        slope: Some(slope),
    };
    let tanh = |name, init, slope| Net {
        name,
        activation: Activation::Tanh,
        init,
        sigma_w2: w2,
        sigma_b2: b2,
        input_variance: (Q_STAR - b2) / w2,
        slope,
    };
    vec![
        plain(
            "linear, Gaussian",
            Activation::Identity,
            WeightInit::Gaussian,
            1.0,
            1.0,
        ),
        plain(
            "linear, orthogonal",
            Activation::Identity,
            WeightInit::Orthogonal,
            1.0,
            0.0,
        ),
        plain(
            "ReLU, Gaussian",
            Activation::Relu,
            WeightInit::Gaussian,
            2.0,
            2.0,
        ),
        plain(
            "ReLU, orthogonal",
            Activation::Relu,
            WeightInit::Orthogonal,
            2.0,
            1.0,
        ),
        // As q* -> 0 the critical tanh net becomes the linear one.
        tanh("tanh, Gaussian", WeightInit::Gaussian, Some(1.0)),
        tanh("tanh, orthogonal", WeightInit::Orthogonal, Some(0.0)),
    ]
}

/// The critical tanh net whose fixed point is `q`: `sigma_w^2 = 1 /
/// E[tanh'(sqrt(q) z)^2]` makes `chi_1 = 1`, and `sigma_b^2 = q -
/// sigma_w^2 E[tanh(sqrt(q) z)^2]` makes `q` the length map's fixed point.
pub fn tanh_critical_at(q: f64) -> (f64, f64) {
    let gh = GaussHermite::new(128);
    let s = q.sqrt();
    let d2 = gh.expect(|z| (1.0 - (s * z).tanh().powi(2)).powi(2));
    let p2 = gh.expect(|z| (s * z).tanh().powi(2));
    let w2 = 1.0 / d2;
    (w2, q - w2 * p2)
}

fn run(ctx: &mut Context<'_>) -> Result<Outcome> {
    let width = ctx.pick(200, 400);
    // The slopes are laws for L much smaller than N: they are fitted up
    // to L = N / 25 over many draws (the ReLU variances are heavy-tailed);
    // the tanh nets go deep, with their singular values (our choices).
    let fit_to = width / 25;
    let shallow: Vec<usize> = (0..).map(|k| 1 << k).take_while(|&l| l <= fit_to).collect();
    let depths: Vec<usize> = ctx.pick(vec![1, 2, 4, 8, 16, 32], vec![1, 2, 4, 8, 16, 32, 64, 128]);
    let (draws, deep_draws) = (32, ctx.pick(4, 8));
    let deepest = *depths.last().expect("depths");
    let mut spectra = Vec::new();
    for net in nets() {
        let deep = net.activation == Activation::Tanh;
        let (depths, draws) = if deep {
            (depths.clone(), deep_draws)
        } else {
            (shallow.clone(), draws)
        };
        ctx.progress(&Progress::Measuring(&format!(
            "{}: width {width}, depths {depths:?}, {draws} draws",
            net.name
        )));
        let s = measure(&SpectrumConfig {
            activation: net.activation,
            init: net.init,
            sigma_w2: net.sigma_w2,
            sigma_b2: net.sigma_b2,
            input_variance: net.input_variance,
            width,
            depths,
            draws,
            seed: 0,
            singular_values: deep,
        });
        spectra.push((net, s));
    }
    let (w2, b2) = tanh_critical_at(Q_STAR);
    let mut out = Outcome {
        setup: vec![
            "Paper: random nets of width 1000 (and the N -> infinity theory), depths up to a few \
             hundred, weights Gaussian or orthogonal at criticality; tanh on the critical line \
             at small q*."
                .into(),
            format!(
                "Ours: width {width}; the linear and ReLU nets at depths {shallow:?} (L <= N/25, \
                 where the laws hold), {draws} draws each, input N(0, I), no bias; tanh at depths \
                 {depths:?}, {deep_draws} draws, on the critical line at q* = 1/64 (sigma_w^2 = \
                 {w2:.4}, sigma_b^2 = {b2:.2e}) from an input at its fixed point; f64, no training."
            ),
        ],
        ..Outcome::default()
    };

    let mut table = Table::new(
        "Variance of the eigenvalues of J J^T against depth (paper: Table 1)",
        &[
            "net",
            "paper's slope",
            &format!("our slope (L <= {fit_to})"),
            "mean at the deepest L (paper: 1)",
            &format!("singular values at L = {deepest}: 5th-95th percentile"),
        ],
    );
    for (net, s) in &spectra {
        let mean = s.moments.last().map_or(f64::NAN, |m| m.mean);
        let range = match spread(&s.singular_values) {
            (lo, hi) if lo.is_finite() => format!("{lo:.3} - {hi:.3}"),
            _ => "-".into(),
        };
        table.row(vec![
            net.name.into(),
            match (net.activation, net.slope) {
                (Activation::Tanh, Some(v)) => format!("{v} as q* -> 0"),
                (_, Some(v)) => format!("{v}"),
                (_, None) => "-".into(),
            },
            format!("{:.3}", slope_up_to(s, fit_to)),
            format!("{mean:.3}"),
            range,
        ]);
    }
    out.tables.push(table);

    let by = |name: &str| &spectra.iter().find(|(n, _)| n.name == name).expect(name).1;
    let slope = |name: &str| slope_up_to(by(name), fit_to);
    let within = |name: &str, want: f64, tol: f64| {
        let got = slope(name);
        Check::new(
            format!("{name}: the variance grows as {want} L"),
            (got / want - 1.0).abs() < tol,
            format!("fitted slope {got:.3}"),
        )
    };
    out.checks.push(within("linear, Gaussian", 1.0, 0.3));
    out.checks.push(Check::new(
        "linear, orthogonal: an exact isometry (variance 0 at every depth)",
        slope("linear, orthogonal").abs() < 1e-9,
        format!("fitted slope {:.1e}", slope("linear, orthogonal")),
    ));
    let (rg, ro) = (slope("ReLU, Gaussian"), slope("ReLU, orthogonal"));
    out.checks.push(Check::new(
        "ReLU: Gaussian weights spread the spectrum faster than orthogonal ones (2L against \
         L), and orthogonal ReLU is no isometry (each slope within 35%)",
        rg > ro && (rg / 2.0 - 1.0).abs() < 0.35 && (ro - 1.0).abs() < 0.35,
        format!("slopes {rg:.3} and {ro:.3}"),
    ));
    let (tg, to) = (by("tanh, Gaussian"), by("tanh, orthogonal"));
    let (vg, vo) = (last_variance(tg), last_variance(to));
    out.checks.push(Check::new(
        format!(
            "tanh on the critical line at small q*: orthogonal weights keep the spectrum far \
             narrower than Gaussian ones at depth {deepest}"
        ),
        vo < 0.1 * vg,
        format!("variance {vo:.3} against {vg:.3}"),
    ));
    let (lo, hi) = spread(&to.singular_values);
    out.checks.push(Check::new(
        format!(
            "dynamical isometry: orthogonal critical tanh keeps 90% of its singular values \
             within a factor of 2 of 1 at depth {deepest}"
        ),
        lo > 0.5 && hi < 2.0,
        format!("5th-95th percentile {lo:.3} - {hi:.3}"),
    ));
    out.notes.push(
        "The tanh Gaussian net is not critical in the mean only: its mean eigenvalue is 1 \
         while its singular values spread over orders of magnitude, which no mean-field figure \
         shows and the spectrum does."
            .into(),
    );

    out.figures.push(variance_figure(&spectra));
    out.figures.push(singular_figure(tg, to, deepest));
    Ok(out)
}

/// The least-squares slope through the origin of the variance against
/// depth, over the depths up to `max_depth`.
fn slope_up_to(s: &Spectrum, max_depth: usize) -> f64 {
    let m = s.moments.iter().filter(|m| m.depth <= max_depth);
    let lv: f64 = m.clone().map(|m| m.depth as f64 * m.variance).sum();
    let ll: f64 = m.map(|m| (m.depth as f64).powi(2)).sum();
    lv / ll
}

/// The variance at the deepest depth.
fn last_variance(s: &Spectrum) -> f64 {
    s.moments.last().map_or(f64::NAN, |m| m.variance)
}

/// The 5th and 95th percentiles of ascending `values` (NaN when empty).
fn spread(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let at = |p: f64| values[((values.len() - 1) as f64 * p).round() as usize];
    (at(0.05), at(0.95))
}

fn variance_figure(spectra: &[(Net, Spectrum)]) -> Figure {
    let title = "Spread of the Jacobian's spectrum against depth";
    let mut p = Plot::new(title, "depth L", "variance of the eigenvalues of J J^T");
    for (i, (net, s)) in spectra.iter().enumerate() {
        let pts: Vec<(f64, f64)> = s
            .moments
            .iter()
            .map(|m| (m.depth as f64, m.variance))
            .collect();
        p.lines.push(Line::new(net.name, i, pts).dotted());
    }
    for (i, (net, s)) in spectra.iter().enumerate() {
        if let Some(k) = net.slope.filter(|&k| k > 0.0) {
            let pts = s
                .moments
                .iter()
                .map(|m| (m.depth as f64, k * m.depth as f64))
                .collect();
            p.lines
                .push(Line::new(format!("{k} L (paper)"), i, pts).dashed());
        }
    }
    p.x_log = true;
    p.y_log = true;
    Figure {
        id: "pennington2017-variance".into(),
        title: title.into(),
        caption: "The variance of J J^T's eigenvalues against depth (log-log; linear orthogonal \
                  is 0 and not drawn): Gaussian weights spread the spectrum linearly in depth \
                  (dashed: the paper's slopes), orthogonal tanh at small q* stays narrow."
            .into(),
        svg: p.render(),
    }
}

fn singular_figure(gaussian: &Spectrum, orthogonal: &Spectrum, depth: usize) -> Figure {
    let title = format!("Singular values of J, critical tanh, depth {depth}");
    let mut p = Plot::new(&title, "singular value (log scale)", "fraction at or below");
    p.x_log = true;
    for (i, (label, s)) in [("Gaussian", gaussian), ("orthogonal", orthogonal)]
        .iter()
        .enumerate()
    {
        let n = s.singular_values.len() as f64;
        let pts = s
            .singular_values
            .iter()
            .enumerate()
            .map(|(k, &v)| (v, (k + 1) as f64 / n))
            .collect();
        p.lines.push(Line::new(*label, i + 4, pts));
    }
    p.y_range = Some((0.0, 1.0));
    Figure {
        id: "pennington2017-singular-values".into(),
        title: title.clone(),
        caption: "The distribution of J's singular values (cumulative) for tanh on the critical \
                  line at q* = 1/64: orthogonal weights keep them near 1 (a steep step), Gaussian \
                  ones spread them over decades (below about 1e-6 a value is at the f64 \
                  eigen-solver's floor: numerically zero)."
            .into(),
        svg: p.render(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::theory::MeanField;

    #[test]
    fn the_tanh_net_is_critical_with_its_fixed_point_at_q() {
        for q in [1.0 / 64.0, 0.25, 1.0] {
            let (w2, b2) = tanh_critical_at(q);
            let net = MeanField::new(Activation::Tanh, w2, b2);
            assert!((net.length_map(q) - q).abs() < 1e-12, "q = {q}");
            assert!((net.chi_1(q) - 1.0).abs() < 1e-12, "q = {q}");
        }
        // Near 0 tanh is linear: sigma_w^2 -> 1, sigma_b^2 -> 0.
        let (w2, b2) = tanh_critical_at(1e-6);
        assert!((w2 - 1.0).abs() < 1e-5 && b2.abs() < 1e-9, "{w2} {b2}");
    }

    #[test]
    fn percentiles_of_sorted_values() {
        let v: Vec<f64> = (0..=100).map(f64::from).collect();
        assert_eq!(spread(&v), (5.0, 95.0));
        assert!(spread(&[]).0.is_nan());
    }
}
