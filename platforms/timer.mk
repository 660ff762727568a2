# SPDX-License-Identifier: MIT
# automake fragment for platforms/timer, included from platforms/platforms.mk
platform_PROGRAMS += platforms/timer.so
platforms_timer_so_SOURCES = platforms/timer.c
platforms_timer_so_CFLAGS = $(MODULE_CFLAGS)
platforms_timer_so_LDFLAGS = $(MODULE_LINK)
platforms_timer_so_LDADD =
TEST_PROGS += t/test_timer_helper
t_test_timer_helper_SOURCES = t/test_timer_helper.c $(INPROC_TEST_UTIL)
t_test_timer_helper_LDFLAGS = $(mqbridge_LDFLAGS)
EXTRA_t_test_timer_helper_DEPENDENCIES = mqbridge.sym
