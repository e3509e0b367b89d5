#!/usr/bin/env python3
"""Reference numbers from PyTorch for tests/torch_reference.rs.

Writes two JSON fixtures, everything in float64 with fixed seeds, floats in
full repr (nothing rounded):

  tests/fixtures/torch/mlp_grads.json
      A list of cases. Each case describes a small MLP in the terms of our
      `MlpConfig` (input, output, widths, activation as our parser spells it,
      norm none/batch/layer, norm_placement before/after, residual_every),
      gives every parameter by our path (`layers.0.weight`, BatchNorm
      gamma/beta as `weight`/`bias`, `layers.i.branch.j.weight`,
      `layers.i.projection.weight`), the BatchNorm buffers to start from,
      the mode (train/eval), the input batch and the targets (class labels
      for cross-entropy, a matrix for MSE), and PyTorch's loss, every
      parameter gradient, and the buffers after the forward pass.

  tests/fixtures/torch/optim.json
      `optimizers`: for SGD (plain, momentum, Nesterov, weight decay),
      Adam (with and without weight decay), AdamW, and two clipping cases
      (clip_grad_norm_, clip_grad_value_), 5 training steps of one small
      tanh MLP on one fixed batch from fixed parameters: the loss, the
      pre-clip gradient norm, and every parameter after each step. The
      optimizer is given as our `OptimizerConfig` JSON.
      `schedules`: learning rates of StepLR / CosineAnnealingLR (and a
      linear warm-up via LinearLR + SequentialLR) next to our `Schedule`.

Every matrix is stored as {"shape": [rows, cols], "data": [row-major]}, with
our shapes: biases and norm parameters are `1 x n`, linear weights
`out x in` (PyTorch's own layout).

The torch model mirrors `MlpConfig::build` in src/nn/mlp.rs exactly: the
first hidden layer is always plain; with `residual_every = k` each later run
of k hidden layers is one `Residual(branch, projection)` module, the
projection a bias-free Linear present only when the block changes width;
the output layer is a Linear.

Rerun (PyTorch is not needed by the tests, only to regenerate):

  /tmp/torch-venv/bin/python scripts/torch_reference.py
"""
import json
import math
import os

import torch
from torch import nn

torch.set_default_dtype(torch.float64)

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "torch")

ACTIVATIONS = {
    "identity": nn.Identity,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu(0.1)": lambda: nn.LeakyReLU(0.1),
    "elu(0.7)": lambda: nn.ELU(0.7),
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "silu": nn.SiLU,
    "softsign": nn.Softsign,
    "softplus": nn.Softplus,
}


class Residual(nn.Module):
    """y = branch(x) + projection(x) (identity when widths agree)."""

    def __init__(self, branch, projection):
        super().__init__()
        self.branch = branch
        self.projection = projection

    def forward(self, x):
        skip = x if self.projection is None else self.projection(x)
        return self.branch(x) + skip


class Mlp(nn.Module):
    """Mirror of MlpConfig::build: parameters under `layers.*`."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        layers = []
        fan_in = cfg["input"]
        widths = cfg["widths"]
        k = cfg["residual_every"]
        i = 0
        while i < len(widths):
            if k == 0 or i == 0:
                w = widths[i]
                layers.append(nn.Linear(fan_in, w))
                layers += self.post_linear(w)
                fan_in = w
                i += 1
                continue
            block_in = fan_in
            end = min(i + k, len(widths))
            branch = []
            for w in widths[i:end]:
                branch.append(nn.Linear(fan_in, w))
                branch += self.post_linear(w)
                fan_in = w
            proj = nn.Linear(block_in, fan_in, bias=False) if block_in != fan_in else None
            layers.append(Residual(nn.Sequential(*branch), proj))
            i = end
        layers.append(nn.Linear(fan_in, cfg["output"]))
        self.layers = nn.Sequential(*layers)

    def post_linear(self, w):
        act = ACTIVATIONS[self.cfg["activation"]]()
        norm = self.cfg["norm"]
        if norm == "none":
            return [act]
        n = nn.BatchNorm1d(w, momentum=0.1, eps=1e-5) if norm == "batch" else nn.LayerNorm(w, eps=1e-5)
        return [n, act] if self.cfg["norm_placement"] == "before" else [act, n]

    def forward(self, x):
        return self.layers(x)


def mat(t):
    """Our matrix form: 1-D tensors become 1 x n."""
    t = t.detach()
    if t.dim() == 1:
        t = t.reshape(1, -1)
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1)]}


def randomize(model, gen):
    """Fixed, non-default values for every parameter (norm gamma near 1)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if isinstance(dict(model.named_modules())[name.rsplit(".", 1)[0]], (nn.BatchNorm1d, nn.LayerNorm)):
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.3 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p.shape[-1] if p.dim() == 2 else p.shape[0]
                p.copy_(torch.randn(p.shape, generator=gen) * (1.5 / math.sqrt(fan_in)))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.5 * torch.randn(b.shape, generator=gen))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=gen))


def buffers(model):
    return {n: mat(b) for n, b in model.named_buffers() if not n.endswith("num_batches_tracked")}


def grad_case(name, seed, activation="tanh", widths=(5, 4), norm="none", placement="before",
              residual_every=0, loss="cross_entropy", mode="train", batch=4, inputs=6, outputs=3):
    gen = torch.Generator().manual_seed(seed)
    cfg = {
        "input": inputs,
        "output": outputs,
        "widths": list(widths),
        "activation": activation,
        "norm": norm,
        "norm_placement": placement,
        "residual_every": residual_every,
    }
    model = Mlp(cfg)
    randomize(model, gen)
    params = {n: mat(p) for n, p in model.named_parameters()}
    bufs_before = buffers(model)
    x = torch.randn(batch, inputs, generator=gen)
    model.train(mode == "train")
    out = model(x)
    case = {"name": name, "model": cfg, "mode": mode, "loss": loss,
            "params": params, "buffers": bufs_before, "input": mat(x)}
    if loss == "cross_entropy":
        labels = torch.randint(0, outputs, (batch,), generator=gen)
        value = nn.functional.cross_entropy(out, labels)
        case["labels"] = [int(v) for v in labels]
    else:
        target = torch.randn(batch, outputs, generator=gen)
        value = nn.functional.mse_loss(out, target)
        case["target"] = mat(target)
    value.backward()
    case["expected"] = {
        "loss": float(value.detach()),
        "grads": {n: mat(p.grad) for n, p in model.named_parameters()},
        "buffers": buffers(model),
    }
    return case


def grad_cases():
    cases = []
    for i, act in enumerate(ACTIVATIONS):
        cases.append(grad_case(f"{act}", 100 + i, activation=act))
    for i, act in enumerate(["sigmoid", "relu"]):
        for j, placement in enumerate(["before", "after"]):
            cases.append(grad_case(f"{act} batch_norm {placement}", 200 + 2 * i + j,
                                   activation=act, norm="batch", placement=placement))
    cases.append(grad_case("tanh batch_norm before, eval mode", 210, activation="tanh",
                           norm="batch", mode="eval"))
    cases.append(grad_case("tanh layer_norm before", 220, activation="tanh", norm="layer"))
    cases.append(grad_case("tanh layer_norm after", 221, activation="tanh", norm="layer",
                           placement="after"))
    cases.append(grad_case("tanh residual_every 2", 230, activation="tanh",
                           widths=(5, 5, 5, 4), residual_every=2))
    cases.append(grad_case("gelu residual_every 2 with layer_norm", 231, activation="gelu",
                           widths=(5, 6, 6, 4, 4), residual_every=2, norm="layer"))
    cases.append(grad_case("relu residual_every 1 with batch_norm", 232, activation="relu",
                           widths=(5, 5, 4), residual_every=1, norm="batch"))
    cases.append(grad_case("tanh mse", 240, activation="tanh", loss="mse"))
    cases.append(grad_case("softplus batch_norm after, mse", 241, activation="softplus",
                           norm="batch", placement="after", loss="mse"))
    return cases


OPTIMIZERS = [
    # (name, our OptimizerConfig, torch factory, lr, clip)
    ("sgd", {"name": "sgd", "momentum": 0.0, "nesterov": False, "weight_decay": 0.0},
     lambda p: torch.optim.SGD(p, lr=0.05), 0.05, None),
    ("sgd momentum 0.9", {"name": "sgd", "momentum": 0.9, "nesterov": False, "weight_decay": 0.0},
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), 0.05, None),
    ("sgd nesterov 0.9", {"name": "sgd", "momentum": 0.9, "nesterov": True, "weight_decay": 0.0},
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True), 0.05, None),
    ("sgd weight_decay 0.1", {"name": "sgd", "momentum": 0.0, "nesterov": False, "weight_decay": 0.1},
     lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.1), 0.05, None),
    ("sgd momentum 0.9 weight_decay 0.1",
     {"name": "sgd", "momentum": 0.9, "nesterov": False, "weight_decay": 0.1},
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.1), 0.05, None),
    ("adam", {"name": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
     lambda p: torch.optim.Adam(p, lr=0.01), 0.01, None),
    ("adam weight_decay 0.1",
     {"name": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1},
     lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1), 0.01, None),
    ("adamw weight_decay 0.1",
     {"name": "adamw", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1},
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1), 0.01, None),
    ("sgd momentum 0.9, clip_grad_norm 0.2",
     {"name": "sgd", "momentum": 0.9, "nesterov": False, "weight_decay": 0.0},
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), 0.05, {"norm": 0.2}),
    ("adam, clip_grad_value 0.05",
     {"name": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
     lambda p: torch.optim.Adam(p, lr=0.01), 0.01, {"value": 0.05}),
]


def optim_cases():
    cfg = {"input": 6, "output": 3, "widths": [5, 4], "activation": "tanh", "norm": "none",
           "norm_placement": "before", "residual_every": 0}
    gen = torch.Generator().manual_seed(7)
    start = Mlp(cfg)
    randomize(start, gen)
    x = torch.randn(8, 6, generator=gen)
    labels = torch.randint(0, 3, (8,), generator=gen)
    cases = []
    for name, ours, make, lr, clip in OPTIMIZERS:
        model = Mlp(cfg)
        model.load_state_dict(start.state_dict())
        opt = make(model.parameters())
        steps = []
        for _ in range(5):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), labels)
            loss.backward()
            step = {"loss": float(loss.detach())}
            if clip and "norm" in clip:
                step["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip["norm"]))
            elif clip and "value" in clip:
                torch.nn.utils.clip_grad_value_(model.parameters(), clip["value"])
            opt.step()
            step["params"] = {n: mat(p) for n, p in model.named_parameters()}
            steps.append(step)
        cases.append({"name": name, "optimizer": ours, "lr": lr, "clip": clip, "steps": steps})
    return {
        "model": cfg,
        "params": {n: mat(p) for n, p in start.named_parameters()},
        "input": mat(x),
        "labels": [int(v) for v in labels],
        "cases": cases,
    }


def lrs(make, lr, steps):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def schedule_cases():
    S = torch.optim.lr_scheduler
    lr = 0.1
    return [
        {"name": "StepLR(step_size=3, gamma=0.5)",
         "schedule": {"name": "step", "every": 3, "gamma": 0.5, "warmup_steps": 0}, "lr": lr,
         "lrs": lrs(lambda o: S.StepLR(o, step_size=3, gamma=0.5), lr, 12)},
        {"name": "CosineAnnealingLR(T_max=10, eta_min=0.001)",
         "schedule": {"name": "cosine", "total_steps": 10, "min_lr": 0.001, "warmup_steps": 0},
         "lr": lr,
         "lrs": lrs(lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001), lr, 11)},
        {"name": "LinearLR(1/4, total_iters=3) then StepLR(step_size=2, gamma=0.5)",
         "schedule": {"name": "step", "every": 2, "gamma": 0.5, "warmup_steps": 4}, "lr": lr,
         "lrs": lrs(lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.25, total_iters=3),
                                                  S.StepLR(o, step_size=2, gamma=0.5)],
                                             milestones=[4]), lr, 10)},
    ]


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    with open(os.path.join(OUT, "mlp_grads.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": grad_cases()}, f)
        f.write("\n")
    with open(os.path.join(OUT, "optim.json"), "w") as f:
        optim = optim_cases()
        json.dump({"torch": torch.__version__, **optim, "schedules": schedule_cases()}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
