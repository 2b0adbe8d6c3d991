#!/usr/bin/env bash
# Conditioned releases (sampling.conditions): every row matches, the rows are exactly the
# matching rows of the unconditioned release with the same seed, in order, at any rank count;
# conditions the data or the declaration cannot meet are refused, leaving no release behind.
. "$(dirname "$0")/lib.sh"

exp="$SYNTHMPI_SOURCE_DIR/configs/adult-copula.yaml"
sets=(--set "data.path=$adult_data" --set "holdout.path=$adult_test"
      --set "runtime.output_dir=$work/run" --set "sampling.chunk_rows=3001")
cond=(--set "sampling.conditions.sex=Female" --set 'sampling.conditions.income=">50K"')

run_np 2 fit "$exp" "${sets[@]}"
[ "$rc" -eq 0 ] || fail "fit: exit code $rc"

# the unconditioned release, filtered by the conditions (sex and income are columns 10, 15)
run_np 2 sample "$exp" "${sets[@]}" --set "sampling.rows=60000" --set "sampling.output=all.h5"
[ "$rc" -eq 0 ] || fail "unconditioned sample: exit code $rc"
run_np 1 export "$work/run/all.h5" --format csv -o "$work/all.csv"
awk -F, 'NR > 1 && $10 == "Female" && $15 == ">50K"' "$work/all.csv" | head -700 >"$work/want"
[ "$(wc -l <"$work/want")" -eq 700 ] || fail "fewer than 700 matching rows in 60000"

# conditioned releases of 700 rows at 1, 2 and 3 ranks
for n in 1 2 3; do
  run_np "$n" sample "$exp" "${sets[@]}" "${cond[@]}" --set "sampling.rows=700" \
    --set "sampling.output=cond$n.h5"
  [ "$rc" -eq 0 ] || fail "conditioned sample at $n ranks: exit code $rc"
  run_np 1 export "$work/run/cond$n.h5" --format csv -o "$work/cond$n.csv"
  tail -n +2 "$work/cond$n.csv" >"$work/got"
  if cmp -s "$work/want" "$work/got"; then
    echo "ok: $n ranks: the 700 rows are the matching rows of the unconditioned release"
  else
    err=$(diff "$work/want" "$work/got" | head -5)
    fail "$n ranks: conditioned rows differ from the filtered unconditioned release"
  fi
done

# refused before fitting: a column that is not declared, a numeric column, a value outside
# the declared domain (file:line:column of the value)
cat >"$work/bad.yaml" <<YAML
version: 1
name: bad
data:
  path: $adult_data
  columns:
    - {name: age, type: integer}
    - {name: sex, type: categorical, domain: [Female, Male]}
model: {kind: gaussian_copula}
sampling:
  conditions: {sex: Other}
YAML
expect_error 1 "bad.yaml:10:21: sampling.conditions: 'Other' is not in the declared domain" \
  check "$work/bad.yaml"
expect_error 2 "sampling.conditions: column 'age' is declared integer" check "$work/bad.yaml" \
  --set sampling.conditions.age=30 --set sampling.conditions.sex=Male
expect_error 3 "sampling.conditions: 'colour' is not a declared column" check "$work/bad.yaml" \
  --set sampling.conditions.colour=red --set sampling.conditions.sex=Male

# haplotype and sequence data have no columns to condition on
for cfg in hap-805-markov dna-lambda-markov; do
  expect_error 1 "genomic and sequence data \(data.format: [a-z]+\) have no columns" \
    check "$SYNTHMPI_SOURCE_DIR/configs/$cfg.yaml" --set sampling.conditions.x=1
done

# refused when sampling: a category the data never had, and a quota out of reach
expect_error 3 "column 'race' never has the value 'Martian'" sample "$exp" "${sets[@]}" \
  --set sampling.conditions.race=Martian --set "sampling.output=none1.h5"
expect_error 2 "after drawing 5000 rows .* only [0-9]+ of the 100000 requested" \
  sample "$exp" "${sets[@]}" "${cond[@]}" --set sampling.rows=100000 \
  --set sampling.max_candidates=5000 --set "sampling.output=none2.h5"
for f in none1.h5 none2.h5 none1.h5.partial none2.h5.partial; do
  [ -e "$work/run/$f" ] && fail "a refused release left $f behind"
done
finish
