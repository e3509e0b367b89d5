#!/usr/bin/env python3
"""Reference numbers from PyTorch for gradscope's convolutional layers (issue 15).

Writes one JSON fixture, everything in float64 with fixed seeds, floats in
full repr (nothing rounded, no NaN), read by tests/torch_conv.rs:

  tests/fixtures/torch/conv.json
      {"torch": version, "description": this text, "cases": [case, ...]}

Layouts and conversions
-----------------------
PyTorch stores an image batch NCHW (`x[n, c, y, x]`); gradscope stores it
NHWC, as *pixel rows*: a `N*H*W x C` matrix whose row `(n*H + y)*W + x`
holds that pixel's C channels (src/nn/conv/shape.rs). So

  ours = torch.permute(0, 2, 3, 1).reshape(N*H*W, C)        (pixel rows)
  torch = ours.reshape(N, H, W, C).permute(0, 3, 1, 2)

A network's input is a *data row* per example instead, the same NHWC values
one example per row: `N x H*W*C` (for C = 1, PyTorch's own flattening).
A convolution's weight is OIHW in PyTorch (`c_out x c_in x k x k`); ours is
`c_out x (k*k*c_in)`, each row in `(ky, kx, c_in)` order, the order of our
patch rows (src/nn/conv/conv2d.rs, im2col.rs):

  ours = w.permute(0, 2, 3, 1).reshape(c_out, k*k*c_in)
  torch = ours.reshape(c_out, k, k, c_in).permute(0, 3, 1, 2)

Biases, BatchNorm's weight (gamma), bias (beta) and running statistics are
`1 x n` rows; a linear layer's weight is `out x in` on both sides; global
average pooling's output (`x.mean((2, 3))`) is `N x C` on both sides.
Every array below is stored in OUR layout as {"shape": [rows, cols],
"data": [row-major floats]}; the script converts.

Cases (key "kind")
------------------
Layer cases feed one layer the input `x` and take the loss

  L = sum(y * R)        (R ~ N(0, 1), the output's shape, stored as ours)

so dL/dy = R, and every gradient is generic (nonzero). Expected: `output`,
`x_grad`, and `grads` of each parameter (our names: `weight`, `bias`).

  conv2d       nn.Conv2d(c_in, c_out, k, stride, padding, bias), groups 1;
               weights from PyTorch's default init after manual_seed(seed),
               the bias then redrawn N(0, 0.5) so it is not near 0.
  max_pool     nn.MaxPool2d(k, stride, padding) (padding counts as -inf;
               inputs are distinct, N(0, 1), so no window has a tie).
  avg_pool     nn.AvgPool2d(k, stride, padding), count_include_pad=True
               (PyTorch's default, and ours: the divisor is always k*k).
  global_avg_pool   x.mean((2, 3)).
  zero_pad_shortcut  He et al.'s option A: F.pad(x[:, :, ::s, ::s],
               (0, 0, 0, 0, 0, c_out - c_in)): every s-th pixel, then
               c_out - c_in zero channels after the input's.
  batch_norm   nn.BatchNorm2d(C, momentum, eps) on pixel rows (per channel,
               over N*H*W values); gamma = 0.7 + 0.6 U(0, 1) (never near 0,
               where a channel would die), beta = 0.3 N(0, 1), running_mean = 0.5 N(0, 1), running_var = 0.5 +
               U(0, 1) before the step (stored in `buffers`). Mode "train":
               batch statistics, and the running statistics after the one
               forward in `expected.buffers`; both sides use
               running = (1 - momentum) running + momentum stat, with the
               unbiased variance (n / (n - 1), n = N*H*W) for running_var.
               Mode "eval": the running statistics, unchanged.
  block        one residual basic block as the CNN builder makes it:
               branch = conv3x3(stride) - BN - relu - conv3x3 - BN (convs
               without bias), y = relu(branch(x) + shortcut(x)), the
               shortcut the identity, option A (`zeros`) or a 1x1
               convolution with the stride (`projection`, option B, no BN).
               Parameter names are the builder's inside a block:
               branch.0.weight (conv), branch.1.weight/bias (BN),
               branch.3.weight, branch.4.weight/bias, projection.weight;
               buffers branch.1.running_mean, ... Train mode.
  net          a whole CNN from our builder (src/nn/conv/model.rs, model.kind
               = "cnn"), the same modules in the same flat nn.Sequential
               numbering under `layers`: stem conv3x3 [BN] act, then per
               stage n blocks (residual: Residual(branch, projection) and
               the activation after the sum; plain: the branch's modules
               flat), global average pooling, nn.Linear to the classes.
               `model` holds the builder's keys; `params` and `buffers`
               every parameter and BatchNorm buffer by our path
               (layers.3.branch.0.weight); the Rust test loads them into
               the net our builder made. Input: data rows; loss:
               F.cross_entropy (mean) on `labels`. Expected: `logits`,
               `loss`, every parameter's gradient, buffers after the
               forward. Train mode.

Every ReLU's input in the block and net cases stays at least RELU_MARGIN
from 0 (checked with forward hooks), so a port whose rounding differs in
the last bits cannot land on the other side of the kink.

The script checks itself before writing: a numpy im2col and product,
written from the layouts above and reading back the JSON-ready arrays,
reproduces PyTorch's conv2d outputs and weight gradients; numpy window
loops in NHWC reproduce the pools and the shortcut.

Rerun (PyTorch is not needed by the tests, only to regenerate):

  /work/venv/bin/python scripts/torch_conv_reference.py
  (or: python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch numpy)
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

torch.set_default_dtype(torch.float64)

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "torch")

# The numpy self-check must match PyTorch to this (both in f64).
SELF_CHECK_TOL = 1e-12
# Every ReLU input stays this far from the kink (f64 rounding is ~1e-15).
RELU_MARGIN = 1e-6

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


# ------------------------------------------------------------- conversions


def mat(t):
    """A 2-D (or 1-D, as 1 x n) tensor as {"shape", "data"}."""
    t = t.detach()
    if t.dim() == 1:
        t = t.reshape(1, -1)
    assert t.dim() == 2, t.shape
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1)]}


def rows(t):
    """NCHW -> our pixel rows, N*H*W x C."""
    n, c, h, w = t.shape
    return t.detach().permute(0, 2, 3, 1).reshape(n * h * w, c)


def data_rows(t):
    """NCHW -> our data rows, N x H*W*C (NHWC per example)."""
    return t.detach().permute(0, 2, 3, 1).reshape(t.shape[0], -1)


def weight(t):
    """A conv weight, OIHW -> c_out x (ky, kx, c_in)."""
    return t.detach().permute(0, 2, 3, 1).reshape(t.shape[0], -1)


def ours(t):
    """Any of our tensors in our layout: conv weights and images converted."""
    return weight(t) if t.dim() == 4 else t


def image_case(kind, name, seed, shape, **extra):
    """The case's common keys; `shape` = (N, C, H, W) of the input."""
    n, c, h, w = shape
    return {"kind": kind, "name": name, "seed": seed, "batch": n, "input": [c, h, w], **extra}


def weighted_loss(y, gen):
    """L = sum(y * R) and R, for an NCHW or N x C output."""
    R = torch.randn(y.shape, generator=gen)
    return (y * R).sum(), R


def as_rows(t):
    return rows(t) if t.dim() == 4 else t


# ------------------------------------------------------------- layer cases


def conv_case(name, seed, shape, c_out, k, stride, pad, bias):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    conv = nn.Conv2d(shape[1], c_out, k, stride, pad, bias=bias)
    if bias:
        with torch.no_grad():
            conv.bias.copy_(0.5 * torch.randn(c_out, generator=gen))
    x = torch.randn(shape, generator=gen).requires_grad_()
    y = conv(x)
    value, R = weighted_loss(y, gen)
    value.backward()
    case = image_case("conv2d", name, seed, shape, c_out=c_out, kernel=k, stride=stride,
                      pad=pad, bias=bias)
    case["params"] = {n: mat(ours(p)) for n, p in conv.named_parameters()}
    case["x"] = mat(rows(x))
    case["R"] = mat(rows(R))
    case["expected"] = {
        "output": mat(rows(y)),
        "x_grad": mat(rows(x.grad)),
        "grads": {n: mat(ours(p.grad)) for n, p in conv.named_parameters()},
    }
    return case


def fixed_layer_case(kind, name, seed, shape, fn, **extra):
    """A layer without parameters: y = fn(x), L = sum(y * R)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen).requires_grad_()
    y = fn(x)
    value, R = weighted_loss(y, gen)
    value.backward()
    case = image_case(kind, name, seed, shape, **extra)
    case["x"] = mat(rows(x))
    case["R"] = mat(as_rows(R))
    case["expected"] = {"output": mat(as_rows(y)), "x_grad": mat(rows(x.grad))}
    return case


def zero_pad(x, c_out, stride):
    """He et al.'s option A shortcut."""
    y = x[:, :, ::stride, ::stride]
    return F.pad(y, (0, 0, 0, 0, 0, c_out - x.shape[1]))


def randomize_bn(model, gen):
    """Non-default gamma, beta and running statistics for every BatchNorm2d."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.7 + 0.6 * torch.rand(m.weight.shape, generator=gen))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=gen))
                m.running_mean.copy_(0.5 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))


def buffers(model):
    return {n: mat(b) for n, b in model.named_buffers() if not n.endswith("num_batches_tracked")}


def bn_case(name, seed, shape, momentum, eps, mode):
    gen = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm2d(shape[1], momentum=momentum, eps=eps)
    randomize_bn(bn, gen)
    before = buffers(bn)
    bn.train(mode == "train")
    # Not centred, not unit: the statistics do some work.
    x = (1.5 * torch.randn(shape, generator=gen) + 0.7).requires_grad_()
    y = bn(x)
    value, R = weighted_loss(y, gen)
    value.backward()
    case = image_case("batch_norm", name, seed, shape, momentum=momentum, eps=eps, mode=mode)
    case["params"] = {n: mat(p) for n, p in bn.named_parameters()}
    case["buffers"] = before
    case["x"] = mat(rows(x))
    case["R"] = mat(rows(R))
    case["expected"] = {
        "output": mat(rows(y)),
        "x_grad": mat(rows(x.grad)),
        "grads": {n: mat(p.grad) for n, p in bn.named_parameters()},
        "buffers": buffers(bn),
    }
    return case


# ------------------------------------------------------ blocks and networks


class ZeroPad(nn.Module):
    def __init__(self, c_out, stride):
        super().__init__()
        self.c_out, self.stride = c_out, stride

    def forward(self, x):
        return zero_pad(x, self.c_out, self.stride)


class Residual(nn.Module):
    """y = branch(x) + projection(x) (the identity when None)."""

    def __init__(self, branch, projection):
        super().__init__()
        self.branch = branch
        self.projection = projection

    def forward(self, x):
        skip = x if self.projection is None else self.projection(x)
        return self.branch(x) + skip


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean((2, 3))


def conv_modules(c_in, c_out, stride, norm, act, activation, bias):
    """conv3x3 [BN] [act], as the builder's conv_block."""
    out = [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=bias and norm == "none")]
    if norm == "batch":
        out.append(nn.BatchNorm2d(c_out, momentum=0.1, eps=1e-5))
    if act:
        out.append(ACTIVATIONS[activation]())
    return out


def basic_block(c_in, c_out, stride, residual, shortcut, norm="batch", activation="relu",
                bias=True):
    """The builder's block: a Residual module and the activation, or the
    plain modules flat."""
    a = conv_modules(c_in, c_out, stride, norm, True, activation, bias)
    b = conv_modules(c_out, c_out, 1, norm, False, activation, bias)
    if not residual:
        return a + b + [ACTIVATIONS[activation]()]
    projection = None
    if stride != 1 or c_in != c_out:
        projection = (ZeroPad(c_out, stride) if shortcut == "zeros"
                      else nn.Conv2d(c_in, c_out, 1, stride, 0, bias=False))
    return [Residual(nn.Sequential(*(a + b)), projection), ACTIVATIONS[activation]()]


class Net(nn.Module):
    """Mirror of src/nn/conv/model.rs's build: parameters under `layers.*`."""

    def __init__(self, m, classes):
        super().__init__()
        c_in = m["image"][0]
        ch = m["channels"]
        layers = conv_modules(c_in, ch[0], 1, m["norm"], True, m["activation"], m["bias"])
        c = ch[0]
        for s, width in enumerate(ch):
            for j in range(m["n"]):
                stride = 2 if s > 0 and j == 0 else 1
                layers += basic_block(c, width, stride, m["residual"], m["shortcut"], m["norm"],
                                      m["activation"], m["bias"])
                c = width
        layers += [GlobalAvgPool(), nn.Linear(c, classes, bias=m["bias"])]
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def relu_guard(model):
    """Forward hooks asserting every ReLU input is RELU_MARGIN from 0."""
    def hook(_module, inputs, _output):
        low = inputs[0].detach().abs().min().item()
        assert low > RELU_MARGIN, f"a ReLU input sits {low:.2e} from the kink"
    return [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]


def redraw_biases(model, gen):
    """Conv and linear biases N(0, 0.3): PyTorch's default leaves them small."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=gen))


def block_case(name, seed, shape, c_out, stride, shortcut):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    residual, act = basic_block(shape[1], c_out, stride, True, shortcut)
    block = nn.Sequential(residual, act)
    randomize_bn(block, gen)
    before = {n[2:]: v for n, v in buffers(block).items()}
    hooks = relu_guard(block)
    x = torch.randn(shape, generator=gen).requires_grad_()
    y = block(x)
    value, R = weighted_loss(y, gen)
    value.backward()
    for h in hooks:
        h.remove()
    # Names inside the block: drop the Sequential's leading "0.".
    params = {n[2:]: p for n, p in block.named_parameters()}
    case = image_case("block", name, seed, shape, c_out=c_out, stride=stride,
                      shortcut=shortcut if residual.projection is not None else "identity")
    case["params"] = {n: mat(ours(p)) for n, p in params.items()}
    case["buffers"] = before
    case["x"] = mat(rows(x))
    case["R"] = mat(rows(R))
    case["expected"] = {
        "output": mat(rows(y)),
        "x_grad": mat(rows(x.grad)),
        "grads": {n: mat(ours(p.grad)) for n, p in params.items()},
        "buffers": {n[2:]: v for n, v in buffers(block).items()},
    }
    return case


def net_case(name, seed, model, batch, classes):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = Net(model, classes)
    randomize_bn(net, gen)
    redraw_biases(net, gen)
    before = buffers(net)
    hooks = relu_guard(net)
    c, h, w = model["image"]
    x = torch.randn(batch, c, h, w, generator=gen)
    labels = torch.randint(0, classes, (batch,), generator=gen)
    net.train()
    logits = net(x)
    value = F.cross_entropy(logits, labels)
    value.backward()
    for hk in hooks:
        hk.remove()
    for n, p in net.named_parameters():
        assert p.grad.abs().min() > 0, f"{name}: a zero gradient in {n}"
    return {
        "kind": "net", "name": name, "seed": seed, "batch": batch, "input": model["image"],
        "model": {**model, "classes": classes},
        "params": {n: mat(ours(p)) for n, p in net.named_parameters()},
        "buffers": before,
        "x": mat(data_rows(x)),
        "labels": [int(v) for v in labels],
        "expected": {
            "logits": mat(logits),
            "loss": float(value.detach()),
            "grads": {n: mat(ours(p.grad)) for n, p in net.named_parameters()},
            "buffers": buffers(net),
        },
    }


# ---------------------------------------------------------------- self-check


def np_mat(a):
    return np.array(a["data"], dtype=np.float64).reshape(a["shape"])


def np_out_len(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def np_im2col(x, c_case, k, s, p):
    """Our patch rows from pixel rows: rows (b, oy, ox), columns (ky, kx, c)."""
    n = c_case["batch"]
    c, h, w = c_case["input"]
    img = np.pad(x.reshape(n, h, w, c), ((0, 0), (p, p), (p, p), (0, 0)))
    oh, ow = np_out_len(h, k, s, p), np_out_len(w, k, s, p)
    cols = np.empty((n, oh, ow, k, k, c))
    for ky in range(k):
        for kx in range(k):
            cols[:, :, :, ky, kx, :] = img[:, ky:ky + s * oh:s, kx:kx + s * ow:s, :][:, :oh, :ow]
    return cols.reshape(n * oh * ow, k * k * c)


def np_pool(x, c_case, k, s, p, reduce):
    n = c_case["batch"]
    c, h, w = c_case["input"]
    fill = -np.inf if reduce == "max" else 0.0
    img = np.pad(x.reshape(n, h, w, c), ((0, 0), (p, p), (p, p), (0, 0)), constant_values=fill)
    oh, ow = np_out_len(h, k, s, p), np_out_len(w, k, s, p)
    out = np.empty((n, oh, ow, c))
    for oy in range(oh):
        for ox in range(ow):
            win = img[:, oy * s:oy * s + k, ox * s:ox * s + k, :]
            out[:, oy, ox, :] = win.max((1, 2)) if reduce == "max" else win.sum((1, 2)) / (k * k)
    return out.reshape(-1, c)


def close(got, want, what):
    err = np.max(np.abs(got - want))
    assert err < SELF_CHECK_TOL, f"{what}: numpy differs from PyTorch by {err:.3e}"
    return err


def self_check(cases):
    """The documented layouts reproduce PyTorch's numbers."""
    worst = 0.0
    for c in cases:
        e = c["expected"]
        x = np_mat(c["x"])
        if c["kind"] == "conv2d":
            P = np_im2col(x, c, c["kernel"], c["stride"], c["pad"])
            W = np_mat(c["params"]["weight"])
            y = P @ W.T + (np_mat(c["params"]["bias"]) if c["bias"] else 0.0)
            worst = max(worst, close(y, np_mat(e["output"]), c["name"] + " output"))
            dW = np_mat(c["R"]).T @ P
            worst = max(worst, close(dW, np_mat(e["grads"]["weight"]), c["name"] + " dW"))
        elif c["kind"] in ("max_pool", "avg_pool"):
            reduce = "max" if c["kind"] == "max_pool" else "mean"
            y = np_pool(x, c, c["kernel"], c["stride"], c["pad"], reduce)
            worst = max(worst, close(y, np_mat(e["output"]), c["name"]))
        elif c["kind"] == "global_avg_pool":
            ch, h, w = c["input"]
            y = x.reshape(c["batch"], h * w, ch).mean(1)
            worst = max(worst, close(y, np_mat(e["output"]), c["name"]))
        elif c["kind"] == "zero_pad_shortcut":
            ch, h, w = c["input"]
            s = c["stride"]
            img = x.reshape(c["batch"], h, w, ch)[:, ::s, ::s, :]
            y = np.concatenate([img, np.zeros(img.shape[:3] + (c["c_out"] - ch,))], axis=3)
            worst = max(worst, close(y.reshape(-1, c["c_out"]), np_mat(e["output"]), c["name"]))
    return worst


# -------------------------------------------------------------------- cases


def cases():
    out = [
        conv_case("conv 3x3 s1 p1, 3 -> 4, 6x5, bias", 11, (2, 3, 6, 5), 4, 3, 1, 1, True),
        conv_case("conv 3x3 s1 p1, 3 -> 4, 6x5, no bias", 12, (2, 3, 6, 5), 4, 3, 1, 1, False),
        conv_case("conv 3x3 s2 p1, 3 -> 5, 7x6, no bias", 13, (2, 3, 7, 6), 5, 3, 2, 1, False),
        conv_case("conv 3x3 s2 p1, 1 -> 2, 5x5, bias", 14, (3, 1, 5, 5), 2, 3, 2, 1, True),
        conv_case("conv 1x1 s2 p0 (projection), 4 -> 6, 6x6", 15, (2, 4, 6, 6), 6, 1, 2, 0, False),
        conv_case("conv 1x1 s2 p0, 3 -> 6, 7x5 (odd sides)", 16, (2, 3, 7, 5), 6, 1, 2, 0, False),
        conv_case("conv 5x5 s1 p0, 1 -> 3, 9x8, bias", 17, (2, 1, 9, 8), 3, 5, 1, 0, True),
        conv_case("conv 5x5 s1 p0, 3 -> 2, 6x7, no bias", 18, (1, 3, 6, 7), 2, 5, 1, 0, False),
        conv_case("conv 3x3 s2 p0, 2 -> 3, 7x7, bias", 19, (2, 2, 7, 7), 3, 3, 2, 0, True),
        conv_case("conv 5x5 s2 p2, 3 -> 4, 8x6, bias", 20, (2, 3, 8, 6), 4, 5, 2, 2, True),
    ]
    for i, (k, s, p, shape) in enumerate([(2, 2, 0, (2, 3, 6, 6)), (3, 2, 1, (2, 2, 7, 5)),
                                          (3, 1, 1, (1, 3, 5, 6)), (2, 2, 0, (2, 2, 7, 5))]):
        win = dict(kernel=k, stride=s, pad=p)
        out.append(fixed_layer_case(
            "max_pool", f"max_pool {k}x{k} s{s} p{p}, {shape[1]}x{shape[2]}x{shape[3]}", 30 + i,
            shape, lambda x, k=k, s=s, p=p: nn.MaxPool2d(k, s, p)(x), **win))
        out.append(fixed_layer_case(
            "avg_pool", f"avg_pool {k}x{k} s{s} p{p}, {shape[1]}x{shape[2]}x{shape[3]}", 40 + i,
            shape, lambda x, k=k, s=s, p=p: nn.AvgPool2d(k, s, p)(x), **win))
    out.append(fixed_layer_case("global_avg_pool", "global_avg_pool 3x5x4", 50, (2, 3, 5, 4),
                                lambda x: x.mean((2, 3))))
    out.append(fixed_layer_case("global_avg_pool", "global_avg_pool 4x1x1", 51, (3, 4, 1, 1),
                                lambda x: x.mean((2, 3))))
    for i, (c_out, s, shape) in enumerate([(5, 2, (2, 3, 7, 6)), (4, 1, (2, 2, 4, 5)),
                                           (8, 2, (2, 4, 6, 6)), (3, 2, (1, 3, 5, 5))]):
        out.append(fixed_layer_case(
            "zero_pad_shortcut",
            f"zero_pad_shortcut {shape[1]} -> {c_out}, s{s}, {shape[2]}x{shape[3]}", 60 + i,
            shape, lambda x, c_out=c_out, s=s: zero_pad(x, c_out, s), c_out=c_out, stride=s))
    out += [
        bn_case("batch_norm2d train, momentum 0.1 eps 1e-5", 70, (4, 3, 5, 4), 0.1, 1e-5, "train"),
        bn_case("batch_norm2d train, momentum 0.3 eps 1e-3", 71, (2, 5, 3, 3), 0.3, 1e-3, "train"),
        bn_case("batch_norm2d train, 1x1 images (BatchNorm1d)", 72, (6, 4, 1, 1), 0.1, 1e-5,
                "train"),
        bn_case("batch_norm2d eval", 73, (2, 3, 4, 4), 0.1, 1e-5, "eval"),
        block_case("basic block, identity shortcut, 4 -> 4", 80, (2, 4, 6, 5), 4, 1, "zeros"),
        block_case("basic block, option A (zeros), 3 -> 6, s2", 81, (2, 3, 7, 6), 6, 2, "zeros"),
        block_case("basic block, option B (projection), 3 -> 6, s2", 82, (2, 3, 6, 6), 6, 2,
                   "projection"),
    ]
    base = {"channels": [4, 8], "n": 1, "residual": True, "shortcut": "zeros", "norm": "batch",
            "activation": "relu", "bias": True, "image": [1, 8, 8]}
    out += [
        net_case("resnet [4, 8] n 1, batch norm, zeros shortcut, 1x8x8", 90, base, 4, 3),
        net_case("resnet [4, 8] n 1, batch norm, projection shortcut, 3x8x6", 91,
                 {**base, "shortcut": "projection", "image": [3, 8, 6]}, 3, 4),
        net_case("plain [4, 8] n 1, batch norm, 1x8x8", 92, {**base, "residual": False}, 4, 3),
        net_case("resnet [3, 5] n 2, no norm (conv biases), tanh, 2x6x7", 93,
                 {**base, "channels": [3, 5], "n": 2, "norm": "none", "activation": "tanh",
                  "image": [2, 6, 7]}, 3, 3),
    ]
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    all_cases = cases()
    worst = self_check(all_cases)
    fixture = {"torch": torch.__version__, "description": __doc__.strip(), "cases": all_cases}
    text = json.dumps(fixture, allow_nan=False)
    path = os.path.join(OUT, "conv.json")
    with open(path, "w") as f:
        f.write(text)
        f.write("\n")
    kinds = sorted({c["kind"] for c in all_cases})
    print(f"{path}: {len(all_cases)} cases ({', '.join(kinds)}), {len(text) + 1} bytes, "
          f"numpy self-check worst {worst:.2e}")


if __name__ == "__main__":
    main()
