# SPDX-License-Identifier: MIT
# automake fragment for platforms/input_button, included from platforms/platforms.mk
platform_PROGRAMS += platforms/input_button.so
platforms_input_button_so_SOURCES = platforms/input_button.c
platforms_input_button_so_CFLAGS = $(MODULE_CFLAGS)
platforms_input_button_so_LDFLAGS = $(MODULE_LINK)
platforms_input_button_so_LDADD =
TEST_PROGS += t/test_input_button
t_test_input_button_SOURCES = t/test_input_button.c $(INPROC_TEST_UTIL)
t_test_input_button_LDFLAGS = $(mqbridge_LDFLAGS)
EXTRA_t_test_input_button_DEPENDENCIES = mqbridge.sym
