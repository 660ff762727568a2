#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-scale.sh: one instance's scale figures (`make bench-scale`; the fleet's
# are bench/run-fleet.sh's), against a private mosquitto. Build without
# --enable-debug for figures worth quoting.
#
# 1. Start-up: the daemon with N MQTT sensors (a name, a state topic and a
#    unit each, as people write them): the time from its start until a
#    client subscribed as Home Assistant would be has every sensor's
#    discovery and state, with the default announce_rate and unpaced
#    (announce_rate: 0); then, SETTLE seconds later, its resident memory.
# 2. Discovery: DISC_N sensors announced once with per-entity and with
#    device-based discovery (mqtt.discovery_mode): the messages and bytes
#    (payloads) a client subscribed as Home Assistant gets, discovery alone
#    and everything.
# 3. CPU per message: K sensors with a value_template, fed RATE msg/s for
#    RATE_SECS by bench/bridge/e2e_load (each message to the next sensor in
#    turn): the daemon's CPU-seconds (utime+stime, all threads) during the
#    load per 1,000 messages, with K = each of LOADS, and its resident
#    memory then (every sensor has rendered its template).
# 4. One core: the daemon pinned to CPU 0 (taskset -c 0; the broker and the
#    load on CPU 1) with K = each of CORE_LOADS sensors, fed CORE_N messages
#    as fast as a window of 1,000 in flight allows: messages a second.
#
# usage: bench/run-scale.sh MQBRIDGE PLATFORM_DIR E2E_LOAD [N...]  (default N: 1000 10000 100000)
# env:   SETTLE (3 s) DISC_N (10000) CORE_LOADS ("1000 100000") CORE_N (100000) LOADS ("100 100000") RATE (5000) RATE_SECS (10)
#        PACED (1: also the start-up at the default announce_rate)
#        MASSIF (1: also a valgrind massif profile of the largest N, its
#        top allocation sites printed)
#        STARTUP_ONLY (1: the start-up and resident memory alone, then the
#        massif profile if asked: what a change to memory needs)
set -euo pipefail

abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
[ $# -ge 3 ] || { echo "usage: $0 MQBRIDGE PLATFORM_DIR E2E_LOAD [N...]" >&2; exit 2; }
MQB=$(abspath "$1")
PDIR=$(abspath "$2")
LOAD=$(abspath "$3")
shift 3
SIZES=${*:-1000 10000 100000}
SETTLE=${SETTLE:-3}
LOADS=${LOADS:-100 100000}
RATE=${RATE:-5000}
RATE_SECS=${RATE_SECS:-10}
PACED=${PACED:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/broker.sh"
work=$(mktemp -d /tmp/mqb-scale.XXXXXX)
broker= pid= watcher=
trap 'for p in $watcher $pid $broker; do kill "$p" 2>/dev/null || :; done; wait 2>/dev/null; rm -rf "$work"' EXIT
bench_free_port
bench_broker_conf "$work/mosquitto.conf"
bench_broker_start "$work/mosquitto.conf"

config() { # N [extra mqtt lines]
	printf 'mqbridge: {node_id: scale%s}\nmqtt:\n  broker: 127.0.0.1\n  port: %s\n%s  sensor:\n' \
		"$1" "$port" "${2:-}"
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
		printf "    - name: Sensor %d\n      state_topic: dev/%d/temp\n      unit_of_measurement: \"°C\"\n", i, i }'
}

# Start the daemon on config file (under a wrapper if given) and wait
# until a watcher has every sensor's discovery and state, and the bridge's
# diagnostic sensor's: its pid and the seconds that took.
start() { # N conf log [wrapper...]
	local n=$1 conf=$2 log=$3 t0 t1
	shift 3
	bench_watch "$work/watch"
	sleep 0.2 # subscribed
	t0=$(date +%s.%N)
	"$@" "$MQB" -c "$conf" -P "$PDIR" -l warning >"$log" 2>&1 &
	pid=$!
	t1=$(bench_wait_announced "$work/watch" 0 $((n + 1)) $((n + 1)) 900)
	kill "$watcher"; wait "$watcher" 2>/dev/null || :
	watcher=
	echo "$pid $(echo "$t1 - $t0" | bc)"
}

# (start ran in a subshell: the daemon is not this shell's child)
stop() {
	kill "$pid" 2>/dev/null || :
	for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	pid=
}

echo "## Start-up and resident memory"
printf '%10s %14s %14s %12s %12s %14s\n' sensors "announced s" "paced s" "RSS MiB" "peak MiB" "bytes/sensor"
base=
for n in $SIZES; do
	paced=-
	if [ "$PACED" = 1 ]; then
		config "$n" >"$work/c.yaml"
		read -r pid paced < <(start "$n" "$work/c.yaml" "$work/log")
		stop
		# the next start must not see this one's retained messages
		kill "$broker"; wait "$broker" 2>/dev/null || :
		bench_broker_start "$work/mosquitto.conf"
	fi
	config "$n" "  announce_rate: 0
" >"$work/c.yaml"
	read -r pid took < <(start "$n" "$work/c.yaml" "$work/log")
	sleep "$SETTLE"
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
	stop
	kill "$broker"; wait "$broker" 2>/dev/null || :
	bench_broker_start "$work/mosquitto.conf"
	[ -n "$base" ] || base="$n $rss"
	read -r n0 rss0 <<<"$base"
	per=$([ "$n" -gt "$n0" ] && echo "($rss - $rss0) * 1024 / ($n - $n0)" | bc || echo -)
	printf '%10s %14.2f %14s %12.1f %12.1f %14s\n' "$n" "$took" "$paced" \
		"$(echo "$rss / 1024" | bc -l)" "$(echo "$hwm / 1024" | bc -l)" "$per"
done

if [ "${STARTUP_ONLY:-0}" != 1 ]; then
echo "## Discovery of ${DISC_N:=10000} sensors: messages and payload bytes"
printf '%-8s %12s %14s %12s %14s %12s\n' mode "disc. msgs" "disc. bytes" "all msgs" "all bytes" "largest B"
for mode in entity device; do
	mosquitto_sub -h 127.0.0.1 -p "$port" -F '%l %t' -t 'homeassistant/#' \
		-t 'mqbridge/#' >"$work/disc" 2>/dev/null &
	watcher=$!
	sleep 0.2
	config "$DISC_N" "  announce_rate: 0
  discovery_mode: $mode
  max_payload: 67108864
" >"$work/c.yaml"
	"$MQB" -c "$work/c.yaml" -P "$PDIR" -l warning >"$work/log" 2>&1 &
	pid=$!
	for _ in $(seq 3000); do
		[ "$(grep -c '/state$' "$work/disc")" -gt "$DISC_N" ] && break
		sleep 0.1
	done
	sleep 1 # the device's message, and the last attributes
	stop
	kill "$watcher"; wait "$watcher" 2>/dev/null || :
	watcher=
	kill "$broker"; wait "$broker" 2>/dev/null || :
	bench_broker_start "$work/mosquitto.conf"
	awk -v mode="$mode" '$2 ~ /^homeassistant\/.*\/config$/ { dm++; db += $1; if ($1 > big) big = $1 }
		{ am++; ab += $1 }
		END { printf "%-8s %12d %14d %12d %14d %12d\n", mode, dm, db, am, ab, big }' "$work/disc"
done

echo "## CPU per message at $RATE msg/s (release build figures are the ones to quote)"
printf '%10s %12s %10s %12s %8s %10s\n' sensors delivered "CPU-s" "CPU µs/msg" ratio "RSS MiB"
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
hz=$(getconf CLK_TCK)
first=
for k in $LOADS; do
	{
		printf 'mqbridge: {node_id: load, log_level: warning}\nmqtt:\n  broker: 127.0.0.1\n  port: %s\n' "$port"
		printf '  discovery: false\n  base_topic: out\n  announce_rate: 0\n  sensor:\n'
		awk -v k="$k" 'BEGIN { for (i = 0; i < k; i++)
			printf "    - {name: t%d, state_topic: in/%d, value_template: \"{{ value_json.temperature }}\"}\n", i, i }'
	} >"$work/load.yaml"
	"$MQB" -c "$work/load.yaml" -P "$PDIR" >"$work/load.log" 2>&1 &
	pid=$!
	# until it forwards (the probe's sensor is the first, subscribed last
	# of all or not: it waits), then a warm-up that touches every sensor
	"$LOAD" -p "$port" -k "$k" -P 600 >/dev/null 2>&1 || { echo "run-scale: the daemon did not forward" >&2; exit 1; }
	timeout 600 "$LOAD" -p "$port" -k "$k" -n "$k" -r "$RATE" -b 0 >/dev/null 2>&1 || :
	c0=$(cpu_ticks "$pid")
	line=$(timeout $((RATE_SECS + 120)) "$LOAD" -p "$port" -k "$k" -n $((RATE * RATE_SECS)) -r "$RATE" -b "$k")
	c1=$(cpu_ticks "$pid")
	# resident once every sensor has rendered its value template
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
	stop
	kill "$broker"; wait "$broker" 2>/dev/null || :
	bench_broker_start "$work/mosquitto.conf"
	delivered=$(sed -n 's/.*delivered=\([0-9]*\).*/\1/p' <<<"$line")
	cpu=$(echo "($c1 - $c0) / $hz" | bc -l)
	per=$(echo "$cpu * 1000000 / $delivered" | bc -l)
	[ -n "$first" ] || first=$per
	printf '%10s %12s %10.2f %12.1f %8.2f %10.1f\n' "$k" "$delivered" "$cpu" "$per" \
		"$(echo "$per / $first" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
done

echo "## One core (taskset -c 0): as fast as it goes"
printf '%10s %12s %10s %10s\n' sensors delivered "msg/s" "p99 µs"
kill "$broker"; wait "$broker" 2>/dev/null || :
taskset -c 1 true 2>/dev/null && pin1="taskset -c 1" || pin1=
broker=
$pin1 mosquitto -c "$work/mosquitto.conf" 2>/dev/null &
broker=$!
for _ in $(seq 250); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.02; done
for k in ${CORE_LOADS:-1000 100000}; do
	{
		printf 'mqbridge: {node_id: core, log_level: warning}\nmqtt:\n  broker: 127.0.0.1\n  port: %s\n' "$port"
		printf '  discovery: false\n  base_topic: out\n  announce_rate: 0\n  sensor:\n'
		awk -v k="$k" 'BEGIN { for (i = 0; i < k; i++)
			printf "    - {name: t%d, state_topic: in/%d, value_template: \"{{ value_json.temperature }}\"}\n", i, i }'
	} >"$work/core.yaml"
	taskset -c 0 "$MQB" -c "$work/core.yaml" -P "$PDIR" >"$work/core.log" 2>&1 &
	pid=$!
	$pin1 "$LOAD" -p "$port" -k "$k" -P 600 >/dev/null 2>&1 || { echo "run-scale: the daemon did not forward" >&2; exit 1; }
	$pin1 timeout 600 "$LOAD" -p "$port" -k "$k" -n "$k" -r "$RATE" -b 0 >/dev/null 2>&1 || :
	line=$($pin1 timeout 300 "$LOAD" -p "$port" -k "$k" -n "${CORE_N:-100000}" -r 0 -w 1000 -b "$((k + 1000))")
	stop
	sed -n 's/.*delivered=\([0-9]*\).*msgps=\([0-9.]*\).*p99=\([0-9.]*\).*/\1 \2 \3/p' <<<"$line" |
		while read -r d r p; do printf '%10s %12s %10.0f %10s\n' "$k" "$d" "$r" "$p"; done
done

fi

if [ "${MASSIF:-0}" = 1 ]; then
	n=${SIZES##* }
	config "$n" "  announce_rate: 0
" >"$work/c.yaml"
	read -r pid _ < <(start "$n" "$work/c.yaml" "$work/mlog" valgrind --tool=massif --massif-out-file="$work/massif.out")
	sleep "$SETTLE"
	stop
	echo "massif, $n sensors: the last detailed snapshot's top entries"
	ms_print --threshold=1 "$work/massif.out" | awk '/^ *[0-9]+ .*[0-9,]+ +[0-9,]+ +[0-9,]+ +[0-9,]+ +0$/ { snap = NR } { line[NR] = $0 } END { for (i = snap; i <= NR && i < snap + 80; i++) if (line[i] ~ /^->/) print line[i] }'
fi
