#!/usr/bin/env bash
# Seconds per RealNVP training step on UCI Adult: synthmpi at 1 and 2 ranks against a
# PyTorch RealNVP of the same architecture (bench/torch_realnvp.py) at 1 and 2 threads, in
# one run on this machine, with OPENBLAS_NUM_THREADS=1 for synthmpi.
#
# synthmpi's time per step is the difference of two whole fits divided by the difference
# of their steps: (t(EPOCHS) - t(BASE_EPOCHS)) / ((EPOCHS - BASE_EPOCHS) x steps per epoch),
# which cancels start-up, reading, the encoding, the held-out NLL and writing the model.
# The steps per epoch come from the fit's log (training rows and batch).
#
# environment: EPOCHS (default 3), BASE_EPOCHS (default 1), RANKS (default "1 2"),
#              THREADS (default: RANKS), TORCH_STEPS (default 60), REPEAT (runs of each
#              measurement, the smallest kept; default 2), BENCH_DIR, SYNTHMPI_BIN,
#              EXPERIMENT (default configs/adult-realnvp.yaml), SYNTHMPI_MPIRUN, PYTHON
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${EXPERIMENT:=$here/../configs/adult-realnvp.yaml}"
# shellcheck source=bench/common.sh
. "$here/common.sh"

epochs=${EPOCHS:-3}
base_epochs=${BASE_EPOCHS:-1}
repeat=${REPEAT:-2}
ranks=${RANKS:-1 2}
threads=${THREADS:-$ranks}
torch_steps=${TORCH_STEPS:-60}
[ "$epochs" -gt "$base_epochs" ] ||
  bench_die "EPOCHS ($epochs) must be larger than BASE_EPOCHS ($base_epochs)"
bench_preflight
python=$(bench_python)
work="$bench_dir/realnvp_step"
logs="$bench_dir/logs"
rm -rf "$work"
mkdir -p "$work" "$logs"
trap 'rm -rf "$work"' EXIT
echo "realnvp_step: $experiment, fits of $base_epochs and $epochs epochs, best of $repeat," \
  "$(nproc) cores; load average at start: $(cut -d ' ' -f 1-3 /proc/loadavg)"

# fit N E: the smallest wall time of $repeat fits of E epochs on N ranks
fit() {
  local n=$1 e=$2 log="$logs/realnvp_step-np$1-e$2.log" r t best=""
  for ((r = 0; r < repeat; r++)); do
    t=$(timed_mpi "$n" "$log" fit "$experiment" --set model.epochs="$e" \
      --set runtime.output_dir="$work/np$n-e$e")
    [ -e "$work/np$n-e$e/model.h5" ] || bench_die "fit on $n ranks wrote no model.h5 (log: $log)"
    rm -rf "${work:?}/np$n-e$e"
    best=$(minof "$t" "$best")
  done
  echo "$best"
}

# steps per epoch from a log: ceil(training rows / batch)
steps_per_epoch() {
  awk 'match($0, /[0-9]+ training rows/) { n = substr($0, RSTART, RLENGTH - 14) + 0 }
       match($0, /batch [0-9]+/) { b = substr($0, RSTART + 6, RLENGTH - 6) + 0 }
       END { if (b > 0) printf "%d\n", (n + b - 1) / b }' "$1"
}

declare -A synth torch
for n in $ranks; do
  t_base=$(fit "$n" "$base_epochs")
  t_full=$(fit "$n" "$epochs")
  spe=$(steps_per_epoch "$logs/realnvp_step-np$n-e$epochs.log")
  synth[$n]=$(calc "($t_full - $t_base) / (($epochs - $base_epochs) * $spe)")
done
for t in $threads; do
  out="$logs/realnvp_step-torch-t$t.log"
  for ((r = 0; r < repeat; r++)); do
    "$python" "$here/torch_realnvp.py" --data "$repo/data/tabular/adult/adult.data" \
      --steps "$torch_steps" --threads "$t" >"$out" 2>&1 ||
      { tail -n 20 "$out" >&2; bench_die "torch_realnvp.py failed with $t threads"; }
    torch[$t]=$(minof "$(awk '/^seconds_per_step:/ { print $2 }' "$out")" "${torch[$t]:-}")
  done
done

echo
printf '%-6s %12s %12s %12s %8s\n' cores synth_s/step torch_s/step synth/torch speedup
for n in $ranks; do
  tt=${torch[$n]:-}
  if [ -n "$tt" ]; then
    printf '%-6s %12.4f %12.4f %12.3f %8.2f\n' "$n" "${synth[$n]}" "$tt" \
      "$(calc "${synth[$n]} / $tt")" "$(calc "$tt / ${synth[$n]}")"
  else
    printf '%-6s %12.4f %12s %12s %8s\n' "$n" "${synth[$n]}" - - -
  fi
done
echo "(synth: synthmpi ranks; torch: threads; steps of batch 500 at the experiment's" \
  "architecture; speedup = torch / synth)"
echo "load average at the end: $(cut -d ' ' -f 1-3 /proc/loadavg)"
