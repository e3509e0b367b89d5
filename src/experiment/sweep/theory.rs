//! The theory beside a sweep: where a sweep's map has depth on one axis
//! and `sigma_w^2` on the other, Schoenholz et al. 2017's trainable depth,
//! `6 xi_c`, as a curve in the map's coordinates.

use super::SweepSpec;
use crate::analysis::theory::MeanField;
use crate::error::Result;
/// Points of the theory curve across the `sigma_w^2` axis.
const CURVE_POINTS: usize = 121;
/// How close an axis value must be to a run's `sigma_w^2` (relative).
const SIGMA_MATCH: f64 = 1e-6;

/// Schoenholz et al.'s trainable depth, `6 xi_c` against `sigma_w^2`, in
/// the map's coordinates, when one of `x`, `y` is `model.depth` and the
/// other an axis whose value is every run's mean-field `sigma_w^2`
/// ([`MeanField::of_model`]) with one activation and one `sigma_b^2` over
/// the sweep; `None` otherwise. The curve is clamped to the depth axis'
/// range, so where it leaves the map (near criticality, where `xi_c`
/// diverges) it runs along the map's edge.
pub fn trainable_depth_curve(
    spec: &SweepSpec,
    x: &str,
    y: &str,
) -> Result<Option<Vec<(f64, f64)>>> {
    const DEPTH: &str = "model.depth";
    let (sigma_axis, depth_on_y) = match (x, y) {
        (s, DEPTH) if s != DEPTH => (s, true),
        (DEPTH, s) if s != DEPTH => (s, false),
        _ => return Ok(None),
    };
    let mut net: Option<MeanField> = None;
    let (mut depths, mut sigmas) = (Vec::new(), Vec::new());
    for run in spec.runs()? {
        let cell: serde_json::Value =
            serde_json::from_str(&run.cell).expect("a run's cell is JSON");
        let (Some(s), Some(mf)) = (
            cell[sigma_axis].as_f64(),
            MeanField::of_model(&run.spec.model),
        ) else {
            return Ok(None);
        };
        let same = |n: &MeanField| n.activation == mf.activation && n.sigma_b2 == mf.sigma_b2;
        if (mf.sigma_w2 - s).abs() > SIGMA_MATCH * s.abs() || !net.as_ref().is_none_or(same) {
            return Ok(None);
        }
        depths.push(run.spec.model.widths.len() as f64);
        sigmas.push(s);
        net = Some(mf);
    }
    let Some(net) = net else { return Ok(None) };
    let span = |v: &[f64]| {
        v.iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)))
    };
    let ((d_lo, d_hi), (s_lo, s_hi)) = (span(&depths), span(&sigmas));
    let curve = (0..CURVE_POINTS)
        .map(|i| {
            let s = s_lo + (s_hi - s_lo) * i as f64 / (CURVE_POINTS - 1) as f64;
            let depth = net
                .with_sigma_w2(s)
                .predict()
                .xi_c
                .map_or(d_hi, |xi| (6.0 * xi).clamp(d_lo, d_hi));
            if depth_on_y {
                (s, depth)
            } else {
                (depth, s)
            }
        })
        .collect();
    Ok(Some(curve))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SWEEP: &str = r#"steps = 10
[data]
name = "xor"
[model]
activation = "tanh"
init = "mean_field_var({sw2}, 0.05)"
[sweep]
name = "mf"
[sweep.axes]
"model.depth" = [2, 200]
sw2 = {from = 1.0, to = 4.0, steps = 4}
"#;

    #[test]
    fn the_curve_is_six_xi_c_over_the_sigma_axis() {
        let spec = SweepSpec::from_toml(SWEEP, "s.toml").unwrap();
        let curve = trainable_depth_curve(&spec, "sw2", "model.depth")
            .unwrap()
            .unwrap();
        assert_eq!(curve.len(), CURVE_POINTS);
        assert_eq!(curve[0].0, 1.0);
        // Schoenholz et al.: xi_c = 3.63 at sigma_w^2 = 1 (tests/theory.rs).
        assert!(
            (curve[0].1 / (6.0 * 3.627) - 1.0).abs() < 1e-3,
            "{:?}",
            curve[0]
        );
        // Off the map (xi_c diverges) near 1.76: along the top edge.
        let top = curve.iter().filter(|p| p.1 == 200.0).map(|p| p.0);
        assert!(
            top.clone().all(|s| (1.6..1.95).contains(&s)),
            "{:?}",
            top.collect::<Vec<_>>()
        );
        // Transposed map, transposed curve.
        let t = trainable_depth_curve(&spec, "model.depth", "sw2")
            .unwrap()
            .unwrap();
        assert_eq!((t[0].1, t[0].0), curve[0]);
    }

    #[test]
    fn no_curve_without_depth_and_a_mean_field_sigma_axis() {
        let spec = SweepSpec::from_toml(SWEEP, "s.toml").unwrap();
        assert!(trainable_depth_curve(&spec, "model.depth", "model.depth")
            .unwrap()
            .is_none());
        let other = SWEEP
            .replace("sw2 =", "\"optimizer.lr\" =")
            .replace("{sw2}", "1.5");
        let spec = SweepSpec::from_toml(&other, "s.toml").unwrap();
        assert!(trainable_depth_curve(&spec, "optimizer.lr", "model.depth")
            .unwrap()
            .is_none());
        let normed = SWEEP.replace("[model]", "[model]\nnorm = \"batch\"");
        let spec = SweepSpec::from_toml(&normed, "s.toml").unwrap();
        assert!(trainable_depth_curve(&spec, "sw2", "model.depth")
            .unwrap()
            .is_none());
    }
}
