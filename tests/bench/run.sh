#!/usr/bin/env bash
# Webhook benchmarks against a real stack and the real services.
#   (a) webhook 202 throughput: N requests, C concurrent callers;
#   (b) webhook 202 -> running latency over a few deployments.
# Brings up its own stack (state build/bench-state, ports = the e2e ports
# + SLIPWAY_BENCH_PORT_OFFSET, default 200) and tears it down at the end.
# Usage: tests/bench/run.sh [-n 500] [-c 8] [-d 5]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 tests/bench/bench.py "$@"
