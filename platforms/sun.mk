# SPDX-License-Identifier: MIT
# automake fragment for platforms/sun, included from platforms/platforms.mk
platform_PROGRAMS += platforms/sun.so
platforms_sun_so_SOURCES = platforms/sun.c
platforms_sun_so_CFLAGS = $(MODULE_CFLAGS)
platforms_sun_so_LDFLAGS = $(MODULE_LINK)
platforms_sun_so_LDADD =
TEST_PROGS += t/test_sun_entity
t_test_sun_entity_SOURCES = t/test_sun_entity.c $(INPROC_TEST_UTIL)
t_test_sun_entity_LDFLAGS = $(mqbridge_LDFLAGS)
EXTRA_t_test_sun_entity_DEPENDENCIES = mqbridge.sym
