#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/peers/run.sh - mqbridge against what users would pick instead, one
# run, one table, plots (`make bench-peers`, which builds the C programs and
# passes their paths here).
#
# The job, the same for every peer: subscribe in/+ (K topics), parse the JSON
# payload, keep it as the state of entity <k>, publish the state on an output
# topic. Peers:
#   mqbridge  the daemon, configured with K MQTT sensors (DESIGN §7), states
#             out on out/sensor/k<k>/state (base_topic: out)
#   ref       bench/hosting/fwd_ref.c: a forwarder written directly on Paho
#             MQTTAsync, TCP_NODELAY set (the practical limit of Paho)
#   python    bench/peers/py_bridge.py on Debian's python3-paho-mqtt, shaped
#             like Home Assistant's MQTT integration (run by /usr/bin/python3)
#   node-red  Node-RED (pinned in node-red/package.json), headless, flow in
#             node-red/flows.json: mqtt in -> json -> function -> mqtt out
#   broker    no bridge: the load generator subscribes in/# itself (the floor)
#   mqbridge-alt  another build of the daemon (MQBRIDGE_ALT, MQB_ALT_PLATFORM_DIR),
#             not in the default list: for measuring a change beside HEAD
#
# A private mosquitto on a free 127.0.0.1 port (set_tcp_nodelay true, no
# queue limits). For each repetition (outermost; the peers take turns at
# going first), QoS {0,1} x {full speed, RATE msg/s}: a fresh peer process,
# a probe until it forwards (a peer that does not within START_SECS is
# skipped with its reason), a short warm-up, then the measured load; CPU
# seconds (utime+stime of all its threads, /proc/<pid>/stat, around the
# load only) and peak RSS (VmHWM) of the peer's process. Then report.py
# writes the table of medians with the issue's targets, and the plots.
#
# usage: bench/peers/run.sh        (paths from the environment, as make sets them)
# env:   LOADGEN FWD_REF (required), MQBRIDGE (the daemon; empty: the peer is
#        listed as not built), MQB_PLATFORM_DIR (its modules, if any),
#        PEERS ("mqbridge ref python node-red broker"), REPS (3), K (100),
#        N_FULL (50000), RATE (5000), RATE_SECS (6), WINDOW (1000),
#        WARMUP (2000 msgs at RATE), START_SECS (20), BUDGET (720 s: later
#        repetitions are skipped after that), OUT (raw files; default a
#        directory under /tmp kept when the run ends), RESULTS (bench/results.md),
#        PLOTS (bench/plots), NO_INSTALL=1 (never apt-get/npm; fail instead),
#        NICE (-10: as root, the whole run, every peer alike, at this niceness,
#        so other work on a shared machine disturbs it less; 0: leave it)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BENCH=$(cd "$HERE/.." && pwd)
LOADGEN=${LOADGEN:?set LOADGEN to the load generator (make bench-peers does)}
FWD_REF=${FWD_REF:?set FWD_REF to the reference forwarder (make bench-peers does)}
MQBRIDGE=${MQBRIDGE:-}
MQB_PLATFORM_DIR=${MQB_PLATFORM_DIR:-}
MQBRIDGE_ALT=${MQBRIDGE_ALT:-}
MQB_ALT_PLATFORM_DIR=${MQB_ALT_PLATFORM_DIR:-}
PEERS=${PEERS:-"mqbridge ref python node-red broker"}
REPS=${REPS:-3}
K=${K:-100}
N_FULL=${N_FULL:-50000}
RATE=${RATE:-5000}
RATE_SECS=${RATE_SECS:-6}
WINDOW=${WINDOW:-1000}
WARMUP=${WARMUP:-2000}
START_SECS=${START_SECS:-20}
BUDGET=${BUDGET:-720}
RESULTS=${RESULTS:-$BENCH/results.md}
PLOTS=${PLOTS:-$BENCH/plots}
PY=/usr/bin/python3
NODE_RED_VERSION=$(sed -n 's/.*"node-red": *"\([^"]*\)".*/\1/p' "$HERE/node-red/package.json")
NR_DIR=$HERE/node-red

if [ -z "${OUT:-}" ]; then
	OUT=$(mktemp -d "${TMPDIR:-/tmp}/bench-peers.XXXXXX")
fi
mkdir -p "$OUT"
echo "raw files in $OUT" >&2

# ---- what the bench needs, installed only when missing ---------------------
need_pkgs=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_pkgs+=(mosquitto)
command -v gnuplot >/dev/null 2>&1 || need_pkgs+=(gnuplot-nox)
command -v node >/dev/null 2>&1 || need_pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || need_pkgs+=(npm)
[ -x "$PY" ] || need_pkgs+=(python3)
{ [ -x "$PY" ] && "$PY" -c 'import paho.mqtt.client' 2>/dev/null; } || need_pkgs+=(python3-paho-mqtt)
if ((${#need_pkgs[@]})); then
	if [ "${NO_INSTALL:-0}" = 1 ] || [ "$(id -u)" != 0 ]; then
		echo "bench-peers: missing Debian packages: ${need_pkgs[*]} (apt-get install -y ${need_pkgs[*]})" >&2
	else
		echo "bench-peers: installing ${need_pkgs[*]} ..." >&2
		apt-get update >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_pkgs[@]}" >&2
	fi
fi
PATH=$PATH:/usr/sbin
# Node-RED, pinned, into bench/peers/node-red/node_modules (git-ignored).
nr_installed() {
	[ -f "$NR_DIR/node_modules/node-red/package.json" ] &&
		[ "$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$NR_DIR/node_modules/node-red/package.json" | head -n1)" = "$NODE_RED_VERSION" ]
}
if case " $PEERS " in *" node-red "*) true ;; *) false ;; esac && ! nr_installed &&
	[ "${NO_INSTALL:-0}" != 1 ] && command -v npm >/dev/null 2>&1; then
	echo "bench-peers: installing node-red@$NODE_RED_VERSION into $NR_DIR ..." >&2
	(cd "$NR_DIR" && npm ci --omit=dev --no-audit --no-fund >&2) ||
		echo "bench-peers: npm ci failed; node-red will be skipped" >&2
fi

NICE=${NICE:--10}
if [ "$NICE" != 0 ] && [ "$(id -u)" = 0 ]; then
	renice -n "$NICE" -p $$ >/dev/null 2>&1 || NICE=0
else
	NICE=0
fi

# ---- the broker ---------------------------------------------------------------
BROKER_PID=
PEER_PID=
cleanup() {
	if [ -n "$PEER_PID" ]; then kill "$PEER_PID" 2>/dev/null || true; wait "$PEER_PID" 2>/dev/null || true; fi
	if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(free_port)
cat >"$OUT/mosquitto.conf" <<EOF
listener $PORT 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
persistence false
max_queued_messages 0
max_inflight_messages 0
max_keepalive 65535
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
if ! kill -0 "$BROKER_PID" 2>/dev/null; then
	echo "mosquitto did not start:" >&2
	cat "$OUT/mosquitto.stderr" "$OUT/mosquitto.log" >&2 || true
	exit 1
fi

# ---- the peers ----------------------------------------------------------------
# mqbridge's configuration per DESIGN §7: K MQTT sensors k0..k<K-1> on in/<k>,
# the state the payload's JSON re-serialised (it keeps "seq" and "ts", which
# the load generator needs back), states out on out/sensor/k<k>/state.
mqb_conf() { # qos file
	{
		echo "# generated by bench/peers/run.sh: $K MQTT sensors, QoS $1"
		echo "mqbridge:"
		echo "  node_id: bench"
		echo "  log_level: warning"
		echo "mqtt:"
		echo "  broker: 127.0.0.1"
		echo "  port: $PORT"
		echo "  client_id: mqbridge-bench"
		echo "  base_topic: out"
		echo "  discovery: false"
		echo "  sensor:"
		local i
		for ((i = 0; i < K; i++)); do
			echo "    - name: k$i"
			echo "      state_topic: in/$i"
			echo "      qos: $1"
			echo "      value_template: \"{{ value_json | to_json }}\""
		done
	} >"$2"
}

REASON=
peer_version() {
	case $1 in
	mqbridge) { [ -n "$MQBRIDGE" ] && "$MQBRIDGE" --version 2>/dev/null | head -n1; } || echo "?" ;;
	mqbridge-alt) echo "$MQBRIDGE_ALT" ;;
	ref) echo "Paho MQTT C $(dpkg-query -W -f='${Version}' libpaho-mqtt1.3 2>/dev/null || echo '?')" ;;
	python) echo "Python $("$PY" -c 'import sys;print(sys.version.split()[0])' 2>/dev/null), paho-mqtt $("$PY" -c 'import paho.mqtt;print(paho.mqtt.__version__)' 2>/dev/null || echo '?')" ;;
	node-red) echo "Node-RED $NODE_RED_VERSION on Node.js $(node --version 2>/dev/null || echo '?')" ;;
	broker) echo "mosquitto $(dpkg-query -W -f='${Version}' mosquitto 2>/dev/null || echo '?')" ;;
	esac
}

# Starts peer $1 at QoS $2 in the background (PEER_PID); 1 and REASON if it cannot.
start_peer() {
	local p=$1 q=$2 err=$OUT/$1.q$2.err
	PEER_PID=
	: >"$OUT/$p.out"
	case $p in
	broker) return 0 ;;
	ref)
		[ -x "$FWD_REF" ] || { REASON="not built ($FWD_REF)"; return 1; }
		"$FWD_REF" -p "$PORT" -q "$q" -i fwd-ref -k 60 >>"$OUT/$p.out" 2>>"$err" &
		;;
	python)
		"$PY" "$HERE/py_bridge.py" -p "$PORT" -q "$q" -i py-bridge >>"$OUT/$p.out" 2>>"$err" &
		;;
	node-red)
		nr_installed || { REASON="Node-RED $NODE_RED_VERSION not installed in $NR_DIR (npm ci failed or NO_INSTALL=1)"; return 1; }
		rm -rf "$OUT/nr-userdir" && mkdir -p "$OUT/nr-userdir"
		cp "$NR_DIR/flows.json" "$OUT/nr-userdir/flows.json"
		MQB_NR_USERDIR=$OUT/nr-userdir MQB_PORT=$PORT MQB_QOS=$q \
			node "$NR_DIR/node_modules/node-red/red.js" --settings "$NR_DIR/settings.js" \
			>>"$OUT/$p.out" 2>>"$err" &
		;;
	mqbridge | mqbridge-alt)
		local bin=$MQBRIDGE pdir=$MQB_PLATFORM_DIR
		[ "$p" = mqbridge ] || { bin=$MQBRIDGE_ALT; pdir=$MQB_ALT_PLATFORM_DIR; }
		[ -n "$bin" ] && [ -x "$bin" ] || { REASON="not built (no daemon given: '$bin')"; return 1; }
		mqb_conf "$q" "$OUT/$p.q$q.yaml"
		local pd=()
		[ -z "$pdir" ] || pd=(-P "$pdir")
		if ! "$bin" "${pd[@]}" -C -c "$OUT/$p.q$q.yaml" >"$OUT/$p.check" 2>&1; then
			REASON="configuration rejected: $(grep -v '^$' "$OUT/$p.check" | head -n1)"
			return 1
		fi
		"$bin" "${pd[@]}" -c "$OUT/$p.q$q.yaml" >>"$OUT/$p.out" 2>>"$err" &
		;;
	*) REASON="unknown peer"; return 1 ;;
	esac
	PEER_PID=$!
	local line
	line=$("$LOADGEN" -p "$PORT" -q "$q" -k "$K" -P "$START_SECS" 2>&1) || true
	if [[ $line != "probe ok"* ]]; then
		if kill -0 "$PEER_PID" 2>/dev/null; then
			REASON="started, but nothing it published matched what was sent within $START_SECS s ($line)"
		else
			wait "$PEER_PID" 2>/dev/null && rc=0 || rc=$?
			PEER_PID=
			REASON="exited with status $rc at start-up"
		fi
		local last
		last=$(grep -v '^\s*$' "$err" 2>/dev/null | tail -n1 | cut -c1-160)
		[ -z "$last" ] || REASON="$REASON; stderr: $last"
		stop_peer
		return 1
	fi
	return 0
}

stop_peer() {
	if [ -n "$PEER_PID" ]; then
		kill "$PEER_PID" 2>/dev/null || true
		wait "$PEER_PID" 2>/dev/null || true
	fi
	PEER_PID=
}

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "host: $(uname -srm); $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n1))"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); bench processes at nice $NICE"
	for p in $PEERS; do echo "peer $p: $(peer_version "$p")"; done
	echo "knobs: REPS=$REPS K=$K N_FULL=$N_FULL RATE=$RATE RATE_SECS=$RATE_SECS WINDOW=$WINDOW WARMUP=$WARMUP"
} >"$OUT/env.txt"
cat "$OUT/env.txt" >&2

printf 'peer\tqos\tmode\trep\tcpu_s\tsent\tdelivered\tlost\tdup\tmsgps\tp50_us\tp99_us\tp999_us\tmax_us\trss_kb\n' >"$OUT/raw.tsv"
printf 'peer\tqos\treason\n' >"$OUT/skipped.tsv"
declare -A SKIP=()

run_one() { # peer qos mode rep
	local p=$1 q=$2 mode=$3 rep=$4 n r lim c0=0 c1=0 rss=0 line
	if [ -n "${SKIP[$p.$q]:-}" ]; then return 0; fi
	if [ "$mode" = full ]; then n=$N_FULL r=0 lim=120; else n=$((RATE * RATE_SECS)) r=$RATE lim=$((RATE_SECS + 40)); fi
	if ! start_peer "$p" "$q"; then
		echo "  $p QoS $q: skipped: $REASON" >&2
		SKIP[$p.$q]=1
		printf '%s\t%s\t%s\n' "$p" "$q" "$REASON" >>"$OUT/skipped.tsv"
		return 0
	fi
	local sub=()
	[ "$p" != broker ] || sub=(-s 'in/#')
	if ((WARMUP > 0)); then
		timeout 60 "$LOADGEN" -p "$PORT" -q "$q" -k "$K" "${sub[@]}" -n "$WARMUP" -r "$RATE" -d 3 >>"$OUT/warmup.log" 2>&1 || true
	fi
	[ -z "$PEER_PID" ] || c0=$(cpu_ticks "$PEER_PID")
	line=$(timeout "$lim" "$LOADGEN" -p "$PORT" -q "$q" -k "$K" "${sub[@]}" -n "$n" -r "$r" -w "$WINDOW" -d 3) ||
		line="sent=0 delivered=0 lost=0 dup=0 secs=0 msgps=0 p50=0 p99=0 p999=0 max=0 loadgen_failed=1"
	if [ -n "$PEER_PID" ]; then
		c1=$(cpu_ticks "$PEER_PID")
		rss=$(hwm_kb "$PEER_PID")
	fi
	stop_peer
	echo "$p q$q $mode rep$rep: $line" >>"$OUT/loadgen.log"
	"$PY" - "$p" "$q" "$mode" "$rep" "$c0" "$c1" "$HZ" "$rss" "$line" >>"$OUT/raw.tsv" <<'EOF'
import sys
p, q, mode, rep, c0, c1, hz, rss, line = sys.argv[1:]
kv = dict(x.split('=', 1) for x in line.split())
cpu = (int(c1) - int(c0)) / int(hz)
print('\t'.join(map(str, [p, q, mode, rep, f'{cpu:.2f}', kv['sent'], kv['delivered'], kv['lost'], kv['dup'],
      kv['msgps'], kv['p50'], kv['p99'], kv['p999'], kv['max'], rss])))
EOF
	echo "  $(tail -n1 "$OUT/raw.tsv")" >&2
}

set -- $PEERS
NPEERS=$#
for rep in $(seq "$REPS"); do
	if ((rep > 1 && SECONDS > BUDGET)); then
		echo "time budget ($BUDGET s) spent: repetitions $rep..$REPS skipped" >&2
		echo "repetitions run: $((rep - 1)) of $REPS (BUDGET=$BUDGET s)" >>"$OUT/env.txt"
		break
	fi
	# Rotate who goes first, so drift in the machine's load hits every peer.
	order=$(echo $PEERS | tr ' ' '\n' | awk -v s=$(((rep - 1) % NPEERS)) -v n="$NPEERS" \
		'{ a[NR - 1] = $0 } END { for (i = 0; i < n; i++) printf "%s ", a[(i + s) % n] }')
	for q in 0 1; do
		for mode in rate full; do
			for p in $order; do
				echo "rep $rep/$REPS QoS $q $mode $p ..." >&2
				run_one "$p" "$q" "$mode" "$rep"
			done
		done
	done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.txt"
echo "wall time: $SECONDS s" >>"$OUT/env.txt"

"$PY" "$HERE/report.py" --out "$OUT" --results "$RESULTS" --plots "$PLOTS" --rate "$RATE"
echo "wrote $RESULTS and $PLOTS/*.png (raw files in $OUT)" >&2
