#!/usr/bin/env bash
# Wall time of 'synthmpi fit' on UCI Adult (the shipped Gaussian copula experiment) at
# 1 and 2 ranks, best of 3 runs each, from launch to exit (includes MPI start-up,
# reading the CSV and writing model.h5).
#
# environment: RANKS (default "1 2"), REPEAT (default 3), BENCH_DIR (default build/bench),
#              SYNTHMPI_BIN, EXPERIMENT, SYNTHMPI_MPIRUN (see scripts/mpi-launch.sh)
set -euo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ranks=${RANKS:-1 2}
repeat=${REPEAT:-3}
bench_preflight
work="$bench_dir/fit_adult"
logs="$bench_dir/logs"
mkdir -p "$logs"
trap 'rm -rf "$work"' EXIT

echo "fit_adult: $experiment, best of $repeat, $(nproc) cores"
printf '%6s %10s %9s  %s\n' ranks best_s speedup "all runs (s)"
base=""
for n in $ranks; do
  best=""
  all=""
  for ((i = 1; i <= repeat; i++)); do
    mkdir -p "$work/np$n"
    t=$(timed_mpi "$n" "$logs/fit_adult-np$n.log" fit "$experiment" \
      --set runtime.output_dir="$work/np$n" --set evaluation.enabled=false)
    [ -e "$work/np$n/model.h5" ] || bench_die "fit on $n ranks wrote no $work/np$n/model.h5"
    rm -rf "$work/np$n"
    all="$all $t"
    if [ -z "$best" ] || [ "$(calc "$t < $best")" = 1 ]; then best=$t; fi
  done
  [ -n "$base" ] || base=$best
  speedup=$(awk -v a="$base" -v b="$best" 'BEGIN { printf "%.2f", a / b }')
  printf '%6s %10s %9s %s\n' "$n" "$best" "$speedup" "$all"
done
