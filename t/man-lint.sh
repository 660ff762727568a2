#!/bin/sh
# SPDX-License-Identifier: MIT
# The man pages are clean under `mandoc -Tlint -W warning` (STYLE.md):
# those the build made from man/*.in, with its paths filled in. Exit 77
# (skipped) without mandoc. MANDOC may name it; abs_top_builddir locates
# the built pages.
: "${abs_top_builddir:=$(dirname "$0")/..}"
mandoc=${MANDOC:-$(command -v mandoc)}
if [ -z "$mandoc" ]; then
	echo "man-lint: mandoc not found, skipped"
	exit 77
fi
status=0
for page in "$abs_top_builddir"/man/*.[1-9]; do
	out=$("$mandoc" -Tlint -W warning "$page" 2>&1) || status=1
	[ -n "$out" ] && { echo "$out"; status=1; }
	echo "man-lint: $page"
done
exit $status
