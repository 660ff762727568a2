#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/hosting/run.sh - measure how Paho can be hosted in a libev loop.
#
# Starts a private mosquitto on a free 127.0.0.1 port, then for each
# forwarder x QoS {0,1} x {full speed, fixed rate} runs REPS repetitions
# (repetition loop outermost, so machine-load drift hits every variant):
# forwarder CPU seconds (utime+stime from /proc/<pid>/stat, all threads),
# context switches (summed over /proc/<pid>/task/*/status), msg/s, latency,
# loss.  Then user-space instructions per message with callgrind
# (--separate-threads=no, counters zeroed after READY and dumped after the
# load, so connect/startup/shutdown are excluded).  Writes raw.tsv,
# callgrind.tsv and summary.md into the output directory.
#
# usage: bench/hosting/run.sh [OUTDIR]
# knobs (env): VARIANTS REPS N_FULL RATE RATE_SECS WINDOW CG CG_N CG_RATE CG_QOS
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/results/$(date +%Y%m%d-%H%M%S)}
VARIANTS=${VARIANTS:-"ref async_ev sync_ev mosq_ev"}
REPS=${REPS:-3}
N_FULL=${N_FULL:-50000}
RATE=${RATE:-5000}
RATE_SECS=${RATE_SECS:-5}
WINDOW=${WINDOW:-1000}
CG=${CG:-1}
CG_N=${CG_N:-5000}
CG_RATE=${CG_RATE:-500}
CG_QOS=${CG_QOS:-"0 1"}
PY=/usr/bin/python3

mkdir -p "$OUT/cg"
make -s -C "$HERE" >/dev/null
BIN=$HERE/build

BROKER_PID=
FWD_PID=
cleanup() {
	if [ -n "$FWD_PID" ]; then kill "$FWD_PID" 2>/dev/null || true; wait "$FWD_PID" 2>/dev/null || true; fi
	if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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
	echo "port: $PORT"
	dpkg-query -W -f='${Package} ${Version}\n' libpaho-mqtt1.3 mosquitto libmosquitto1 libev4 2>/dev/null || true
	echo "knobs: VARIANTS='$VARIANTS' REPS=$REPS N_FULL=$N_FULL RATE=$RATE RATE_SECS=$RATE_SECS WINDOW=$WINDOW CG=$CG CG_N=$CG_N CG_RATE=$CG_RATE"
} >"$OUT/env.txt"

extra_args() { # the sync client needs its in-flight limit raised (see doc)
	case $1 in sync_ev) echo "-m 65535" ;; *) echo "" ;; esac
}

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
ctxsw() { # voluntary nonvoluntary, summed over live threads
	cat /proc/"$1"/task/*/status 2>/dev/null |
		awk '/^voluntary_ctxt_switches/ {v+=$2} /^nonvoluntary_ctxt_switches/ {n+=$2} END {print v+0, n+0}'
}
HZ=$(getconf CLK_TCK)

stop_fwd() {
	kill "$FWD_PID" 2>/dev/null || true
	wait "$FWD_PID" 2>/dev/null || true
	FWD_PID=
}

printf 'variant\tqos\tmode\trep\tcpu_s\tdelivered\tlost\tdup\tmsgps\tp50_us\tp99_us\tp999_us\tmax_us\tvcsw\tivcsw\n' >"$OUT/raw.tsv"

run_one() { # variant qos mode rep
	local v=$1 q=$2 mode=$3 rep=$4 n r c0 c1 s0 s1 line
	if [ "$mode" = full ]; then n=$N_FULL r=0; else n=$((RATE * RATE_SECS)) r=$RATE; fi
	: >"$OUT/fwd.out"
	# shellcheck disable=SC2046
	"$BIN/fwd_$v" -p "$PORT" -q "$q" -i "fwd-$v" -k 30 $(extra_args "$v") >"$OUT/fwd.out" 2>>"$OUT/fwd.err" &
	FWD_PID=$!
	if ! wait_ready "$OUT/fwd.out" "$FWD_PID" 10; then
		echo "forwarder $v did not become ready" >&2
		stop_fwd
		return 1
	fi
	c0=$(cpu_ticks "$FWD_PID")
	s0=$(ctxsw "$FWD_PID")
	line=$(timeout 120 "$BIN/loadgen" -p "$PORT" -q "$q" -n "$n" -r "$r" -w "$WINDOW" -d 3)
	c1=$(cpu_ticks "$FWD_PID")
	s1=$(ctxsw "$FWD_PID")
	stop_fwd
	cat "$OUT/fwd.out" >>"$OUT/fwd.all"
	echo "$v q$q $mode rep$rep: $line" >>"$OUT/loadgen.log"
	$PY - "$v" "$q" "$mode" "$rep" "$c0" "$c1" "$HZ" "$s0" "$s1" "$line" >>"$OUT/raw.tsv" <<'EOF'
import sys
v, q, mode, rep, c0, c1, hz, s0, s1, line = sys.argv[1:]
kv = dict(x.split('=') for x in line.split())
v0, n0 = map(int, s0.split()); v1, n1 = map(int, s1.split())
cpu = (int(c1) - int(c0)) / int(hz)
print('\t'.join(map(str, [v, q, mode, rep, f'{cpu:.2f}', kv['delivered'], kv['lost'], kv['dup'],
      kv['msgps'], kv['p50'], kv['p99'], kv['p999'], kv['max'], v1 - v0, n1 - n0])))
EOF
	tail -n1 "$OUT/raw.tsv"
}

for rep in $(seq "$REPS"); do
	for q in 0 1; do
		for mode in full rate; do
			for v in $VARIANTS; do
				run_one "$v" "$q" "$mode" "$rep"
			done
		done
	done
done

printf 'variant\tqos\tmessages\tIr\tIr_per_msg\tp50_us\n' >"$OUT/callgrind.tsv"
if [ "$CG" = 1 ]; then
	for q in $CG_QOS; do
		for v in $VARIANTS; do
			: >"$OUT/fwd.out"
			# shellcheck disable=SC2046
			valgrind --tool=callgrind --separate-threads=no \
				--callgrind-out-file="$OUT/cg/$v.q$q.%p" \
				"$BIN/fwd_$v" -p "$PORT" -q "$q" -i "cg-$v" -k 30 $(extra_args "$v") \
				>"$OUT/fwd.out" 2>>"$OUT/valgrind.err" &
			FWD_PID=$!
			if ! wait_ready "$OUT/fwd.out" "$FWD_PID" 60; then
				echo "callgrind: $v not ready" >&2
				stop_fwd
				continue
			fi
			callgrind_control -z "$FWD_PID" >/dev/null
			line=$(timeout 120 "$BIN/loadgen" -p "$PORT" -q "$q" -n "$CG_N" -r "$CG_RATE" -d 5)
			callgrind_control -d "$FWD_PID" >/dev/null
			pid=$FWD_PID
			stop_fwd
			echo "callgrind $v q$q: $line" >>"$OUT/loadgen.log"
			ir=$(awk '/^totals:/ {print $2}' "$OUT/cg/$v.q$q.$pid.1")
			$PY - "$v" "$q" "$ir" "$line" >>"$OUT/callgrind.tsv" <<'EOF'
import sys
v, q, ir, line = sys.argv[1:]
kv = dict(x.split('=') for x in line.split())
d = int(kv['delivered'])
print(f"{v}\t{q}\t{d}\t{ir}\t{int(ir) / max(d, 1):.0f}\t{kv['p50']}")
EOF
			tail -n1 "$OUT/callgrind.tsv"
		done
	done
fi

echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.txt"
echo "forwarder-reported disconnects: $(grep -o 'disconnects=[0-9]*' "$OUT/fwd.all" | awk -F= '{s+=$2} END {print s+0}')" >>"$OUT/env.txt"

$PY - "$OUT" >"$OUT/summary.md" <<'EOF'
import csv, statistics as st, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(f'{out}/raw.tsv'), delimiter='\t'))
groups = {}
for r in rows:
    groups.setdefault((r['qos'], r['mode'], r['variant']), []).append(r)
med = lambda rs, f: st.median(float(r[f]) for r in rs)
order = []
for r in rows:
    if r['variant'] not in order:
        order.append(r['variant'])
print(open(f'{out}/env.txt').read().strip().replace('\n', '  \n'))
print()
print('| QoS | load | variant | CPU µs/msg (= CPU ms per 1,000) | ×ref | msg/s | p50 µs | p99 µs | lost | vol. ctx sw/msg | ×ref |')
print('|---|---|---|---|---|---|---|---|---|---|---|')
for q in ('0', '1'):
    for mode in ('full', 'rate'):
        ref = groups.get((q, mode, 'ref'))
        for v in order:
            rs = groups.get((q, mode, v))
            if not rs:
                continue
            cpu = st.median(float(r['cpu_s']) * 1e6 / max(int(r['delivered']), 1) for r in rs)
            cs = st.median(int(r['vcsw']) / max(int(r['delivered']), 1) for r in rs)
            rcpu = st.median(float(r['cpu_s']) * 1e6 / max(int(r['delivered']), 1) for r in ref) if ref else None
            rcs = st.median(int(r['vcsw']) / max(int(r['delivered']), 1) for r in ref) if ref else None
            lost = sum(int(r['lost']) for r in rs)
            print(f"| {q} | {'full speed' if mode == 'full' else 'fixed rate'} | {v} | {cpu:.1f} | "
                  f"{cpu / rcpu:.2f} | {med(rs, 'msgps'):.0f} | {med(rs, 'p50_us'):.0f} | {med(rs, 'p99_us'):.0f} | "
                  f"{lost} | {cs:.2f} | {cs / rcs if rcs else 0:.2f} |")
cg = list(csv.DictReader(open(f'{out}/callgrind.tsv'), delimiter='\t'))
if cg:
    print()
    print('| QoS | variant | instructions/msg (callgrind, user space, all threads) | ×ref | messages |')
    print('|---|---|---|---|---|')
    for q in ('0', '1'):
        ref = [float(r['Ir_per_msg']) for r in cg if r['qos'] == q and r['variant'] == 'ref']
        for r in cg:
            if r['qos'] != q:
                continue
            x = float(r['Ir_per_msg'])
            print(f"| {q} | {r['variant']} | {x:,.0f} | {x / ref[0] if ref else 0:.2f} | {r['messages']} |")
EOF
cat "$OUT/summary.md"
echo "results in $OUT"
