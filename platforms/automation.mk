# SPDX-License-Identifier: MIT
# automake fragment for platforms/automation and platforms/script (Home
# Assistant's automation and script integrations, on the script engine),
# included from platforms/platforms.mk, with their end-to-end tests.
platform_PROGRAMS += platforms/automation.so platforms/script.so
platforms_automation_so_SOURCES = platforms/automation.c \
	platforms/script_util.c platforms/script_util.h
platforms_automation_so_CFLAGS = $(MODULE_CFLAGS)
platforms_automation_so_LDFLAGS = $(MODULE_LINK)
platforms_automation_so_LDADD =
platforms_script_so_SOURCES = platforms/script.c \
	platforms/script_util.c platforms/script_util.h
platforms_script_so_CFLAGS = $(MODULE_CFLAGS)
platforms_script_so_LDFLAGS = $(MODULE_LINK)
platforms_script_so_LDADD =
TEST_PROGS += t/test_automation t/test_script_platform
t_test_automation_SOURCES = t/test_automation.c $(DAEMON_TEST_UTIL)
t_test_automation_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_automation_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
t_test_script_platform_SOURCES = t/test_script_platform.c $(DAEMON_TEST_UTIL)
t_test_script_platform_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_script_platform_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
