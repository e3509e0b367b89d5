//! The recurrent cells against PyTorch's `nn.RNN` (tanh, ReLU), `nn.LSTM`
//! and `nn.GRU` with the same weights: outputs, final states, every
//! parameter gradient, `dL/dx` and the initial states' gradients, for one
//! and two stacked layers, zero and random initial states, the LSTM's
//! forget-gate bias, and truncated BPTT (chunks of 2 steps).
//!
//! The fixture, `tests/fixtures/torch/rnn.json`, comes from
//! `scripts/torch_rnn_reference.py` (its header says how to rerun it; the
//! fixture's `description` documents layout, gate order, formulas, loss
//! and the truncation rule). The loss is
//! `L = sum(output * R) + sum(h_n * S) (+ sum(c_n * U))`, so the gradient
//! reaching the top layer's `h_t` is `R_t` (plus `S` at the last step),
//! and each layer's `h_n` (and `c_n`) receives `S` (and `U`). PyTorch is
//! not needed to run this test.
//!
//! Tolerance: relative `1e-5` per entry with an absolute floor of `1e-8`
//! (the bound); both sides compute in f64 and agree to about
//! 1e-14.

use gradscope::nn::recurrent::{CellKind, Recurrent};
use gradscope::tensor::{Grads, Matrix};
use serde::Deserialize;
use std::collections::BTreeMap;

const RNN: &str = include_str!("fixtures/torch/rnn.json");
const RTOL: f64 = 1e-5;
const FLOOR: f64 = 1e-8;

#[derive(Deserialize)]
struct Fixture {
    torch: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Array {
    shape: Vec<usize>,
    data: Vec<f64>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    kind: String,
    input_size: usize,
    hidden_size: usize,
    num_layers: usize,
    seq_len: usize,
    batch: usize,
    truncation: Option<usize>,
    params: BTreeMap<String, Array>,
    x: Array,
    h0: Array,
    c0: Option<Array>,
    #[serde(rename = "R")]
    r: Array,
    #[serde(rename = "S")]
    s: Array,
    #[serde(rename = "U")]
    u: Option<Array>,
    expected: Expected,
}

#[derive(Deserialize)]
struct Expected {
    output: Array,
    h_n: Array,
    c_n: Option<Array>,
    grads: BTreeMap<String, Array>,
    x_grad: Array,
    h0_grad: Array,
    c0_grad: Option<Array>,
}

impl Array {
    /// Slab `i` of the first axis as a `rows x cols` matrix (a `[T, B, D]`
    /// array's step `i`, an `[L, B, H]` array's layer `i`).
    fn slab(&self, i: usize) -> Matrix<f64> {
        let (rows, cols) = (self.shape[1], self.shape[2]);
        let n = rows * cols;
        Matrix::from_vec(rows, cols, self.data[i * n..(i + 1) * n].to_vec()).unwrap()
    }

    /// The whole array as one matrix of `rows` rows.
    fn matrix(&self, rows: usize) -> Matrix<f64> {
        Matrix::from_vec(rows, self.data.len() / rows, self.data.clone()).unwrap()
    }
}

fn kind(name: &str) -> CellKind {
    match name {
        "rnn_tanh" => CellKind::Rnn,
        "rnn_relu" => CellKind::RnnRelu,
        "lstm" => CellKind::Lstm,
        "gru" => CellKind::Gru,
        other => panic!("unknown kind {other}"),
    }
}

/// Every entry of `ours` within tolerance of `theirs`.
fn assert_close(case: &str, what: &str, ours: &[f64], theirs: &[f64]) {
    assert_eq!(ours.len(), theirs.len(), "{case}: {what}: length");
    for (i, (&a, &b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            (a - b).abs() <= RTOL * b.abs().max(FLOOR),
            "{case}: {what}[{i}]: ours {a}, PyTorch {b}"
        );
    }
}

fn run_case(c: &Case) {
    let kind = kind(&c.kind);
    let (t_len, layers, hidden) = (c.seq_len, c.num_layers, c.hidden_size);
    let mut stack: Vec<Recurrent<f64>> = (0..layers)
        .map(|l| {
            let input = if l == 0 { c.input_size } else { hidden };
            let mut layer = Recurrent::new(kind, input, hidden, &format!("layers.{l}"));
            for (name, param) in layer.params_mut() {
                let a = &c.params[&format!("{name}_l{l}")];
                param.value = a.matrix(if name.starts_with("bias") {
                    1
                } else {
                    a.shape[0]
                });
            }
            layer.truncation = c.truncation;
            layer.h0 = c.h0.slab(l);
            if let (Some(c0), Some(u)) = (&c.c0, &c.u) {
                layer.c0 = c0.slab(l);
                layer.final_cell_grad = u.slab(l);
            }
            layer
        })
        .collect();
    let xs: Vec<Matrix<f64>> = (0..t_len).map(|t| c.x.slab(t)).collect();
    for l in 0..layers {
        let (below, rest) = stack.split_at_mut(l);
        let inputs = if l == 0 {
            &xs[..]
        } else {
            below[l - 1].outputs()
        };
        rest[0].forward(inputs);
    }
    let top = stack[layers - 1].outputs();
    let output: Vec<f64> = top.iter().flat_map(|h| h.as_slice().to_vec()).collect();
    assert_close(&c.name, "output", &output, &c.expected.output.data);
    let h_n: Vec<f64> = stack
        .iter()
        .flat_map(|l| l.outputs()[t_len - 1].as_slice().to_vec())
        .collect();
    assert_close(&c.name, "h_n", &h_n, &c.expected.h_n.data);
    if let Some(c_n) = &c.expected.c_n {
        let ours: Vec<f64> = stack
            .iter()
            .flat_map(|l| l.cell_states()[t_len - 1].as_slice().to_vec())
            .collect();
        assert_close(&c.name, "c_n", &ours, &c_n.data);
    }
    // Backward, top layer first: R at every step of the top layer, S at
    // each layer's last step, and what the layer above sends down.
    for l in (0..layers).rev() {
        let mut dhs: Vec<Matrix<f64>> = if l + 1 == layers {
            (0..t_len).map(|t| c.r.slab(t)).collect()
        } else {
            stack[l + 1].input_grads().to_vec()
        };
        dhs[t_len - 1].add_scaled(&c.s.slab(l), 1.0);
        let (below, rest) = stack.split_at_mut(l);
        let inputs = if l == 0 {
            &xs[..]
        } else {
            below[l - 1].outputs()
        };
        rest[0].backward(inputs, &dhs, true, Grads::Overwrite);
    }
    for (l, layer) in stack.iter_mut().enumerate() {
        for (name, param) in layer.params_mut() {
            let key = format!("{name}_l{l}");
            assert_close(
                &c.name,
                &key,
                param.grad.as_slice(),
                &c.expected.grads[&key].data,
            );
        }
        let (dh0, dc0) = layer.initial_grads();
        let n = c.batch * hidden;
        let theirs = &c.expected.h0_grad.data[l * n..(l + 1) * n];
        assert_close(&c.name, &format!("h0_grad[{l}]"), dh0.as_slice(), theirs);
        if let Some(c0_grad) = &c.expected.c0_grad {
            let theirs = &c0_grad.data[l * n..(l + 1) * n];
            assert_close(&c.name, &format!("c0_grad[{l}]"), dc0.as_slice(), theirs);
        }
    }
    let x_grad: Vec<f64> = stack[0]
        .input_grads()
        .iter()
        .flat_map(|g| g.as_slice().to_vec())
        .collect();
    assert_close(&c.name, "x_grad", &x_grad, &c.expected.x_grad.data);
}

#[test]
fn every_cell_matches_pytorch() {
    let fixture: Fixture = serde_json::from_str(RNN).unwrap();
    assert!(fixture.torch.starts_with('2'), "{}", fixture.torch);
    let kinds: std::collections::BTreeSet<&str> =
        fixture.cases.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(kinds.len(), 4);
    for case in &fixture.cases {
        run_case(case);
    }
}
