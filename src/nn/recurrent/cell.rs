//! The element-wise arithmetic of one time step of each recurrent cell,
//! forward and backward, on rows of gate pre-activations. The products
//! (`x W_ih^T`, `h W_hh^T` and their gradients) are the layer's
//! (`super::layer`); what is here is what happens between them.
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

use crate::tensor::Scalar;
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

fn sigmoid<T: Scalar>(v: T) -> T {
    T::one() / (T::one() + (-v).exp())
}

/// One step forward for one row. `gx`, `gh`: the row's `G*H` input and
/// recurrent parts (`gh` unused but for the GRU's `n` gate when the two
/// are summed into `gx` first: RNN and LSTM take `gx` already summed).
/// Writes the gate activations into `act` (`G*H`: RNN `h`; LSTM `i, f, g,
/// o`; GRU `r, z, n`), the new state into `h` (and `c` for LSTM), from
/// `h_prev` (and `c_prev`).
#[allow(clippy::too_many_arguments)]
pub fn step_forward<T: Scalar>(
    kind: CellKind,
    gx: &[T],
    gh: &[T],
    h_prev: &[T],
    c_prev: &[T],
    act: &mut [T],
    h: &mut [T],
    c: &mut [T],
) {
    let n = h.len();
    match kind {
        CellKind::Rnn => {
            for j in 0..n {
                let v = (gx[j] + gh[j]).tanh();
                act[j] = v;
                h[j] = v;
            }
        }
        CellKind::RnnRelu => {
            for j in 0..n {
                let v = (gx[j] + gh[j]).max(T::zero());
                act[j] = v;
                h[j] = v;
            }
        }
        CellKind::Lstm => {
            for j in 0..n {
                let a = |g: usize| gx[g * n + j] + gh[g * n + j];
                let (i, f, g, o) = (sigmoid(a(0)), sigmoid(a(1)), a(2).tanh(), sigmoid(a(3)));
                act[j] = i;
                act[n + j] = f;
                act[2 * n + j] = g;
                act[3 * n + j] = o;
                c[j] = f * c_prev[j] + i * g;
                h[j] = o * c[j].tanh();
            }
        }
        CellKind::Gru => {
            for j in 0..n {
                let r = sigmoid(gx[j] + gh[j]);
                let z = sigmoid(gx[n + j] + gh[n + j]);
                let nn = (gx[2 * n + j] + r * gh[2 * n + j]).tanh();
                act[j] = r;
                act[n + j] = z;
                act[2 * n + j] = nn;
                h[j] = (T::one() - z) * nn + z * h_prev[j];
            }
        }
    }
}

/// One step backward for one row. Given `dh` (all of `dL/dh` at this
/// step) and `dc` (`dL/dc` from the next step, LSTM), and the forward's
/// `act`, `gh`, `h_prev`, `c_prev`, `c`: writes `dgx` (`dL/dgx`, `G*H`)
/// and `dgh` (`dL/dgh`; the same as `dgx` but for the GRU's `n` gate),
/// the part of `dL/dh_prev` that skips the product (`dh_prev_direct`,
/// GRU's `z * dh`; zero for the others) and `dL/dc_prev` (LSTM).
#[allow(clippy::too_many_arguments)]
pub fn step_backward<T: Scalar>(
    kind: CellKind,
    dh: &[T],
    dc: &[T],
    act: &[T],
    gh: &[T],
    h_prev: &[T],
    c_prev: &[T],
    c: &[T],
    dgx: &mut [T],
    dgh: &mut [T],
    dh_prev_direct: &mut [T],
    dc_prev: &mut [T],
) {
    let n = dh.len();
    let one = T::one();
    match kind {
        CellKind::Rnn => {
            for j in 0..n {
                let d = dh[j] * (one - act[j] * act[j]);
                dgx[j] = d;
                dgh[j] = d;
            }
        }
        CellKind::RnnRelu => {
            for j in 0..n {
                let d = if act[j] > T::zero() { dh[j] } else { T::zero() };
                dgx[j] = d;
                dgh[j] = d;
            }
        }
        CellKind::Lstm => {
            for j in 0..n {
                let (i, f, g, o) = (act[j], act[n + j], act[2 * n + j], act[3 * n + j]);
                let tc = c[j].tanh();
                let dct = dc[j] + dh[j] * o * (one - tc * tc);
                let di = dct * g;
                let df = dct * c_prev[j];
                let dg = dct * i;
                let d_o = dh[j] * tc;
                dc_prev[j] = dct * f;
                let pre = [
                    di * i * (one - i),
                    df * f * (one - f),
                    dg * (one - g * g),
                    d_o * o * (one - o),
                ];
                for (k, v) in pre.into_iter().enumerate() {
                    dgx[k * n + j] = v;
                    dgh[k * n + j] = v;
                }
            }
        }
        CellKind::Gru => {
            for j in 0..n {
                let (r, z, nn) = (act[j], act[n + j], act[2 * n + j]);
                let dn = dh[j] * (one - z);
                let dz = dh[j] * (h_prev[j] - nn);
                dh_prev_direct[j] = dh[j] * z;
                let dan = dn * (one - nn * nn);
                let dr = dan * gh[2 * n + j];
                let dar = dr * r * (one - r);
                let daz = dz * z * (one - z);
                dgx[j] = dar;
                dgh[j] = dar;
                dgx[n + j] = daz;
                dgh[n + j] = daz;
                dgx[2 * n + j] = dan;
                dgh[2 * n + j] = dan * r;
            }
        }
    }
}
