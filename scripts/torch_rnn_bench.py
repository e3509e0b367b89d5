"""PyTorch CPU baseline: training speed of one recurrent layer, for
side-by-side runs with `gradscope bench --lstm` (and `--gru`, `--rnn`).

The workload is the one gradscope's recurrent benchmark measures on the same
shapes: `nn.LSTM` / `nn.GRU` / `nn.RNN` (tanh), one layer, `input` features
per step, `hidden` units, `T` steps (time-major), a linear read-out of 10
classes at the last step, softmax cross-entropy, plain SGD (lr 0.01), full
BPTT, float32, batch `batch`, synthetic inputs (fixed seed).

On CPU, PyTorch trains `nn.LSTM` through oneDNN's fused RNN primitive
(`aten::mkldnn_rnn_layer` in its profiler) where oneDNN is built in, as in
the PyPI wheels; `--onednn off` selects its other path, one GEMM per step
and separate gate kernels, the only path `nn.GRU` and `nn.RNN` have.  The
FLOP count leaves out the input gradient, which `x` (no `requires_grad`)
does not need.  Prints one JSON line:

  {"impl": "torch", "cell": .., "input": .., "hidden": .., "steps": ..,
   "batch": .., "threads": .., "steps_per_s": [..], "median_steps_per_s": ..,
   "gflop_per_step": .., "median_gflop_per_s": ..}

Usage:
  python3 torch_rnn_bench.py --cell lstm --threads 1
Set up once (about 2 minutes, 5 GB):
  python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch numpy
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CELLS = {"lstm": (nn.LSTM, 4), "gru": (nn.GRU, 3), "rnn": (nn.RNN, 1)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cell", default="lstm", choices=sorted(CELLS))
    p.add_argument("--input", type=int, default=32)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--length", type=int, default=100)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--onednn", default="on", choices=["on", "off"],
                   help="off: PyTorch's per-step path (a GEMM per step and "
                        "separate gate kernels) instead of oneDNN's fused RNN")
    a = p.parse_args()
    torch.backends.mkldnn.enabled = a.onednn == "on"

    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    cls, gates = CELLS[a.cell]
    rnn = cls(a.input, a.hidden)
    readout = nn.Linear(a.hidden, 10)
    params = list(rnn.parameters()) + list(readout.parameters())
    opt = torch.optim.SGD(params, lr=0.01)
    x = torch.rand(a.length, a.batch, a.input) * 2 - 1
    y = torch.randint(0, 10, (a.batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        out, _ = rnn(x)
        loss = F.cross_entropy(readout(out[-1]), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(a.warmup):
        step()
    rates = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        rates.append(a.steps / (time.perf_counter() - t0))

    # forward: both gate products; backward: both weight gradients and
    # dL/dh_{t-1} (no dL/dx: the input needs no gradient)
    per_t = 2 * a.batch * gates * a.hidden * (2 * a.input + 3 * a.hidden)
    gflop = (a.length * per_t + 6 * a.batch * a.hidden * 10) / 1e9
    med = statistics.median(rates)
    print(json.dumps({
        "impl": "torch", "version": torch.__version__, "cell": a.cell,
        "input": a.input, "hidden": a.hidden, "steps": a.length,
        "batch": a.batch, "threads": a.threads, "onednn": a.onednn,
        "steps_per_s": [round(r, 3) for r in rates],
        "median_steps_per_s": round(med, 3),
        "gflop_per_step": round(gflop, 6),
        "median_gflop_per_s": round(med * gflop, 3),
    }))


if __name__ == "__main__":
    main()
