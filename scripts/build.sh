#!/usr/bin/env bash
# Configure and build synthmpi (Release) in <repo>/build with all cores.
#
# Uses the MPI, parallel HDF5 and libraries already on the system: on a cluster load
# them first (e.g. 'module load openmpi hdf5/parallel openblas') and pass hints through
# CMAKE_ARGS, e.g. CMAKE_ARGS="-DHDF5_DIR=/opt/hdf5 -DSYNTHMPI_WERROR=ON". Needs no root.
#
# environment: CMAKE_ARGS (extra cmake arguments, split on spaces),
#              BUILD_DIR (default <repo>/build), JOBS (default: all cores)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$repo/build}
jobs=${JOBS:-$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
read -r -a extra <<<"${CMAKE_ARGS:-}"

if ! command -v cmake >/dev/null 2>&1; then
  echo "build.sh: cmake not found (Debian: scripts/install-deps.sh; cluster: module load cmake)" >&2
  exit 1
fi

# configure (the build type given here wins over a cached one)
cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "${extra[@]}"

# build
cmake --build "$build_dir" --parallel "$jobs"
echo "build.sh: built $build_dir/synthmpi"
