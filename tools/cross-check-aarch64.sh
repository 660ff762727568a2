#!/bin/bash
# SPDX-License-Identifier: MIT
# Checks the aarch64 fiber switch without aarch64 hardware: builds src/core/fiber.c
# with t/test_fiber.c by cross-compiler, both flavours (own assembly and
# ucontext), and runs them under qemu-user. Extra arguments go to the tests
# (a test-name filter). Installs the Debian packages it needs when missing.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sudo=
if [ "$(id -u)" != 0 ]; then
	sudo=sudo
fi
apt_install() {
	$sudo apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}

need=()
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
if [ ${#need[@]} -gt 0 ]; then
	apt_install "${need[@]}"
fi

# cmocka for arm64 comes from Debian multiarch; without it the tests run on
# their own small runner (-DFIBER_NO_CMOCKA), same test bodies.
cmocka=yes
if [ ! -e /usr/lib/aarch64-linux-gnu/libcmocka.so ]; then
	if ! { dpkg --print-foreign-architectures | grep -qx arm64 ||
		$sudo dpkg --add-architecture arm64; } ||
		! apt_install libcmocka-dev:arm64 ||
		[ ! -e /usr/lib/aarch64-linux-gnu/libcmocka.so ]; then
		echo "cross-check: libcmocka-dev:arm64 not installable; using -DFIBER_NO_CMOCKA" >&2
		cmocka=no
	fi
fi

qemu() {
	qemu-aarch64 -L /usr/aarch64-linux-gnu "$@"
}

# Some qemu-user builds hang on fork() or pthread_create() of the guest
# (seen with Debian 12's qemu 7.2 on a 6.x kernel). Probe it; on a hang, run
# the tests one by one without the thread test, and the guard-page test's
# child directly instead of through fork.
cat >"$work/probe.c" <<'EOF_PROBE'
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>
static void *run(void *arg) { return arg; }
int main(void)
{
	pthread_t t;
	int st;
	pid_t pid = fork();
	if (pid == 0)
		_exit(7);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
		return 1;
	return pthread_create(&t, NULL, run, NULL) || pthread_join(t, NULL);
}
EOF_PROBE
aarch64-linux-gnu-gcc -O2 -o "$work/probe" "$work/probe.c" -pthread
emu_ok=yes
if ! timeout 20 qemu-aarch64 -L /usr/aarch64-linux-gnu "$work/probe"; then
	emu_ok=no
	echo "cross-check: qemu-aarch64 cannot fork/start threads here; running tests one at a time," \
		"without fibers_on_two_threads_do_not_interfere, and the overflow child directly" >&2
fi
names=$(sed -n 's/.*cmocka_unit_test(\([a-z0-9_]*\)).*/\1/p' "$top/t/test_fiber.c")

# Stands in for the configure-generated config.h.
printf '#define _GNU_SOURCE 1\n' >"$work/config.h"

failed=0
for uc in 0 1; do
	flags=(-std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
		-Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wno-unused-parameter
		-Wcast-align -Wundef "-DMQB_CORO_SWITCH=$((uc + 1))" -I"$work" -I"$top/src")
	libs=(-pthread -lm)
	if [ $cmocka = yes ]; then
		libs+=(-lcmocka)
	else
		flags+=(-DFIBER_NO_CMOCKA)
	fi
	aarch64-linux-gnu-gcc "${flags[@]}" -o "$work/test_fiber_$uc" \
		"$top/src/core/fiber.c" "$top/t/test_fiber.c" "${libs[@]}"
	if [ $uc = 0 ]; then
		echo "== aarch64, assembly switch (cmocka: $cmocka)"
	else
		echo "== aarch64, ucontext switch (cmocka: $cmocka)"
	fi
	if [ $emu_ok = yes ] || [ $# -gt 0 ]; then
		qemu "$work/test_fiber_$uc" "$@"
		continue
	fi
	for name in $names; do
		case $name in
		fibers_on_two_threads_do_not_interfere) echo "[ SKIPPED  ] $name (qemu threads)" ;;
		overflowing_the_stack_hits_the_guard_page)
			status=0
			qemu "$work/test_fiber_$uc" --overflow-child 2>/dev/null || status=$?
			if [ $status -ne 139 ]; then
				echo "[  FAILED  ] $name: --overflow-child exit status $status, want 139 (SIGSEGV)"
				failed=$((failed + 1))
			else
				echo "[       OK ] $name (--overflow-child killed by SIGSEGV)"
			fi ;;
		*)
			status=0
			out=$(qemu "$work/test_fiber_$uc" "$name" 2>&1) || status=$?
			printf '%s\n' "$out" | grep -E '^\[ *(OK|FAILED|SKIPPED|ERROR|LINE) *\]' || true
			[ $status = 0 ] || failed=$((failed + 1)) ;;
		esac
	done
done
if [ "$failed" -gt 0 ]; then
	echo "cross-check: $failed test run(s) failed" >&2
	exit 1
fi
