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
                let bin = bin_of(v.abs());
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

/// Lower edges `10^(LOG10_MIN + i BIN_WIDTH)` of the bins, as values.
fn edges() -> &'static [f64; BINS] {
    static EDGES: std::sync::OnceLock<[f64; BINS]> = std::sync::OnceLock::new();
    EDGES.get_or_init(|| std::array::from_fn(|i| 10f64.powf(Histogram::edge(i))))
}

/// The bin of `a > 0`: a guess from the exponent bits (`log2 a` within
/// 0.09, under a fifth of a bin), corrected against the exact edges. No
/// logarithm per entry.
fn bin_of(a: f64) -> usize {
    let bits = a.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as f64 - 1023.0;
    let mantissa = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let log10 = (exp + mantissa - 1.0) * std::f64::consts::LOG10_2;
    let guess = ((log10 - LOG10_MIN) / BIN_WIDTH).floor();
    let mut bin = guess.clamp(0.0, (BINS - 1) as f64) as usize;
    let e = edges();
    while bin + 1 < BINS && a >= e[bin + 1] {
        bin += 1;
    }
    while bin > 0 && a < e[bin] {
        bin -= 1;
    }
    bin
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_binning_agrees_with_log10() {
        let mut v = 1e-60f64;
        while v < 1e8 {
            let want = ((v.log10() - LOG10_MIN) / BIN_WIDTH)
                .floor()
                .clamp(0.0, (BINS - 1) as f64);
            let got = bin_of(v);
            // Within 1e-12 of an edge, log10 itself may round either way.
            let near_edge = edges().iter().any(|&e| (v / e - 1.0).abs() < 1e-12);
            assert!(got == want as usize || near_edge, "{v:e}: {got} vs {want}");
            v *= 1.0137;
        }
    }

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
