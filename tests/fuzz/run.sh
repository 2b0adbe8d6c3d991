#!/usr/bin/env bash
# run.sh replay|fuzz NAME PROGRAM "FLAGS" SEED_SPEC...
#
# replay: make the seed corpus (seeds.sh) in a scratch folder and run the replay program on
#   it and on regressions/NAME/ (every input must run to the end without a crash).
# fuzz: fuzz with the libFuzzer program for $SYNTHMPI_FUZZ_SECONDS (default 60) seconds,
#   starting from the seeds and the regressions. The corpus grows in
#   $SYNTHMPI_FUZZ_CORPUS/NAME (default ./fuzz-corpus/NAME), so later runs continue from
#   it; a crashing input is saved in ./fuzz-artifacts/NAME/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mode=$1 name=$2 program=$3 flags=$4
shift 4
regressions=$here/regressions/$name
extra=()
[ -d "$regressions" ] && extra=("$regressions")

case $mode in
replay)
  corpus=$(mktemp -d "${TMPDIR:-/tmp}/synthmpi-corpus.XXXXXX")
  trap 'rm -rf "$corpus"' EXIT
  bash "$here/seeds.sh" "$corpus" "$flags" "$@"
  "$program" "$corpus" "${extra[@]}"
  ;;
fuzz)
  corpus=${SYNTHMPI_FUZZ_CORPUS:-$PWD/fuzz-corpus}/$name
  artifacts=$PWD/fuzz-artifacts/$name
  mkdir -p "$corpus" "$artifacts"
  bash "$here/seeds.sh" "$corpus" "$flags" "$@"
  rc=0
  "$program" -max_total_time="${SYNTHMPI_FUZZ_SECONDS:-60}" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$corpus" "${extra[@]}" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "run.sh: fuzz_$name failed (exit $rc); the input is in $artifacts/." >&2
    echo "run.sh: fix the cause, then add the input to tests/fuzz/regressions/$name/" >&2
  fi
  exit "$rc"
  ;;
*)
  echo "usage: run.sh replay|fuzz NAME PROGRAM FLAGS SEED_SPEC..." >&2
  exit 2
  ;;
esac
