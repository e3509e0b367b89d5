#!/usr/bin/env python3
"""Weights written by PyTorch for `gradscope train --init-from`, and
PyTorch's loss with them, for tests/checkpoint.rs.

Writes two fixtures:

  tests/fixtures/torch/init_mlp.safetensors
      The parameters of the default MLP (`[model]` defaults: depth 3,
      ReLU, biases; MNIST's 784 inputs and 10 classes) at width 16 to keep
      the file small, as `nn.Sequential(Linear, ReLU, Linear, ReLU, Linear,
      ReLU, Linear)` names them: `layers.0.weight` [16, 784], `layers.0.bias`
      [16], ..., `layers.6.weight` [10, 16]; gradscope's parameter paths are
      the same (a Dense block numbers its linear layer and activation as two
      modules). PyTorch's default init, seed 0, float32.

  tests/fixtures/torch/init_mlp.json
      `spec`: the gradscope spec these weights fit; `x` and `y`: a batch of
      4 inputs (x[i][j] = ((31 i + 7 j) mod 97) / 97, row-major) and labels;
      `loss`: PyTorch's mean cross-entropy of the net on that batch
      (float32 forward, as gradscope trains).

Rerun (PyTorch and safetensors are needed only to regenerate):

  /path/to/venv/bin/python scripts/torch_init_from.py
"""

import json
import os

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "torch")

WIDTH, DEPTH, INPUTS, CLASSES = 16, 3, 784, 10
SPEC = 'steps = 2\n[data]\nname = "mnist"\n[model]\nwidth = 16\n'


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        mods, width_in = [], INPUTS
        for _ in range(DEPTH):
            mods += [torch.nn.Linear(width_in, WIDTH), torch.nn.ReLU()]
            width_in = WIDTH
        mods.append(torch.nn.Linear(width_in, CLASSES))
        self.layers = torch.nn.Sequential(*mods)

    def forward(self, x):
        return self.layers(x)


def main():
    torch.manual_seed(0)
    net = Net()
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, os.path.join(OUT, "init_mlp.safetensors"))
    x = torch.tensor(
        [[((31 * i + 7 * j) % 97) / 97.0 for j in range(INPUTS)] for i in range(4)],
        dtype=torch.float32,
    )
    y = [3, 0, 9, 4]
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(net(x), torch.tensor(y))
    with open(os.path.join(OUT, "init_mlp.json"), "w") as f:
        json.dump({"spec": SPEC, "y": y, "loss": float(loss)}, f, indent=1)
        f.write("\n")
    print(sorted(state), float(loss))


if __name__ == "__main__":
    main()
