# SPDX-License-Identifier: MIT
# automake fragment for platforms/input_number, included from platforms/platforms.mk
platform_PROGRAMS += platforms/input_number.so
platforms_input_number_so_SOURCES = platforms/input_number.c
platforms_input_number_so_CFLAGS = $(MODULE_CFLAGS)
platforms_input_number_so_LDFLAGS = $(MODULE_LINK)
platforms_input_number_so_LDADD =
TEST_PROGS += t/test_input_number
t_test_input_number_SOURCES = t/test_input_number.c $(INPROC_TEST_UTIL)
t_test_input_number_LDFLAGS = $(mqbridge_LDFLAGS)
EXTRA_t_test_input_number_DEPENDENCIES = mqbridge.sym
