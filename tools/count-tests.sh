#!/bin/sh
# Sums cmocka's results over the test logs of the given build directories
# and prints "N passed, N failed". A test program that ended without a
# cmocka summary (it crashed or was killed) counts as one failure.
set -eu
passed=0
failed=0
for dir in "$@"; do
	for log in "$dir"/t/test_*.log; do
		[ -f "$log" ] || continue
		p=$(sed -n 's/.*\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | tail -n 1)
		f=$(sed -n 's/.*\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | tail -n 1)
		if [ -z "$p" ] && [ -z "$f" ]; then
			echo "count-tests: $log has no cmocka summary: counted as failed" >&2
			failed=$((failed + 1))
			continue
		fi
		passed=$((passed + ${p:-0}))
		failed=$((failed + ${f:-0}))
	done
done
echo "$passed passed, $failed failed"
