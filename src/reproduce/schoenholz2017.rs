//! Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017 ("Deep information
//! propagation"): mean-field theory at initialization says how deep a net
//! can be trained. For tanh with `sigma_b^2 = 0.05` the edge of chaos is at
//! `sigma_w^2 = 1.76`; the correlation depth scale `xi_c` diverges there,
//! and nets train up to about `6 xi_c` layers, so at large depth only nets
//! near criticality train.
//!
//! Two parts: the mean-field table (critical `sigma_w^2`, `chi_1`, the depth
//! scales at the sweep's `sigma_w^2`), computed by
//! [`crate::analysis::theory`]; and a reduced trainability map (a sweep of
//! depth x `sigma_w^2`) with the `6 xi_c` curve on it. A run "trains"
//! when its sweep classification says so; the theory predicts it trains
//! when its depth is at most `6 xi_c`.

use super::{Check, Context, Outcome, Reproduction, SweepResult, SweptRun, Table};
use crate::analysis::theory::{critical_sigma_w2, MeanField};
use crate::error::Result;
use crate::experiment::sweep::{trainable_depth_curve, Class};
use crate::nn::Activation;
use crate::report::trainability::{self, MapAxes};
use crate::report::Figure;

/// The reproduction.
pub const REPRODUCTION: Reproduction = Reproduction {
    name: "schoenholz2017",
    paper: "Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017, Deep Information Propagation",
    shows: "Deep tanh nets train only near the edge of chaos, up to about 6 xi_c layers",
    quick_seconds: 10,
    full_seconds: 260,
    run,
};

/// The biases' variance of the experiment.
const SIGMA_B2: f64 = 0.05;
/// The depth axis' key.
const DEPTH: &str = "model.depth";
/// The `sigma_w^2` variable's key.
const SW2: &str = "sw2";

fn run(ctx: &mut Context<'_>) -> Result<Outcome> {
    let sweep = ctx.sweep(&crate::sweep_file!("schoenholz2017"))?;
    let net = MeanField::new(Activation::Tanh, 1.0, SIGMA_B2);
    let critical = critical_sigma_w2(&net).unwrap_or(f64::NAN);
    let at_one = net.predict();
    let depths = axis(&sweep, DEPTH);
    let sw2s = axis(&sweep, SW2);
    let first = &sweep.runs[0].record.spec;
    let mut out = Outcome {
        setup: vec![
            "Paper: tanh MLPs with sigma_b^2 = 0.05 at sigma_w^2 from 1 to 4 and depths up to \
             300, trained with SGD and RMSProp on MNIST and CIFAR-10; the mean-field depth scales \
             computed at initialization."
                .into(),
            format!(
                "Ours: tanh, width {}, sigma_b^2 = 0.05, depths {} x sigma_w^2 {}, {} SGD steps at \
                 lr {} (batch {}) each on the bundled MNIST subset, {} runs; the theory by \
                 Gauss-Hermite quadrature in f64; `{}`.",
                first.model.widths[0],
                list(&depths),
                list(&sw2s),
                first.steps,
                first.optimizer.lr,
                first.batch,
                sweep.runs.len(),
                sweep.path
            ),
        ],
        sweeps: vec![(sweep.sweep_id, sweep.name.clone())],
        ..Outcome::default()
    };

    let mut theory = Table::new(
        "Mean field, tanh, sigma_b^2 = 0.05",
        &["figure", "paper", "ours"],
    );
    theory.row(vec![
        "critical sigma_w^2 (chi_1 = 1)".into(),
        "1.76".into(),
        format!("{critical:.4}"),
    ]);
    theory.row(vec![
        "xi_c at sigma_w^2 = 1".into(),
        "-".into(),
        opt(at_one.xi_c, 2),
    ]);
    for &w in &sw2s {
        let p = net.with_sigma_w2(w).predict();
        theory.row(vec![
            format!("sigma_w^2 = {w}: chi_1, 6 xi_c"),
            "-".into(),
            format!("{:.3}, {}", p.chi_1, opt(p.xi_c.map(|x| 6.0 * x), 1)),
        ]);
    }
    out.tables.push(theory);

    let limit = |w: f64| {
        net.with_sigma_w2(w)
            .predict()
            .xi_c
            .map_or(f64::INFINITY, |x| 6.0 * x)
    };
    let mut map = Table::new(
        "Trainability: class and held-out accuracy per cell (paper: nets train below 6 xi_c)",
        &std::iter::once("depth".to_string())
            .chain(sw2s.iter().map(|w| format!("sigma_w^2 = {w}")))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    for &d in &depths {
        let mut row = vec![d.to_string()];
        for &w in &sw2s {
            let cell = cell_runs(&sweep, d, w);
            let predicted = if d <= limit(w) { "" } else { " (above 6 xi_c)" };
            row.push(match cell.first() {
                Some(r) => format!(
                    "{} {:.0}%{predicted}",
                    class(r).map_or("-", Class::name),
                    100.0 * r.test_accuracy()
                ),
                None => "-".into(),
            });
        }
        map.row(row);
    }
    out.tables.push(map);

    out.checks.push(Check::new(
        "the critical sigma_w^2 at sigma_b^2 = 0.05 is 1.76",
        (critical / 1.76 - 1.0).abs() < 0.005,
        format!("{critical:.4}"),
    ));
    let (dmin, dmax) = (depths[0], *depths.last().expect("a depth"));
    let trains = |d: f64, w: f64| {
        let runs = cell_runs(&sweep, d, w);
        !runs.is_empty() && runs.iter().all(|r| class(r) == Some(Class::Trains))
    };
    let shallow_all = sw2s.iter().all(|&w| trains(dmin, w));
    out.checks.push(Check::new(
        format!("at depth {dmin} every sigma_w^2 trains"),
        shallow_all,
        format!(
            "{} of {} cells train",
            sw2s.iter().filter(|&&w| trains(dmin, w)).count(),
            sw2s.len()
        ),
    ));
    let nearest = sw2s
        .iter()
        .copied()
        .min_by(|a, b| (a - critical).abs().total_cmp(&(b - critical).abs()))
        .expect("a sigma_w^2");
    let (lo, hi) = (sw2s[0], *sw2s.last().expect("a sigma_w^2"));
    out.checks.push(Check::new(
        format!(
            "at depth {dmax} the net nearest criticality (sigma_w^2 = {nearest}) trains, and \
             those at both ends ({lo} ordered, {hi} chaotic) do not"
        ),
        trains(dmax, nearest) && !trains(dmax, lo) && !trains(dmax, hi),
        format!(
            "{nearest}: {}; {lo}: {}; {hi}: {}",
            cell_class(&sweep, dmax, nearest),
            cell_class(&sweep, dmax, lo),
            cell_class(&sweep, dmax, hi)
        ),
    ));
    let agree = sweep
        .runs
        .iter()
        .filter(|r| {
            let (d, w) = (value(r, DEPTH), value(r, SW2));
            (class(r) == Some(Class::Trains)) == (d <= limit(w))
        })
        .count();
    let n = sweep.runs.len();
    out.checks.push(Check::new(
        "6 xi_c separates the nets that train from those that do not (at least 80% of runs agree)",
        agree as f64 >= 0.8 * n as f64,
        format!("{agree} of {n} runs agree"),
    ));
    out.notes.push(
        "A net just above the curve may still train weakly (the classification counts a net \
         well above chance as training); the theory's boundary is where training becomes \
         impossible in the limit of long training, not a sharp line at a fixed budget."
            .into(),
    );
    out.figures.push(map_figure(&sweep)?);
    Ok(out)
}

/// The values of a numeric axis, ascending.
fn axis(sweep: &SweepResult, key: &str) -> Vec<f64> {
    let mut v: Vec<f64> = sweep.runs.iter().map(|r| value(r, key)).collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

/// The value of `key` in a run's cell (NaN if not a number).
fn value(r: &SweptRun, key: &str) -> f64 {
    r.cell
        .get(key)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(f64::NAN)
}

fn cell_runs(sweep: &SweepResult, depth: f64, sw2: f64) -> Vec<&SweptRun> {
    sweep
        .runs
        .iter()
        .filter(|r| value(r, DEPTH) == depth && (value(r, SW2) - sw2).abs() < 1e-9)
        .collect()
}

fn class(r: &SweptRun) -> Option<Class> {
    r.row.classification.as_ref().map(|c| c.class)
}

fn cell_class(sweep: &SweepResult, depth: f64, sw2: f64) -> &'static str {
    cell_runs(sweep, depth, sw2)
        .first()
        .and_then(|r| class(r))
        .map_or("-", Class::name)
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.digits$}"))
}

fn list(values: &[f64]) -> String {
    let v: Vec<String> = values.iter().map(|x| format!("{x}")).collect();
    v.join(", ")
}

/// The map of classes over depth x `sigma_w^2` with the `6 xi_c` curve.
fn map_figure(sweep: &SweepResult) -> Result<Figure> {
    let runs: Vec<trainability::SweepRun> = sweep
        .runs
        .iter()
        .map(|r| trainability::SweepRun {
            cell: vec![
                (DEPTH.into(), format!("{}", value(r, DEPTH))),
                (SW2.into(), format!("{}", value(r, SW2))),
                ("seed".into(), r.row.seed.to_string()),
            ],
            class: class(r).map_or("unclassified", Class::name).to_string(),
            accuracy: r.test_accuracy(),
        })
        .collect();
    let curve = trainable_depth_curve(&sweep.spec, SW2, DEPTH)?;
    let title = "Trainability of tanh nets against depth and sigma_w^2";
    let svg = trainability::render(
        title,
        &runs,
        &MapAxes {
            x: SW2,
            y: DEPTH,
            facet: None,
            curve: curve.as_deref().map(|c| (c, "6 ξc (mean field)")),
        },
    );
    Ok(Figure {
        id: "schoenholz2017-map".into(),
        title: title.into(),
        caption: "Each cell's class (green: trains) and held-out accuracy (shade), with the \
                  mean-field trainable depth 6 xi_c dashed: the nets that train concentrate \
                  around the critical sigma_w^2 = 1.76 as depth grows."
            .into(),
        svg,
    })
}
