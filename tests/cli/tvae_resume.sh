#!/usr/bin/env bash
# Pre-emption under mpirun: SIGUSR1 in the middle of a TVAE fit makes every rank write a
# checkpoint and exit 4; `fit --resume` finishes it, and the release sampled from the
# resumed model equals the one from an uninterrupted fit.
. "$(dirname "$0")/lib.sh"

exp="$SYNTHMPI_SOURCE_DIR/configs/adult-tvae.yaml"
small=(--set "data.path=$adult_data" --set "holdout.path=$adult_test"
       --set model.epochs=60 --set model.embedding_dim=8 --set model.compress_dims=16
       --set model.decompress_dims=16 --set model.batch_size=2000
       --set sampling.rows=2000 --set evaluation.enabled=false)

# the reference: one uninterrupted fit, then a release
run_np 2 fit "$exp" "${small[@]}" --set "runtime.output_dir=$work/straight"
[ "$rc" -eq 0 ] || fail "uninterrupted fit: exit code $rc"
run_np 2 sample "$exp" "${small[@]}" --set "runtime.output_dir=$work/straight"
[ "$rc" -eq 0 ] || fail "uninterrupted sample: exit code $rc"

# interrupted: SIGUSR1 to mpiexec (it forwards the signal to every rank) once training runs
timeout 300 "$MPIEXEC" -n 2 "$SYNTHMPI_BIN" fit "$exp" "${small[@]}" \
  --set "runtime.output_dir=$work/stopped" >"$work/stopped.out" 2>"$work/stopped.err" &
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
[ -f "$work/stopped/checkpoint.h5" ] || fail "stopped fit: no checkpoint"
[ -f "$work/stopped/model.h5" ] && fail "stopped fit: a model was written"

# resume to the end, then the same release
run_np 2 fit "$exp" "${small[@]}" --set "runtime.output_dir=$work/stopped" --resume
[ "$rc" -eq 0 ] || fail "resumed fit: exit code $rc"
run_np 2 sample "$exp" "${small[@]}" --set "runtime.output_dir=$work/stopped"
[ "$rc" -eq 0 ] || fail "sample from the resumed fit: exit code $rc"
if h5diff "$work/straight/adult-tvae.h5" "$work/stopped/adult-tvae.h5" /columns /columns \
  >"$work/diff" 2>&1; then
  echo "ok: resumed fit gives the same release"
else
  err=$(head -20 "$work/diff")
  fail "the resumed fit's release differs from the uninterrupted one"
fi

# resuming with a changed experiment is refused
run_np 1 fit "$exp" "${small[@]}" --set "runtime.output_dir=$work/stopped" --resume \
  --set model.lr=0.01
[ "$rc" -eq 2 ] && grep -q "different experiment" "$work/stderr" ||
  fail "resume with a changed experiment: exit code $rc"
finish
