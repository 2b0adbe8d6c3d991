#!/usr/bin/env bash
# Quality of the Adult copula release: the evaluation figures (fidelity against training
# and held-out rows, train-on-synthetic utility) and what happens to the one-to-one pair
# education / education_num, which a copula cannot keep exactly.
#
# environment: RANKS (default 2), SEEDS (default "1 2 3"), BENCH_DIR, SYNTHMPI_BIN,
#              EXPERIMENT, SYNTHMPI_MPIRUN (see scripts/mpi-launch.sh)
set -euo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ranks=${RANKS:-2}
seeds=${SEEDS:-1 2 3}
bench_preflight
work="$bench_dir/adult_quality"
logs="$bench_dir/logs"
rm -rf "$work"
mkdir -p "$work" "$logs"
trap 'rm -rf "$work"' EXIT

# share of rows whose education_num is the one the real data pair with their education
pair_consistency() {
  awk -F, 'NR == FNR { if (FNR > 0) { gsub(/^ +/, "", $4); gsub(/^ +/, "", $5);
                                        real[$4] = $5 } next }
           FNR == 1 { next }
           { n++; if (real[$4] == $5) ok++ }
           END { printf "%.4f", ok / n }' "$repo/data/tabular/adult/adult.data" "$1"
}

printf '%5s %10s %10s %10s %10s %10s %10s %10s\n' seed overall_tr overall_ho shapes_tr \
  pairs_tr f1_real f1_synth edu_pair
for seed in $seeds; do
  out="$work/seed$seed"
  timed_mpi "$ranks" "$logs/adult_quality-$seed.log" run "$experiment" \
    --set runtime.output_dir="$out" --set sampling.seed="$seed" >/dev/null
  timed_mpi 1 "$logs/adult_quality-export-$seed.log" export "$out/adult-copula.h5" \
    --format csv --output "$out/synth.csv" >/dev/null
  edu=$(pair_consistency "$out/synth.csv")
  python3 - "$out/evaluation.json" "$seed" "$edu" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))
tr, ho, u = ev["vs_training"], ev["vs_holdout"], ev["utility"]
print(f"{sys.argv[2]:>5} {tr['overall']:10.4f} {ho['overall']:10.4f} "
      f"{tr['column_shapes']:10.4f} {tr['column_pairs']:10.4f} "
      f"{u['real']['macro_f1']:10.4f} {u['synthetic']['macro_f1']:10.4f} {sys.argv[3]:>10}")
PY
done
echo
echo "edu_pair: share of synthetic rows whose education_num matches their education"
echo "          as in the real data (1.0 in the real data)"
