# jobs/adult-copula-sweep.sbatch: a job array of 3 tasks runs the 3 points of the sweep
# (sampling.seed 1, 2, 3), each in its own run directory; synthmpi summary lists 3 rows with
# the swept seed, and the CSV holds the same rows.
source "$(dirname "$0")/lib.sh"

id=$(submit --ntasks=1 jobs/adult-copula-sweep.sbatch "${data_sets[@]}" "${quick[@]}")
for t in 0 1 2; do
  expect_completed "${id}_$t" 200 "sweep task $t"
done

# each task ran its own point
dirs=()
for t in 0 1 2; do
  d=$SYNTHMPI_RUNS/adult-copula-sweep-${id}_$t
  dirs+=("$d")
  want="$t sampling.seed=$((t + 1))"
  got=$(cat "$d/sweep.txt" 2>/dev/null)
  [ "$got" = "$want" ] || fail "task $t: sweep.txt is '$got', want '$want'"
  [ -s "$d/evaluation.json" ] || fail "task $t: no evaluation.json in $d"
  grep -q '^  seed: '"$((t + 1))"'$' "$d/experiment.txt" ||
    fail "task $t: the resolved experiment does not have sampling.seed $((t + 1))"
done

# the summary: 3 rows, the seed as the one swept column
"$SYNTHMPI_BIN" summary "${dirs[@]}" --output "$work/summary.csv" >"$work/table.txt" ||
  fail "synthmpi summary failed"
cat "$work/table.txt"
rows=$(grep -c "adult-copula-sweep-${id}_" "$work/table.txt")
[ "$rows" -eq 3 ] || fail "summary table has $rows rows, want 3"
header=$(head -n 1 "$work/summary.csv")
case $header in
  point,sampling.seed,overall_vs_training,*utility_auc,utility_f1*) echo "ok: CSV header $header" ;;
  *) fail "CSV header '$header'" ;;
esac
seeds=$(tail -n +2 "$work/summary.csv" | cut -d, -f2 | tr '\n' ' ')
[ "$seeds" = "1 2 3 " ] || fail "CSV seeds '$seeds', want '1 2 3 '"

# every metric is a number in [0, 1] (fidelity scores, AUC, F1)
bad=$(tail -n +2 "$work/summary.csv" | awk -F, '{ for (i = 3; i <= 10; i++)
        if ($i == "" || $i < 0 || $i > 1) print NR ":" i "=" $i }')
[ -z "$bad" ] || fail "metrics out of [0, 1] or missing: $bad"
finish
