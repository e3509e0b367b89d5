//! The adding problem, as Hochreiter & Schmidhuber define it (1997,
//! "Long short-term memory", Experiment 4), at a fixed length `T`.
//!
//! Each step reads a pair: a value drawn from U[-1, 1] and a marker.
//! Exactly two pairs are marked with 1.0: one of the first ten (its value
//! is `X1`), then one of the first `T/2 - 1` still unmarked pairs (`X2`):
//! position `p2` is uniform over `0..T/2` without `p1`. Every other marker
//! is 0.0, except those of the first and the last pair, which are -1.0. In
//! the case where `X1`'s pair is the first pair, its value is set to 0
//! (the paper's rule, which names `X1` only: `X2` in the first pair keeps
//! its value). The target, read out after the last step, is
//! `0.5 + (X1 + X2) / 4`, the sum scaled into [0, 1]; a sequence counts as
//! solved when the absolute error there is below [`TOLERANCE`].
//!
//! One change from the paper: its sequences have random lengths between
//! `T` and `T + T/10`; here every sequence has exactly `T` steps, so a
//! minibatch is `T` plain matrices with no padding or masking and the
//! read-out is the same step for every example. The marked pairs sit in
//! the first half either way, so the lag the net must bridge is the
//! paper's.
//!
//! The later, simpler variant (Le et al. 2015; Arjovsky et al. 2016:
//! values from U(0, 1), one mark in each half, the target the plain sum,
//! mean-predictor MSE 1/6) is not this one: its figure is 1/6, ours
//! [`MEAN_PREDICTOR_MSE`] = 19/480.
//!
//! ```
//! use gradscope::data::sequence::adding::{adding, MEAN_PREDICTOR_MSE};
//! use gradscope::data::sequence::SeqTargets;
//! let d = adding(4, 20, 7);
//! assert_eq!((d.len(), d.length, d.input_dim()), (4, 20, 2));
//! let SeqTargets::Values { values, .. } = &d.targets else { unreachable!() };
//! assert!(values.iter().all(|&y| (0.0..=1.0).contains(&y)));
//! assert!((MEAN_PREDICTOR_MSE - 0.0395833).abs() < 1e-6);
//! ```

use super::{SeqDataset, SeqInputs, SeqTargets};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The shortest `T` the definition allows: `X1` is one of the first ten
/// pairs and must lie in the first half, so `T / 2 >= 10`.
pub const MIN_LENGTH: usize = 20;

/// The paper's criterion: a sequence is processed correctly when the
/// absolute error at its end is below 0.04.
pub const TOLERANCE: f64 = 0.04;

/// The MSE of the best constant prediction: the target's variance.
///
/// The target is `0.5 + (X1 + X2) / 4` with `X1`, `X2` independent and of
/// mean 0, so the best constant is 0.5 and its MSE is
/// `(Var X1 + Var X2) / 16`. A U[-1, 1] value has variance `2^2 / 12 =
/// 1/3`, so `Var X2 = 1/3`. `X1` is 0 when its pair is the first one
/// (probability 1/10: one of the first ten pairs, uniformly) and U[-1, 1]
/// otherwise, so `Var X1 = 9/10 * 1/3 = 3/10`. Hence
/// `(3/10 + 1/3) / 16 = (19/30) / 16 = 19/480 ≈ 0.03958`, for every `T`.
/// (Without the first-pair rule it would be `(2/3) / 16 = 1/24`.)
pub const MEAN_PREDICTOR_MSE: f64 = 19.0 / 480.0;

/// `n` sequences of `length` steps from `seed` (2 channels per step: value,
/// marker; one regression target).
///
/// # Panics
/// When `length < MIN_LENGTH`.
pub fn adding(n: usize, length: usize, seed: u64) -> SeqDataset {
    assert!(
        length >= MIN_LENGTH,
        "adding problem length {length} < {MIN_LENGTH}"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut inputs = vec![0.0f32; n * length * 2];
    let mut targets = Vec::with_capacity(n);
    for example in inputs.chunks_exact_mut(length * 2) {
        for pair in example.chunks_exact_mut(2) {
            pair[0] = rng.gen::<f32>() * 2.0 - 1.0;
            pair[1] = 0.0;
        }
        example[1] = -1.0;
        example[length * 2 - 1] = -1.0;
        let p1 = rng.gen_range(0..10);
        let k = rng.gen_range(0..length / 2 - 1);
        let p2 = if k >= p1 { k + 1 } else { k };
        if p1 == 0 {
            example[0] = 0.0;
        }
        example[p1 * 2 + 1] = 1.0;
        example[p2 * 2 + 1] = 1.0;
        targets.push(0.5 + (example[p1 * 2] + example[p2 * 2]) / 4.0);
    }
    SeqDataset {
        name: "adding".into(),
        length,
        inputs: SeqInputs::Dense {
            dim: 2,
            values: inputs,
        },
        targets: SeqTargets::Values {
            dim: 1,
            values: targets,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(d: &SeqDataset) -> (&[f32], &[f32]) {
        match (&d.inputs, &d.targets) {
            (SeqInputs::Dense { values: x, .. }, SeqTargets::Values { values: y, .. }) => (x, y),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn target_is_the_scaled_sum_of_the_two_marked_values() {
        let d = adding(500, 30, 1);
        assert_eq!(d.defect(), None);
        let (x, y) = parts(&d);
        let mut first_pair_x1 = 0;
        for (example, &target) in x.chunks_exact(60).zip(y) {
            let marked: Vec<usize> = (0..30).filter(|&t| example[t * 2 + 1] == 1.0).collect();
            assert_eq!(marked.len(), 2, "{example:?}");
            // One mark among the first ten, both within the first T/2.
            assert!(marked[0] < 10 && marked[1] < 15, "{marked:?}");
            let sum: f32 = marked.iter().map(|&t| example[t * 2]).sum();
            assert!((target - (0.5 + sum / 4.0)).abs() < 1e-6);
            // First and last markers are -1 unless marked; the rest 0.
            for t in (0..30).filter(|t| !marked.contains(t)) {
                let expected = if t == 0 || t == 29 { -1.0 } else { 0.0 };
                assert_eq!(example[t * 2 + 1], expected, "step {t}");
            }
            first_pair_x1 += usize::from(marked[0] == 0 && example[0] == 0.0);
        }
        // The first pair holds X1 about a tenth of the time, zeroed.
        assert!((25..=75).contains(&first_pair_x1), "{first_pair_x1}");
    }

    #[test]
    fn hand_checked_example() {
        // Seed 3, T = 20: read the marks and values off the generated
        // sequence and recompute the target by the paper's formula.
        let d = adding(1, 20, 3);
        let (x, y) = parts(&d);
        let marks: Vec<usize> = (0..20).filter(|&t| x[t * 2 + 1] == 1.0).collect();
        let (x1, x2) = (x[marks[0] * 2], x[marks[1] * 2]);
        assert_eq!(y[0], 0.5 + (x1 + x2) / 4.0);
        assert!(x.iter().step_by(2).all(|v| (-1.0..=1.0).contains(v)));
    }

    #[test]
    fn same_seed_same_bytes() {
        assert_eq!(adding(50, 40, 9), adding(50, 40, 9));
        assert_ne!(parts(&adding(50, 40, 9)).0, parts(&adding(50, 40, 10)).0);
    }

    #[test]
    fn mean_predictor_mse_is_the_targets_variance() {
        // 100,000 targets: the variance estimate's standard error is about
        // 0.4% of it, and the rule-free 1/24 is 5% above 19/480.
        let d = adding(100_000, MIN_LENGTH, 5);
        let (_, y) = parts(&d);
        let n = y.len() as f64;
        let mean = y.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = y.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!((mean - 0.5).abs() < 2e-3, "mean {mean}");
        let rel = (var - MEAN_PREDICTOR_MSE).abs() / MEAN_PREDICTOR_MSE;
        assert!(rel < 0.015, "variance {var} vs {MEAN_PREDICTOR_MSE}");
        // And the constant 0.5 scores that MSE.
        let mse = y.iter().map(|&v| (v as f64 - 0.5).powi(2)).sum::<f64>() / n;
        assert!((mse - MEAN_PREDICTOR_MSE).abs() / MEAN_PREDICTOR_MSE < 0.02);
    }
}
