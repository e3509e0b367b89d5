//! Reductions the rules share: medians over steps, depth profiles of
//! log10 norms, line fits over layers, the number of classes.
//!
//! Probes are not evenly spaced (the cadence probes every step early and
//! after an anomaly, sparser later), so a median over probed steps weighs
//! each probe by the steps it stands for ([`step_weights`]): a median over
//! training time, not over how often it was measured. With an even
//! cadence every weight is equal and it is the plain median.

use crate::experiment::RunRecord;
use crate::probe::{LayerProbe, StepProbe, TensorStats};

/// Median of the non-NaN values (infinities count, as the extremes they
/// are); `None` when there are none.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    weighted_median(values.into_iter().map(|v| (v, 1)))
}

/// Median of the non-NaN values, each counted `weight` times (a value
/// whose weight is 0 does not count); `None` when there are none. When
/// the lower half's weight is exactly half the total, the mean of the
/// values on either side (the plain median of an even count).
pub fn weighted_median(values: impl IntoIterator<Item = (f64, u64)>) -> Option<f64> {
    let mut v: Vec<(f64, u64)> = values
        .into_iter()
        .filter(|&(x, w)| !x.is_nan() && w > 0)
        .collect();
    v.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let total: u64 = v.iter().map(|p| p.1).sum();
    let mut below = 0;
    for (k, &(x, w)) in v.iter().enumerate() {
        below += w;
        if 2 * below > total {
            return Some(x);
        }
        if 2 * below == total {
            // Equal middles (two infinities) have no mean to take.
            let next = v[k + 1].0;
            return Some(if next == x { x } else { (x + next) / 2.0 });
        }
    }
    None
}

/// The steps each of `probes` stands for: from its step to the next one's
/// (the last one: the gap before it, or 1 when it is alone).
pub fn step_weights(probes: &[&StepProbe]) -> Vec<u64> {
    let gaps: Vec<u64> = probes
        .windows(2)
        .map(|w| w[1].step.saturating_sub(w[0].step).max(1) as u64)
        .collect();
    let last = gaps.last().copied().unwrap_or(1);
    gaps.into_iter()
        .chain((!probes.is_empty()).then_some(last))
        .collect()
}

/// Probes in which every probed tensor is finite.
pub fn finite_probes(record: &RunRecord) -> impl Iterator<Item = &StepProbe> {
    record
        .probes
        .iter()
        .filter(|p| p.first_non_finite_layer().is_none())
}

/// The finite probes of the second half of the probed steps: from the
/// midpoint between the first and the last finite probe on (all of them
/// when only one).
pub fn late_probes(record: &RunRecord) -> Vec<&StepProbe> {
    let all: Vec<&StepProbe> = finite_probes(record).collect();
    let (Some(first), Some(last)) = (all.first(), all.last()) else {
        return all;
    };
    let mid = first.step + last.step;
    all.iter().copied().filter(|p| 2 * p.step >= mid).collect()
}

/// Per layer, the median over the finite probes (weighed by the steps
/// they stand for) of `log10 ||tensor||_2` (`-inf` where the tensor
/// underflowed to exact zeros). Empty when no probe is finite.
pub fn log_norm_profile(record: &RunRecord, tensor: fn(&LayerProbe) -> &TensorStats) -> Vec<f64> {
    let probes: Vec<&StepProbe> = finite_probes(record).collect();
    layer_medians(&probes, |l| tensor(l).l2().log10())
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

/// Per layer, the median over `probes` (weighed by the steps they stand
/// for) of `value`.
pub fn layer_medians(probes: &[&StepProbe], value: impl Fn(&LayerProbe) -> f64) -> Vec<f64> {
    let depth = probes.first().map_or(0, |p| p.layers.len());
    let weights = step_weights(probes);
    (0..depth)
        .map(|i| {
            let values = probes
                .iter()
                .zip(&weights)
                .filter_map(|(p, &w)| Some((value(p.layers.get(i)?), w)));
            weighted_median(values).unwrap_or(f64::NAN)
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
        "mnist" | "fashion" | "cifar10" => 10,
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
    fn weighted_medians_count_each_value_by_its_weight() {
        // 1 stands for 3 steps, 10 and 100 for one each: the median is 1.
        assert_eq!(
            weighted_median([(1.0, 3), (10.0, 1), (100.0, 1)]),
            Some(1.0)
        );
        // Lower half's weight exactly half: the mean across the middle.
        assert_eq!(weighted_median([(1.0, 2), (3.0, 2)]), Some(2.0));
        assert_eq!(weighted_median([(f64::NAN, 5), (4.0, 0)]), None);
    }

    fn probes_at(steps: &[usize]) -> Vec<StepProbe> {
        steps
            .iter()
            .map(|&step| StepProbe {
                step,
                layers: Vec::new(),
                histograms: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn each_probe_stands_for_the_steps_to_the_next() {
        let p = probes_at(&[0, 1, 2, 10, 20, 120]);
        let refs: Vec<&StepProbe> = p.iter().collect();
        assert_eq!(step_weights(&refs), [1, 1, 8, 10, 100, 100]);
        assert_eq!(step_weights(&refs[..1]), [1]);
        assert!(step_weights(&[]).is_empty());
    }

    #[test]
    fn late_probes_are_the_second_half_of_the_steps_not_of_the_probes() {
        // Dense early, sparse late: by count the second half would start at
        // step 5; by steps it starts at 60 (the midpoint of 0 and 120).
        let mut r = RunRecord::new(crate::experiment::Spec::default());
        r.probes = probes_at(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 60, 120]);
        let late: Vec<usize> = late_probes(&r).iter().map(|p| p.step).collect();
        assert_eq!(late, [60, 120]);
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
