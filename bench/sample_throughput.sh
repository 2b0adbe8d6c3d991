#!/usr/bin/env bash
# Release-writing throughput: 10 million synthetic Adult rows from a fitted Gaussian copula,
# written uncompressed to one parallel HDF5 file at 1 and 2 ranks. The time is the whole
# 'synthmpi sample' command (start-up, loading model.h5, generating, writing, the sync
# before the rename), so it is what a user waits for. Beside it: the disk's raw
# sequential write speed with a sync (dd), the ratio of the two, and what deflate
# compression levels 1 and 4 cost against level 0.
#
# environment: ROWS (default 10000000), RANKS (default "1 2"), BENCH_DIR (default
#              build/bench), COMPRESS_RANKS (default: the last of RANKS), SYNTHMPI_BIN,
#              EXPERIMENT, SYNTHMPI_MPIRUN (see scripts/mpi-launch.sh)
# Needs free space for one release (about 1-2 GB at 10M rows) and 1 GiB for dd.
set -euo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rows=${ROWS:-10000000}
ranks=${RANKS:-1 2}
compress_ranks=${COMPRESS_RANKS:-${ranks##* }}
bench_preflight
work="$bench_dir/sample_throughput"
rm -rf "$work"
logs="$bench_dir/logs"
mkdir -p "$work" "$logs"
trap 'rm -rf "$work"' EXIT

echo "sample_throughput: $rows rows, $experiment, $(nproc) cores"
echo "bench dir: $work ($(df -h --output=avail "$work" | tail -n 1 | tr -d ' ') free)"

# fit once; every sample run reads the same model
fit_s=$(timed_mpi "$compress_ranks" "$logs/sample_throughput-fit.log" fit "$experiment" \
  --set runtime.output_dir="$work/model" --set evaluation.enabled=false)
model="$work/model/model.h5"
[ -e "$model" ] || bench_die "fit wrote no $model (log: $logs/sample_throughput-fit.log)"
echo "fit: ${fit_s} s on $compress_ranks ranks"

# sample N LEVEL: time one release of $rows rows; prints "seconds bytes"
sample() {
  local n=$1 level=$2 out="$work/np$1-c$2" t size
  t=$(timed_mpi "$n" "$logs/sample_throughput-np$n-c$level.log" \
    sample "$experiment" --model "$model" \
    --set runtime.output_dir="$out" --set sampling.output=release.h5 \
    --set sampling.rows="$rows" --set sampling.compression="$level" \
    --set sampling.overwrite=true --set evaluation.enabled=false)
  [ -e "$out/release.h5" ] || bench_die "sample on $n ranks wrote no $out/release.h5"
  size=$(stat -c %s "$out/release.h5")
  rm -rf "$out"
  echo "$t $size"
}

# raw sequential write speed of the same disk, synced; prints MB/s
disk_write_mbs() {
  local f="$work/dd.bin" t0 t1 bytes=$((16 * 1024 * 1024 * 64))
  t0=$(now)
  if ! dd if=/dev/zero of="$f" bs=16M count=64 oflag=direct conv=fsync 2>/dev/null; then
    # O_DIRECT is refused on some file systems (tmpfs, some network mounts)
    echo "dd: O_DIRECT refused here, measuring with conv=fsync only" >&2
    t0=$(now)
    dd if=/dev/zero of="$f" bs=16M count=64 conv=fsync 2>/dev/null ||
      bench_die "dd could not write $f"
  fi
  t1=$(now)
  rm -f "$f"
  calc "$bytes / 1e6 / ($t1 - $t0)"
}

# uncompressed releases at each rank count
echo
printf '%6s %9s %11s %12s %14s %9s\n' ranks seconds size_MB rows_per_s rows_per_s_core MB_per_s
declare -A mbs
for n in $ranks; do
  res=$(sample "$n" 0)
  read -r t size <<<"$res"
  rps=$(calc "$rows / $t")
  mbs[$n]=$(calc "$size / 1e6 / $t")
  printf '%6s %9s %11s %12.0f %14.0f %9s\n' "$n" "$t" "$(calc "$size / 1e6")" "$rps" \
    "$(calc "$rps / $n")" "${mbs[$n]}"
  if [ "$n" = "$compress_ranks" ]; then
    base_t=$t
    base_size=$size
  fi
done

# the disk beside it
disk=$(disk_write_mbs)
echo
echo "disk raw sequential write (dd 1 GiB, synced): $disk MB/s"
for n in $ranks; do
  echo "release / disk at $n ranks: $(calc "${mbs[$n]} / $disk")"
done

# compression: levels 1 and 4 against 0, same rows and ranks
echo
echo "compression on $compress_ranks ranks:"
printf '%6s %9s %11s %10s %10s\n' level seconds size_MB time_x size_x
if [ -z "${base_t:-}" ]; then
  res=$(sample "$compress_ranks" 0)
  read -r base_t base_size <<<"$res"
fi
printf '%6s %9s %11s %10s %10s\n' 0 "$base_t" "$(calc "$base_size / 1e6")" 1 1
for level in 1 4; do
  res=$(sample "$compress_ranks" "$level")
  read -r t size <<<"$res"
  printf '%6s %9s %11s %10s %10s\n' "$level" "$t" "$(calc "$size / 1e6")" \
    "$(calc "$t / $base_t")" "$(calc "$size / $base_size")"
done
