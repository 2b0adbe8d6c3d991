# Shared helpers for the hardening tests (sourced after tests/cli/lib.sh): jobs started in
# the background under mpiexec, the PIDs of their ranks, and polling.

# start_job NAME N ARGS...: the program on N ranks in the background (N=0: without
# mpiexec), with a 120 s limit; output in $work/NAME.out and .err; sets job (the PID of
# timeout, whose child is mpiexec or the program).
start_job() {
  local name=$1 n=$2
  shift 2
  if [ "$n" -eq 0 ]; then
    timeout 120 "$SYNTHMPI_BIN" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  else
    timeout 120 "$MPIEXEC" -n "$n" "$SYNTHMPI_BIN" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  fi
  job=$!
}

# launcher_pid: the PID of the job's mpiexec (or of the program itself without mpiexec)
launcher_pid() {
  pgrep -P "$job" | head -1
}

# rank_pid RANK: the PID of that rank of the running job (from its OMPI_COMM_WORLD_RANK)
rank_pid() {
  local p
  for p in $(pgrep -P "$(launcher_pid)"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# wait_for SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds; 1 on time out
wait_for() {
  local tenths=$(($1 * 10))
  shift
  for _ in $(seq "$tenths"); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

# logged FILE PATTERN: FILE has a line matching the extended regular expression
logged() {
  grep -q -E "$2" "$1" 2>/dev/null
}

# bigger_than FILE BYTES: FILE exists and has more than BYTES bytes
bigger_than() {
  [ -f "$1" ] && [ "$(stat -c %s "$1")" -gt "$2" ]
}

# end_job: wait for the job; sets rc (its exit code) and elapsed (seconds since $t0)
end_job() {
  wait "$job"
  rc=$?
  elapsed=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
  err=$(cat "$work/$1.err")
}

# within SECONDS: elapsed is below SECONDS
within() {
  awk -v e="$elapsed" -v b="$1" 'BEGIN { exit !(e < b) }'
}
