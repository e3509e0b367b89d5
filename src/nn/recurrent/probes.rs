//! What a recurrent layer measures when its tap is on: the figures every
//! probed block gives (weight, gradients, pre-activations, outputs,
//! saturation, dead units) and the per-time-step series that make it a
//! recurrent block (see [`super::layer`]'s module doc for the list).
//!
//! Everything here runs only on probed steps, on buffers the forward and
//! backward passes keep anyway; what needs a pass over every gate of every
//! step (pre-activation statistics, saturation counts) the cell takes row
//! by row while the row is in cache ([`super::cell::CellTap`]).

use super::cell::CellKind;
use crate::probe::{Axis, Series, Tap};
use crate::tensor::{tensor_stats, Matrix, Scalar, TensorStats};

/// The suffix of a gate's saturation series (`forget_gate_saturated`,
/// `hidden_saturated`): per time step, the statistics of an indicator, 1
/// where the gate's activation sits where its derivative is below
/// [`SATURATION_FRACTION`](crate::probe::SATURATION_FRACTION) of its maximum and 0 elsewhere, so the
/// series' `mean()` is the saturated fraction at that step.
pub const SATURATED_SUFFIX: &str = "_saturated";

/// The forward's figures of one sequence: `out` and `saturated` / `dead`,
/// and on histogram steps (`tap`) the per-time-step series of the hidden
/// state, each gate's activations and each gate's saturated fraction.
/// `act` and `h` are the steps' gate activations and hidden states,
/// `counts[t][gate]` the saturated activations the cell counted
/// ([`super::cell::CellTap`]).
pub(super) fn forward_figures<T: Scalar>(
    kind: CellKind,
    tap: Tap,
    act: &[Matrix<T>],
    h: &[Matrix<T>],
    counts: &[[u64; 4]],
    f: &mut crate::probe::Figures,
) {
    let hidden = h.first().map_or(0, |m| m.cols());
    let mut out = TensorStats::default();
    let per_step: Vec<TensorStats> = h.iter().map(|h| tensor_stats(h.as_slice())).collect();
    per_step.iter().for_each(|st| out.merge(st));
    f.out = Some(out);
    // Per time step, every probed step: only dL/dh_t (backward). The
    // forward's hidden state and gates per step come on histogram steps,
    // the detailed (and sparser) ones: they multiply a step's rows in the
    // store by up to five.
    let detailed = tap == Tap::Histograms;
    if detailed {
        f.series.push(Series {
            tensor: "hidden".into(),
            axis: Axis::TimeStep,
            stats: per_step,
        });
    }
    let gates = kind.gate_names();
    if detailed && gates.len() > 1 {
        for (gi, name) in gates.iter().enumerate() {
            let stats = act
                .iter()
                .map(|a| {
                    let mut st = TensorStats::default();
                    for r in 0..a.rows() {
                        st.merge(&tensor_stats(&a.row(r)[gi * hidden..(gi + 1) * hidden]));
                    }
                    st
                })
                .collect();
            f.series.push(Series {
                tensor: (*name).into(),
                axis: Axis::TimeStep,
                stats,
            });
        }
    }
    if kind == CellKind::RnnRelu {
        f.dead = dead_fraction(act, hidden);
        return;
    }
    let total: u64 = act.iter().map(|a| a.len() as u64).sum();
    let saturated: u64 = counts.iter().flatten().sum();
    if total > 0 {
        f.saturated = Some(saturated as f64 / total as f64);
    }
    if detailed {
        for (gi, name) in gates.iter().enumerate() {
            let stats = act
                .iter()
                .zip(counts)
                .map(|(a, c)| indicator((a.rows() * hidden) as u64, c[gi]))
                .collect();
            f.series.push(Series {
                tensor: format!("{name}{SATURATED_SUFFIX}"),
                axis: Axis::TimeStep,
                stats,
            });
        }
    }
}

/// The statistics of an indicator over `n` entries, `ones` of them 1.
fn indicator(n: u64, ones: u64) -> TensorStats {
    TensorStats {
        n,
        sum: ones as f64,
        sum_sq: ones as f64,
        max_abs: if ones > 0 { 1.0 } else { 0.0 },
        zeros: n - ones,
        ..TensorStats::default()
    }
}

/// The ReLU cell's units at 0 on every row and step, as a fraction.
fn dead_fraction<T: Scalar>(act: &[Matrix<T>], hidden: usize) -> Option<f64> {
    if act.is_empty() || hidden == 0 {
        return None;
    }
    let mut alive = vec![false; hidden];
    for a in act {
        for r in 0..a.rows() {
            for (al, &v) in alive.iter_mut().zip(a.row(r)) {
                *al |= v > T::zero();
            }
        }
    }
    Some(alive.iter().filter(|a| !**a).count() as f64 / hidden as f64)
}
