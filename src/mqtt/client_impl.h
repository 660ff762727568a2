/* SPDX-License-Identifier: MIT */
/* The MQTT client's insides, shared by its three files: client.c
 * (connecting, back-off, stopping), io.c (reading and dispatching,
 * the outbound queue, publish completions) and subs.c (subscriptions,
 * their debounce and the jobs that sync them with the broker). */
#ifndef MQB_MQTT_CLIENT_IMPL_H
#define MQB_MQTT_CLIENT_IMPL_H

#include "core/core_impl.h"
#include "core/hass.h"

#include <stdatomic.h>
#include <stdint.h>
#include <MQTTClient.h>

#include "mqtt/client.h"
#include "mqtt/filter_table.h"
#include "mqtt/paho.h"
#include "mqtt/topic_tree.h"
#include "mqbridge/mqtt.h"

#define LOG "mqtt"
#define SESSION_EXPIRY (7 * 24 * 3600) /* MQTT 5 sessions kept a week when not clean */
/* A dropped message this much over max_payload has the client reconnect
 * to free what Paho read of it (mqtt__give_back); below, the few MiB stay
 * until a larger one comes. */
#define GIVE_BACK_OVER (4u * 1024 * 1024)
/* Subscribing to this many filters at once, or taking this many messages
 * Paho read while a job had the client (retained ones answering the
 * subscriptions, our own announcements echoed before an unsubscription),
 * leaves megabytes free in the heap: they are given back. */
#define TRIM_AFTER 1000

/* 56 bytes on 64 bits (64 with malloc's header): one per MQTT entity's
 * topic, 100,000 of them. The job is kept in pieces (its kind in a byte),
 * and f->subs is linked one way: a filter nearly always has one handler,
 * and unsubscribing from one with many walks them, as the topic tree's
 * removal does. */
struct mqb_mqtt_sub {
	mqb_job_fn fn;
	void *ud;
	const char *name;
	mqb_release_fn result_free;
	struct filter *f;
	struct mqb_mqtt_sub *next; /* f->subs, the newest first */
	unsigned refs;          /* 1 while registered, +1 while a dispatch holds it */
	int8_t qos;
	uint8_t kind;           /* enum mqb_job_kind */
	bool removed;
};

static inline struct mqb_job mqtt__sub_job(const struct mqb_mqtt_sub *s)
{
	return (struct mqb_job){ .kind = (enum mqb_job_kind)s->kind, .fn = s->fn, .ud = s->ud,
				 .name = s->name, .result_free = s->result_free };
}

/* MQTT 5 subscription identifiers: every filter without wildcards has
 * this one (a topic matches at most one of them), each filter with
 * wildcards and each shared one ($share/<group>/...) one of its own from 2
 * up. */
#define EXACT_SUB_ID 1u
#define MAX_SUB_ID 268435455u

/* Without wildcards and not shared: found by its text in m->filters, one
 * lookup per message; the topic tree holds the subscriptions of the
 * others. */
static inline bool mqtt__is_plain(const struct filter *fl)
{
	return fl->sub_id == EXACT_SUB_ID;
}

/* A publish waiting for the connection (queue) or for its ack (inflight). */
struct outmsg {
	char *topic;
	void *payload;
	size_t len;
	int qos;
	bool retain;
	int token;
	struct mqb_future *fut;
	MQTTProperties *props;  /* MQTT 5 only; NULL: none */
	const struct mqb_paho *paho; /* the library props came from */
	struct outmsg *next;
};

struct outq {
	struct outmsg *head, *tail;
	unsigned n;
};

enum mqtt_state {
	ST_BACKOFF,    /* waiting to (re)connect */
	ST_CONNECTING, /* the connect job owns the client */
	ST_CONNECTED,
	ST_SYNCING,    /* a subscription job owns the client */
	ST_STOPPED,
};

/* A broker of the failover list. */
struct broker {
	char *uri;              /* as Paho takes it: tcp://host:port, ssl://... */
	char *host;
	int port;
};

struct mqb_mqtt {
	struct mqb_core *core;
	struct mqtt_options opt;
	char *strings[8];       /* owned copies of the options' strings */
	struct broker *brokers; /* tried in order on every connect */
	unsigned nbrokers;
	unsigned current;       /* the one connected to, or last tried */
	char *status_topic;
	const struct mqb_paho *paho; /* the library the client comes from, for good */
	MQTTClient client;
	bool client_lost;       /* an abandoned job may still use the client */
	/* The client job (it owns the client) and where it is: JOB_QUEUED on
	 * the loop, JOB_RUNNING then JOB_DONE by its thread, or JOB_GIVEN_UP
	 * by a stop that came before it started (it then never starts). */
	mqb_job_fn job_fn;
	atomic_int job_state;
	enum mqtt_state state;
	bool stopping, ever_connected, dirty;
	/* "online" on the status topic waits until the core has started and
	 * the subscriptions made by then are acknowledged: a client that acts
	 * on it (Home Assistant, a test) finds every command topic listened. */
	bool birth_pending;
	struct mqb_listener *on_start; /* until the core starts */
	/* MQTT 5 and the broker takes subscription identifiers (its CONNACK
	 * did not say otherwise): messages are handed to the handlers of the
	 * subscription they came for. Set by the connect job. */
	bool sub_ids;
	unsigned next_sub_id;   /* for the next shared filter */
	bool share_warned;      /* the double-delivery warning was logged */
	unsigned attempt;
	unsigned long long rng;
	int fd;
	size_t room;            /* half of SO_SNDBUF: the most the socket may hold for a send */
	size_t outq;            /* what the socket holds unsent or unacknowledged, at most */
	bool paho_may_hold;     /* Paho may hold messages it read that the socket no longer shows */
	unsigned held_read;     /* messages taken from what Paho held, since the last trim */
	bool sparse;            /* messages come one per wake-up: see mqtt__drain */
	unsigned unchecked;     /* wake-ups since FIONREAD was last asked */
	double last_in;         /* when the socket last had something to read (ev_now) */
	char why[160];          /* the words of the last connection lost */
	char last_error[640];   /* why the last connect failed or the connection was lost */
	size_t oversized;       /* bytes of the largest message dropped since the last read */
	bool recycling;         /* reconnecting only to give Paho's buffers back */
	ev_io io;
	ev_timer tick, backoff, debounce;
	ev_timer resend;        /* retries sending while the socket is full */
	ev_timer more;          /* another read next loop iteration */
	unsigned batch_iter;    /* the loop iteration batch_used counts for */
	unsigned batch_used;    /* messages read in that iteration */
	struct filter_table filters;
	struct topic_tree *tree;
	struct outq queue, inflight;
	struct mqb_job *on_connect;
	unsigned non_connect;
	struct mqb_mqtt_stats stats;
	double last_drop_log;
};

static inline struct mqb_mqtt *client_of(struct mqb_core *core)
{
	return core__slot(core, CORE_SLOT_MQTT);
}

/* The broker connected to, or last tried, for messages. */
static inline const char *mqtt__uri(const struct mqb_mqtt *m)
{
	return m->brokers[m->current].uri;
}

/* io.c */
void mqtt__outq_prepend(struct outq *to, struct outq *from);
void mqtt__outq_fail_all(struct outq *q, int status);
void mqtt__read_sndbuf(struct mqb_mqtt *m);
void mqtt__flush_queue(struct mqb_mqtt *m);
void mqtt__published_cb(void *ctx, int dt, int packet_type, MQTTProperties *props,
			enum MQTTReasonCodes rc);
void mqtt__sub_unref(struct mqb_mqtt_sub *s);
void mqtt__drain(struct mqb_mqtt *m);
void mqtt__more_cb(struct ev_loop *loop, ev_timer *w, int revents);
void mqtt__resend_cb(struct ev_loop *loop, ev_timer *w, int revents);
void mqtt__io_cb(struct ev_loop *loop, ev_io *w, int revents);
void mqtt__tick_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* client.c */
int mqtt__subscribe_all(struct mqb_mqtt *m, char **filters, int *qos, const unsigned *ids, int n);
int mqtt__run_client_job(struct mqb_mqtt *m, mqb_job_fn fn, const char *name, void *arg,
			 mqb_future_done_fn done);
bool mqtt__job_cut_short(struct mqb_mqtt *m, struct mqb_future *f);
void mqtt__start_reading(struct mqb_mqtt *m);
void mqtt__stop_reading(struct mqb_mqtt *m);
void mqtt__connection_lost(struct mqb_mqtt *m, const char *why);
void mqtt__leave(struct mqb_mqtt *m);
enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_GIVEN_UP };

/* Says "online" if the birth is pending and nothing holds it back. */
void mqtt__birth(struct mqb_mqtt *m);
void mqtt__give_back(struct mqb_mqtt *m);

/* subs.c */
void mqtt__debounce_cb(struct ev_loop *loop, ev_timer *w, int revents);
bool mqtt__is_shared(const char *filter);

#endif
