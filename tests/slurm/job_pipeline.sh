# slurm/pipeline.sh: fit -> sample -> eval as three jobs chained with afterok, sharing one
# run directory; all three COMPLETED, and the eval step found the release the sample step
# wrote with the model the fit step saved.
source "$(dirname "$0")/lib.sh"

out=$(bash slurm/pipeline.sh --ntasks=2 --output="$work/%x-%j.out" -- configs/adult-copula.yaml \
  "${data_sets[@]}" "${quick[@]}")
echo "$out"
fit=$(echo "$out" | awk '$1 == "fit" { print $2 }')
sample=$(echo "$out" | awk '$1 == "sample" { print $2 }')
evaluation=$(echo "$out" | awk '$1 == "eval" { print $2 }')
run_dir=$(echo "$out" | awk '$1 == "run_dir" { print $2 }')
[ -n "$fit" ] && [ -n "$sample" ] && [ -n "$evaluation" ] || fail "pipeline.sh printed no job ids"

# the chain as submitted
dep=$(job_field "$sample" Dependency)
case $dep in afterok:$fit*) ;; *) fail "sample depends on '$dep', want afterok:$fit" ;; esac

expect_completed "$fit" 150 "fit step"
expect_completed "$sample" 150 "sample step"
expect_completed "$evaluation" 150 "eval step"
for f in model.h5 adult-copula.h5 evaluation.json; do
  [ -s "$run_dir/$f" ] || fail "$run_dir/$f missing"
done
finish
