#!/usr/bin/env bash
# synthmpi run configs/dna-lambda-cnn.yaml on lambda phage end to end, with a tiny
# training budget, at 1 and 3 ranks: the release is written and inspectable, the evaluation
# reports the neural model's held-out bits per base (not the order-0 baseline's), and the
# two rank counts agree on it up to float summation order; bad settings exit with code 2.
. "$SYNTHMPI_SOURCE_DIR/tests/cli/lib.sh"

exp="$SYNTHMPI_SOURCE_DIR/configs/dna-lambda-cnn.yaml"
lambda="$SYNTHMPI_DATA/dna/lambda_virus.fa"
sets=(--set "data.path=$lambda" --set "runtime.output_dir=$work/run" --set sampling.rows=11
      --set sampling.length=300 --set sampling.chunk_rows=4 --set model.channels=8
      --set model.blocks=4 --set model.epochs=2)

# bits per base from a printed evaluation: the model's, then order 0's
bits() {
  python3 -c 'import json,sys; b=json.load(sys.stdin)["holdout_bits_per_base"]
print(b["model"], b["order0"])' <<<"$out"
}

declare -A model_bits
for n in 1 3; do
  run_np "$n" run "$exp" "${sets[@]}" --set "sampling.output=np$n.h5" --set sampling.overwrite=true
  [ "$rc" -eq 0 ] || fail "run at $n ranks: exit code $rc"
  read -r b0 b1 < <(bits)
  model_bits[$n]=$b0
  echo "np=$n: held-out bits per base $b0 (order 0: $b1)"
  grep -q 'dna_cnn: .* parameters' <<<"$err" || fail "run at $n ranks: no training log"
  python3 -c "import sys; a, b = $b0, $b1; sys.exit(0 if 1.5 < a < 2.5 and a != b else 1)" ||
    fail "np=$n: model bits $b0 not the network's (order 0: $b1)"
done
python3 -c "import sys; sys.exit(0 if abs(${model_bits[1]} - ${model_bits[3]}) < 1e-3 else 1)" &&
  echo "ok: 1 and 3 ranks agree on held-out bits (tol 1e-3)" ||
  fail "held-out bits at 1 and 3 ranks: ${model_bits[1]} vs ${model_bits[3]}"
[ -s "$work/run/evaluation.json" ] || fail "no evaluation.json beside the release"
ls "$work/run"/*.partial >/dev/null 2>&1 && fail "a .partial file was left behind"

# the release: a sequence release of the model, 11 x 300
run_np 0 inspect "$work/run/np3.h5"
grep -q 'dna_cnn' <<<"$out" && grep -q 'rows *11' <<<"$out" && grep -q 'length *300' <<<"$out" ||
  fail "inspect: $out"
run_np 2 export "$work/run/np3.h5" --format fasta --output "$work/np3.fa"
[ "$rc" -eq 0 ] && [ "$(grep -c '^>' "$work/np3.fa")" -eq 11 ] || fail "export: exit code $rc"

# bad settings
expect_error 2 'model.kernel' run "$exp" "${sets[@]}" --set model.kernel=4
expect_error 2 'model.blocks' run "$exp" "${sets[@]}" --set model.blocks=0
expect_error 2 'model.order' run "$exp" "${sets[@]}" --set model.order=3

finish
