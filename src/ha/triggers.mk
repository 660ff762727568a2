# SPDX-License-Identifier: MIT
# automake fragment, included from Makefile.am: Home Assistant's event
# helpers (track), triggers and the sun, with their tests.
libmqbcore_a_SOURCES += src/ha/track.c
TEST_PROGS += t/test_track
t_test_track_SOURCES = t/test_track.c $(TEST_UTIL)
pkginclude_HEADERS += include/mqbridge/track.h
libmqbcore_a_SOURCES += src/lib/sun.c
TEST_PROGS += t/test_sun
t_test_sun_SOURCES = t/test_sun.c $(TEST_UTIL)
pkginclude_HEADERS += include/mqbridge/sun.h
libmqbcore_a_SOURCES += src/ha/trigger.c src/ha/trigger_impl.h src/ha/trigger_state.c \
	src/ha/trigger_numeric.c src/ha/trigger_event.c src/ha/trigger_mqtt.c \
	src/ha/trigger_time.c src/ha/trigger_template.c src/ha/trigger_sun.c \
	src/ha/trigger_device.c src/ha/trigger_absent.c
TEST_PROGS += t/test_trigger
t_test_trigger_SOURCES = t/test_trigger.c $(TEST_UTIL) $(BROKER_UTIL)
pkginclude_HEADERS += include/mqbridge/trigger.h
