#!/usr/bin/env bash
# make bench: figures for docs/performance.md (see scripts/bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/bench.py
