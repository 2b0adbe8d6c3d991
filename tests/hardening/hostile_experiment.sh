#!/usr/bin/env bash
# Hostile experiment files: an alias bomb ("billion laughs") and deep nesting are refused
# with file:line:column, quickly (a hang check); input paths are resolved relative to the
# experiment file, whatever the working directory; outputs stay under runtime.output_dir
# (names and links that point elsewhere are refused or replaced); and an existing release
# is replaced only with sampling.overwrite.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/lib.sh"

BOUND=30

# refused_fast N PATTERN ARGS...: expect_error, and within BOUND seconds
refused_fast() {
  local t_start
  t_start=$(date +%s.%N)
  expect_error "$@"
  elapsed=$(awk -v a="$(date +%s.%N)" -v b="$t_start" 'BEGIN { printf "%.1f", a - b }')
  within "$BOUND" || fail "np=$1: took $elapsed s to refuse (bound $BOUND s)"
}

head_yaml='version: 1
model: {kind: gaussian_copula}'

# --- the billion laughs: 9 levels of 10 aliases each
{
  echo "$head_yaml"
  echo 'lol0: &a0 "lol"'
  for i in 1 2 3 4 5 6 7 8 9; do
    p=$((i - 1))
    echo "lol$i: &a$i [*a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p]"
  done
  echo 'data: {path: x.csv}'
} >"$work/laughs.yaml"

# --- nesting: 100,000 flow levels, and 40 block levels
{
  echo "$head_yaml"
  printf 'data: '
  head -c 100000 /dev/zero | tr '\0' '['
  echo
} >"$work/deepflow.yaml"
{
  echo "$head_yaml"
  indent=''
  for i in $(seq 40); do
    echo "${indent}k$i:"
    indent="$indent  "
  done
  echo "${indent}leaf: 1"
} >"$work/deepblock.yaml"

printf '%s\ndata: {path: x.csv}\n' "$head_yaml" >"$work/plain.yaml"
for n in 0 1 2 3; do
  refused_fast "$n" "laughs\.yaml:3:7: anchors and aliases are not supported \('&a0'\)" \
    check "$work/laughs.yaml"
  refused_fast "$n" "deepflow\.yaml:3:[0-9]+: nesting deeper than 32 levels" \
    check "$work/deepflow.yaml"
  refused_fast "$n" "deepblock\.yaml:[0-9]+:[0-9]+: nesting deeper than 32 levels" \
    check "$work/deepblock.yaml"
  refused_fast "$n" "--set .*nested deeper than 32 levels" check "$work/plain.yaml" \
    --set "$(printf 'a.%.0s' $(seq 40))b=1"
done

# --- input paths are relative to the experiment file, not the working directory
mkdir -p "$work/exp/in" "$work/elsewhere/in"
printf 'a,b\n1,x\n2,y\n3,x\n4,y\n' >"$work/exp/in/train.csv"
printf 'a,b\n5,x\n6,y\n' >"$work/exp/in/test.csv"
printf 'zzz\n' >"$work/elsewhere/in/train.csv"
cat >"$work/exp/rel.yaml" <<YAML
version: 1
data: {path: in/train.csv, header: true}
holdout: {path: in/test.csv}
model: {kind: gaussian_copula}
sampling: {rows: 20, output: rel.h5}
evaluation: {enabled: false}
runtime: {output_dir: out}
YAML
(cd "$work/elsewhere" && run_np 2 run ../exp/rel.yaml && exit "$rc") || true
run_np 0 check "$work/exp/rel.yaml"
if ! grep -q "path: \"$work/exp/in/train.csv\"" "$work/stdout" ||
  ! grep -q "path: \"$work/exp/in/test.csv\"" "$work/stdout"; then
  fail "check does not resolve the paths against the experiment's directory"
else
  echo "ok: data.path and holdout.path resolved against the experiment's directory"
fi
# the run from another directory read the experiment's files and wrote under that directory
if [ -f "$work/elsewhere/out/rel.h5" ]; then
  echo "ok: a run from another directory reads the experiment's files"
else
  fail "a run from another working directory did not produce its release"
fi

# --- outputs stay under runtime.output_dir
cat >"$work/names.yaml" <<YAML
version: 1
name: ok
data: {path: $work/exp/in/train.csv, header: true}
model: {kind: gaussian_copula}
sampling: {rows: 20}
evaluation: {enabled: false}
runtime: {output_dir: $work/out-names}
YAML
for n in 1 3; do
  for name in ../escape /tmp/abs a/b; do
    expect_error "$n" "--set name=$name: name" check "$work/names.yaml" --set "name=$name"
  done
  for o in ../escape.h5 "$work/abs.h5" a/b.h5 ..; do
    expect_error "$n" "sampling\.output" run "$work/names.yaml" --set "sampling.output=$o"
  done
done
[ -e "$work/escape.h5" ] || [ -e "$work/abs.h5" ] && fail "a release was written outside"

# a link planted under the partial file's name does not redirect the write
mkdir -p "$work/out-names"
echo "precious" >"$work/victim"
ln -s "$work/victim" "$work/out-names/ok.h5.partial"
run_np 2 run "$work/names.yaml"
[ "$rc" -eq 0 ] || fail "run with a planted link: exit code $rc"
if [ "$(cat "$work/victim")" != precious ]; then
  fail "the write followed a link out of the output directory"
elif [ -L "$work/out-names/ok.h5" ] || [ ! -f "$work/out-names/ok.h5" ]; then
  fail "the release is not a plain file in the output directory"
else
  echo "ok: a planted link under the partial name is replaced, its target untouched"
fi

# --- an existing release is kept unless sampling.overwrite, for run and for sample
cp "$work/out-names/ok.h5" "$work/first.h5"
for cmd in run sample; do
  expect_error 2 "ok\.h5 exists \(set sampling\.overwrite: true" "$cmd" "$work/names.yaml" \
    --set sampling.seed=99
  cmp -s "$work/first.h5" "$work/out-names/ok.h5" || fail "$cmd: the release was changed"
done
run_np 2 sample "$work/names.yaml" --set sampling.seed=99 --set sampling.overwrite=true
if [ "$rc" -ne 0 ] || cmp -s "$work/first.h5" "$work/out-names/ok.h5"; then
  fail "sampling.overwrite: true did not replace the release (exit code $rc)"
else
  echo "ok: sampling.overwrite: true replaces the release"
fi
finish
