#!/usr/bin/env python3
"""PyTorch TVAE on UCI Adult, built as the CTGAN repository builds it, for timing.

The reference users compare synthmpi's TVAE with is ctgan.TVAE (sdv-dev/CTGAN). That
package and its transformer package (rdt) are not Debian packages, so this script
rebuilds both from their published recipe with only PyTorch, NumPy, pandas and
scikit-learn:

- encoding (CTGAN's DataTransformer with rdt's ClusterBasedNormalizer): each continuous
  column gets a Bayesian Gaussian mixture (10 components, Dirichlet-process prior with
  concentration 0.001); components with weight > 0.005 are kept; a value is encoded as
  alpha = (x - mean_k) / (4 std_k), clipped to [-0.99, 0.99], for one component k drawn
  from its posterior probabilities (+1e-6, renormalised), followed by the one-hot of k.
  Categorical columns are one-hot. Adult's "?" is a category of its own, as in CTGAN's
  demo data.
- model: encoder Linear(width,128)+ReLU, Linear(128,128)+ReLU, then mu and logvar heads
  Linear(128,128) each; decoder Linear(128,128)+ReLU, Linear(128,128)+ReLU,
  Linear(128,width) and a learned per-column sigma (initialised 0.1, clamped to
  [0.01, 1] after each step).
- loss: per alpha column sum (x - tanh(rec))^2 / (2 sigma^2) + rows * log sigma; per
  one-hot span the summed cross-entropy; times loss_factor 2 over rows, plus the KL term
  over rows.
- training: Adam(lr 1e-3, weight_decay 1e-5), batch 500, a DataLoader over a
  TensorDataset with shuffle=True and drop_last=False (so a new permutation each epoch
  and a last short batch), one .item() of the loss per step, as ctgan.TVAE.fit does.

It prints the encoded width, seconds per epoch (median of the epochs after the first;
the first includes one-time warm-up), and the final epoch's mean loss, as
"key: value" lines that bench/tvae_epoch.sh reads.
"""

import argparse
import os
import statistics
import sys
import time
import warnings


def threads_from_argv(argv):
    """The --threads value, read before NumPy and PyTorch load their BLAS."""
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


# PyTorch here multiplies through OpenBLAS (Debian's build), whose thread count is fixed
# when the library loads: give it, and OpenMP, the --threads count
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = threads_from_argv(sys.argv)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from sklearn.mixture import BayesianGaussianMixture  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.functional import cross_entropy  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
    "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
    "hours_per_week", "native_country", "income",
]
ADULT_DISCRETE = [
    "workclass", "education", "marital_status", "occupation", "relationship", "race",
    "sex", "native_country", "income",
]


# ---- encoding: CTGAN's DataTransformer recipe -------------------------------------------


class ModeNormalizer:
    """One continuous column: alpha plus one-hot of a sampled mixture component."""

    STD_MULTIPLIER = 4

    def __init__(self, max_clusters=10, weight_threshold=0.005, seed=None):
        self.max_clusters = max_clusters
        self.weight_threshold = weight_threshold
        self.seed = seed

    def fit(self, x):
        self.bgm = BayesianGaussianMixture(
            n_components=min(len(x), self.max_clusters),
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=0.001,
            random_state=self.seed,
        )
        # rdt silences the mixture's convergence warnings the same way
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore")
            self.bgm.fit(x.reshape(-1, 1))
        self.valid = self.bgm.weights_ > self.weight_threshold
        self.modes = int(self.valid.sum())
        return self

    def transform(self, x, rng):
        # alpha against every kept component
        x = x.reshape(-1, 1)
        means = self.bgm.means_.reshape(1, -1)[:, self.valid]
        stds = np.sqrt(self.bgm.covariances_).reshape(1, -1)[:, self.valid]
        alpha = (x - means) / (self.STD_MULTIPLIER * stds)

        # one component per row drawn from its posterior (+1e-6, renormalised), as rdt does
        # row by row; here by inverse CDF on all rows at once (the same distribution)
        probs = self.bgm.predict_proba(x)[:, self.valid] + 1e-6
        probs /= probs.sum(axis=1, keepdims=True)
        u = rng.random((len(x), 1))
        chosen = (probs.cumsum(axis=1) < u).sum(axis=1)
        chosen = np.minimum(chosen, self.modes - 1)

        # alpha of the chosen component, clipped, then its one-hot
        rows = np.arange(len(x))
        out = np.zeros((len(x), 1 + self.modes))
        out[:, 0] = np.clip(alpha[rows, chosen], -0.99, 0.99)
        out[rows, 1 + chosen] = 1.0
        return out


class DataTransformer:
    """Columns in order; output_info lists spans as ("tanh", 1) or ("softmax", width)."""

    def fit(self, df, discrete, seed):
        self.columns = []
        self.output_info = []
        for name in df.columns:
            if name in discrete:
                cats = sorted(df[name].astype(str).unique())
                self.columns.append((name, "discrete", cats))
                self.output_info.append(("softmax", len(cats)))
            else:
                norm = ModeNormalizer(seed=seed).fit(df[name].to_numpy(dtype=float))
                self.columns.append((name, "continuous", norm))
                self.output_info += [("tanh", 1), ("softmax", norm.modes)]
        self.width = sum(w for _, w in self.output_info)
        return self

    def transform(self, df, rng):
        parts = []
        for name, kind, t in self.columns:
            if kind == "discrete":
                codes = pd.Categorical(df[name].astype(str), categories=t).codes
                onehot = np.zeros((len(df), len(t)))
                onehot[np.arange(len(df)), codes] = 1.0
                parts.append(onehot)
            else:
                parts.append(t.transform(df[name].to_numpy(dtype=float), rng))
        return np.concatenate(parts, axis=1).astype("float32")


# ---- model: ctgan.synthesizers.tvae ------------------------------------------------------


class Encoder(nn.Module):
    def __init__(self, data_dim, compress_dims, embedding_dim):
        super().__init__()
        seq, dim = [], data_dim
        for item in compress_dims:
            seq += [nn.Linear(dim, item), nn.ReLU()]
            dim = item
        self.seq = nn.Sequential(*seq)
        self.fc1 = nn.Linear(dim, embedding_dim)
        self.fc2 = nn.Linear(dim, embedding_dim)

    def forward(self, x):
        feature = self.seq(x)
        mu = self.fc1(feature)
        logvar = self.fc2(feature)
        std = torch.exp(0.5 * logvar)
        return mu, std, logvar


class Decoder(nn.Module):
    def __init__(self, embedding_dim, decompress_dims, data_dim):
        super().__init__()
        seq, dim = [], embedding_dim
        for item in decompress_dims:
            seq += [nn.Linear(dim, item), nn.ReLU()]
            dim = item
        seq.append(nn.Linear(dim, data_dim))
        self.seq = nn.Sequential(*seq)
        self.sigma = nn.Parameter(torch.ones(data_dim) * 0.1)

    def forward(self, z):
        return self.seq(z), self.sigma


def loss_function(recon, x, sigmas, mu, logvar, output_info, factor):
    """ctgan's _loss_function: (reconstruction * factor / rows, KL / rows)."""
    st, terms = 0, []
    for kind, width in output_info:
        ed = st + width
        if kind == "tanh":
            std = sigmas[st]
            eq = x[:, st] - torch.tanh(recon[:, st])
            terms.append((eq**2 / 2 / (std**2)).sum())
            terms.append(torch.log(std) * x.size()[0])
        else:
            terms.append(cross_entropy(recon[:, st:ed], torch.argmax(x[:, st:ed], dim=-1),
                                       reduction="sum"))
        st = ed
    assert st == recon.size()[1]
    kld = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp())
    return sum(terms) * factor / x.size()[0], kld / x.size()[0]


def train(data, output_info, args):
    """Runs args.epochs epochs; returns (seconds of each epoch, mean loss of the last)."""
    width = data.shape[1]
    loader = DataLoader(TensorDataset(torch.from_numpy(data)), batch_size=args.batch_size,
                        shuffle=True, drop_last=False)
    encoder = Encoder(width, (128, 128), args.embedding_dim)
    decoder = Decoder(args.embedding_dim, (128, 128), width)
    opt = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()),
                           lr=1e-3, weight_decay=1e-5)

    times, last_loss = [], float("nan")
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        losses = []
        for batch in loader:
            opt.zero_grad()
            real = batch[0]
            mu, std, logvar = encoder(real)
            emb = torch.randn_like(std) * std + mu
            rec, sigmas = decoder(emb)
            loss_1, loss_2 = loss_function(rec, real, sigmas, mu, logvar, output_info,
                                           args.loss_factor)
            loss = loss_1 + loss_2
            loss.backward()
            opt.step()
            decoder.sigma.data.clamp_(0.01, 1.0)
            losses.append(loss.detach().cpu().item())
        times.append(time.perf_counter() - t0)
        last_loss = sum(losses) / len(losses)
        if args.verbose:
            print(f"epoch {len(times)}: {times[-1]:.4f} s, loss {last_loss:.4f}",
                  file=sys.stderr)
    return times, last_loss


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(here, "..", "data", "tabular", "adult",
                                                   "adult.data"),
                    help="Adult CSV without header (default: data/tabular/adult/adult.data)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--embedding-dim", type=int, default=128)
    ap.add_argument("--loss-factor", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verbose", action="store_true", help="one line per epoch on stderr")
    args = ap.parse_args()
    if args.epochs < 1 or args.threads < 1:
        ap.error("--epochs and --threads must be at least 1")
    if not os.path.isfile(args.data):
        ap.error(f"no Adult data at {args.data} (run scripts/get-data.sh --only adult)")

    # threads first: intra-op for the GEMMs, inter-op kept at 1 like a plain script
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    # read and encode
    t0 = time.perf_counter()
    df = pd.read_csv(args.data, header=None, names=ADULT_COLUMNS, skipinitialspace=True)
    df = df.dropna(how="all")
    transformer = DataTransformer().fit(df, ADULT_DISCRETE, args.seed)
    data = transformer.transform(df, rng)
    encode_s = time.perf_counter() - t0

    # train and report
    times, loss = train(data, transformer.output_info, args)
    per_epoch = statistics.median(times[1:]) if len(times) > 1 else times[0]
    print(f"torch: {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"rows: {data.shape[0]}")
    print(f"width: {data.shape[1]}")
    print(f"modes: {' '.join(str(t.modes) for _, k, t in transformer.columns if k != 'discrete')}")
    print(f"encode_seconds: {encode_s:.3f}")
    print(f"epochs: {args.epochs}")
    print(f"first_epoch_seconds: {times[0]:.4f}")
    print(f"seconds_per_epoch: {per_epoch:.4f}")
    print(f"final_loss: {loss:.4f}")


if __name__ == "__main__":
    main()
