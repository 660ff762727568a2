# SPDX-License-Identifier: MIT
# automake fragment, included from Makefile.am: `make bench-peers` measures
# mqbridge against the peers users would pick instead (Node-RED, a Python
# paho bridge, a bare Paho MQTTAsync forwarder) and writes bench/results.md
# and bench/plots/*.png in the source tree. Not part of `make check` or CI:
# about 10 minutes, and it installs what it needs when missing (gnuplot,
# mosquitto, Node.js, python3-paho-mqtt with apt-get; Node-RED, pinned, with
# npm into bench/peers/node-red/node_modules). bench/peers/run.sh says how.

EXTRA_PROGRAMS += bench/peers/loadgen bench/peers/fwd_ref
bench_peers_loadgen_SOURCES = bench/hosting/loadgen.c
# Only what each program uses: no libpaho-mqtt3cs beside libpaho-mqtt3a.
bench_peers_loadgen_LDFLAGS = -Wl,--as-needed
bench_peers_loadgen_LDADD = -lpthread
bench_peers_fwd_ref_SOURCES = bench/hosting/fwd_ref.c bench/hosting/common.h
bench_peers_fwd_ref_LDFLAGS = -Wl,--as-needed
bench_peers_fwd_ref_LDADD = -lpaho-mqtt3a

EXTRA_DIST += bench/peers/run.sh bench/peers/report.py bench/peers/py_bridge.py \
	bench/peers/notes.md bench/peers/node-red/package.json \
	bench/peers/node-red/package-lock.json bench/peers/node-red/settings.js \
	bench/peers/node-red/flows.json

# Where the daemon finds its integration modules, if it needs to be told.
BENCH_PEERS_PLATFORM_DIR = $(abs_top_builddir)/platforms
# Knobs passed through to run.sh (REPS, RATE, PEERS, BUDGET, ...) come from
# the environment: `REPS=1 make bench-peers`.
bench-peers: bench/peers/loadgen$(EXEEXT) bench/peers/fwd_ref$(EXEEXT)
	@$(MAKE) $(AM_MAKEFLAGS) mqbridge$(EXEEXT) $(platform_PROGRAMS) || \
		echo "bench-peers: the daemon did not build; its peer will be listed as skipped" >&2
	LOADGEN='$(abs_top_builddir)/bench/peers/loadgen$(EXEEXT)' \
	FWD_REF='$(abs_top_builddir)/bench/peers/fwd_ref$(EXEEXT)' \
	MQBRIDGE='$(abs_top_builddir)/mqbridge$(EXEEXT)' \
	MQB_PLATFORM_DIR='$(BENCH_PEERS_PLATFORM_DIR)' \
	$(top_srcdir)/bench/peers/run.sh
.PHONY: bench-peers
