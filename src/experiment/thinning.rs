//! Bounded series: how a run's in-memory record stays the same size
//! however long the run. The store keeps every step; the record that
//! diagnosis and reports read keeps at most [`Thinning::cap`] of each
//! series (steps, probes, evaluations) and always the latest.
//!
//! The rule is stride doubling. Items are kept when their position in
//! the series (0, 1, 2, ...) is a multiple of the stride, which starts
//! at 1; when more than `cap` would be kept, the stride doubles and every
//! other kept item goes. The latest item is kept as well, whatever its
//! position, until the next one replaces it. So a series of `n` items
//! keeps the positions that are multiples of the smallest power of two
//! `s` with `ceil(n / s) <= cap`, plus the last: the same items whether
//! it was thinned as it grew ([`Thinner::push`]) or all at once
//! ([`Thinning::thin`], when a run is read back from the store). A run
//! of up to `cap` items keeps every one.

/// Steps a record keeps: runs of up to 16,384 steps keep every step.
pub const STEP_CAP: usize = 16_384;

/// Probed steps a record keeps. The default cadence probes every step to
/// 1,000 and about 900 steps per decade after, so runs of up to about
/// 14,000 steps keep every probe, and a run of 10,000 steps (about 1,900
/// probed steps) holds nearly as many as the longest.
pub const PROBE_CAP: usize = 2_048;

/// Evaluations a record keeps.
pub const EVAL_CAP: usize = 4_096;

/// The thinning rule for one series: at most `cap` items (and the last).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thinning {
    /// Items kept at most, besides the latest.
    pub cap: usize,
}

impl Thinning {
    /// The stride for a series of `n` items: the smallest power of two `s`
    /// with `ceil(n / s) <= cap`.
    pub fn stride(self, n: usize) -> usize {
        let mut s = 1;
        while n.div_ceil(s) > self.cap.max(1) {
            s *= 2;
        }
        s
    }

    /// `items` thinned as [`Thinner::push`] would have thinned them.
    pub fn thin<T>(self, items: Vec<T>) -> Vec<T> {
        let n = items.len();
        let s = self.stride(n);
        if s == 1 {
            return items;
        }
        items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % s == 0 || i + 1 == n)
            .map(|(_, item)| item)
            .collect()
    }
}

/// Thins a series as it grows: [`Thinner::push`] adds the next item to
/// the caller's `Vec`, which holds the kept items in order, the latest
/// last. (The `Vec` stays the caller's: a [`RunRecord`]'s series are
/// plain vectors.)
///
/// [`RunRecord`]: super::RunRecord
#[derive(Clone, Debug)]
pub struct Thinner {
    rule: Thinning,
    /// Items pushed so far.
    seen: usize,
    stride: usize,
    /// Whether the last kept item is there only as the latest (its
    /// position is not a multiple of the stride).
    provisional: bool,
}

impl Thinner {
    /// A thinner for an empty series kept by `rule`.
    pub fn new(rule: Thinning) -> Self {
        Self {
            rule,
            seen: 0,
            stride: 1,
            provisional: false,
        }
    }

    /// Adds the next item to `items` (the series this thinner has kept so
    /// far): kept if its position is a multiple of the stride, and as the
    /// latest until the next push.
    pub fn push<T>(&mut self, items: &mut Vec<T>, item: T) {
        if self.provisional {
            items.pop();
        }
        let position = self.seen;
        self.seen += 1;
        if position.is_multiple_of(self.stride) && items.len() >= self.rule.cap.max(1) {
            // The kept items are at positions 0, s, 2s, ...: keep the even
            // places, the multiples of the doubled stride. One halving is
            // enough: `cap + 1` items become `cap / 2 + 1`.
            let mut place = 0;
            items.retain(|_| {
                place += 1;
                place % 2 == 1
            });
            self.stride *= 2;
        }
        self.provisional = !position.is_multiple_of(self.stride);
        items.push(item);
    }

    /// Items pushed so far (kept or not).
    pub fn seen(&self) -> usize {
        self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Thinning as a series grows keeps exactly what thinning it whole
    /// keeps, for every length up to well past several halvings, and
    /// never more than `cap` items besides the latest.
    #[test]
    fn thinning_as_it_grows_equals_thinning_at_once() {
        for cap in [1, 2, 3, 5, 8] {
            let rule = Thinning { cap };
            let (mut thinner, mut grown) = (Thinner::new(rule), Vec::new());
            for n in 1..=200usize {
                thinner.push(&mut grown, n - 1);
                let whole = rule.thin((0..n).collect::<Vec<_>>());
                assert_eq!(grown, whole, "cap {cap}, n {n}");
                assert!(whole.len() <= cap + 1, "cap {cap}, n {n}: {whole:?}");
                assert_eq!(whole.last(), Some(&(n - 1)), "the latest is kept");
                assert_eq!(whole[0], 0, "the first is kept");
            }
        }
    }

    /// Up to `cap` items, nothing goes; past it, the kept positions are
    /// evenly spaced by a power of two.
    #[test]
    fn short_series_are_kept_whole_and_long_ones_evenly() {
        let rule = Thinning { cap: 100 };
        assert_eq!(rule.thin((0..100).collect::<Vec<_>>()).len(), 100);
        let kept = rule.thin((0..1000).collect::<Vec<usize>>());
        assert_eq!(rule.stride(1000), 16);
        let strides: Vec<usize> = kept.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(strides[..strides.len() - 1].iter().all(|&d| d == 16));
        assert_eq!(kept.last(), Some(&999));
        assert_eq!(kept.len(), 63 + 1);
    }
}
