#!/usr/bin/env bash
# The shipped Adult experiment end to end at 2 ranks: fit, release, evaluation, inspect,
# export. The overall fidelity score against the training rows must reach 0.80.
. "$(dirname "$0")/lib.sh"

exp="$SYNTHMPI_SOURCE_DIR/configs/adult-copula.yaml"
sets=(--set "data.path=$adult_data" --set "holdout.path=$adult_test"
      --set "runtime.output_dir=$work/run")

run_np 2 run "$exp" "${sets[@]}"
[ "$rc" -eq 0 ] || fail "run: exit code $rc"
release="$work/run/adult-copula.h5"
json="$work/run/evaluation.json"
[ -f "$release" ] || fail "no release at $release"
[ -f "$work/run/model.h5" ] || fail "no model file"
[ -f "$json" ] || fail "no evaluation.json"

# the figures the experiment promises
python3 - "$json" <<'PY' || fail "evaluation figures"
import json, sys
ev = json.load(open(sys.argv[1]))
overall = ev["vs_training"]["overall"]
print(f"overall vs training {overall:.4f}, vs holdout {ev['vs_holdout']['overall']:.4f}")
assert overall >= 0.80, overall
u = ev["utility"]
print(f"utility real AUC {u['real']['auc']:.4f} F1 {u['real']['macro_f1']:.4f}; "
      f"synthetic AUC {u['synthetic']['auc']:.4f} F1 {u['synthetic']['macro_f1']:.4f}")
assert u["real"]["auc"] > 0.90, u
PY

# inspect shows the schema and provenance
run_np 1 inspect "$release"
[ "$rc" -eq 0 ] || fail "inspect: exit code $rc"
echo "$out" | grep -q "32561" || fail "inspect does not show the row count"
echo "$out" | grep -q "native_country" || fail "inspect does not show the columns"

# export to CSV at 3 ranks: header + one line per row
run_np 3 export "$release" --format csv --output "$work/adult.csv"
[ "$rc" -eq 0 ] || fail "export: exit code $rc"
lines=$(wc -l <"$work/adult.csv")
[ "$lines" -eq 32562 ] || fail "export: $lines lines, want 32562"
head -1 "$work/adult.csv" | grep -q '^age,workclass,fnlwgt' || fail "export header"

# a second run refuses to overwrite the release
run_np 1 sample "$exp" "${sets[@]}"
[ "$rc" -eq 2 ] || fail "sample over an existing release: exit code $rc, want 2"
finish
