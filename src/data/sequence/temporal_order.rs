//! The temporal order problem (Hochreiter & Schmidhuber 1997, Experiment
//! 6a; at length `T` as in Pascanu, Mikolov & Bengio 2013 and Martens &
//! Sutskever 2011), as tokens.
//!
//! A sequence of `T` symbols starts with `E` and ends with the trigger `B`;
//! in between, every symbol is a distractor drawn uniformly from
//! `{a, b, c, d}`, except two relevant symbols, each `X` or `Y` (uniformly),
//! at step `t1`, uniform in `[T/10, 2T/10]`, and step `t2`, uniform in
//! `[5T/10, 6T/10]` (0-based steps, integer division, bounds included;
//! for `T = 100` the paper's 10..20 and 50..60). The class, read out after
//! the last step, is the order of the two: `XX` 0, `XY` 1, `YX` 2, `YY` 3
//! (the paper's Q, R, S, U).
//!
//! One change from the paper: its lengths vary between 100 and 110; here
//! every sequence has exactly `T` steps (a minibatch needs no masking).
//!
//! ```
//! use gradscope::data::sequence::temporal_order::{temporal_order, E, B};
//! use gradscope::data::sequence::SeqInputs;
//! let d = temporal_order(3, 100, 1);
//! let SeqInputs::Tokens { vocab, ids } = &d.inputs else { unreachable!() };
//! assert_eq!((*vocab, ids[0], ids[99]), (8, E, B));
//! ```

use super::{SeqDataset, SeqInputs, SeqTargets};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The shortest `T`: `t1 >= 1` after `E`, and `t2 <= T - 2` before `B`.
pub const MIN_LENGTH: usize = 10;

/// Symbol ids: the distractors `a, b, c, d` are 0 to 3.
pub const DISTRACTORS: u32 = 4;
/// Relevant symbol `X`.
pub const X: u32 = 4;
/// Relevant symbol `Y`.
pub const Y: u32 = 5;
/// Start symbol `E`.
pub const E: u32 = 6;
/// Trigger (end) symbol `B`.
pub const B: u32 = 7;
/// Alphabet size.
pub const VOCAB: usize = 8;
/// Classes: `XX`, `XY`, `YX`, `YY`.
pub const CLASSES: usize = 4;

/// The window `[lo, hi]` of the first relevant symbol.
pub fn first_window(length: usize) -> (usize, usize) {
    (length / 10, 2 * length / 10)
}

/// The window `[lo, hi]` of the second relevant symbol.
pub fn second_window(length: usize) -> (usize, usize) {
    (5 * length / 10, 6 * length / 10)
}

/// `n` sequences of `length` symbols from `seed`.
///
/// # Panics
/// When `length < MIN_LENGTH`.
pub fn temporal_order(n: usize, length: usize, seed: u64) -> SeqDataset {
    assert!(
        length >= MIN_LENGTH,
        "temporal order length {length} < {MIN_LENGTH}"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ids = vec![0u32; n * length];
    let mut labels = Vec::with_capacity(n);
    let ((a1, b1), (a2, b2)) = (first_window(length), second_window(length));
    for seq in ids.chunks_exact_mut(length) {
        for s in seq.iter_mut() {
            *s = rng.gen_range(0..DISTRACTORS);
        }
        seq[0] = E;
        seq[length - 1] = B;
        let (t1, t2) = (rng.gen_range(a1..=b1), rng.gen_range(a2..=b2));
        let (first_y, second_y) = (rng.gen_bool(0.5), rng.gen_bool(0.5));
        seq[t1] = if first_y { Y } else { X };
        seq[t2] = if second_y { Y } else { X };
        labels.push(2 * usize::from(first_y) + usize::from(second_y));
    }
    SeqDataset {
        name: "temporal_order".into(),
        length,
        inputs: SeqInputs::Tokens { vocab: VOCAB, ids },
        targets: SeqTargets::Classes {
            classes: CLASSES,
            labels,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(d: &SeqDataset) -> (&[u32], &[usize]) {
        match (&d.inputs, &d.targets) {
            (SeqInputs::Tokens { ids, .. }, SeqTargets::Classes { labels, .. }) => (ids, labels),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn class_is_the_order_of_the_two_relevant_symbols() {
        let d = temporal_order(400, 100, 2);
        assert_eq!(d.defect(), None);
        let (ids, labels) = parts(&d);
        let mut counts = [0usize; 4];
        for (seq, &label) in ids.chunks_exact(100).zip(labels) {
            assert_eq!((seq[0], seq[99]), (E, B));
            let relevant: Vec<usize> = (0..100).filter(|&t| seq[t] == X || seq[t] == Y).collect();
            assert_eq!(relevant.len(), 2, "{seq:?}");
            // The paper's windows for T = 100.
            assert!((10..=20).contains(&relevant[0]) && (50..=60).contains(&relevant[1]));
            let names: String = relevant
                .iter()
                .map(|&t| if seq[t] == X { 'X' } else { 'Y' })
                .collect();
            let expected = ["XX", "XY", "YX", "YY"].iter().position(|&s| s == names);
            assert_eq!(Some(label), expected);
            assert!(seq[1..99]
                .iter()
                .all(|&s| s < DISTRACTORS || s == X || s == Y));
            counts[label] += 1;
        }
        // Four classes, roughly balanced (each about 100 of 400).
        assert!(
            counts.iter().all(|&c| (60..=140).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn windows_scale_with_length_and_fit_the_shortest() {
        assert_eq!(
            (first_window(100), second_window(100)),
            ((10, 20), (50, 60))
        );
        assert_eq!((first_window(10), second_window(10)), ((1, 2), (5, 6)));
        let d = temporal_order(200, MIN_LENGTH, 4);
        let (ids, _) = parts(&d);
        for seq in ids.chunks_exact(MIN_LENGTH) {
            assert_eq!((seq[0], seq[9]), (E, B));
        }
    }

    #[test]
    fn same_seed_same_bytes() {
        assert_eq!(temporal_order(20, 50, 1), temporal_order(20, 50, 1));
        assert_ne!(temporal_order(20, 50, 1), temporal_order(20, 50, 2));
    }
}
