#!/bin/sh
# SPDX-License-Identifier: MIT
# t/rabbitmq.sh: RabbitMQ nodes for t/test_brokers (Debian's rabbitmq-server,
# its MQTT plugin), run as the caller from a private directory, on ports the
# test chose: a node's data, logs and configuration under DIR/NAME, the
# Erlang cookie in DIR, epmd on $ERL_EPMD_PORT (never the shared 4369).
#
#   t/rabbitmq.sh start DIR NAME MQTT_PORT AMQP_PORT DIST_PORT
#   t/rabbitmq.sh join  DIR NAME OTHER      (NAME joins OTHER's cluster)
#   t/rabbitmq.sh stop  DIR NAME            (rabbitmqctl stop, bounded)
#   t/rabbitmq.sh kill-epmd                 (after the last node)
# Exit 0 on success; a failure prints the node's log tail.
set -u
BIN=/usr/lib/rabbitmq/bin
: "${ERL_EPMD_PORT:?}"
export ERL_EPMD_PORT
cmd=$1
shift

ctl() { # dir name args...
	d=$1 n=$2
	shift 2
	HOME=$d timeout 60 "$BIN/rabbitmqctl" -n "$n@localhost" "$@"
}

case $cmd in
start)
	d=$1 n=$2 mqtt=$3 amqp=$4 dist=$5 nd=$1/$2
	mkdir -p "$nd/mnesia" "$nd/log"
	[ -f "$d/.erlang.cookie" ] || { printf 'MQBTESTCOOKIE%s' "$$" >"$d/.erlang.cookie"; chmod 600 "$d/.erlang.cookie"; }
	cat >"$nd/rabbitmq.conf" <<EOF
listeners.tcp.default = $amqp
mqtt.listeners.tcp.default = $mqtt
mqtt.allow_anonymous = true
loopback_users = none
log.file.level = info
EOF
	echo '[rabbitmq_mqtt].' >"$nd/enabled_plugins"
	HOME=$d RABBITMQ_NODENAME=$n@localhost RABBITMQ_DIST_PORT=$dist \
		RABBITMQ_MNESIA_BASE=$nd/mnesia RABBITMQ_LOG_BASE=$nd/log \
		RABBITMQ_CONFIG_FILE=$nd/rabbitmq.conf RABBITMQ_ENABLED_PLUGINS_FILE=$nd/enabled_plugins \
		RABBITMQ_PID_FILE=$nd/pid RABBITMQ_FEATURE_FLAGS_FILE=$nd/feature_flags \
		RABBITMQ_PLUGINS_EXPAND_DIR=$nd/plugins-expand \
		setsid "$BIN/rabbitmq-server" >"$nd/out.log" 2>&1 </dev/null &
	if ! ctl "$d" "$n" wait --timeout 60 "$nd/pid" >"$nd/wait.log" 2>&1; then
		tail -20 "$nd/out.log" >&2
		exit 1
	fi
	;;
join)
	d=$1 n=$2 other=$3
	ctl "$d" "$n" stop_app >/dev/null &&
		ctl "$d" "$n" join_cluster "$other@localhost" >/dev/null &&
		ctl "$d" "$n" start_app >/dev/null ||
		{ tail -20 "$d/$n/out.log" >&2; exit 1; }
	;;
stop)
	d=$1 n=$2
	ctl "$d" "$n" stop >/dev/null 2>&1 || :
	;;
kill-epmd)
	epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || :
	;;
*)
	echo "usage: $0 start|join|stop|kill-epmd ..." >&2
	exit 2
	;;
esac
