#!/bin/sh
# SPDX-License-Identifier: MIT
# The layering rule of DESIGN §11, checked on every include line: a file
# in src/LAYER/ names private headers by their layer ("core/pool.h") and
# includes none of a layer above its own; a module in platforms/ (or a
# test module in t/platforms/) includes only include/mqbridge/ and its own
# folder's headers. Exit 1 listing every offending line.
top=${srcdir:-.}/
[ -d "${top}src/lib" ] || top="$(dirname "$0")/../"
cd "$top" || exit 2

rank() {
	case $1 in
	lib) echo 0 ;; core) echo 1 ;; mqtt) echo 2 ;; config) echo 3 ;;
	template) echo 4 ;; ha) echo 5 ;; daemon) echo 6 ;; *) echo -1 ;;
	esac
}

bad=0
complain() { echo "$1: $2" >&2; bad=1; }

for f in src/*/*.c src/*/*.h; do
	[ -f "$f" ] || continue
	layer=${f#src/}
	layer=${layer%%/*}
	own=$(rank "$layer")
	[ "$own" -ge 0 ] || { complain "$f" "not in a layer's folder"; continue; }
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
		sed 's/^\([0-9]*\):.*"\(.*\)".*/\1 \2/' >"${TMPDIR:-/tmp}/layering.$$"
	while read -r line inc; do
		case $inc in
		config.h | mqbridge/*.h) continue ;;
		*/*) ;;
		*) complain "$f:$line" "\"$inc\": name a private header by its layer"; continue ;;
		esac
		r=$(rank "${inc%%/*}")
		if [ "$r" -lt 0 ]; then
			complain "$f:$line" "\"$inc\" is in no layer"
		elif [ "$r" -gt "$own" ]; then
			complain "$f:$line" "\"$inc\": $layer/ may not include ${inc%%/*}/, a layer above it"
		fi
	done <"${TMPDIR:-/tmp}/layering.$$"
done
rm -f "${TMPDIR:-/tmp}/layering.$$"

for f in platforms/*.c platforms/*.h t/platforms/*.c; do
	[ -f "$f" ] || continue
	dir=$(dirname "$f")
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
		sed 's/^\([0-9]*\):.*"\(.*\)".*/\1 \2/' |
		while read -r line inc; do
			case $inc in
			mqbridge/*.h) ;;
			*/*) echo "$f:$line: \"$inc\": a module includes only include/mqbridge/ and its own headers" ;;
			*) [ -f "$dir/$inc" ] ||
				echo "$f:$line: \"$inc\": a module includes only include/mqbridge/ and its own headers" ;;
			esac
		done
done >"${TMPDIR:-/tmp}/layering-mod.$$"
if [ -s "${TMPDIR:-/tmp}/layering-mod.$$" ]; then
	cat "${TMPDIR:-/tmp}/layering-mod.$$" >&2
	bad=1
fi
rm -f "${TMPDIR:-/tmp}/layering-mod.$$"
[ $bad -eq 0 ] && echo "layering: every include respects DESIGN §11"
exit $bad
