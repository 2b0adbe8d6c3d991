#!/usr/bin/env bash
# The test command: dependencies (when missing and installable), data, build, ctest.
# Exits with ctest's code, or non-zero earlier when a step before it fails.
#
# environment: as scripts/build.sh (CMAKE_ARGS, BUILD_DIR, JOBS); CTEST_JOBS (default 2)
set -euo pipefail

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
exit "$rc"
