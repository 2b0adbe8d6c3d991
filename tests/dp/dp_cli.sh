#!/bin/bash
# Private runs from the command line: a budget the plan cannot meet exits 3 before training;
# an undeclared domain exits 2 before the data file is opened; a reproducible DP-TVAE run on
# Adult writes a release whose ledger `synthmpi inspect` shows, and its evaluation tables
# are printed column-aligned.
. "$(dirname "$0")/../cli/lib.sh"
exp="$SYNTHMPI_SOURCE_DIR/configs/adult-tvae-dp.yaml"
small=(--set "data.path=$adult_data" --set "holdout.path=$adult_test"
       --set model.embedding_dim=8 --set model.compress_dims=16 --set model.decompress_dims=16
       --set model.epochs=1 --set model.batch_size=4000 --set "runtime.output_dir=$work/run")

# a given noise multiplier too small for the budget: exit 3 with the epsilon it would spend
run_np 2 fit "$exp" "${small[@]}" --set privacy.noise_multiplier=0.3 --set privacy.epsilon=0.5
[ "$rc" -eq 3 ] || fail "small budget: exit code $rc, want 3"
echo "$err" | grep -q "would spend epsilon" || fail "small budget: no epsilon in the message"
[ ! -f "$work/run/model.h5" ] || fail "small budget: a model was written"

# columns without domains: exit 2 naming them, before the (missing) data file is read
cat >"$work/nodomain.yaml" <<YAML
version: 1
data:
  path: $work/does-not-exist.csv
  columns:
    - {name: age, type: integer}
    - {name: sex, type: categorical}
    - {name: flag, type: boolean}
    - {name: hours, type: integer, domain: [1, 99]}
model: {kind: tvae}
privacy: {epsilon: 1, delta: 1e-5}
runtime: {output_dir: $work/nodomain}
YAML
run_np 2 fit "$work/nodomain.yaml"
[ "$rc" -eq 2 ] || fail "undeclared domains: exit code $rc, want 2"
echo "$err" | grep -q "2 columns without a declared type and domain.*age.*sex" ||
  fail "undeclared domains: the message does not list age and sex"
echo "$err" | grep -qi "does-not-exist\|cannot open" && fail "undeclared domains: the file was opened"

# a reproducible private run end to end; the ledger is in the release and in inspect
run_np 3 run "$exp" "${small[@]}" --set privacy.reproducible=true --set sampling.rows=2000
[ "$rc" -eq 0 ] || fail "private run: exit code $rc"
echo "$err" | grep -q "NOT differentially private" || fail "private run: no test-mode warning"
echo "$err" | grep -q "evaluation of a private release" || fail "private run: no evaluation note"
# the printed evaluation tables: every figure ends where its column heading ends
echo "$err" | sed -n 's/^synthmpi: //p' | awk '
  /^evaluation written/ { on = 0 }
  /^(evaluation|utility|privacy)  / {
    on = 1; n = split("", ends)
    for (p = length($1) + 1; p <= length($0); p++)
      if (substr($0, p, 1) != " " && (p == length($0) || substr($0, p + 1, 2) == "  "))
        ends[p] = 1
    next
  }
  on && /^  / {
    rest = $0; pos = 0
    while (match(rest, /[^ ]+/)) {
      tok = substr(rest, RSTART, RLENGTH); end = pos + RSTART + RLENGTH - 1
      if (tok ~ /^(-?[0-9]+\.[0-9]+|nan)$/) {
        rows++
        if (!(end in ends)) { print "misaligned: " $0; bad = 1 }
      }
      pos = end; rest = substr(rest, RSTART + RLENGTH)
    }
  }
  END { if (rows < 15) { print "only " rows " figures in the evaluation tables"; bad = 1 }
        exit bad }' || fail "evaluation tables are not column-aligned"
run_np 0 inspect "$work/run/adult-tvae-dp.h5"
[ "$rc" -eq 0 ] || fail "inspect: exit code $rc"
echo "$out" | grep -q '"mechanism":"dp-sgd"' || fail "inspect: no dp-sgd ledger entry"
echo "$out" | grep -q '"reproducible_test_mode":true' || fail "inspect: test mode not shown"
run_np 0 inspect "$work/run/model.h5"
echo "$out" | grep -q '"mechanism":"dp-sgd"' || fail "inspect model: no ledger"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['private_run']['evaluation_is_private'] is False else 1)" \
  "$work/run/evaluation.json" || fail "evaluation.json: no privacy note"

finish
