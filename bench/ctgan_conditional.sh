#!/usr/bin/env bash
# CTGAN conditioned releases on Adult: fit configs/adult-ctgan.yaml for EPOCHS epochs, then
# release ROWS rows with native_country = India and income = >50K through the generator's
# conditional vector, and compare with plain rejection on the same model. Rejection's
# candidates are the model's unconditioned rows, so it is measured as an unconditioned
# release of as many rows as the conditioned release drew, filtered by the conditions.
# Prints, for each, the share of candidates that match and the matching rows per second of
# the release writer (the conditioned writer's time for its rows; for rejection, the
# unconditioned writer's time for the matches its rows hold).
#
# environment: EPOCHS (default 5), ROWS (default 2000), RANKS (default 1), BENCH_DIR
#              (default build/bench), SYNTHMPI_BIN, SYNTHMPI_MPIRUN (see scripts/mpi-launch.sh)
set -euo pipefail
EXPERIMENT=${EXPERIMENT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/configs/adult-ctgan.yaml}
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

epochs=${EPOCHS:-5}
rows=${ROWS:-2000}
ranks=${RANKS:-1}
bench_preflight
work="$bench_dir/ctgan_conditional"
logs="$bench_dir/logs"
rm -rf "$work"
mkdir -p "$work" "$logs"
trap 'rm -rf "$work"' EXIT
sets=(--set runtime.output_dir="$work" --set model.epochs="$epochs"
      --set evaluation.enabled=false --set sampling.compression=0)
cond=(--set sampling.conditions.native_country=India
      --set 'sampling.conditions.income=">50K"')

# the writer's seconds in a log: "release: wrote N rows to PATH in S s ..."
writer_seconds() { sed -n 's/.*release: wrote [0-9]* rows to .* in \([0-9.]*\) s.*/\1/p' "$1"; }

echo "ctgan_conditional: $epochs epochs, $rows rows, $ranks ranks, $(nproc) cores"
fit_s=$(timed_mpi "$ranks" "$logs/ctgan_conditional-fit.log" fit "$EXPERIMENT" "${sets[@]}")
echo "fit: $fit_s s"

# the conditional vector: candidates drawn and matched, from the release's closing line
log="$logs/ctgan_conditional-given.log"
timed_mpi "$ranks" "$log" sample "$EXPERIMENT" "${sets[@]}" "${cond[@]}" \
  --set sampling.rows="$rows" --set sampling.output=given.h5 >/dev/null
line=$(grep -o 'from [0-9]* drawn ([0-9]* of them matched' "$log") ||
  bench_die "no closing line in $log"
drawn=$(echo "$line" | awk '{ print $2 }')
matched=$(echo "$line" | awk '{ print $4 }' | tr -d '(')
given_s=$(writer_seconds "$log")

# rejection: the same number of unconditioned candidates, filtered here
log="$logs/ctgan_conditional-plain.log"
timed_mpi "$ranks" "$log" sample "$EXPERIMENT" "${sets[@]}" --set sampling.rows="$drawn" \
  --set sampling.output=plain.h5 >/dev/null
plain_s=$(writer_seconds "$log")
timed_mpi 1 "$logs/ctgan_conditional-export.log" export "$work/plain.h5" --format csv \
  -o "$work/plain.csv" >/dev/null
plain=$(awk -F, 'NR > 1 && $14 == "India" && $15 == ">50K"' "$work/plain.csv" | wc -l)

printf '\n%-20s %10s %10s %10s %12s\n' path candidates matched share rows_per_s
printf '%-20s %10d %10d %9.3f%% %12.0f\n' "conditional vector" "$drawn" "$matched" \
  "$(calc "100 * $matched / $drawn")" "$(calc "$rows / $given_s")"
printf '%-20s %10d %10d %9.3f%% %12.0f\n' rejection "$drawn" "$plain" \
  "$(calc "100 * $plain / $drawn")" "$(calc "$plain / $plain_s")"
