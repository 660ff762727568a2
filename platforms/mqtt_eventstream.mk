# SPDX-License-Identifier: MIT
# automake fragment for platforms/mqtt_eventstream, included from platforms/platforms.mk
platform_PROGRAMS += platforms/mqtt_eventstream.so
platforms_mqtt_eventstream_so_SOURCES = platforms/mqtt_eventstream.c
platforms_mqtt_eventstream_so_CFLAGS = $(MODULE_CFLAGS)
platforms_mqtt_eventstream_so_LDFLAGS = $(MODULE_LINK)
platforms_mqtt_eventstream_so_LDADD =
# End to end with the real daemon and mosquitto: groups following MQTT
# members, sun.sun, shell_command from a switch, and two daemons on one
# broker seeing each other's events.
TEST_PROGS += t/test_helpers2_mqtt
t_test_helpers2_mqtt_SOURCES = t/test_helpers2_mqtt.c $(DAEMON_TEST_UTIL)
t_test_helpers2_mqtt_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS)
t_test_helpers2_mqtt_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
