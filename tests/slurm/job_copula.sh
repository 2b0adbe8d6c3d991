# jobs/adult-copula.sbatch end to end on 2 tasks: srun starts both ranks, the release and its
# evaluation are written to the job's run directory, the job's exit code is the program's.
source "$(dirname "$0")/lib.sh"

id=$(submit --ntasks=2 jobs/adult-copula.sbatch "${data_sets[@]}" "${quick[@]}")
expect_completed "$id" 150 "adult-copula.sbatch"

run_dir=$SYNTHMPI_RUNS/adult-copula-$id
for f in adult-copula.h5 model.h5 evaluation.json experiment.txt job.txt; do
  [ -s "$run_dir/$f" ] || fail "$run_dir/$f missing or empty"
done
grep -q '^tasks: *2$' "$run_dir/job.txt" || fail "job.txt does not record 2 tasks"
grep -q "release: *$run_dir/adult-copula.h5" "$run_dir/job.txt" ||
  fail "job.txt does not record the release path"

# both ranks took part: the program logs the rank count once
grep -q "on 2 ranks" "$work/adult-copula-$id.out" || fail "the job log does not show 2 ranks"
rows=$("$SYNTHMPI_BIN" inspect "$run_dir/adult-copula.h5" 2>/dev/null | grep -c . || true)
[ "$rows" -gt 0 ] || fail "synthmpi inspect cannot read the release"
finish
