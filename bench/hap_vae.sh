#!/usr/bin/env bash
# The neural haplotype model (hap_vae) on the 805-SNP haplotypes: seconds per training
# epoch at 1 and 2 ranks against the PyTorch baseline of the same network
# (bench/torch_hap_vae.py) at 1 and 2 threads, then haplotypes per second sampled and
# written at 1 and 2 ranks from one fitted model.
#
# synthmpi's seconds per epoch come from the run's own log (the median of the epochs after
# the first, see epoch_seconds in common.sh), so reading the data, sampling and evaluation
# are left out. The PyTorch rows need torch in the Python found by bench_python
# (scripts/install-bench-deps.sh); without it they are skipped.
#
# environment: EPOCHS (default 5), ROWS (haplotypes sampled, default 200000), RANKS
#              (default "1 2"), BENCH_DIR, SYNTHMPI_BIN, SYNTHMPI_MPIRUN, PYTHON
set -euo pipefail
EXPERIMENT=${EXPERIMENT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/configs/hap-805-vae.yaml}
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

epochs=${EPOCHS:-5}
rows=${ROWS:-200000}
ranks=${RANKS:-1 2}
[ -x "$bin" ] || bench_die "no program at $bin: run scripts/build.sh (or set SYNTHMPI_BIN)"
bash "$repo/scripts/get-data.sh" --only genomes >/dev/null ||
  bench_die "the 805-SNP haplotypes are missing: run scripts/get-data.sh --only genomes"
hapt=$repo/data/genomes/yelmen805/805_SNP_1000G_real.hapt
legend=$repo/data/genomes/yelmen805/805_SNP.legend
mkdir -p "$bench_dir"
work="$bench_dir/hap_vae"
logs="$bench_dir/logs"
rm -rf "$work"
mkdir -p "$work" "$logs"
trap 'rm -rf "$work"' EXIT
sets=(--set "data.path=$hapt" --set "data.legend=$legend" --set sampling.overwrite=true)
echo "hap_vae: $experiment, $epochs epochs, $(nproc) cores," \
  "load average at start: $(cut -d ' ' -f 1-3 /proc/loadavg)"

# the network's settings as the experiment gives them (the baseline is built with the same,
# and trains on as many rows as synthmpi's training split holds)
setting() { sed -n "s/^ *$1: *\([0-9.,e+-]*\).*/\1/p" "$experiment" | head -1; }
hidden=$(setting hidden_dims) latent=$(setting latent_dim) beta=$(setting beta)
batch=$(setting batch_size) lr=$(setting lr)

# training: synthmpi ranks vs torch threads
printf '%-6s %-20s %-20s\n' cores "synthmpi s/epoch" "pytorch s/epoch"
python=$( (bench_python) 2>/dev/null) || python=""
for n in $ranks; do
  log="$logs/hap_vae-train-np$n.log"
  timed_mpi "$n" "$log" fit "$experiment" "${sets[@]}" --set "model.epochs=$epochs" \
    --set "runtime.output_dir=$work/train-np$n" >/dev/null
  ours=$(epoch_seconds "$log" | median)
  train_rows=$(sed -nE 's/.*hap_vae: ([0-9]+) haplotypes x.*/\1/p' "$log" | head -1)
  theirs="- (no torch)"
  if [ -n "$python" ]; then
    "$python" "$repo/bench/torch_hap_vae.py" --hapt "$hapt" --threads "$n" --epochs "$epochs" \
      --hidden "$hidden" --latent "$latent" --beta "$beta" --batch "$batch" --lr "$lr" \
      --rows "${train_rows:-0}" >"$logs/hap_vae-torch-t$n.log" 2>&1 ||
      bench_die "torch_hap_vae.py failed ($logs/hap_vae-torch-t$n.log)"
    theirs=$(awk '/^seconds_per_epoch:/ { printf "%.4f", $2 }' "$logs/hap_vae-torch-t$n.log")
  fi
  printf '%-6s %-20s %-20s\n' "$n" "${ours:--}" "$theirs"
done

# sampling: one model (the timing fit on 1 rank), ROWS haplotypes at each rank count
model="$work/train-np1/model.h5"
[ -e "$model" ] || bench_die "the fit wrote no $model"
printf '\n%-6s %-10s %-12s %-22s\n' ranks rows seconds "haplotypes/s (writer)"
for n in $ranks; do
  log="$logs/hap_vae-sample-np$n.log"
  t=$(timed_mpi "$n" "$log" sample "$experiment" "${sets[@]}" --model "$model" \
    --set "sampling.rows=$rows" --set "runtime.output_dir=$work/sample-np$n")
  rate=$(sed -nE 's/.*release: wrote .* \(([0-9.]+) rows\/s.*/\1/p' "$log")
  printf '%-6s %-10s %-12s %-22s\n' "$n" "$rows" "$t" "${rate:--}"
  rm -rf "${work:?}/sample-np$n"
done
