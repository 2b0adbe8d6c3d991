#!/usr/bin/env bash
# MST sampling speed: fit MST on Adult once (configs/adult-mst.yaml), then release ROWS
# synthetic rows with 'synthmpi sample' at each rank count, uncompressed. Prints, per
# core, three rates: the whole command's (start-up, loading the model, generating,
# writing the HDF5 file), the release writer's (generating and writing, from its log
# line), and generation alone (the model's sampling and the conversion to stored types,
# the writer's "making rows" time: the slowest rank's, for its share of the rows).
#
# environment: ROWS (default 20000000), RANKS (default "1 2"), BENCH_DIR (default
#              build/bench), SYNTHMPI_BIN, SYNTHMPI_MPIRUN (see scripts/mpi-launch.sh)
# Needs free space for one release (about 2.5 GB at 20M rows).
set -euo pipefail
EXPERIMENT=${EXPERIMENT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/configs/adult-mst.yaml}
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rows=${ROWS:-20000000}
ranks=${RANKS:-1 2}
bench_preflight
work="$bench_dir/mst_sampling"
logs="$bench_dir/logs"
rm -rf "$work"
mkdir -p "$work" "$logs"
trap 'rm -rf "$work"' EXIT

echo "mst_sampling: $rows rows, $experiment, $(nproc) cores"
fit_s=$(timed_mpi 1 "$logs/mst_sampling-fit.log" fit "$experiment" \
  --set runtime.output_dir="$work/model" --set evaluation.enabled=false)
model="$work/model/model.h5"
[ -e "$model" ] || bench_die "fit wrote no $model (log: $logs/mst_sampling-fit.log)"
echo "fit: ${fit_s} s on 1 rank"

echo
printf '%6s %9s %14s %16s %18s %18s\n' ranks seconds rows_per_s rows_per_s_core \
  writer_rows_s_core generate_rows_s_core
for n in $ranks; do
  out="$work/np$n" log="$logs/mst_sampling-np$n.log"
  t=$(timed_mpi "$n" "$log" sample "$experiment" --model "$model" \
    --set runtime.output_dir="$out" --set sampling.output=release.h5 \
    --set sampling.rows="$rows" --set sampling.compression=0 \
    --set sampling.overwrite=true --set evaluation.enabled=false)
  [ -e "$out/release.h5" ] || bench_die "sample on $n ranks wrote no $out/release.h5"
  rm -rf "$out"

  # the writer's line: "release: wrote N rows to PATH in S s (M MB/s); making rows G s,
  # writing W s"
  line=$(grep 'release: wrote [0-9]* rows to ' "$log" | tail -n 1)
  ws=$(echo "$line" | sed -n 's/.* in \([0-9.]*\) s (.*/\1/p')
  gs=$(echo "$line" | sed -n 's/.*making rows \([0-9.]*\) s.*/\1/p')
  [ -n "$ws" ] && [ -n "$gs" ] || bench_die "no release line with timings in $log"
  rps=$(calc "$rows / $t")
  printf '%6s %9s %14.0f %16.0f %18.0f %18.0f\n' "$n" "$t" "$rps" "$(calc "$rps / $n")" \
    "$(calc "$rows / $ws / $n")" "$(calc "$rows / $n / $gs")"
done
