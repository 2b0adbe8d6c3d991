#!/usr/bin/env python3
"""PyTorch hap_vae on the 805-SNP haplotypes, the same network as synthmpi's, for timing.

- input: the 0/1 alleles of each haplotype (a .hapt file: tag, id, one allele per
  variant); --rows N trains on the first N rows, so that an epoch covers as many rows as
  synthmpi's, which holds out a share of persons (the timing needs no real split);
- model: encoder Linear(V, h1) + LeakyReLU(0.2), Linear(h1, h2) + LeakyReLU(0.2), then mu
  and logvar heads Linear(h2, latent); decoder Linear(latent, h2) + LeakyReLU(0.2),
  Linear(h2, h1) + LeakyReLU(0.2), Linear(h1, V) logits; PyTorch's default
  initialisation (synthmpi's is the same recipe);
- loss: binary cross-entropy with logits summed over variants, plus beta times the KL
  divergence to N(0, I), both summed over rows and divided by the batch size;
- training: Adam(lr), a DataLoader over a TensorDataset with shuffle=True and
  drop_last=False, one .item() of the loss per step.

It prints seconds per epoch (median of the epochs after the first; the first includes
one-time warm-up) and the final epoch's mean losses as "key: value" lines that
bench/hap_vae.sh reads.
"""

import argparse
import os
import statistics
import sys
import time


def threads_from_argv(argv):
    """--threads before torch is imported, so that every thread pool starts that size."""
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


_threads = threads_from_argv(sys.argv)
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = _threads

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402


def read_hapt(path):
    """Rows of 0/1 alleles (the first two fields of each line are the tag and the id)."""
    rows = []
    with open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2:
                rows.append([float(a) for a in fields[2:]])
    return torch.tensor(rows, dtype=torch.float32)


class HapVae(nn.Module):
    def __init__(self, width, hidden, latent):
        super().__init__()
        enc, d = [], width
        for h in hidden:
            enc += [nn.Linear(d, h), nn.LeakyReLU(0.2)]
            d = h
        self.encoder = nn.Sequential(*enc)
        self.mu = nn.Linear(d, latent)
        self.logvar = nn.Linear(d, latent)
        dec, d = [], latent
        for h in reversed(hidden):
            dec += [nn.Linear(d, h), nn.LeakyReLU(0.2)]
            d = h
        dec.append(nn.Linear(d, width))
        self.decoder = nn.Sequential(*dec)

    def forward(self, x):
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decoder(z), mu, logvar


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hapt", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--hidden", default="256,128")
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rows", type=int, default=0, help="rows to train on (0: all)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    x = read_hapt(args.hapt)
    if args.rows > 0:
        x = x[:args.rows]
    hidden = [int(h) for h in args.hidden.split(",") if h.strip()]
    model = HapVae(x.shape[1], hidden, args.latent)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x), batch_size=args.batch, shuffle=True, drop_last=False)

    times, rec_mean, kl_mean = [], 0.0, 0.0
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        rec_sum = kl_sum = 0.0
        for (batch,) in loader:
            logits, mu, logvar = model(batch)
            rec = F.binary_cross_entropy_with_logits(logits, batch, reduction="sum")
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = (rec + args.beta * kl) / batch.shape[0]
            opt.zero_grad()
            loss.backward()
            opt.step()
            rec_sum += rec.item()
            kl_sum += kl.item()
        times.append(time.perf_counter() - t0)
        rec_mean, kl_mean = rec_sum / x.shape[0], kl_sum / x.shape[0]

    per_epoch = statistics.median(times[1:]) if len(times) > 1 else times[0]
    print(f"rows: {x.shape[0]}")
    print(f"variants: {x.shape[1]}")
    print(f"threads: {args.threads}")
    print(f"seconds_per_epoch: {per_epoch:.6f}")
    print(f"final_rec: {rec_mean:.4f}")
    print(f"final_kl: {kl_mean:.4f}")


if __name__ == "__main__":
    main()
