# SPDX-License-Identifier: MIT
# automake fragment for platforms/input_text, included from platforms/platforms.mk
platform_PROGRAMS += platforms/input_text.so
platforms_input_text_so_SOURCES = platforms/input_text.c
platforms_input_text_so_CFLAGS = $(MODULE_CFLAGS)
platforms_input_text_so_LDFLAGS = $(MODULE_LINK)
platforms_input_text_so_LDADD =
TEST_PROGS += t/test_input_text
t_test_input_text_SOURCES = t/test_input_text.c $(INPROC_TEST_UTIL)
t_test_input_text_LDFLAGS = $(mqbridge_LDFLAGS)
EXTRA_t_test_input_text_DEPENDENCIES = mqbridge.sym
