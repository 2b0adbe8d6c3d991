#!/usr/bin/env bash
# The shipped example end to end: fit a Gaussian copula to UCI Adult, write a synthetic
# release of the same size and evaluate it, on 2 MPI ranks of this machine.
#
# environment: RANKS (default 2), OUTPUT_DIR (default <repo>/runs/adult-copula)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/mpi-launch.sh
. scripts/mpi-launch.sh
ranks=${RANKS:-2}
out=${OUTPUT_DIR:-$repo/runs/adult-copula}

# system packages, only when some are missing and can be installed
if command -v apt-get >/dev/null 2>&1 && ! bash scripts/install-deps.sh --check >/dev/null; then
  bash scripts/install-deps.sh
fi

# data and program
bash scripts/get-data.sh --only adult
bash scripts/build.sh

# fit, sample, evaluate
mpi_launch_cmd "$ranks"
echo "example.sh: ${MPI_LAUNCH[*]} build/synthmpi run configs/adult-copula.yaml"
# the example may be run again: it replaces its own earlier release
"${MPI_LAUNCH[@]}" build/synthmpi run configs/adult-copula.yaml \
  --set runtime.output_dir="$out" --set sampling.overwrite=true

# where the results are
echo
echo "example.sh: outputs in $out"
found=0
for f in "$out"/*.h5; do
  [ -e "$f" ] || continue
  case ${f##*/} in
    model.h5) echo "  fitted model:   $f" ;;
    *) echo "  release:        $f"; found=1 ;;
  esac
done
[ -e "$out/evaluation.json" ] && echo "  evaluation:     $out/evaluation.json"
if [ "$found" -eq 1 ]; then
  echo "  inspect it with: build/synthmpi inspect <release>"
else
  echo "example.sh: no release was written to $out" >&2
  exit 1
fi
