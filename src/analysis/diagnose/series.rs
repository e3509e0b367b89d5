//! Reductions the rules share: medians over steps, depth profiles of
//! log10 norms, line fits over layers, the number of classes.

use crate::experiment::RunRecord;
use crate::probe::{LayerProbe, StepProbe, TensorStats};

/// Median of the non-NaN values (infinities count, as the extremes they
/// are); `None` when there are none.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    // Equal middles (two infinities) have no mean to take.
    Some(if n % 2 == 1 || v[n / 2 - 1] == v[n / 2] {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Probes in which every probed tensor is finite.
pub fn finite_probes(record: &RunRecord) -> impl Iterator<Item = &StepProbe> {
    record
        .probes
        .iter()
        .filter(|p| p.first_non_finite_layer().is_none())
}

/// The second half of the finite probes (all of them when only one).
pub fn late_probes(record: &RunRecord) -> Vec<&StepProbe> {
    let all: Vec<&StepProbe> = finite_probes(record).collect();
    let start = all.len() / 2;
    all[start..].to_vec()
}

/// Per layer, the median over the finite probes of `log10 ||tensor||_2`
/// (`-inf` where the tensor underflowed to exact zeros). Empty when no
/// probe is finite.
pub fn log_norm_profile(record: &RunRecord, tensor: fn(&LayerProbe) -> &TensorStats) -> Vec<f64> {
    let probes: Vec<&StepProbe> = finite_probes(record).collect();
    let depth = probes.first().map_or(0, |p| p.layers.len());
    (0..depth)
        .map(|i| {
            median(
                probes
                    .iter()
                    .filter_map(|p| p.layers.get(i))
                    .map(|l| tensor(l).l2().log10()),
            )
            .unwrap_or(f64::NAN)
        })
        .collect()
}

/// Least-squares slope of `y` against the layer index, over the finite
/// entries; `None` with fewer than two.
pub fn slope(y: &[f64]) -> Option<f64> {
    let pts: Vec<(f64, f64)> = y
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, &v)| (i as f64, v))
        .collect();
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    Some(sxy / sxx)
}

/// Per layer, the median over `probes` of `value`.
pub fn layer_medians(probes: &[&StepProbe], value: fn(&LayerProbe) -> f64) -> Vec<f64> {
    let depth = probes.first().map_or(0, |p| p.layers.len());
    (0..depth)
        .map(|i| {
            median(probes.iter().filter_map(|p| p.layers.get(i)).map(value)).unwrap_or(f64::NAN)
        })
        .collect()
}

/// The first probed step from which `value` of layer `i` stays above
/// `threshold` to the last finite probe.
pub fn above_since(
    record: &RunRecord,
    i: usize,
    threshold: f64,
    value: fn(&LayerProbe) -> f64,
) -> Option<usize> {
    let mut since = None;
    for p in finite_probes(record) {
        match p.layers.get(i).map(value) {
            Some(v) if v > threshold => {
                since.get_or_insert(p.step);
            }
            _ => since = None,
        }
    }
    since
}

/// The number of classes: the output layer's width (its pre-activation
/// has `batch x classes` entries), else from the data set's name.
pub fn classes(record: &RunRecord) -> usize {
    let batch = record.spec.batch as u64;
    let from_probe = record
        .probes
        .first()
        .and_then(|p| p.layers.last())
        .map(|l| l.pre.n)
        .filter(|&n| batch > 0 && n > 0 && n % batch == 0)
        .map(|n| (n / batch) as usize);
    from_probe.unwrap_or(match record.spec.data.name.as_str() {
        "mnist" | "fashion" => 10,
        "shapeset" => 9,
        _ => 2,
    })
}

/// Layer indices as a short list: `0-11, 14, 17-19`.
pub fn layer_list(layers: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < layers.len() {
        let mut j = i;
        while j + 1 < layers.len() && layers[j + 1] == layers[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", layers[i], layers[j])
        } else {
            layers[i].to_string()
        });
        i = j + 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_skip_nan_and_keep_infinities() {
        assert_eq!(median([3.0, f64::NAN, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([1.0, 2.0, 4.0, 8.0]), Some(3.0));
        let m = median([f64::NEG_INFINITY, f64::NEG_INFINITY, 1.0]);
        assert_eq!(m, Some(f64::NEG_INFINITY));
        assert_eq!(median([f64::NAN]), None);
    }

    #[test]
    fn slope_of_a_line_is_exact() {
        // y = 2 - 0.5 i, with one non-finite point ignored.
        let y = [2.0, 1.5, f64::NEG_INFINITY, 0.5, 0.0];
        assert!((slope(&y).unwrap() + 0.5).abs() < 1e-12);
        assert_eq!(slope(&[1.0]), None);
    }

    #[test]
    fn layer_lists_collapse_runs() {
        assert_eq!(layer_list(&[0, 1, 2, 5, 7, 8]), "0-2, 5, 7-8");
        assert_eq!(layer_list(&[]), "");
    }
}
