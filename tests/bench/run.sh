#!/usr/bin/env bash
# The hot-path benchmark of issue 9 (tests/bench/bench.py): the webhook
# against nginx at 1/32/256 connections, the kcat producer ceiling,
# deploy-svc's drain against pgbench, 202 -> ApplyDeployment latency, every
# service's RSS, a forged-token flood, lib http's io_thread hand-off
# beside inline handlers (tests/bench/http_handoff.c, built by make
# bench), and the same figures with 100k
# components, 1M tokens and 10M deployments in the database. One table,
# each figure beside its anchor from the same run; results JSON in
# $SLIPWAY_BUILD/bench/results.json.
# Brings up its own stack (state $SLIPWAY_BUILD/bench-state, ports = the e2e
# ports + SLIPWAY_BENCH_PORT_OFFSET, default -5000: 20000-24999, clear of the
# e2e tests' 25000-29999) and tears it down at the end. Not part of make test.
# Usage: tests/bench/run.sh [--quick] [--scale F] [--round S]
#        [--only table,apply,availability]
set -euo pipefail
cd "$(dirname "$0")/../.."
# A whole run is bounded: the full table takes ~12 min on 2 cores (680 s
# measured), --quick about 2 min.
exec timeout --kill-after=60 "${SLIPWAY_BENCH_TIMEOUT:-2700}" \
	python3 -u tests/bench/bench.py "$@"
