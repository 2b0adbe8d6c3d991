#!/usr/bin/env bash
# Every model on Adult in one table: fit seconds, sampling rows/s (the release of 32,561
# rows, written to HDF5), overall fidelity (against the training and the held-out rows), train-on-synthetic AUC and macro F1 on adult.test (XGBoost, the
# same settings as for the real-data line), and the privacy metrics (distance to closest
# record, copies, membership-inference AUC). Private models are run at several epsilon.
#
# environment: RANKS (default 2), EPSILONS (default "0.5 1 3 10"), MODELS (default
#              "copula tvae ctgan realnvp tabddpm mst tvae-dp ctgan-dp"), TVAE_EPOCHS, CTGAN_EPOCHS
#              (default: the experiments' 300),
#              BENCH_DIR, SYNTHMPI_BIN, SYNTHMPI_MPIRUN (see scripts/mpi-launch.sh)
set -euo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ranks=${RANKS:-2}
epsilons=${EPSILONS:-0.5 1 3 10}
models=${MODELS:-copula tvae ctgan realnvp tabddpm mst tvae-dp ctgan-dp}
bench_preflight
work="$bench_dir/adult_models"
logs="$bench_dir/logs"
rm -rf "$work"
mkdir -p "$work" "$logs"
trap 'rm -rf "$work"' EXIT

# one run: LABEL CONFIG [--set ...]; prints a table row
one() {
  local label=$1 cfg=$2 out="$work/$1" t
  shift 2
  t=$(timed_mpi "$ranks" "$logs/adult_models-$label.log" run "$repo/configs/$cfg" \
    --set runtime.output_dir="$out" "$@")
  python3 - "$out/evaluation.json" "$label" "$t" "$logs/adult_models-$label.log" <<'PY'
import json, re, sys
ev = json.load(open(sys.argv[1]))
log = open(sys.argv[4]).read()
fit = re.search(r"fitted \S+ in ([0-9.]+) s", log)
wrote = re.search(r"release: wrote ([0-9]+) rows to \S+ in ([0-9.]+) s", log)
rate = int(wrote.group(1)) / max(float(wrote.group(2)), 1e-9) if wrote else float("nan")
tr, ho, u, p = ev["vs_training"], ev["vs_holdout"], ev["utility"], ev["privacy"]
mia = p["membership_inference"]
num = lambda v: float("nan") if v is None else v   # not computable (e.g. one class)
print(f"{sys.argv[2]:<14} {float(fit.group(1)) if fit else float('nan'):8.1f} {rate:9.0f} "
      f"{tr['overall']:8.4f} {ho['overall']:8.4f} {num(u['synthetic']['auc']):7.4f} "
      f"{num(u['synthetic']['macro_f1']):7.4f} {num(p['dcr']['synthetic_median']):7.4f} "
      f"{num(p['identical_rows']['synthetic_share']):7.4f} {num(mia['auc']):7.4f}")
PY
}

echo "adult_models: $ranks ranks, $(nproc) cores"
printf '%-14s %8s %9s %8s %8s %7s %7s %7s %7s %7s\n' model fit_s sample_r/s ovr_tr ovr_ho auc \
  f1 dcr_med copies mia_auc
for m in $models; do
  case $m in
    copula) one copula adult-copula.yaml ;;
    tvae) one tvae adult-tvae.yaml ${TVAE_EPOCHS:+--set model.epochs=$TVAE_EPOCHS} ;;
    mst) for e in $epsilons; do one "mst-eps$e" adult-mst.yaml --set privacy.epsilon="$e"; done ;;
    ctgan) one ctgan adult-ctgan.yaml ${CTGAN_EPOCHS:+--set model.epochs=$CTGAN_EPOCHS} ;;
    realnvp) one realnvp adult-realnvp.yaml ;;
    tabddpm) one tabddpm adult-tabddpm.yaml ;;
    tvae-dp) for e in $epsilons; do
        one "tvae-dp-eps$e" adult-tvae-dp.yaml --set privacy.epsilon="$e"
      done ;;
    ctgan-dp) for e in $epsilons; do
        one "ctgan-dp-eps$e" adult-ctgan-dp.yaml --set privacy.epsilon="$e"
      done ;;
    *) bench_die "unknown model '$m' (copula, tvae, ctgan, realnvp, tabddpm, mst, tvae-dp, ctgan-dp)" ;;
  esac
done
real=$(python3 -c 'import json,sys; u=json.load(open(sys.argv[1]))["utility"]["real"];
print("%.4f %.4f" % (u["auc"], u["macro_f1"]))' "$(ls "$work"/*/evaluation.json | head -1)")
echo
echo "real training rows, same classifier: AUC and macro F1 $real"
echo "sample_r/s: release rows per second, HDF5 write included; ovr: overall fidelity score;"
echo " dcr_med: median distance to the closest training row;"
echo "copies: share of synthetic rows identical to a training row; mia_auc: membership attack"
