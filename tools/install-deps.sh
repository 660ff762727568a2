#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what mqbridge needs to build, test and run, from Debian's packages
# by name. Skips apt entirely when everything is already there. With the
# argument "package", also what building the Debian packages needs (not
# installed for the test suite: lintian alone is some 60 packages).
set -eu

PACKAGES="gcc make autoconf automake libtool pkg-config
clang-14 libclang-rt-14-dev
libev-dev libjansson-dev libyaml-dev libcmocka-dev libpaho-mqtt-dev
mosquitto mosquitto-clients libmosquitto-dev
valgrind mandoc openssl
python3 python3-jinja2 python3-prometheus-client
libmicrohttpd-dev"
[ "${1:-}" = package ] && PACKAGES="$PACKAGES dpkg-dev debhelper fakeroot lintian"

missing=
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: not root; run as root or install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing
