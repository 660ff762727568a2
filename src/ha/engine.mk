# SPDX-License-Identifier: MIT
# automake fragment, included from Makefile.am: the script engine (Home
# Assistant's helpers/script.py and condition.py) and what it shares with
# the triggers (durations), with their tests.
libmqbcore_a_SOURCES += src/template/native.c src/template/native.h \
	src/ha/duration.c src/ha/duration.h
TEST_PROGS += t/test_duration
t_test_duration_SOURCES = t/test_duration.c $(TEST_UTIL)
libmqbcore_a_SOURCES += src/ha/cv.c src/ha/cv.h src/ha/tval.c src/ha/tval.h \
	src/ha/condition.c src/ha/condition_impl.h
TEST_PROGS += t/test_condition
t_test_condition_SOURCES = t/test_condition.c $(TEST_UTIL)
libmqbcore_a_SOURCES += src/ha/script_impl.h src/ha/script_compile.c src/ha/script_run.c \
	src/ha/script_actions.c src/ha/script_wait.c
TEST_PROGS += t/test_script
t_test_script_SOURCES = t/test_script.c $(TEST_UTIL)
# `make bench` runs the engine's benchmark too (bench/run-script.sh).
EXTRA_PROGRAMS += bench/bench_script
bench_bench_script_SOURCES = bench/bench_script.c
bench_bench_script_LDADD = $(CORE_LIBS)
EXTRA_DIST += bench/run-script.sh
bench: bench-script
bench-script: bench/bench_script$(EXEEXT)
	$(top_srcdir)/bench/run-script.sh $(top_builddir)/bench/bench_script$(EXEEXT)
.PHONY: bench-script
# The engine's public API, exported to modules (t/exports.sh checks it).
pkginclude_HEADERS += include/mqbridge/script.h include/mqbridge/condition.h
