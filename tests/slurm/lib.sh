# Shared helpers for the Slurm tests (sourced). The cluster is the one tests/slurm/cluster.sh
# brought up (the slurm_cluster fixture); jobs are submitted from the source tree, with their
# logs and run directories in a fresh work directory.
#   SYNTHMPI_BIN, SYNTHMPI_DATA, SYNTHMPI_SOURCE_DIR, SYNTHMPI_SLURM_DIR  (set by ctest)
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! command -v sbatch >/dev/null 2>&1; then
  echo "SKIP: Slurm is not installed (tests/slurm/cluster.sh up installs it as root)"
  exit 77
fi
eval "$(bash "$here/cluster.sh" env)"
[ -f "$SYNTHMPI_SLURM_DIR/pids" ] || { echo "FAIL: the test cluster is not up"; exit 1; }

fails=0
work=$(mktemp -d "${TMPDIR:-/tmp}/synthmpi-slurm-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
export SYNTHMPI_RUNS=$work/runs
mkdir -p "$SYNTHMPI_RUNS"
cd "$SYNTHMPI_SOURCE_DIR"
data_sets=(--set "data.path=$SYNTHMPI_DATA/tabular/adult/adult.data"
  --set "holdout.path=$SYNTHMPI_DATA/tabular/adult/adult.test")
# a smaller release and evaluation, so each job takes seconds on a small machine
quick=(--set sampling.rows=8000 --set evaluation.max_rows=8000
  --set evaluation.utility_max_rows=8000 --set evaluation.classifier.rounds=30)

fail() {
  echo "FAIL: $*" >&2
  fails=$((fails + 1))
}

# submit SBATCH_ARGS...: prints the job id; logs go to $work/<name>-<id>.out
submit() {
  sbatch --parsable --output="$work/%x-%j.out" "$@" | cut -d';' -f1
}

# job_field ID FIELD: one field of 'scontrol show job' (first task of an array)
job_field() {
  scontrol -o show job "$1" 2>/dev/null | head -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# wait_job ID SECONDS: waits until the job has ended; prints its final state
wait_job() {
  local id=$1 limit=$2 state=""
  for _ in $(seq $((limit * 2))); do
    state=$(job_field "$id" JobState)
    case $state in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
        echo "$state"
        return 0
        ;;
    esac
    sleep 0.5
  done
  echo "TIMEOUT_WAITING($state)"
  scancel "$id" 2>/dev/null || true
}

# show_logs: every job log of this test, for a failure's context
show_logs() {
  for f in "$work"/*.out; do
    [ -e "$f" ] || continue
    echo "--- $f" >&2
    tail -n 40 "$f" >&2
  done
}

# expect_completed ID SECONDS WHAT: waits, then checks COMPLETED with exit code 0:0
expect_completed() {
  local state code
  state=$(wait_job "$1" "$2")
  code=$(job_field "$1" ExitCode)
  if [ "$state" = COMPLETED ] && [ "$code" = 0:0 ]; then
    echo "ok: $3: job $1 COMPLETED, exit code $code"
  else
    fail "$3: job $1 ended $state with exit code $code, want COMPLETED 0:0"
    show_logs
  fi
}

finish() {
  if [ "$fails" -ne 0 ]; then
    echo "$fails failed"
    exit 1
  fi
  echo "all passed"
  exit 0
}
