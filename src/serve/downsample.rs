//! Server-side downsampling of a series: at most `points` of its rows,
//! evenly spaced by index, always with the first and the last, so a
//! 100,000-step run's chart costs what a 1,000-step run's does.

/// The positions kept of `n` rows for at most `points` (>= 2) of them,
/// and the stride between them: every `stride`-th row from the first,
/// plus the last.
pub fn thin(n: usize, points: usize) -> (usize, Vec<usize>) {
    assert!(points >= 2, "at least the first and the last");
    if n <= points {
        return (1, (0..n).collect());
    }
    let stride = (n - 1).div_ceil(points - 1);
    let mut kept: Vec<usize> = (0..n).step_by(stride).collect();
    if kept.last() != Some(&(n - 1)) {
        kept.push(n - 1);
    }
    (stride, kept)
}

/// The part of the sorted `steps` within `from..=to`.
pub fn within(steps: &[usize], from: Option<usize>, to: Option<usize>) -> &[usize] {
    let lo = from.map_or(0, |f| steps.partition_point(|&s| s < f));
    let hi = to.map_or(steps.len(), |t| steps.partition_point(|&s| s <= t));
    &steps[lo..hi.max(lo)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_at_most_points_rows_with_both_ends_evenly_spaced() {
        for n in 0..300 {
            for points in [2, 3, 7, 10, 64, 299, 300] {
                let (stride, kept) = thin(n, points);
                assert!(
                    kept.len() <= points,
                    "n {n} points {points}: {}",
                    kept.len()
                );
                if n > 0 {
                    assert_eq!(kept[0], 0);
                    assert_eq!(*kept.last().unwrap(), n - 1);
                }
                if n <= points {
                    assert_eq!(kept.len(), n);
                    assert_eq!(stride, 1);
                } else {
                    // Evenly spaced but for the last gap, and not
                    // needlessly sparse: a stride one less would not fit.
                    for w in kept[..kept.len() - 1].windows(2) {
                        assert_eq!(w[1] - w[0], stride);
                    }
                    assert!(stride == 1 || (n - 1).div_ceil(stride - 1) + 1 > points);
                }
            }
        }
    }

    #[test]
    fn within_cuts_a_sorted_list_to_an_inclusive_range() {
        let steps = [0, 10, 20, 30];
        assert_eq!(within(&steps, Some(10), Some(20)), &[10, 20]);
        assert_eq!(within(&steps, Some(11), None), &[20, 30]);
        assert_eq!(within(&steps, None, Some(5)), &[0]);
        assert!(within(&steps, Some(25), Some(21)).is_empty());
    }
}
