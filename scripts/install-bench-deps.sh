#!/usr/bin/env bash
# Install what the PyTorch comparison benchmarks need (bench/torch_tvae.py) on Debian 12:
# PyTorch, NumPy, pandas and scikit-learn from the distribution's packages. The C build
# needs only scripts/install-deps.sh; these are for benchmarking alone.
# Run as root (or with sudo available). Safe to run again.
#
# usage: scripts/install-bench-deps.sh [--check]
#   --check   only report: exit 0 when every package is installed, 1 when some are missing
set -euo pipefail

packages=(python3 python3-torch python3-numpy python3-pandas python3-sklearn time)

check=0
case ${1:-} in
  "") ;;
  --check) check=1 ;;
  *)
    echo "install-bench-deps.sh: unknown argument '$1' (usage: install-bench-deps.sh [--check])" >&2
    exit 2
    ;;
esac

# packages not yet installed
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-bench-deps.sh: all packages present"
  exit 0
fi
if [ "$check" -eq 1 ]; then
  echo "install-bench-deps.sh: missing ${missing[*]}"
  exit 1
fi

# apt-get needs root
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
else
  echo "install-bench-deps.sh: needs root or sudo to run apt-get (missing: ${missing[*]})" >&2
  exit 1
fi

echo "install-bench-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
