# SPDX-License-Identifier: MIT
# automake fragment for platforms/counter, included from platforms/platforms.mk
platform_PROGRAMS += platforms/counter.so
platforms_counter_so_SOURCES = platforms/counter.c
platforms_counter_so_CFLAGS = $(MODULE_CFLAGS)
platforms_counter_so_LDFLAGS = $(MODULE_LINK)
platforms_counter_so_LDADD =
TEST_PROGS += t/test_counter
t_test_counter_SOURCES = t/test_counter.c $(INPROC_TEST_UTIL)
t_test_counter_LDFLAGS = $(mqbridge_LDFLAGS)
EXTRA_t_test_counter_DEPENDENCIES = mqbridge.sym
