/* SPDX-License-Identifier: MIT */
/* End-to-end tests: the real mqbridge binary run on a configuration the test
 * writes, against a real mosquitto (t/broker.c), watched by an MQTT client
 * (libmosquitto) that records every message it sees. Waits are bounded. */
#ifndef MQB_T_DAEMON_H
#define MQB_T_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "broker.h"

struct td_msg {
	char *topic;
	char *payload; /* NUL-terminated */
	size_t len;
	bool retain;
	double at;     /* tu_now() when received */
};

struct td {
	struct tu_broker broker;
	char dir[64];          /* private directory: config, files the test makes */
	char config[128];      /* <dir>/mqbridge.yaml */
	char log[128];         /* the daemon's stderr */
	pid_t pid;             /* the daemon, 0 when not running */
	/* Run the daemon through this command (NULL-terminated, e.g. "ip",
	 * "netns", "exec", "ns"), which must exec it in its own process;
	 * NULL: directly. */
	const char *const *wrap;
	void *mosq;            /* the watching client */
	/* Everything received, in order; guarded by a mutex inside. */
	struct td_msg *msgs;
	size_t nmsgs, cap;
	void *lock;
};

/* Start a broker (extra broker configuration may be NULL) and make the
 * private directory; the watcher connects and subscribes to "#" and
 * "$SYS/#" is not used. Fails the test on error. */
void td_init(struct td *t, const char *broker_extra);
/* The same on a broker the test started itself, listening on port (0: a
 * mosquitto of its own, as td_init); td_fini leaves that one alone. */
void td_init_on(struct td *t, int port, const char *broker_extra);
/* td_init, td_write_config and td_start, then wait for the daemon to say
 * online on status_topic; fails the test with both logs if it does not. */
void td_begin(struct td *t, const char *yaml, const char *status_topic);
/* Check yaml with `mqbridge -C` in a private directory, which must fail
 * with 78; what it printed goes to err (errlen bytes). */
void td_check_fails(const char *yaml, char *err, size_t errlen);
/* Fail the test unless needle is in text (printed whole). */
void td_expect_in(const char *text, const char *needle);
/* Write yaml (printf-style; "%PORT%" is replaced by the broker's port,
 * "%DIR%" by the private directory) to <dir>/mqbridge.yaml. */
void td_write_config(struct td *t, const char *yaml);
/* Write a file in the private directory; its path goes to out. */
void td_write_file(struct td *t, const char *name, const char *text, char *out, size_t outlen);
/* Start the daemon: mqbridge -c <config> -P <builddir>/platforms -l debug,
 * plus extra arguments (NULL-terminated, may be none). */
void td_start(struct td *t, ...);
/* SIGTERM and wait (bounded); returns its exit status (or -1). */
int td_stop(struct td *t);
/* SIGKILL (nothing the daemon does at stop happens) and wait (bounded). */
void td_kill(struct td *t);
/* Run mqbridge to completion with args (NULL-terminated) and capture its
 * stderr into err (errlen); returns the exit status. */
int td_run(struct td *t, char *err, size_t errlen, ...);
/* Publish from the watcher (QoS 1, waits for the broker's ack). */
void td_pub(struct td *t, const char *topic, const char *payload, bool retain);
/* The latest payload seen on topic at or after index from (NULL if none);
 * td_wait waits for topic to carry payload (NULL: anything) and returns the
 * message's index, or -1 after timeout seconds. */
const char *td_last(struct td *t, const char *topic);
long td_wait(struct td *t, const char *topic, const char *payload, double timeout);
/* Wait for a payload on topic received after index since. */
long td_wait_after(struct td *t, long since, const char *topic, const char *payload,
		   double timeout);
/* td_wait_after, failing the test with both logs when nothing comes;
 * td_expect waits from the start. They return the message's index. */
long td_expect_after(struct td *t, long since, const char *topic, const char *payload);
long td_expect(struct td *t, const char *topic, const char *payload);
/* Wait until the last payload on topic holds needle, failing the test
 * with both logs when it never does. */
void td_expect_holds(struct td *t, const char *topic, const char *needle);
/* Publish as a device and wait until the watcher has seen it come back
 * from the broker, so what follows is ordered after it. */
long td_device(struct td *t, const char *topic, const char *payload);
/* Messages seen so far (an index to pass to td_wait_after). */
long td_count(struct td *t);
/* When message i (an index td_wait & co returned) was received. */
double td_at(struct td *t, long i);
/* Messages from index since whose topic starts with prefix and ends with
 * suffix. */
size_t td_count_topic(struct td *t, long since, const char *prefix, const char *suffix);
/* The payloads seen on topic from index since, in order, joined with
 * commas into out (len bytes); returns how many. */
size_t td_join(struct td *t, long since, const char *topic, char *out, size_t len);
/* Messages from index since on topic whose payload is payload ("" for
 * the empty retained message that clears a topic). */
size_t td_count_payload(struct td *t, long since, const char *topic, const char *payload);
/* The payload retained on topic, read by a client of its own (out), or
 * NULL when nothing is retained there. */
const char *td_retained(struct td *t, const char *topic, char *out, size_t outlen);
/* Connect a client with client_id and leave: the broker drops a client
 * of that id (the daemon's), which reconnects. */
void td_take_over(struct td *t, const char *client_id);
/* Wait until the daemon's log contains needle. */
bool td_log_wait(struct td *t, const char *needle, double timeout);
/* How many lines of the daemon's log contain needle. */
int td_log_count(struct td *t, const char *needle);
/* td_log_wait, failing the test with both logs. */
void td_expect_log(struct td *t, const char *needle);
/* td_stop, failing the test with both logs unless the daemon exits 0 (a
 * sanitizer's report makes it non-zero). */
void td_stop_clean(struct td *t);
/* Print the daemon's log and the broker's (for failures). */
void td_dump(struct td *t);
/* Stop everything and remove the directory; nothing on a td never started
 * or finished already, so it serves as a test's teardown. */
void td_fini(struct td *t);

#endif
