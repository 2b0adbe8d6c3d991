# hap_vae through the program with a tiny budget: an end-to-end run under mpiexec with the
# evaluation, fit then sample from the model file at 1, 2 and 3 ranks giving the same
# /genotypes, inspect, and the refusals (unphased genotypes, a private run).
source "$SYNTHMPI_SOURCE_DIR/tests/cli/lib.sh"

hapt="$SYNTHMPI_DATA/genomes/yelmen805/805_SNP_1000G_real.hapt"
legend="$SYNTHMPI_DATA/genomes/yelmen805/805_SNP.legend"
exp="$SYNTHMPI_SOURCE_DIR/configs/hap-805-vae.yaml"
sets=(--set "data.path=$hapt" --set "data.legend=$legend" --set model.hidden_dims=32
  --set model.latent_dim=8 --set model.epochs=2 --set model.batch_size=256)

# end to end on 3 ranks: release, model and evaluation with its figures
run_np 3 run "$exp" "${sets[@]}" --set "runtime.output_dir=$work/r"
[ "$rc" -eq 0 ] || fail "run: exit code $rc"
[ -s "$work/r/evaluation.json" ] && grep -q '"af_corr_train"' "$work/r/evaluation.json" &&
  grep -q '"aats_train"' "$work/r/evaluation.json" || fail "run: no evaluation figures"
grep -q "genome: allele-frequency correlation" "$work/stderr" || fail "run: no metrics logged"
run_np 1 inspect "$work/r/hap-805-vae.h5"
echo "$out" | grep -q "model *hap_vae" && echo "$out" | grep -q "rows *4480" ||
  fail "inspect: $out"
echo "ok: end-to-end run"

# one model, sampled at 1, 2 and 3 ranks: the same release
run_np 2 fit "$exp" "${sets[@]}" --set "runtime.output_dir=$work/f"
[ "$rc" -eq 0 ] || fail "fit: exit code $rc"
for n in 1 2 3; do
  mkdir -p "$work/s$n"
  cp "$work/f/model.h5" "$work/s$n/model.h5"
  run_np "$n" sample "$exp" "${sets[@]}" --set "runtime.output_dir=$work/s$n" \
    --set sampling.rows=1001
  [ "$rc" -eq 0 ] || fail "sample np=$n: exit code $rc"
done
for n in 2 3; do
  for obj in /genotypes /variants; do
    h5diff "$work/s1/hap-805-vae.h5" "$work/s$n/hap-805-vae.h5" "$obj" >/dev/null ||
      fail "release $obj differs between 1 and $n ranks"
  done
done
echo "ok: releases from one model equal at 1, 2, 3 ranks"

# refusals: a private run; a hap_markov model file named as hap_vae
expect_error 2 "hap_vae has no private mode" run "$exp" "${sets[@]}" \
  --set "runtime.output_dir=$work/p" --set privacy.epsilon=1 --set privacy.delta=1e-6
mkdir -p "$work/m"
run_np 1 fit "$SYNTHMPI_SOURCE_DIR/configs/hap-805-markov.yaml" --set "data.path=$hapt" \
  --set "data.legend=$legend" --set model.components=1 --set "runtime.output_dir=$work/m"
expect_error 2 "a hap_markov model file, not hap_vae" sample "$exp" "${sets[@]}" \
  --set "runtime.output_dir=$work/m" --set sampling.rows=10

# unphased genotypes are refused with a clear message
{
  printf '##fileformat=VCFv4.2\n##contig=<ID=1>\n'
  printf '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
  printf '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\ts2\ts3\n'
  printf '1\t100\trs1\tA\tG\t.\tPASS\t.\tGT\t0/1\t1/1\t0/0\n'
  printf '1\t200\trs2\tC\tG\t.\tPASS\t.\tGT\t0/0\t1/1\t0/1\n'
} >"$work/unphased.vcf"
printf 'version: 1\nname: u\ndata:\n  path: %s\n  format: vcf\nmodel:\n  kind: hap_vae\n' \
  "$work/unphased.vcf" >"$work/unphased.yaml"
expect_error 2 "unphased genotypes \(0/1/2\)" run "$work/unphased.yaml" \
  --set "runtime.output_dir=$work/u"
finish
