#!/usr/bin/env bash
# Install everything synthmpi needs to build and test on Debian 12 (and, with --bench, what
# the PyTorch comparison benchmarks need). Run as root (or with sudo available). Safe to run
# again.
#
# usage: scripts/install-deps.sh [--bench] [--check]
#   --bench   also PyTorch, NumPy, pandas and scikit-learn (bench/ only)
#   --check   only report: exit 0 when every package is installed, 1 when some are missing
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates curl
  openmpi-bin libopenmpi-dev
  libhdf5-openmpi-dev hdf5-tools zlib1g-dev
  libopenblas-dev liblapack-dev libscalapack-openmpi-dev
  libyaml-dev librandom123-dev libcjson-dev libxgboost-dev
  libfftw3-dev
  libhts-dev samtools bcftools tabix
  clang-format python3
  clang libclang-rt-14-dev time
)

check=0
for arg in "$@"; do
  case $arg in
    --check) check=1 ;;
    --bench) packages+=(python3-torch python3-numpy python3-pandas python3-sklearn) ;;
    *)
      echo "install-deps.sh: unknown argument '$arg' (usage: install-deps.sh [--bench] [--check])" >&2
      exit 2
      ;;
  esac
done

# packages not yet installed
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps.sh: all packages present"
  exit 0
fi
if [ "$check" -eq 1 ]; then
  echo "install-deps.sh: missing ${missing[*]}"
  exit 1
fi

# apt-get needs root
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
else
  echo "install-deps.sh: needs root or sudo to run apt-get (missing: ${missing[*]})" >&2
  exit 1
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
