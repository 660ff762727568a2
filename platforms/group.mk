# SPDX-License-Identifier: MIT
# automake fragment for platforms/group, included from platforms/platforms.mk
# Old-style groups (group.c) and the `platform: group` entities
# (group_platform.c, the sensor's statistics in group_sensor.c), and the
# notify platform (group_notify.c).
platform_PROGRAMS += platforms/group.so
platforms_group_so_SOURCES = platforms/group.c platforms/group.h \
	platforms/group_platform.c platforms/group_sensor.c platforms/group_notify.c
platforms_group_so_CFLAGS = $(MODULE_CFLAGS)
platforms_group_so_LDFLAGS = $(MODULE_LINK)
platforms_group_so_LDADD =
TEST_PROGS += t/test_group
t_test_group_SOURCES = t/test_group.c $(INPROC_TEST_UTIL)
t_test_group_LDFLAGS = $(mqbridge_LDFLAGS)
EXTRA_t_test_group_DEPENDENCIES = mqbridge.sym
