# SPDX-License-Identifier: MIT
# automake fragment for platforms/sysmon, included from platforms/platforms.mk
# The file and systemmonitor integrations share sysmon_read.c: the reads of
# /proc, /sys and of a file's last line, which their tests also call
# directly, without the daemon.
SYSMON_READ = platforms/sysmon_read.c platforms/sysmon_read.h
platform_PROGRAMS += platforms/file.so
platforms_file_so_SOURCES = platforms/file.c $(SYSMON_READ)
platforms_file_so_CFLAGS = $(MODULE_CFLAGS)
platforms_file_so_LDFLAGS = $(MODULE_LINK)
platforms_file_so_LDADD =
platform_PROGRAMS += platforms/systemmonitor.so
platforms_systemmonitor_so_SOURCES = platforms/systemmonitor.c $(SYSMON_READ)
platforms_systemmonitor_so_CFLAGS = $(MODULE_CFLAGS)
platforms_systemmonitor_so_LDFLAGS = $(MODULE_LINK)
platforms_systemmonitor_so_LDADD =
TEST_PROGS += t/test_systemmonitor t/test_file
t_test_systemmonitor_SOURCES = t/test_systemmonitor.c $(SYSMON_READ) $(DAEMON_TEST_UTIL)
t_test_systemmonitor_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/platforms
t_test_systemmonitor_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_systemmonitor_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
t_test_file_SOURCES = t/test_file.c $(SYSMON_READ) $(DAEMON_TEST_UTIL)
t_test_file_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/platforms
t_test_file_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_file_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
