# SPDX-License-Identifier: MIT
# automake fragment, included from Makefile.am: the script engine (Home
# Assistant's helpers/script.py and condition.py) and what it shares with
# the triggers (durations), with their tests.
libmqbcore_a_SOURCES += src/template/native.c src/template/native.h \
	src/ha/duration.c src/ha/duration.h
TEST_PROGS += t/test_duration
t_test_duration_SOURCES = t/test_duration.c $(TEST_UTIL)
