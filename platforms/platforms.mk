# SPDX-License-Identifier: MIT
# Integrations, each built as a loadable module NAME.so (DESIGN §5): the
# daemon exports the public API (mqbridge.sym, Makefile.am) and a module
# links nothing of the core itself. Every symbol of a module is
# hidden but its descriptor (platform.h declares it visible), so modules
# never see each other's helpers; t/exports.sh checks it.
platformdir = $(pkglibdir)/platforms
MODULE_CFLAGS = $(AM_CFLAGS) -fPIC -fvisibility=hidden
MODULE_LINK = -shared -fPIC
platform_PROGRAMS =
# The daemon and the end-to-end tests, which run it.
DAEMON_TEST_UTIL = t/daemon.c t/daemon.h $(TEST_UTIL) $(BROKER_UTIL)

include $(srcdir)/platforms/mqtt.mk
include $(srcdir)/platforms/command_line.mk
include $(srcdir)/platforms/sysmon.mk
include $(srcdir)/platforms/template.mk

# The test-only integration the bridge's tests run the daemon with.
check_PROGRAMS += t/platforms/testing.so
t_platforms_testing_so_SOURCES = t/platforms/testing.c
t_platforms_testing_so_CFLAGS = $(MODULE_CFLAGS)
t_platforms_testing_so_LDFLAGS = $(MODULE_LINK)
t_platforms_testing_so_LDADD =
TEST_PROGS += t/test_bridge
t_test_bridge_SOURCES = t/test_bridge.c $(DAEMON_TEST_UTIL)
t_test_bridge_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_bridge_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
# Modules the loader must refuse.
check_PROGRAMS += t/platforms/badapi.so t/platforms/nodesc.so
t_platforms_badapi_so_SOURCES = t/platforms/badapi.c
t_platforms_badapi_so_CFLAGS = $(MODULE_CFLAGS)
t_platforms_badapi_so_LDFLAGS = $(MODULE_LINK)
t_platforms_badapi_so_LDADD =
t_platforms_nodesc_so_SOURCES = t/platforms/nodesc.c
t_platforms_nodesc_so_CFLAGS = $(MODULE_CFLAGS)
t_platforms_nodesc_so_LDFLAGS = $(MODULE_LINK)
t_platforms_nodesc_so_LDADD =
