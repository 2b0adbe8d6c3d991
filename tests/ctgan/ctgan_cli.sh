#!/usr/bin/env bash
# CTGAN through the program: `check` refuses a batch size that is not a multiple of pac
# (exit 2, at the file, line and column of the key), and configs/adult-ctgan.yaml runs end
# to end at 2 ranks with a short fit: fit, release, evaluation.
. "$SYNTHMPI_SOURCE_DIR/tests/cli/lib.sh"

exp="$SYNTHMPI_SOURCE_DIR/configs/adult-ctgan.yaml"
sets=(--set "data.path=$adult_data" --set "holdout.path=$adult_test")

# a batch of 505 rows cannot be cut into packs of 10: refused where the key is written
bad="$work/bad-pac.yaml"
sed 's/^  kind: ctgan.*/  kind: ctgan\n  batch_size: 505/' "$exp" >"$bad"
line=$(grep -n '^  batch_size: 505' "$bad" | cut -d: -f1)
expect_error 0 "bad-pac\.yaml:$line:15: model\.batch_size: must be a multiple of model\.pac" \
  check "$bad" "${sets[@]}"
expect_error 2 "bad-pac\.yaml:$line:15: model\.batch_size" check "$bad" "${sets[@]}"
# the same through --set, and a pac that does not divide the default batch of 500
expect_error 0 "model\.batch_size: must be a multiple" check "$exp" "${sets[@]}" \
  --set model.batch_size=64
expect_error 0 "model\.batch_size: must be a multiple" check "$exp" "${sets[@]}" --set model.pac=3
run_np 0 check "$exp" "${sets[@]}" --set model.batch_size=60 --set model.pac=6
[ "$rc" -eq 0 ] || fail "check of batch 60, pac 6: exit code $rc"

# end to end on 2 ranks with a short fit of narrower networks (the defaults are exercised
# by the benchmark), with spectral normalisation of the critic, and a smaller release and
# evaluation
small=(--set model.epochs=2 --set model.generator_dims=64,64 --set model.discriminator_dims=64,64
       --set model.spectral_norm=true --set sampling.rows=8000 --set evaluation.max_rows=4000
       --set evaluation.utility_max_rows=4000 --set evaluation.classifier.rounds=50)
run_np 2 run "$exp" "${sets[@]}" --set "runtime.output_dir=$work/run" "${small[@]}"
[ "$rc" -eq 0 ] || fail "run: exit code $rc"
echo "$err" | grep -E "ctgan: trained|epoch 2/2" | head -3
[ -f "$work/run/adult-ctgan.h5" ] || fail "no release"
[ -f "$work/run/model.h5" ] || fail "no model file"
python3 - "$work/run/evaluation.json" <<'PY' || fail "evaluation figures"
import json, sys
ev = json.load(open(sys.argv[1]))
overall = ev["vs_training"]["overall"]
u = ev["utility"]
print(f"2 epochs: overall vs training {overall:.4f}; synthetic AUC {u['synthetic']['auc']:.4f} "
      f"F1 {u['synthetic']['macro_f1']:.4f} (real {u['real']['macro_f1']:.4f})")
assert 0.5 <= overall <= 1.0, overall
PY
finish
