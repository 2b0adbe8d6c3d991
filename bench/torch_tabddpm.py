#!/usr/bin/env python3
"""PyTorch TabDDPM on UCI Adult with synthmpi's architecture, for timing one training step.

The same model as synthmpi's tabddpm (configs/adult-tabddpm.yaml at its defaults), written
after the published TabDDPM recipe (Kotelnikov et al. 2023):
- encoding: numeric columns through scikit-learn's QuantileTransformer to normal scores
  (max(min(N / 30, 1000), 10) quantiles), discrete columns as class indices (a missing
  class where the column has missing values);
- denoiser: h = Linear(D, 128)(x_t) + [Linear(128, 128), SiLU, Linear(128, 128)] of the
  sinusoidal embedding of t; then Linear+ReLU layers (256, 512, 512, 256) and Linear(., D);
- Gaussian diffusion of the numeric part (noise prediction, MSE) and multinomial diffusion
  of each discrete column in log space (KL of the posteriors, the decoder NLL at t = 0),
  cosine schedule, T = 100, t uniform;
- AdamW(lr 1e-3, weight_decay 1e-5), batch 1024.

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
import torch.nn.functional as F  # noqa: E402
from sklearn.preprocessing import QuantileTransformer  # noqa: E402
from torch import nn  # noqa: E402

ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
                 "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
                 "hours_per_week", "native_country", "income"]
NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]


def encode(path, seed):
    """Quantile-transformed numeric values and class indices with each column's class count."""
    df = pd.read_csv(path, header=None, names=ADULT_COLUMNS, skipinitialspace=True,
                     na_values=["?"]).dropna(how="all")
    num = df[NUMERIC].to_numpy(dtype=np.float64)
    qt = QuantileTransformer(output_distribution="normal", random_state=seed,
                             n_quantiles=max(min(len(df) // 30, 1000), 10), subsample=10**9)
    num = qt.fit_transform(num).astype(np.float32)
    codes, sizes = [], []
    for col in ADULT_COLUMNS:
        if col in NUMERIC:
            continue
        c, uniques = pd.factorize(df[col])  # missing becomes -1
        has_missing = (c < 0).any()
        c = np.where(c < 0, len(uniques), c)
        codes.append(c)
        sizes.append(len(uniques) + int(has_missing))
    return num, np.stack(codes, axis=1).astype(np.int64), sizes


def timestep_embedding(t, dim, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class Denoiser(nn.Module):
    def __init__(self, width, dim_t, hidden):
        super().__init__()
        self.dim_t = dim_t
        self.proj = nn.Linear(width, dim_t)
        self.time = nn.Sequential(nn.Linear(dim_t, dim_t), nn.SiLU(), nn.Linear(dim_t, dim_t))
        layers, last = [], dim_t
        for h in hidden:
            layers += [nn.Linear(last, h), nn.ReLU()]
            last = h
        self.mlp = nn.Sequential(*layers, nn.Linear(last, width))

    def forward(self, x, t):
        return self.mlp(self.proj(x) + self.time(timestep_embedding(t, self.dim_t)))


def cosine_alpha_bar(T):
    f = [math.cos(((t / T) + 0.008) / 1.008 * math.pi / 2) ** 2 for t in range(T + 1)]
    beta = [min(1 - f[t + 1] / f[t], 0.999) for t in range(T)]
    return torch.tensor(np.cumprod(1 - np.array(beta)), dtype=torch.float64)


def log_mix(log_x0, ab, k):
    """log(ab x0 + (1 - ab) / K), ab broadcast per row."""
    return torch.logaddexp(log_x0 + torch.log(ab), torch.log1p(-ab) - math.log(k))


def posterior(log_x0, xt_onehot, ab_t, ab_s, k):
    """log q(x_s | x_t, x_0) over K classes (ab_s = 1 at the first step)."""
    a = ab_t / ab_s
    from_t = torch.log(xt_onehot * a + (1 - a) / k)
    first = ab_s >= 1
    mixed = torch.where(first, log_x0, log_mix(log_x0, torch.where(first, torch.full_like(ab_s, 0.5), ab_s), k))
    w = from_t + mixed
    return w - torch.logsumexp(w, dim=1, keepdim=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--timesteps", type=int, default=100)
    ap.add_argument("--hidden", default="256,512,512,256")
    ap.add_argument("--dim-t", type=int, default=128)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    num, codes, sizes = encode(args.data, args.seed)
    n, n_num = num.shape
    width = n_num + sum(sizes)
    T = args.timesteps
    alpha_bar = cosine_alpha_bar(T)
    num_all, codes_all = torch.from_numpy(num), torch.from_numpy(codes)
    model = Denoiser(width, args.dim_t, [int(h) for h in args.hidden.split(",")])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-5)

    times, loss_value, perm, pos = [], float("nan"), torch.randperm(n), 0
    for _ in range(args.steps):
        t0 = time.perf_counter()
        if pos + args.batch > n:
            perm, pos = torch.randperm(n), 0
        idx = perm[pos:pos + args.batch]
        pos += args.batch
        b = len(idx)
        t = torch.randint(0, T, (b,))
        ab_t = alpha_bar[t][:, None]
        prev = alpha_bar[(t - 1).clamp(min=0)]
        ab_s = torch.where(t > 0, prev, torch.ones_like(prev))[:, None]

        # noising: Gaussian for numbers, categorical draws for classes
        x0 = num_all[idx]
        eps = torch.randn_like(x0)
        xt_num = (ab_t.sqrt() * x0 + (1 - ab_t).sqrt() * eps).float()
        onehots, xts, x0s = [], [], []
        for j, k in enumerate(sizes):
            c0 = F.one_hot(codes_all[idx, j], k).double()
            probs = ab_t * c0 + (1 - ab_t) / k
            ct = F.one_hot(torch.multinomial(probs, 1)[:, 0], k).double()
            x0s.append(c0)
            xts.append(ct)
            onehots.append(ct.float())
        out = model(torch.cat([xt_num] + onehots, dim=1), t)

        # losses: noise MSE and the mean over columns of the multinomial KL
        loss = ((out[:, :n_num] - eps) ** 2).mean()
        start, kl = n_num, 0.0
        for j, k in enumerate(sizes):
            log_x0_hat = F.log_softmax(out[:, start:start + k].double(), dim=1)
            log_q = posterior(torch.log(x0s[j].clamp(min=1e-300)), xts[j], ab_t, ab_s, k)
            log_p = posterior(log_x0_hat, xts[j], ab_t, ab_s, k)
            kl = kl + (log_q.exp() * (log_q - log_p)).sum(dim=1).mean()
            start += k
        loss = loss + kl / len(sizes)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_value = loss.item()
        times.append(time.perf_counter() - t0)

    print(f"width: {width}")
    print(f"rows: {n}")
    print(f"seconds_per_step: {statistics.median(times[5:] or times):.6f}")
    print(f"final_loss: {loss_value:.4f}")


if __name__ == "__main__":
    main()
