#!/usr/bin/env python3
"""Writes mlp_fixture.safetensors and mlp_fixture_expected.txt for tests/test_checkpoint.c.

Run as:  cd tests/data && python3 make_safetensors_fixture.py   (Python 3.11, standard library
only: struct + json + math; no torch).  The output is deterministic; re-running it must leave
both files byte-identical (git diff shows nothing).

The network is a PyTorch-style 4-5-3 MLP with batch normalization, as
    nn.Sequential-like modules fc1 = Linear(4, 5), bn1 = BatchNorm1d(5), ReLU, fc2 = Linear(5, 3)
saved with PyTorch's state_dict names, including fc1.bias (which valley folds into the running
mean) and bn1.num_batches_tracked (I64, which valley ignores).  Every F32 value is
0.5 sin(k + 1) for its running index k over all F32 values in file order, except the running
variances, 0.5 + 0.4 sin(k + 1)^2 (positive).  bn eps is 1e-5.

The expected logits are the eval-mode forward pass (linear, BN with the running statistics,
ReLU, linear) in float64 from the float32-rounded parameters and inputs.  Beside each logit the
side file gives M = sum_j |W2_ij| H_j + |b2_i| with
H_j = |gamma_j| / sqrt(var_j + eps) * (sum_k |W1_jk x_k| + |b1_j| + |mean_j|) + |beta_j|,
the magnitude the float32 rounding errors scale with; the C test allows 32 u M (u = 2^-24).
"""
import json
import math
import struct

EPS = 1e-5


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


SPEC = [  # name, shape
    ("fc1.weight", [5, 4]),
    ("fc1.bias", [5]),
    ("bn1.weight", [5]),
    ("bn1.bias", [5]),
    ("bn1.running_mean", [5]),
    ("bn1.running_var", [5]),
    ("fc2.weight", [3, 5]),
    ("fc2.bias", [3]),
]
INPUTS = [[0.5, -1.0, 1.5, 2.0], [-0.25, 0.75, -1.25, 0.1]]


def main():
    tensors = {}
    k = 0
    for name, shape in SPEC:
        n = math.prod(shape)
        vals = []
        for _ in range(n):
            s = math.sin(k + 1)
            vals.append(f32(0.5 + 0.4 * s * s) if name.endswith("running_var") else f32(0.5 * s))
            k += 1
        tensors[name] = vals
    W1, b1 = tensors["fc1.weight"], tensors["fc1.bias"]
    g, beta = tensors["bn1.weight"], tensors["bn1.bias"]
    rm, rv = tensors["bn1.running_mean"], tensors["bn1.running_var"]
    W2, b2 = tensors["fc2.weight"], tensors["fc2.bias"]

    rows = []
    for x in INPUTS:
        x = [f32(v) for v in x]
        h, H = [], []
        for j in range(5):
            z = sum(W1[j * 4 + i] * x[i] for i in range(4)) + b1[j]
            inv = 1.0 / math.sqrt(rv[j] + EPS)
            h.append(max(0.0, g[j] * (z - rm[j]) * inv + beta[j]))
            mag = sum(abs(W1[j * 4 + i] * x[i]) for i in range(4)) + abs(b1[j]) + abs(rm[j])
            H.append(abs(g[j]) * inv * mag + abs(beta[j]))
        logits = [sum(W2[c * 5 + j] * h[j] for j in range(5)) + b2[c] for c in range(3)]
        M = [sum(abs(W2[c * 5 + j]) * H[j] for j in range(5)) + abs(b2[c]) for c in range(3)]
        rows.append((x, logits, M))

    header = {
        "__metadata__": {
            "format": "pt",
            "generator": "tests/data/make_safetensors_fixture.py",
            "expected_logits": ";".join(",".join("%.17g" % v for v in r[1]) for r in rows),
        }
    }
    data = b""
    for name, shape in SPEC:
        blob = struct.pack("<%df" % len(tensors[name]), *tensors[name])
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
        if name == "bn1.running_var":
            blob = struct.pack("<q", 1000)
            header["bn1.num_batches_tracked"] = {
                "dtype": "I64", "shape": [], "data_offsets": [len(data), len(data) + 8]}
            data += blob
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open("mlp_fixture.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)
    with open("mlp_fixture_expected.txt", "w") as f:
        f.write("# make_safetensors_fixture.py: per line 4 inputs, 3 expected logits, "
                "3 magnitudes M\n")
        for x, logits, M in rows:
            f.write(" ".join("%.17g" % v for v in x + logits + M) + "\n")


if __name__ == "__main__":
    main()
