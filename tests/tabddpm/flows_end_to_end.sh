#!/usr/bin/env bash
# The shipped RealNVP and TabDDPM Adult experiments end to end at 2 ranks on short budgets:
# fit, release, evaluation. TabDDPM's numeric columns must not pile up at their range ends
# (share at the minimum or maximum at most twice the real share plus 1%), and the RealNVP fit
# reports its held-out likelihood.
. "$SYNTHMPI_SOURCE_DIR/tests/cli/lib.sh"

# run_model KIND ARGS...: 'synthmpi run' of configs/adult-KIND.yaml at 2 ranks, 3000 rows
run_model() {
  local kind=$1
  shift
  run_np 2 run "$SYNTHMPI_SOURCE_DIR/configs/adult-$kind.yaml" --set "data.path=$adult_data" \
    --set "holdout.path=$adult_test" --set "runtime.output_dir=$work/$kind" \
    --set sampling.rows=3000 "$@"
  [ "$rc" -eq 0 ] || fail "$kind run: exit code $rc"
  [ -f "$work/$kind/evaluation.json" ] || fail "$kind: no evaluation.json"
  [ -f "$work/$kind/model.h5" ] || fail "$kind: no model file"
}

run_model realnvp --set model.epochs=2 --set model.hidden_dims=64
echo "$err" | grep -E "held-out NLL [0-9.]+ nats per row, [0-9.]+ bits per dimension" ||
  fail "realnvp: no held-out NLL line"

# 10 epochs of 32 steps, a smaller denoiser, T = 50 and 25 reverse steps
run_model tabddpm --set model.steps=320 --set model.hidden_dims=128,256,128 \
  --set model.timesteps=50 --set model.sample_steps=25
run_np 1 export "$work/tabddpm/adult-tabddpm.h5" --format csv --output "$work/ddpm.csv"
[ "$rc" -eq 0 ] || fail "export: exit code $rc"
python3 - "$work/ddpm.csv" "$adult_data" "$work/tabddpm/evaluation.json" <<'PY' || fail "range ends"
import csv, json, sys
numeric = {"age": 0, "fnlwgt": 2, "education_num": 4, "capital_gain": 10, "capital_loss": 11,
           "hours_per_week": 12}
real = [r for r in csv.reader(open(sys.argv[2])) if len(r) == 15]
synth = list(csv.DictReader(open(sys.argv[1])))
worst = -1.0
for name, i in numeric.items():
    rv = [float(r[i]) for r in real]
    sv = [float(r[name]) for r in synth if r[name] != ""]
    for end, v in (("minimum", min(rv)), ("maximum", max(rv))):
        share = sum(x == v for x in sv) / len(sv)
        want = sum(x == v for x in rv) / len(rv)
        print(f"{name:15s} {end}: share {share:.4f}, real {want:.4f}")
        worst = max(worst, share - (2 * want + 0.01))
ev = json.load(open(sys.argv[3]))
print(f"overall fidelity vs training {ev['vs_training']['overall']:.4f}")
assert worst <= 0, worst
PY

# a release from the saved model with model.sample_steps set at sampling time: the saved
# count (25) gives the run's rows again, 5 reverse steps give other rows
resample() {
  run_np 2 sample "$SYNTHMPI_SOURCE_DIR/configs/adult-tabddpm.yaml" --model "$work/tabddpm/model.h5" \
    --set "runtime.output_dir=$work/resampled" --set sampling.rows=3000 \
    --set "sampling.output=steps$1.h5" --set "model.sample_steps=$1"
  [ "$rc" -eq 0 ] || fail "sample with sample_steps $1: exit code $rc"
  run_np 1 export "$work/resampled/steps$1.h5" --format csv --output "$work/steps$1.csv"
  [ "$rc" -eq 0 ] || fail "export of the sample_steps $1 release: exit code $rc"
}
resample 25
resample 5
cmp -s "$work/ddpm.csv" "$work/steps25.csv" || fail "sample_steps 25 at sampling differs from the run"
cmp -s "$work/ddpm.csv" "$work/steps5.csv" && fail "sample_steps 5 at sampling changed nothing"
finish
