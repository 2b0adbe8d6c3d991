#!/usr/bin/env bash
# Seconds per TabDDPM training step on UCI Adult: synthmpi at 1 and 2 ranks against a
# PyTorch TabDDPM of the same architecture (bench/torch_tabddpm.py) at 1 and 2 threads, in
# one run on this machine, with OPENBLAS_NUM_THREADS=1 for synthmpi.
#
# synthmpi's time per step is the difference of two whole fits divided by the difference
# of their steps: (t(STEPS) - t(BASE_STEPS)) / (STEPS - BASE_STEPS), which cancels start-up,
# reading, the quantile transform and writing the model. Steps are rounded up to whole
# epochs by the model; the counts actually taken come from the fit's log.
#
# environment: STEPS (default 96), BASE_STEPS (default 32), RANKS (default "1 2"),
#              THREADS (default: RANKS), TORCH_STEPS (default 40), REPEAT (runs of each
#              measurement, the smallest kept; default 2), BENCH_DIR, SYNTHMPI_BIN,
#              EXPERIMENT (default configs/adult-tabddpm.yaml), SYNTHMPI_MPIRUN, PYTHON
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${EXPERIMENT:=$here/../configs/adult-tabddpm.yaml}"
# shellcheck source=bench/common.sh
. "$here/common.sh"

steps=${STEPS:-96}
base_steps=${BASE_STEPS:-32}
repeat=${REPEAT:-2}
ranks=${RANKS:-1 2}
threads=${THREADS:-$ranks}
torch_steps=${TORCH_STEPS:-40}
[ "$steps" -gt "$base_steps" ] ||
  bench_die "STEPS ($steps) must be larger than BASE_STEPS ($base_steps)"
bench_preflight
python=$(bench_python)
work="$bench_dir/tabddpm_step"
logs="$bench_dir/logs"
rm -rf "$work"
mkdir -p "$work" "$logs"
trap 'rm -rf "$work"' EXIT
echo "tabddpm_step: $experiment, fits of $base_steps and $steps steps, best of $repeat," \
  "$(nproc) cores; load average at start: $(cut -d ' ' -f 1-3 /proc/loadavg)"

# fit N S: the smallest wall time of $repeat fits of S steps on N ranks
fit() {
  local n=$1 e=$2 log="$logs/tabddpm_step-np$1-e$2.log" r t best=""
  for ((r = 0; r < repeat; r++)); do
    t=$(timed_mpi "$n" "$log" fit "$experiment" --set model.steps="$e" \
      --set runtime.output_dir="$work/np$n-e$e")
    [ -e "$work/np$n-e$e/model.h5" ] || bench_die "fit on $n ranks wrote no model.h5 (log: $log)"
    rm -rf "${work:?}/np$n-e$e"
    best=$(minof "$t" "$best")
  done
  echo "$best"
}

# the steps a fit took, from its log ("..., N steps (E epochs) on ...")
steps_taken() {
  grep -o '[0-9]\+ steps (' "$1" | head -n 1 | grep -o '[0-9]\+'
}

declare -A synth torch
for n in $ranks; do
  t_base=$(fit "$n" "$base_steps")
  t_full=$(fit "$n" "$steps")
  s_base=$(steps_taken "$logs/tabddpm_step-np$n-e$base_steps.log")
  s_full=$(steps_taken "$logs/tabddpm_step-np$n-e$steps.log")
  synth[$n]=$(calc "($t_full - $t_base) / ($s_full - $s_base)")
done
for t in $threads; do
  out="$logs/tabddpm_step-torch-t$t.log"
  for ((r = 0; r < repeat; r++)); do
    "$python" "$here/torch_tabddpm.py" --data "$repo/data/tabular/adult/adult.data" \
      --steps "$torch_steps" --threads "$t" >"$out" 2>&1 ||
      { tail -n 20 "$out" >&2; bench_die "torch_tabddpm.py failed with $t threads"; }
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
echo "(synth: synthmpi ranks; torch: threads; steps of batch 1024 at the experiment's" \
  "architecture; speedup = torch / synth)"
echo "load average at the end: $(cut -d ' ' -f 1-3 /proc/loadavg)"
