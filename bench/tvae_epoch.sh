#!/usr/bin/env bash
# Seconds per TVAE training epoch on UCI Adult: synthmpi at 1 and 2 ranks against the
# CTGAN-recipe PyTorch TVAE (bench/torch_tvae.py) at 1 and 2 threads, all in one run on
# this machine, with OPENBLAS_NUM_THREADS=1 so that ranks (or torch threads) are the only
# parallelism. Beside the times: synthmpi / PyTorch on the same cores, synthmpi on all the
# cores against PyTorch's fastest setting on them, the 1 -> 2 scaling efficiency
# t1 / (2 t2), the FLOP count of one epoch (dense, as PyTorch computes it) and the GFLOP/s
# achieved, next to the single-thread SGEMM speed of OpenBLAS at the same shapes
# (build/bench/gemm_peak). synthmpi's first layer takes only each row's nonzeros, so it
# does less work than the dense count; the work it does is printed too.
#
# synthmpi's seconds per epoch come from the log (rank 0 writes one line per epoch with
# its time; the median of the epochs after the first) and, as a check that needs no log
# format, from whole fits: (t(EPOCHS) - t(BASE_EPOCHS)) / (EPOCHS - BASE_EPOCHS), which
# cancels start-up, reading, fitting the encoders and writing the model.
#
# environment: EPOCHS (default 10), BASE_EPOCHS (default 1), RANKS (default "1 2"),
#              THREADS (default: RANKS), WIDTH (encoded width for the FLOP count; default
#              from the synthmpi log, else the PyTorch width), BENCH_DIR, SYNTHMPI_BIN,
#              EXPERIMENT (default configs/adult-tvae.yaml), SYNTHMPI_MPIRUN, PYTHON,
#              GEMM_PEAK_BIN (default build/bench/gemm_peak), REPEAT (runs of each
#              measurement, the smallest is kept; default 3)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${EXPERIMENT:=$here/../configs/adult-tvae.yaml}"
# shellcheck source=bench/common.sh
. "$here/common.sh"

epochs=${EPOCHS:-10}
base_epochs=${BASE_EPOCHS:-1}
repeat=${REPEAT:-3}
ranks=${RANKS:-1 2}
threads=${THREADS:-$ranks}
gemm_bin=${GEMM_PEAK_BIN:-$repo/build/bench/gemm_peak}
[ "$epochs" -gt "$base_epochs" ] ||
  bench_die "EPOCHS ($epochs) must be larger than BASE_EPOCHS ($base_epochs)"
[ -x "$gemm_bin" ] || bench_die "no $gemm_bin: run scripts/build.sh (it builds bench/gemm_peak.c)"
bench_preflight
python=$(bench_python)
work="$bench_dir/tvae_epoch"
logs="$bench_dir/logs"
rm -rf "$work"
mkdir -p "$work" "$logs"
trap 'rm -rf "$work"' EXIT

echo "tvae_epoch: $experiment, $epochs epochs, best of $repeat, $(nproc) cores," \
  "OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS for synthmpi"
echo "load average at start: $(cut -d ' ' -f 1-3 /proc/loadavg)"

# fit N E: fit with E epochs on N ranks, best of $repeat; prints "wall_seconds
# log_median_epoch_seconds" (each the smallest over the repeats; "-" without epoch lines)
fit() {
  local n=$1 e=$2 log="$logs/tvae_epoch-np$1-e$2.log" r t med best_t="" best_med=""
  for ((r = 0; r < repeat; r++)); do
    t=$(timed_mpi "$n" "$log" fit "$experiment" --set model.epochs="$e" \
      --set runtime.output_dir="$work/np$n-e$e" --set evaluation.enabled=false)
    [ -e "$work/np$n-e$e/model.h5" ] || bench_die "fit on $n ranks wrote no model.h5 (log: $log)"
    rm -rf "${work:?}/np$n-e$e"
    med=$(epoch_seconds "$log" | median)
    best_t=$(minof "$t" "$best_t")
    best_med=$(minof "$med" "$best_med")
  done
  echo "$best_t ${best_med:--}"
}

# synthmpi at each rank count
declare -A synth synth_diff
for n in $ranks; do
  res=$(fit "$n" "$base_epochs")
  read -r t_base _ <<<"$res"
  res=$(fit "$n" "$epochs")
  read -r t_full med <<<"$res"
  synth_diff[$n]=$(calc "($t_full - $t_base) / ($epochs - $base_epochs)")
  # the log's median when it has epoch lines, else the difference of whole fits
  if [ "$med" != "-" ]; then synth[$n]=$med; else synth[$n]=${synth_diff[$n]}; fi
done

# PyTorch at each thread count, the same data and epochs, best of $repeat
declare -A torch
for t in $threads; do
  out="$logs/tvae_epoch-torch-t$t.log"
  for ((r = 0; r < repeat; r++)); do
    "$python" "$here/torch_tvae.py" --data "$repo/data/tabular/adult/adult.data" \
      --epochs "$epochs" --threads "$t" >"$out" 2>&1 ||
      { tail -n 20 "$out" >&2; bench_die "torch_tvae.py failed with $t threads"; }
    torch[$t]=$(minof "$(awk '/^seconds_per_epoch:/ { print $2 }' "$out")" "${torch[$t]:-}")
  done
  torch_width=$(awk '/^width:/ { print $2 }' "$out")
  rows=$(awk '/^rows:/ { print $2 }' "$out")
  torch_loss=$(awk '/^final_loss:/ { print $2 }' "$out")
done

# the encoded widths: synthmpi's from its log ("encoded as W values"), PyTorch's from its
# output; they differ where the encodings differ (synthmpi keeps "?" as missing, not as a
# category, and its mixtures may keep other mode counts)
log1="$logs/tvae_epoch-np${ranks%% *}-e$epochs.log"
synth_width=$(grep -o 'encoded as [0-9]\+ values' "$log1" | head -n 1 | grep -o '[0-9]\+' || true)
width=${WIDTH:-${synth_width:-$torch_width}}

# FLOPs of one epoch at width W: 2 * rows * sum(in * out) over the Linear layers, times 3
# for the backward; layers W->128, 128->128, mu and logvar 128->128, 128->128, 128->128,
# 128->W
weights() { echo $(($1 * 128 + 128 * 128 + 2 * 128 * 128 + 128 * 128 + 128 * 128 + 128 * $1)); }
macs=$(weights "$width")
flops=$(calc "2 * $rows * $macs * 3")
torch_flops=$(calc "2 * $rows * $(weights "$torch_width") * 3")

# the machine: single-thread SGEMM at these shapes
"$gemm_bin" "$width" >"$logs/tvae_epoch-gemm.log" || bench_die "gemm_peak failed"
peak=$(awk '/^peak_gflops:/ { print $2 }' "$logs/tvae_epoch-gemm.log")

# an expression with D decimals: fixed D EXPR
fixed() { awk "BEGIN { printf \"%.$1f\", $2 }"; }

# the table
echo
echo "seconds per epoch (median of epochs 2..$epochs, best of $repeat runs;" \
  "synth_diff: whole-fit difference)"
row_format='%-6s %9s %11s %9s %12s %8s %8s %13s\n'
# shellcheck disable=SC2059
printf "$row_format" cores synth synth_diff torch synth/torch speedup GFLOP/s GFLOP/s/core
for n in $ranks; do
  s=${synth[$n]}
  tt=${torch[$n]:-}
  ratio=- speed=- torch_cell=-
  # the same-cores comparison is of seconds per epoch, whatever each one's width
  if [ -n "$tt" ]; then
    ratio=$(fixed 3 "$s / $tt") speed=$(fixed 2 "$tt / $s") torch_cell=$(fixed 4 "$tt")
  fi
  g=$(calc "$flops / $s / 1e9")
  # shellcheck disable=SC2059
  printf "$row_format" "$n" "$(fixed 4 "$s")" "$(fixed 4 "${synth_diff[$n]}")" \
    "$torch_cell" "$ratio" "$speed" "$(fixed 1 "$g")" "$(fixed 1 "$g / $n")"
done
echo "(synth: synthmpi ranks, the log median when the log has epoch lines; torch: threads;"
echo " synth/torch < 1 means synthmpi is faster; speedup = torch / synth)"

echo
echo "PyTorch:"
printf '%-8s %12s %9s\n' threads sec/epoch GFLOP/s
for t in $threads; do
  printf '%-8s %12s %9s\n' "$t" "${torch[$t]}" "$(fixed 1 "$torch_flops / ${torch[$t]} / 1e9")"
done
echo "PyTorch: encoded width $torch_width, $(calc "$torch_flops / 1e9") GFLOP an epoch," \
  "final loss $torch_loss ($epochs epochs)"

# scaling 1 -> 2 (or first -> last of RANKS)
first=${ranks%% *} last=${ranks##* }
if [ "$first" != "$last" ]; then
  echo
  echo "scaling $first -> $last: synthmpi efficiency t$first / ($((last / first)) t$last) =" \
    "$(fixed 3 "${synth[$first]} / ($last / $first * ${synth[$last]})")"
  if [ -n "${torch[$first]:-}" ] && [ -n "${torch[$last]:-}" ]; then
    echo "                PyTorch efficiency (threads) =" \
      "$(fixed 3 "${torch[$first]} / ($last / $first * ${torch[$last]})")"
  fi
fi

echo
echo "one epoch: $rows rows, width $width${synth_width:+ (synthmpi log)}, $macs weights in the" \
  "Linear layers: $(calc "$flops / 1e9") GFLOP (2 * rows * weights * 3)"
echo "single-thread SGEMM at these shapes (gemm_peak, best forward shape): $peak GFLOP/s"
for n in $ranks; do
  echo "synthmpi at $n ranks: $(calc "$flops / ${synth[$n]} / 1e9 / $n / $peak * 100")% of" \
    "$n x that peak (dense count)"
done

# the work synthmpi does: its first layer's forward and weight gradient at the row's
# nonzeros (from its log), no input gradient there, every other layer dense
nnz=$(grep -o 'takes the [0-9]\+ nonzeros' "$log1" | head -n 1 | grep -o '[0-9]\+' || true)
if [ -n "$nnz" ]; then
  done_flops=$(calc "2 * $rows * (($macs - $width * 128) * 3 + $nnz * 128 * 2)")
  echo "synthmpi's first layer takes the $nnz nonzeros of each row: it does" \
    "$(calc "$done_flops / 1e9") GFLOP an epoch"
  for n in $ranks; do
    echo "synthmpi at $n ranks, work done: $(calc "$done_flops / ${synth[$n]} / 1e9 / $n / $peak * 100")%" \
      "of $n x that peak"
  done
fi

# all the cores: synthmpi on every rank against PyTorch's fastest thread count on them
if [ -n "${torch[$last]:-}" ]; then
  best_t=$last
  for t in $threads; do
    [ "$t" -le "$last" ] && [ "$(calc "${torch[$t]} < ${torch[$best_t]}")" = 1 ] && best_t=$t
  done
  echo
  echo "on $last cores: synthmpi ${synth[$last]} s per epoch at $last ranks, PyTorch's fastest" \
    "setting ${torch[$best_t]} s ($best_t threads): $(fixed 2 "${torch[$best_t]} / ${synth[$last]}")x"
fi
echo "load average at the end: $(cut -d ' ' -f 1-3 /proc/loadavg) (other work on the machine" \
  "slows every figure above)"
