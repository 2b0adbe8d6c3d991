#!/usr/bin/env bash
# Private CTGAN from the command line (configs/adult-ctgan-dp.yaml on the real Adult files):
# a batch that is not a multiple of pac is still refused (exit 2); a budget the plan cannot
# meet exits 3 before training; a reproducible run writes a release and a model whose ledger
# has the dp-sgd entry of the critic; a fit stopped by SIGUSR1 keeps its ledger in the
# checkpoint and `fit --resume` continues it to the ledger (and, in reproducible mode, the
# release) of an uninterrupted fit; outside that mode two resumes of one checkpoint draw
# fresh noise, so their models differ.
. "$(dirname "$0")/../cli/lib.sh"

exp="$SYNTHMPI_SOURCE_DIR/configs/adult-ctgan-dp.yaml"
small=(--set "data.path=$adult_data" --set "holdout.path=$adult_test"
       --set model.embedding_dim=16 --set model.generator_dims=32
       --set model.discriminator_dims=32 --set model.batch_size=4000
       --set evaluation.enabled=false --set sampling.rows=2000)

# ledger FILE: the privacy ledger (JSON) of a model, release or checkpoint file
ledger() {
  h5dump -y -a /privacy_ledger "$1" 2>/dev/null |
    python3 -c 'import sys; t = sys.stdin.read(); print(t[t.index("{\""):t.rindex("}\"") + 1])'
}

# pac must divide the batch, private or not
expect_error 0 "model\.batch_size: must be a multiple of model\.pac" check "$exp" "${small[@]}" \
  --set model.batch_size=4005 --set model.pac=10
expect_error 2 "model\.batch_size: must be a multiple of model\.pac" fit "$exp" "${small[@]}" \
  --set model.batch_size=4005 --set model.pac=10 --set "runtime.output_dir=$work/badpac"

# budgets the plan cannot meet: exit 3 before training, no model
run_np 2 fit "$exp" "${small[@]}" --set model.epochs=1 --set privacy.epsilon=0.01 \
  --set "runtime.output_dir=$work/tiny"
[ "$rc" -eq 3 ] || fail "epsilon 0.01: exit code $rc, want 3"
echo "$err" | grep -q "no noise multiplier up to" || fail "epsilon 0.01: no reason given"
run_np 2 fit "$exp" "${small[@]}" --set model.epochs=1 --set privacy.noise_multiplier=0.3 \
  --set privacy.epsilon=0.5 --set "runtime.output_dir=$work/tiny"
[ "$rc" -eq 3 ] || fail "noise 0.3 at epsilon 0.5: exit code $rc, want 3"
echo "$err" | grep -q "would spend epsilon" || fail "noise 0.3: no epsilon in the message"
[ ! -f "$work/tiny/model.h5" ] || fail "refused budget: a model was written"

# a reproducible private run end to end on 3 ranks; the ledger in release and model
run_np 3 run "$exp" "${small[@]}" --set model.epochs=1 --set privacy.reproducible=true \
  --set "runtime.output_dir=$work/run"
[ "$rc" -eq 0 ] || fail "private run: exit code $rc"
echo "$err" | grep -q "NOT differentially private" || fail "private run: no test-mode warning"
for f in "$work/run/adult-ctgan-dp.h5" "$work/run/model.h5"; do
  run_np 0 inspect "$f"
  echo "$out" | grep -q '"mechanism":"dp-sgd"' || fail "inspect $f: no dp-sgd ledger entry"
  echo "$out" | grep -q 'sensitivity 1 C' || fail "inspect $f: the ledger does not say C (pac 1)"
done

# pre-emption in reproducible mode: the resumed fit's ledger and release equal the
# uninterrupted fit's
repro=("${small[@]}" --set model.epochs=6 --set privacy.reproducible=true)
fit_reference "$exp" "$work/straight" "${repro[@]}"
fit_stopped "$exp" "$work/stopped" "${repro[@]}"
ledger "$work/stopped/checkpoint.h5" >"$work/partial.json" || fail "no ledger in the checkpoint"
run_np 2 fit "$exp" "${repro[@]}" --set "runtime.output_dir=$work/stopped" --resume
[ "$rc" -eq 0 ] || fail "resumed fit: exit code $rc"
run_np 2 sample "$exp" "${repro[@]}" --set "runtime.output_dir=$work/stopped"
[ "$rc" -eq 0 ] || fail "sample from the resumed fit: exit code $rc"
ledger "$work/straight/model.h5" >"$work/straight.json" || fail "uninterrupted: no ledger"
ledger "$work/stopped/model.h5" >"$work/resumed.json" || fail "resumed: no ledger"
python3 - "$work/straight.json" "$work/resumed.json" "$work/partial.json" <<'PY' ||
import json, sys
straight, resumed, partial = (json.load(open(p)) for p in sys.argv[1:4])
def dpsgd(l):
    e = [m for m in l["mechanisms"] if m["mechanism"] == "dp-sgd"]
    assert len(e) == 1, "want one dp-sgd entry, found %d" % len(e)
    return e[0]
s, r, p = dpsgd(straight), dpsgd(resumed), dpsgd(partial)
for k in ("sample_rate", "noise_multiplier", "steps", "epsilon", "note"):
    print("%-16s uninterrupted %-24r resumed %-24r checkpoint %r" % (k, s[k], r[k], p[k]))
    assert s[k] == r[k], k
# 32561 rows at an expected batch of 4000: 9 steps an epoch, one critic update each
assert s["steps"] == 6 * 9, s["steps"]
assert 0 < p["steps"] < s["steps"] and p["epsilon"] < s["epsilon"], p
assert r["epsilon"] <= resumed["epsilon_budget"]
PY
  fail "the resumed fit's privacy ledger differs from the uninterrupted one"
h5diff "$work/straight/adult-ctgan-dp.h5" "$work/stopped/adult-ctgan-dp.h5" /columns /columns \
  >"$work/diff" 2>&1 || fail "the resumed private fit's release differs from the uninterrupted one"

# secure randomness: two resumes of one checkpoint draw fresh noise (and samples)
secure=("${small[@]}" --set model.epochs=6)
fit_stopped "$exp" "$work/s1" "${secure[@]}"
cp -r "$work/s1" "$work/s2"
for d in s1 s2; do
  run_np 2 fit "$exp" "${secure[@]}" --set "runtime.output_dir=$work/$d" --resume
  [ "$rc" -eq 0 ] || fail "secure resume $d: exit code $rc"
done
if h5diff "$work/s1/model.h5" "$work/s2/model.h5" >/dev/null 2>&1; then
  fail "two resumes of one checkpoint gave the same model: the noise was not fresh"
else
  echo "ok: two resumes of one checkpoint differ (fresh noise)"
fi
ledger "$work/s1/model.h5" >"$work/l1.json" && ledger "$work/s2/model.h5" >"$work/l2.json" &&
  cmp -s "$work/l1.json" "$work/l2.json" || fail "the two resumes' ledgers differ"
finish
