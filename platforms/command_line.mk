# SPDX-License-Identifier: MIT
# automake fragment for platforms/command_line, included from platforms/platforms.mk
# The module, with its process runner (also unit-tested on its own in
# t/test_cmd_run).
platform_PROGRAMS += platforms/command_line.so
platforms_command_line_so_SOURCES = platforms/command_line.c platforms/cmd_run.c platforms/cmd_run.h
platforms_command_line_so_CFLAGS = $(MODULE_CFLAGS)
platforms_command_line_so_LDFLAGS = $(MODULE_LINK)
platforms_command_line_so_LDADD =
TEST_PROGS += t/test_cmd_run t/test_command_line
t_test_cmd_run_SOURCES = t/test_cmd_run.c platforms/cmd_run.c platforms/cmd_run.h $(TEST_UTIL)
t_test_command_line_SOURCES = t/test_command_line.c $(DAEMON_TEST_UTIL)
t_test_command_line_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_command_line_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
