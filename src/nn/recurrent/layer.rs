//! One recurrent layer, unrolled over the `T` steps of a sequence, with
//! backpropagation through time (full, or truncated to chunks of `k`
//! steps), and the probed block it is.
//!
//! # Shapes and layout (PyTorch's `nn.RNN` / `nn.LSTM` / `nn.GRU`)
//! - inputs `x_t`: `batch x D`, one matrix per step; outputs `h_t`:
//!   `batch x H`, one per step
//! - `weight_ih`: `G*H x D`, `weight_hh`: `G*H x H`, `bias_ih`, `bias_hh`:
//!   `1 x G*H`, the `G` gates' rows stacked in PyTorch's order (LSTM
//!   `i, f, g, o`; GRU `r, z, n`): the same tensors as PyTorch's
//!   `weight_ih_l0`, ..., so weights move between the two unchanged.
//!
//! Per step, forward: `gx_t = x_t W_ih^T + b_ih` and
//! `gh_t = h_{t-1} W_hh^T + b_hh` (the gates of all `G` at once: two
//! products per step), then the cell's element-wise arithmetic
//! ([`super::cell`]). Backward runs the steps in reverse: the cell's
//! arithmetic gives `dL/dgx_t` and `dL/dgh_t`; then `dW_ih += dgx_t^T x_t`,
//! `dW_hh += dgh_t^T h_{t-1}`, the biases their column sums, `dx_t = dgx_t
//! W_ih`, and `dL/dh_{t-1} = dgh_t W_hh` (+ the GRU's direct path).
//!
//! **Truncated BPTT** with `k`: the sequence is cut into chunks of `k`
//! steps (`0..k`, `k..2k`, ...); forward carries the state across a cut,
//! backward does not (PyTorch: `h = h.detach()` at each cut): the
//! gradient of the same loss, summed over the chunks, with nothing flowing
//! from one chunk into the one before it.
//!
//! # Probes
//! `weight` is `W_hh` (the recurrent weight, whose updates the prober
//! follows), `weight_grad` and `bias_grad` its and `b_hh`'s gradients;
//! `pre` the gates' pre-activations, `out` every `h_t`, `pre_grad` and
//! `out_grad` their gradients, all steps together; `saturated` the
//! fraction of gate activations whose derivative is below 5% of its
//! maximum, `dead` (ReLU cell) the units at 0 on every row and step. Per
//! time step ([`Axis::TimeStep`] series), on every probed step:
//! `hidden_grad` (all of `dL/dh_t`: from the read-out and from step
//! `t + 1`; its fading toward `t = 0` is the vanishing gradient through
//! time); on histogram steps also `hidden` (`h_t`), each gate's
//! activations (LSTM, GRU) and each gate's saturated fraction
//! (`<gate>_saturated`, see [`SATURATED_SUFFIX`]; the RNN's one gate is
//! `hidden`).

use super::cell::{step_backward, step_forward, CellKind};
use crate::probe::{measure, Axis, Block, Figures, Series, Tap, SATURATION_FRACTION};
use crate::tensor::{affine, matmul, tensor_stats, Grads, Matrix, Op, Param, Scalar, TensorStats};

/// A recurrent layer: one cell, unrolled over a sequence.
pub struct Recurrent<T> {
    kind: CellKind,
    path: String,
    /// `G*H x D`.
    pub weight_ih: Param<T>,
    /// `G*H x H`.
    pub weight_hh: Param<T>,
    /// `1 x G*H`.
    pub bias_ih: Param<T>,
    /// `1 x G*H`.
    pub bias_hh: Param<T>,
    /// Truncated BPTT: chunks of this many steps (`None`: full BPTT).
    pub truncation: Option<usize>,
    /// Initial state `h_0` (`batch x H`; empty: zeros).
    pub h0: Matrix<T>,
    /// Initial memory cell `c_0` (LSTM; empty: zeros).
    pub c0: Matrix<T>,
    /// `dL/dc_T`, the loss's gradient at the last memory cell (LSTM;
    /// empty: zero), which backward starts from.
    pub final_cell_grad: Matrix<T>,
    steps: Steps<T>,
    back: Back<T>,
    tap: Tap,
    figures: Figures,
}

/// What forward keeps per step for backward.
#[derive(Default)]
struct Steps<T> {
    gx: Vec<Matrix<T>>,
    gh: Vec<Matrix<T>>,
    act: Vec<Matrix<T>>,
    h: Vec<Matrix<T>>,
    c: Vec<Matrix<T>>,
    zeros: Matrix<T>,
}

/// Backward's scratch and results.
#[derive(Default)]
struct Back<T> {
    dh: Matrix<T>,
    dc: Matrix<T>,
    dgx: Matrix<T>,
    dgh: Matrix<T>,
    direct: Matrix<T>,
    dc_prev: Matrix<T>,
    dh_prev: Matrix<T>,
    input_grads: Vec<Matrix<T>>,
    dh0: Matrix<T>,
    dc0: Matrix<T>,
}

impl<T: Scalar> Recurrent<T> {
    /// A zero-initialized layer of `kind` from `input` to `hidden` units,
    /// at `path` (fill the weights with a [`RecurrentInit`](super::RecurrentInit) or by hand).
    pub fn new(kind: CellKind, input: usize, hidden: usize, path: &str) -> Self {
        let gh = kind.gates() * hidden;
        Self {
            kind,
            path: path.to_string(),
            weight_ih: Param::new(Matrix::zeros(gh, input)),
            weight_hh: Param::new(Matrix::zeros(gh, hidden)),
            bias_ih: Param::new(Matrix::zeros(1, gh)),
            bias_hh: Param::new(Matrix::zeros(1, gh)),
            truncation: None,
            h0: Matrix::default(),
            c0: Matrix::default(),
            final_cell_grad: Matrix::default(),
            steps: Steps::default(),
            back: Back::default(),
            tap: Tap::Off,
            figures: Figures::default(),
        }
    }

    /// The cell.
    pub fn kind(&self) -> CellKind {
        self.kind
    }

    /// Hidden units `H`.
    pub fn hidden(&self) -> usize {
        self.weight_hh.value.cols()
    }

    /// Input width `D`.
    pub fn input(&self) -> usize {
        self.weight_ih.value.cols()
    }

    /// The parameters with their names (PyTorch's, without the layer
    /// suffix): `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`.
    pub fn params_mut(&mut self) -> [(&'static str, &mut Param<T>); 4] {
        [
            ("weight_ih", &mut self.weight_ih),
            ("weight_hh", &mut self.weight_hh),
            ("bias_ih", &mut self.bias_ih),
            ("bias_hh", &mut self.bias_hh),
        ]
    }

    /// Runs the sequence `xs` (`T` matrices of `batch x D`) from the
    /// initial state; returns the outputs `h_1 .. h_T`.
    pub fn forward(&mut self, xs: &[Matrix<T>]) -> &[Matrix<T>] {
        let (t_len, hidden, g) = (xs.len(), self.hidden(), self.kind.gates());
        let batch = xs.first().map_or(0, |x| x.rows());
        let s = &mut self.steps;
        for v in [&mut s.gx, &mut s.gh, &mut s.act] {
            v.resize_with(t_len, Matrix::default);
        }
        s.h.resize_with(t_len, Matrix::default);
        s.c.resize_with(t_len, Matrix::default);
        s.zeros.resize(batch, hidden);
        s.zeros.fill(T::zero());
        let measuring = self.tap.is_on();
        if measuring {
            self.figures = Figures {
                weight: Some(measure(self.weight_hh.value.as_slice())),
                ..Figures::default()
            };
        }
        let mut pre = TensorStats::default();
        let mut pre_row = Vec::new();
        for t in 0..t_len {
            let (done, rest) = s.h.split_at_mut(t);
            let h_prev = if t == 0 {
                initial(&self.h0, &s.zeros)
            } else {
                &done[t - 1]
            };
            let (c_done, c_rest) = s.c.split_at_mut(t);
            let c_prev = if t == 0 {
                initial(&self.c0, &s.zeros)
            } else {
                &c_done[t - 1]
            };
            let (gx, gh) = (&mut s.gx[t], &mut s.gh[t]);
            gx.resize(batch, g * hidden);
            gh.resize(batch, g * hidden);
            affine(
                gx,
                &xs[t],
                &self.weight_ih.value,
                self.bias_ih.value.as_slice(),
            );
            affine(
                gh,
                h_prev,
                &self.weight_hh.value,
                self.bias_hh.value.as_slice(),
            );
            let act = &mut s.act[t];
            act.resize(batch, g * hidden);
            let h = &mut rest[0];
            h.resize(batch, hidden);
            let c = &mut c_rest[0];
            c.resize(
                batch,
                if self.kind.has_cell_state() {
                    hidden
                } else {
                    0
                },
            );
            for r in 0..batch {
                step_forward(
                    self.kind,
                    gx.row(r),
                    gh.row(r),
                    h_prev.row(r),
                    if c_prev.cols() == 0 {
                        &[]
                    } else {
                        c_prev.row(r)
                    },
                    act.row_mut(r),
                    h.row_mut(r),
                    if c.cols() == 0 { &mut [] } else { c.row_mut(r) },
                );
                if measuring {
                    pre_row.clear();
                    pre_row.extend((0..g * hidden).map(|j| {
                        pre_activation(self.kind, gx.row(r), gh.row(r), act.row(r), j, hidden)
                    }));
                    pre.merge(&tensor_stats(&pre_row));
                }
            }
        }
        if measuring {
            self.measure_forward(pre);
        }
        &self.steps.h
    }

    /// The memory cells `c_1 .. c_T` of the last forward (LSTM; empty
    /// matrices for the other cells).
    pub fn cell_states(&self) -> &[Matrix<T>] {
        &self.steps.c
    }

    /// The outputs of the last forward, `h_1 .. h_T`.
    pub fn outputs(&self) -> &[Matrix<T>] {
        &self.steps.h
    }

    /// Backpropagation through time. Given the same `xs` as the last
    /// forward and `dhs`, the loss's gradient at each output (`dhs[t]`
    /// empty where the loss does not read `h_t`), accumulates (or writes,
    /// as `grads` says) the parameter gradients and, when
    /// `need_input_grad`, `dL/dx_t` ([`Self::input_grads`]). Always
    /// computes `dL/dh_0` (and `dL/dc_0`): [`Self::initial_grads`].
    pub fn backward(
        &mut self,
        xs: &[Matrix<T>],
        dhs: &[Matrix<T>],
        need_input_grad: bool,
        grads: Grads,
    ) {
        let (t_len, hidden, g) = (xs.len(), self.hidden(), self.kind.gates());
        let batch = xs.first().map_or(0, |x| x.rows());
        for p in [
            &mut self.weight_ih,
            &mut self.weight_hh,
            &mut self.bias_ih,
            &mut self.bias_hh,
        ] {
            p.start_grad(grads);
        }
        let measuring = self.tap.is_on();
        let lstm = self.kind.has_cell_state();
        let (s, b) = (&self.steps, &mut self.back);
        b.dh.resize(batch, hidden);
        b.dh.fill(T::zero());
        b.dc.resize(batch, if lstm { hidden } else { 0 });
        b.dc.fill(T::zero());
        if lstm && !self.final_cell_grad.is_empty() {
            b.dc.copy_from(&self.final_cell_grad);
        }
        b.dc_prev.resize(batch, b.dc.cols());
        b.direct.resize(batch, hidden);
        b.direct.fill(T::zero());
        b.dgx.resize(batch, g * hidden);
        b.dgh.resize(batch, g * hidden);
        b.dh_prev.resize(batch, hidden);
        if need_input_grad {
            b.input_grads.resize_with(t_len, Matrix::default);
        }
        let mut hidden_grad = vec![TensorStats::default(); if measuring { t_len } else { 0 }];
        let mut pre_grad = TensorStats::default();
        for t in (0..t_len).rev() {
            if let Some(d) = dhs.get(t).filter(|d| !d.is_empty()) {
                b.dh.add_scaled(d, T::one());
            }
            let h_prev = if t == 0 {
                initial(&self.h0, &s.zeros)
            } else {
                &s.h[t - 1]
            };
            let c_prev = if t == 0 {
                initial(&self.c0, &s.zeros)
            } else {
                &s.c[t - 1]
            };
            for r in 0..batch {
                step_backward(
                    self.kind,
                    b.dh.row(r),
                    if lstm { b.dc.row(r) } else { &[] },
                    s.act[t].row(r),
                    s.gh[t].row(r),
                    h_prev.row(r),
                    if lstm { c_prev.row(r) } else { &[] },
                    if lstm { s.c[t].row(r) } else { &[] },
                    b.dgx.row_mut(r),
                    b.dgh.row_mut(r),
                    b.direct.row_mut(r),
                    if lstm { b.dc_prev.row_mut(r) } else { &mut [] },
                );
            }
            if measuring {
                hidden_grad[t] = tensor_stats(b.dh.as_slice());
                pre_grad.merge(&tensor_stats(b.dgh.as_slice()));
            }
            matmul(
                &mut self.weight_ih.grad,
                true,
                T::one(),
                &b.dgx,
                Op::T,
                &xs[t],
                Op::N,
            );
            b.dgx.add_col_sums_into(self.bias_ih.grad.as_mut_slice());
            matmul(
                &mut self.weight_hh.grad,
                true,
                T::one(),
                &b.dgh,
                Op::T,
                h_prev,
                Op::N,
            );
            b.dgh.add_col_sums_into(self.bias_hh.grad.as_mut_slice());
            if need_input_grad {
                let dx = &mut b.input_grads[t];
                dx.resize(batch, xs[t].cols());
                matmul(
                    dx,
                    false,
                    T::one(),
                    &b.dgx,
                    Op::N,
                    &self.weight_ih.value,
                    Op::N,
                );
            }
            // dL/dh_{t-1}: through the product, and the GRU's direct path.
            matmul(
                &mut b.dh_prev,
                false,
                T::one(),
                &b.dgh,
                Op::N,
                &self.weight_hh.value,
                Op::N,
            );
            if self.kind == CellKind::Gru {
                b.dh_prev.add_scaled(&b.direct, T::one());
            }
            let cut = t > 0 && self.truncation.is_some_and(|k| k > 0 && t % k == 0);
            if cut {
                b.dh.fill(T::zero());
                b.dc.fill(T::zero());
            } else {
                std::mem::swap(&mut b.dh, &mut b.dh_prev);
                std::mem::swap(&mut b.dc, &mut b.dc_prev);
            }
        }
        // After step 0 (never a cut), dh and dc hold dL/dh_0 and dL/dc_0.
        b.dh0.copy_from(&b.dh);
        b.dc0.copy_from(&b.dc);
        if measuring {
            self.measure_backward(hidden_grad, pre_grad);
        }
    }

    /// `dL/dx_t` per step, from the last backward that computed them.
    pub fn input_grads(&self) -> &[Matrix<T>] {
        &self.back.input_grads
    }

    /// `dL/dh_0` and `dL/dc_0` (empty for cells without `c`) from the last
    /// backward.
    pub fn initial_grads(&self) -> (&Matrix<T>, &Matrix<T>) {
        (&self.back.dh0, &self.back.dc0)
    }

    fn measure_forward(&mut self, pre: TensorStats) {
        let s = &self.steps;
        let (hidden, t_len) = (self.hidden(), s.h.len());
        let f = &mut self.figures;
        f.pre = Some(pre);
        let mut out = TensorStats::default();
        let per_step: Vec<TensorStats> = s.h.iter().map(|h| tensor_stats(h.as_slice())).collect();
        per_step.iter().for_each(|st| out.merge(st));
        f.out = Some(out);
        // Per time step, every probed step: only dL/dh_t (backward). The
        // forward's hidden state and gates per step come on histogram
        // steps, the detailed (and sparser) ones: they multiply a step's
        // rows in the store by up to five.
        let detailed = self.tap == Tap::Histograms;
        if detailed {
            f.series.push(Series {
                tensor: "hidden".into(),
                axis: Axis::TimeStep,
                stats: per_step,
            });
        }
        if detailed && self.kind.gates() > 1 {
            for (gi, name) in self.kind.gate_names().iter().enumerate() {
                let stats = s
                    .act
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
        if detailed && self.kind != CellKind::RnnRelu {
            for (gi, name) in self.kind.gate_names().iter().enumerate() {
                let stats = s
                    .act
                    .iter()
                    .map(|a| saturation_indicator(self.kind, a, gi, hidden))
                    .collect();
                f.series.push(Series {
                    tensor: format!("{name}{SATURATED_SUFFIX}"),
                    axis: Axis::TimeStep,
                    stats,
                });
            }
        }
        let (mut saturated, mut total) = (0usize, 0usize);
        let mut alive = vec![false; hidden];
        for a in &s.act {
            for r in 0..a.rows() {
                for (j, &v) in a.row(r).iter().enumerate() {
                    total += 1;
                    saturated += usize::from(gate_saturated(self.kind, j / hidden.max(1), v));
                    if self.kind == CellKind::RnnRelu && v > T::zero() {
                        alive[j] = true;
                    }
                }
            }
        }
        if self.kind != CellKind::RnnRelu && total > 0 {
            f.saturated = Some(saturated as f64 / total as f64);
        }
        if self.kind == CellKind::RnnRelu && t_len > 0 {
            f.dead = Some(alive.iter().filter(|a| !**a).count() as f64 / hidden.max(1) as f64);
        }
    }

    fn measure_backward(&mut self, hidden_grad: Vec<TensorStats>, pre_grad: TensorStats) {
        let f = &mut self.figures;
        let mut out_grad = TensorStats::default();
        hidden_grad.iter().for_each(|st| out_grad.merge(st));
        f.out_grad = Some(out_grad);
        f.pre_grad = Some(pre_grad);
        f.weight_grad = Some(measure(self.weight_hh.grad.as_slice()));
        f.bias_grad = Some(tensor_stats(self.bias_hh.grad.as_slice()));
        f.series.push(Series {
            tensor: "hidden_grad".into(),
            axis: Axis::TimeStep,
            stats: hidden_grad,
        });
    }
}

/// The suffix of a gate's saturation series (`forget_gate_saturated`,
/// `hidden_saturated`): per time step, the statistics of an indicator, 1
/// where the gate's activation sits where its derivative is below
/// [`SATURATION_FRACTION`] of its maximum and 0 elsewhere, so the
/// series' `mean()` is the saturated fraction at that step.
pub const SATURATED_SUFFIX: &str = "_saturated";

/// The saturation indicator's statistics for gate `gate` of one step's
/// activations `act` (`batch x G*H`).
fn saturation_indicator<T: Scalar>(
    kind: CellKind,
    act: &Matrix<T>,
    gate: usize,
    hidden: usize,
) -> TensorStats {
    let mut saturated = 0u64;
    for r in 0..act.rows() {
        let row = &act.row(r)[gate * hidden..(gate + 1) * hidden];
        saturated += row
            .iter()
            .filter(|v| gate_saturated(kind, gate, **v))
            .count() as u64;
    }
    let n = (act.rows() * hidden) as u64;
    TensorStats {
        n,
        sum: saturated as f64,
        sum_sq: saturated as f64,
        max_abs: if saturated > 0 { 1.0 } else { 0.0 },
        zeros: n - saturated,
        ..TensorStats::default()
    }
}

/// The initial state, or zeros when none was set.
fn initial<'a, T: Scalar>(state: &'a Matrix<T>, zeros: &'a Matrix<T>) -> &'a Matrix<T> {
    if state.is_empty() {
        zeros
    } else {
        state
    }
}

/// The pre-activation of gate column `j` of a row: `gx + gh` (the GRU's
/// `n` gate: `gx + r * gh`).
fn pre_activation<T: Scalar>(
    kind: CellKind,
    gx: &[T],
    gh: &[T],
    act: &[T],
    j: usize,
    hidden: usize,
) -> T {
    if kind == CellKind::Gru && j >= 2 * hidden {
        gx[j] + act[j - 2 * hidden] * gh[j]
    } else {
        gx[j] + gh[j]
    }
}

/// Whether gate `gate`'s activation `v` sits where its derivative is below
/// [`SATURATION_FRACTION`] of its maximum: tanh `1 - v^2`, sigmoid
/// `v (1 - v)` (maximum 1/4).
fn gate_saturated<T: Scalar>(kind: CellKind, gate: usize, v: T) -> bool {
    let v = v.as_f64();
    let tanh_gate = match kind {
        CellKind::Rnn => true,
        CellKind::Lstm => gate == 2,
        CellKind::Gru => gate == 2,
        CellKind::RnnRelu => return false,
    };
    if tanh_gate {
        1.0 - v * v < SATURATION_FRACTION
    } else {
        v * (1.0 - v) < SATURATION_FRACTION * 0.25
    }
}

impl<T: Scalar> Block<T> for Recurrent<T> {
    fn path(&self) -> &str {
        &self.path
    }

    fn set_tap(&mut self, tap: Tap) {
        self.tap = tap;
    }

    fn figures(&self) -> &Figures {
        &self.figures
    }

    fn weight(&self) -> &Param<T> {
        &self.weight_hh
    }
}
