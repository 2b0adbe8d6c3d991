# The genome pipeline through the program: hapt and VCF runs, releases equal at 1, 2 and 3
# ranks, inspect, VCF export accepted by bcftools and htsfile and equal to the release,
# fit then sample from the model file, the private run's ledger, and bad input (exit 2).
source "$SYNTHMPI_SOURCE_DIR/tests/cli/lib.sh"

hapt="$SYNTHMPI_DATA/genomes/yelmen805/805_SNP_1000G_real.hapt"
legend="$SYNTHMPI_DATA/genomes/yelmen805/805_SNP.legend"
vcf="$SYNTHMPI_DATA/vcf/pyvcf_1kg.vcf.gz"
hap_exp="$SYNTHMPI_SOURCE_DIR/configs/hap-805-markov.yaml"
vcf_exp="$SYNTHMPI_SOURCE_DIR/configs/vcf-1kg-markov.yaml"
hap_sets=(--set "data.path=$hapt" --set "data.legend=$legend" --set model.order=3
  --set model.em_iterations=5)

# the release does not depend on the rank count
for n in 1 2 3; do
  run_np "$n" run "$hap_exp" "${hap_sets[@]}" --set "runtime.output_dir=$work/r$n"
  [ "$rc" -eq 0 ] || fail "hapt run np=$n: exit code $rc"
  [ -s "$work/r$n/evaluation.json" ] || fail "hapt run np=$n: no evaluation.json"
done
for n in 2 3; do
  for obj in /genotypes /variants; do
    h5diff "$work/r1/hap-805-markov.h5" "$work/r$n/hap-805-markov.h5" "$obj" >/dev/null ||
      fail "release $obj differs between 1 and $n ranks"
  done
done
echo "ok: hapt releases equal at 1, 2, 3 ranks"

# inspect names what the release holds
rel="$work/r1/hap-805-markov.h5"
run_np 2 inspect "$rel"
echo "$out" | grep -q "content *genotypes" && echo "$out" | grep -q "model *hap_markov" &&
  echo "$out" | grep -q "rows *4480" || fail "inspect: $out"

# VCF export: bgzipped, indexed, accepted by htsfile and bcftools, equal to the release
run_np 3 export "$rel" --format vcf --output "$work/synth.vcf.gz"
[ "$rc" -eq 0 ] || fail "export: exit code $rc"
htsfile "$work/synth.vcf.gz" | grep -q "VCF .*BGZF-compressed" || fail "htsfile: not BGZF VCF"
bcftools view "$work/synth.vcf.gz" >/dev/null || fail "bcftools view refused the export"
[ -s "$work/synth.vcf.gz.tbi" ] || fail "export: no tabix index"
bcftools query -f '[%GT ]\n' "$work/synth.vcf.gz" | sed 's/ $//' >"$work/vcf.txt"
h5dump -d /genotypes -b LE -o "$work/g.bin" "$rel" >/dev/null
od -An -v -tu1 -w805 "$work/g.bin" |
  awk '{ for (j = 1; j <= NF; j++) g[NR, j] = $j; n = NF; rows = NR }
       END { for (j = 1; j <= n; j++) { line = ""
               for (r = 1; r <= rows; r += 2) line = line (r > 1 ? " " : "") g[r, j] "|" g[r + 1, j]
               print line } }' >"$work/release.txt"
[ "$(wc -l <"$work/vcf.txt")" -eq 805 ] || fail "export: not 805 variant lines"
cmp -s "$work/vcf.txt" "$work/release.txt" || fail "exported genotypes differ from the release"
echo "ok: export passes htsfile and bcftools view and reads back equal"

# fit, then sample from the model file with another row count
run_np 2 fit "$hap_exp" "${hap_sets[@]}" --set "runtime.output_dir=$work/f"
[ "$rc" -eq 0 ] || fail "fit: exit code $rc"
run_np 3 sample "$hap_exp" "${hap_sets[@]}" --set "runtime.output_dir=$work/f" \
  --set sampling.rows=1001
[ "$rc" -eq 0 ] || fail "sample: exit code $rc"
run_np 1 inspect "$work/f/hap-805-markov.h5"
echo "$out" | grep -q "rows *1001" || fail "sample: rows not 1001"
h5diff -d 0 "$work/r1/hap-805-markov.h5" "$work/f/hap-805-markov.h5" /variants >/dev/null ||
  fail "sample: variants differ from the run's"
echo "ok: fit then sample"

# a private run (one chain) records its mechanism in the ledger; a private mixture is refused
private=(--set privacy.epsilon=1 --set privacy.delta=1e-6 --set privacy.reproducible=true)
run_np 2 run "$hap_exp" "${hap_sets[@]}" --set "runtime.output_dir=$work/p" "${private[@]}" \
  --set model.components=1
[ "$rc" -eq 0 ] || fail "private run: exit code $rc"
run_np 1 inspect "$work/p/hap-805-markov.h5"
if echo "$out" | grep -q "hap-markov-counts" && echo "$out" | grep -q '"zcdp"'; then
  echo "ok: private ledger"
else
  fail "private run: no ledger entry: $out"
fi
expect_error 2 "a mixture reads the data at every EM iteration" run "$hap_exp" \
  "${hap_sets[@]}" --set "runtime.output_dir=$work/p2" "${private[@]}"

# the VCF experiment (plain gzip, missing calls) on 3 ranks
run_np 3 run "$vcf_exp" --set "data.path=$vcf" --set "runtime.output_dir=$work/v"
[ "$rc" -eq 0 ] || fail "vcf run: exit code $rc"
grep -q "rank 0 reads it and scatters" "$work/stderr" || fail "vcf run: no scatter log line"
# with 44 % of calls missing, every variant still learns its allele frequency from its calls
af=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["genome"]["af_corr_train"])' \
  "$work/v/evaluation.json")
awk -v af="$af" 'BEGIN { exit !(af >= 0.95) }' ||
  fail "vcf run: allele-frequency correlation $af with the training calls, want at least 0.95"
echo "ok: vcf run (allele-frequency correlation $af)"

# bad input: ragged row, bad allele, legend count, multi-allelic site
head -5 "$legend" >"$work/small.legend"
head -6 "$hapt" | cut -d' ' -f1-6 >"$work/good.hapt"
awk 'NR == 3 { NF = 5 } 1' "$work/good.hapt" >"$work/ragged.hapt"
awk 'NR == 2 { $4 = 2 } 1' "$work/good.hapt" >"$work/allele.hapt"
small=(--set "data.legend=$work/small.legend" --set "runtime.output_dir=$work/bad")
for n in 1 3; do
  expect_error "$n" "ragged.hapt:3: 3 alleles, but the legend lists 4" run "$hap_exp" \
    --set "data.path=$work/ragged.hapt" "${small[@]}"
  expect_error "$n" "allele.hapt:2: allele 2 is '2', expected 0 or 1" run "$hap_exp" \
    --set "data.path=$work/allele.hapt" "${small[@]}"
  expect_error "$n" "good.hapt:1: 4 alleles, but the legend lists 805" run "$hap_exp" \
    --set "data.path=$work/good.hapt" --set "data.legend=$legend" \
    --set "runtime.output_dir=$work/bad"
done
{
  printf '##fileformat=VCFv4.2\n##contig=<ID=1>\n'
  printf '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
  printf '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\ts2\n'
  printf '1\t100\trs1\tA\tG\t.\tPASS\t.\tGT\t0|1\t1|1\n'
  printf '1\t200\trs2\tC\tG,T\t.\tPASS\t.\tGT\t0|2\t1|0\n'
  printf '1\t300\trs3\tT\tA\t.\tPASS\t.\tGT\t0|0\t1|0\n'
} >"$work/multi.vcf"
expect_error 2 "variant 1:200 has 2 alternate alleles" run "$vcf_exp" \
  --set "data.path=$work/multi.vcf" --set "data.multiallelic=refuse" \
  --set "runtime.output_dir=$work/bad"
run_np 2 run "$vcf_exp" --set "data.path=$work/multi.vcf" --set "runtime.output_dir=$work/m" \
  --set holdout.fraction=0.01
[ "$rc" -eq 0 ] && grep -q "1 multi-allelic sites skipped" "$work/stderr" ||
  fail "multiallelic: skip: exit code $rc"

# the genomic keys of the experiment
printf 'version: 1\nname: g\ndata:\n  path: %s\n  format: hapt\nmodel:\n  kind: hap_markov\n' \
  "$hapt" >"$work/nolegend.yaml"
expect_error 0 "nolegend.yaml:4:3: data: missing required key 'legend'" check "$work/nolegend.yaml"
expect_error 0 "data.missing_calls: expected keep or impute" check "$vcf_exp" \
  --set "data.path=$vcf" --set data.missing_calls=drop
expect_error 0 "data.legend: only data.format hapt takes this setting" check "$vcf_exp" \
  --set "data.path=$vcf" --set "data.legend=$legend"

# unphased calls: 0/1/2 genotype rows; missing calls imputed with the major allele
{
  printf '##fileformat=VCFv4.2\n##contig=<ID=1>\n'
  printf '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
  printf '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\ts2\ts3\n'
  printf '1\t100\trs1\tA\tG\t.\tPASS\t.\tGT\t0/1\t1/1\t./.\n'
  printf '1\t200\trs2\tC\tG\t.\tPASS\t.\tGT\t0/0\t./.\t0/1\n'
  printf '1\t300\trs3\tT\tA\t.\tPASS\t.\tGT\t0/0\t1/0\t1/1\n'
} >"$work/unphased.vcf"
run_np 3 run "$vcf_exp" --set "data.path=$work/unphased.vcf" --set "runtime.output_dir=$work/u" \
  --set data.missing_calls=impute --set holdout.fraction=0.01 --set sampling.rows=7
[ "$rc" -eq 0 ] && grep -q "unphased genotypes" "$work/stderr" &&
  grep -q "2 missing calls imputed" "$work/stderr" || fail "unphased run: exit code $rc"
run_np 1 inspect "$work/u/vcf-1kg-markov.h5"
echo "$out" | grep -q "ploidy_coded *1" || fail "unphased: release not ploidy coded"
run_np 2 export "$work/u/vcf-1kg-markov.h5" --format vcf --output "$work/u.vcf.gz"
n=$(bcftools query -f '[%GT ]\n' "$work/u.vcf.gz" | tr ' ' '\n' | grep -c '^[01]/[01]$')
[ "$rc" -eq 0 ] && [ "$n" -eq 21 ] || fail "unphased export: $n unphased calls, want 21"
echo "ok: unphased genotypes"
finish
