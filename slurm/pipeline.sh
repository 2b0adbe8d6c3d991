#!/usr/bin/env bash
# Submit fit -> sample -> eval of one experiment as three chained jobs, each started only
# when the one before it completed (--dependency=afterok), for releases too large for one
# allocation: each step can ask for its own size and time.
#
# usage: slurm/pipeline.sh [sbatch options for all steps] -- EXPERIMENT [--set k=v]...
#   SYNTHMPI_FIT_OPTS, SYNTHMPI_SAMPLE_OPTS, SYNTHMPI_EVAL_OPTS: extra sbatch options of
#   one step (word-split), e.g. SYNTHMPI_SAMPLE_OPTS="--nodes=8 --ntasks=512 --time=4:00:00"
#
# Prints "fit <id>", "sample <id>", "eval <id>" and "run_dir <dir>". The three steps share
# runs/<name>-<fit job id>/. A step that fails cancels the steps after it.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage="usage: slurm/pipeline.sh [sbatch options] -- EXPERIMENT [--set key=value]..."

# sbatch options before "--", the experiment and its --set after it
opts=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  opts+=("$1")
  shift
done
[ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
shift
experiment=$1
shift
[ -r "$experiment" ] || { echo "pipeline.sh: cannot read $experiment" >&2; exit 2; }
experiment=$(cd "$(dirname "$experiment")" && pwd)/$(basename "$experiment")
name=$(basename "$experiment")
name=${name%.*}

# the steps' logs go beside the run directories unless -o/--output says otherwise
runs=${SYNTHMPI_RUNS:-$repo/runs}
mkdir -p "$runs"
export SYNTHMPI_HOME=${SYNTHMPI_HOME:-$repo}
opts=(--output="$runs/%x-%j.out" "${opts[@]}")
step=("$repo/slurm/step.sbatch")
chain=(--kill-on-invalid-dep=yes)

# fit: its run directory is the default one, runs/<name>-<job id>
read -r -a fit_opts <<<"${SYNTHMPI_FIT_OPTS:-}"
fit=$(sbatch --parsable --job-name="$name" "${opts[@]}" "${fit_opts[@]}" \
  "${step[@]}" --mode fit "$experiment" "$@")
fit=${fit%%;*}
run_dir="$runs/$name-$fit"

# sample and eval in the same directory, each after the step before it
read -r -a sample_opts <<<"${SYNTHMPI_SAMPLE_OPTS:-}"
sample=$(sbatch --parsable --job-name="$name-sample" --dependency="afterok:$fit" "${chain[@]}" \
  --export="ALL,SYNTHMPI_RUN_DIR=$run_dir" "${opts[@]}" "${sample_opts[@]}" \
  "${step[@]}" --mode sample "$experiment" "$@")
sample=${sample%%;*}
read -r -a eval_opts <<<"${SYNTHMPI_EVAL_OPTS:-}"
evaluation=$(sbatch --parsable --job-name="$name-eval" --dependency="afterok:$sample" \
  "${chain[@]}" --export="ALL,SYNTHMPI_RUN_DIR=$run_dir" "${opts[@]}" "${eval_opts[@]}" \
  "${step[@]}" --mode eval "$experiment" "$@")
evaluation=${evaluation%%;*}

echo "fit $fit"
echo "sample $sample"
echo "eval $evaluation"
echo "run_dir $run_dir"
