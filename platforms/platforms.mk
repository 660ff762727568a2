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
# The daemon in-process, for the helpers' tests (the fake clock); its
# drivers link as the daemon does, so modules find the core (and are
# linked again when the exported functions change: mqbridge.sym).
INPROC_TEST_UTIL = t/inproc.c t/inproc.h $(TEST_UTIL)

include $(srcdir)/platforms/mqtt.mk
include $(srcdir)/platforms/command_line.mk
include $(srcdir)/platforms/sysmon.mk
include $(srcdir)/platforms/template.mk
include $(srcdir)/platforms/automation.mk
include $(srcdir)/platforms/input_boolean.mk
include $(srcdir)/platforms/input_number.mk
include $(srcdir)/platforms/input_select.mk
include $(srcdir)/platforms/input_text.mk
include $(srcdir)/platforms/input_datetime.mk
include $(srcdir)/platforms/input_button.mk
include $(srcdir)/platforms/counter.mk
include $(srcdir)/platforms/timer.mk
include $(srcdir)/platforms/group.mk
include $(srcdir)/platforms/sun.mk
include $(srcdir)/platforms/shell_command.mk
include $(srcdir)/platforms/mqtt_eventstream.mk
include $(srcdir)/platforms/prometheus.mk
# The helpers end to end: the real daemon, discovery, /set, restarts.
TEST_PROGS += t/test_helpers_mqtt
t_test_helpers_mqtt_SOURCES = t/test_helpers_mqtt.c $(DAEMON_TEST_UTIL)
t_test_helpers_mqtt_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_helpers_mqtt_LDADD = $(LDADD) $(MOSQUITTO_LIBS)

# The test-only integration the bridge's tests run the daemon with.
check_PROGRAMS += t/platforms/testing.so
t_platforms_testing_so_SOURCES = t/platforms/testing.c
t_platforms_testing_so_CFLAGS = $(MODULE_CFLAGS)
t_platforms_testing_so_LDFLAGS = $(MODULE_LINK)
t_platforms_testing_so_LDADD =
TEST_PROGS += t/test_bridge
# Other brokers (aedes, a RabbitMQ cluster): skipped where not installed.
TEST_PROGS += t/test_brokers
t_test_brokers_SOURCES = t/test_brokers.c $(DAEMON_TEST_UTIL)
t_test_brokers_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_brokers_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
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

# An integration built out of tree, as a third party builds one: the
# public headers and mqbridge.pc installed (DESTDIR) into t/oot/stage,
# t/oot/hello.c compiled with what `pkg-config --cflags mqbridge` says and
# installed where its platformdir says; test_module_oot runs the daemon
# with it and exports.sh checks its exports.
OOT_STAGE = $(abs_top_builddir)/t/oot/stage
OOT_PKG_CONFIG = PKG_CONFIG_PATH='$(OOT_STAGE)$(pkgconfigdir)' \
	PKG_CONFIG_SYSROOT_DIR='$(OOT_STAGE)' $(PKG_CONFIG)
t/oot/stage.stamp: $(pkginclude_HEADERS) mqbridge.pc
	$(AM_V_GEN)rm -rf '$(OOT_STAGE)' && $(MKDIR_P) t/oot && \
	$(MAKE) $(AM_MAKEFLAGS) install-pkgincludeHEADERS install-pkgconfigDATA \
		DESTDIR='$(OOT_STAGE)' >/dev/null && touch $@
t/oot/hello.stamp: $(srcdir)/t/oot/hello.c t/oot/stage.stamp
	$(AM_V_CCLD)set -e; \
	cflags=`$(OOT_PKG_CONFIG) --cflags mqbridge`; \
	dir=`$(OOT_PKG_CONFIG) --variable=platformdir mqbridge`; \
	case $$dir in '$(OOT_STAGE)'*) ;; *) dir='$(OOT_STAGE)'$$dir ;; esac; \
	if test "$$dir" != '$(OOT_STAGE)$(platformdir)'; then \
		echo "mqbridge.pc: platformdir $$dir is not $(platformdir)" >&2; exit 1; fi; \
	$(MKDIR_P) "$$dir"; \
	$(CC) -std=c11 -Wall -Wextra -Werror -g $(SAN_CFLAGS) $$cflags \
		-fPIC -fvisibility=hidden -shared -o "$$dir/hello.so" $(srcdir)/t/oot/hello.c; \
	touch $@
check_DATA = t/oot/hello.stamp
TEST_PROGS += t/test_module_oot
t_test_module_oot_SOURCES = t/test_module_oot.c $(DAEMON_TEST_UTIL)
t_test_module_oot_CPPFLAGS = $(AM_CPPFLAGS) -DOOT_PLATFORMDIR='"$(OOT_STAGE)$(platformdir)"'
t_test_module_oot_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_module_oot_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
EXTRA_t_test_module_oot_DEPENDENCIES = t/oot/hello.stamp
# A test-only component, built twice: a mapping of ids and a list.
check_PROGRAMS += t/platforms/testcomp.so t/platforms/testlist.so
t_platforms_testcomp_so_SOURCES = t/platforms/testcomp.c
t_platforms_testcomp_so_CFLAGS = $(MODULE_CFLAGS)
t_platforms_testcomp_so_LDFLAGS = $(MODULE_LINK)
t_platforms_testcomp_so_LDADD =
t_platforms_testlist_so_SOURCES = t/platforms/testcomp.c
t_platforms_testlist_so_CFLAGS = $(MODULE_CFLAGS) -DTESTCOMP_LIST
t_platforms_testlist_so_LDFLAGS = $(MODULE_LINK)
t_platforms_testlist_so_LDADD =
TEST_PROGS += t/test_loader
t_test_loader_SOURCES = t/test_loader.c $(DAEMON_TEST_UTIL)
t_test_loader_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_loader_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
# The compatibility corpus: configurations in Home Assistant's and the
# device projects' shapes, each checked and run end to end.
TEST_PROGS += t/test_corpus
t_test_corpus_SOURCES = t/test_corpus.c $(DAEMON_TEST_UTIL)
t_test_corpus_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_corpus_CPPFLAGS = $(AM_CPPFLAGS) -DCORPUS_DIR='"$(abs_top_srcdir)/t/data/corpus"'
t_test_corpus_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
# Reloading without a restart, end to end, across the integrations.
TEST_PROGS += t/test_reload
t_test_reload_SOURCES = t/test_reload.c $(DAEMON_TEST_UTIL)
t_test_reload_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_reload_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
# Supervision end to end: systemd's notifications and SIGUSR1's dump.
TEST_PROGS += t/test_notify
t_test_notify_SOURCES = t/test_notify.c $(DAEMON_TEST_UTIL)
t_test_notify_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_notify_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
# system_log, logbook and persistent_notification (src/daemon/notices.c).
TEST_PROGS += t/test_notices
t_test_notices_SOURCES = t/test_notices.c $(INPROC_TEST_UTIL)
t_test_notices_LDFLAGS = $(mqbridge_LDFLAGS)
EXTRA_t_test_notices_DEPENDENCIES = mqbridge.sym
# The log levels changed at run time through the logger services.
TEST_PROGS += t/test_logger
t_test_logger_SOURCES = t/test_logger.c $(DAEMON_TEST_UTIL)
t_test_logger_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_logger_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
