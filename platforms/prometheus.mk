# SPDX-License-Identifier: MIT
# automake fragment for platforms/prometheus, included from platforms/platforms.mk:
# built only when configure found libmicrohttpd.
if HAVE_MHD
platform_PROGRAMS += platforms/prometheus.so
platforms_prometheus_so_SOURCES = platforms/prometheus.c
platforms_prometheus_so_CFLAGS = $(MODULE_CFLAGS) $(MHD_CFLAGS)
platforms_prometheus_so_LDFLAGS = $(MODULE_LINK)
platforms_prometheus_so_LDADD = $(MHD_LIBS)
# Scraped while traffic flows, the page read by python3-prometheus-client.
TEST_PROGS += t/test_prometheus
t_test_prometheus_SOURCES = t/test_prometheus.c $(DAEMON_TEST_UTIL)
t_test_prometheus_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_prometheus_CPPFLAGS = $(AM_CPPFLAGS) -DPROM_PARSE='"$(abs_top_srcdir)/t/prom-parse.py"'
t_test_prometheus_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
endif
EXTRA_DIST += t/prom-parse.py
