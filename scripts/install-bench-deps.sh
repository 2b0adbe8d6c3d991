#!/usr/bin/env bash
# Install what the PyTorch comparison benchmarks need (bench/torch_tvae.py) on Debian 12,
# beside the build's own packages: scripts/install-deps.sh --bench.
#
# usage: scripts/install-bench-deps.sh [--check]
exec bash "$(dirname "${BASH_SOURCE[0]}")/install-deps.sh" --bench "$@"
