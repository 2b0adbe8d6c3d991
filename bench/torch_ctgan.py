#!/usr/bin/env python3
"""PyTorch CTGAN on UCI Adult, built as the CTGAN repository builds it, for timing.

The reference users compare synthmpi's CTGAN with is ctgan.CTGAN (sdv-dev/CTGAN, SDV's
default synthesizer). That package is not a Debian package, so this script rebuilds its
recipe with PyTorch, NumPy, pandas and scikit-learn, sharing the data transformer of
bench/torch_tvae.py (CTGAN's DataTransformer recipe):

- conditional vector over the discrete columns; training-by-sampling: a discrete column
  uniformly, one of its categories by log-frequency, a real row with that category;
- generator: Residual(128 + cond, 256), Residual(384 + cond, 256) (Linear, BatchNorm1d,
  ReLU, output concatenated in front of the input), Linear(640 + cond, width); tanh on
  alpha columns and Gumbel-softmax (tau 0.2) on one-hot spans;
- discriminator over packs of pac = 10 rows: Linear(10 (width + cond), 256), LeakyReLU
  0.2, Dropout 0.5, Linear(256, 256), LeakyReLU 0.2, Dropout 0.5, Linear(256, 1);
- WGAN loss with gradient penalty (lambda 10, one interpolation weight per pack, through
  torch.autograd.grad with create_graph), conditional cross-entropy on the generator;
- Adam(lr 2e-4, betas (0.5, 0.9), weight_decay 1e-6) for both networks, batch 500,
  one discriminator step per generator step, steps per epoch max(rows // batch, 1).

It prints the encoded width, seconds per epoch and per step (medians over the epochs after
the first; wall time, and the process's CPU time per step), and the last epoch's mean
losses, as "key: value" lines that bench/ctgan_epoch.sh reads.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# torch_tvae sets the BLAS thread count from --threads before NumPy and PyTorch load
from torch_tvae import ADULT_COLUMNS, ADULT_DISCRETE, DataTransformer  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional  # noqa: E402


class Residual(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.fc = nn.Linear(i, o)
        self.bn = nn.BatchNorm1d(o)
        self.relu = nn.ReLU()

    def forward(self, x):
        return torch.cat([self.relu(self.bn(self.fc(x))), x], dim=1)


class Generator(nn.Module):
    def __init__(self, embedding_dim, generator_dim, data_dim):
        super().__init__()
        dim, seq = embedding_dim, []
        for item in generator_dim:
            seq.append(Residual(dim, item))
            dim += item
        seq.append(nn.Linear(dim, data_dim))
        self.seq = nn.Sequential(*seq)

    def forward(self, x):
        return self.seq(x)


class Discriminator(nn.Module):
    def __init__(self, input_dim, discriminator_dim, pac):
        super().__init__()
        dim, seq = input_dim * pac, []
        self.pac, self.pacdim = pac, input_dim * pac
        for item in discriminator_dim:
            seq += [nn.Linear(dim, item), nn.LeakyReLU(0.2), nn.Dropout(0.5)]
            dim = item
        seq.append(nn.Linear(dim, 1))
        self.seq = nn.Sequential(*seq)

    def gradient_penalty(self, real, fake, lambda_=10):
        alpha = torch.rand(real.size(0) // self.pac, 1, 1)
        alpha = alpha.repeat(1, self.pac, real.size(1)).view(-1, real.size(1))
        interpolates = alpha * real + (1 - alpha) * fake
        out = self(interpolates)
        grads = torch.autograd.grad(outputs=out, inputs=interpolates,
                                    grad_outputs=torch.ones(out.size()), create_graph=True,
                                    retain_graph=True, only_inputs=True)[0]
        norms = grads.view(-1, self.pac * real.size(1)).norm(2, dim=1) - 1
        return (norms**2).mean() * lambda_

    def forward(self, x):
        return self.seq(x.view(-1, self.pacdim))


class Sampler:
    """Conditional vectors (log-frequency) and real rows with a chosen category."""

    def __init__(self, data, output_info, discrete_spans):
        self.data = data
        self.spans = discrete_spans  # (start in row, width) of each discrete column
        self.cond_dim = sum(w for _, w in discrete_spans)
        self.rows_by_cat, self.probs, self.offsets = [], [], []
        off = 0
        for st, w in discrete_spans:
            codes = np.argmax(data[:, st:st + w], axis=1)
            self.rows_by_cat.append([np.nonzero(codes == k)[0] for k in range(w)])
            freq = np.log(np.bincount(codes, minlength=w) + 1.0)
            self.probs.append(freq / freq.sum())
            self.offsets.append(off)
            off += w

    def condvec(self, batch, rng):
        cols = rng.integers(len(self.spans), size=batch)
        cats = np.array([rng.choice(len(self.probs[c]), p=self.probs[c]) for c in cols])
        vec = np.zeros((batch, self.cond_dim), dtype="float32")
        mask = np.zeros((batch, len(self.spans)), dtype="float32")
        vec[np.arange(batch), [self.offsets[c] + k for c, k in zip(cols, cats)]] = 1
        mask[np.arange(batch), cols] = 1
        return vec, mask, cols, cats

    def real_rows(self, cols, cats, rng):
        idx = [rng.choice(self.rows_by_cat[c][k]) for c, k in zip(cols, cats)]
        return self.data[idx]


def activate(raw, output_info):
    out, st = [], 0
    for kind, w in output_info:
        if kind == "tanh":
            out.append(torch.tanh(raw[:, st:st + w]))
        else:
            out.append(functional.gumbel_softmax(raw[:, st:st + w], tau=0.2))
        st += w
    return torch.cat(out, dim=1)


def cond_loss(raw, vec, mask, sampler):
    losses = []
    for (st, w), off in zip(sampler.spans, sampler.offsets):
        target = torch.argmax(vec[:, off:off + w], dim=1)
        losses.append(functional.cross_entropy(raw[:, st:st + w], target, reduction="none"))
    return (torch.stack(losses, dim=1) * mask).sum() / raw.size(0)


def train(data, output_info, sampler, args):
    """Runs args.epochs epochs; returns (seconds of each epoch, steps, last losses)."""
    rng = np.random.default_rng(args.seed)
    width, cond = data.shape[1], sampler.cond_dim
    gen = Generator(args.embedding_dim + cond, (256, 256), width)
    dis = Discriminator(width + cond, (256, 256), args.pac)
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.9), weight_decay=1e-6)
    opt_d = torch.optim.Adam(dis.parameters(), lr=2e-4, betas=(0.5, 0.9), weight_decay=1e-6)
    b = args.batch_size
    steps = max(len(data) // b, 1)
    times, cpu, last = [], [], (float("nan"),) * 4
    for _ in range(args.epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        sums = np.zeros(4)
        for _ in range(steps):
            # the critic: fake packs, shuffled real packs, the gradient penalty
            vec, mask, cols, cats = sampler.condvec(b, rng)
            z = torch.randn(b, args.embedding_dim)
            c1 = torch.from_numpy(vec)
            perm = rng.permutation(b)
            real = torch.from_numpy(sampler.real_rows(cols[perm], cats[perm], rng))
            c2 = c1[perm]
            fake = activate(gen(torch.cat([z, c1], dim=1)), output_info)
            fake_cat, real_cat = torch.cat([fake, c1], dim=1), torch.cat([real, c2], dim=1)
            y_fake, y_real = dis(fake_cat), dis(real_cat)
            pen = dis.gradient_penalty(real_cat, fake_cat)
            loss_d = -(torch.mean(y_real) - torch.mean(y_fake))
            opt_d.zero_grad(set_to_none=False)
            pen.backward(retain_graph=True)
            loss_d.backward()
            opt_d.step()

            # the generator
            vec, mask, cols, cats = sampler.condvec(b, rng)
            c1, m1 = torch.from_numpy(vec), torch.from_numpy(mask)
            z = torch.randn(b, args.embedding_dim)
            raw = gen(torch.cat([z, c1], dim=1))
            y_fake = dis(torch.cat([activate(raw, output_info), c1], dim=1))
            ce = cond_loss(raw, c1, m1, sampler)
            loss_g = -torch.mean(y_fake) + ce
            opt_g.zero_grad(set_to_none=False)
            loss_g.backward()
            opt_g.step()
            sums += [loss_d.item(), pen.item(), -torch.mean(y_fake).item(), ce.item()]
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        last = tuple(sums / steps)
        if args.verbose:
            print(f"epoch {len(times)}: {times[-1]:.4f} s, critic/penalty/gen/cond "
                  f"{' '.join(f'{v:.4f}' for v in last)}", file=sys.stderr)
    return times, cpu, steps, last


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(here, "..", "data", "tabular", "adult",
                                                   "adult.data"),
                    help="Adult CSV without header (default: data/tabular/adult/adult.data)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--embedding-dim", type=int, default=128)
    ap.add_argument("--pac", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verbose", action="store_true", help="one line per epoch on stderr")
    args = ap.parse_args()
    if args.epochs < 1 or args.threads < 1 or args.batch_size % args.pac:
        ap.error("--epochs and --threads at least 1, --batch-size a multiple of --pac")
    if not os.path.isfile(args.data):
        ap.error(f"no Adult data at {args.data} (run scripts/get-data.sh --only adult)")

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    # read, encode, and the discrete columns' spans
    t0 = time.perf_counter()
    df = pd.read_csv(args.data, header=None, names=ADULT_COLUMNS, skipinitialspace=True)
    df = df.dropna(how="all")
    transformer = DataTransformer().fit(df, ADULT_DISCRETE, args.seed)
    data = transformer.transform(df, rng)
    spans, st, info = [], 0, iter(transformer.output_info)
    for _, kind, _ in transformer.columns:
        if kind == "discrete":
            w = next(info)[1]
            spans.append((st, w))
            st += w
        else:
            st += next(info)[1] + next(info)[1]
    sampler = Sampler(data, transformer.output_info, spans)
    encode_s = time.perf_counter() - t0

    # train and report
    times, cpu, steps, last = train(data, transformer.output_info, sampler, args)
    per_epoch = statistics.median(times[1:]) if len(times) > 1 else times[0]
    cpu_epoch = statistics.median(cpu[1:]) if len(cpu) > 1 else cpu[0]
    print(f"torch: {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"rows: {data.shape[0]}")
    print(f"width: {data.shape[1]}")
    print(f"cond: {sampler.cond_dim}")
    print(f"encode_seconds: {encode_s:.3f}")
    print(f"epochs: {args.epochs}")
    print(f"steps_per_epoch: {steps}")
    print(f"first_epoch_seconds: {times[0]:.4f}")
    print(f"seconds_per_epoch: {per_epoch:.4f}")
    print(f"seconds_per_step: {per_epoch / steps:.6f}")
    print(f"cpu_seconds_per_step: {cpu_epoch / steps:.6f}")
    print(f"final_losses: {' '.join(f'{v:.4f}' for v in last)}")


if __name__ == "__main__":
    main()
