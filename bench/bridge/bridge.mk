# SPDX-License-Identifier: MIT
# automake fragment for the end-to-end bridge benchmark, included from Makefile.am:
# `make bench-bridge` runs bench/run-bridge.sh (issue 6) on the daemon and its
# mqtt module built here, beside the reference Paho forwarder, in one run.
#
# e2e_load feeds the sensors and counts their states (libmosquitto, found by
# configure for the tests); fwd_ref is bench/hosting/fwd_ref.c, linked with
# libpaho-mqtt3a and --as-needed, so nothing else of $(LIBS) is loaded beside
# it. Knobs (REPS, RATE, CG_N, OUT, ...) come
# from the environment: `REPS=5 make bench-bridge`; about 5 minutes.
EXTRA_PROGRAMS += bench/bridge/e2e_load bench/bridge/fwd_ref
bench_bridge_e2e_load_SOURCES = bench/bridge/e2e_load.c
bench_bridge_e2e_load_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
bench_bridge_e2e_load_LDFLAGS = -Wl,--as-needed
bench_bridge_e2e_load_LDADD = $(MOSQUITTO_LIBS) -lpthread -lm
bench_bridge_fwd_ref_SOURCES = bench/hosting/fwd_ref.c bench/hosting/common.h
bench_bridge_fwd_ref_LDFLAGS = -Wl,--as-needed
bench_bridge_fwd_ref_LDADD = -lpaho-mqtt3a

EXTRA_DIST += bench/run-bridge.sh bench/bridge/report.py

bench-bridge: mqbridge$(EXEEXT) platforms/mqtt.so bench/bridge/e2e_load$(EXEEXT) bench/bridge/fwd_ref$(EXEEXT)
	$(top_srcdir)/bench/run-bridge.sh $(top_builddir)/mqbridge$(EXEEXT) $(top_builddir)/platforms \
		$(top_builddir)/bench/bridge/e2e_load$(EXEEXT) $(top_builddir)/bench/bridge/fwd_ref$(EXEEXT)
.PHONY: bench-bridge
