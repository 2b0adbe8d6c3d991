#!/usr/bin/env bash
# Submit a job file from the checkout after making runs/, where the job files send their
# Slurm logs (sbatch -o does not create directories).
#
# usage: slurm/submit.sh JOB_FILE [sbatch options...] [-- --set key=value...]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: slurm/submit.sh JOB_FILE [sbatch options] [-- args]" >&2; exit 2; }
job=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
[ -r "$job" ] || { echo "submit.sh: cannot read $job" >&2; exit 2; }

# sbatch options before "--", the job's own arguments after it
opts=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  opts+=("$1")
  shift
done
[ $# -gt 0 ] && shift

cd "$repo"
mkdir -p runs
exec sbatch "${opts[@]}" "$job" "$@"
