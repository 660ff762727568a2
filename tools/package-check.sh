#!/bin/bash
# SPDX-License-Identifier: MIT
# Checks the built .deb files as an administrator would meet them: unpacked
# into a scratch root (dpkg -x, no dpkg database touched), the file list,
# the conffile, the declared run-time dependencies, the unit and its user;
# then the installed daemon runs against a private mosquitto until a
# sensor's state comes through, and stops cleanly.
#   tools/package-check.sh DIR    (DIR holds mqbridge_*.deb, mqbridge-dev_*.deb)
set -eu
dir=$1
deb=$(ls "$dir"/mqbridge_*.deb | head -n 1)
dev=$(ls "$dir"/mqbridge-dev_*.deb | head -n 1)
work=$(mktemp -d /tmp/mqbridge-pkg.XXXXXX)
root=$work/root
broker=
daemon=
cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null || :
	[ -n "$broker" ] && kill "$broker" 2>/dev/null || :
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "package-check: $*" >&2
	[ -f "$work/daemon.log" ] && { echo "---- daemon log" >&2; cat "$work/daemon.log" >&2; }
	exit 1
}

mkdir -p "$root"
dpkg -x "$deb" "$root"
dpkg -x "$dev" "$root"
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
platforms=$root/usr/lib/$triplet/mqbridge/platforms

# The file list: the daemon, its modules, the pages, the unit and its user,
# the example configuration; the headers and pkg-config file in -dev.
for f in usr/sbin/mqbridge "usr/lib/$triplet/mqbridge/platforms/mqtt.so" \
	"usr/lib/$triplet/mqbridge/platforms/command_line.so" \
	"usr/lib/$triplet/mqbridge/platforms/template.so" \
	usr/share/man/man8/mqbridge.8.gz usr/share/man/man5/mqbridge.yaml.5.gz \
	lib/systemd/system/mqbridge.service usr/lib/sysusers.d/mqbridge.conf \
	etc/mqbridge/mqbridge.yaml usr/share/doc/mqbridge/copyright \
	usr/include/mqbridge/core.h usr/include/mqbridge/platform.h \
	"usr/lib/$triplet/pkgconfig/mqbridge.pc"; do
	[ -e "$root/$f" ] || fail "the packages lack /$f"
done
if find "$root" -name '*.la' | grep -q .; then fail "libtool .la files are shipped"; fi
dpkg-deb -f "$deb" Depends | grep -q 'libpaho-mqtt1\.3' ||
	fail "Paho is not a declared dependency: $(dpkg-deb -f "$deb" Depends)"
dpkg-deb -I "$deb" conffiles | grep -qx /etc/mqbridge/mqbridge.yaml ||
	fail "/etc/mqbridge/mqbridge.yaml is not a conffile"
unit=$root/lib/systemd/system/mqbridge.service
for line in Type=notify User=mqbridge StateDirectory=mqbridge WatchdogSec= \
	"ExecStart=/usr/sbin/mqbridge -c /etc/mqbridge/mqbridge.yaml"; do
	grep -q "^$line" "$unit" || fail "the unit has no $line"
done
grep -q '^u *mqbridge ' "$root/usr/lib/sysusers.d/mqbridge.conf" ||
	fail "sysusers.d does not create the user mqbridge"
dpkg-deb -I "$deb" postinst | grep -q 'systemd-sysusers' || fail "postinst does not create the user"
dpkg-deb -I "$deb" postinst | grep -q 'deb-systemd-helper' || fail "postinst does not enable the unit"
dpkg-deb -I "$deb" postrm | grep -q 'rm -rf /var/lib/mqbridge' || fail "purge keeps the state"
if ldd "$root/usr/sbin/mqbridge" | grep -q 'not found'; then fail "missing libraries"; fi
echo "package-check: $(dpkg-deb -c "$deb" | wc -l) + $(dpkg-deb -c "$dev" | wc -l) files, lists and scripts as expected"

# The installed daemon against a private broker.
port=
for p in $(shuf -i 20000-60999 -n 50); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || fail "no free port"
printf 'listener %s 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\npersistence false\nuser root\nlog_dest none\n' \
	"$port" >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" 2>/dev/null &
broker=$!
for _ in $(seq 200); do # until it accepts, at most 10 s
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.05
done
cat >"$work/mqbridge.yaml" <<EOF
mqbridge:
  node_id: pkg
  state_dir: $work/state
mqtt:
  broker: 127.0.0.1
  port: $port
  sensor:
    - name: Package temperature
      state_topic: pkg/temperature
EOF
mkdir -p "$work/state"
"$root/usr/sbin/mqbridge" --version >/dev/null || fail "--version fails"
"$root/usr/sbin/mqbridge" -C -c "$work/mqbridge.yaml" -P "$platforms" >/dev/null 2>&1 ||
	fail "the installed daemon refuses the configuration"
"$root/usr/sbin/mqbridge" -c "$work/mqbridge.yaml" -P "$platforms" 2>"$work/daemon.log" &
daemon=$!
# Retained: whoever subscribes after the daemon announced still sees it.
mosquitto_sub -p "$port" -C 1 -W 20 -t mqbridge/pkg/status 2>/dev/null | grep -qx online ||
	fail "the installed daemon did not come online"
got=
for _ in $(seq 40); do # bounded: 40 rounds of at most 1 s
	mosquitto_pub -p "$port" -t pkg/temperature -m 21.5
	got=$(mosquitto_sub -p "$port" -C 1 -W 1 -t mqbridge/pkg/sensor/package_temperature/state 2>/dev/null || :)
	[ "$got" = 21.5 ] && break
done
[ "$got" = 21.5 ] || fail "the sensor's state did not come through (got '$got')"
kill -TERM "$daemon"
rc=0
wait "$daemon" || rc=$?
daemon=
[ $rc -eq 0 ] || fail "the daemon exited $rc on SIGTERM"
echo "package-check: the installed daemon ran against a broker and stopped cleanly"
