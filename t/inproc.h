/* SPDX-License-Identifier: MIT */
/* The daemon in-process for the helpers' tests (t/inproc.c): options
 * loaded from YAML the test writes, daemon__async_start, the loop on a
 * thread of its own; service calls and states from the test's thread, the
 * fake clock (timer__advance) for anything that waits, the events fired
 * recorded, a restart on the same state directory. The MQTT client points
 * at a closed port: these tests are about the core, the end-to-end ones
 * about MQTT. Waits are bounded; failures fail the test with the log. */
#ifndef MQB_T_INPROC_H
#define MQB_T_INPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "testutil.h"

struct ip {
	struct tu_loop t;
	char dir[64];            /* config and state directory */
	char config[128];
	void *opts;              /* struct daemon_options */
	json_t *events;          /* [{"event_type", "data"}], under lock */
	void *lock;
	double shift;            /* the fake clock's advance so far, kept over restarts */
	size_t log_mark;         /* where this run's log begins */
	bool live;
	bool calls;              /* record call_service events too (a test sets it) */
};

/* Write yaml (an "mqbridge:"/"mqtt:" head is added unless it has its
 * own) to a new directory, load it (failing the test with every error),
 * and run the daemon until mqbridge_start has fired. */
void ip_start(struct ip *ip, const char *yaml);
/* ip_start with the fake clock reading when (Unix time) at the start
 * (0: the real time). */
void ip_start_at(struct ip *ip, const char *yaml, double when);
/* Stop (the final write of restored states happens) and start again with
 * the same file and state directory, or a new yaml (NULL: the same). */
void ip_restart(struct ip *ip, const char *yaml);
/* Stop; keep the directory (ip_fini removes it). */
void ip_stop(struct ip *ip);
void ip_fini(struct ip *ip);
/* Write the configuration file (for a reload). */
void ip_write(struct ip *ip, const char *yaml);

/* Call domain.service with data (JSON text, NULL: {}) and wait for it:
 * the handler's status. */
int ip_call(struct ip *ip, const char *domain, const char *service, const char *data);
/* ip_call asking for the response (response_variable): the status, and
 * the response as compact JSON with sorted keys in buf ("" for none). */
int ip_call_response(struct ip *ip, const char *domain, const char *service, const char *data,
		     char *buf, size_t len);
/* Set entity_id's state (a member a test moves) with attributes (JSON
 * text, NULL: none); state NULL removes it. Whatever follows it has run
 * when this returns. */
void ip_set(struct ip *ip, const char *entity_id, const char *state, const char *attributes);
/* The state of entity_id as mqb_state_to_json gives it (new reference),
 * or NULL. */
json_t *ip_state(struct ip *ip, const char *entity_id);
/* Its state string in buf ("" when there is none). */
const char *ip_value(struct ip *ip, const char *entity_id, char *buf, size_t len);
/* An attribute of entity_id as compact JSON in buf ("" when absent). */
const char *ip_attr(struct ip *ip, const char *entity_id, const char *name, char *buf,
		    size_t len);
/* Move the fake clock (timers due fire before this returns); a restart
 * starts where it was. */
void ip_advance(struct ip *ip, double seconds);
/* The wall clock the core follows (Unix time). */
double ip_now(struct ip *ip);
/* Move the fake clock to just past a whole second. The clock runs on in
 * real time, and Home Assistant rounds a timer's start and end to the
 * second: steps that follow this stay within one second however slowly
 * the machine (or an emulator) runs, short of a second's stall. */
void ip_align(struct ip *ip);
/* Events of type fired so far, as compact JSON data objects, one a line
 * in buf; the count. */
size_t ip_events(struct ip *ip, const char *type, char *buf, size_t len);
void ip_clear_events(struct ip *ip);
/* Whether the daemon's log holds needle. */
bool ip_logged(struct ip *ip, const char *needle);

/* Check yaml as `mqbridge -C` does: the errors, one a line
 * ("file:line:column: path: message"), with the file's directory cut so
 * they start "mqbridge.yaml:". The number of errors. */
size_t ip_check(const char *yaml, char *errs, size_t len);
/* Fail unless errs (what ip_check gave) holds text, showing them all. */
#define ip_expect_error(errs, text) \
	do { \
		if (!strstr(errs, text)) \
			fail_msg("no error\n  %s\namong\n%s", text, errs); \
	} while (0)

#endif
