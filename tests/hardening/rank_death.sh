#!/usr/bin/env bash
# A rank dies: SIGKILL to one rank of a 3-rank job under mpiexec, once in the middle of a
# TVAE fit and once in the middle of writing a release. Open MPI aborts the job when one of
# its processes dies, so the job must end with a non-zero code within BOUND seconds of the
# kill (a hang check, not a speed target). The last checkpoint must still load (the fit
# resumes from it and finishes), and no release may exist under its final name.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/lib.sh"

BOUND=30

exp="$SYNTHMPI_SOURCE_DIR/configs/adult-tvae.yaml"
tvae=(--set "data.path=$adult_data" --set "holdout.path=$adult_test" --set model.epochs=40
      --set model.embedding_dim=8 --set model.compress_dims=16 --set model.decompress_dims=16
      --set model.batch_size=2000 --set model.checkpoint_every=1 --set sampling.rows=2000
      --set evaluation.enabled=false --set "runtime.output_dir=$work/fit")

# --- mid-fit: rank 1 dies after a few checkpoints
start_job fit 3 fit "$exp" "${tvae[@]}"
wait_for 120 logged "$work/fit.err" "epoch 3/" || fail "the fit did not reach epoch 3"
wait_for 30 test -f "$work/fit/checkpoint.h5" || fail "no checkpoint written"
victim=$(rank_pid 1) || fail "rank 1 of the fit not found"
t0=$(date +%s.%N)
kill -KILL "$victim"
end_job fit
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
  fail "fit with a dead rank: exit code $rc, want non-zero (124: still running after 120 s)"
elif ! within "$BOUND"; then
  fail "fit with a dead rank: ended after $elapsed s, bound $BOUND s"
else
  echo "ok: fit with rank 1 killed ended with exit code $rc after $elapsed s (bound $BOUND s)"
fi
[ -e "$work/fit/model.h5" ] && fail "a model was written by a fit that lost a rank"

# the last checkpoint loads: the fit resumes from it and finishes, and samples
[ -f "$work/fit/checkpoint.h5" ] || fail "the checkpoint is gone"
run_np 3 fit "$exp" "${tvae[@]}" --resume
if [ "$rc" -ne 0 ] || ! grep -q "resuming from .*checkpoint.h5 at epoch" "$work/stderr"; then
  fail "resume from the checkpoint left by the dead job: exit code $rc"
else
  echo "ok: resumed from the checkpoint ($(grep -o 'at epoch [0-9]*' "$work/stderr"))"
fi
run_np 3 sample "$exp" "${tvae[@]}"
[ "$rc" -eq 0 ] && [ -f "$work/fit/adult-tvae.h5" ] || fail "sample after resume: exit code $rc"

# --- mid-write: rank 0 (the one that renames) dies while the release is being written
copula="$SYNTHMPI_SOURCE_DIR/configs/adult-copula.yaml"
big=(--set "data.path=$adult_data" --set "holdout.path=$adult_test" --set sampling.rows=30000000
     --set sampling.compression=1 --set "runtime.output_dir=$work/write")
release="$work/write/adult-copula.h5"
start_job write 3 run "$copula" "${big[@]}"
wait_for 120 bigger_than "$release.partial" 2000000 || fail "the release was not being written"
victim=$(rank_pid 0) || fail "rank 0 of the write not found"
t0=$(date +%s.%N)
kill -KILL "$victim"
end_job write
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
  fail "write with a dead rank: exit code $rc, want non-zero (124: still running after 120 s)"
elif ! within "$BOUND"; then
  fail "write with a dead rank: ended after $elapsed s, bound $BOUND s"
else
  echo "ok: write with rank 0 killed ended with exit code $rc after $elapsed s (bound $BOUND s)"
fi
[ -e "$release" ] && fail "a release exists under its final name after rank 0 died"
[ -e "$work/write/evaluation.json" ] && fail "an evaluation was written"
if [ -e "$release.partial" ]; then
  # what is left is marked unfinished, and synthmpi refuses to read it as a release
  expect_error 0 "an unfinished file" export "$release.partial" --format csv \
    --output "$work/p.csv"
fi
finish
