#!/usr/bin/env bash
# Runs regiond in the foreground on the bundled demo: demo-fleet serves three
# regions on loopback, regiond probes them. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.build/debug
mkdir -p /tmp/regiond-demo
"$BIN/demo-fleet" --base-port 18080 --regions eu-west,us-east,ap-south &
fleet=$!
trap 'kill $fleet 2>/dev/null || true' EXIT
cat <<MSG

  regiond demo. In another terminal:
    export REGIOND_SOCKET=/tmp/regiond-demo/control.sock
    $BIN/regionctl status                     # every region at a glance
    $BIN/regionctl region eu-west             # metrics, reasons, endpoints
    $BIN/regionctl watch                      # events as they happen
    curl -X POST 127.0.0.1:18080/eu-west/error  # break a region: ok|error|slow|degraded|down
    kill -HUP \$(pgrep -x regiond)             # reload etc/regiond/demo.toml

MSG
"$BIN/regiond" --config etc/regiond/demo.toml
