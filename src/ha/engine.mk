# SPDX-License-Identifier: MIT
# automake fragment, included from Makefile.am: the script engine (Home
# Assistant's helpers/script.py and condition.py) and what it shares with
# the triggers (durations, native template results), with their tests.
libmqbcore_a_SOURCES += src/template/native.c src/template/native.h
