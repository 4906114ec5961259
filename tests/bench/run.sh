#!/usr/bin/env bash
# Benchmarks against a real stack and the real services (tests/bench/bench.py):
#   (a) webhook 202 throughput: N requests, C concurrent callers;
#   (b) webhook 202 -> running latency over a few deployments;
#   (c) ApplyDeployment -> running for a warm image, health wait excluded,
#       beside the engine's own create+start+inspect (-a, default 30);
#   (d) availability through the gateway during back-to-back cutovers, a
#       prober every 20 ms (-u, default 20).
# Brings up its own stack (state $SLIPWAY_BUILD/bench-state, ports = the e2e
# ports + SLIPWAY_BENCH_PORT_OFFSET, default -5000: 20000-24999, clear of the
# e2e tests' 25000-29999) and tears it down at the end. Not part of make test.
# Usage: tests/bench/run.sh [-n 500] [-c 8] [-d 5] [-a 30] [-u 20]
#        [--only throughput,latency,apply,availability]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 -u tests/bench/bench.py "$@"
