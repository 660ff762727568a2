#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/hosting/checks.sh - brief correctness experiments for each forwarder
# (not a test suite).  Own private mosquitto on a free 127.0.0.1 port.
#   1. probe_sync: what blocks in the synchronous MQTTClient
#   2. keepalive under load: -k 5, full speed for 20 s, QoS 0 and 1
#   3. idle keepalive: all forwarders idle 13 s with -k 5, then one message
#   4. syscalls per message (strace -c -f) at 5,000 msg/s, QoS 0 and 1
#   5. sync_ev QoS 1 with Paho's default connect options vs maxInflight raised
#      (-T: Paho's trace counts "Blocking publish" events)
# usage: bench/hosting/checks.sh [OUTDIR]      (about 4 minutes)
#        STEPS="1 5" bench/hosting/checks.sh   (a subset)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/results/checks-$(date +%Y%m%d-%H%M%S)}
VARIANTS=${VARIANTS:-"ref async_ev sync_ev mosq_ev"}
STEPS=${STEPS:-"1 2 3 4 5"}
PY=/usr/bin/python3
want() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
mkdir -p "$OUT"
make -s -C "$HERE" >/dev/null
BIN=$HERE/build

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(free_port)
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
PIDS+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

extra_args() { case $1 in sync_ev) echo "-m 65535" ;; *) echo "" ;; esac; }
wait_ready() { # file pid
	local i
	for i in $(seq 100); do
		grep -q '^READY' "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
FWD=
start_fwd() { # variant id out args...
	local v=$1 id=$2 out=$3
	shift 3
	"$BIN/fwd_$v" -p "$PORT" -i "$id" "$@" >"$out" 2>>"$OUT/fwd.err" &
	FWD=$!
	PIDS+=("$FWD")
	wait_ready "$out" "$FWD" || { echo "$v not ready" >&2; return 1; }
}
stop_fwd() { # TERM, then KILL after 10 s (a publish blocked in Paho can delay the exit)
	local i
	kill "$1" 2>/dev/null || true
	for i in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
broker_says() { grep -c "$1" "$OUT/mosquitto.log" || true; }

echo "## checks $(date -Iseconds), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/checks.md"

if want 1; then
echo "### 1. probe_sync" | tee -a "$OUT/checks.md"
SPORT_FILE=$OUT/silent.port
$PY -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(20)' "$SPORT_FILE" &
PIDS+=($!)
STALL_FILE=$OUT/stalled.port
$PY -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
c, _ = s.accept()
c.recv(256)                      # CONNECT
c.sendall(bytes([0x20, 2, 0, 0]))  # CONNACK, then never read again
time.sleep(25)' "$STALL_FILE" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$SPORT_FILE" ] && [ -s "$STALL_FILE" ] && break; sleep 0.1; done
"$BIN/probe_sync" "$PORT" "$(cat "$SPORT_FILE")" "$(cat "$STALL_FILE")" | sed 's/^/    /' | tee -a "$OUT/checks.md"
fi

if want 2; then
echo "### 2. keepalive 5 s under full-speed load for 20 s" | tee -a "$OUT/checks.md"
for q in 0 1; do
	for v in $VARIANTS; do
		id="ka-$v-q$q"
		# shellcheck disable=SC2046
		start_fwd "$v" "$id" "$OUT/ka.$v.q$q.out" -q "$q" -k 5 $(extra_args "$v")
		line=$(timeout 90 "$BIN/loadgen" -p "$PORT" -q "$q" -n 3000000 -r 0 -t 20 -d 3)
		stop_fwd "$FWD"
		st=$(grep '^STATS' "$OUT/ka.$v.q$q.out" | grep -o 'disconnects=[0-9]*')
		to=$(grep "$id" "$OUT/mosquitto.log" | grep -c 'exceeded timeout\|closed its connection\|disconnected, not authorised\|protocol error' || true)
		echo "    $v QoS$q: $line; forwarder $st; broker timeouts/abnormal closes for $id: $to" | tee -a "$OUT/checks.md"
	done
done
fi

if want 3; then
echo "### 3. idle keepalive: -k 5, idle 13 s, then one message" | tee -a "$OUT/checks.md"
declare -A IP
for v in $VARIANTS; do
	# shellcheck disable=SC2046
	start_fwd "$v" "idle-$v" "$OUT/idle.$v.out" -q 1 -k 5 $(extra_args "$v")
	IP[$v]=$FWD
done
sleep 13
mosquitto_pub -p "$PORT" -h 127.0.0.1 -q 1 -t in/7 -m '{"seq":1,"ts":0}'
sleep 1
for v in $VARIANTS; do
	stop_fwd "${IP[$v]}"
	to=$(grep "idle-$v" "$OUT/mosquitto.log" | grep -c 'exceeded timeout' || true)
	echo "    $v: $(grep '^STATS' "$OUT/idle.$v.out" | grep -o 'forwarded=[0-9]*\|disconnects=[0-9]*' | tr '\n' ' ') broker timeouts: $to" | tee -a "$OUT/checks.md"
done
fi

if want 4; then
echo "### 4. syscalls per message under strace -c -f (5,000 msg/s, 10,000 messages)" | tee -a "$OUT/checks.md"
for q in 0 1; do
	for v in $VARIANTS; do
		# shellcheck disable=SC2046
		start_fwd "$v" "st-$v" "$OUT/st.$v.out" -q "$q" $(extra_args "$v")
		strace -f -c -q -o "$OUT/strace.$v.q$q.txt" -p "$FWD" &
		SP=$!
		sleep 0.5
		line=$(timeout 60 "$BIN/loadgen" -p "$PORT" -q "$q" -n 10000 -r 5000 -d 3)
		kill -INT "$SP" 2>/dev/null || true
		wait "$SP" 2>/dev/null || true
		stop_fwd "$FWD"
		$PY - "$v" "$q" "$line" "$OUT/strace.$v.q$q.txt" <<'EOF2' | tee -a "$OUT/checks.md"
import sys
v, q, line, f = sys.argv[1:]
d = int(dict(x.split('=') for x in line.split())['delivered'])
calls = {}
for l in open(f):
    t = l.split()
    if len(t) >= 5 and t[0][0].isdigit() and t[-1] != 'total' and t[3].isdigit():
        calls[t[-1]] = int(t[3])
tot = sum(calls.values())
top = ' '.join(f'{k} {c / d:.2f}' for k, c in sorted(calls.items(), key=lambda x: -x[1])[:6])
print(f'    {v} QoS{q}: delivered {d}, {tot / d:.1f} syscalls/msg ({top})')
EOF2
	done
done
fi

if want 5; then
echo "### 5. sync_ev QoS 1, a burst of 100 messages: Paho default options (reliable=1) vs maxInflightMessages=65535 (-T: Paho trace counts blocking publishes; tracing slows it)" | tee -a "$OUT/checks.md"
for m in 0 65535; do
	start_fwd sync_ev "blk-$m" "$OUT/blk.$m.out" -q 1 -m "$m" -T
	line=$(timeout 60 "$BIN/loadgen" -p "$PORT" -q 1 -n 100 -r 0 -d 15)
	if [ "$m" = 65535 ]; then
		line="$line | full speed: $(timeout 60 "$BIN/loadgen" -p "$PORT" -q 1 -n 20000 -r 0 -d 5)"
	fi
	stop_fwd "$FWD"
	echo "    -m $m: $line" | tee -a "$OUT/checks.md"
	echo "           $(grep '^LOOP' "$OUT/blk.$m.out")" | tee -a "$OUT/checks.md"
done
fi

echo "done: $OUT/checks.md"
