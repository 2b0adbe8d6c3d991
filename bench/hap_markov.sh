#!/usr/bin/env bash
# hap_markov generation speed: fit the order-8 Markov chain on the 805-SNP haplotypes once
# (configs/hap-805-markov.yaml), then release ROWS synthetic haplotypes with
# 'synthmpi sample' at each rank count, uncompressed. Prints the whole command's
# haplotypes/s (start-up, loading the model, generating, writing the HDF5 file) and the
# release writer's own rate from its log line. Target: 1,000,000 haplotypes in under 60 s
# on 2 cores.
#
# environment: ROWS (default 1000000), RANKS (default "1 2"), BENCH_DIR (default
#              build/bench), SYNTHMPI_BIN, SYNTHMPI_MPIRUN (see scripts/mpi-launch.sh)
# Needs free space for one release (about 0.8 GB at 1M haplotypes).
set -euo pipefail
EXPERIMENT=${EXPERIMENT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/configs/hap-805-markov.yaml}
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rows=${ROWS:-1000000}
ranks=${RANKS:-1 2}
[ -x "$bin" ] || bench_die "no program at $bin: run scripts/build.sh (or set SYNTHMPI_BIN)"
bash "$repo/scripts/get-data.sh" --only genomes >/dev/null ||
  bench_die "the 805-SNP haplotypes are missing: run scripts/get-data.sh --only genomes"
mkdir -p "$bench_dir"
work="$bench_dir/hap_markov"
logs="$bench_dir/logs"
rm -rf "$work"
mkdir -p "$work" "$logs"
trap 'rm -rf "$work"' EXIT

echo "hap_markov: $rows haplotypes x 805 SNPs, $experiment, $(nproc) cores"
fit_s=$(timed_mpi 1 "$logs/hap_markov-fit.log" fit "$experiment" \
  --set runtime.output_dir="$work/model")
model="$work/model/model.h5"
[ -e "$model" ] || bench_die "fit wrote no $model (log: $logs/hap_markov-fit.log)"
echo "fit: ${fit_s} s on 1 rank"

echo
printf '%6s %9s %14s %16s %18s\n' ranks seconds haps_per_s haps_per_s_core writer_haps_per_s
for n in $ranks; do
  out="$work/np$n" log="$logs/hap_markov-np$n.log"
  t=$(timed_mpi "$n" "$log" sample "$experiment" --model "$model" \
    --set runtime.output_dir="$out" --set sampling.output=release.h5 \
    --set sampling.rows="$rows" --set sampling.compression=0 \
    --set sampling.overwrite=true)
  [ -e "$out/release.h5" ] || bench_die "sample on $n ranks wrote no $out/release.h5"
  rm -rf "$out"

  # the writer's line: "release: wrote N haplotypes x V variants to PATH in S s (...)"
  ws=$(sed -n 's/.*release: wrote [0-9]* haplotypes x [0-9]* variants to .* in \([0-9.]*\) s.*/\1/p' \
    "$log" | tail -n 1)
  rps=$(calc "$rows / $t")
  printf '%6s %9s %14.0f %16.0f %18.0f\n' "$n" "$t" "$rps" "$(calc "$rps / $n")" \
    "$(calc "$rows / ${ws:-$t}")"
done
