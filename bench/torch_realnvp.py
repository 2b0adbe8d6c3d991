#!/usr/bin/env python3
"""PyTorch RealNVP on UCI Adult with synthmpi's architecture, for timing one training step.

The same model as synthmpi's realnvp (configs/adult-realnvp.yaml at its defaults):
- encoding: numeric columns standardised, discrete columns one-hot (a missing slot where
  the column has missing values, as synthmpi does for Adult's "?");
- dequantisation every step: one-hot entries b -> b + u - 1/2, integer columns moved by
  (u - 1/2) / std, u ~ U(0, 1);
- K affine couplings (default 6) with alternating even/odd masks; each coupling's MLP is
  Linear(D, 256) + ReLU, Linear(256, 256) + ReLU, Linear(256, 2 D), the last layer zero at
  the start; s = tanh(first half), t = second half; y = x exp(s) + t on the masked-out
  dimensions;
- loss: mean over the batch of 0.5 |z|^2 + (D / 2) log 2 pi - log |det|;
- Adam(lr 1e-3, weight_decay 1e-5), batch 500, rows drawn by a fresh permutation each epoch.

Prints "key: value" lines: width, rows, seconds_per_step (median of the steps after the
first 5), final_loss.
"""

import argparse
import math
import os
import statistics
import sys
import time


def threads_from_argv(argv):
    """The --threads value, read before NumPy and PyTorch load their BLAS."""
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = threads_from_argv(sys.argv)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
                 "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
                 "hours_per_week", "native_country", "income"]
NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]


def encode(path):
    """Standardised numeric columns, then one-hot blocks; returns (data, integer std list)."""
    df = pd.read_csv(path, header=None, names=ADULT_COLUMNS, skipinitialspace=True,
                     na_values=["?"]).dropna(how="all")
    num = df[NUMERIC].to_numpy(dtype=np.float64)
    mean, std = num.mean(axis=0), num.std(axis=0)
    parts = [(num - mean) / std]
    for col in ADULT_COLUMNS:
        if col in NUMERIC:
            continue
        parts.append(pd.get_dummies(df[col], dummy_na=bool(df[col].isna().any()))
                     .to_numpy(dtype=np.float64))
    return np.concatenate(parts, axis=1).astype(np.float32), std.astype(np.float32)


class Coupling(nn.Module):
    def __init__(self, width, hidden, parity):
        super().__init__()
        layers, last = [], width
        for h in hidden:
            layers += [nn.Linear(last, h), nn.ReLU()]
            last = h
        out = nn.Linear(last, 2 * width)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        self.net = nn.Sequential(*layers, out)
        mask = (torch.arange(width) + parity) % 2 == 0
        self.register_buffer("keep", mask.float())

    def forward(self, x):
        st = self.net(x * self.keep)
        s, t = st.chunk(2, dim=1)
        s = torch.tanh(s) * (1 - self.keep)
        t = t * (1 - self.keep)
        return x * torch.exp(s) + t, s.sum(dim=1)


class RealNVP(nn.Module):
    def __init__(self, width, couplings, hidden):
        super().__init__()
        self.layers = nn.ModuleList(Coupling(width, hidden, l % 2) for l in range(couplings))

    def nll(self, x):
        logdet = torch.zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        d = x.shape[1]
        return (0.5 * (x * x).sum(dim=1) + 0.5 * d * math.log(2 * math.pi) - logdet).mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--couplings", type=int, default=6)
    ap.add_argument("--hidden", default="256,256")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    data, std = encode(args.data)
    n, width = data.shape
    integer = torch.zeros(width)
    integer[[0, 1, 2, 3, 4, 5]] = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) / torch.tensor(std)
    onehot = torch.zeros(width)
    onehot[len(NUMERIC):] = 1.0
    x_all = torch.from_numpy(data)
    model = RealNVP(width, args.couplings, [int(h) for h in args.hidden.split(",")])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)

    times, loss, perm, pos = [], float("nan"), torch.randperm(n), 0
    for _ in range(args.steps):
        t0 = time.perf_counter()
        if pos + args.batch > n:
            perm, pos = torch.randperm(n), 0
        x = x_all[perm[pos:pos + args.batch]]
        pos += args.batch
        u = torch.rand_like(x) - 0.5
        x = x + u * (onehot + integer)
        nll = model.nll(x)
        opt.zero_grad()
        nll.backward()
        opt.step()
        loss = nll.item()
        times.append(time.perf_counter() - t0)

    print(f"width: {width}")
    print(f"rows: {n}")
    print(f"seconds_per_step: {statistics.median(times[5:] or times):.6f}")
    print(f"final_loss: {loss:.4f}")


if __name__ == "__main__":
    main()
