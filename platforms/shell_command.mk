# SPDX-License-Identifier: MIT
# automake fragment for platforms/shell_command, included from platforms/platforms.mk
# command_line's process runner and word splitter, compiled in as they are.
platform_PROGRAMS += platforms/shell_command.so
platforms_shell_command_so_SOURCES = platforms/shell_command.c platforms/cmd_run.c \
	platforms/cmd_run.h
platforms_shell_command_so_CFLAGS = $(MODULE_CFLAGS)
platforms_shell_command_so_LDFLAGS = $(MODULE_LINK)
platforms_shell_command_so_LDADD =
TEST_PROGS += t/test_shell_command
t_test_shell_command_SOURCES = t/test_shell_command.c $(INPROC_TEST_UTIL)
t_test_shell_command_LDFLAGS = $(mqbridge_LDFLAGS)
EXTRA_t_test_shell_command_DEPENDENCIES = mqbridge.sym
