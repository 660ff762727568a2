#!/bin/sh
# SPDX-License-Identifier: MIT
# Sums the test results of the given build directories and prints
# "N passed, N failed". cmocka programs count their cases (from the summary
# in their log); other tests count once, by automake's verdict in their .trs
# file. A cmocka program that ended without a summary (it crashed or was
# killed), or whose driver failed with every case passed, counts as one
# failure. Drivers in subfolders of t/ (t/faults/) count too.
set -eu
passed=0
failed=0
for dir in "$@"; do
	for trs in $(find "$dir/t" -name '*.trs' 2>/dev/null | sort); do
		log=${trs%.trs}.log
		verdict=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
		p=$(sed -n 's/.*\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" 2>/dev/null | tail -n 1)
		f=$(sed -n 's/.*\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" 2>/dev/null | tail -n 1)
		if [ -n "$p$f" ]; then
			passed=$((passed + ${p:-0}))
			failed=$((failed + ${f:-0}))
			# Every case passed but the program failed (a leak, a crash
			# after the summary, a timeout): one failure more.
			case "$verdict" in PASS|SKIP) ;; *) [ "${f:-0}" -gt 0 ] || failed=$((failed + 1)) ;; esac
			continue
		fi
		# A script that ends with its own "N passed, N failed" line.
		line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" 2>/dev/null | tail -n 1)
		if [ -n "$line" ] && [ "$verdict" != SKIP ]; then
			p=${line%% passed*}
			f=${line#*passed, }
			f=${f%% failed*}
			passed=$((passed + p))
			failed=$((failed + f))
			[ "$verdict" = PASS ] || [ "$f" -gt 0 ] || failed=$((failed + 1))
			continue
		fi
		cmocka=no
		grep -q '^\[==========\]' "$log" 2>/dev/null && cmocka=yes
		case "$cmocka:$verdict" in
		no:PASS) passed=$((passed + 1)) ;;
		no:SKIP) ;;
		*)
			echo "count-tests: $log: no summary, verdict ${verdict:-none}: counted as failed" >&2
			failed=$((failed + 1))
			;;
		esac
	done
done
echo "$passed passed, $failed failed"
