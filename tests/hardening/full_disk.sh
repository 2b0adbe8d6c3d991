#!/usr/bin/env bash
# A full disk and signals while a release is written. Each must end with a clear error and
# a non-zero exit code, and leave no file under the release's final name and no
# <name>.partial behind:
#   - a file size limit (ulimit -f) smaller than the release: refused before writing;
#   - a small tmpfs, where the system allows mounting one: a compressed release (whose
#     size is not known in advance) fills it while being written, on 1, 2 and 3 ranks; the
#     writers stop before the write that might not fit;
#   - a release larger than the free space, refused before it starts (statvfs);
#   - SIGTERM and SIGINT in the middle of the write, to the program and under mpiexec.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/lib.sh"

exp="$SYNTHMPI_SOURCE_DIR/configs/adult-copula.yaml"
base=(--set "data.path=$adult_data" --set "holdout.path=$adult_test"
      --set evaluation.enabled=false)

# nothing_released DIR LABEL: neither the release nor its partial file in DIR
nothing_released() {
  if [ -e "$1/adult-copula.h5" ]; then
    fail "$2: a release exists under its final name"
  elif [ -e "$1/adult-copula.h5.partial" ]; then
    fail "$2: the partial file was left behind"
  else
    echo "ok: $2: nothing left behind"
  fi
}

# failed_with N LABEL PATTERN: the last run failed with exit code 1 and one error line
failed_with() {
  local lines
  lines=$(grep -c '^synthmpi: error:' "$work/stderr")
  if [ "$rc" -ne 1 ]; then
    fail "$2: exit code $rc, want 1"
  elif [ "$lines" -ne 1 ] || ! grep -q -E "^synthmpi: error: .*$3" "$work/stderr"; then
    fail "$2: want one error line matching '$3'"
  else
    echo "ok: np=$1 $2: $(grep '^synthmpi: error:' "$work/stderr" | cut -c1-150)"
  fi
}

# a fitted model to sample from, in every output directory used below
run_np 2 fit "$exp" "${base[@]}" --set "runtime.output_dir=$work/model"
[ "$rc" -eq 0 ] || fail "fit: exit code $rc"
use_model() {
  mkdir -p "$1"
  cp "$work/model/model.h5" "$1/model.h5"
}

# --- a file size limit of 20 MB: a 1-million-row release (84 MB) is refused before writing
# (the program also ignores SIGXFSZ, so a write past the limit fails instead of killing it)
for n in 0 1 2 3; do
  dir="$work/limit$n"
  use_model "$dir"
  rc=0
  (
    ulimit -f 20000
    run_np "$n" sample "$exp" "${base[@]}" --set sampling.rows=1000000 \
      --set "runtime.output_dir=$dir"
    exit "$rc"
  ) || rc=$?
  err=$(cat "$work/stderr")
  failed_with "$n" "file size limit" "adult-copula\.h5: the release needs 0\.084 GB but the file size limit \(ulimit -f\) is 0\.0205 GB"
  nothing_released "$dir" "np=$n file size limit"
done

# --- a 4 MB tmpfs, where mounting is allowed (root in a container often may not). The
# release is compressed, so the free-space check before writing only warns; chunks of 4096
# rows (about 0.3 MB each uncompressed, 1 MB of slack) fill the disk over several writes.
mnt="$work/tmpfs"
mkdir -p "$mnt"
if mount -t tmpfs -o size=4m tmpfs "$mnt" 2>/dev/null; then
  trap 'umount "$mnt" 2>/dev/null; rm -rf "$work"' EXIT
  use_model "$mnt"
  # Before each collective write rank 0 checks the free space against the write's
  # uncompressed size, so every rank stops together before a write that might fail inside
  # HDF5 (which could not be undone, and could block the ranks).
  for n in 1 2 3; do
    rm -f "$mnt"/*.h5.partial
    run_np "$n" sample "$exp" "${base[@]}" --set sampling.rows=1000000 \
      --set sampling.compression=1 --set sampling.chunk_rows=4096 \
      --set "runtime.output_dir=$mnt"
    failed_with "$n" "full tmpfs" "the file system has [0-9.]+ MB free, less than the next write"
    nothing_released "$mnt" "np=$n full tmpfs"
  done
  umount "$mnt"
else
  echo "skip: cannot mount a tmpfs here (the file size limit above covers a full disk)"
fi

# --- larger than the free space: refused before writing (10^13 rows are ~840 TB)
for n in 1 3; do
  dir="$work/space$n"
  use_model "$dir"
  run_np "$n" sample "$exp" "${base[@]}" --set sampling.rows=10000000000000 \
    --set "runtime.output_dir=$dir"
  failed_with "$n" "no free space" "adult-copula\.h5: the release needs [0-9.e+]+ GB .* free"
  nothing_released "$dir" "np=$n no free space"
done

# --- SIGTERM / SIGINT while writing: the program stops at the next chunk and removes the
# partial file. Without mpiexec (as srun delivers it, to every task) and under mpiexec,
# which passes SIGTERM and SIGINT on to its ranks and sends SIGKILL after
# odls_base_sigkill_timeout seconds (1 by default; 10 here, as the README advises, so that
# a slow chunk of a sanitizer build also finishes).
export OMPI_MCA_odls_base_sigkill_timeout=10
interrupt() {
  local label=$1 n=$2 sig=$3 dir="$work/$1"
  use_model "$dir"
  start_job "$label" "$n" sample "$exp" "${base[@]}" --set sampling.rows=30000000 \
    --set sampling.compression=1 --set "runtime.output_dir=$dir"
  wait_for 120 bigger_than "$dir/adult-copula.h5.partial" 1000000 ||
    fail "$label: the release was not being written"
  t0=$(date +%s.%N)
  kill -"$sig" "$(launcher_pid)"
  end_job "$label"
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
    fail "$label: exit code $rc, want non-zero"
  else
    echo "ok: $label: exit code $rc after $elapsed s"
  fi
  nothing_released "$dir" "$label"
}
interrupt sigterm-1 0 TERM
grep -q "stopped by a signal while writing the release" "$work/sigterm-1.err" ||
  fail "sigterm-1: no message saying the write was stopped"
interrupt sigint-1 0 INT
interrupt sigterm-3 3 TERM
interrupt sigint-2 2 INT
finish
