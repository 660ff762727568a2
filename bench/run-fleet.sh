#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-fleet.sh: a fleet of mqbridge instances on one private mosquitto
# (`make bench-fleet`, part of `make bench-scale`): INSTANCES daemons of
# ENTITIES MQTT sensors each, watched by a client subscribed as Home
# Assistant would be (the discovery prefix and every state topic). Two
# storms, each with the broker's CPU sampled every WINDOW seconds:
#   ha      Home Assistant restarts: "online" on homeassistant/status; every
#           bridge announces everything again;
#   broker  the broker is killed and started again empty: every bridge
#           reconnects and announces everything again.
# For each: the time from the event until the watcher has seen every
# entity's discovery and state again, the broker's CPU-seconds over that
# time and its busiest window (% of one core), and the messages it carried.
#
# usage: bench/run-fleet.sh MQBRIDGE PLATFORM_DIR
# env:   INSTANCES (20) ENTITIES (500) WINDOW (0.25 s)
#        SETTINGS ("paced unpaced paced,device"): paced is the defaults, unpaced sets
#        announce_rate: 0; a setting "rate=N" sets announce_rate: N, and
#        "device" (with any of them, e.g. "paced,device") device-based
#        discovery (mqtt.discovery_mode: device)
#        ROUNDS (1) storms of each kind per setting
set -euo pipefail

abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
[ $# -ge 2 ] || { echo "usage: $0 MQBRIDGE PLATFORM_DIR" >&2; exit 2; }
MQB=$(abspath "$1")
PDIR=$(abspath "$2")
INSTANCES=${INSTANCES:-20}
ENTITIES=${ENTITIES:-500}
WINDOW=${WINDOW:-0.25}
SETTINGS=${SETTINGS:-paced unpaced paced,device}
ROUNDS=${ROUNDS:-1}
work=$(mktemp -d /tmp/mqb-fleet.XXXXXX)
broker= sampler= watcher=
pids=()

cleanup() {
	for p in "${pids[@]}" $watcher $sampler $broker; do kill "$p" 2>/dev/null || :; done
	for p in "${pids[@]}" $watcher $sampler $broker; do wait "$p" 2>/dev/null || :; done
	rm -rf "$work"
}
trap cleanup EXIT

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/broker.sh"
bench_free_port
bench_broker_conf "$work/mosquitto.conf"
start_broker() { bench_broker_start "$work/mosquitto.conf"; }

# The broker's utime+stime in clock ticks, every WINDOW seconds, to a file.
start_sampler() { # file
	local pid=$broker
	(while :; do
		printf '%s %s\n' "$(date +%s.%N)" "$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo -)"
		sleep "$WINDOW"
	done) >"$1" &
	sampler=$!
}
stop_sampler() { kill "$sampler" 2>/dev/null || :; wait "$sampler" 2>/dev/null || :; sampler=; }

start_watcher() { bench_watch "$1"; }
stop_watcher() { kill "$watcher" 2>/dev/null || :; wait "$watcher" 2>/dev/null || :; watcher=; }

config() { # instance setting
	local i=$1 setting=$2 rate=
	case ",$setting," in *,unpaced,*) rate=0 ;; esac
	case "$setting" in *rate=*) rate=${setting##*rate=}; rate=${rate%%,*} ;; esac
	printf 'mqbridge: {node_id: fleet%d}\nmqtt:\n  broker: 127.0.0.1\n  port: %s\n' "$i" "$port"
	[ -n "$rate" ] && printf '  announce_rate: %s\n' "$rate"
	case ",$setting," in *,device,*) printf '  discovery_mode: device\n' ;; esac
	printf '  sensor:\n'
	awk -v n="$ENTITIES" -v i="$i" 'BEGIN { for (k = 0; k < n; k++)
		printf "    - name: Sensor %d\n      state_topic: dev/%d/%d/temp\n      unit_of_measurement: \"°C\"\n", k, i, k }'
}

# Every entity's state, and with per-entity discovery its discovery topic,
# at or after t0 (the diagnostic sensor of each instance counts too).
wait_all() { # file t0 device timeout
	local want=$((INSTANCES * (ENTITIES + 1)))
	bench_wait_announced "$1" "$2" "$want" "$([ "$3" = 1 ] && echo 0 || echo "$want")" "$4"
}

# The broker's CPU between t0 and t1 from the sampler's file: CPU-seconds
# and the busiest window, % of one core.
broker_cpu() { # file t0 t1
	awk -v t0="$2" -v t1="$3" -v hz="$(getconf CLK_TCK)" '
		$2 == "-" { next }
		{ if (have && $1 >= t0 && pt <= t1) { d = ($2 - pc) / hz; tot += d
			  pct = 100 * d / ($1 - pt); if (pct > peak) peak = pct }
		  pt = $1; pc = $2; have = 1 }
		END { printf "%.3f %.0f\n", tot, peak }' "$1"
}

messages_since() { # file t0
	awk -v t0="$2" '$1 >= t0 { n++ } END { print n + 0 }' "$1"
}

printf '%-16s %-7s %9s %13s %13s %9s\n' setting storm "done s" "broker CPU-s" "peak % core" messages
for setting in $SETTINGS; do
	device=0
	case ",$setting," in *,device,*) device=1 ;; esac
	start_broker
	pids=()
	for i in $(seq "$INSTANCES"); do
		config "$i" "$setting" >"$work/c$i.yaml"
		"$MQB" -c "$work/c$i.yaml" -P "$PDIR" -l warning >"$work/d$i.log" 2>&1 &
		pids+=($!)
	done
	start_watcher "$work/w0"
	wait_all "$work/w0" 0 "$device" 300 >/dev/null
	for round in $(seq "$ROUNDS"); do
		# Home Assistant restarts.
		sleep 1
		stop_watcher
		start_watcher "$work/w1"
		wait_all "$work/w1" 0 "$device" 120 >/dev/null # what is retained
		sleep 0.5
		start_sampler "$work/cpu"
		t0=$(date +%s.%N)
		mosquitto_pub -h 127.0.0.1 -p "$port" -t homeassistant/status -m online
		t1=$(wait_all "$work/w1" "$t0" "$device" 120)
		sleep "$WINDOW"
		stop_sampler
		read -r cpu peak < <(broker_cpu "$work/cpu" "$t0" "$t1")
		printf '%-16s %-7s %9.2f %13s %13s %9s\n' "$setting" ha "$(echo "$t1 - $t0" | bc)" \
			"$cpu" "$peak" "$(messages_since "$work/w1" "$t0")"
		# The broker dies and comes back empty.
		stop_watcher
		kill -9 "$broker"
		wait "$broker" 2>/dev/null || :
		t0=$(date +%s.%N)
		start_broker
		start_sampler "$work/cpu"
		start_watcher "$work/w2"
		t1=$(wait_all "$work/w2" 0 "$device" 120)
		sleep "$WINDOW"
		stop_sampler
		read -r cpu peak < <(broker_cpu "$work/cpu" "$t0" "$t1")
		printf '%-16s %-7s %9.2f %13s %13s %9s\n' "$setting" broker "$(echo "$t1 - $t0" | bc)" \
			"$cpu" "$peak" "$(messages_since "$work/w2" 0)"
	done
	stop_watcher
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || :; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || :; done
	pids=()
	kill "$broker"; wait "$broker" 2>/dev/null || :
	broker=
done
