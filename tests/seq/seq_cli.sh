#!/usr/bin/env bash
# synthmpi run on lambda phage end to end: the release is the same at 1, 2 and 3 ranks,
# the evaluation is written and printed, inspect and the FASTA export work, and the
# export reads back (samtools faidx); bad sequence inputs exit with code 2.
. "$SYNTHMPI_SOURCE_DIR/tests/cli/lib.sh"

exp="$SYNTHMPI_SOURCE_DIR/configs/dna-lambda-markov.yaml"
lambda="$SYNTHMPI_DATA/dna/lambda_virus.fa"
sets=(--set "data.path=$lambda" --set "runtime.output_dir=$work/run" --set sampling.rows=31
      --set sampling.chunk_rows=4 --set model.max_order=8)

# the same release at every rank count
for n in 1 2 3; do
  run_np "$n" run "$exp" "${sets[@]}" --set "sampling.output=np$n.h5" --set sampling.overwrite=true
  [ "$rc" -eq 0 ] || fail "run at $n ranks: exit code $rc"
  grep -q '"holdout_bits_per_base"' <<<"$out" || fail "run at $n ranks: no metrics printed"
done
for n in 2 3; do
  if h5diff "$work/run/np1.h5" "$work/run/np$n.h5" /sequences /sequences >"$work/diff" 2>&1; then
    echo "ok: 1 rank and $n ranks wrote the same sequences"
  else
    err=$(cat "$work/diff")
    fail "releases at 1 and $n ranks differ"
  fi
done
[ -s "$work/run/evaluation.json" ] || fail "no evaluation.json beside the release"
ls "$work/run"/*.partial >/dev/null 2>&1 && fail "a .partial file was left behind"

# inspect, export, read back with htslib's faidx
run_np 0 inspect "$work/run/np1.h5"
grep -q 'synthmpi-sequences' <<<"$out" && grep -q 'rows *31' <<<"$out" ||
  fail "inspect: $out"
run_np 2 export "$work/run/np1.h5" --format fasta --output "$work/np1.fa"
[ "$rc" -eq 0 ] || fail "export: exit code $rc"
run_np 3 export "$work/run/np1.h5" --format fasta --output "$work/np1-3.fa"
cmp -s "$work/np1.fa" "$work/np1-3.fa" && echo "ok: the export is the same from 2 and 3 ranks" ||
  fail "exports from 2 and 3 ranks differ"
if samtools faidx "$work/np1.fa" 2>"$work/faidx.err"; then
  records=$(wc -l <"$work/np1.fa.fai")
  len=$(awk 'NR == 1 {print $2}' "$work/np1.fa.fai")
  [ "$records" -eq 31 ] && [ "$len" -eq 1000 ] || fail "faidx: $records records of $len bases"
  first=$(samtools faidx "$work/np1.fa" synth_0 | grep -v '>' | tr -d '\n')
  want=$(h5dump -d /sequences -s 0,0 -c 1,1000 -y -w 0 "$work/run/np1.h5" |
    awk '/DATA \{/ {f = 1; next} f && /\}/ {exit} f' | grep -o '[0-9]\+' |
    awk '{printf "%c", $1}')
  [ "$first" = "$want" ] && echo "ok: exported synth_0 equals row 0 of the release" ||
    fail "exported synth_0 differs from row 0 of the release"
else
  err=$(cat "$work/faidx.err")
  fail "samtools faidx cannot read the export"
fi

# bad inputs: exit code 2 with one error line
printf '' >"$work/empty.fa"
printf 'ACGT\n' >"$work/noheader.fa"
expect_error 2 'no FASTA records' run "$exp" "${sets[@]}" --set "data.path=$work/empty.fa"
expect_error 3 'sequence before the first' run "$exp" "${sets[@]}" \
  --set "data.path=$work/noheader.fa"
expect_error 2 'cannot open' run "$exp" "${sets[@]}" --set "data.path=$work/missing.fa"
expect_error 2 'model.order' run "$exp" "${sets[@]}" --set model.order=25
expect_error 1 'model.order' run "$exp" "${sets[@]}" --set model.order=-2
expect_error 2 'data.non_acgt' run "$exp" "${sets[@]}" --set data.non_acgt=keep
expect_error 2 'model' run "$exp" "${sets[@]}" --set model.kind=gaussian_copula
expect_error 2 'no training windows' run "$exp" "${sets[@]}" --set data.window=60000
expect_error 2 "synthmpi run" fit "$exp" "${sets[@]}"
finish
