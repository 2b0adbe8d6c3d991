#!/usr/bin/env bash
# Seconds per CTGAN training epoch on UCI Adult: synthmpi at 1 and 2 ranks against the
# PyTorch CTGAN of the same architecture (bench/torch_ctgan.py) at 1 and 2 threads, all in
# one run on this machine, with OPENBLAS_NUM_THREADS=1 so that ranks (or torch threads) are
# the only parallelism.
#
# synthmpi's seconds per epoch come from its log (the median of the epochs after the
# first). The two programs take slightly different step counts per epoch (synthmpi
# ceil(rows / batch) = 66 on Adult, ctgan.CTGAN floor(rows / batch) = 65), so the
# comparison is made per step and shown per synthmpi epoch: torch's seconds per step times
# synthmpi's steps per epoch. Beside the times: synthmpi / PyTorch on the same cores, the
# 1 -> 2 scaling efficiency t1 / (2 t2), the FLOP count of one step and the GFLOP/s reached.
#
# environment: EPOCHS (default 5), RANKS (default "1 2"), THREADS (default: RANKS),
#              REPEAT (runs of each measurement, the smallest is kept; default 1),
#              BENCH_DIR, SYNTHMPI_BIN, EXPERIMENT (default configs/adult-ctgan.yaml),
#              SYNTHMPI_MPIRUN, PYTHON
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${EXPERIMENT:=$here/../configs/adult-ctgan.yaml}"
# shellcheck source=bench/common.sh
. "$here/common.sh"

epochs=${EPOCHS:-5}
repeat=${REPEAT:-1}
ranks=${RANKS:-1 2}
threads=${THREADS:-$ranks}
[ "$epochs" -ge 2 ] || bench_die "EPOCHS ($epochs) must be at least 2 (the first is warm-up)"
bench_preflight
python=$(bench_python)
work="$bench_dir/ctgan_epoch"
logs="$bench_dir/logs"
rm -rf "$work"
mkdir -p "$work" "$logs"
trap 'rm -rf "$work"' EXIT

echo "ctgan_epoch: $experiment, $epochs epochs, best of $repeat, $(nproc) cores," \
  "OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS for synthmpi"
echo "load average at start: $(cut -d ' ' -f 1-3 /proc/loadavg)"

# synthmpi at each rank count: the log's median epoch, best of $repeat
declare -A synth
for n in $ranks; do
  log="$logs/ctgan_epoch-np$n.log"
  for ((r = 0; r < repeat; r++)); do
    timed_mpi "$n" "$log" fit "$experiment" --set model.epochs="$epochs" \
      --set runtime.output_dir="$work/np$n" --set evaluation.enabled=false >/dev/null
    [ -e "$work/np$n/model.h5" ] || bench_die "fit on $n ranks wrote no model.h5 (log: $log)"
    rm -rf "${work:?}/np$n"
    synth[$n]=$(minof "$(epoch_seconds "$log" | median)" "${synth[$n]:-}")
  done
done
log1="$logs/ctgan_epoch-np${ranks%% *}.log"
steps=$(grep -o 'epochs of [0-9]\+ steps' "$log1" | head -n 1 | grep -o '[0-9]\+')
width=$(grep -o 'encoded as [0-9]\+ values' "$log1" | head -n 1 | grep -o '[0-9]\+')
cond=$(grep -o 'conditional vector of [0-9]\+' "$log1" | head -n 1 | grep -o '[0-9]\+')

# PyTorch at each thread count, the same data and epochs, best of $repeat
declare -A torch_step
for t in $threads; do
  out="$logs/ctgan_epoch-torch-t$t.log"
  for ((r = 0; r < repeat; r++)); do
    "$python" "$here/torch_ctgan.py" --data "$repo/data/tabular/adult/adult.data" \
      --epochs "$epochs" --threads "$t" >"$out" 2>&1 ||
      { tail -n 20 "$out" >&2; bench_die "torch_ctgan.py failed with $t threads"; }
    torch_step[$t]=$(minof "$(awk '/^seconds_per_step:/ { print $2 }' "$out")" \
      "${torch_step[$t]:-}")
  done
  torch_width=$(awk '/^width:/ { print $2 }' "$out")
  torch_cond=$(awk '/^cond:/ { print $2 }' "$out")
  torch_losses=$(awk '/^final_losses:/ { $1 = ""; print }' "$out")
done

# FLOPs of one step at width W and conditional width C, 2 x MACs of each product:
# generator G = (128 + C) 256 + (384 + C) 256 + (640 + C) W MACs per row, critic
# D = 10 (W + C) 256 + 256 256 + 256 per pack; per step the generator runs forward twice
# and backward once (2 products), 8 B G FLOPs; the critic 3 forwards, 2 weight backwards
# (2 products each), the penalty's input-gradient chain and its second backward
# (2 products), then a forward and an input gradient for the generator: 24 P D FLOPs.
gen_macs() { echo $(((128 + $2) * 256 + (384 + $2) * 256 + (640 + $2) * $1)); }
dis_macs() { echo $((10 * ($1 + $2) * 256 + 256 * 256 + 256)); }
step_flops() { calc "8 * 500 * $(gen_macs "$1" "$2") + 24 * 50 * $(dis_macs "$1" "$2")"; }
flops=$(step_flops "$width" "$cond")

fixed() { awk "BEGIN { printf \"%.$1f\", $2 }"; }
echo
echo "seconds per epoch of $steps steps (synthmpi: median of epochs 2..$epochs, best of" \
  "$repeat; torch: its seconds per step x $steps)"
row_format='%-6s %9s %9s %12s %8s %8s %13s\n'
# shellcheck disable=SC2059
printf "$row_format" cores synth torch synth/torch speedup GFLOP/s GFLOP/s/core
for n in $ranks; do
  s=${synth[$n]}
  tt=- ratio=- speed=-
  if [ -n "${torch_step[$n]:-}" ]; then
    tt=$(calc "${torch_step[$n]} * $steps")
    ratio=$(fixed 3 "$s / $tt") speed=$(fixed 2 "$tt / $s") tt=$(fixed 3 "$tt")
  fi
  g=$(calc "$flops * $steps / $s / 1e9")
  # shellcheck disable=SC2059
  printf "$row_format" "$n" "$(fixed 3 "$s")" "$tt" "$ratio" "$speed" "$(fixed 1 "$g")" \
    "$(fixed 1 "$g / $n")"
done
echo "(synth: synthmpi ranks; torch: threads; speedup = torch / synth)"
first=${ranks%% *} last=${ranks##* }
if [ "$first" != "$last" ]; then
  echo "scaling $first -> $last: synthmpi efficiency t$first / ($((last / first)) t$last) =" \
    "$(fixed 3 "${synth[$first]} / ($last / $first * ${synth[$last]})")"
fi
echo
echo "one step: width $width, conditional vector $cond (synthmpi log): $(calc "$flops / 1e9")" \
  "GFLOP; PyTorch: width $torch_width, conditional vector $torch_cond:" \
  "$(calc "$(step_flops "$torch_width" "$torch_cond") / 1e9") GFLOP"
echo "PyTorch final losses (critic, penalty, generator, conditional): $torch_losses"
echo "load average at the end: $(cut -d ' ' -f 1-3 /proc/loadavg) (other work on the machine" \
  "slows every figure above)"
