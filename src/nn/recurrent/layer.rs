//! One recurrent layer, unrolled over the `T` steps of a sequence, with
//! backpropagation through time (full, or truncated to chunks of `k`
//! steps), and the probed block it is.
//!
//! # Shapes and layout (PyTorch's `nn.RNN` / `nn.LSTM` / `nn.GRU`)
//! - inputs `x_t`: `batch x D`, one matrix per step; outputs `h_t`:
//!   `batch x H`, one per step (the layer also keeps the inputs and the
//!   states `h_0 .. h_{T-1}` stacked time-major, `T*batch` rows, for the
//!   products over all steps)
//! - `weight_ih`: `G*H x D`, `weight_hh`: `G*H x H`, `bias_ih`, `bias_hh`:
//!   `1 x G*H`, the `G` gates' rows stacked in PyTorch's order (LSTM
//!   `i, f, g, o`; GRU `r, z, n`): the same tensors as PyTorch's
//!   `weight_ih_l0`, ..., so weights move between the two unchanged.
//!
//! # Products: one per step, the rest over the whole sequence
//! Only `h_{t-1} W_hh^T` must wait for the step before; everything that
//! reads the inputs or the finished steps is one product over all `T*batch`
//! rows, which runs at a much larger share of the machine's peak than `T`
//! small ones.
//!
//! - Forward: `GX = X W_ih^T + b_ih` for all steps at once (every gate of
//!   every step); then per step one product for all `G` gates,
//!   `gh_t = h_{t-1} W_hh^T + b_hh`, and the cell's element-wise arithmetic
//!   ([`super::cell`]).
//! - Backward, steps in reverse: the cell's arithmetic gives `dL/dgx_t`
//!   and `dL/dgh_t` (rows of `dGX`, `dGH`), and one product per step,
//!   `dL/dh_{t-1} = dgh_t W_hh` (+ the GRU's direct path). Then, over all
//!   steps: `dW_ih += dGX^T X`, `dW_hh += dGH^T H_prev`, the biases their
//!   column sums, and `dX = dGX W_ih`.
//!
//! (One fused product per step for the input and recurrent parts,
//! `[x_t, h_{t-1}] [W_ih, W_hh]^T`, would redo per step the input part
//! that needs no step order; cuDNN and oneDNN hoist it the same way.)
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
//! (`<gate>_saturated`, see [`super::SATURATED_SUFFIX`]; the RNN's one gate is
//! `hidden`).

use super::cell::{
    step_backward, step_forward, CellKind, CellTap, StepGrad, StepGradOut, StepIn, StepOut,
};
use super::probes::forward_figures;
use crate::probe::{measure, Axis, Block, Figures, Series, Tap};
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
    /// Initial memory cell `c_0` (LSTM; empty: zeros). Backward reads it
    /// again (forward keeps `h_0` but not `c_0`): leave both alone between
    /// a forward and its backward.
    pub c0: Matrix<T>,
    /// `dL/dc_T`, the loss's gradient at the last memory cell (LSTM;
    /// empty: zero), which backward starts from.
    pub final_cell_grad: Matrix<T>,
    steps: Steps<T>,
    back: Back<T>,
    tap: Tap,
    figures: Figures,
}

/// What forward keeps for backward.
#[derive(Default)]
struct Steps<T> {
    /// The inputs, stacked: `T*batch x D`.
    x: Matrix<T>,
    /// `X W_ih^T + b_ih`: `T*batch x G*H`.
    gx: Matrix<T>,
    /// `h_0 .. h_{T-1}` stacked: `T*batch x H`.
    h_prev: Matrix<T>,
    /// Per step: `h_{t-1} W_hh^T + b_hh`.
    gh: Vec<Matrix<T>>,
    /// Per step: the gate activations.
    act: Vec<Matrix<T>>,
    /// Per step: `h_t`.
    h: Vec<Matrix<T>>,
    /// Per step: `c_t` (LSTM; empty otherwise).
    c: Vec<Matrix<T>>,
    zeros: Matrix<T>,
}

/// Backward's scratch and results.
#[derive(Default)]
struct Back<T> {
    dh: Matrix<T>,
    dc: Matrix<T>,
    /// This step's `dL/dgh` (the per-step product reads it).
    dgh: Matrix<T>,
    /// Every step's `dL/dgx` and `dL/dgh`: `T*batch x G*H`.
    dgx_all: Matrix<T>,
    dgh_all: Matrix<T>,
    dx_all: Matrix<T>,
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
        let (width, block) = (g * hidden, batch * g * hidden);
        let lstm = self.kind.has_cell_state();
        let s = &mut self.steps;
        stack_into(xs, &mut s.x);
        s.gx.resize(t_len * batch, width);
        if t_len > 0 {
            affine(
                &mut s.gx,
                &s.x,
                &self.weight_ih.value,
                self.bias_ih.value.as_slice(),
            );
        }
        for v in [&mut s.gh, &mut s.act, &mut s.h, &mut s.c] {
            v.resize_with(t_len, Matrix::default);
        }
        s.h_prev.resize(t_len * batch, hidden);
        s.zeros.resize(batch, hidden);
        s.zeros.fill(T::zero());
        let measuring = self.tap.is_on();
        if measuring {
            self.figures = Figures {
                weight: Some(measure(self.weight_hh.value.as_slice())),
                ..Figures::default()
            };
        }
        let mut taps = vec![CellTap::default(); if measuring { t_len } else { 0 }];
        for t in 0..t_len {
            let (done, rest) = s.h.split_at_mut(t);
            let h_prev = if t == 0 {
                initial(&self.h0, &s.zeros)
            } else {
                &done[t - 1]
            };
            s.h_prev.as_mut_slice()[t * batch * hidden..(t + 1) * batch * hidden]
                .copy_from_slice(h_prev.as_slice());
            let (c_done, c_rest) = s.c.split_at_mut(t);
            let c_prev = if !lstm {
                &s.zeros
            } else if t == 0 {
                initial(&self.c0, &s.zeros)
            } else {
                &c_done[t - 1]
            };
            let gh = &mut s.gh[t];
            gh.resize(batch, width);
            affine(
                gh,
                h_prev,
                &self.weight_hh.value,
                self.bias_hh.value.as_slice(),
            );
            let act = &mut s.act[t];
            act.resize(batch, width);
            let h = &mut rest[0];
            h.resize(batch, hidden);
            let c = &mut c_rest[0];
            c.resize(batch, if lstm { hidden } else { 0 });
            let gx = &s.gx.as_slice()[t * block..(t + 1) * block];
            step_forward(
                self.kind,
                hidden,
                StepIn {
                    gx,
                    gh: gh.as_slice(),
                    h_prev: h_prev.as_slice(),
                    c_prev: c_prev.as_slice(),
                },
                StepOut {
                    act: act.as_mut_slice(),
                    h: h.as_mut_slice(),
                    c: c.as_mut_slice(),
                    tap: taps.get_mut(t),
                },
            );
        }
        if measuring {
            let mut pre = TensorStats::default();
            taps.iter().for_each(|t| pre.merge(&t.pre));
            self.figures.pre = Some(pre);
            let counts: Vec<[u64; 4]> = taps.iter().map(|t| t.saturated).collect();
            forward_figures(
                self.kind,
                self.tap,
                &self.steps.act,
                &self.steps.h,
                &counts,
                &mut self.figures,
            );
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
        let (width, block) = (g * hidden, batch * g * hidden);
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
        b.dgh.resize(batch, width);
        b.dgx_all.resize(t_len * batch, width);
        b.dgh_all.resize(t_len * batch, width);
        b.dh_prev.resize(batch, hidden);
        let mut hidden_grad = vec![TensorStats::default(); if measuring { t_len } else { 0 }];
        let mut pre_grad = TensorStats::default();
        for t in (0..t_len).rev() {
            if let Some(d) = dhs.get(t).filter(|d| !d.is_empty()) {
                b.dh.add_scaled(d, T::one());
            }
            let h_prev = &s.h_prev.as_slice()[t * batch * hidden..(t + 1) * batch * hidden];
            let c_prev = if !lstm {
                &s.zeros
            } else if t == 0 {
                initial(&self.c0, &s.zeros)
            } else {
                &s.c[t - 1]
            };
            step_backward(
                self.kind,
                hidden,
                StepGrad {
                    dh: b.dh.as_slice(),
                    dc: b.dc.as_slice(),
                    act: s.act[t].as_slice(),
                    gh: s.gh[t].as_slice(),
                    h_prev,
                    c_prev: c_prev.as_slice(),
                    c: s.c[t].as_slice(),
                },
                StepGradOut {
                    dgx: &mut b.dgx_all.as_mut_slice()[t * block..(t + 1) * block],
                    dgh: b.dgh.as_mut_slice(),
                    direct: b.direct.as_mut_slice(),
                    dc_prev: b.dc_prev.as_mut_slice(),
                },
            );
            b.dgh_all.as_mut_slice()[t * block..(t + 1) * block].copy_from_slice(b.dgh.as_slice());
            if measuring {
                hidden_grad[t] = tensor_stats(b.dh.as_slice());
                // At the pre-activations: `dL/dgx` (the GRU's `dL/dgh_n`
                // is `r` times it).
                pre_grad.merge(&tensor_stats(
                    &b.dgx_all.as_slice()[t * block..(t + 1) * block],
                ));
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
        // The products over all steps.
        if t_len > 0 {
            let dims = [
                (&mut self.weight_ih.grad, &b.dgx_all, &s.x),
                (&mut self.weight_hh.grad, &b.dgh_all, &s.h_prev),
            ];
            for (grad, d, input) in dims {
                matmul(grad, true, T::one(), d, Op::T, input, Op::N);
            }
            b.dgx_all
                .add_col_sums_into(self.bias_ih.grad.as_mut_slice());
            b.dgh_all
                .add_col_sums_into(self.bias_hh.grad.as_mut_slice());
        }
        if need_input_grad {
            b.dx_all.resize(t_len * batch, s.x.cols());
            if t_len > 0 {
                matmul(
                    &mut b.dx_all,
                    false,
                    T::one(),
                    &b.dgx_all,
                    Op::N,
                    &self.weight_ih.value,
                    Op::N,
                );
            }
            unstack_into(&b.dx_all, t_len, &mut b.input_grads);
        }
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

/// `xs` (`T` matrices of `batch x D`) stacked into `out` (`T*batch x D`).
fn stack_into<T: Scalar>(xs: &[Matrix<T>], out: &mut Matrix<T>) {
    let (batch, cols) = xs.first().map_or((0, 0), |x| x.shape());
    out.resize(xs.len() * batch, cols);
    for (t, x) in xs.iter().enumerate() {
        out.as_mut_slice()[t * batch * cols..(t + 1) * batch * cols].copy_from_slice(x.as_slice());
    }
}

/// `all` (`T*batch x D`) cut into `t_len` matrices of `batch x D`.
fn unstack_into<T: Scalar>(all: &Matrix<T>, t_len: usize, out: &mut Vec<Matrix<T>>) {
    let batch = all.rows() / t_len.max(1);
    let cols = all.cols();
    out.resize_with(t_len, Matrix::default);
    for (t, m) in out.iter_mut().enumerate() {
        m.resize(batch, cols);
        m.as_mut_slice()
            .copy_from_slice(&all.as_slice()[t * batch * cols..(t + 1) * batch * cols]);
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

impl<T: Scalar> Block<T> for Recurrent<T> {
    fn path(&self) -> &str {
        &self.path
    }

    fn set_tap(&mut self, tap: Tap) {
        self.tap = tap;
    }

    fn tap(&self) -> Tap {
        self.tap
    }

    fn figures(&self) -> &Figures {
        &self.figures
    }

    fn add_series(&mut self, series: Series) {
        self.figures.series.push(series);
    }

    fn weight(&self) -> &Param<T> {
        &self.weight_hh
    }
}
