//! Writing a minibatch of sequences time-major: `xs[t]` is the
//! `batch x D` input at step `t` (tokens one-hot), and the targets are laid
//! out the way the read-out consumes them. Every buffer is reused: once a
//! gather of the same batch size has run, another allocates nothing.

use super::{SeqDataset, SeqInputs, SeqTargets};
use crate::tensor::{Matrix, Scalar};

/// A minibatch's targets, time-major where they are per step.
#[derive(Clone, Debug, PartialEq)]
pub enum SeqBatchTargets<T: Scalar> {
    /// One class per example (`[b]`), read out at the last step.
    Classes(Vec<usize>),
    /// `batch x dim` regression targets for the last step.
    Values(Matrix<T>),
    /// `[t][b]`: example `b`'s class at step `t`.
    PerStep(Vec<Vec<usize>>),
}

impl<T: Scalar> Default for SeqBatchTargets<T> {
    fn default() -> Self {
        SeqBatchTargets::Classes(Vec::new())
    }
}

/// Copies examples `idx` of `data` into `xs` (one `idx.len() x D` matrix
/// per step, converted to `T`; tokens one-hot) and their targets into `y`.
///
/// `xs` grows to [`SeqDataset::length`] matrices and keeps them; `y` keeps
/// its buffers while the dataset's kind of target stays the same.
///
/// # Panics
/// When an index is not below [`SeqDataset::len`].
pub fn gather_seq<T: Scalar>(
    data: &SeqDataset,
    idx: &[usize],
    xs: &mut Vec<Matrix<T>>,
    y: &mut SeqBatchTargets<T>,
) {
    let (len, b) = (data.length, idx.len());
    let d = data.input_dim();
    xs.truncate(len);
    while xs.len() < len {
        xs.push(Matrix::zeros(b, d));
    }
    for x in xs.iter_mut() {
        x.resize(b, d);
    }
    match &data.inputs {
        SeqInputs::Dense { dim, values } => {
            for (r, &i) in idx.iter().enumerate() {
                let example = &values[i * len * dim..(i + 1) * len * dim];
                for (x, step) in xs.iter_mut().zip(example.chunks_exact(*dim)) {
                    for (o, &v) in x.row_mut(r).iter_mut().zip(step) {
                        *o = T::cast(v as f64);
                    }
                }
            }
        }
        SeqInputs::Tokens { ids, .. } => {
            for x in xs.iter_mut() {
                x.fill(T::zero());
            }
            for (r, &i) in idx.iter().enumerate() {
                for (x, &id) in xs.iter_mut().zip(&ids[i * len..(i + 1) * len]) {
                    x.set(r, id as usize, T::one());
                }
            }
        }
    }
    gather_targets(data, idx, y);
}

/// The target half of [`gather_seq`].
fn gather_targets<T: Scalar>(data: &SeqDataset, idx: &[usize], y: &mut SeqBatchTargets<T>) {
    let len = data.length;
    match &data.targets {
        SeqTargets::Classes { labels, .. } => {
            if !matches!(y, SeqBatchTargets::Classes(_)) {
                *y = SeqBatchTargets::Classes(Vec::with_capacity(idx.len()));
            }
            let SeqBatchTargets::Classes(out) = y else {
                unreachable!()
            };
            out.clear();
            out.extend(idx.iter().map(|&i| labels[i]));
        }
        SeqTargets::Values { dim, values } => {
            if !matches!(y, SeqBatchTargets::Values(_)) {
                *y = SeqBatchTargets::Values(Matrix::zeros(idx.len(), *dim));
            }
            let SeqBatchTargets::Values(out) = y else {
                unreachable!()
            };
            out.resize(idx.len(), *dim);
            for (r, &i) in idx.iter().enumerate() {
                for (o, &v) in out.row_mut(r).iter_mut().zip(&values[i * dim..]) {
                    *o = T::cast(v as f64);
                }
            }
        }
        SeqTargets::PerStep { labels, .. } => {
            if !matches!(y, SeqBatchTargets::PerStep(_)) {
                *y = SeqBatchTargets::PerStep(Vec::with_capacity(len));
            }
            let SeqBatchTargets::PerStep(out) = y else {
                unreachable!()
            };
            out.truncate(len);
            while out.len() < len {
                out.push(Vec::with_capacity(idx.len()));
            }
            for (t, step) in out.iter_mut().enumerate() {
                step.clear();
                step.extend(idx.iter().map(|&i| labels[i * len + t]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Batches;

    /// Two examples of three steps of tokens from a 4-symbol alphabet.
    fn tokens() -> SeqDataset {
        SeqDataset {
            name: "tokens".into(),
            length: 3,
            inputs: SeqInputs::Tokens {
                vocab: 4,
                ids: vec![0, 3, 1, 2, 2, 0],
            },
            targets: SeqTargets::PerStep {
                classes: 4,
                labels: vec![3, 1, 0, 2, 0, 1],
            },
        }
    }

    #[test]
    fn tokens_are_one_hot_and_time_major() {
        let (mut xs, mut y) = (Vec::new(), SeqBatchTargets::default());
        // Example 1 first: batch row 0 is example 1, row 1 example 0.
        gather_seq::<f64>(&tokens(), &[1, 0], &mut xs, &mut y);
        assert_eq!(xs.len(), 3);
        assert_eq!(xs[0].row(0), &[0.0, 0.0, 1.0, 0.0]); // example 1, step 0: id 2
        assert_eq!(xs[0].row(1), &[1.0, 0.0, 0.0, 0.0]); // example 0, step 0: id 0
        assert_eq!(xs[1].row(1), &[0.0, 0.0, 0.0, 1.0]); // example 0, step 1: id 3
        assert_eq!(xs[2].row(0), &[1.0, 0.0, 0.0, 0.0]); // example 1, step 2: id 0
        assert_eq!(
            y,
            SeqBatchTargets::PerStep(vec![vec![2, 3], vec![0, 1], vec![1, 0]])
        );
        // A second gather clears the previous one-hots.
        gather_seq::<f64>(&tokens(), &[0, 0], &mut xs, &mut y);
        assert_eq!(xs[0].row(0), &[1.0, 0.0, 0.0, 0.0]);
        assert_eq!(xs[0].as_slice().iter().sum::<f64>(), 2.0);
    }

    #[test]
    fn dense_inputs_and_values_land_in_their_rows() {
        let data = SeqDataset {
            name: "dense".into(),
            length: 2,
            inputs: SeqInputs::Dense {
                dim: 2,
                // Example 0: steps (1,2), (3,4); example 1: (5,6), (7,8).
                values: (1..=8).map(|v| v as f32).collect(),
            },
            targets: SeqTargets::Values {
                dim: 1,
                values: vec![0.25, 0.75],
            },
        };
        let (mut xs, mut y) = (Vec::new(), SeqBatchTargets::default());
        gather_seq::<f32>(&data, &[1, 0, 1], &mut xs, &mut y);
        assert_eq!(xs[0].shape(), (3, 2));
        assert_eq!(xs[0].row(0), &[5.0, 6.0]);
        assert_eq!(xs[1].row(1), &[3.0, 4.0]);
        assert_eq!(xs[1].row(2), &[7.0, 8.0]);
        let SeqBatchTargets::Values(v) = &y else {
            panic!("{y:?}")
        };
        assert_eq!(v.as_slice(), &[0.75, 0.25, 0.75]);
    }

    #[test]
    fn a_warmed_up_gather_reuses_every_buffer() {
        let data = tokens();
        let mut batches = Batches::new(data.len(), 2, 3);
        let (mut xs, mut y) = (Vec::new(), SeqBatchTargets::<f32>::default());
        gather_seq(&data, batches.next_indices(), &mut xs, &mut y);
        let x_ptrs: Vec<*const f32> = xs.iter().map(|x| x.as_slice().as_ptr()).collect();
        let SeqBatchTargets::PerStep(steps) = &y else {
            panic!()
        };
        let y_ptrs: Vec<*const usize> = steps.iter().map(|s| s.as_ptr()).collect();
        for _ in 0..5 {
            gather_seq(&data, batches.next_indices(), &mut xs, &mut y);
        }
        let after: Vec<*const f32> = xs.iter().map(|x| x.as_slice().as_ptr()).collect();
        assert_eq!(x_ptrs, after);
        let SeqBatchTargets::PerStep(steps) = &y else {
            panic!()
        };
        assert_eq!(y_ptrs, steps.iter().map(|s| s.as_ptr()).collect::<Vec<_>>());
    }
}
