#!/usr/bin/env bash
# make bench: figures for docs/performance.md (see scripts/bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 scripts/bench.py
echo
.build/release/regiond-bench
echo
python3 scripts/detect_bench.py
echo
python3 scripts/haproxy_bench.py
echo
python3 scripts/cluster_bench.py
