# SPDX-License-Identifier: MIT
# automake fragment for platforms/mqtt, included from platforms/platforms.mk
platform_PROGRAMS += platforms/mqtt.so
platforms_mqtt_so_SOURCES = platforms/mqtt/entity.c platforms/mqtt/basic.c platforms/mqtt/cover.c \
	platforms/mqtt/light.c platforms/mqtt/climate.c platforms/mqtt/fan.c platforms/mqtt/misc.c \
	platforms/mqtt/mqtt.h platforms/mqtt/conf.h platforms/mqtt_util.c platforms/mqtt_util.h
platforms_mqtt_so_CFLAGS = $(MODULE_CFLAGS)
platforms_mqtt_so_LDFLAGS = $(MODULE_LINK)
platforms_mqtt_so_LDADD =
TEST_PROGS += t/test_mqtt_platform
t_test_mqtt_platform_SOURCES = t/test_mqtt_platform.c platforms/mqtt_util.c platforms/mqtt_util.h \
	$(DAEMON_TEST_UTIL)
t_test_mqtt_platform_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_mqtt_platform_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
