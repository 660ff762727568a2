#!/bin/sh
# SPDX-License-Identifier: MIT
# tpl-diff.sh: the template engine against the real Jinja2 (make check).
# Renders t/data/tpl/*.jsonl with t/tpl_render and with Jinja2 set up as Home
# Assistant's, compares outputs exactly. Skips (77) when /usr/bin/python3
# has no jinja2 (Debian: python3-jinja2). The last line is "N passed, N failed".
PY=/usr/bin/python3
srcdir=${srcdir:-$(dirname "$0")/..}
builddir=${abs_top_builddir:-.}

if ! [ -x "$PY" ] || ! "$PY" -c 'import jinja2' >/dev/null 2>&1; then
	echo "SKIP: $PY cannot import jinja2 (install python3-jinja2)"
	exit 77
fi
render=
for r in "$builddir/t/tpl_render" ./t/tpl_render "$srcdir/t/tpl_render"; do
	if [ -x "$r" ]; then render=$r; break; fi
done
if [ -z "$render" ]; then
	echo "tpl-diff.sh: t/tpl_render not built" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
# A foreign build's tpl_render runs under the wrapper tools/cross-check.sh
# names (qemu-user, no binfmt_misc).
if [ -n "${MQB_TEST_WRAPPER:-}" ]; then
	wrapped=$(mktemp "${TMPDIR:-/tmp}/tpl-render.XXXXXX")
	trap 'rm -f "$wrapped"' EXIT
	printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$MQB_TEST_WRAPPER" "$render" >"$wrapped"
	chmod +x "$wrapped"
	"$PY" "$srcdir/t/tpl-diff.py" --render "$wrapped" "$srcdir/t/data/tpl"
	exit
fi
exec "$PY" "$srcdir/t/tpl-diff.py" --render "$render" "$srcdir/t/data/tpl"
