# SPDX-License-Identifier: MIT
# bench/broker.sh: sourced by bench/run-scale.sh and bench/run-fleet.sh: a
# private mosquitto on a free 127.0.0.1 port (no persistence, no queue
# limit, TCP_NODELAY), started and stopped by its PID.

# A port nothing listens on, into $port.
bench_free_port() {
	port=
	for p in $(shuf -i 20000-60999 -n 50); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; return 0; fi
	done
	echo "bench: no free port" >&2
	return 1
}

# Write the broker's configuration for $port into file.
bench_broker_conf() { # file
	printf 'listener %s 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\npersistence false\nuser root\nlog_dest none\nmax_queued_messages 0\n' \
		"$port" >"$1"
}

# Start mosquitto on conf; its PID into $broker, once it accepts.
bench_broker_start() { # conf
	mosquitto -c "$1" 2>/dev/null &
	broker=$!
	for _ in $(seq 250); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.02; done
	echo "bench: mosquitto did not start on port $port" >&2
	return 1
}

# A client subscribed as Home Assistant would be: the discovery prefix and
# every state topic, one "time topic" line a message into file; its PID
# into $watcher.
bench_watch() { # file
	mosquitto_sub -h 127.0.0.1 -p "$port" -F '%U %t' -t 'homeassistant/#' \
		-t 'mqbridge/+/sensor/+/state' >"$1" 2>/dev/null &
	watcher=$!
}

# Until the watcher's file has want distinct states and want distinct
# discovery topics (configs: 0 for none wanted) received at or after t0;
# prints when the last of them came (1: timed out, with what there was).
bench_wait_announced() { # file t0 want configs timeout
	local file=$1 t0=$2 want=$3 configs=$4 end=$(($(date +%s) + $5)) r ns nc last
	while :; do
		r=$(awk -v t0="$t0" '
			$1 >= t0 && $2 ~ /\/state$/ { if (!($2 in s)) { s[$2]; ns++ } if ($1 > last) last = $1 }
			$1 >= t0 && $2 ~ /\/config$/ { if (!($2 in c)) { c[$2]; nc++ } if ($1 > last) last = $1 }
			END { printf "%d %d %.6f\n", ns, nc, last }' "$file")
		read -r ns nc last <<<"$r"
		if [ "$ns" -ge "$want" ] && [ "$nc" -ge "$configs" ]; then
			echo "$last"
			return 0
		fi
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "bench: timed out: $ns states and $nc discovery topics of $want" >&2
			return 1
		fi
		sleep 0.2
	done
}
