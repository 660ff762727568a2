#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-scale.sh: issue 12's scale figures (`make bench-scale`): resident
# memory of the daemon with N MQTT sensors (a name, a state topic and a
# unit each, as people write them), once every entity is set up, connected,
# subscribed and announced to a private mosquitto, and a few seconds have
# passed; and how long that took. Build without --enable-debug for figures
# worth quoting.
#
# usage: bench/run-scale.sh MQBRIDGE PLATFORM_DIR [N...]   (default N: 1 10000 100000)
# env:   SETTLE (3 s after the announcement) MASSIF (1: also a valgrind massif
#        profile of the largest N, its top allocation sites printed)
set -euo pipefail

abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
[ $# -ge 2 ] || { echo "usage: $0 MQBRIDGE PLATFORM_DIR [N...]" >&2; exit 2; }
MQB=$(abspath "$1")
PDIR=$(abspath "$2")
shift 2
SIZES=${*:-1 10000 100000}
SETTLE=${SETTLE:-3}
work=$(mktemp -d /tmp/mqb-scale.XXXXXX)
broker=
trap '[ -n "$broker" ] && kill "$broker" 2>/dev/null; rm -rf "$work"' EXIT

port=
for p in $(shuf -i 20000-60999 -n 50); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "run-scale: no free port" >&2; exit 1; }
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\nlog_dest none\nmax_queued_messages 0\n' \
	"$port" >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" 2>/dev/null &
broker=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

config() { # N
	printf 'mqbridge: {node_id: scale}\nmqtt:\n  broker: 127.0.0.1\n  port: %s\n  sensor:\n' "$port"
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
		printf "    - name: Sensor %d\n      state_topic: dev/%d/temp\n      unit_of_measurement: \"°C\"\n", i, i }'
}

# Start the daemon (under $1 ... if given), wait until every entity is set
# up and the announcement has begun (entities added after it are announced
# one by one as they come); prints its pid and how long that took.
start() { # N log [wrapper...]
	local n=$1 log=$2
	shift 2
	config "$n" >"$work/c.yaml"
	"$@" "$MQB" -c "$work/c.yaml" -P "$PDIR" -l info >"$log" 2>&1 &
	local pid=$! t0=$(date +%s.%N)
	for _ in $(seq 6000); do
		grep -q "entities set up" "$log" && grep -q announced "$log" && break
		sleep 0.1
	done
	echo "$pid $(echo "$(date +%s.%N) - $t0" | bc)"
}

printf '%10s %12s %12s %14s %10s\n' sensors "RSS MiB" "peak MiB" "bytes/sensor" "ready s"
base=
for n in $SIZES; do
	read -r pid took < <(start "$n" "$work/log")
	sleep "$SETTLE"
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
	kill "$pid"; wait "$pid" 2>/dev/null || :
	[ -n "$base" ] || base=$rss
	per=$([ "$n" -gt 1 ] && echo "($rss - $base) * 1024 / ($n - 1)" | bc || echo -)
	printf '%10s %12.1f %12.1f %14s %10.2f\n' "$n" "$(echo "$rss / 1024" | bc -l)" \
		"$(echo "$hwm / 1024" | bc -l)" "$per" "$took"
done

if [ "${MASSIF:-0}" = 1 ]; then
	n=${SIZES##* }
	read -r pid _ < <(start "$n" "$work/mlog" valgrind --tool=massif --massif-out-file="$work/massif.out")
	sleep "$SETTLE"
	kill "$pid"; wait "$pid" 2>/dev/null || :
	echo "massif, $n sensors: the last detailed snapshot's top entries"
	ms_print --threshold=1 "$work/massif.out" | awk '/^ *[0-9]+ .*[0-9,]+ +[0-9,]+ +[0-9,]+ +[0-9,]+ +0$/ { snap = NR } { line[NR] = $0 } END { for (i = snap; i <= NR && i < snap + 80; i++) if (line[i] ~ /^->/) print line[i] }'
fi
