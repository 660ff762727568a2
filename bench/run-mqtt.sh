#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-mqtt.sh BENCH_MQTT: mqbridge's MQTT forwarder (bench/bench_mqtt.c) beside
# the reference forwarder (bench/hosting/fwd_ref.c: Paho MQTTAsync, the work
# done inside Paho's callback, TCP_NODELAY set), same run, same broker, same
# load generator (`make bench`). Adapted from bench/hosting/run.sh.
#
# A private mosquitto on a free 127.0.0.1 port (set_tcp_nodelay true); for
# QoS {0,1} x {full speed, fixed RATE msg/s} x REPS repetitions (repetition
# loop outermost, the two forwarders taking turns at going first), each run
# with a fresh forwarder: CPU seconds (utime+stime of all threads, from
# /proc/<pid>/stat around the load), msg/s, latency, loss and duplicates
# from loadgen. Then instructions per message under callgrind
# (--separate-threads=no, counters zeroed after READY, dumped after CG_N
# messages at CG_RATE msg/s). Prints one Markdown table of medians, each
# with its ratio to the reference and the issue's targets.
#
# usage: bench/run-mqtt.sh path/to/bench_mqtt
# env:   OUT (keep the raw files there; default: a temporary directory,
#        removed at exit), REPS N_FULL RATE RATE_SECS WINDOW CG CG_N CG_RATE
#        BUDGET (seconds after which remaining repetitions are skipped)
set -euo pipefail

MQB=${1:?usage: run-mqtt.sh path/to/bench_mqtt}
MQB=$(cd "$(dirname "$MQB")" && pwd)/$(basename "$MQB")
HERE=$(cd "$(dirname "$0")" && pwd)
HOSTING=$HERE/hosting
REPS=${REPS:-3}
N_FULL=${N_FULL:-50000}
RATE=${RATE:-5000}
RATE_SECS=${RATE_SECS:-5}
WINDOW=${WINDOW:-1000}
CG=${CG:-1}
CG_N=${CG_N:-5000}
CG_RATE=${CG_RATE:-500}
BUDGET=${BUDGET:-360}
PY=${PY:-python3}

KEEP=0
if [ -n "${OUT:-}" ]; then
	KEEP=1
	mkdir -p "$OUT"
else
	OUT=$(mktemp -d "${TMPDIR:-/tmp}/bench-mqtt.XXXXXX")
fi
mkdir -p "$OUT/cg"

echo "building the reference and the load generator (make -C $HOSTING) ..." >&2
make -s -C "$HOSTING" build/fwd_ref build/loadgen >/dev/null
REF=$HOSTING/build/fwd_ref
LOADGEN=$HOSTING/build/loadgen

BROKER_PID=
FWD_PID=
cleanup() {
	if [ -n "$FWD_PID" ]; then kill "$FWD_PID" 2>/dev/null || true; wait "$FWD_PID" 2>/dev/null || true; fi
	if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
	if [ "$KEEP" = 0 ]; then rm -rf "$OUT"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fwd_bin() { case $1 in ref) echo "$REF" ;; mqb) echo "$MQB" ;; esac; }

PORT=$($PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat >"$OUT/mosquitto.conf" <<EOF
listener $PORT 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
persistence false
max_queued_messages 100000
user $(id -un)
log_dest file $OUT/mosquitto.log
log_type error
log_type warning
log_type notice
connection_messages true
EOF
mosquitto -c "$OUT/mosquitto.conf" 2>>"$OUT/mosquitto.stderr" &
BROKER_PID=$!
for _ in $(seq 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	sleep 0.1
done

{
	echo "date: $(date -Iseconds)"
	echo "host: $(uname -srm), $(nproc) cpus"
	echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	dpkg-query -W -f='${Package} ${Version}\n' libpaho-mqtt1.3 mosquitto libev4 2>/dev/null | tr '\n' ';' || true
	echo
	echo "knobs: REPS=$REPS N_FULL=$N_FULL RATE=$RATE RATE_SECS=$RATE_SECS WINDOW=$WINDOW CG=$CG CG_N=$CG_N CG_RATE=$CG_RATE"
} >"$OUT/env.txt"

wait_ready() { # file pid secs
	local i
	for i in $(seq $(($3 * 10))); do
		grep -q '^READY' "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
HZ=$(getconf CLK_TCK)

stop_fwd() {
	kill "$FWD_PID" 2>/dev/null || true
	wait "$FWD_PID" 2>/dev/null || true
	FWD_PID=
}

start_fwd() { # variant qos id [wrapper...]
	local v=$1 q=$2 id=$3
	shift 3
	: >"$OUT/fwd.out"
	"$@" "$(fwd_bin "$v")" -p "$PORT" -q "$q" -i "$id" -k 30 >"$OUT/fwd.out" 2>>"$OUT/fwd.$v.err" &
	FWD_PID=$!
}

printf 'variant\tqos\tmode\trep\tcpu_s\tdelivered\tlost\tdup\tmsgps\tp50_us\tp99_us\n' >"$OUT/raw.tsv"

run_one() { # variant qos mode rep
	local v=$1 q=$2 mode=$3 rep=$4 n r c0 c1 line lim
	if [ "$mode" = full ]; then n=$N_FULL r=0 lim=60; else n=$((RATE * RATE_SECS)) r=$RATE lim=$((RATE_SECS + 30)); fi
	start_fwd "$v" "$q" "fwd-$v"
	if ! wait_ready "$OUT/fwd.out" "$FWD_PID" 10; then
		echo "forwarder $v did not become ready; its stderr:" >&2
		cat "$OUT/fwd.$v.err" >&2
		stop_fwd
		exit 1
	fi
	c0=$(cpu_ticks "$FWD_PID")
	line=$(timeout "$lim" "$LOADGEN" -p "$PORT" -q "$q" -n "$n" -r "$r" -w "$WINDOW" -d 3)
	c1=$(cpu_ticks "$FWD_PID")
	stop_fwd
	cat "$OUT/fwd.out" >>"$OUT/fwd.all"
	echo "$v q$q $mode rep$rep: $line" >>"$OUT/loadgen.log"
	$PY - "$v" "$q" "$mode" "$rep" "$c0" "$c1" "$HZ" "$line" >>"$OUT/raw.tsv" <<'EOF'
import sys
v, q, mode, rep, c0, c1, hz, line = sys.argv[1:]
kv = dict(x.split('=') for x in line.split())
cpu = (int(c1) - int(c0)) / int(hz)
print('\t'.join(map(str, [v, q, mode, rep, f'{cpu:.2f}', kv['delivered'], kv['lost'], kv['dup'],
      kv['msgps'], kv['p50'], kv['p99']])))
EOF
	echo "  $(tail -n1 "$OUT/raw.tsv")" >&2
}

for rep in $(seq "$REPS"); do
	if ((rep > 1 && SECONDS > BUDGET)); then
		echo "time budget ($BUDGET s) spent: repetitions $rep..$REPS skipped" >&2
		echo "repetitions run: $((rep - 1)) of $REPS (BUDGET=$BUDGET s)" >>"$OUT/env.txt"
		break
	fi
	# Take turns at going first, so drift in machine load hits both.
	if ((rep % 2)); then order="ref mqb"; else order="mqb ref"; fi
	for q in 0 1; do
		for mode in full rate; do
			for v in $order; do
				echo "rep $rep/$REPS qos $q $mode $v ..." >&2
				run_one "$v" "$q" "$mode" "$rep"
			done
		done
	done
done

printf 'variant\tqos\tmessages\tIr\tIr_per_msg\n' >"$OUT/callgrind.tsv"
if [ "$CG" = 1 ] && command -v valgrind >/dev/null 2>&1 && command -v callgrind_control >/dev/null 2>&1; then
	for q in 0 1; do
		for v in ref mqb; do
			echo "callgrind qos $q $v ($CG_N messages at $CG_RATE msg/s) ..." >&2
			start_fwd "$v" "$q" "cg-$v" valgrind --tool=callgrind --separate-threads=no \
				--callgrind-out-file="$OUT/cg/$v.q$q.%p"
			if ! wait_ready "$OUT/fwd.out" "$FWD_PID" 60; then
				echo "callgrind: $v not ready" >&2
				stop_fwd
				continue
			fi
			callgrind_control -z "$FWD_PID" >/dev/null 2>&1 || echo "callgrind_control -z failed" >&2
			line=$(timeout $((CG_N / CG_RATE + 60)) "$LOADGEN" -p "$PORT" -q "$q" -n "$CG_N" -r "$CG_RATE" -d 5)
			callgrind_control -d "$FWD_PID" >/dev/null 2>&1 || echo "callgrind_control -d failed" >&2
			pid=$FWD_PID
			stop_fwd
			echo "callgrind $v q$q: $line" >>"$OUT/loadgen.log"
			ir=$(awk '/^(summary|totals):/ { if ($2 + 0 > ir) ir = $2 + 0 } END { print ir + 0 }' \
				"$OUT/cg/$v.q$q.$pid.1")
			$PY - "$v" "$q" "$ir" "$line" >>"$OUT/callgrind.tsv" <<'EOF'
import sys
v, q, ir, line = sys.argv[1:]
kv = dict(x.split('=') for x in line.split())
d = int(kv['delivered'])
print(f"{v}\t{q}\t{d}\t{ir}\t{int(ir) / max(d, 1):.0f}")
EOF
			cp "$OUT/cg/$v.q$q.$pid.1" "$OUT/cg/$v.q$q.out"
		done
	done
else
	echo "callgrind unavailable (CG=0, or no valgrind): instructions left empty" >&2
fi

echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.txt"

$PY - "$OUT" "$CG_N" "$CG_RATE" <<'EOF'
import csv, statistics as st, sys
out = sys.argv[1]
cg_load = f'{int(sys.argv[2]):,} msgs at {int(sys.argv[3]):,}/s'
rows = list(csv.DictReader(open(f'{out}/raw.tsv'), delimiter='\t'))
g = {}
for r in rows:
    g.setdefault((r['qos'], r['mode'], r['variant']), []).append(r)

def med(q, mode, v, f):
    rs = g.get((q, mode, v), [])
    return st.median(f(r) for r in rs) if rs else None

cpu_k = lambda r: float(r['cpu_s']) * 1e3 / max(int(r['delivered']), 1)  # CPU-seconds per 1,000 messages
num = lambda f: (lambda r: float(r[f]))

def fmt(x, d=0):
    if x is None:
        return '—'
    return f'{x:,.{d}f}'

def verdict(ratio, limit):
    if ratio is None:
        return '?'
    return 'met' if ratio <= limit + 1e-9 else '**not met**'

print('\n'.join('- ' + l for l in open(f'{out}/env.txt').read().strip().split('\n')))
print()
print('| metric | QoS | load | mqbridge | reference | ×ref | target | met? |')
print('|---|---|---|---:|---:|---:|---|---|')
loads = (('full', 'full speed'), ('rate', 'fixed rate'))

def row(metric, q, load, a, b, d=0, target=None):
    ratio = a / b if a is not None and b else None
    t, m = ('—', '—') if target is None else (f'×ref ≤ {target:.2f}', verdict(ratio, target))
    print(f'| {metric} | {q} | {load} | {fmt(a, d)} | {fmt(b, d)} | {fmt(ratio, 2)} | {t} | {m} |')

for q in ('0', '1'):
    row('msg/s', q, 'full speed', med(q, 'full', 'mqb', num('msgps')), med(q, 'full', 'ref', num('msgps')))
for q in ('0', '1'):
    for mode, load in loads:
        row('CPU-seconds per 1,000 msgs', q, load, med(q, mode, 'mqb', cpu_k), med(q, mode, 'ref', cpu_k),
            4, 1.0 if mode == 'rate' else 1.1)
for q in ('0', '1'):
    for mode, load in loads:
        tgt = 1.0 if mode == 'rate' else None
        row('p50 latency µs', q, load, med(q, mode, 'mqb', num('p50_us')), med(q, mode, 'ref', num('p50_us')),
            0, tgt)
for q in ('0', '1'):
    for mode, load in loads:
        row('p99 latency µs', q, load, med(q, mode, 'mqb', num('p99_us')), med(q, mode, 'ref', num('p99_us')))
for q in ('0', '1'):
    for mode, load in loads:
        s = lambda v: (sum(int(r['lost']) for r in g.get((q, mode, v), [])),
                       sum(int(r['dup']) for r in g.get((q, mode, v), [])))
        (la, da), (lb, db) = s('mqb'), s('ref')
        n = len(g.get((q, mode, 'mqb'), []))
        print(f'| lost / dup (sum of {n} runs) | {q} | {load} | {la} / {da} | {lb} / {db} | — | 0 / 0 | '
              f'{"met" if la + da == 0 else "**not met**"} |')
cg = list(csv.DictReader(open(f'{out}/callgrind.tsv'), delimiter='\t'))
for q in ('0', '1'):
    a = [float(r['Ir_per_msg']) for r in cg if r['qos'] == q and r['variant'] == 'mqb']
    b = [float(r['Ir_per_msg']) for r in cg if r['qos'] == q and r['variant'] == 'ref']
    row('instructions/msg (callgrind)', q, cg_load, a[0] if a else None, b[0] if b else None, 0, 1.15)
print()
print('CPU is utime+stime of all threads of the forwarder, medians of the runs; '
      'instructions are user space, all threads, one run each.')
EOF
if [ "$KEEP" = 1 ]; then echo "raw files in $OUT" >&2; fi
