#!/usr/bin/env python3
"""Reference numbers from PyTorch for gradscope's recurrent cells (issue 13).

Writes one JSON fixture, everything in float64 with fixed seeds, floats in
full repr (nothing rounded, no NaN):

  tests/fixtures/torch/rnn.json
      {"torch": version, "description": this text, "cases": [case, ...]}

Each case runs one of PyTorch's own modules, `batch_first=False`:

  kind "rnn_tanh"  nn.RNN(nonlinearity="tanh")   G = 1 gate block
  kind "rnn_relu"  nn.RNN(nonlinearity="relu")   G = 1
  kind "lstm"      nn.LSTM                       G = 4, order i, f, g, o
  kind "gru"       nn.GRU                        G = 3, order r, z, n

Weights are PyTorch's default init after `torch.manual_seed(seed)`
(U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias), kept as they are,
except in cases with `forget_bias` = 1.0, where 1.0 was added to the forget
slice `bias_ih_l{k}[H:2H]` of every layer (the stored biases include it).
Inputs x, states h0/c0 and the loss weights R, S, U are N(0, 1) from a
generator seeded with the case's seed; cases with `zero_state` true use
h0 = c0 = 0 (still stored, and still given a gradient).

Layout (PyTorch's, names kept): for layer k (l0, l1, ...), with
D_in = input_size for k = 0 and hidden_size H above it,

  weight_ih_l{k}  G*H x D_in    rows [g*H, (g+1)*H) belong to gate g
  weight_hh_l{k}  G*H x H       same row blocks
  bias_ih_l{k}    G*H
  bias_hh_l{k}    G*H

so for one step, a = x W_ih^T + b_ih and b = h W_hh^T + b_hh (each B x G*H;
one fused GEMM each, or one GEMM on [x, h]) and gate g reads columns
[g*H, (g+1)*H) of them. Per step t, with x = x_t (layer 0) or the layer
below's h_t, and s the logistic sigmoid:

  rnn_tanh  h' = tanh(a + b)
  rnn_relu  h' = relu(a + b)
  lstm      i = s(a_i + b_i)   f = s(a_f + b_f)
            g = tanh(a_g + b_g)   o = s(a_o + b_o)
            c' = f * c + i * g
            h' = o * tanh(c')
  gru       r = s(a_r + b_r)   z = s(a_z + b_z)
            n = tanh(W_in x + b_in + r * (W_hn h + b_hn))   i.e. tanh(a_n + r * b_n)
            h' = (1 - z) * n + z * h

(GRU's b_hn sits inside the r product, so the recurrent half b must be kept
apart from a for the n block: it cannot be summed into a single bias.)

Shapes (T = seq_len, B = batch, L = num_layers):
  x, x_grad              T x B x input_size
  h0, c0, S, U, h_n, c_n, h0_grad, c0_grad    L x B x H   (c*, U: LSTM only)
  R, output              T x B x H   (output[t] = h_t of the top layer)
  h_n[k] = h_T of layer k; c_n[k] likewise.

Loss, a fixed linear functional so every gradient is non-trivial:

  L = sum(output * R) + sum(h_n * S)  (+ sum(c_n * U) for LSTM)

Truncated BPTT (cases with `truncation` = k, here k = 2): the sequence is
split into chunks of k steps from t = 0 (the last chunk may be shorter:
T = 5 gives steps [0,1], [2,3], [4]). Chunk j runs the module from the state
the previous chunk ended in, detached (`h = h.detach()`, and `c` for LSTM;
chunk 0 starts from h0/c0 itself, so dL/dh0 flows through chunk 0 only). The
chunk's loss is sum(output_chunk * R_chunk), plus sum(h_n * S) (+ sum(c_n * U))
for the last chunk; each chunk's loss is backpropagated on its own and the
gradients are summed over chunks. The forward values (output, h_n, c_n,
loss) are those of full BPTT; only the gradients differ. In stacked cases
every layer's state is carried and detached at the chunk boundary.

Case keys: name, kind, seed, input_size, hidden_size, num_layers, seq_len,
batch, zero_state, truncation (null = full BPTT), forget_bias (LSTM only),
params {weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._l1},
x, h0, c0 (LSTM), R, S, U (LSTM), expected {loss, output, h_n, c_n (LSTM),
grads {same keys as params}, x_grad, h0_grad, c0_grad (LSTM)}.
Every array is {"shape": [PyTorch's shape], "data": [row-major floats]}:
biases have shape [G*H], weights [G*H, D_in], sequences [T, B, n].

The script checks itself before writing: a numpy forward written from the
formulas above, reading the weights back from the JSON-ready data,
reproduces PyTorch's output, h_n and c_n for every case (one LSTM and one
GRU step are also checked on their own), no ReLU pre-activation lies within
1e-4 of 0, and the truncated gradients equal those of a single backward
through the detached graph.

Rerun (PyTorch is not needed by the tests, only to regenerate; PyTorch's
CPU wheel index may be unreachable here, PyPI's `torch` works):

  python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch numpy
  /tmp/torch-venv/bin/python scripts/torch_rnn_reference.py
"""
import json
import os

import numpy as np
import torch
from torch import nn

torch.set_default_dtype(torch.float64)

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "torch")

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}

# Forward values must match PyTorch's to this (both sides in f64).
SELF_CHECK_TOL = 1e-12
# Every ReLU pre-activation stays this far from the kink, so a port whose
# rounding differs in the last bits cannot land on the other side of it.
RELU_MARGIN = 1e-4


def arr(t):
    """A tensor as {"shape", "data"}: PyTorch's shape, row-major floats."""
    t = t.detach()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1)]}


def build(kind, input_size, hidden, layers):
    if kind == "lstm":
        return nn.LSTM(input_size, hidden, layers)
    if kind == "gru":
        return nn.GRU(input_size, hidden, layers)
    return nn.RNN(input_size, hidden, layers, nonlinearity=kind.split("_")[1])


def loss_of(kind, out, state, R, S, U, last=True):
    """sum(out * R), plus sum(h_n * S) (+ sum(c_n * U)) when `last`."""
    value = (out * R).sum()
    if last:
        if kind == "lstm":
            value = value + (state[0] * S).sum() + (state[1] * U).sum()
        else:
            value = value + (state * S).sum()
    return value


def detach(kind, state):
    return (state[0].detach(), state[1].detach()) if kind == "lstm" else state.detach()


def run_truncated(kind, model, x, start, R, S, U, k):
    """Chunks of k steps, state detached between them, one backward per chunk.

    Returns (output, final state, total loss); gradients accumulate in .grad.
    """
    T = x.shape[0]
    state, outs, total = start, [], 0.0
    for t0 in range(0, T, k):
        t1 = min(t0 + k, T)
        if t0 > 0:
            state = detach(kind, state)
        out, state = model(x[t0:t1], state)
        value = loss_of(kind, out, state, R[t0:t1], S, U, last=t1 == T)
        value.backward()
        outs.append(out.detach())
        total += float(value.detach())
    return torch.cat(outs), state, total


def case(kind, seed, layers=1, T=5, B=2, D=3, H=4, zero_state=False, truncation=None,
         forget_bias=0.0):
    torch.manual_seed(seed)
    model = build(kind, D, H, layers)
    if forget_bias:
        with torch.no_grad():
            for k in range(layers):
                getattr(model, f"bias_ih_l{k}")[H:2 * H] += forget_bias
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(T, B, D, generator=gen).requires_grad_()
    h0 = torch.zeros(layers, B, H) if zero_state else torch.randn(layers, B, H, generator=gen)
    h0.requires_grad_()
    R = torch.randn(T, B, H, generator=gen)
    S = torch.randn(layers, B, H, generator=gen)
    lstm = kind == "lstm"
    if lstm:
        c0 = torch.zeros(layers, B, H) if zero_state else torch.randn(layers, B, H, generator=gen)
        c0.requires_grad_()
        U = torch.randn(layers, B, H, generator=gen)
        start = (h0, c0)
    else:
        c0 = U = None
        start = h0

    if truncation is None:
        out, state = model(x, start)
        value = loss_of(kind, out, state, R, S, U)
        value.backward()
        total = float(value.detach())
    else:
        out, state, total = run_truncated(kind, model, x, start, R, S, U, truncation)
        check_truncation(kind, model, x, start, R, S, U, truncation)

    h_n, c_n = state if lstm else (state, None)
    name = f"{kind} {layers} layer{'s' if layers > 1 else ''}"
    name += ", zero state" if zero_state else ", random h0" + (" c0" if lstm else "")
    if forget_bias:
        name += f", forget bias +{forget_bias}"
    if truncation:
        name += f", truncated BPTT k={truncation}"
    c = {
        "name": name,
        "kind": kind,
        "seed": seed,
        "input_size": D,
        "hidden_size": H,
        "num_layers": layers,
        "seq_len": T,
        "batch": B,
        "zero_state": zero_state,
        "truncation": truncation,
    }
    if lstm:
        c["forget_bias"] = forget_bias
    c["params"] = {n: arr(p) for n, p in model.named_parameters()}
    c["x"] = arr(x)
    c["h0"] = arr(h0)
    if lstm:
        c["c0"] = arr(c0)
    c["R"] = arr(R)
    c["S"] = arr(S)
    if lstm:
        c["U"] = arr(U)
    expected = {"loss": total, "output": arr(out), "h_n": arr(h_n)}
    if lstm:
        expected["c_n"] = arr(c_n)
    expected["grads"] = {n: arr(p.grad) for n, p in model.named_parameters()}
    expected["x_grad"] = arr(x.grad)
    expected["h0_grad"] = arr(h0.grad)
    if lstm:
        expected["c0_grad"] = arr(c0.grad)
    c["expected"] = expected
    return c


def check_truncation(kind, model, x, start, R, S, U, k):
    """Per-chunk backward == one backward through the detached graph."""
    per_chunk = {n: p.grad.clone() for n, p in model.named_parameters()}
    clone = build(kind, x.shape[2], model.hidden_size, model.num_layers)
    clone.load_state_dict(model.state_dict())
    T = x.shape[0]
    state, value = start, 0.0
    for t0 in range(0, T, k):
        t1 = min(t0 + k, T)
        if t0 > 0:
            state = detach(kind, state)
        out, state = clone(x[t0:t1], state)
        value = value + loss_of(kind, out, state, R[t0:t1], S, U, last=t1 == T)
    grads = torch.autograd.grad(value, list(clone.parameters()))
    for (n, _), g in zip(clone.named_parameters(), grads):
        assert torch.allclose(g, per_chunk[n], rtol=1e-12, atol=1e-14), n


# ---------------------------------------------------------------- self-check


def np_arr(a):
    return np.array(a["data"], dtype=np.float64).reshape(a["shape"])


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def np_step(kind, p, k, x, h, c):
    """One step of layer k from the documented formulas. Returns (h', c')."""
    W_ih, W_hh = np_arr(p[f"weight_ih_l{k}"]), np_arr(p[f"weight_hh_l{k}"])
    b_ih, b_hh = np_arr(p[f"bias_ih_l{k}"]), np_arr(p[f"bias_hh_l{k}"])
    H = W_hh.shape[1]
    a = x @ W_ih.T + b_ih
    b = h @ W_hh.T + b_hh
    blk = lambda m, g: m[:, g * H:(g + 1) * H]  # noqa: E731
    if kind == "rnn_tanh":
        return np.tanh(a + b), None
    if kind == "rnn_relu":
        assert np.abs(a + b).min() > RELU_MARGIN, "a ReLU pre-activation sits on the kink"
        return np.maximum(a + b, 0.0), None
    if kind == "lstm":
        i = sigmoid(blk(a, 0) + blk(b, 0))
        f = sigmoid(blk(a, 1) + blk(b, 1))
        g = np.tanh(blk(a, 2) + blk(b, 2))
        o = sigmoid(blk(a, 3) + blk(b, 3))
        c2 = f * c + i * g
        return o * np.tanh(c2), c2
    r = sigmoid(blk(a, 0) + blk(b, 0))
    z = sigmoid(blk(a, 1) + blk(b, 1))
    n = np.tanh(blk(a, 2) + r * blk(b, 2))
    return (1.0 - z) * n + z * h, None


def np_forward(c):
    """The whole stacked forward in numpy: (output, h_n, c_n or None)."""
    kind, p = c["kind"], c["params"]
    seq = np_arr(c["x"])
    h0 = np_arr(c["h0"])
    c0 = np_arr(c["c0"]) if kind == "lstm" else None
    h_n, c_n = [], []
    for k in range(c["num_layers"]):
        h = h0[k]
        cs = c0[k] if c0 is not None else None
        outs = []
        for t in range(seq.shape[0]):
            h, cs = np_step(kind, p, k, seq[t], h, cs)
            outs.append(h)
        seq = np.stack(outs)
        h_n.append(h)
        c_n.append(cs)
    return seq, np.stack(h_n), (np.stack(c_n) if c0 is not None else None)


def close(got, want, what):
    err = np.max(np.abs(got - want))
    assert err < SELF_CHECK_TOL, f"{what}: numpy differs from PyTorch by {err:.3e}"
    return err


def self_check(cases):
    """The documented formulas reproduce PyTorch's forward for every case."""
    worst = 0.0
    for kind in ("lstm", "gru"):
        c = next(c for c in cases if c["kind"] == kind and not c["zero_state"])
        h1, c1 = np_step(kind, c["params"], 0, np_arr(c["x"])[0], np_arr(c["h0"])[0],
                         np_arr(c["c0"])[0] if kind == "lstm" else None)
        if c["num_layers"] == 1:
            worst = max(worst, close(h1, np_arr(c["expected"]["output"])[0], f"{kind} step"))
    for c in cases:
        out, h_n, c_n = np_forward(c)
        e = c["expected"]
        worst = max(worst, close(out, np_arr(e["output"]), c["name"] + " output"))
        worst = max(worst, close(h_n, np_arr(e["h_n"]), c["name"] + " h_n"))
        if c_n is not None:
            worst = max(worst, close(c_n, np_arr(e["c_n"]), c["name"] + " c_n"))
    return worst


def cases():
    out = []
    for i, kind in enumerate(GATES):
        base = 100 * (i + 1)
        out.append(case(kind, base + 1, zero_state=True))
        out.append(case(kind, base + 2))
        out.append(case(kind, base + 3, layers=2, T=4))
        out.append(case(kind, base + 4, truncation=2))
        out.append(case(kind, base + 5, layers=2, T=4, truncation=2))
        if kind == "lstm":
            out.append(case(kind, base + 6, forget_bias=1.0))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    all_cases = cases()
    worst = self_check(all_cases)
    fixture = {"torch": torch.__version__, "description": __doc__.strip(), "cases": all_cases}
    text = json.dumps(fixture, allow_nan=False)
    json.loads(text, parse_constant=lambda s: (_ for _ in ()).throw(ValueError(s)))
    path = os.path.join(OUT, "rnn.json")
    with open(path, "w") as f:
        f.write(text)
        f.write("\n")
    print(f"{path}: {len(all_cases)} cases, {len(text) + 1} bytes, "
          f"numpy self-check worst {worst:.2e}")


if __name__ == "__main__":
    main()
