#!/bin/sh
# SPDX-License-Identifier: MIT
# The plugin boundary, checked on the built files: the daemon exports the
# public API (mqbridge.sym, made from include/mqbridge/*.h) and nothing
# else of its own, every function a module calls is among it, and every
# module exports its descriptor and nothing else. abs_top_builddir
# locates the build; exit 77 (skipped) without nm.
: "${abs_top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
command -v nm >/dev/null 2>&1 || { echo "exports: nm not found, skipped"; exit 77; }
cd "$abs_top_builddir" || exit 2

status=0
fail() { echo "exports: $*" >&2; status=1; }

# Defined dynamic symbols of $1, one name a line.
exported() { nm -D --defined-only "$1" | awk 'NF >= 3 { print $3 }' | sort -u; }

for so in platforms/*.so t/platforms/*.so $(find t/oot -name "*.so" 2>/dev/null); do
	[ -f "$so" ] || continue
	extra=$(exported "$so" | grep -v -x -e mqb_platform_descriptor -e '_init' -e '_fini' \
		-e '__bss_start' -e '_edata' -e '_end')
	[ -z "$extra" ] || fail "$so exports more than its descriptor:" $extra
	exported "$so" | grep -q -x mqb_platform_descriptor ||
		case $so in */nodesc.so) ;; *) fail "$so does not export mqb_platform_descriptor" ;; esac
done

# The daemon. Names with @ are a shared library's data copied into the
# executable (stderr, optarg) and names starting with _ the C runtime's;
# a sanitizer's runtime exports hundreds of its own (malloc, __asan_*),
# so there only the other direction is checked.
exported mqbridge >exports.daemon.$$
sed -n 's/^[[:space:]]*\(mqb_[A-Za-z0-9_]*\);$/\1/p' mqbridge.sym | sort -u >exports.api.$$
[ -s exports.api.$$ ] || fail "mqbridge.sym lists no function"
if grep -q -e '^__asan' -e '^__tsan' -e '^__ubsan' exports.daemon.$$; then
	echo "exports: sanitizer build, the daemon's extra exports not checked"
else
	extra=$(grep -v -e '^mqb_' -e '@' -e '^_' exports.daemon.$$)
	[ -z "$extra" ] || fail "mqbridge exports what is not public API:" $extra
	extra=$(grep '^mqb_' exports.daemon.$$ | comm -23 - exports.api.$$)
	[ -z "$extra" ] || fail "mqbridge exports what no public header declares:" $extra
fi
missing=$(comm -13 exports.daemon.$$ exports.api.$$)
[ -z "$missing" ] || fail "declared in include/mqbridge/ but not exported:" $missing
for so in platforms/*.so t/platforms/*.so $(find t/oot -name "*.so" 2>/dev/null); do
	[ -f "$so" ] || continue
	missing=$(nm -D --undefined-only "$so" | awk '{ print $NF }' | grep '^mqb' | sort -u |
		comm -23 - exports.daemon.$$)
	[ -z "$missing" ] || fail "$so calls what mqbridge does not export:" $missing
done
rm -f exports.daemon.$$ exports.api.$$

[ $status -eq 0 ] && echo "exports: the daemon exports the public API, each module its descriptor"
exit $status
