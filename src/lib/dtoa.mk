# SPDX-License-Identifier: MIT
# automake fragment, included from Makefile.am: the dtoa module (doubles to
# and from decimal text as Python does it) and its test.
libmqbcore_a_SOURCES += src/lib/dtoa.c src/lib/dtoa.h
TEST_PROGS += t/test_dtoa
t_test_dtoa_SOURCES = t/test_dtoa.c $(TEST_UTIL)
