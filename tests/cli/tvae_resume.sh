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

# the reference: one uninterrupted fit and its release; then a fit stopped by SIGUSR1
fit_reference "$exp" "$work/straight" "${small[@]}"
fit_stopped "$exp" "$work/stopped" "${small[@]}"

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
