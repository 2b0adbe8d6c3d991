#!/usr/bin/env bash
# TabDDPM with fewer reverse steps: one fitted model (MODEL, else a fit of the experiment
# with its defaults, or FIT_STEPS steps) releases ROWS rows with sample_steps in
# SAMPLE_STEPS ('synthmpi sample --set model.sample_steps=S').
# Prints, per count, the rows per second of 'synthmpi sample' (start-up, loading the model,
# generating and writing the release) and of generation alone (the release writer's "making
# rows" time, the slowest rank's), then the overall fidelity against the training rows and
# the train-on-synthetic macro F1 on adult.test from 'synthmpi eval'.
#
# environment: MODEL (a model.h5 of the experiment), FIT_STEPS (steps of the fit when no
#              MODEL), ROWS (default 32561), SAMPLE_STEPS (default "100 50 20 10"),
#              RANKS (default 2), EXPERIMENT (default configs/adult-tabddpm.yaml),
#              BENCH_DIR, SYNTHMPI_BIN, SYNTHMPI_MPIRUN (see scripts/mpi-launch.sh)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${EXPERIMENT:=$here/../configs/adult-tabddpm.yaml}"
# shellcheck source=bench/common.sh
. "$here/common.sh"

rows=${ROWS:-32561}
ranks=${RANKS:-2}
counts=${SAMPLE_STEPS:-100 50 20 10}
bench_preflight
work="$bench_dir/tabddpm_sampling"
logs="$bench_dir/logs"
rm -rf "$work"
mkdir -p "$work" "$logs"
trap 'rm -rf "$work"' EXIT
echo "tabddpm_sampling: $rows rows on $ranks ranks, $experiment, $(nproc) cores;" \
  "load average at start: $(cut -d ' ' -f 1-3 /proc/loadavg)"

# the model: given, or fitted once
model=${MODEL:-}
if [ -z "$model" ]; then
  t=$(timed_mpi "$ranks" "$logs/tabddpm_sampling-fit.log" fit "$experiment" \
    --set runtime.output_dir="$work/fit" ${FIT_STEPS:+--set model.steps=$FIT_STEPS})
  model="$work/fit/model.h5"
  echo "fit: $t s on $ranks ranks"
fi
[ -r "$model" ] || bench_die "no model file at $model"

printf '\n%12s %10s %12s %14s %10s %10s\n' sample_steps seconds rows_per_s generate_rows_s \
  fidelity macro_f1
for s in $counts; do
  out="$work/s$s" log="$logs/tabddpm_sampling-s$s.log"
  mkdir -p "$out"
  t=$(timed_mpi "$ranks" "$log" sample "$experiment" --model "$model" \
    --set model.sample_steps="$s" --set runtime.output_dir="$out" --set sampling.output=release.h5 \
    --set sampling.rows="$rows" --set sampling.overwrite=true)
  [ -e "$out/release.h5" ] || bench_die "sample with $s steps wrote no release (log: $log)"

  # the writer's line: "release: wrote N rows to PATH in S s (M MB/s); making rows G s, ..."
  gs=$(grep 'release: wrote [0-9]* rows to ' "$log" | tail -n 1 |
    sed -n 's/.*making rows \([0-9.]*\) s.*/\1/p')
  [ -n "$gs" ] || bench_die "no release line with timings in $log"
  timed_mpi "$ranks" "$logs/tabddpm_sampling-eval-s$s.log" eval "$experiment" \
    --release "$out/release.h5" --set runtime.output_dir="$out" >/dev/null
  python3 - "$out/evaluation.json" "$s" "$t" "$(calc "$rows / $t")" "$(calc "$rows / $gs")" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))
f1 = ev["utility"]["synthetic"]["macro_f1"]
print(f"{sys.argv[2]:>12} {float(sys.argv[3]):10.2f} {float(sys.argv[4]):12.0f} "
      f"{float(sys.argv[5]):14.0f} {ev['vs_training']['overall']:10.4f} "
      f"{float('nan') if f1 is None else f1:10.4f}")
PY
  rm -f "$out/release.h5"
done
echo "(seconds and rows_per_s: the whole 'synthmpi sample' command; generate_rows_s: rows"
echo " over the slowest rank's generation time; fidelity: overall against the training rows;"
echo " macro_f1: XGBoost trained on the release, tested on adult.test)"
echo "load average at the end: $(cut -d ' ' -f 1-3 /proc/loadavg)"
