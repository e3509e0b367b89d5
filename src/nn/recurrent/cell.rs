//! The element-wise arithmetic of one time step of each recurrent cell,
//! forward and backward, on a step's block of rows of gate
//! pre-activations. The products (`x W_ih^T`, `h W_hh^T` and their
//! gradients) are the layer's (`super::layer`); what is here is what
//! happens between them.
//!
//! Each pass is a few loops over whole gate slices (`H` entries), with the
//! vectorizable `exp_fast` and `tanh_fast` of [`Scalar`], compiled three
//! times (AVX-512, AVX2, baseline x86-64) and picked at run time, as the
//! MLP's activations are. The three give the same bits: Rust never fuses a
//! multiply and an add, so only the vector width differs. In f64 the
//! exponential and tanh are the standard library's.
//!
//! Conventions are PyTorch's (`nn.RNN`, `nn.LSTM`, `nn.GRU`), with
//! `gx = x W_ih^T + b_ih` and `gh = h_prev W_hh^T + b_hh`, each `H` wide
//! per gate, gates side by side in PyTorch's order:
//!
//! - **RNN** (1 gate): `h = act(gx + gh)`, `act` tanh or ReLU.
//! - **LSTM** (4 gates `i, f, g, o`): `a = gx + gh`;
//!   `i = sigmoid(a_i)`, `f = sigmoid(a_f)`, `g = tanh(a_g)`,
//!   `o = sigmoid(a_o)`; `c = f * c_prev + i * g`; `h = o * tanh(c)`.
//! - **GRU** (3 gates `r, z, n`): `r = sigmoid(gx_r + gh_r)`,
//!   `z = sigmoid(gx_z + gh_z)`, `n = tanh(gx_n + r * gh_n)`;
//!   `h = (1 - z) * n + z * h_prev`. The reset gate multiplies the
//!   recurrent part of `n` only, so `gx` and `gh` stay apart.

use crate::probe::SATURATION_FRACTION;
use crate::tensor::{tensor_stats, Scalar, TensorStats};
use serde::{Deserialize, Serialize};

/// Which recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellKind {
    /// Elman's cell with tanh: `h = tanh(W_ih x + b_ih + W_hh h + b_hh)`.
    Rnn,
    /// The same with ReLU (IRNN, Le et al. 2015, with identity init).
    RnnRelu,
    /// Long short-term memory (Hochreiter & Schmidhuber 1997, with the
    /// forget gate of Gers et al. 2000).
    Lstm,
    /// Gated recurrent unit (Cho et al. 2014).
    Gru,
}

impl CellKind {
    /// Gates, each `H` wide, in the weights' rows.
    pub fn gates(self) -> usize {
        match self {
            CellKind::Rnn | CellKind::RnnRelu => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    /// The cell's name in specs and paths (`rnn`, `rnn_relu`, `lstm`, `gru`).
    pub fn name(self) -> &'static str {
        match self {
            CellKind::Rnn => "rnn",
            CellKind::RnnRelu => "rnn_relu",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        }
    }

    /// Whether the cell carries a memory cell `c` beside `h` (LSTM).
    pub fn has_cell_state(self) -> bool {
        self == CellKind::Lstm
    }

    /// The gates' names, in the weights' order.
    pub fn gate_names(self) -> &'static [&'static str] {
        match self {
            CellKind::Rnn | CellKind::RnnRelu => &["hidden"],
            CellKind::Lstm => &["input_gate", "forget_gate", "cell_gate", "output_gate"],
            CellKind::Gru => &["reset_gate", "update_gate", "new_gate"],
        }
    }
}

#[inline(always)]
fn sigmoid<T: Scalar>(v: T) -> T {
    T::one() / (T::one() + (-v).exp_fast())
}

/// A step's inputs to the forward pass, `rows` rows each: `gx`
/// (`x_t W_ih^T + b_ih`, `G*H` per row), `gh` (`h_{t-1} W_hh^T + b_hh`),
/// `h_prev` (`H` per row) and `c_prev` (`H` per row, LSTM; not read
/// otherwise).
#[derive(Clone, Copy)]
pub struct StepIn<'a, T> {
    /// Input part of the gates' pre-activations.
    pub gx: &'a [T],
    /// Recurrent part.
    pub gh: &'a [T],
    /// The previous hidden state.
    pub h_prev: &'a [T],
    /// The previous memory cell (LSTM).
    pub c_prev: &'a [T],
}

/// A step's forward outputs: the gate activations `act` (`G*H` per row:
/// RNN `h`; LSTM `i, f, g, o`; GRU `r, z, n`), the new state `h` and, for
/// the LSTM, `c`; and on a probed step what the pass measures on the way.
pub struct StepOut<'a, T> {
    /// Gate activations.
    pub act: &'a mut [T],
    /// New hidden state.
    pub h: &'a mut [T],
    /// New memory cell (LSTM; empty otherwise).
    pub c: &'a mut [T],
    /// Figures to take while each row is in cache (probed steps).
    pub tap: Option<&'a mut CellTap>,
}

/// What a step's forward measures, row by row, while the row is in cache:
/// the statistics of the gates' pre-activations (`gx + gh`; the GRU's `n`
/// gate `gx + r * gh`) and each gate's count of saturated activations
/// ([`saturated_count`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct CellTap {
    /// Pre-activation statistics, every gate.
    pub pre: TensorStats,
    /// Saturated activations per gate (the first `G` entries).
    pub saturated: [u64; 4],
}

impl CellTap {
    #[inline(always)]
    fn pre(&mut self, row: &[impl Scalar]) {
        self.pre.merge(&tensor_stats(row));
    }

    #[inline(always)]
    fn saturation<T: Scalar>(&mut self, kind: CellKind, act: &[T], n: usize) {
        for (gate, count) in self.saturated.iter_mut().enumerate().take(kind.gates()) {
            *count += saturated_count(kind, gate, &act[gate * n..(gate + 1) * n]);
        }
    }
}

/// Entries of gate `gate`'s activations `v` where its derivative is below
/// [`SATURATION_FRACTION`] of its maximum: tanh `1 - v^2` (the RNN's one
/// gate, the LSTM's `g`, the GRU's `n`), sigmoid `v (1 - v)` (maximum
/// 1/4); none for the ReLU cell.
#[inline(always)]
pub fn saturated_count<T: Scalar>(kind: CellKind, gate: usize, v: &[T]) -> u64 {
    let tanh_gate = match kind {
        CellKind::Rnn => true,
        CellKind::Lstm | CellKind::Gru => gate == 2,
        CellKind::RnnRelu => return 0,
    };
    let one = T::one();
    if tanh_gate {
        let bound = T::cast(SATURATION_FRACTION);
        // Counted in 32-bit lanes (twice as many per vector), one row's
        // gate at a time: far below 2^32.
        u64::from(
            v.iter()
                .map(|&a| u32::from(one - a * a < bound))
                .sum::<u32>(),
        )
    } else {
        let bound = T::cast(SATURATION_FRACTION * 0.25);
        u64::from(
            v.iter()
                .map(|&a| u32::from(a * (one - a) < bound))
                .sum::<u32>(),
        )
    }
}

/// One step forward over a block of rows of width `hidden`.
///
/// # Panics
/// When a slice is shorter than its rows need (`h.len() / hidden` rows).
pub fn step_forward<T: Scalar>(kind: CellKind, hidden: usize, i: StepIn<'_, T>, o: StepOut<'_, T>) {
    #[cfg(target_arch = "x86_64")]
    match crate::tensor::simd() {
        // SAFETY: the machine runs the current level (`tensor::simd`).
        crate::tensor::Simd::Avx512 => return unsafe { forward_avx512(kind, hidden, i, o) },
        // SAFETY: as above.
        crate::tensor::Simd::Avx2 => return unsafe { forward_avx2(kind, hidden, i, o) },
        crate::tensor::Simd::Portable => {}
    }
    forward_rows(kind, hidden, i, o)
}

/// [`step_forward`] compiled for AVX-512.
///
/// # Safety
/// The machine must support AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn forward_avx512<T: Scalar>(k: CellKind, n: usize, i: StepIn<'_, T>, o: StepOut<'_, T>) {
    forward_rows(k, n, i, o)
}

/// [`step_forward`] compiled for AVX2.
///
/// # Safety
/// The machine must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn forward_avx2<T: Scalar>(
    k: CellKind,
    n: usize,
    i: StepIn<'_, T>,
    o: StepOut<'_, T>,
) {
    forward_rows(k, n, i, o)
}

#[inline(always)]
pub(super) fn forward_rows<T: Scalar>(
    kind: CellKind,
    n: usize,
    i: StepIn<'_, T>,
    mut o: StepOut<'_, T>,
) {
    let w = kind.gates() * n;
    let rows = o.h.len() / n.max(1);
    for r in 0..rows {
        let (gx, gh) = (&i.gx[r * w..(r + 1) * w], &i.gh[r * w..(r + 1) * w]);
        let act = &mut o.act[r * w..(r + 1) * w];
        let h = &mut o.h[r * n..(r + 1) * n];
        let h_prev = &i.h_prev[r * n..(r + 1) * n];
        let mut tap = o.tap.as_deref_mut();
        // The GRU's reset gate must be applied before `n`'s pre-activation
        // exists; the other cells' pre-activations are `gx + gh` whole.
        let summed = if kind == CellKind::Gru { 2 * n } else { w };
        for ((a, &x), &y) in act[..summed].iter_mut().zip(gx).zip(gh) {
            *a = x + y;
        }
        if let Some(t) = tap.as_deref_mut() {
            t.pre(&act[..summed]);
        }
        match kind {
            CellKind::Rnn => {
                act.iter_mut().for_each(|v| *v = v.tanh_fast());
                h.copy_from_slice(act);
            }
            CellKind::RnnRelu => {
                act.iter_mut().for_each(|v| *v = v.max(T::zero()));
                h.copy_from_slice(act);
            }
            CellKind::Lstm => {
                let (ifg, og) = act.split_at_mut(3 * n);
                let (if_, gg) = ifg.split_at_mut(2 * n);
                if_.iter_mut().for_each(|v| *v = sigmoid(*v));
                gg.iter_mut().for_each(|v| *v = v.tanh_fast());
                og.iter_mut().for_each(|v| *v = sigmoid(*v));
                lstm_forward_row(
                    [&if_[..n], &if_[n..], gg, og],
                    &i.c_prev[r * n..][..n],
                    &mut o.c[r * n..][..n],
                    h,
                );
            }
            CellKind::Gru => {
                let (rz, nn) = act.split_at_mut(2 * n);
                rz.iter_mut().for_each(|v| *v = sigmoid(*v));
                // n's pre-activation, `gx_n + r * gh_n`, in place of n.
                let (gxn, ghn) = (&gx[2 * n..][..n], &gh[2 * n..][..n]);
                for (((v, &x), &y), &rv) in nn.iter_mut().zip(gxn).zip(ghn).zip(&rz[..n]) {
                    *v = x + rv * y;
                }
                if let Some(t) = tap.as_deref_mut() {
                    t.pre(nn);
                }
                gru_forward_row(&rz[n..], h_prev, nn, h);
            }
        }
        if let Some(t) = tap {
            t.saturation(kind, act, n);
        }
    }
}

// The row kernels take each gate's slice as its own argument: a `&mut`
// argument is `noalias` to the compiler (also once inlined), so it can
// keep the loop's values in vector registers without checking whether
// one output overwrites another input. Cut from one buffer inside the
// caller, they could not be told apart, and the loops ran one lane wide.

/// `c = f * c_prev + i * g`, `h = o * tanh(c)`, from the activated gates.
#[inline(always)]
fn lstm_forward_row<T: Scalar>(gates: [&[T]; 4], c_prev: &[T], c: &mut [T], h: &mut [T]) {
    let n = h.len();
    let [ig, fg, gg, og] = gates.map(|g| &g[..n]);
    let (c_prev, c) = (&c_prev[..n], &mut c[..n]);
    for j in 0..n {
        let cj = fg[j] * c_prev[j] + ig[j] * gg[j];
        c[j] = cj;
        h[j] = og[j] * cj.tanh_fast();
    }
}

/// `n = tanh(a_n)` in place of its pre-activation `a_n`, and
/// `h = (1 - z) * n + z * h_prev`.
#[inline(always)]
fn gru_forward_row<T: Scalar>(zg: &[T], h_prev: &[T], nn: &mut [T], h: &mut [T]) {
    let n = h.len();
    let (zg, h_prev, nn) = (&zg[..n], &h_prev[..n], &mut nn[..n]);
    for j in 0..n {
        let v = nn[j].tanh_fast();
        nn[j] = v;
        h[j] = (T::one() - zg[j]) * v + zg[j] * h_prev[j];
    }
}

/// The LSTM's gate gradients `d = [di, df, dg, do]` (at the
/// pre-activations) and `dL/dc_{t-1}`, from the gates `[i, f, g, o]`,
/// `c`, `c_prev`, `dL/dc_t` (from step `t + 1`) and `dL/dh_t`.
#[inline(always)]
fn lstm_backward_row<T: Scalar>(
    gates: [&[T]; 4],
    c: &[T],
    c_prev: &[T],
    dc: &[T],
    dh: &[T],
    (di, df, dg, d_o): (&mut [T], &mut [T], &mut [T], &mut [T]),
    dc_prev: &mut [T],
) {
    lstm_backward_noalias(gates, c, c_prev, dc, dh, di, df, dg, d_o, dc_prev)
}

/// [`lstm_backward_row`] with each output its own `&mut` argument.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lstm_backward_noalias<T: Scalar>(
    gates: [&[T]; 4],
    c: &[T],
    c_prev: &[T],
    dc: &[T],
    dh: &[T],
    di: &mut [T],
    df: &mut [T],
    dg: &mut [T],
    d_o: &mut [T],
    dc_prev: &mut [T],
) {
    let one = T::one();
    let n = dh.len();
    let [ig, fg, gg, og] = gates.map(|g| &g[..n]);
    let (di, df, dg, d_o) = (&mut di[..n], &mut df[..n], &mut dg[..n], &mut d_o[..n]);
    let (c, c_prev, dc, dc_prev) = (&c[..n], &c_prev[..n], &dc[..n], &mut dc_prev[..n]);
    for j in 0..n {
        let (i, f, gv, ov) = (ig[j], fg[j], gg[j], og[j]);
        let tc = c[j].tanh_fast();
        let dct = dc[j] + dh[j] * ov * (one - tc * tc);
        dc_prev[j] = dct * f;
        di[j] = dct * gv * i * (one - i);
        df[j] = dct * c_prev[j] * f * (one - f);
        dg[j] = dct * i * (one - gv * gv);
        d_o[j] = dh[j] * tc * ov * (one - ov);
    }
}

/// The GRU's gate gradients `d = [dr, dz, dn]` at the pre-activations
/// (`dn` at `gx_n`; `gh_n`'s is `r dn`), and the direct part of
/// `dL/dh_{t-1}`, `z dh`.
#[inline(always)]
fn gru_backward_row<T: Scalar>(
    gates: [&[T]; 3],
    ghn: &[T],
    h_prev: &[T],
    dh: &[T],
    (dr, dz, dn): (&mut [T], &mut [T], &mut [T]),
    direct: &mut [T],
) {
    gru_backward_noalias(gates, ghn, h_prev, dh, dr, dz, dn, direct)
}

/// [`gru_backward_row`] with each output its own `&mut` argument.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gru_backward_noalias<T: Scalar>(
    gates: [&[T]; 3],
    ghn: &[T],
    h_prev: &[T],
    dh: &[T],
    dr: &mut [T],
    dz: &mut [T],
    dn: &mut [T],
    direct: &mut [T],
) {
    let one = T::one();
    let n = dh.len();
    let [rg, zg, ng] = gates.map(|g| &g[..n]);
    let (dr, dz, dn, direct) = (&mut dr[..n], &mut dz[..n], &mut dn[..n], &mut direct[..n]);
    let (ghn, h_prev) = (&ghn[..n], &h_prev[..n]);
    for j in 0..n {
        let (rv, zv, nv) = (rg[j], zg[j], ng[j]);
        direct[j] = dh[j] * zv;
        let dan = dh[j] * (one - zv) * (one - nv * nv);
        dn[j] = dan;
        dr[j] = dan * ghn[j] * rv * (one - rv);
        dz[j] = dh[j] * (h_prev[j] - nv) * zv * (one - zv);
    }
}

/// What a step's backward pass reads, `rows` rows each: `dh` (all of
/// `dL/dh_t`), `dc` (`dL/dc_t` from step `t + 1`, LSTM), and the forward's
/// `act`, `gh`, `h_prev`, `c_prev`, `c`.
#[derive(Clone, Copy)]
pub struct StepGrad<'a, T> {
    /// `dL/dh_t`.
    pub dh: &'a [T],
    /// `dL/dc_t` (LSTM; empty otherwise).
    pub dc: &'a [T],
    /// The forward's gate activations.
    pub act: &'a [T],
    /// The forward's recurrent part (the GRU's `n` gate reads it).
    pub gh: &'a [T],
    /// The previous hidden state.
    pub h_prev: &'a [T],
    /// The previous memory cell (LSTM).
    pub c_prev: &'a [T],
    /// This step's memory cell (LSTM).
    pub c: &'a [T],
}

/// What a step's backward pass writes: `dgx` (`dL/dgx`, `G*H` per row),
/// `dgh` (`dL/dgh`: the same as `dgx` but for the GRU's `n` gate), the
/// part of `dL/dh_{t-1}` that skips the product (`direct`: the GRU's
/// `z * dh`; untouched for the others) and `dL/dc_{t-1}` (`dc_prev`, LSTM).
pub struct StepGradOut<'a, T> {
    /// `dL/dgx`.
    pub dgx: &'a mut [T],
    /// `dL/dgh`.
    pub dgh: &'a mut [T],
    /// The GRU's direct part of `dL/dh_{t-1}`.
    pub direct: &'a mut [T],
    /// `dL/dc_{t-1}` (LSTM).
    pub dc_prev: &'a mut [T],
}

/// One step backward over a block of rows of width `hidden`.
///
/// # Panics
/// When a slice is shorter than its rows need (`dh.len() / hidden` rows).
pub fn step_backward<T: Scalar>(
    kind: CellKind,
    hidden: usize,
    g: StepGrad<'_, T>,
    o: StepGradOut<'_, T>,
) {
    #[cfg(target_arch = "x86_64")]
    match crate::tensor::simd() {
        // SAFETY: the machine runs the current level (`tensor::simd`).
        crate::tensor::Simd::Avx512 => return unsafe { backward_avx512(kind, hidden, g, o) },
        // SAFETY: as above.
        crate::tensor::Simd::Avx2 => return unsafe { backward_avx2(kind, hidden, g, o) },
        crate::tensor::Simd::Portable => {}
    }
    backward_rows(kind, hidden, g, o)
}

/// [`step_backward`] compiled for AVX-512.
///
/// # Safety
/// The machine must support AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn backward_avx512<T: Scalar>(
    k: CellKind,
    n: usize,
    g: StepGrad<'_, T>,
    o: StepGradOut<'_, T>,
) {
    backward_rows(k, n, g, o)
}

/// [`step_backward`] compiled for AVX2.
///
/// # Safety
/// The machine must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn backward_avx2<T: Scalar>(
    k: CellKind,
    n: usize,
    g: StepGrad<'_, T>,
    o: StepGradOut<'_, T>,
) {
    backward_rows(k, n, g, o)
}

#[inline(always)]
pub(super) fn backward_rows<T: Scalar>(
    kind: CellKind,
    n: usize,
    g: StepGrad<'_, T>,
    o: StepGradOut<'_, T>,
) {
    let one = T::one();
    let w = kind.gates() * n;
    let rows = g.dh.len() / n.max(1);
    for r in 0..rows {
        let dh = &g.dh[r * n..(r + 1) * n];
        let act = &g.act[r * w..(r + 1) * w];
        let dgx = &mut o.dgx[r * w..(r + 1) * w];
        match kind {
            CellKind::Rnn => {
                for ((d, &a), &gd) in dgx.iter_mut().zip(act).zip(dh) {
                    *d = gd * (one - a * a);
                }
            }
            CellKind::RnnRelu => {
                for ((d, &a), &gd) in dgx.iter_mut().zip(act).zip(dh) {
                    *d = if a > T::zero() { gd } else { T::zero() };
                }
            }
            CellKind::Lstm => {
                let (di, rest) = dgx.split_at_mut(n);
                let (df, rest) = rest.split_at_mut(n);
                let (dg, d_o) = rest.split_at_mut(n);
                lstm_backward_row(
                    [&act[..n], &act[n..2 * n], &act[2 * n..3 * n], &act[3 * n..]],
                    &g.c[r * n..][..n],
                    &g.c_prev[r * n..][..n],
                    &g.dc[r * n..][..n],
                    dh,
                    (di, df, dg, d_o),
                    &mut o.dc_prev[r * n..][..n],
                );
            }
            CellKind::Gru => {
                let (dr, rest) = dgx.split_at_mut(n);
                let (dz, dn) = rest.split_at_mut(n);
                gru_backward_row(
                    [&act[..n], &act[n..2 * n], &act[2 * n..]],
                    &g.gh[r * w + 2 * n..][..n],
                    &g.h_prev[r * n..][..n],
                    dh,
                    (dr, dz, dn),
                    &mut o.direct[r * n..][..n],
                );
            }
        }
        let dgh = &mut o.dgh[r * w..(r + 1) * w];
        dgh.copy_from_slice(dgx);
        if kind == CellKind::Gru {
            // The reset gate scales the recurrent part of `n` only.
            let rg = &act[..n];
            for (d, &rv) in dgh[2 * n..].iter_mut().zip(rg) {
                *d = *d * rv;
            }
        }
    }
}
