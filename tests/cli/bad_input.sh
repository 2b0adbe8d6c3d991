#!/usr/bin/env bash
# Bad input: each case gives exit code 2 on every rank, one error line naming the file
# (and line, and YAML column), no hang, and no release left behind.
. "$(dirname "$0")/lib.sh"

# experiment NAME DATA [EXTRA_DATA_YAML] [SAMPLING_ROWS]: a small experiment in $work/NAME.yaml
experiment() {
  cat >"$work/$1.yaml" <<YAML
version: 1
name: $1
data:
  path: $2
  header: true
${3:-}
model:
  kind: gaussian_copula
sampling:
  rows: ${4:-100}
  output: out.h5
evaluation:
  enabled: false
runtime:
  output_dir: $work/out-$1
YAML
}

no_release() {
  if ls "$work/out-$1"/*.h5* >/dev/null 2>&1; then
    fail "$1: a release file was left behind: $(ls "$work/out-$1")"
  fi
}

printf 'a,b\n1,2\n3,4\n5,6\n' >"$work/good.csv"
printf 'a,b\n1,2\n3\n5,6\n' >"$work/ragged.csv"
printf 'a,b\n1,2\n3,"4\n5,6\n' >"$work/quote.csv"
printf 'a,b\n1,2\nx,4\n5,6\n' >"$work/text.csv"
: >"$work/empty.csv"
printf 'a,b\n' >"$work/header.csv"
printf 'a,b\n1,2\n3,4\n' >"$work/tworows.csv"
mkdir -p "$work/adir.csv"
touch "$work/afile"
ints='  columns: [{name: a, type: integer}, {name: b, type: integer}]'

for n in 1 2 3; do
  experiment missing "$work/nope.csv"
  expect_error "$n" "nope\.csv" run "$work/missing.yaml"
  no_release missing

  experiment unreadable "$work/adir.csv"
  expect_error "$n" "adir\.csv" run "$work/unreadable.yaml"

  experiment quote "$work/quote.csv"
  expect_error "$n" "quote\.csv:3:.*quote" run "$work/quote.yaml"
  no_release quote

  experiment ragged "$work/ragged.csv"
  expect_error "$n" "ragged\.csv:3: .*2 fields.*1" run "$work/ragged.yaml"
  no_release ragged

  experiment text "$work/text.csv" "$ints"
  expect_error "$n" "text\.csv:3: .*'a'.*'x'" run "$work/text.yaml"
  no_release text

  experiment empty "$work/empty.csv"
  expect_error "$n" "empty\.csv" run "$work/empty.yaml"

  experiment header "$work/header.csv"
  expect_error "$n" "header\.csv: no data rows" run "$work/header.yaml"

  experiment unknown "$work/good.csv" "  delimeter: ','"
  expect_error "$n" "unknown\.yaml:6:3: unknown key 'delimeter'" check "$work/unknown.yaml"

  experiment wrongtype "$work/good.csv" "" "many"
  expect_error "$n" "wrongtype\.yaml:10:9: sampling\.rows" run "$work/wrongtype.yaml"

  experiment unwritable "$work/good.csv"
  sed -i "s|output_dir: .*|output_dir: $work/afile/sub|" "$work/unwritable.yaml"
  expect_error "$n" "afile/sub" run "$work/unwritable.yaml"

  expect_error "$n" "unknown key 'rowz'" run "$work/unwritable.yaml" --set sampling.rowz=5
done

# more ranks than rows must work
experiment tiny "$work/tworows.csv" "" 10
run_np 3 run "$work/tiny.yaml"
if [ "$rc" -ne 0 ] || [ ! -f "$work/out-tiny/out.h5" ]; then
  fail "2 rows on 3 ranks: exit code $rc"
else
  echo "ok: 2 rows on 3 ranks"
fi

finish
