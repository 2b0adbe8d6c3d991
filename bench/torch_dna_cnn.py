#!/usr/bin/env python3
"""PyTorch baseline of synthmpi's dna_cnn on lambda phage, for timing and bits per base.

The same network as model.kind dna_cnn: the input at step t is the one-hot code of base
t - 1 (zeros at t = 0); a causal Conv1d(4, C, kernel K) (left padding only), then
`blocks` residual blocks h = h + Conv1d_1x1(relu(causal Conv1d(C, C, K, dilation 2^l)(h))),
a final relu and Conv1d_1x1(C, 4) to logits; cross-entropy of every base; each window's
loss is its mean over bases, a batch's the mean over its windows. PyTorch's default
initialisation, Adam (lr, betas 0.9/0.999, eps 1e-8).

Data as configs/dna-lambda-cnn.yaml cuts it: the first 90 % of the record is cut into
1,000-base windows for training (a shorter last piece is dropped), the last 10 % into
1,000-base windows held out. Each epoch draws a random permutation of the windows and
takes batches of `batch` windows (the last one short).

Prints "key: value" lines read by bench/dna_cnn.sh: parameters, seconds_per_step (median
of the steps after the first epoch), final_train_bits and holdout_bits (bits per base).
"""

import argparse
import math
import os
import statistics
import sys
import time


def threads_from_argv(argv):
    """The --threads value, read before PyTorch loads its BLAS."""
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = threads_from_argv(sys.argv)

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

CODES = {"A": 0, "C": 1, "G": 2, "T": 3}


def read_fasta(path):
    """The first record's letters, upper case, as base codes (other letters dropped)."""
    seq = []
    with open(path) as f:
        for line in f:
            if line.startswith(">"):
                if seq:
                    break
                continue
            seq.extend(CODES[c] for c in line.strip().upper() if c in CODES)
    return seq


def windows(codes, width):
    return [codes[i:i + width] for i in range(0, len(codes) - width + 1, width)]


class CausalConv(nn.Module):
    def __init__(self, cin, cout, kernel, dilation):
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv = nn.Conv1d(cin, cout, kernel, dilation=dilation)

    def forward(self, x):
        return self.conv(F.pad(x, (self.pad, 0)))


class DnaCnn(nn.Module):
    def __init__(self, channels, blocks, kernel):
        super().__init__()
        self.input = CausalConv(4, channels, kernel, 1)
        self.convs = nn.ModuleList(
            CausalConv(channels, channels, kernel, 2 ** l) for l in range(blocks))
        self.mixes = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in range(blocks))
        self.head = nn.Conv1d(channels, 4, 1)

    def forward(self, x):
        h = self.input(x)
        for conv, mix in zip(self.convs, self.mixes):
            h = h + mix(torch.relu(conv(h)))
        return self.head(torch.relu(h))


def one_hot_previous(batch):
    """(B, T) codes to (B, 4, T) one-hot of the previous base, zeros at t = 0."""
    x = torch.zeros(batch.shape[0], 4, batch.shape[1])
    x[:, :, 1:] = F.one_hot(batch[:, :-1], 4).permute(0, 2, 1).float()
    return x


def bits_per_base(model, data):
    with torch.no_grad():
        nats = F.cross_entropy(model(one_hot_previous(data)), data, reduction="sum").item()
    return nats / data.numel() / math.log(2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--blocks", type=int, default=7)
    ap.add_argument("--kernel", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--window", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    codes = read_fasta(a.data)
    cut = len(codes) - int(0.1 * len(codes) + 0.5)  # the reader's tail split
    train = torch.tensor(windows(codes[:cut], a.window), dtype=torch.long)
    holdout = torch.tensor(windows(codes[cut:], a.window), dtype=torch.long)
    model = DnaCnn(a.channels, a.blocks, a.kernel)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)

    step_seconds, last_bits = [], float("nan")
    for epoch in range(a.epochs):
        order = torch.randperm(len(train))
        total = 0.0
        for lo in range(0, len(train), a.batch):
            batch = train[order[lo:lo + a.batch]]
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = F.cross_entropy(model(one_hot_previous(batch)), batch)
            loss.backward()
            opt.step()
            value = loss.item()
            if epoch > 0:
                step_seconds.append(time.perf_counter() - t0)
            total += value * len(batch)
        last_bits = total / len(train) / math.log(2)

    print(f"parameters: {sum(p.numel() for p in model.parameters())}")
    print(f"training_windows: {len(train)}")
    print(f"seconds_per_step: {statistics.median(step_seconds) if step_seconds else float('nan')}")
    print(f"final_train_bits: {last_bits}")
    print(f"holdout_bits: {bits_per_base(model, holdout) if len(holdout) else float('nan')}")


if __name__ == "__main__":
    main()
