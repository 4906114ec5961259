#!/bin/sh
# Runs each unit test binary given as an argument, shows its output, and ends
# with "unit: N passed, N failed" (counting binaries). Exit 1 if any failed.
set -u

passed=0
failed=0
failures=""
for t in "$@"; do
	echo "== $t"
	if "$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures="$failures $t"
	fi
done
[ -z "$failures" ] || echo "failed:$failures"
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
