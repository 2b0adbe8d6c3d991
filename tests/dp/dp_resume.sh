#!/usr/bin/env bash
# Pre-emption of a private fit: SIGUSR1 in the middle of a DP-SGD TVAE fit writes a
# checkpoint whose ledger counts the steps taken so far; `fit --resume` continues that
# ledger, so the finished model's dp-sgd entry (sample rate, noise multiplier, steps,
# epsilon) equals the one of an uninterrupted fit and epsilon stays within the budget.
# The run is in reproducible mode, where the Poisson sampling and the noise of a step are
# keyed by the global step (not drawn fresh), so the resumed model also gives the same
# release as the uninterrupted one; outside that mode the noise after a resume is fresh and
# only the ledgers can be compared.
. "$(dirname "$0")/../cli/lib.sh"

exp="$SYNTHMPI_SOURCE_DIR/configs/adult-tvae-dp.yaml"
small=(--set "data.path=$adult_data" --set "holdout.path=$adult_test"
       --set model.epochs=30 --set model.batch_size=1000 --set model.embedding_dim=8
       --set model.compress_dims=16
       --set model.decompress_dims=16 --set privacy.reproducible=true
       --set evaluation.enabled=false --set sampling.rows=1000)

# ledger FILE: the privacy ledger (JSON) of a model, release or checkpoint file
ledger() {
  h5dump -y -a /privacy_ledger "$1" 2>/dev/null |
    python3 -c 'import sys; t = sys.stdin.read(); print(t[t.index("{\""):t.rindex("}\"") + 1])'
}

# the reference: one uninterrupted fit and its release; then a fit stopped by SIGUSR1
fit_reference "$exp" "$work/straight" "${small[@]}"
fit_stopped "$exp" "$work/stopped" "${small[@]}"
ledger "$work/stopped/checkpoint.h5" >"$work/partial.json" ||
  fail "stopped fit: no privacy ledger in the checkpoint"

# resume to the end, then the same release
run_np 2 fit "$exp" "${small[@]}" --set "runtime.output_dir=$work/stopped" --resume
[ "$rc" -eq 0 ] || fail "resumed fit: exit code $rc"
run_np 2 sample "$exp" "${small[@]}" --set "runtime.output_dir=$work/stopped"
[ "$rc" -eq 0 ] || fail "sample from the resumed fit: exit code $rc"
ledger "$work/straight/model.h5" >"$work/straight.json" || fail "uninterrupted: no ledger"
ledger "$work/stopped/model.h5" >"$work/resumed.json" || fail "resumed: no ledger"

# the ledgers: the partial one counts fewer steps; the resumed one equals the reference
if python3 - "$work/straight.json" "$work/resumed.json" "$work/partial.json" <<'PY'; then
import json, sys
straight, resumed, partial = (json.load(open(p)) for p in sys.argv[1:4])
def dpsgd(l):
    e = [m for m in l["mechanisms"] if m["mechanism"] == "dp-sgd"]
    assert len(e) == 1, "want one dp-sgd entry, found %d" % len(e)
    return e[0]
s, r, p = dpsgd(straight), dpsgd(resumed), dpsgd(partial)
bad = []
for k in ("sample_rate", "noise_multiplier", "steps", "epsilon", "delta", "accountant", "note"):
    print("%-16s uninterrupted %-22r resumed %-22r checkpoint %r" % (k, s[k], r[k], p[k]))
    if s[k] != r[k]:
        bad.append("%s: %r != %r" % (k, r[k], s[k]))
if resumed["epsilon_spent"] != straight["epsilon_spent"]:
    bad.append("epsilon_spent %r != %r" % (resumed["epsilon_spent"], straight["epsilon_spent"]))
if not r["epsilon"] <= resumed["epsilon_budget"]:
    bad.append("epsilon %r over the budget %r" % (r["epsilon"], resumed["epsilon_budget"]))
if s["steps"] != 30 * 33:
    # 32561 rows at an expected batch of 1000: 33 steps an epoch
    bad.append("uninterrupted fit: %d steps, want 30 epochs of 33" % s["steps"])
if not 0 < p["steps"] < s["steps"] or not p["epsilon"] < s["epsilon"]:
    bad.append("checkpoint ledger: %d steps, epsilon %r (want a part of the run)"
               % (p["steps"], p["epsilon"]))
for b in bad:
    print("mismatch:", b)
sys.exit(1 if bad else 0)
PY
  echo "ok: the resumed fit's ledger equals the uninterrupted one"
else
  fail "the resumed fit's privacy ledger differs from the uninterrupted one"
fi

# reproducible mode: the same batches and noise per step, hence the same release
if h5diff "$work/straight/adult-tvae-dp.h5" "$work/stopped/adult-tvae-dp.h5" /columns /columns \
  >"$work/diff" 2>&1; then
  echo "ok: resumed private fit gives the same release"
else
  err=$(head -20 "$work/diff")
  fail "the resumed private fit's release differs from the uninterrupted one"
fi
finish
