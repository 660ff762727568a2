# SPDX-License-Identifier: MIT
# automake fragment for platforms/template, included from platforms/platforms.mk
platform_PROGRAMS += platforms/template.so
platforms_template_so_SOURCES = platforms/template.c \
	platforms/template_entity.h platforms/template_impl.h platforms/template_trigger.c \
	platforms/template_domains.c \
	platforms/template_deps.c platforms/template_deps.h \
	platforms/template_result.c platforms/template_result.h \
	platforms/script_util.c platforms/script_util.h
platforms_template_so_CFLAGS = $(MODULE_CFLAGS)
platforms_template_so_LDFLAGS = $(MODULE_LINK)
platforms_template_so_LDADD =
# The dependency index and Home Assistant's result rules, without the daemon.
TEST_PROGS += t/test_template_util
t_test_template_util_SOURCES = t/test_template_util.c $(TEST_UTIL) \
	platforms/template_deps.c platforms/template_result.c
t_test_template_util_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/platforms
# End to end: the daemon, mosquitto, MQTT sensors as sources.
TEST_PROGS += t/test_template_platform
t_test_template_platform_SOURCES = t/test_template_platform.c $(DAEMON_TEST_UTIL)
t_test_template_platform_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_template_platform_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
# The other domains end to end: their templates, actions and commands.
TEST_PROGS += t/test_template_domains
t_test_template_domains_SOURCES = t/test_template_domains.c $(DAEMON_TEST_UTIL)
t_test_template_domains_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_template_domains_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
