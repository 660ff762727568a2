#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-core.sh BENCH_CORE: the async core's benchmark report (`make bench`).
# Times every benchmark (ns/op beside its reference), counts instructions per
# op under callgrind when valgrind is installed, prints one Markdown table.
set -euo pipefail

bin=${1:?usage: run-core.sh path/to/bench_core}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-core.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# 1. Wall clock, median of 5, ours and reference taking turns.
echo "timing ($bin) ..." >&2
"$bin" >"$tmp/timing"
cat "$tmp/timing" >&2

# name, callgrind N, target kind, target value, has reference, description
"$bin" --list >"$tmp/list"

# 2. Instructions per op: callgrind counts only between the benchmark's
# START/STOP_INSTRUMENTATION (its warm-up and the core's set-up and
# shutdown are left out), and the total divided by N is the per-op figure.
have_cg=0
if command -v valgrind >/dev/null 2>&1 &&
	valgrind --tool=callgrind --instr-atstart=no \
		--callgrind-out-file="$tmp/probe.out" "$bin" --callgrind --only run_job -n 10 \
		>/dev/null 2>"$tmp/probe.err"; then
	have_cg=1
else
	echo "callgrind unavailable (no valgrind, or built without valgrind/callgrind.h): instr/op left empty" >&2
fi

# Ir of one --only run, per op. The totals: line carries the whole count;
# summary: is only filled in by some versions, so the larger one is taken.
instr_per_op() { # name n [--ref]
	local name=$1 n=$2 out="$tmp/cg.$1${3:+.ref}.out"
	if ! valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
		"$bin" --callgrind --only "$name" ${3:+"$3"} -n "$n" >/dev/null 2>"$out.err"; then
		echo "callgrind run of $name ${3:-} failed:" >&2
		cat "$out.err" >&2
		exit 1
	fi
	awk -v n="$n" '/^(summary|totals):/ { if ($2 + 0 > ir) ir = $2 + 0 }
		END { printf "%.0f\n", ir / n }' "$out"
}

declare -A ours_ir ref_ir
if ((have_cg)); then
	while IFS=$'\t' read -r name cg_n _kind _value has_ref _what; do
		echo "callgrind $name (N=$cg_n) ..." >&2
		ours_ir[$name]=$(instr_per_op "$name" "$cg_n")
		if [[ $has_ref == ref ]]; then
			ref_ir[$name]=$(instr_per_op "$name" "$cg_n" --ref)
		fi
	done <"$tmp/list"
fi

# 3. The table. Timing lines: name ours ref ratio ours_cpu ref_cpu ('-' for
# none); comment lines start with '#'.
echo
echo "| benchmark | ours ns/op | reference ns/op | ratio | ours instr/op | reference instr/op | target | met? |"
echo "|---|---:|---:|---:|---:|---:|---|---|"
while IFS=$'\t' read -r name _cg_n kind value _has_ref _what; do
	read -r _ ours ref ratio _ _ < <(awk -v b="$name" '$1 == b' "$tmp/timing")
	oi=${ours_ir[$name]:-}
	ri=${ref_ir[$name]:-}
	case $kind in
	ratio_max)
		target="ratio ≤ $value"
		met=$(awk -v r="$ratio" -v t="$value" 'BEGIN { print (r + 0 <= t + 0) ? "yes" : "**no**" }')
		;;
	instr_max)
		target="≤ $value instr/op"
		if [[ -n $oi ]]; then
			met=$(awk -v i="$oi" -v t="$value" 'BEGIN { print (i + 0 <= t + 0) ? "yes" : "**no**" }')
		else
			met="? (no callgrind)"
		fi
		;;
	*)
		target="—"
		met="—"
		;;
	esac
	[[ $ref == - ]] && ref="—" && ratio="—"
	echo "| $name | $ours | $ref | $ratio | ${oi:-—} | ${ri:-—} | $target | $met |"
done <"$tmp/list"
