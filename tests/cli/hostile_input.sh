#!/usr/bin/env bash
# Hostile input: malformed data, odd shapes, bad paths and files of the wrong kind. Each bad
# input gives exit code 2 on every rank count with one error line naming the file (and line,
# and YAML column), and leaves no release, model or evaluation behind; each odd but valid
# input works and gives the same release at 1, 2 and 3 ranks.
. "$(dirname "$0")/lib.sh"

# experiment NAME DATA [EXTRA_DATA_YAML] [EXTRA_TOP_YAML]: a small experiment in $work/NAME.yaml
experiment() {
  local tail=${4:-}
  [ -n "$tail" ] || tail='evaluation: {enabled: false}'
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
  rows: 50
  output: out.h5
runtime:
  output_dir: $work/out-$1
$tail
YAML
}

# nothing_left NAME: no release, model, evaluation or unfinished file in the output directory
nothing_left() {
  if ls "$work/out-$1"/* >/dev/null 2>&1; then
    fail "$1: files left behind: $(ls "$work/out-$1")"
  fi
}

# bad N NAME PATTERN ARGS...: expect_error, then nothing left behind
bad() {
  local n=$1 name=$2 pattern=$3
  shift 3
  rm -rf "$work/out-$name"
  expect_error "$n" "$pattern" "$@"
  nothing_left "$name"
}

# good N NAME: the experiment runs; the release is exported to $work/NAME-N.csv
good() {
  rm -rf "$work/out-$2"
  run_np "$1" run "$work/$2.yaml"
  if [ "$rc" -ne 0 ] || [ ! -f "$work/out-$2/out.h5" ]; then
    fail "np=$1 $2: exit code $rc, want 0 and a release"
    return
  fi
  run_np 0 export "$work/out-$2/out.h5" --format csv --output "$work/$2-$1.csv"
  [ "$rc" -eq 0 ] || fail "np=$1 $2: export failed"
  echo "ok: np=$1 $2 runs"
}

# same_release NAME: the release is the same at 1, 2 and 3 ranks
same_release() {
  if ! cmp -s "$work/$1-1.csv" "$work/$1-2.csv" || ! cmp -s "$work/$1-1.csv" "$work/$1-3.csv"; then
    fail "$1: the release depends on the number of ranks"
  else
    echo "ok: $1 release the same at 1, 2, 3 ranks"
  fi
}

# --- data files
: >"$work/empty.csv"
printf 'a,b\n' >"$work/header.csv"
printf 'a,b\n,x\n,y\n,x\n,y\n' >"$work/allmissing.csv"
printf 'a,b\n1,2\n9223372036854775807,4\n5,6\n' >"$work/bigint.csv"
printf 'a,b\n1,2\nNaN,4\n5,6\n' >"$work/nan.csv"
printf 'a,b\n1,2\ninf,4\n5,6\n' >"$work/inf.csv"
printf 'a,b\n1,2\n1e400,4\n5,6\n' >"$work/overflow.csv"
printf 'a,b\n1,2\n' >"$work/onerow.csv"
printf 'a\n1\n2\n3\n4\n5\n' >"$work/onecol.csv"
printf 'a,b\r\n1,x\r\n3,y\r\n5,"x\r\ny"\r\n' >"$work/crlf.csv"
printf '\357\273\277a,b\n1,x\n3,y\n5,x\n' >"$work/bom.csv"
printf 'a,b\n1,2\n1e300,4\n-1e300,6\n5,7\n' >"$work/huge.csv"
printf 'a,b\n7,x\n7,y\n7,x\n7,y\n' >"$work/const.csv"
printf 'a,b\n1,x\n2,y\n3,x\n4,y\n' >"$work/train.csv"
printf 'a,b,c\n1,x,3\n2,y,4\n' >"$work/wider.csv"
printf 'a,b\n1,x\n2,zz\n' >"$work/unseen.csv"
{
  echo 'a,b'
  for i in $(seq 300); do echo "$i,common"; done
  echo '301,rare'
} >"$work/rare.csv"
{
  # quoted newlines, doubled quotes and delimiters inside quotes everywhere, so that some
  # record crosses each rank boundary
  echo 'id,txt,c'
  for i in $(seq 0 199); do
    case $((i % 5)) in
    0) printf '%d,"a\nb",p\n' "$i" ;;
    1) printf '%d,"say ""hi""\n,x",q\n' "$i" ;;
    2) printf '%d,"x,y\r\nz",p\n' "$i" ;;
    3) printf '%d,"\n",q\n' "$i" ;;
    4) printf '%d,"""",p\n' "$i" ;;
    esac
  done
} >"$work/quoted.csv"

cont='  columns: [{name: a, type: continuous}, {name: b, type: integer}]'
ints='  columns: [{name: a, type: integer}, {name: b, type: categorical}]'
target() { printf 'evaluation: {target: %s, utility: true}\nholdout: {fraction: 0.5}' "$1"; }

for n in 1 2 3; do
  experiment empty "$work/empty.csv"
  bad "$n" empty "empty\.csv: empty file" run "$work/empty.yaml"
  experiment header "$work/header.csv"
  bad "$n" header "header\.csv: no data rows" run "$work/header.yaml"
  experiment allmissing "$work/allmissing.csv"
  bad "$n" allmissing "allmissing\.csv:1: column 'a' has no values" run "$work/allmissing.yaml"
  experiment allmissing_int "$work/allmissing.csv" "$ints"
  bad "$n" allmissing_int "allmissing\.csv:1: column 'a'" run "$work/allmissing_int.yaml"
  experiment bigint "$work/bigint.csv" "$ints"
  bad "$n" bigint "bigint\.csv:3: column 'a': .*2\^53" run "$work/bigint.yaml"
  for f in nan inf overflow; do
    experiment "$f" "$work/$f.csv" "$cont"
    bad "$n" "$f" "$f\.csv:3: column 'a': .*not a finite number" run "$work/$f.yaml"
  done

  # holdout fraction leaving no training rows; targets that cannot be used
  experiment nofit "$work/train.csv" "" "holdout: {fraction: 0.99}
evaluation: {enabled: false}"
  bad "$n" nofit "train\.csv: no training rows" run "$work/nofit.yaml"
  experiment notarget "$work/train.csv" "" "$(target zzz)"
  bad "$n" notarget "notarget\.yaml:[0-9]+:[0-9]+: evaluation\.target: 'zzz' is not a column" \
    run "$work/notarget.yaml"
  experiment numtarget "$work/train.csv" "" "$(target a)"
  bad "$n" numtarget "numtarget\.yaml:[0-9]+:[0-9]+: evaluation\.target: column 'a' is integer" \
    run "$work/numtarget.yaml"
  bad "$n" numtarget "--set evaluation\.target=zz: evaluation\.target: 'zz'" \
    run "$work/numtarget.yaml" --set evaluation.target=zz

  # output names and directories
  experiment paths "$work/train.csv"
  for o in ../escape.h5 /tmp/abs.h5 sub/x.h5 . .. model.h5 evaluation.json x.h5.partial; do
    bad "$n" paths "--set sampling\.output=$o: sampling\.output: expected a file name" \
      run "$work/paths.yaml" --set "sampling.output=$o"
  done
  [ -e "$work/escape.h5" ] && fail "np=$n: a release was written outside output_dir"
  sed 's|  output: out.h5|  output: ../escape.h5|' "$work/paths.yaml" >"$work/paths2.yaml"
  bad "$n" paths "paths2\.yaml:11:11: sampling\.output" run "$work/paths2.yaml"
  expect_error "$n" "train\.csv: cannot create the output directory" \
    run "$work/paths.yaml" --set "runtime.output_dir=$work/train.csv"

  # experiment files that are not experiments, and bad overrides
  printf -- '- a\n- b\n' >"$work/list.yaml"
  expect_error "$n" "list\.yaml:1:1: expected a map" check "$work/list.yaml"
  head -c 3000 /dev/urandom >"$work/garbage.yaml"
  expect_error "$n" "garbage\.yaml" check "$work/garbage.yaml"
  head -c 2000000 /dev/zero | tr '\0' '#' >"$work/big.yaml"
  expect_error "$n" "big\.yaml: larger than" check "$work/big.yaml"
  expect_error "$n" "--set bogus=1: unknown key 'bogus'" check "$work/paths.yaml" --set bogus=1
  expect_error "$n" "--set sampling=1: sampling: expected a map" check "$work/paths.yaml" \
    --set sampling=1
  expect_error "$n" "--set =1" check "$work/paths.yaml" --set =1
  expect_error "$n" "--set sampling\.\.rows=1: empty key" check "$work/paths.yaml" \
    --set sampling..rows=1
  expect_error "$n" "--set sampling\.rows=-5" check "$work/paths.yaml" --set sampling.rows=-5
done

# files of the wrong kind for inspect, export, sample and eval
experiment kinds "$work/train.csv"
run_np 0 run "$work/kinds.yaml"
[ "$rc" -eq 0 ] || fail "kinds: exit code $rc"
cp "$work/out-kinds/out.h5" "$work/release.h5"
cp "$work/out-kinds/model.h5" "$work/model.h5"
cp "$work/release.h5" "$work/release.h5.partial"
experiment onecol "$work/onecol.csv"
for n in 0 1 3; do
  expect_error "$n" "train\.csv: cannot open as an HDF5 file" inspect "$work/train.csv"
  expect_error "$n" "model\.h5: not a synthmpi release" export "$work/model.h5" --format csv \
    --output "$work/m.csv"
  [ -e "$work/m.csv" ] && fail "np=$n: export of a model wrote a file"
  expect_error "$n" "release\.h5\.partial: an unfinished file" export \
    "$work/release.h5.partial" --format csv --output "$work/p.csv"
  [ -e "$work/p.csv" ] && fail "np=$n: export of a .partial wrote a file"
  expect_error "$n" "train\.csv: cannot create the output directory" \
    export "$work/release.h5" --format csv --output "$work/train.csv/x.csv"
  expect_error "$n" "is a directory" export "$work/release.h5" --format csv --output "$work"
  rm -rf "$work/out-empty"
  expect_error "$n" "out-empty/model\.h5" sample "$work/empty.yaml"
  expect_error "$n" "release\.h5: not a synthmpi model" sample "$work/kinds.yaml" \
    --model "$work/release.h5"
  expect_error "$n" "out-empty/out\.h5" eval "$work/empty.yaml" --set "data.path=$work/train.csv"
  expect_error "$n" "release\.h5: 2 columns, but .*onecol\.csv has 1" eval "$work/onecol.yaml" \
    --release "$work/release.h5"
done

# an existing release is refused before fitting: the model is not rewritten
rm "$work/out-kinds/model.h5"
expect_error 2 "out\.h5 exists" run "$work/kinds.yaml"
[ -e "$work/out-kinds/model.h5" ] && fail "a run refused for its release still wrote a model"

# odd but valid input: works, and the same release at every rank count
experiment onerow "$work/onerow.csv"
experiment onecol "$work/onecol.csv"
experiment crlf "$work/crlf.csv"
experiment bom "$work/bom.csv"
experiment nan "$work/nan.csv"
experiment huge "$work/huge.csv" "$cont"
experiment const "$work/const.csv"
experiment rare "$work/rare.csv"
experiment quoted "$work/quoted.csv"
experiment wider "$work/train.csv" "" "holdout: {path: $work/wider.csv}
evaluation: {enabled: false}"
experiment unseen "$work/train.csv" "" "holdout: {path: $work/unseen.csv}
evaluation: {enabled: false}"
for name in onerow onecol crlf bom nan huge const rare quoted wider unseen; do
  for n in 1 2 3; do
    good "$n" "$name"
  done
  same_release "$name"
done
run_np 2 run "$work/unseen.yaml" --set sampling.overwrite=true
grep -q "unseen\.csv: column 'b': 1 values not among the training categories" "$work/stderr" ||
  fail "unseen: no warning about the unseen category"
head -1 "$work/bom-1.csv" | grep -q '^a,b' || fail "bom: the byte order mark is in a name"
run_np 3 run "$work/rare.yaml" --set sampling.overwrite=true
grep -q "common, rare (2 categories)" "$work/stderr" || fail "rare: a category seen on one rank lost"
grep -c '"' "$work/quoted-1.csv" >/dev/null || fail "quoted: no quoted text in the release"
cut -d, -f1 "$work/nan-1.csv" | grep -q NaN || fail "nan: NaN not kept as a category"

# without mpiexec (a singleton)
good 0 onerow

finish
