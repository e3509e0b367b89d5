//! The copy memory task (Arjovsky, Shah & Bengio 2016, "Unitary evolution
//! recurrent neural networks", section 4.1), as tokens with a target at
//! every step.
//!
//! `T` is the paper's delay: the number of steps between the end of the
//! symbols to remember and the delimiter's step, counted so that a sequence
//! has `T + 20` steps ([`steps`]):
//!
//! | steps              | input                               | target                |
//! |--------------------|-------------------------------------|-----------------------|
//! | `0..10`            | 10 symbols, uniform from `0..8`     | blank                 |
//! | `10..T+9`          | blank (`T - 1` of them)             | blank                 |
//! | `T+9`              | the delimiter                       | blank                 |
//! | `T+10..T+20`       | blank                               | the 10 symbols, in order |
//!
//! Symbol ids: 0 to 7 data, [`BLANK`] = 8, [`DELIMITER`] = 9; 10 classes.
//! A net with no memory can do no better than blank for the first
//! `T + 10` targets and a uniform guess over 8 for the last 10: the
//! [`memoryless_loss`], `10 ln 8 / (T + 20)` nats per step.
//!
//! ```
//! use gradscope::data::sequence::copy::{copy, steps, BLANK, DELIMITER};
//! use gradscope::data::sequence::SeqInputs;
//! let d = copy(2, 5, 1);
//! assert_eq!(d.length, steps(5));
//! let SeqInputs::Tokens { ids, .. } = &d.inputs else { unreachable!() };
//! assert_eq!(&ids[10..15], &[BLANK, BLANK, BLANK, BLANK, DELIMITER]);
//! ```

use super::{SeqDataset, SeqInputs, SeqTargets};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The smallest delay `T` (no blank between the symbols and the delimiter).
pub const MIN_DELAY: usize = 1;
/// Symbols to remember.
pub const SYMBOLS: usize = 10;
/// The alphabet they are drawn from: ids `0..8`.
pub const DATA_SYMBOLS: u32 = 8;
/// The blank symbol.
pub const BLANK: u32 = 8;
/// The delimiter: reproduce the symbols from the next step on.
pub const DELIMITER: u32 = 9;
/// Alphabet size and number of classes.
pub const VOCAB: usize = 10;

/// Steps of a sequence with delay `delay`: `delay + 20`.
pub fn steps(delay: usize) -> usize {
    delay + 2 * SYMBOLS
}

/// Cross-entropy per step (nats) of the best memoryless strategy:
/// `10 ln 8 / (T + 20)`.
pub fn memoryless_loss(delay: usize) -> f64 {
    SYMBOLS as f64 * (DATA_SYMBOLS as f64).ln() / steps(delay) as f64
}

/// `n` sequences with delay `delay` from `seed`.
///
/// # Panics
/// When `delay < MIN_DELAY`.
pub fn copy(n: usize, delay: usize, seed: u64) -> SeqDataset {
    assert!(delay >= MIN_DELAY, "copy delay {delay} < {MIN_DELAY}");
    let len = steps(delay);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ids = vec![BLANK; n * len];
    let mut labels = vec![BLANK as usize; n * len];
    for (seq, out) in ids.chunks_exact_mut(len).zip(labels.chunks_exact_mut(len)) {
        for t in 0..SYMBOLS {
            let s = rng.gen_range(0..DATA_SYMBOLS);
            seq[t] = s;
            out[len - SYMBOLS + t] = s as usize;
        }
        seq[len - SYMBOLS - 1] = DELIMITER;
    }
    SeqDataset {
        name: "copy".into(),
        length: len,
        inputs: SeqInputs::Tokens { vocab: VOCAB, ids },
        targets: SeqTargets::PerStep {
            classes: VOCAB,
            labels,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(d: &SeqDataset) -> (&[u32], &[usize]) {
        match (&d.inputs, &d.targets) {
            (SeqInputs::Tokens { ids, .. }, SeqTargets::PerStep { labels, .. }) => (ids, labels),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_last_ten_targets_are_the_first_ten_inputs() {
        let d = copy(50, 30, 1);
        assert_eq!((d.len(), d.length), (50, 50));
        assert_eq!(d.defect(), None);
        let (ids, labels) = parts(&d);
        for (seq, out) in ids.chunks_exact(50).zip(labels.chunks_exact(50)) {
            let remembered: Vec<usize> = seq[..10].iter().map(|&s| s as usize).collect();
            assert_eq!(&out[40..], &remembered[..]);
            assert!(seq[..10].iter().all(|&s| s < DATA_SYMBOLS));
            // Blank targets until the copy; blank inputs but the delimiter.
            assert!(out[..40].iter().all(|&l| l == BLANK as usize));
            assert_eq!(seq[39], DELIMITER);
            let blanks = seq[10..].iter().filter(|&&s| s == BLANK).count();
            assert_eq!(blanks, 29 + 10, "T - 1 blanks, the delimiter, 10 blanks");
        }
    }

    #[test]
    fn hand_checked_layout_at_the_smallest_delay() {
        // T = 1: symbols at 0..10, the delimiter at step 10, the copy at 11..21.
        let d = copy(1, MIN_DELAY, 8);
        let (ids, labels) = parts(&d);
        assert_eq!(d.length, 21);
        assert_eq!(ids[10], DELIMITER);
        assert!(ids[11..].iter().all(|&s| s == BLANK));
        let copied: Vec<u32> = labels[11..].iter().map(|&l| l as u32).collect();
        assert_eq!(&copied[..], &ids[..10]);
    }

    #[test]
    fn memoryless_baseline_matches_the_paper() {
        // T = 100: 10 ln 8 / 120 = 0.17329 nats.
        assert!((memoryless_loss(100) - 0.173_286_8).abs() < 1e-6);
    }

    #[test]
    fn same_seed_same_bytes() {
        assert_eq!(copy(20, 10, 3), copy(20, 10, 3));
        assert_ne!(copy(20, 10, 3), copy(20, 10, 4));
    }
}
