# SPDX-License-Identifier: MIT
# automake fragment for platforms/input_datetime, included from platforms/platforms.mk
platform_PROGRAMS += platforms/input_datetime.so
platforms_input_datetime_so_SOURCES = platforms/input_datetime.c
platforms_input_datetime_so_CFLAGS = $(MODULE_CFLAGS)
platforms_input_datetime_so_LDFLAGS = $(MODULE_LINK)
platforms_input_datetime_so_LDADD =
TEST_PROGS += t/test_input_datetime
t_test_input_datetime_SOURCES = t/test_input_datetime.c $(INPROC_TEST_UTIL)
t_test_input_datetime_LDFLAGS = $(mqbridge_LDFLAGS)
EXTRA_t_test_input_datetime_DEPENDENCIES = mqbridge.sym
