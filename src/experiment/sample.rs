//! Text from a trained character-level model: feed a character, read the
//! distribution of the next one, draw it, feed it back.
//!
//! The net runs one time step at a time, each step's final states set as
//! the next step's initial states ([`Recurrent::h0`](crate::nn::recurrent::Recurrent),
//! `c0`), so `n` characters cost `n` steps, not `n^2 / 2`. The draw is
//! from `softmax(logits / temperature)` with a seeded generator:
//! [`TEMPERATURE`] below 1 sharpens the distribution, which reads better
//! than the model's own (temperature 1) at the cost of variety.

use crate::nn::recurrent::RnnModel;
use crate::probe::Tap;
use crate::tensor::{Matrix, Scalar};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The sampling temperature `gradscope train --sample` uses.
pub const TEMPERATURE: f64 = 0.8;

/// Most characters one sample may ask for.
pub const MAX_SAMPLE: usize = 100_000;

/// `n` characters drawn from `model` (a net reading one-hot characters
/// over `symbols` at every step), primed with a line break where the
/// vocabulary has one (the first symbol otherwise), at `temperature`,
/// seeded by `seed`; `None` when the model's outputs are not finite (its
/// weights are not). The model's initial states are zero again after.
///
/// # Panics
/// When the model's input or output width is not `symbols.len()`.
pub fn sample_text<T: Scalar>(
    model: &mut RnnModel<T>,
    symbols: &[char],
    n: usize,
    temperature: f64,
    seed: u64,
) -> Option<String> {
    let vocab = symbols.len();
    assert_eq!(model.layers[0].input(), vocab, "one-hot input over symbols");
    model.set_tap(Tap::Off);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut current = symbols.iter().position(|&c| c == '\n').unwrap_or(0);
    let mut x = vec![Matrix::zeros(1, vocab)];
    let mut out = Some(String::with_capacity(n));
    let mut probs = vec![0.0f64; vocab];
    for _ in 0..n {
        x[0].fill(T::zero());
        x[0].set(0, current, T::one());
        let logits = model.forward(&x);
        assert_eq!(logits.cols(), vocab, "logits over symbols");
        let Some(next) = draw(logits.row(0), temperature, &mut probs, &mut rng) else {
            out = None;
            break;
        };
        current = next;
        if let Some(text) = out.as_mut() {
            text.push(symbols[current]);
        }
        carry_state(model);
    }
    for layer in &mut model.layers {
        layer.h0 = Matrix::default();
        layer.c0 = Matrix::default();
    }
    out
}

/// Each layer's last states become its initial states.
fn carry_state<T: Scalar>(model: &mut RnnModel<T>) {
    for layer in &mut model.layers {
        let h = layer.outputs().last().cloned().unwrap_or_default();
        let c = layer.cell_states().last().cloned().unwrap_or_default();
        layer.h0 = h;
        layer.c0 = if c.is_empty() { Matrix::default() } else { c };
    }
}

/// An index drawn from `softmax(logits / temperature)`; `None` when a
/// logit is not finite.
fn draw<T: Scalar>(
    logits: &[T],
    temperature: f64,
    probs: &mut [f64],
    rng: &mut ChaCha8Rng,
) -> Option<usize> {
    if logits.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let t = temperature.max(1e-6);
    let max = logits
        .iter()
        .map(|v| v.as_f64())
        .fold(f64::NEG_INFINITY, f64::max);
    for (p, v) in probs.iter_mut().zip(logits) {
        *p = ((v.as_f64() - max) / t).exp();
    }
    let total: f64 = probs.iter().sum();
    let mut u = rng.gen::<f64>() * total;
    for (i, p) in probs.iter().enumerate() {
        if u < *p {
            return Some(i);
        }
        u -= p;
    }
    Some(probs.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::recurrent::{CellKind, RecurrentInit, RnnConfig};

    fn model(kind: CellKind, vocab: usize) -> RnnModel<f64> {
        RnnConfig {
            kind,
            input: vocab,
            hidden: 8,
            layers: 2,
            outputs: vocab,
            every_step: true,
            init: RecurrentInit::Gaussian { radius: 1.2 },
            forget_bias: 1.0,
            truncation: None,
        }
        .build(4)
    }

    /// Step by step with carried states is the same net as one forward
    /// over the whole sequence: drawing from whole-prefix forwards with
    /// the same generator gives the same text, and the last step's logits
    /// agree.
    #[test]
    fn one_step_at_a_time_equals_the_whole_sequence() {
        let symbols: Vec<char> = "\nabc".chars().collect();
        let one_hot = |i: usize| {
            let mut x = Matrix::zeros(1, 4);
            x.set(0, i, 1.0);
            x
        };
        for kind in [CellKind::Lstm, CellKind::Gru, CellKind::Rnn] {
            let mut m = model(kind, 4);
            let text = sample_text(&mut m, &symbols, 12, 1.0, 9).unwrap();
            assert_eq!(text.chars().count(), 12);
            // The same draws from whole-prefix forwards (no state carried).
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            let mut probs = vec![0.0; 4];
            let (mut prefix, mut replay) = (vec![one_hot(0)], String::new());
            for t in 0..12 {
                let logits = m.forward(&prefix).row(t).to_vec();
                let next = draw(&logits, 1.0, &mut probs, &mut rng).unwrap();
                replay.push(symbols[next]);
                prefix.push(one_hot(next));
            }
            assert_eq!(replay, text, "{kind:?}");
            // Replay: the primer, then the text but its last character.
            let ids: Vec<usize> = std::iter::once('\n')
                .chain(text.chars())
                .map(|c| symbols.iter().position(|&s| s == c).unwrap())
                .collect();
            let xs: Vec<Matrix<f64>> = ids[..12]
                .iter()
                .map(|&i| {
                    let mut x = Matrix::zeros(1, 4);
                    x.set(0, i, 1.0);
                    x
                })
                .collect();
            let whole = m.forward(&xs).row(11).to_vec();
            // The same 12 steps, one at a time.
            let mut step = model(kind, 4);
            let mut last = Vec::new();
            for x in &xs {
                last = step.forward(std::slice::from_ref(x)).row(0).to_vec();
                carry_state(&mut step);
            }
            for (a, b) in whole.iter().zip(&last) {
                assert!((a - b).abs() < 1e-12, "{kind:?}: {a} vs {b}");
            }
            assert!(m.layers.iter().all(|l| l.h0.is_empty() && l.c0.is_empty()));
        }
    }

    #[test]
    fn draws_follow_the_temperature() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut probs = vec![0.0; 2];
        let logits = [0.0f64, 1.0];
        let count = |t: f64, rng: &mut ChaCha8Rng, probs: &mut [f64]| {
            (0..4000)
                .filter(|_| draw(&logits, t, probs, rng) == Some(1))
                .count() as f64
                / 4000.0
        };
        // softmax([0, 1]) = 0.731 for the second; at 0.5: 0.881; near 0: 1.
        let p1 = count(1.0, &mut rng, &mut probs);
        let p_half = count(0.5, &mut rng, &mut probs);
        assert!((p1 - 0.731).abs() < 0.03, "{p1}");
        assert!((p_half - 0.881).abs() < 0.03, "{p_half}");
        assert_eq!(count(1e-9, &mut rng, &mut probs), 1.0);
        assert_eq!(draw(&[0.0, f64::NAN], 1.0, &mut probs, &mut rng), None);
    }
}
