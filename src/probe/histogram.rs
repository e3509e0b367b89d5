//! Fixed-bin histograms of log10|v|, with the sign kept and a bin for exact
//! zeros. The bin edges are the same for every run and every tensor, so
//! histograms compare across runs: [`BINS`] bins of width [`BIN_WIDTH`]
//! decades from [`LOG10_MIN`] to [`LOG10_MAX`]; values below the range
//! (f64 gradients under 1e-46) go to the first bin, above it to the last.

use crate::tensor::Scalar;
use serde::{Deserialize, Serialize};

/// Lower edge of the first bin, in decades (f32's smallest subnormal is 1.4e-45).
pub const LOG10_MIN: f64 = -46.0;
/// Upper edge of the last bin, in decades.
pub const LOG10_MAX: f64 = 4.0;
/// Width of a bin, in decades.
pub const BIN_WIDTH: f64 = 0.5;
/// Bins per sign.
pub const BINS: usize = 100;

/// Counts of log10|v| per bin, for negative and positive values apart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Negative values, bin `i` covering `|v|` in
    /// `[10^(LOG10_MIN + i BIN_WIDTH), 10^(LOG10_MIN + (i+1) BIN_WIDTH))`.
    pub neg: Vec<u64>,
    /// Positive values, same bins.
    pub pos: Vec<u64>,
    /// Entries exactly zero.
    pub zero: u64,
    /// NaN and infinite entries.
    pub non_finite: u64,
}

impl Histogram {
    /// Lower edge (log10) of bin `i`.
    pub fn edge(i: usize) -> f64 {
        LOG10_MIN + i as f64 * BIN_WIDTH
    }

    /// The histogram of `values`.
    pub fn of<T: Scalar>(values: &[T]) -> Self {
        let mut h = Histogram {
            neg: vec![0; BINS],
            pos: vec![0; BINS],
            zero: 0,
            non_finite: 0,
        };
        for &v in values {
            let v = v.as_f64();
            if !v.is_finite() {
                h.non_finite += 1;
            } else if v == 0.0 {
                h.zero += 1;
            } else {
                let bin = ((v.abs().log10() - LOG10_MIN) / BIN_WIDTH).floor();
                let bin = (bin.max(0.0) as usize).min(BINS - 1);
                if v < 0.0 {
                    h.neg[bin] += 1;
                } else {
                    h.pos[bin] += 1;
                }
            }
        }
        h
    }

    /// Entries counted.
    pub fn total(&self) -> u64 {
        self.neg.iter().sum::<u64>() + self.pos.iter().sum::<u64>() + self.zero + self.non_finite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_by_decade_with_sign_and_zero() {
        let h = Histogram::of(&[1.0f64, -1.0, 0.0, 0.0, 1e-50, 3.0e10, f64::NAN, 0.2]);
        let one = ((0.0 - LOG10_MIN) / BIN_WIDTH) as usize;
        assert_eq!(h.pos[one], 1);
        assert_eq!(h.neg[one], 1);
        assert_eq!(h.zero, 2);
        assert_eq!(h.pos[0], 1, "below the range: first bin");
        assert_eq!(h.pos[BINS - 1], 1, "above the range: last bin");
        assert_eq!(h.pos[one - 2], 1, "0.2 is in [10^-1, 10^-0.5)");
        assert_eq!(h.non_finite, 1);
        assert_eq!(h.total(), 8);
        assert_eq!(Histogram::edge(one), 0.0);
    }
}
