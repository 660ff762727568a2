# SPDX-License-Identifier: MIT
# automake fragment for platforms/input_boolean, included from platforms/platforms.mk
platform_PROGRAMS += platforms/input_boolean.so
platforms_input_boolean_so_SOURCES = platforms/input_boolean.c
platforms_input_boolean_so_CFLAGS = $(MODULE_CFLAGS)
platforms_input_boolean_so_LDFLAGS = $(MODULE_LINK)
platforms_input_boolean_so_LDADD =
TEST_PROGS += t/test_input_boolean
t_test_input_boolean_SOURCES = t/test_input_boolean.c $(INPROC_TEST_UTIL)
t_test_input_boolean_LDFLAGS = $(mqbridge_LDFLAGS)
EXTRA_t_test_input_boolean_DEPENDENCIES = mqbridge.sym
