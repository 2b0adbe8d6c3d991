#!/usr/bin/env bash
# synthmpi privacy: figures against the reference tables, exit codes, usage errors, and
# one printer under mpiexec.
. "$(dirname "$0")/../cli/lib.sh"
ref="$SYNTHMPI_DATA/../reference"

# field NAME: the value printed as "NAME: value"
field() { echo "$out" | sed -n "s/^$1: //p"; }

# close A B TOL: |A - B| <= TOL
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= t) }'; }

# expect_value NAME WANT TOL LABEL: after a run, exit 0 and NAME within TOL of WANT
expect_value() {
  local got
  got=$(field "$1")
  if [ "$rc" -ne 0 ]; then
    fail "$4: exit code $rc"
  elif ! close "$got" "$2" "$3"; then
    fail "$4: $1 = '$got', want $2 (tol $3)"
  else
    echo "ok: $4: $1 $got (want $2)"
  fi
}

# epsilon of DP-SGD: the tutorial row of dp_sgd_epsilon.tsv (q sigma steps delta eps_rdp
# alpha_opt eps_prv_estimate), both accountants, without mpiexec
read -r q sigma steps delta eps_rdp alpha eps_prv < <(grep -v '^#' "$ref/dp_sgd_epsilon.tsv" |
  awk -F'\t' '$2 == "1.1"' | head -1)
run_np 0 privacy --sample-rate "$q" --noise "$sigma" --steps "$steps" --delta "$delta"
expect_value epsilon "$eps_rdp" 1e-5 "rdp epsilon"
expect_value order "$alpha" 1e-9 "rdp order"
run_np 0 privacy --sample-rate "$q" --noise "$sigma" --steps "$steps" --delta "$delta" \
  --accountant prv
expect_value epsilon_estimate "$eps_prv" 0.01 "prv estimate"
upper=$(field epsilon_upper)
close "$upper" "$(awk -v e="$eps_prv" 'BEGIN { print e + 0.01 }')" 0.002 ||
  fail "prv upper bound $upper is not about estimate + 0.01"

# the budget is checked on the upper bound: between estimate and bound is refused
between=$(awk -v e="$eps_prv" 'BEGIN { print e + 0.005 }')
run_np 0 privacy --sample-rate "$q" --noise "$sigma" --steps "$steps" --delta "$delta" \
  --accountant prv --budget "$between"
[ "$rc" -eq 3 ] && grep -q "privacy budget exceeded" "$work/stderr" ||
  fail "budget between estimate and bound: exit code $rc, want 3"
run_np 0 privacy --sample-rate "$q" --noise "$sigma" --steps "$steps" --delta "$delta" \
  --budget 3
[ "$rc" -eq 0 ] || fail "rdp epsilon within budget 3: exit code $rc"

# noise for a target epsilon: first row of noise_for_target_eps.tsv, on 2 ranks
read -r target tdelta tq epochs sigma_rdp sigma_prv < <(grep -v '^#' \
  "$ref/noise_for_target_eps.tsv" | head -1)
run_np 2 privacy --sample-rate "$tq" --epochs "$epochs" --target-epsilon "$target" \
  --delta "$tdelta"
expect_value noise_multiplier "$sigma_rdp" 1e-6 "noise (rdp, 2 ranks)"
[ "$(echo "$out" | grep -c '^noise_multiplier:')" -eq 1 ] || fail "printed by more than rank 0"
# the epsilon that noise reaches: within the search's tolerance (0.01) below the target,
# and (to the 6 printed digits of the noise) the epsilon mode's figure for that noise
reached=$(field epsilon)
close "$reached" "$(awk -v t="$target" 'BEGIN { print t - 0.005 }')" 0.005 ||
  fail "rdp: target $target reached epsilon '$reached', want within 0.01 below it"
run_np 0 privacy --sample-rate "$tq" --epochs "$epochs" --noise "$(field noise_multiplier)" \
  --delta "$tdelta"
close "$(field epsilon)" "$reached" 1e-5 ||
  fail "rdp: reached epsilon $reached, the epsilon mode says $(field epsilon)"
echo "ok: target $target: noise reaches epsilon $reached"
run_np 0 privacy --sample-rate "$tq" --epochs "$epochs" --target-epsilon "$target" \
  --delta "$tdelta" --accountant=prv
expect_value noise_multiplier "$sigma_prv" 1e-6 "noise (prv)"
expect_value epsilon_upper "$(awk -v t="$target" 'BEGIN { print t - 0.005 }')" 0.005 \
  "prv upper bound reached, within 0.01 below the target"
close "$(field epsilon_estimate)" "$(field epsilon_upper)" 0.012 &&
  close "$(field epsilon)" "$(field epsilon_upper)" 0 ||
  fail "prv: estimate $(field epsilon_estimate) and upper bound $(field epsilon_upper)"

# zCDP: every cdp_eps and cdp_rho row of zcdp.tsv, on 3 ranks for the first (rows come
# on descriptor 3 so the program cannot read them from stdin)
n=3 rows=0
while IFS=$'\t' read -r -u 3 fn a1 a2 want; do
  case $fn in
  cdp_eps)
    run_np $n privacy --rho "${a1#rho=}" --delta "${a2#delta=}"
    expect_value epsilon "$want" 1e-6 "zcdp epsilon $a1 $a2"
    ;;
  cdp_rho)
    run_np $n privacy --epsilon "${a1#eps=}" --delta "${a2#delta=}"
    expect_value rho "$want" 1e-9 "zcdp rho $a1 $a2"
    ;;
  *) continue ;;
  esac
  n=0 rows=$((rows + 1))
done 3< <(grep -v '^#' "$ref/zcdp.tsv")
[ "$rows" -ge 7 ] || fail "only $rows zCDP rows checked"

# bad or missing arguments: exit 2 with one clear line
expect_error 0 "needs exactly one of --steps and --epochs" privacy --sample-rate 0.01 \
  --noise 1 --delta 1e-5
expect_error 0 "needs --delta" privacy --sample-rate 0.01 --noise 1 --steps 10
expect_error 0 "--sample-rate 'abc': not a number" privacy --sample-rate abc --noise 1 \
  --steps 10 --delta 1e-5
expect_error 0 "sample rate 2: must be in" privacy --sample-rate 2 --noise 1 --steps 10 \
  --delta 1e-5
expect_error 0 "delta 0: must be in" privacy --rho 0.5 --delta 0
expect_error 0 "--accountant 'moments': expected rdp or prv" privacy --accountant moments
expect_error 0 "unknown option '--sigma'" privacy --sigma 1
expect_error 0 "option '--delta' needs a value" privacy --rho 1 --delta
expect_error 0 "unexpected argument 'x.yaml'" privacy x.yaml
expect_error 0 "nothing to compute" privacy
expect_error 2 "cannot be met" privacy --sample-rate 0.01 --epochs 10 --target-epsilon 0.01 \
  --delta 1e-5
run_np 0 privacy --help
[ "$rc" -eq 0 ] && echo "$out" | grep -q "usage: synthmpi privacy" || fail "privacy --help"

# other commands still require their file
expect_error 0 "missing the file argument" inspect
finish
