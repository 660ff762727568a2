# SPDX-License-Identifier: MIT
# automake fragment for platforms/input_select, included from platforms/platforms.mk
platform_PROGRAMS += platforms/input_select.so
platforms_input_select_so_SOURCES = platforms/input_select.c
platforms_input_select_so_CFLAGS = $(MODULE_CFLAGS)
platforms_input_select_so_LDFLAGS = $(MODULE_LINK)
platforms_input_select_so_LDADD =
TEST_PROGS += t/test_input_select
t_test_input_select_SOURCES = t/test_input_select.c $(INPROC_TEST_UTIL)
t_test_input_select_LDFLAGS = $(mqbridge_LDFLAGS)
EXTRA_t_test_input_select_DEPENDENCIES = mqbridge.sym
