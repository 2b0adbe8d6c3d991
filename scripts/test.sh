#!/usr/bin/env bash
# The test command: dependencies (when missing and installable), data, build, ctest.
# Exits with ctest's code, or non-zero earlier when a step before it fails.
#
# usage: scripts/test.sh [--sanitize] [--fuzz]
#   --sanitize  then a second build with clang, AddressSanitizer and UBSan
#               ($SANITIZE_BUILD_DIR, default build-sanitize) runs the unit and MPI tests
#   --fuzz      then each libFuzzer target runs for $FUZZ_SECONDS (default 60) seconds in
#               that build, from seed corpora made from the real data
# CI (.ci/run) passes both. Each stage's failure fails the command.
#
# environment: as scripts/build.sh (CMAKE_ARGS, BUILD_DIR, JOBS); CTEST_JOBS (default 2)
set -euo pipefail

sanitize=0
fuzz=0
for arg in "$@"; do
  case $arg in
  --sanitize) sanitize=1 ;;
  --fuzz) fuzz=1 ;;
  *) echo "usage: scripts/test.sh [--sanitize] [--fuzz]" >&2 && exit 2 ;;
  esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$repo/build}
cd "$repo"

# system packages: only through apt-get, and only when something is missing; a machine
# without apt-get or root (a cluster with environment modules) keeps what it has
if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
  if ! bash scripts/install-deps.sh --check >/dev/null; then
    if [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; then
      bash scripts/install-deps.sh
    else
      echo "test.sh: some Debian packages are missing and there is no root or sudo;" \
        "trying the build with what is installed" >&2
    fi
  fi
fi

# real data sets, verified
bash scripts/get-data.sh

# build
bash scripts/build.sh

# tests (each test's timeout is set in CMake); the slurm_* tests bring up a one-node Slurm
# cluster on this machine (tests/slurm/cluster.sh, installing it with apt-get as root) and
# take turns on it; they report "skipped" only where Slurm can neither be found nor installed
echo "test.sh: running ctest in $build_dir"
rc=0
ctest --test-dir "$build_dir" --output-on-failure -j"${CTEST_JOBS:-2}" || rc=$?
[ "$sanitize" -eq 1 ] || [ "$fuzz" -eq 1 ] || exit "$rc"

# the sanitizer build (clang: libFuzzer needs it); the fuzz targets are built in it too
san_dir=${SANITIZE_BUILD_DIR:-$repo/build-sanitize}
echo "test.sh: sanitizer build in $san_dir"
CC=clang BUILD_DIR="$san_dir" CMAKE_ARGS="-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNTHMPI_WERROR=ON \
-DSYNTHMPI_FUZZ=ON -DSYNTHMPI_FUZZ_SECONDS=${FUZZ_SECONDS:-60}" bash scripts/build.sh

# the unit and MPI tests of our code under ASan + UBSan (LeakSanitizer on, suppressions for
# the MPI stack only: tests/hardening/lsan.supp), at 1 and 3 ranks (3 catches uneven
# partitions; 2 and 4 add little). Left out, to keep CI under 30 minutes: the command-line
# and hardening scripts (hundreds of program starts each; the same code paths run in the
# unit tests), the Slurm tests, the style gate, the four tests that train TVAE or XGBoost
# on the whole of Adult, and the PRV and zCDP accountant tables (pure arithmetic over
# large grids, minutes each under the sanitizers).
if [ "$sanitize" -eq 1 ]; then
  echo "test.sh: unit and MPI tests under AddressSanitizer and UBSan"
  ctest --test-dir "$san_dir" --output-on-failure -j"${CTEST_JOBS:-2}" \
    -R '^(test_|io_).*_np[13]$|^fuzz_.*_replay$' \
    -E '^(test_eval_adult|test_eval_utility|test_tvae_adult|test_dp_adult|test_privacy_prv|test_privacy_zcdp_noise)_' ||
    rc=$?
fi

# each fuzz target for FUZZ_SECONDS from the seeds; a crash fails the stage and its input
# is kept in $san_dir/tests/fuzz/fuzz-artifacts/<target>/
if [ "$fuzz" -eq 1 ]; then
  echo "test.sh: fuzzing each target for ${FUZZ_SECONDS:-60} s"
  ctest --test-dir "$san_dir" --output-on-failure -R '^fuzz_.*_run$' || rc=$?
fi
exit "$rc"
