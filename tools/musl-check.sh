#!/bin/bash
# SPDX-License-Identifier: MIT
# musl-check.sh [--full]: mqbridge against musl libc (Debian's musl-tools),
# the C library of OpenWrt and Alpine. Installs the Debian packages it needs.
#
#   (default) what needs no third-party library: the coroutines' fibers
#             (src/core/fiber.c) and their tests, with each switch musl can
#             have (asm, portable: musl has no ucontext), run natively.
#   --full    the rest as well, the documented way to build mqbridge for
#             musl: libev, jansson, libyaml, cmocka, Paho MQTT C (without
#             TLS) and libmosquitto (the tests' oracle, without TLS) built
#             from Debian's source packages with musl-gcc into
#             build/musl/prefix, then configure (switch chosen by
#             configure), make and make check. Paho's TLS library would
#             need OpenSSL built for musl as well; the daemon loads Paho at
#             run time (dlopen), `tls: true` only the TLS one, so configure
#             is told they exist. Where Debian's archive lacks Paho's source
#             the daemon builds from its headers and the tests that connect
#             to a broker fail.
#
# The last line is "N passed, N failed". MUSL_OUT (default build/musl)
# holds the trees.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${MUSL_OUT:-$top/build/musl}
jobs=${MUSL_JOBS:-2}
mkdir -p "$out"
out=$(cd "$out" && pwd)
passed=0
failed=0

log() { echo "musl-check: $*" >&2; }

sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	$sudo apt-get update -qq || true
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}

need_pkgs musl-tools musl-dev

# ---- the fibers alone --------------------------------------------------------

fibers() {
	local cfg=$out/fiber-config o bin
	mkdir -p "$cfg"
	printf '#define _GNU_SOURCE 1\n' >"$cfg/config.h"
	for sw in asm portable; do
		case $sw in asm) n=1 ;; portable) n=3 ;; esac
		bin=$out/test_fiber_$sw
		musl-gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
			-Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wno-unused-parameter -Wcast-align \
			-Wundef -DFIBER_NO_CMOCKA "-DMQB_CORO_SWITCH=$n" -I"$cfg" -I"$top/src" \
			-o "$bin" "$top/src/core/fiber.c" "$top/t/test_fiber.c" -pthread -lm
		echo "== musl, $sw switch (test_fiber without cmocka)"
		if o=$("$bin" 2>&1); then
			printf '%s\n' "$o" | grep -E '^\[ *(OK|SKIPPED|PASSED) *\]' || true
		else
			printf '%s\n' "$o" | tail -n 5
			failed=$((failed + 1))
		fi
		passed=$((passed + $(printf '%s\n' "$o" | grep -c '^\[       OK \]' || true)))
	done
}

# ---- everything --------------------------------------------------------------

# Debian's source packages through a private apt configuration (deb-src
# lines for Debian's archive), so the machine's is left as it is. Each is
# unpacked into $out/src/PACKAGE; fails when the archive does not have it.
fetch_src() { # package
	local dir=$out/apt dst=$out/src/$1 dsc
	[ -d "$dst" ] && return 0
	mkdir -p "$dir/lists/partial" "$out/src"
	if [ ! -f "$dir/sources.list" ]; then
		echo "deb-src http://deb.debian.org/debian $(. /etc/os-release && echo "$VERSION_CODENAME") main" \
			>"$dir/sources.list"
	fi
	local o=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$dir/lists")
	[ -n "$(ls "$dir/lists" | grep -v partial)" ] || apt-get "${o[@]}" update -qq >/dev/null
	(cd "$out/src" && apt-get "${o[@]}" source --download-only -qq "$1") >>"$out/deps.log" 2>&1 ||
		return 1
	dsc=$(ls "$out/src/$1"_*.dsc | head -n 1)
	dpkg-source -x --no-check "$dsc" "$dst" >>"$out/deps.log" 2>&1
}

# Kernel headers for musl-gcc, which searches only musl's own include dir.
kernel_headers() {
	local k=$out/kernel-include
	[ -d "$k" ] && { echo "$k"; return; }
	mkdir -p "$k"
	ln -s /usr/include/linux "$k/linux"
	ln -s /usr/include/asm-generic "$k/asm-generic"
	ln -s "/usr/include/$(gcc -dumpmachine)/asm" "$k/asm"
	echo "$k"
}

step() { # name, command...: runs it, its output to deps.log
	log "$1"
	shift
	"$@" >>"$out/deps.log" 2>&1 || { log "failed (see $out/deps.log)"; return 1; }
}

autotools_lib() { # source dir
	cd "$1" && { [ -x configure ] || autoreconf -fi; } &&
		./configure -q --prefix="$prefix" --disable-shared && make -s -j"$jobs" && make -s install
}

cmake_lib() { # source dir, build dir, cmake options...
	local src=$1 b=$2
	shift 2
	mkdir -p "$b" && cd "$b" &&
		cmake -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_C_COMPILER=musl-gcc "$@" "$src" &&
		make -s -j"$jobs" && make -s install
}

deps() {
	prefix=$out/prefix
	local stamp=$prefix/.built s=$out/src
	[ -f "$stamp" ] && return 0
	need_pkgs cmake dpkg-dev autoconf automake libtool
	mkdir -p "$prefix/include"
	export CC=musl-gcc
	CFLAGS="-O2 -fPIC -isystem $(kernel_headers)"
	export CFLAGS
	for p in libev jansson libyaml cmocka mosquitto; do
		fetch_src $p || { log "no source package $p"; return 1; }
	done
	step libev autotools_lib "$s/libev" || return 1
	step jansson autotools_lib "$s/jansson" || return 1
	step libyaml autotools_lib "$s/libyaml" || return 1
	step cmocka cmake_lib "$s/cmocka" "$s/cmocka-build" -DBUILD_SHARED_LIBS=OFF \
		-DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF || return 1
	step "libmosquitto (no TLS)" cmake_lib "$s/mosquitto" "$s/mosquitto-build" -DWITH_TLS=OFF \
		-DWITH_CJSON=OFF -DWITH_BROKER=OFF -DWITH_APPS=OFF -DWITH_CLIENTS=OFF \
		-DWITH_PLUGINS=OFF -DDOCUMENTATION=OFF -DWITH_STATIC_LIBRARIES=ON || return 1
	# Paho is loaded at run time (dlopen), never linked: without its source
	# the daemon still builds from its headers, and only the tests that
	# connect to a broker cannot pass.
	if fetch_src paho.mqtt.c; then
		step "paho.mqtt.c (no TLS)" cmake_lib "$s/paho.mqtt.c" "$s/paho-build" \
			-DPAHO_WITH_SSL=OFF -DPAHO_BUILD_SHARED=ON -DPAHO_BUILD_STATIC=OFF \
			-DPAHO_ENABLE_TESTING=OFF -DPAHO_BUILD_SAMPLES=OFF || return 1
	else
		log "no source package paho.mqtt.c here: its headers only, from libpaho-mqtt-dev"
		cp /usr/include/MQTT*.h "$prefix/include/"
	fi
	unset CC CFLAGS
	touch "$stamp"
}

full() {
	local b=$out/build kinc
	(deps) || { tail -n 30 "$out/deps.log"; return 1; }
	prefix=$out/prefix
	kinc=$(kernel_headers)
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
	mkdir -p "$b"
	# A musl binary finds the musl-built Paho through its run path; Paho's
	# TLS library is not built (see above).
	# The headers go with the compiler, so that every compile sees them
	# (the out-of-tree module test sets its own flags).
	(cd "$b" && [ -f Makefile ] || "$top/configure" -q --enable-debug --enable-werror \
		CC="musl-gcc -isystem $prefix/include -isystem $kinc" \
		LDFLAGS="-L$prefix/lib -Wl,-rpath,$prefix/lib" \
		PKG_CONFIG_PATH="$prefix/lib/pkgconfig" PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" \
		MOSQUITTO_CFLAGS="-I$prefix/include" MOSQUITTO_LIBS="-L$prefix/lib -lmosquitto" \
		ac_cv_lib_paho_mqtt3c_MQTTClient_createWithOptions=yes \
		ac_cv_lib_paho_mqtt3cs_MQTTClient_createWithOptions=yes) || return 1
	log "building in $b ($(sed -n 's/^#define MQB_CORO_SWITCH //p' "$b/config.h" |
		sed 's/1/asm/;s/2/ucontext/;s/3/portable/') switch)"
	make -s -C "$b" -j"$jobs" || return 1
	rm -f "$b"/t/*.log "$b"/t/*.trs "$b"/fuzz/*.log "$b"/fuzz/*.trs
	make -s -C "$b" -j"$jobs" -k check >"$out/check.out" 2>&1 || true
	grep -E '^(FAIL|ERROR):' "$out/check.out" || true
	local counts
	counts=$(sh "$top/tools/count-tests.sh" "$b" | tail -n 1)
	log "make check: $counts"
	passed=$((passed + $(echo "$counts" | awk '{ print $1 }')))
	failed=$((failed + $(echo "$counts" | awk '{ print $3 }')))
}

fibers
if [ "${1:-}" = --full ]; then
	full || failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
