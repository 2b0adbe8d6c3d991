#!/usr/bin/env bash
# Help, version, usage errors, and a run without mpiexec.
. "$(dirname "$0")/lib.sh"

run_np 0 --help
[ "$rc" -eq 0 ] && echo "$out" | grep -q "usage: synthmpi" || fail "--help"
run_np 0 --version
[ "$rc" -eq 0 ] && echo "$out" | grep -q "^synthmpi [0-9]" || fail "--version"
run_np 2 --version
[ "$(echo "$out" | grep -c '^synthmpi')" -eq 1 ] || fail "--version printed by every rank"

expect_error 0 "no command given"
expect_error 0 "unknown command 'frobnicate'" frobnicate x.yaml
expect_error 2 "unknown option '--sett'" run x.yaml --sett a=b
expect_error 0 "missing the file argument" run
expect_error 0 "export: unknown format 'parquet'" export x.h5 --format parquet --output y
expect_error 3 "nope\.h5" inspect "$work/nope.h5"

# check without mpiexec prints the resolved experiment
exp="$SYNTHMPI_SOURCE_DIR/configs/adult-copula.yaml"
run_np 0 check "$exp" --set "data.path=$adult_data" --set "holdout.path=$adult_test"
[ "$rc" -eq 0 ] && echo "$out" | grep -q "gaussian_copula" || fail "check: exit code $rc"
# every job file is valid bash and names a shipped experiment that passes check
for job in "$SYNTHMPI_SOURCE_DIR"/jobs/*.sbatch; do
  bash -n "$job" || fail "$job: not valid bash"
  cfg=$(grep -o 'configs/[A-Za-z0-9_.-]*\.yaml' "$job" | head -1)
  [ -n "$cfg" ] && [ -f "$SYNTHMPI_SOURCE_DIR/$cfg" ] || fail "$job: no shipped experiment"
  case $(grep -o 'format: [a-z]*' "$SYNTHMPI_SOURCE_DIR/$cfg" | head -1) in
    "format: hapt")
      sets=(--set "data.path=$SYNTHMPI_DATA/genomes/yelmen805/805_SNP_1000G_real.hapt"
        --set "data.legend=$SYNTHMPI_DATA/genomes/yelmen805/805_SNP.legend") ;;
    "format: vcf") sets=(--set "data.path=$SYNTHMPI_DATA/vcf/pyvcf_1kg.vcf.gz") ;;
    "format: fasta") sets=(--set "data.path=$SYNTHMPI_DATA/dna/lambda_virus.fa") ;;
    *) sets=(--set "data.path=$adult_data" --set "holdout.path=$adult_test") ;;
  esac
  run_np 0 check "$SYNTHMPI_SOURCE_DIR/$cfg" "${sets[@]}"
  [ "$rc" -eq 0 ] || fail "$job: $cfg does not pass check"
done
finish
