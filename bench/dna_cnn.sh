#!/usr/bin/env bash
# The neural DNA model (dna_cnn) on lambda phage: seconds per training step at 1 and 2
# ranks against the PyTorch baseline of the same network (bench/torch_dna_cnn.py) at 1 and
# 2 threads, bases per second sampled and written at 1 and 2 ranks, and held-out bits per
# base of dna_cnn against dna_markov (its order chosen by validation), with the winner.
#
# Seconds per step come from the run's own log (training time over the steps taken), so
# reading the data and sampling are left out. The PyTorch rows need torch in the Python
# found by bench_python (scripts/install-bench-deps.sh); without it they are skipped.
#
# usage: bench/dna_cnn.sh [EPOCHS [ROWS]]   (default 5 epochs for the timing runs, 400
#                                            sequences of 1,000 bases for sampling)
#   LAMBDA=path/lambda_virus.fa reads lambda from there instead of data/
set -euo pipefail
. "$(dirname "$0")/common.sh"
cnn=$repo/configs/dna-lambda-cnn.yaml
markov=$repo/configs/dna-lambda-markov.yaml
epochs=${1:-5}
rows=${2:-400}

[ -x "$bin" ] || bench_die "no program at $bin: run scripts/build.sh (or set SYNTHMPI_BIN)"
if [ -z "${LAMBDA:-}" ]; then
  bash "$repo/scripts/get-data.sh" --only dna >/dev/null ||
    bench_die "lambda phage is missing: run scripts/get-data.sh --only dna"
fi
lambda=${LAMBDA:-$repo/data/dna/lambda_virus.fa}
[ -r "$lambda" ] || bench_die "cannot read $lambda"
mkdir -p "$bench_dir"
out=$bench_dir/dna_cnn
sets=(--set "runtime.output_dir=$out" --set sampling.overwrite=true --set "data.path=$lambda")
echo "dna_cnn: $(nproc) cores, load average at start: $(cut -d ' ' -f 1-3 /proc/loadavg)"

# the model's settings as the config gives them (the baseline is built with the same)
setting() { sed -n "s/^ *$1: *\([0-9.e+-]*\).*/\1/p" "$cnn" | head -1; }
channels=$(setting channels) blocks=$(setting blocks) kernel=$(setting kernel)
batch=$(setting batch_size) lr=$(setting lr)

# seconds per step of a run's log: training seconds over epochs x steps per epoch
step_seconds() {
  local log=$1 steps seconds
  steps=$(sed -nE 's/.* ([0-9]+) epochs of ([0-9]+) steps.*/\1 \2/p' "$log" | awk '{print $1 * $2}')
  seconds=$(sed -nE 's/.*fitted dna_cnn: .*\(([0-9.]+) s\).*/\1/p' "$log")
  awk -v s="$seconds" -v n="$steps" 'BEGIN { printf "%.4f", s / n }'
}

# training: synthmpi ranks vs torch threads
printf '%-6s %-22s %-22s\n' cores "synthmpi s/step" "pytorch s/step"
python=""
python=$( (bench_python) 2>/dev/null) || python=""
for n in 1 2; do
  timed_mpi "$n" "$out-train-np$n.log" run "$cnn" "${sets[@]}" --set "model.epochs=$epochs" \
    --set sampling.rows=1 --set evaluation.enabled=false >/dev/null
  ours=$(step_seconds "$out-train-np$n.log")
  theirs="- (no torch)"
  if [ -n "$python" ]; then
    "$python" "$repo/bench/torch_dna_cnn.py" --data "$lambda" --threads "$n" --epochs "$epochs" \
      --channels "$channels" --blocks "$blocks" --kernel "$kernel" --batch "$batch" \
      --lr "$lr" >"$out-torch-t$n.log" 2>&1 ||
      bench_die "torch_dna_cnn.py failed ($out-torch-t$n.log)"
    theirs=$(awk '/^seconds_per_step:/ { printf "%.4f", $2 }' "$out-torch-t$n.log")
  fi
  printf '%-6s %-22s %-22s\n' "$n" "$ours" "$theirs"
done

# sampling speed with the shipped training budget
printf '\n%-6s %-14s %s\n' ranks sequences "bases per second (sample + write)"
for n in 1 2; do
  timed_mpi "$n" "$out-sample-np$n.log" run "$cnn" "${sets[@]}" --set "sampling.rows=$rows" \
    --set evaluation.enabled=false >/dev/null
  rate=$(grep -o '[0-9.e+]* bases/s' "$out-sample-np$n.log" | awk '{print $1}')
  printf '%-6s %-14s %s\n' "$n" "$rows" "$rate"
done

# held-out bits per base, both shipped experiments as they are
printf '\n%-12s %s\n' model "held-out bits/base (last 10 % of lambda)"
declare -A bits
for exp in "$cnn" "$markov"; do
  name=$(basename "$exp" .yaml)
  timed_mpi 2 "$out-$name.log" run "$exp" "${sets[@]}" --set sampling.rows=50 >/dev/null
  bits[$name]=$(sed -nE 's/.*held-out bits per base ([0-9.]+).*/\1/p' "$out-$name.log")
  printf '%-18s %s\n' "$name" "${bits[$name]}"
done
if [ -n "$python" ]; then
  printf '%-18s %s\n' "pytorch ($epochs ep)" \
    "$(awk '/^holdout_bits:/ { printf "%.4f", $2 }' "$out-torch-t2.log")"
fi
winner=$(awk -v a="${bits[dna-lambda-cnn]}" -v b="${bits[dna-lambda-markov]}" \
  'BEGIN { print (a < b) ? "dna_cnn" : "dna_markov" }')
echo "fewer held-out bits per base: $winner"
