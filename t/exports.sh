#!/bin/sh
# SPDX-License-Identifier: MIT
# The plugin boundary, checked on the built files: every module exports
# its descriptor and nothing else, so helpers never leak between modules.
# abs_top_builddir locates the build; exit 77 (skipped) without nm.
: "${abs_top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
command -v nm >/dev/null 2>&1 || { echo "exports: nm not found, skipped"; exit 77; }
cd "$abs_top_builddir" || exit 2

status=0
fail() { echo "exports: $*" >&2; status=1; }

# Defined dynamic symbols of $1, one name a line.
exported() { nm -D --defined-only "$1" | awk 'NF >= 3 { print $3 }' | sort -u; }

for so in platforms/*.so t/platforms/*.so; do
	[ -f "$so" ] || continue
	extra=$(exported "$so" | grep -v -x -e mqb_platform_descriptor -e '_init' -e '_fini' \
		-e '__bss_start' -e '_edata' -e '_end')
	[ -z "$extra" ] || fail "$so exports more than its descriptor:" $extra
	exported "$so" | grep -q -x mqb_platform_descriptor ||
		case $so in */nodesc.so) ;; *) fail "$so does not export mqb_platform_descriptor" ;; esac
done

[ $status -eq 0 ] && echo "exports: each module exports its descriptor only"
exit $status
