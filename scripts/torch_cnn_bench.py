"""PyTorch CPU baseline: training speed of a CIFAR-style CNN on 1x28x28
images, for side-by-side runs with `gradscope bench --cnn`.

The workload is the one gradscope's CNN benchmark measures
(src/bench/conv.rs): He et al. 2016's family as our builder makes it
(src/nn/conv/model.rs) — a 3x3 stem conv, `n` basic blocks per stage
(conv3x3-BN-ReLU-conv3x3-BN, the first block of each later stage with
stride 2), with option A shortcuts (every 2nd pixel, zero channels) and a
ReLU after the sum when `--residual 1`, the same convs without shortcuts
when `--residual 0`; convs without bias (BatchNorm follows each); global
average pooling and a linear layer to 10 classes. Softmax cross-entropy,
SGD with momentum 0.9 (lr 0.01), float32, NCHW (`torch.nn.Conv2d`'s
default memory format; oneDNN reorders internally), one fixed synthetic
batch (uniform [0, 1) inputs, fixed seed), train mode.

FLOP count, as gradscope counts it: every conv does a forward product, a
weight-gradient product and (except the stem, whose input needs no
gradient) an input-gradient product, each `2 * pixels_out * c_out * 9 *
c_in` flop per example, plus the linear layer's 3 products; BatchNorm,
ReLU, pooling and im2col copies are not counted.

Prints one JSON line:

  {"impl": "torch", "version": .., "channels": [..], "n": .., "residual": ..,
   "batch": .., "threads": .., "steps_per_s": [..], "median_steps_per_s": ..,
   "gflop_per_step": .., "median_gflop_per_s": ..}

Usage:
  python3 scripts/torch_cnn_bench.py --channels 16,32,64 --n 3 --residual 1 --threads 1
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c_in, c_out, stride, residual):
        super().__init__()
        self.c1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(c_out)
        self.c2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(c_out)
        self.stride, self.pad, self.residual = stride, c_out - c_in, residual

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        if self.residual:
            s = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
            if self.pad:
                s = F.pad(s, (0, 0, 0, 0, 0, self.pad))
            y = y + s
        return F.relu(y)


def build(channels, n, residual):
    layers = [nn.Conv2d(1, channels[0], 3, 1, 1, bias=False), nn.BatchNorm2d(channels[0]),
              nn.ReLU()]
    c = channels[0]
    for s, width in enumerate(channels):
        for j in range(n):
            layers.append(Block(c, width, 2 if s > 0 and j == 0 else 1, residual))
            c = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10)]
    return nn.Sequential(*layers)


def gflop_per_step(channels, n, batch, side=28):
    """Our count (module doc): 3 products per conv, 2 for the stem."""
    macs_stem = side * side * channels[0] * 9 * 1
    macs, c = 0, channels[0]
    for s, width in enumerate(channels):
        for j in range(n):
            if s > 0 and j == 0:
                side = (side + 1) // 2
            macs += side * side * width * 9 * c + side * side * width * 9 * width
            c = width
    linear = c * 10
    return 2 * batch * (2 * macs_stem + 3 * macs + 3 * linear) / 1e9


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--channels", default="16,32,64")
    p.add_argument("--n", type=int, default=3)
    p.add_argument("--residual", type=int, default=1, choices=[0, 1])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--channels-last", type=int, default=0, choices=[0, 1],
                   help="1: torch.channels_last memory format (NHWC), as ours")
    a = p.parse_args()
    channels = [int(c) for c in a.channels.split(",")]

    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    net = build(channels, a.n, bool(a.residual))
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand(a.batch, 1, 28, 28)
    y = torch.randint(0, 10, (a.batch,))
    if a.channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
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
    gflop = gflop_per_step(channels, a.n, a.batch)
    med = statistics.median(rates)
    print(json.dumps({
        "impl": "torch", "version": torch.__version__, "channels": channels, "n": a.n,
        "residual": bool(a.residual), "batch": a.batch, "threads": a.threads,
        "channels_last": bool(a.channels_last),
        "steps_per_s": [round(r, 3) for r in rates],
        "median_steps_per_s": round(med, 3),
        "gflop_per_step": round(gflop, 6),
        "median_gflop_per_s": round(med * gflop, 3),
    }))


if __name__ == "__main__":
    main()
