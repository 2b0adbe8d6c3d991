#!/usr/bin/env bash
# Peak resident memory of each rank of synthmpi with the TVAE model on UCI Adult: while
# training (10 epochs) and while sampling 1, 5 and 10 million rows into a release, at 1 and
# 2 ranks. Sampling makes rows block by block, so its peak should not grow with the rows;
# the table ends with the growth from the smallest to the largest release.
#
# Each rank runs under /usr/bin/time -v (GNU time, Debian package "time"), whose "Maximum
# resident set size" is the rank's peak RSS (the kernel's high-water mark, as VmHWM).
#
# environment: RANKS (default "1 2"), SAMPLE_ROWS (default "1000000 5000000 10000000"),
#              FIT_SET (the --set of the fit; default "model.epochs=10", empty for none),
#              BENCH_DIR, SYNTHMPI_BIN, EXPERIMENT (default configs/adult-tvae.yaml),
#              SYNTHMPI_MPIRUN
# Needs free space for the largest release (about 1-2 GB at 10 million rows); each release
# is deleted once measured.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${EXPERIMENT:=$here/../configs/adult-tvae.yaml}"
# shellcheck source=bench/common.sh
. "$here/common.sh"

ranks=${RANKS:-1 2}
sample_rows=${SAMPLE_ROWS:-1000000 5000000 10000000}
fit_set=${FIT_SET-model.epochs=10}
gnu_time=/usr/bin/time
"$gnu_time" -v true >/dev/null 2>&1 ||
  bench_die "GNU time is missing at $gnu_time: run scripts/install-bench-deps.sh"
bench_preflight
work="$bench_dir/tvae_memory"
logs="$bench_dir/logs"
rm -rf "$work"
mkdir -p "$work/rss" "$logs"
trap 'rm -rf "$work"' EXIT

# each rank runs the program under GNU time, writing its report to rss/<tag>.<rank>, where
# <tag> names the run (read from a file, so no launcher has to pass the environment on)
real_bin=$bin
bin="$work/rss-wrapper.sh"
cat >"$bin" <<EOF
#!/usr/bin/env bash
rank=\${OMPI_COMM_WORLD_RANK:-\${PMIX_RANK:-\${SLURM_PROCID:-0}}}
exec "$gnu_time" -v -o "$work/rss/\$(cat "$work/tag").\$rank" "$real_bin" "\$@"
EOF
chmod +x "$bin"

# the peak RSS in MB of each of the N ranks of the run tagged TAG, in rank order
# usage: rss_mb TAG N
rss_mb() {
  local r f
  for ((r = 0; r < $2; r++)); do
    f="$work/rss/$1.$r"
    [ -r "$f" ] || bench_die "no GNU time report $f (rank $r of $1)"
    awk -F: '/Maximum resident set size/ { printf "%.1f ", $2 / 1024 }' "$f"
  done
}

fit_args=()
[ -z "$fit_set" ] || fit_args=(--set "$fit_set")
echo "tvae_memory: $experiment, $(nproc) cores, ranks: $ranks, fit: ${fit_set:-defaults}"
echo "load average at start: $(cut -d ' ' -f 1-3 /proc/loadavg)"
echo
printf '%-8s %6s %12s %9s %8s  %s\n' phase ranks rows seconds max_MB "MB per rank (rank 0 first)"

# training at each rank count; the last model is the one sampled
for n in $ranks; do
  tag="fit-np$n"
  echo "$tag" >"$work/tag"
  t=$(timed_mpi "$n" "$logs/tvae_memory-$tag.log" fit "$experiment" \
    "${fit_args[@]}" --set runtime.output_dir="$work/model" --set evaluation.enabled=false)
  [ -e "$work/model/model.h5" ] || bench_die "fit on $n ranks wrote no model.h5"
  res=$(rss_mb "$tag" "$n")
  read -r -a mb <<<"$res"
  [ ${#mb[@]} -eq "$n" ] || bench_die "expected $n GNU time reports for $tag, found ${#mb[@]}"
  printf '%-8s %6s %12s %9s %8s  %s\n' fit "$n" - "$t" "$(maxof "${mb[@]}")" "${mb[*]}"
done

# sampling at each size and rank count
declare -A peak
for rows in $sample_rows; do
  for n in $ranks; do
    tag="sample-np$n-r$rows"
    out="$work/$tag"
    echo "$tag" >"$work/tag"
    t=$(timed_mpi "$n" "$logs/tvae_memory-$tag.log" sample "$experiment" \
      --model "$work/model/model.h5" --set runtime.output_dir="$out" \
      --set sampling.output=release.h5 --set sampling.rows="$rows" \
      --set sampling.overwrite=true --set evaluation.enabled=false)
    [ -e "$out/release.h5" ] || bench_die "sample on $n ranks wrote no $out/release.h5"
    rm -rf "$out"
    res=$(rss_mb "$tag" "$n")
    read -r -a mb <<<"$res"
    [ ${#mb[@]} -eq "$n" ] || bench_die "expected $n GNU time reports for $tag, found ${#mb[@]}"
    peak[$n,$rows]=$(maxof "${mb[@]}")
    printf '%-8s %6s %12s %9s %8s  %s\n' sample "$n" "$rows" "$t" "${peak[$n,$rows]}" "${mb[*]}"
  done
done

# growth of the sampling peak from the smallest release to the largest
read -r -a sizes <<<"$sample_rows"
small=$(minof "${sizes[@]}")
large=$(maxof "${sizes[@]}")
echo
for n in $ranks; do
  echo "sampling at $n ranks: peak $(calc "${peak[$n,$large]} - ${peak[$n,$small]}") MB more" \
    "at $large rows than at $small ($(calc "${peak[$n,$large]} / ${peak[$n,$small]}") x)"
done
echo "load average at the end: $(cut -d ' ' -f 1-3 /proc/loadavg)"
