# Shared helpers for synthmpi's CLI tests (sourced by the test scripts).
#   SYNTHMPI_BIN   the program (set by ctest)
#   MPIEXEC        mpiexec (set by ctest)
#   SYNTHMPI_DATA  the real data sets
#   SYNTHMPI_SOURCE_DIR  the source tree (configs/)
set -u

fails=0
work=$(mktemp -d "${TMPDIR:-/tmp}/synthmpi-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
adult_data="$SYNTHMPI_DATA/tabular/adult/adult.data"
adult_test="$SYNTHMPI_DATA/tabular/adult/adult.test"

# run_np N ARGS...: run the program on N ranks (N=0: without mpiexec); sets rc, out, err.
run_np() {
  local n=$1
  shift
  if [ "$n" -eq 0 ]; then
    timeout 300 "$SYNTHMPI_BIN" "$@" >"$work/stdout" 2>"$work/stderr"
  else
    timeout 300 "$MPIEXEC" -n "$n" "$SYNTHMPI_BIN" "$@" >"$work/stdout" 2>"$work/stderr"
  fi
  rc=$?
  out=$(cat "$work/stdout")
  err=$(cat "$work/stderr")
}

fail() {
  echo "FAIL: $*" >&2
  echo "--- stderr:" >&2
  echo "$err" | head -20 >&2
  fails=$((fails + 1))
}

# expect_error N PATTERN ARGS...: exit code 2, exactly one error line matching PATTERN.
expect_error() {
  local n=$1 pattern=$2
  shift 2
  run_np "$n" "$@"
  local lines
  lines=$(grep -c '^synthmpi: error:' "$work/stderr")
  if [ "$rc" -eq 124 ]; then
    fail "np=$n $*: timed out (hang)"
  elif [ "$rc" -ne 2 ]; then
    fail "np=$n $*: exit code $rc, want 2"
  elif [ "$lines" -ne 1 ]; then
    fail "np=$n $*: $lines error lines, want 1"
  elif ! grep -q -E "^synthmpi: error: .*$pattern" "$work/stderr"; then
    fail "np=$n $*: error does not match '$pattern'"
  else
    echo "ok: np=$n $pattern"
  fi
}

# fit_reference EXPERIMENT DIR ARGS...: an uninterrupted fit on 2 ranks, then its release.
fit_reference() {
  local exp=$1 dir=$2
  shift 2
  run_np 2 fit "$exp" "$@" --set "runtime.output_dir=$dir"
  [ "$rc" -eq 0 ] || fail "uninterrupted fit: exit code $rc"
  run_np 2 sample "$exp" "$@" --set "runtime.output_dir=$dir"
  [ "$rc" -eq 0 ] || fail "uninterrupted sample: exit code $rc"
}

# fit_stopped EXPERIMENT DIR ARGS...: a fit on 2 ranks sent SIGUSR1 (mpiexec forwards it
# to every rank) once epoch 3 is logged; it must exit 4 with a checkpoint and no model.
fit_stopped() {
  local exp=$1 dir=$2 pid
  shift 2
  timeout 300 "$MPIEXEC" -n 2 "$SYNTHMPI_BIN" fit "$exp" "$@" \
    --set "runtime.output_dir=$dir" >"$work/stopped.out" 2>"$work/stopped.err" &
  pid=$!
  for _ in $(seq 2400); do
    grep -q "epoch 3/" "$work/stopped.err" 2>/dev/null && break
    sleep 0.1
  done
  # $! is timeout's PID: the signal goes to its child, mpiexec
  kill -USR1 "$(pgrep -P "$pid" | head -1)"
  wait "$pid"
  rc=$?
  err=$(cat "$work/stopped.err")
  [ "$rc" -eq 4 ] || fail "stopped fit: exit code $rc, want 4"
  grep -q "^synthmpi: error: stopped by a signal; checkpoint written" "$work/stopped.err" ||
    fail "stopped fit: no message about the checkpoint"
  [ -f "$dir/checkpoint.h5" ] || fail "stopped fit: no checkpoint"
  [ -f "$dir/model.h5" ] && fail "stopped fit: a model was written"
}

finish() {
  if [ "$fails" -ne 0 ]; then
    echo "$fails failed"
    exit 1
  fi
  echo "all passed"
  exit 0
}
