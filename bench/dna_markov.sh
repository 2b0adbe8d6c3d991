#!/usr/bin/env bash
# DNA Markov model on lambda phage: held-out bits per base for each order k in a range, and
# bases per second sampled and written at 1 and 2 ranks (read from the run's own log line,
# which times the sampling and the collective write only).
#
# usage: bench/dna_markov.sh [K_MIN K_MAX [ROWS]]    (default 0 8, 2000 sequences of 1,000)
set -euo pipefail
. "$(dirname "$0")/common.sh"
experiment=$repo/configs/dna-lambda-markov.yaml
kmin=${1:-0}
kmax=${2:-8}
rows=${3:-2000}

[ -x "$bin" ] || bench_die "no program at $bin: run scripts/build.sh (or set SYNTHMPI_BIN)"
bash "$repo/scripts/get-data.sh" --only dna >/dev/null ||
  bench_die "lambda phage is missing: run scripts/get-data.sh --only dna"
mkdir -p "$bench_dir"
out=$bench_dir/dna_markov
sets=(--set "runtime.output_dir=$out" --set sampling.overwrite=true)

# held-out bits per base by order (1 rank, few sequences: the fit is what is measured)
printf '%-6s %-22s %-22s\n' order "held-out bits/base" "6-mer JSD (real: same)"
for k in $(seq "$kmin" "$kmax"); do
  timed_mpi 1 "$out-k$k.log" run "$experiment" "${sets[@]}" --set "model.order=$k" \
    --set sampling.rows=50 >/dev/null
  line=$(grep 'held-out bits per base' "$out-k$k.log")
  bits=$(sed -E 's/.*held-out bits per base ([0-9.]+).*/\1/' <<<"$line")
  jsd=$(sed -E 's/.*6-mer JSD ([0-9.]+) \(real vs real ([0-9.]+)\).*/\1 (\2)/' <<<"$line")
  printf '%-6s %-22s %-22s\n' "$k" "$bits" "$jsd"
done

# sampling speed at the order chosen by validation
printf '\n%-6s %-14s %s\n' ranks sequences "bases per second (sample + write)"
for n in 1 2; do
  timed_mpi "$n" "$out-np$n.log" run "$experiment" "${sets[@]}" --set "sampling.rows=$rows" \
    --set evaluation.enabled=false >/dev/null
  rate=$(grep -o '[0-9.e+]* bases/s' "$out-np$n.log" | awk '{print $1}')
  printf '%-6s %-14s %s\n' "$n" "$rows" "$rate"
done
