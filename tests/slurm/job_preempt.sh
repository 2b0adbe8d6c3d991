# Pre-emption: jobs/adult-tvae.sbatch (small settings) gets SIGUSR1 in its batch shell while
# training, passes it to the job step, which writes a checkpoint and exits 4; the job
# requeues itself, starts again under the same id, resumes and completes. Its release must
# equal, column for column (h5diff /columns), that of an uninterrupted run at the same
# task count: the TVAE resume is bitwise exact.
source "$(dirname "$0")/lib.sh"

small=("${data_sets[@]}" --set model.epochs=30 --set model.embedding_dim=16
  --set model.compress_dims=32,32 --set model.decompress_dims=32,32 --set model.max_modes=4
  --set sampling.rows=5000 --set evaluation.enabled=false)

id=$(submit --ntasks=2 jobs/adult-tvae.sbatch "${small[@]}")
log=$work/adult-tvae-$id.out

# once it trains, the signal a pre-empting scheduler would send, to the batch shell only
for _ in $(seq 240); do
  grep -q 'epoch [0-9]*/30' "$log" 2>/dev/null && break
  sleep 0.5
done
if ! grep -q 'epoch [0-9]*/30' "$log" 2>/dev/null; then
  fail "the job never started training"
  show_logs
  finish
fi
scancel --signal=USR1 --batch "$id" || fail "scancel --signal=USR1 --batch $id"
echo "ok: USR1 sent to job $id"

# the first start stops with a checkpoint and requeues
for _ in $(seq 120); do
  grep -q 'requeueing job' "$log" && break
  sleep 0.5
done
grep -q 'exit code 4' "$log" || fail "the pre-empted step did not exit 4"
grep -q 'requeueing job' "$log" || fail "the job did not requeue itself"

# an uninterrupted run of the same experiment at the same task count, while the requeued
# job waits to start again
ref=$(submit --ntasks=2 jobs/adult-tvae.sbatch "${small[@]}")
expect_completed "$ref" 200 "uninterrupted reference"
expect_completed "$id" 240 "pre-empted job"
restarts=$(job_field "$id" Restarts)
[ "$restarts" = 1 ] && echo "ok: restarts $restarts" || fail "restarts '$restarts', want 1"
grep -q 'resuming from .*checkpoint.h5' "$log" || fail "the second start did not resume"

# the releases agree column for column
a=$SYNTHMPI_RUNS/adult-tvae-$id/adult-tvae.h5
b=$SYNTHMPI_RUNS/adult-tvae-$ref/adult-tvae.h5
if h5diff "$a" "$b" /columns /columns; then
  echo "ok: resumed release equals the uninterrupted one (h5diff /columns)"
else
  fail "h5diff /columns: the resumed release differs from the uninterrupted one"
  h5diff -r "$a" "$b" /columns /columns | head -n 20
fi
[ "$fails" -eq 0 ] || show_logs
finish
