#!/usr/bin/env bash
# seeds.sh DIR "FLAGS" SPEC...: write a seed corpus for a fuzz target into DIR.
#
# SPEC is data:<glob> (under $SYNTHMPI_DATA, the real data sets) or src:<glob> (under the
# source tree); .gz files are read decompressed. A file of at most 16 KiB is one seed; a
# larger one gives its first 40 lines and 40-line windows from 6 places spread through it,
# so the corpus stays small but covers the whole file. FLAGS ("12 52", hex bytes, or "")
# are settings bytes: each seed is written once per byte, with that byte in front.
# The corpus is made from the data at test time and never stored in the repository.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${SYNTHMPI_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
data=${SYNTHMPI_DATA:-$src/data}
out=$1
read -r -a flags <<<"$2"
shift 2
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/synthmpi-seeds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# emit NAME: the seed in $tmp/seed, written once per settings byte (or once as it is)
n=0
emit() {
  if [ "${#flags[@]}" -eq 0 ]; then
    cp "$tmp/seed" "$out/$1"
    return
  fi
  for f in "${flags[@]}"; do
    { printf "\\x$f"; cat "$tmp/seed"; } >"$out/$1-$f"
  done
}

# slices FILE: the seeds of one (decompressed) file
slices() {
  local file=$1 base lines step
  base=$(basename "$file")
  if [ "$(wc -c <"$file")" -le 16384 ]; then
    cp "$file" "$tmp/seed"
    emit "$base"
    return
  fi
  lines=$(wc -l <"$file")
  step=$((lines / 7 > 1 ? lines / 7 : 1))
  head -n 40 "$file" >"$tmp/seed"
  emit "$base-head"
  for k in 1 2 3 4 5 6; do
    sed -n "$((k * step)),$((k * step + 39))p" "$file" >"$tmp/seed"
    emit "$base-$k"
  done
}

for spec in "$@"; do
  case $spec in
  data:*) pattern="$data/${spec#data:}" ;;
  src:*) pattern="$src/${spec#src:}" ;;
  *) echo "seeds.sh: '$spec' is not data:<glob> or src:<glob>" >&2 && exit 2 ;;
  esac
  found=0
  for file in $pattern; do
    [ -f "$file" ] || continue
    found=1
    n=$((n + 1))
    case $file in
    *.gz) zcat "$file" >"$tmp/plain" ;;
    *) cp "$file" "$tmp/plain" ;;
    esac
    mv "$tmp/plain" "$tmp/$(basename "${file%.gz}")"
    slices "$tmp/$(basename "${file%.gz}")"
    rm -f "$tmp/$(basename "${file%.gz}")"
  done
  [ "$found" -eq 1 ] || { echo "seeds.sh: nothing matches $pattern" >&2 && exit 2; }
done
echo "seeds.sh: $(find "$out" -type f | wc -l) seeds from $n files in $out"
