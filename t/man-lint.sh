#!/bin/sh
# SPDX-License-Identifier: MIT
# The man pages are clean under `mandoc -Tlint -W warning` (STYLE.md).
# Exit 77 (skipped) without mandoc. MANDOC may name it; srcdir locates man/.
: "${srcdir:=$(dirname "$0")/..}"
mandoc=${MANDOC:-$(command -v mandoc)}
if [ -z "$mandoc" ]; then
	echo "man-lint: mandoc not found, skipped"
	exit 77
fi
status=0
for page in "$srcdir"/man/*.[1-9]; do
	out=$("$mandoc" -Tlint -W warning "$page" 2>&1) || status=1
	[ -n "$out" ] && { echo "$out"; status=1; }
	echo "man-lint: $page"
done
exit $status
