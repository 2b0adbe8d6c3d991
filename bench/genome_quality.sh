#!/usr/bin/env bash
# Quality of the shipped genome experiments: runs configs/hap-805-markov.yaml,
# configs/hap-805-vae.yaml and configs/vcf-1kg-markov.yaml end to end at RANKS ranks and
# prints, from each evaluation.json, the allele-frequency correlation with the training and
# held-out haplotypes, the LD |r^2| difference and AATS (training, held out). Targets on the
# 805 SNPs: correlation >= 0.99 and AATS in [0.45, 0.60].
#
# environment: RANKS (default 2), BENCH_DIR (default build/bench), SYNTHMPI_BIN,
#              SYNTHMPI_MPIRUN (see scripts/mpi-launch.sh)
set -euo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ranks=${RANKS:-2}
[ -x "$bin" ] || bench_die "no program at $bin: run scripts/build.sh (or set SYNTHMPI_BIN)"
bash "$repo/scripts/get-data.sh" --only genomes,vcf >/dev/null ||
  bench_die "the genome data are missing: run scripts/get-data.sh --only genomes,vcf"
work="$bench_dir/genome_quality"
logs="$bench_dir/logs"
rm -rf "$work"
mkdir -p "$work" "$logs"

printf '%-18s %8s %10s %10s %8s %8s %8s\n' experiment seconds af_train af_holdout ld_diff \
  aats_tr aats_ho
for name in hap-805-markov hap-805-vae vcf-1kg-markov; do
  s=$(timed_mpi "$ranks" "$logs/genome_quality-$name.log" run "$repo/configs/$name.yaml" \
    --set "runtime.output_dir=$work/$name")
  python3 - "$work/$name/evaluation.json" "$name" "$s" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))["genome"]
f = lambda k: "n/a" if g.get(k) is None else "%.4f" % g[k]
print("%-18s %8s %10s %10s %8s %8s %8s" % (sys.argv[2], sys.argv[3], f("af_corr_train"),
      f("af_corr_holdout"), f("ld_r2_mean_abs_diff"), f("aats_train"), f("aats_holdout")))
PY
done
