# shellcheck shell=bash
# Sourced by the benchmark scripts: paths, timing and the MPI launcher.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${SYNTHMPI_BIN:-$repo/build/synthmpi}
experiment=${EXPERIMENT:-$repo/configs/adult-copula.yaml}
bench_dir=${BENCH_DIR:-$repo/build/bench}
# shellcheck source=scripts/mpi-launch.sh
. "$repo/scripts/mpi-launch.sh"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

bench_die() {
  echo "${0##*/}: $*" >&2
  exit 1
}

# stop early when the program, the experiment or Adult is missing
bench_preflight() {
  [ -x "$bin" ] || bench_die "no program at $bin: run scripts/build.sh (or set SYNTHMPI_BIN)"
  [ -r "$experiment" ] || bench_die "cannot read the experiment $experiment"
  bash "$repo/scripts/get-data.sh" --only adult >/dev/null ||
    bench_die "the Adult data set is missing: run scripts/get-data.sh --only adult"
  mkdir -p "$bench_dir"
}

# seconds since the epoch with nanoseconds
now() { date +%s.%N; }

# run a command on N ranks and print its wall time in seconds; its output goes to LOG.
# usage: timed_mpi N LOG synthmpi-arguments...
timed_mpi() {
  local n=$1 log=$2 t0 t1 rc=0
  shift 2
  mpi_launch_cmd "$n"
  t0=$(now)
  "${MPI_LAUNCH[@]}" "$bin" "$@" >"$log" 2>&1 || rc=$?
  t1=$(now)
  if [ "$rc" -ne 0 ]; then
    echo "${0##*/}: '${MPI_LAUNCH[*]} synthmpi $*' exited $rc; its log:" >&2
    tail -n 20 "$log" >&2
    return "$rc"
  fi
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

# arithmetic on decimals: calc EXPR (awk syntax)
calc() { awk "BEGIN { printf \"%.6g\", $1 }"; }

# the Python interpreter that has PyTorch, NumPy, pandas and scikit-learn: $PYTHON, else
# Debian's /usr/bin/python3 (where scripts/install-bench-deps.sh puts them), else python3
bench_python() {
  local py
  for py in ${PYTHON:-} /usr/bin/python3 python3; do
    if command -v "$py" >/dev/null 2>&1 &&
      "$py" -c 'import torch, numpy, pandas, sklearn' >/dev/null 2>&1; then
      echo "$py"
      return 0
    fi
  done
  bench_die "no Python with torch, numpy, pandas and sklearn: run scripts/install-bench-deps.sh"
}

# the smallest and the largest of their arguments (numbers; empty arguments are skipped)
minof() { printf '%s\n' "$@" | sed '/^$/d' | sort -g | head -n 1; }
maxof() { printf '%s\n' "$@" | sed '/^$/d' | sort -g | tail -n 1; }

# median of the numbers on stdin, one per line (empty output when there are none)
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) exit
    if (NR % 2) printf "%.6g\n", v[(NR + 1) / 2]
    else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# seconds of each epoch in a synthmpi log, one number a line, the first epoch (warm-up)
# left out. Rank 0 logs "epoch K/N <losses>, R rows/s, ..." when an epoch ends, where R is
# the mean rate since training began over batch-sized steps; with the steps per epoch and
# the batch from the model's opening line ("..., batch B, N epochs of S steps ...") the
# time at the end of epoch K is K * S * B / R, and an epoch's time is the difference of
# two. Lines written inside an epoch repeat the previous K and are skipped.
epoch_seconds() {
  awk '
    match($0, /batch [0-9]+/) { batch = substr($0, RSTART + 6, RLENGTH - 6) + 0 }
    match($0, /epochs of [0-9]+ steps/) { steps = substr($0, RSTART + 10, RLENGTH - 16) + 0 }
    match($0, /epoch [0-9]+\/[0-9]+/) && match($0, /[0-9.]+ rows\/s/) {
      rate = substr($0, RSTART, RLENGTH - 7) + 0
      match($0, /epoch [0-9]+\//)
      k = substr($0, RSTART + 6, RLENGTH - 7) + 0
      if (k in seen || rate <= 0 || steps == 0 || batch == 0) next
      seen[k] = 1
      end = k * steps * batch / rate
      if (k > 1 && (k - 1) in at) printf "%.6f\n", end - at[k - 1]
      at[k] = end
    }' "$1"
}
