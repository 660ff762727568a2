/* SPDX-License-Identifier: MIT */
/* What the fault-injection drivers share: the daemon's resident memory and
 * descriptors read from /proc, the figures each case checks and prints
 * ("FIGURE name value unit"), and how generous a time limit is in a
 * sanitizer build. */
#ifndef MQB_T_FAULTS_H
#define MQB_T_FAULTS_H

#include <stdbool.h>
#include <sys/types.h>

/* Sanitizers slow the daemon several times over: limits on time scale. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FA_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FA_SANITIZED 1
#endif
#endif
#ifndef FA_SANITIZED
#define FA_SANITIZED 0
#endif
#define FA_SLOW (FA_SANITIZED ? 3.0 : 1.0)

/* VmRSS of pid in KiB (-1 if it is gone). */
long fa_rss_kib(pid_t pid);
/* Open descriptors of pid (-1 if it is gone). */
int fa_fd_count(pid_t pid);
/* Threads of pid (-1 if it is gone). */
int fa_threads(pid_t pid);
/* Print a measured figure (stdout, kept in the test's log) and check it
 * against its limit: fails the test when value > max. */
void fa_figure_max(const char *name, double value, double max, const char *unit);
/* The same for a lower bound. */
void fa_figure_min(const char *name, double value, double min, const char *unit);
/* Run a shell command; its exit status (-1 when it could not run). */
int fa_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include "daemon.h"

/* One daemon per case: fa_begin starts its broker (broker_extra may be
 * NULL) and writes yaml (td_write_config's placeholders); fa_teardown, the
 * cases' teardown, cleans up after a failed assertion too. */
extern struct td FA;
void fa_begin(const char *broker_extra, const char *yaml);
int fa_teardown(void **state);
/* Publish from t's watcher, waiting (bounded) for it to be connected again
 * after a broker restart. */
void fa_pub(struct td *t, const char *topic, const char *payload, int qos, bool retain);
/* A checker of sequence numbers: a persistent session (clean_session
 * false, QoS 1) on 127.0.0.1:port that records which of 0..n-1 arrived
 * as payloads on topic. With the broker's queue_qos0_messages, nothing
 * the daemon publishes while the checker is away is lost to it. */
struct fa_seq;
struct fa_seq *fa_seq_start(int port, const char *topic, int n);
/* Numbers of 0..upto-1 not seen yet. */
int fa_seq_missing(struct fa_seq *c, int upto);
/* The first number of 0..upto-1 not seen, or -1. */
int fa_seq_first_missing(struct fa_seq *c, int upto);
void fa_seq_stop(struct fa_seq *c);
/* Whether we may do what needs root (network namespaces, mounts). */
bool fa_root(void);

#endif
