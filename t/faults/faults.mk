# SPDX-License-Identifier: MIT
# automake fragment for t/faults/, included from Makefile.am after
# platforms/platforms.mk: the fault-injection suite (issue 12), the real
# daemon against a real mosquitto, every case bounded and its figure checked.
FAULTS_UTIL = t/faults/faults.c t/faults/faults.h $(DAEMON_TEST_UTIL)
FAULTS_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS) -I$(srcdir)/t
FAULTS_LDADD = $(LDADD) $(MOSQUITTO_LIBS)
TEST_PROGS += t/faults/test_starvation
t_faults_test_starvation_SOURCES = t/faults/test_starvation.c $(FAULTS_UTIL)
t_faults_test_starvation_CFLAGS = $(FAULTS_CFLAGS)
t_faults_test_starvation_LDADD = $(FAULTS_LDADD)
TEST_PROGS += t/faults/test_amplification
t_faults_test_amplification_SOURCES = t/faults/test_amplification.c $(FAULTS_UTIL)
t_faults_test_amplification_CFLAGS = $(FAULTS_CFLAGS)
t_faults_test_amplification_LDADD = $(FAULTS_LDADD)
TEST_PROGS += t/faults/test_broker
t_faults_test_broker_SOURCES = t/faults/test_broker.c $(FAULTS_UTIL)
t_faults_test_broker_CFLAGS = $(FAULTS_CFLAGS)
t_faults_test_broker_LDADD = $(FAULTS_LDADD)
TEST_PROGS += t/faults/test_secrets
t_faults_test_secrets_SOURCES = t/faults/test_secrets.c $(FAULTS_UTIL)
t_faults_test_secrets_CFLAGS = $(FAULTS_CFLAGS)
t_faults_test_secrets_LDADD = $(FAULTS_LDADD)
TEST_PROGS += t/faults/test_oversize
t_faults_test_oversize_SOURCES = t/faults/test_oversize.c $(FAULTS_UTIL)
t_faults_test_oversize_CFLAGS = $(FAULTS_CFLAGS)
t_faults_test_oversize_LDADD = $(FAULTS_LDADD)
TEST_PROGS += t/faults/test_alloc
t_faults_test_alloc_SOURCES = t/faults/test_alloc.c $(FAULTS_UTIL)
t_faults_test_alloc_CFLAGS = $(FAULTS_CFLAGS)
t_faults_test_alloc_LDADD = $(FAULTS_LDADD)
TEST_PROGS += t/faults/test_limits
t_faults_test_limits_SOURCES = t/faults/test_limits.c $(FAULTS_UTIL)
t_faults_test_limits_CFLAGS = $(FAULTS_CFLAGS)
t_faults_test_limits_LDADD = $(FAULTS_LDADD)
TEST_PROGS += t/faults/test_soak
t_faults_test_soak_SOURCES = t/faults/test_soak.c $(FAULTS_UTIL)
t_faults_test_soak_CFLAGS = $(FAULTS_CFLAGS)
t_faults_test_soak_LDADD = $(FAULTS_LDADD)
