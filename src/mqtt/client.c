/* SPDX-License-Identifier: MIT */
/* MQTT on the loop: one synchronous Paho MQTTClient driven only by the loop
 * thread (doc/mqtt-hosting.md has the measurements behind this). Connecting
 * and subscription changes block inside Paho, so they run as executor jobs
 * while the loop leaves the client alone; everything else — reading,
 * dispatching handlers per their job kind, publishing, keepalive — is the
 * loop's. Subscriptions are shared per filter; topics are validated here
 * because Paho hands over NULs, bad UTF-8 and wildcards. */
#include "core/core_impl.h"
#include "core/hass.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/sockios.h>
#include <unistd.h>
#include <MQTTClient.h>

#include "lib/hashmap.h"
#include "mqtt/paho.h"
#include "mqtt/topic_tree.h"
#include "mqbridge/bus.h"
#include "mqbridge/mqtt.h"
#include "mqtt/client.h"

#define LOG "mqtt"
#define SESSION_EXPIRY (7 * 24 * 3600) /* MQTT 5 sessions kept a week when not clean */

/* ---- messages --------------------------------------------------------- */

struct mqb_mqtt_message {
	atomic_int refs;
	int qos;
	bool retained;
	size_t len;
	const char *topic;    /* inside data, after the payload */
	char data[];          /* payload, NUL, topic, NUL */
};

struct mqb_mqtt_message *mqb_mqtt_message_ref(struct mqb_mqtt_message *m)
{
	atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	return m;
}

void mqb_mqtt_message_unref(struct mqb_mqtt_message *m)
{
	if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
		mqb__free(m);
}

const char *mqb_mqtt_message_topic(const struct mqb_mqtt_message *m) { return m->topic; }
const void *mqb_mqtt_message_payload(const struct mqb_mqtt_message *m) { return m->data; }
size_t mqb_mqtt_message_len(const struct mqb_mqtt_message *m) { return m->len; }
int mqb_mqtt_message_qos(const struct mqb_mqtt_message *m) { return m->qos; }
bool mqb_mqtt_message_retained(const struct mqb_mqtt_message *m) { return m->retained; }

static struct mqb_mqtt_message *message_new(const char *topic, size_t tlen, const void *payload,
					    size_t len, int qos, bool retained)
{
	struct mqb_mqtt_message *m = mqb__malloc(sizeof *m + len + 1 + tlen + 1);
	if (!m)
		return NULL;
	atomic_init(&m->refs, 1);
	m->qos = qos;
	m->retained = retained;
	m->len = len;
	if (len)
		memcpy(m->data, payload, len);
	m->data[len] = 0;
	char *t = m->data + len + 1;
	memcpy(t, topic, tlen);
	t[tlen] = 0;
	m->topic = t;
	return m;
}

/* ---- state ------------------------------------------------------------ */

struct filter;

struct mqb_mqtt_sub {
	struct mqb_job job;
	int qos;
	struct filter *f;
	unsigned refs;          /* 1 while registered, +1 while a dispatch holds it */
	bool removed;
	struct mqb_mqtt_sub *prev, *next; /* f->subs */
};

/* One broker subscription, shared by every handler on the same filter. */
struct filter {
	char *filter;
	int qos;                /* the highest any handler asked for */
	int broker_qos;         /* what the broker granted in this session; -1: none */
	struct mqb_mqtt_sub *subs;
	unsigned nsubs;
};

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

struct mqb_mqtt {
	struct mqb_core *core;
	struct mqtt_options opt;
	char *strings[8];       /* owned copies of the options' strings */
	char *uri, *status_topic;
	const struct mqb_paho *paho; /* the library the client comes from, for good */
	MQTTClient client;
	bool client_lost;       /* an abandoned job may still use the client */
	enum mqtt_state state;
	bool stopping, ever_connected, dirty;
	unsigned attempt;
	uint64_t rng;
	int fd;
	size_t room;            /* half of SO_SNDBUF: the most the socket may hold for a send */
	size_t outq;            /* what the socket holds unsent or unacknowledged, at most */
	bool paho_may_hold;     /* Paho may hold messages it read that the socket no longer shows */
	bool sparse;            /* messages come one per wake-up: see drain */
	unsigned unchecked;     /* wake-ups since FIONREAD was last asked */
	ev_io io;
	ev_timer tick, backoff, debounce;
	ev_timer resend;        /* retries sending while the socket is full */
	ev_timer more;          /* another read next loop iteration */
	unsigned batch_iter;    /* the loop iteration batch_used counts for */
	unsigned batch_used;    /* messages read in that iteration */
	struct hashmap filters; /* filter string -> struct filter */
	struct topic_tree *tree;
	struct outq queue, inflight;
	struct mqb_job *on_connect;
	unsigned non_connect;
	struct mqb_mqtt_stats stats;
	double last_drop_log;
};

static struct mqb_mqtt *client_of(struct mqb_core *core)
{
	return core__slot(core, CORE_SLOT_MQTT);
}

void mqtt__options_init(struct mqtt_options *opt)
{
	*opt = (struct mqtt_options){
		.host = "localhost",
		.keepalive = 60,
		.clean_session = true,
		.protocol = 4,
		.max_payload = 1024 * 1024,
		.max_inflight = 256,
		.outbound_queue_max = 1000,
		.inbound_batch = 64,
		.reconnect_min = 1.0,
		.reconnect_max = 60.0,
		.connect_timeout = 10.0,
	};
}

/* ---- outbound ---------------------------------------------------------- */

static void outmsg_free(struct outmsg *o)
{
	if (o->props) {
		o->paho->MQTTProperties_free(o->props);
		mqb__free(o->props);
	}
	mqb__free(o->topic);
	mqb__free(o->payload);
	mqb_future_unref(o->fut);
	mqb__free(o);
}

static void outmsg_settle(struct outmsg *o, int status)
{
	if (o->fut)
		mqb_future_resolve(o->fut, status, NULL, NULL);
	outmsg_free(o);
}

static void outq_push(struct outq *q, struct outmsg *o)
{
	o->next = NULL;
	if (q->tail)
		q->tail->next = o;
	else
		q->head = o;
	q->tail = o;
	q->n++;
}

static struct outmsg *outq_pop(struct outq *q)
{
	struct outmsg *o = q->head;
	if (o) {
		q->head = o->next;
		if (!q->head)
			q->tail = NULL;
		q->n--;
	}
	return o;
}

/* Move every message of from to the front of to, keeping their order. */
static void outq_prepend(struct outq *to, struct outq *from)
{
	if (!from->head)
		return;
	from->tail->next = to->head;
	if (!to->head)
		to->tail = from->tail;
	to->head = from->head;
	to->n += from->n;
	*from = (struct outq){ 0 };
}

static void outq_fail_all(struct outq *q, int status)
{
	struct outmsg *o;
	while ((o = outq_pop(q)))
		outmsg_settle(o, status);
}

/* Bytes a PUBLISH takes on the wire, MQTT 5 properties apart (props_len). */
static size_t publish_size(size_t tlen, size_t len, int qos, size_t props_len)
{
	size_t rest = 2 + tlen + (qos ? 2 : 0) + props_len + len;
	return 1 + (rest < 128 ? 1 : rest < 16384 ? 2 : rest < 2097152 ? 3 : 4) + rest;
}

static void read_sndbuf(struct mqb_mqtt *m)
{
	int sndbuf = 0;
	socklen_t len = sizeof sndbuf;
	if (getsockopt(m->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == 0 && sndbuf > 0)
		m->room = (size_t)sndbuf / 2;
	else
		m->room = SIZE_MAX; /* cannot tell: as if there were room */
}

/* Paho writes synchronously: with the send buffer full, a publish would
 * block the loop (Paho waits for the write in 100 ms turns). Messages are
 * held back while the socket holds half its buffer or more. Asking the
 * kernel before each publish cost two system calls per message; instead
 * m->outq adds what we wrote to the kernel's last answer, a bound from
 * above (the queue only shrinks meanwhile), and the kernel is asked again
 * when the bound reaches the limit. SO_SNDBUF is read on connect and again
 * when the queue is at the limit, since the kernel grows the buffer as the
 * connection needs it. */
static bool socket_has_room(struct mqb_mqtt *m)
{
	if (m->fd < 0 || m->outq < m->room)
		return true;
	int queued = 0;
	if (ioctl(m->fd, SIOCOUTQ, &queued) != 0)
		return true;
	m->outq = queued > 0 ? (size_t)queued : 0;
	if (m->outq < m->room)
		return true;
	read_sndbuf(m);
	return m->outq < m->room;
}

enum send_result { SENT, RETRY_LATER, FAILED };

/* Hand one message to Paho. Loop thread, connected. */
static enum send_result send_one(struct mqb_mqtt *m, struct outmsg *o)
{
	MQTTClient_message pub = MQTTClient_message_initializer;
	pub.payload = o->payload;
	pub.payloadlen = (int)o->len;
	pub.qos = o->qos;
	pub.retained = o->retain;
	MQTTClient_deliveryToken dt = 0;
	int rc;
	double t0 = mqb__time_mono();
	if (m->opt.protocol == 5) {
		if (o->props)
			pub.properties = *o->props;
		MQTTResponse r = m->paho->MQTTClient_publishMessage5(m->client, o->topic, &pub,
								      &dt);
		rc = r.reasonCode;
		m->paho->MQTTResponse_free(r);
	} else {
		rc = m->paho->MQTTClient_publishMessage(m->client, o->topic, &pub, &dt);
	}
	if (mqb__time_mono() - t0 > 0.05) {
		/* Paho waited inside (its turns last 100 ms; a publish takes
		 * microseconds) and may have read messages meanwhile, which
		 * the socket no longer shows: the next drain takes them all. */
		m->paho_may_hold = true;
		ev_timer_start(m->core->loop, &m->more);
	}
	if (rc == MQTTCLIENT_MAX_MESSAGES_INFLIGHT)
		return RETRY_LATER;
	if (rc != MQTTCLIENT_SUCCESS) {
		MQB_LOG_WARNING(LOG, "publish to %s failed: %s", o->topic,
				m->paho->MQTTClient_strerror(rc));
		return FAILED;
	}
	m->stats.published++;
	m->outq += publish_size(strlen(o->topic), o->len, o->qos,
				o->props ? (size_t)o->props->length + 1 : m->opt.protocol == 5);
	if (o->qos == 0) {
		outmsg_settle(o, 0);
	} else {
		o->token = dt;
		outq_push(&m->inflight, o);
	}
	return SENT;
}

static void connection_lost(struct mqb_mqtt *m, const char *why);

/* Send what waits, in order, while the connection takes it. */
static void flush_queue(struct mqb_mqtt *m)
{
	while (m->state == ST_CONNECTED && m->queue.head && m->inflight.n < m->opt.max_inflight) {
		if (!socket_has_room(m)) {
			/* A write watcher would fire at once (there is some room);
			 * a short timer lets the broker catch up. */
			if (!ev_is_active(&m->resend))
				ev_timer_start(m->core->loop, &m->resend);
			break;
		}
		struct outmsg *o = outq_pop(&m->queue);
		enum send_result r = send_one(m, o);
		if (r == RETRY_LATER) {
			o->next = m->queue.head;
			m->queue.head = o;
			if (!m->queue.tail)
				m->queue.tail = o;
			m->queue.n++;
			break;
		}
		if (r == FAILED) {
			if (!m->paho->MQTTClient_isConnected(m->client)) {
				/* Kept for after the reconnect, at the front. */
				struct outq one = { o, o, 1 };
				o->next = NULL;
				outq_prepend(&m->queue, &one);
				connection_lost(m, "publish failed");
				return;
			}
			m->stats.publish_failures++;
			outmsg_settle(o, -EIO);
		}
	}
	m->stats.queued = m->queue.n;
	m->stats.inflight = m->inflight.n;
}

/* Settle the futures of QoS 1/2 publishes Paho no longer holds. MQTT 3.1.1
 * has no completion callback without Paho's own thread, so the pending
 * tokens are compared after each read (MQTT 5 uses setPublished). */
static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static void check_completions(struct mqb_mqtt *m)
{
	if (m->inflight.n == 0 || m->opt.protocol == 5)
		return;
	MQTTClient_deliveryToken *toks = NULL;
	if (m->paho->MQTTClient_getPendingDeliveryTokens(m->client, &toks) != MQTTCLIENT_SUCCESS)
		return;
	size_t n = 0;
	while (toks && toks[n] != -1)
		n++;
	if (n > 1)
		qsort(toks, n, sizeof *toks, cmp_int);
	struct outq still = { 0 };
	struct outmsg *o;
	while ((o = outq_pop(&m->inflight))) {
		if (n && bsearch(&o->token, toks, n, sizeof *toks, cmp_int))
			outq_push(&still, o);
		else
			outmsg_settle(o, 0);
	}
	m->inflight = still;
	if (toks)
		m->paho->MQTTClient_free(toks);
}

/* MQTT 5: Paho calls this inside MQTTClient_receive, on the loop thread. */
static void published_cb(void *ctx, int dt, int packet_type, MQTTProperties *props,
			 enum MQTTReasonCodes rc)
{
	struct mqb_mqtt *m = ctx;
	struct outmsg **pp = &m->inflight.head, *prev = NULL;
	for (struct outmsg *o = *pp; o; prev = o, pp = &o->next, o = *pp) {
		if (o->token != dt)
			continue;
		*pp = o->next;
		if (m->inflight.tail == o)
			m->inflight.tail = prev;
		m->inflight.n--;
		if (rc >= MQTTREASONCODE_UNSPECIFIED_ERROR)
			m->stats.publish_failures++;
		outmsg_settle(o, rc >= MQTTREASONCODE_UNSPECIFIED_ERROR ? -EIO : 0);
		return;
	}
}

/* ---- inbound ------------------------------------------------------------ */

struct dispatch {
	struct mqb_mqtt_sub *subs[32];
	struct mqb_mqtt_sub **v;
	size_t n, cap;
};

static void sub_unref(struct mqb_mqtt_sub *s)
{
	if (--s->refs == 0)
		mqb__free(s);
}

static void collect(void *ud, void *value)
{
	struct dispatch *d = ud;
	if (d->n == d->cap) {
		size_t cap = d->cap * 2;
		struct mqb_mqtt_sub **v = mqb__malloc(cap * sizeof *v);
		if (!v)
			return; /* counted below as not dispatched */
		memcpy(v, d->v, d->n * sizeof *v);
		if (d->v != d->subs)
			mqb__free(d->v);
		d->v = v;
		d->cap = cap;
	}
	struct mqb_mqtt_sub *s = value;
	s->refs++;
	d->v[d->n++] = s;
}

static void drop_log(struct mqb_mqtt *m, const char *what, const char *topic)
{
	/* Bad input is counted always, logged at most once a second. */
	double now = mqb__time_mono();
	if (now - m->last_drop_log < 1.0)
		return;
	m->last_drop_log = now;
	MQB_LOG_WARNING(LOG, "dropped a message: %s (topic '%.64s'); %llu invalid topics and "
			"%llu oversized payloads so far", what, topic,
			m->stats.dropped_invalid_topic, m->stats.dropped_too_large);
}

static void handle_message(struct mqb_mqtt *m, const char *topic, size_t tlen, bool nul_in_topic,
			   MQTTClient_message *msg)
{
	m->stats.received++;
	if (nul_in_topic || !mqb_mqtt_topic_valid(topic, tlen)) {
		m->stats.dropped_invalid_topic++;
		drop_log(m, "invalid topic", nul_in_topic ? "(contains NUL)" : topic);
		return;
	}
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	if (len > m->opt.max_payload) {
		m->stats.dropped_too_large++;
		drop_log(m, "payload larger than max_payload", topic);
		return;
	}
	struct dispatch d = { .v = d.subs, .cap = sizeof d.subs / sizeof d.subs[0] };
	topic_tree__match(m->tree, topic, tlen, collect, &d);
	if (d.n == 0)
		goto out;
	struct mqb_mqtt_message *mm = message_new(topic, tlen, msg->payload, len, msg->qos,
						  msg->retained);
	if (!mm) {
		m->stats.dropped_handler_busy += d.n;
		goto out;
	}
	/* Handlers may unsubscribe (themselves or others) as they run: each
	 * matched handle is held until the last one has been dispatched. */
	for (size_t i = 0; i < d.n; i++) {
		struct mqb_mqtt_sub *s = d.v[i];
		if (s->removed)
			continue;
		int rc = mqb_async_run_job(m->core, &s->job, mqb_mqtt_message_ref(mm),
					   (mqb_release_fn)mqb_mqtt_message_unref, NULL);
		if (rc) {
			mqb_mqtt_message_unref(mm);
			m->stats.dropped_handler_busy++;
			MQB_LOG_WARNING(LOG, "%s: handler %s not run: %s", topic,
					s->job.name ? s->job.name : "?", mqb_strerror(rc));
		} else {
			m->stats.dispatched++;
		}
	}
	mqb_mqtt_message_unref(mm);
out:
	for (size_t i = 0; i < d.n; i++)
		sub_unref(d.v[i]);
	if (d.v != d.subs)
		mqb__free(d.v);
}

/* Read what Paho has, a batch per loop iteration so timers and other I/O
 * get their turn. A full batch continues on the next iteration through a
 * zero timer (ev_feed_event would re-run the watcher in this same pass).
 * With TLS, OpenSSL may hold decrypted records the socket no longer shows,
 * so any read also asks for another look.
 *
 * Finding out that nothing is left by calling Paho costs two polls, once
 * per wake-up, which is once per message or nearly at moderate rates. On
 * plain TCP, Paho reads no further than the packet it returns, so the
 * socket's FIONREAD tells instead, at one system call: after a message, the
 * bytes it showed are used up (counted from the message's size) before it
 * is asked again. That is not enough where Paho holds messages it read
 * earlier (after a connect or subscribe job, or a publish that waited
 * inside Paho): then the batch goes on until Paho has nothing. Stopping
 * early is safe on plain TCP: what the socket still holds wakes the loop
 * again. */
static void drain(struct mqb_mqtt *m)
{
	struct ev_loop *loop = m->core->loop;
	/* The budget is per loop iteration, whoever calls: the socket, the
	 * keepalive tick and the "more" timer can all be pending in one. */
	unsigned iter = ev_iteration(loop);
	if (m->batch_iter != iter) {
		m->batch_iter = iter;
		m->batch_used = 0;
	}
	if (m->batch_used >= m->opt.inbound_batch) {
		ev_timer_start(loop, &m->more); /* the rest waits for the next one */
		return;
	}
	ev_timer_stop(loop, &m->more); /* also clears it if pending */
	unsigned budget = m->opt.inbound_batch - m->batch_used, i;
	long unread = 0; /* bytes the socket still holds, by the last FIONREAD */
	for (i = 0; i < budget; i++) {
		if (i > 0 && unread <= 0 && !m->opt.tls && !m->paho_may_hold) {
			/* While messages come one per wake-up, the socket is
			 * not even asked: the loop's next epoll_wait, due
			 * anyway, tells (ev_io is level-triggered). Every
			 * fourth wake-up asks, to notice when they queue up. */
			if (m->sparse && i == 1 && ++m->unchecked < 4)
				break;
			m->unchecked = 0;
			int n = 0;
			if (ioctl(m->fd, FIONREAD, &n) == 0) {
				m->sparse = n <= 0 && i == 1;
				if (n <= 0)
					break;
				unread = n;
			}
		}
		char *topic = NULL;
		int tlen = 0;
		MQTTClient_message *msg = NULL;
		int rc = m->paho->MQTTClient_receive(m->client, &topic, &tlen, &msg, 0);
		if (rc != MQTTCLIENT_SUCCESS && rc != MQTTCLIENT_TOPICNAME_TRUNCATED) {
			if (msg)
				m->paho->MQTTClient_freeMessage(&msg);
			if (topic)
				m->paho->MQTTClient_free(topic);
			connection_lost(m, m->paho->MQTTClient_strerror(rc));
			return;
		}
		if (!msg) {
			if (topic)
				m->paho->MQTTClient_free(topic);
			m->paho_may_hold = false; /* Paho hands out what it holds first */
			break;
		}
		/* Paho's header says topicLen is set only when the topic holds
		 * a NUL; 1.3.12 sets it always. A NUL shows as a shorter string. */
		size_t slen = strlen(topic), len = tlen > 0 ? (size_t)tlen : slen;
		size_t plen = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
		/* MQTT 5 properties are not counted: unread stays high, and at
		 * worst one more receive finds nothing, as without FIONREAD. */
		unread -= (long)publish_size(len, plen, msg->qos, m->opt.protocol == 5);
		if (msg->qos > 0)
			m->outq += 4; /* Paho's PUBACK or PUBREC */
		handle_message(m, topic, len, slen != len, msg);
		m->paho->MQTTClient_freeMessage(&msg);
		m->paho->MQTTClient_free(topic);
		m->batch_used++;
		if (m->state != ST_CONNECTED)
			return; /* a handler stopped us */
	}
	if (i == budget || (m->opt.tls && i > 0))
		ev_timer_start(loop, &m->more);
	if (!m->paho->MQTTClient_isConnected(m->client)) {
		connection_lost(m, "the broker closed the connection");
		return;
	}
	check_completions(m);
	flush_queue(m);
}

static void more_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mqb_mqtt *m = w->data;
	if (m->state == ST_CONNECTED)
		drain(m);
}

static void resend_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	flush_queue(w->data);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mqb_mqtt *m = w->data;
	if (m->state == ST_CONNECTED)
		drain(m);
}

/* Keepalive and Paho's retries happen inside its cycle, which only runs
 * when we call it: a quiet connection still needs a turn now and then. */
static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mqb_mqtt *m = w->data;
	if (m->state == ST_CONNECTED)
		drain(m);
}

/* ---- connecting ---------------------------------------------------------- */

struct conn_req {
	struct mqb_mqtt *m;
	char **filters;
	int *qos;
	int n;
	int rc;             /* Paho's connect result */
	int sub_rc;
	int fd;
	char tls_error[256];
};

static void conn_req_free(struct conn_req *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n; i++)
		mqb__free(r->filters[i]);
	mqb__free(r->filters);
	mqb__free(r->qos);
	mqb__free(r);
}

static int tls_error_cb(const char *str, size_t len, void *u)
{
	struct conn_req *r = u;
	size_t have = strlen(r->tls_error);
	if (have + 3 < sizeof r->tls_error)
		snprintf(r->tls_error + have, sizeof r->tls_error - have, "%s%.*s",
			 have ? "; " : "", (int)len, str);
	return 0;
}

static int broker_port(const struct mqb_mqtt *m)
{
	return m->opt.port ? m->opt.port : m->opt.tls ? 8883 : 1883;
}

/* The inodes of the TCP sockets whose peer is port, from the kernel's
 * tables (IPv4 and IPv6). */
static size_t peer_inodes(int port, unsigned long *out, size_t max)
{
	static const char *const tables[] = {"/proc/self/net/tcp", "/proc/self/net/tcp6"};
	size_t n = 0;
	for (size_t t = 0; t < 2; t++) {
		FILE *f = fopen(tables[t], "re");
		if (!f)
			continue;
		char line[512];
		while (n < max && fgets(line, sizeof line, f)) {
			unsigned rport;
			unsigned long inode;
			/* sl local rem:port st tx:rx tr:when retrnsmt uid timeout inode */
			if (sscanf(line, "%*s %*s %*[0-9A-Fa-f]:%x %*s %*s %*s %*s %*s %*s %lu", &rport,
				   &inode) == 2 &&
			    (int)rport == port && inode)
				out[n++] = inode;
		}
		fclose(f);
	}
	return n;
}

/* Paho has no option for TCP_NODELAY and does not expose its socket: find
 * the connected socket to the broker's port that was not there before.
 * Nothing here touches a descriptor (another pool thread may be creating or
 * closing one right now, a command's pipe): the kernel's TCP table gives
 * the inodes of sockets connected to the port, /proc/self/fd's link names
 * ("socket:[inode]") which of our descriptors they are. */
static void list_sockets(int port, int *out, int *n, int max)
{
	*n = 0;
	unsigned long inodes[256];
	size_t ni = peer_inodes(port, inodes, 256);
	if (!ni)
		return;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) && *n < max) {
		int fd = atoi(e->d_name);
		char link[64];
		ssize_t ln = e->d_name[0] == '.' || fd == dirfd(d)
				     ? -1
				     : readlinkat(dirfd(d), e->d_name, link, sizeof link - 1);
		if (ln < 9 || memcmp(link, "socket:[", 8) != 0)
			continue;
		link[ln] = '\0';
		unsigned long inode = strtoul(link + 8, NULL, 10);
		for (size_t i = 0; i < ni; i++)
			if (inodes[i] == inode) {
				out[(*n)++] = fd;
				break;
			}
	}
	closedir(d);
}

static int find_new_socket(int port, const int *before, int nbefore)
{
	int now[256], n, found = -1;
	list_sockets(port, now, &n, 256);
	for (int i = 0; i < n; i++) {
		bool old = false;
		for (int j = 0; j < nbefore && !old; j++)
			old = before[j] == now[i];
		if (!old && now[i] > found)
			found = now[i];
	}
	return found;
}

static int subscribe_all(struct mqb_mqtt *m, char **filters, int *qos, int n)
{
	if (n == 0)
		return 0;
	int rc;
	if (m->opt.protocol == 5) {
		MQTTResponse r = m->paho->MQTTClient_subscribeMany5(m->client, n, filters, qos,
								    NULL, NULL);
		rc = r.reasonCode >= MQTTREASONCODE_UNSPECIFIED_ERROR ? -1 : 0;
		for (int i = 0; r.reasonCodes && i < r.reasonCodeCount; i++)
			if (r.reasonCodes[i] >= MQTTREASONCODE_UNSPECIFIED_ERROR)
				qos[i] = -1;
		m->paho->MQTTResponse_free(r);
	} else {
		/* Paho writes the granted QoS back into qos[] (0x80: refused). */
		rc = m->paho->MQTTClient_subscribeMany(m->client, n, filters, qos);
		for (int i = 0; i < n; i++)
			if (qos[i] == 0x80)
				qos[i] = -1;
	}
	return rc;
}

/* Executor: create the client once, connect (TCP, TLS, CONNECT/CONNACK),
 * then subscribe every filter — all of which block inside Paho. */
static int connect_job(void *ud, void *arg, void **result)
{
	struct mqb_mqtt *m = ud;
	struct conn_req *r = arg;
	r->fd = -1;
	if (!m->client) {
		MQTTClient_createOptions co = MQTTClient_createOptions_initializer;
		co.MQTTVersion = m->opt.protocol == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
		r->rc = m->paho->MQTTClient_createWithOptions(&m->client, m->uri,
							      m->opt.client_id,
							      MQTTCLIENT_PERSISTENCE_NONE, NULL,
							      &co);
		if (r->rc != MQTTCLIENT_SUCCESS) {
			m->client = NULL;
			return 0;
		}
		if (m->opt.protocol == 5)
			m->paho->MQTTClient_setPublished(m->client, m, published_cb);
	}
	m->paho->MQTTClient_setCommandTimeout(m->client,
					      (unsigned long)(m->opt.connect_timeout * 1000));

	MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer;
	MQTTClient_connectOptions o5 = MQTTClient_connectOptions_initializer5;
	if (m->opt.protocol == 5) {
		o = o5;
		o.cleanstart = m->opt.clean_session;
	} else {
		o.cleansession = m->opt.clean_session;
		/* Left at 0, Paho retries a failed 3.1.1 connect as 3.1 on a
		 * second connection: one attempt would become two, and a broker
		 * refusing 3.1.1 would get a silent downgrade. */
		o.MQTTVersion = MQTTVERSION_3_1_1;
	}
	o.keepAliveInterval = m->opt.keepalive;
	o.connectTimeout = (int)(m->opt.connect_timeout + 0.999);
	/* Paho's defaults allow one QoS 1 message in flight and make each
	 * further publish wait 100 ms in MQTTClient_yield. */
	o.reliable = 0;
	o.maxInflightMessages = (int)m->opt.max_inflight;
	o.username = m->opt.username;
	o.password = m->opt.password;
	MQTTClient_willOptions will = MQTTClient_willOptions_initializer;
	if (m->status_topic) {
		will.topicName = m->status_topic;
		will.message = "offline";
		will.retained = 1;
		will.qos = 1;
		o.will = &will;
	}
	MQTTClient_SSLOptions ssl = MQTTClient_SSLOptions_initializer;
	if (m->opt.tls) {
		ssl.trustStore = m->opt.ca_file;
		ssl.CApath = m->opt.ca_path;
		ssl.keyStore = m->opt.cert_file;
		ssl.privateKey = m->opt.key_file;
		/* Paho checks the host name only when asked (verify). */
		ssl.enableServerCertAuth = !m->opt.tls_insecure;
		ssl.verify = !m->opt.tls_insecure;
		ssl.ssl_error_cb = tls_error_cb;
		ssl.ssl_error_context = r;
		o.ssl = &ssl;
	}
	int before[256], nbefore;
	list_sockets(broker_port(m), before, &nbefore, 256);
	if (m->opt.protocol == 5) {
		MQTTProperties props = MQTTProperties_initializer;
		MQTTProperty expiry = { .identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL,
					.value.integer4 = SESSION_EXPIRY };
		if (!m->opt.clean_session)
			m->paho->MQTTProperties_add(&props, &expiry);
		/* The broker then drops what we would drop anyway, before it
		 * crosses the network: payload, a maximal topic and headers. */
		uint64_t maxpkt = (uint64_t)m->opt.max_payload + MQB_MQTT_MAX_TOPIC + 64;
		MQTTProperty mps = { .identifier = MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE,
				     .value.integer4 = maxpkt > 268435455 ? 268435455 : (unsigned)maxpkt };
		m->paho->MQTTProperties_add(&props, &mps);
		MQTTResponse resp = m->paho->MQTTClient_connect5(m->client, &o, &props, NULL);
		r->rc = resp.reasonCode;
		m->paho->MQTTResponse_free(resp);
		m->paho->MQTTProperties_free(&props);
	} else {
		r->rc = m->paho->MQTTClient_connect(m->client, &o);
	}
	if (r->rc != MQTTCLIENT_SUCCESS)
		return 0;
	r->sub_rc = subscribe_all(m, r->filters, r->qos, r->n);
	r->fd = find_new_socket(broker_port(m), before, nbefore);
	return 0;
}

static const char *connack_reason(int rc)
{
	switch (rc) {
	case 1: return "the broker does not accept this protocol version";
	case 2: return "the broker rejected the client id";
	case 3: return "the broker is unavailable";
	case 4: case MQTTREASONCODE_BAD_USER_NAME_OR_PASSWORD:
		return "not authorized: bad user name or password";
	case 5: case MQTTREASONCODE_NOT_AUTHORIZED:
		return "not authorized";
	case MQTTREASONCODE_CLIENT_IDENTIFIER_NOT_VALID: return "the broker rejected the client id";
	case MQTTREASONCODE_SERVER_UNAVAILABLE: case MQTTREASONCODE_SERVER_BUSY:
		return "the broker is unavailable";
	default: return NULL;
	}
}

static void schedule_reconnect(struct mqb_mqtt *m);
static void start_connect(struct mqb_mqtt *m);

static void announce(struct mqb_mqtt *m);
static void leave(struct mqb_mqtt *m);

static void on_connected(struct mqb_mqtt *m, struct conn_req *r);

/* Connect and subscription jobs own the client while they run: submit one
 * and have done(f, arg) called on the loop when it ends. */
static int run_client_job(struct mqb_mqtt *m, mqb_job_fn fn, const char *name, void *arg,
			  mqb_future_done_fn done)
{
	struct mqb_job job = { .kind = MQB_JOB_EXECUTOR, .fn = fn, .ud = m, .name = name };
	struct mqb_future *f;
	int rc = mqb_async_run_job(m->core, &job, arg, NULL, &f);
	if (rc)
		return rc;
	if (mqb_future_async_add_done(f, done, arg)) {
		/* Out of memory for the continuation: nothing would ever tell
		 * us the job ended, so the client is given up. */
		MQB_LOG_ERROR(LOG, "out of memory waiting for %s", name);
		m->client_lost = true;
		mqb_future_unref(f);
	}
	return 0;
}

/* Whether shutdown gave up on a client job (and drops f): the job may still
 * be inside Paho on a detached thread, so the client is never touched again. */
static bool job_cut_short(struct mqb_mqtt *m, struct mqb_future *f)
{
	int st = mqb_future_status(f);
	mqb_future_unref(f);
	if (st != -ECANCELED)
		return false;
	m->client_lost = true;
	m->state = ST_STOPPED;
	return true;
}

/* Completion of the connect job, on the loop. */
static void connect_finished(struct mqb_future *f, void *ud)
{
	struct conn_req *r = ud;
	struct mqb_mqtt *m = r->m;
	if (job_cut_short(m, f)) {
		conn_req_free(r);
		return;
	}
	if (r->rc != MQTTCLIENT_SUCCESS) {
		m->stats.connect_failures++;
		const char *why = connack_reason(r->rc);
		/* Paho reports a failed host name check as a bare -1. */
		if (!why && m->opt.tls && r->rc == MQTTCLIENT_FAILURE && !r->tls_error[0])
			why = "connection or TLS handshake failed (is the broker up? does its "
			      "certificate name this host and chain to the CA?)";
		MQB_LOG_WARNING(LOG, "cannot connect to %s: %s%s%s", m->uri,
				why ? why : m->paho->MQTTClient_strerror(r->rc),
				r->tls_error[0] ? "; TLS: " : "", r->tls_error);
		conn_req_free(r);
		m->state = ST_BACKOFF;
		if (m->stopping)
			m->state = ST_STOPPED;
		else
			schedule_reconnect(m);
		return;
	}
	on_connected(m, r);
	conn_req_free(r);
}

static struct conn_req *snapshot_filters(struct mqb_mqtt *m)
{
	struct conn_req *r = mqb__calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->m = m;
	size_t n = hashmap__count(&m->filters), i = 0, it = 0;
	r->filters = mqb__calloc(n ? n : 1, sizeof *r->filters);
	r->qos = mqb__calloc(n ? n : 1, sizeof *r->qos);
	if (!r->filters || !r->qos)
		goto fail;
	struct hashmap_entry *e;
	while ((e = hashmap__next(&m->filters, &it))) {
		struct filter *fl = e->value;
		if (fl->nsubs == 0)
			continue;
		if (!(r->filters[i] = mqb__strdup(fl->filter)))
			goto fail;
		r->qos[i++] = fl->qos;
		r->n = (int)i;
	}
	return r;
fail:
	conn_req_free(r);
	return NULL;
}

static void start_connect(struct mqb_mqtt *m)
{
	if (m->stopping || m->state != ST_BACKOFF)
		return;
	struct conn_req *r = snapshot_filters(m);
	int rc = r ? run_client_job(m, connect_job, "mqtt connect", r, connect_finished) : -ENOMEM;
	if (rc) {
		MQB_LOG_WARNING(LOG, "cannot start connecting: %s", mqb_strerror(rc));
		conn_req_free(r);
		schedule_reconnect(m);
		return;
	}
	m->state = ST_CONNECTING;
}

static void backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	start_connect(w->data);
}

static double jitter(struct mqb_mqtt *m)
{
	/* xorshift64: the jitter only needs to spread clients apart. */
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return (double)(m->rng >> 11) / (double)(1ULL << 53);
}

/* Capped exponential back-off with "equal jitter": half the delay fixed,
 * half random, so many clients do not reconnect in step. */
static void schedule_reconnect(struct mqb_mqtt *m)
{
	double d = m->opt.reconnect_min;
	for (unsigned i = 0; i < m->attempt && d < m->opt.reconnect_max; i++)
		d *= 2;
	if (d > m->opt.reconnect_max)
		d = m->opt.reconnect_max;
	d = d / 2 + d / 2 * jitter(m);
	m->attempt++;
	m->state = ST_BACKOFF;
	ev_timer_stop(m->core->loop, &m->backoff);
	ev_timer_set(&m->backoff, d, 0);
	ev_timer_start(m->core->loop, &m->backoff);
	MQB_LOG_DEBUG(LOG, "reconnecting in %.2f s", d);
}

static void start_reading(struct mqb_mqtt *m)
{
	ev_io_stop(m->core->loop, &m->io);
	ev_io_set(&m->io, m->fd, EV_READ);
	ev_io_start(m->core->loop, &m->io);
	double every = m->opt.keepalive / 4.0;
	if (every < 0.25)
		every = 0.25;
	ev_timer_stop(m->core->loop, &m->tick);
	ev_timer_set(&m->tick, every, every);
	ev_timer_start(m->core->loop, &m->tick);
}

static void stop_reading(struct mqb_mqtt *m)
{
	ev_io_stop(m->core->loop, &m->io);
	ev_timer_stop(m->core->loop, &m->tick);
	ev_timer_stop(m->core->loop, &m->resend);
	ev_timer_stop(m->core->loop, &m->more);
}

static int publish_status(struct mqb_mqtt *m, const char *payload)
{
	if (!m->status_topic)
		return 0;
	struct outmsg o = { .topic = m->status_topic, .payload = (void *)payload,
			    .len = strlen(payload), .qos = 1, .retain = true };
	MQTTClient_message pub = MQTTClient_message_initializer;
	pub.payload = o.payload;
	pub.payloadlen = (int)o.len;
	pub.qos = 1;
	pub.retained = 1;
	MQTTClient_deliveryToken dt;
	int rc;
	if (m->opt.protocol == 5) {
		MQTTResponse r = m->paho->MQTTClient_publishMessage5(m->client, o.topic, &pub, &dt);
		rc = r.reasonCode;
		m->paho->MQTTResponse_free(r);
	} else {
		rc = m->paho->MQTTClient_publishMessage(m->client, o.topic, &pub, &dt);
	}
	if (rc == MQTTCLIENT_SUCCESS)
		m->stats.published++;
	return rc;
}

static void on_connected(struct mqb_mqtt *m, struct conn_req *r)
{
	m->fd = r->fd;
	if (m->fd < 0) {
		/* Without its socket the loop cannot tell when to read. */
		MQB_LOG_ERROR(LOG, "connected to %s but cannot find the socket", m->uri);
		m->paho->MQTTClient_disconnect(m->client, 0);
		m->state = ST_BACKOFF;
		schedule_reconnect(m);
		return;
	}
	int one = 1;
	setsockopt(m->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	read_sndbuf(m);
	m->outq = 0; /* a new socket */
	/* Paho may already hold messages it read during the connect job. */
	m->paho_may_hold = true;
	m->state = ST_CONNECTED;
	m->attempt = 0;
	m->stats.connected = true;
	m->stats.connects++;
	if (m->ever_connected)
		m->stats.reconnects++;
	m->ever_connected = true;
	for (int i = 0; i < r->n; i++) {
		struct filter *fl = hashmap__get(&m->filters, r->filters[i], strlen(r->filters[i]));
		if (!fl)
			continue;
		fl->broker_qos = r->sub_rc == 0 ? r->qos[i] : -1;
		if (fl->broker_qos < 0)
			MQB_LOG_ERROR(LOG, "the broker refused the subscription to %s", fl->filter);
	}
	MQB_LOG_INFO(LOG, "connected to %s as %s", m->uri, m->opt.client_id);
	if (m->stopping) {
		/* The stop came while the job held the client. */
		leave(m);
		return;
	}
	publish_status(m, "online");
	start_reading(m);
	flush_queue(m);
	announce(m);
	/* Changes made while connecting are sent now. */
	if (m->dirty)
		ev_timer_start(m->core->loop, &m->debounce);
	drain(m);
}

static void connection_lost(struct mqb_mqtt *m, const char *why)
{
	if (m->state != ST_CONNECTED)
		return;
	stop_reading(m);
	m->stats.connected = false;
	MQB_LOG_WARNING(LOG, "connection to %s lost: %s", m->uri, why);
	/* With a clean session the broker forgets unacknowledged messages:
	 * resend them after the reconnect (at least once). Otherwise Paho
	 * resends them itself and their futures settle as they are acked. */
	if (m->opt.clean_session)
		outq_prepend(&m->queue, &m->inflight);
	size_t it = 0;
	struct hashmap_entry *e;
	while ((e = hashmap__next(&m->filters, &it)))
		((struct filter *)e->value)->broker_qos = -1;
	m->state = ST_BACKOFF;
	if (m->stopping)
		m->state = ST_STOPPED;
	else
		schedule_reconnect(m);
}

/* ---- announcing ---------------------------------------------------------- */

static void announce(struct mqb_mqtt *m)
{
	for (unsigned i = 0; i < m->non_connect; i++) {
		int rc = mqb_async_run_job(m->core, &m->on_connect[i], NULL, NULL, NULL);
		if (rc)
			MQB_LOG_WARNING(LOG, "on-connect job %s not run: %s",
					m->on_connect[i].name ? m->on_connect[i].name : "?",
					mqb_strerror(rc));
	}
}

int mqb_mqtt_async_on_connect(struct mqb_core *core, const struct mqb_job *job)
{
	MQB_ASSERT_LOOP(core);
	struct mqb_mqtt *m = client_of(core);
	if (!m)
		return -ENOTCONN;
	struct mqb_job *v = mqb__realloc(m->on_connect, (m->non_connect + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	m->on_connect = v;
	v[m->non_connect++] = *job;
	return 0;
}

/* ---- subscription changes ---------------------------------------------- */

struct sync_req {
	struct mqb_mqtt *m;
	char **sub;
	int *qos;
	int nsub;
	char **unsub;
	int nunsub;
	int sub_rc, unsub_rc;
};

static void sync_req_free(struct sync_req *r)
{
	for (int i = 0; i < r->nsub; i++)
		mqb__free(r->sub[i]);
	for (int i = 0; i < r->nunsub; i++)
		mqb__free(r->unsub[i]);
	mqb__free(r->sub);
	mqb__free(r->qos);
	mqb__free(r->unsub);
	mqb__free(r);
}

/* Executor: Paho's SUBSCRIBE/UNSUBSCRIBE wait for their acks (reading the
 * socket meanwhile, so the loop must not read it too). */
static int sync_job(void *ud, void *arg, void **result)
{
	struct sync_req *r = arg;
	struct mqb_mqtt *m = r->m;
	r->sub_rc = subscribe_all(m, r->sub, r->qos, r->nsub);
	if (r->nunsub > 0) {
		if (m->opt.protocol == 5) {
			MQTTResponse resp = m->paho->MQTTClient_unsubscribeMany5(m->client, r->nunsub,
										 r->unsub, NULL);
			r->unsub_rc = resp.reasonCode >= MQTTREASONCODE_UNSPECIFIED_ERROR ? -1 : 0;
			m->paho->MQTTResponse_free(resp);
		} else {
			r->unsub_rc = m->paho->MQTTClient_unsubscribeMany(m->client, r->nunsub,
									  r->unsub);
		}
	}
	return 0;
}

static void filter_free(struct mqb_mqtt *m, struct filter *fl)
{
	hashmap__remove(&m->filters, fl->filter, strlen(fl->filter));
	mqb__free(fl->filter);
	mqb__free(fl);
}

static void sync_finished(struct mqb_future *f, void *ud)
{
	struct sync_req *r = ud;
	struct mqb_mqtt *m = r->m;
	if (job_cut_short(m, f)) {
		sync_req_free(r);
		return;
	}
	for (int i = 0; i < r->nsub; i++) {
		struct filter *fl = hashmap__get(&m->filters, r->sub[i], strlen(r->sub[i]));
		if (fl)
			fl->broker_qos = r->sub_rc == 0 ? r->qos[i] : -1;
		if (r->sub_rc != 0 || r->qos[i] < 0)
			MQB_LOG_ERROR(LOG, "subscribing to %s failed", r->sub[i]);
	}
	for (int i = 0; i < r->nunsub; i++) {
		struct filter *fl = hashmap__get(&m->filters, r->unsub[i], strlen(r->unsub[i]));
		if (!fl)
			continue;
		fl->broker_qos = -1;
		if (fl->nsubs == 0)
			filter_free(m, fl);
	}
	sync_req_free(r);
	m->state = ST_CONNECTED;
	if (!m->paho->MQTTClient_isConnected(m->client)) {
		connection_lost(m, "lost while changing subscriptions");
		return;
	}
	if (m->stopping) {
		leave(m);
		return;
	}
	start_reading(m);
	if (m->dirty)
		ev_timer_start(m->core->loop, &m->debounce);
	/* The job may have read messages while it waited for its acks. */
	m->paho_may_hold = true;
	drain(m);
}

/* Batches subscription changes made close together into one job. */
static void debounce_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mqb_mqtt *m = w->data;
	if (m->state != ST_CONNECTED || m->stopping || !m->dirty)
		return;
	struct sync_req *r = mqb__calloc(1, sizeof *r);
	size_t n = hashmap__count(&m->filters), it = 0;
	if (!r || !(r->sub = mqb__calloc(n, sizeof *r->sub)) ||
	    !(r->qos = mqb__calloc(n, sizeof *r->qos)) ||
	    !(r->unsub = mqb__calloc(n, sizeof *r->unsub)))
		goto nomem;
	r->m = m;
	struct hashmap_entry *e;
	while ((e = hashmap__next(&m->filters, &it))) {
		struct filter *fl = e->value;
		if (fl->nsubs > 0 && fl->broker_qos < fl->qos) {
			if (!(r->sub[r->nsub] = mqb__strdup(fl->filter)))
				goto nomem;
			r->qos[r->nsub++] = fl->qos;
		} else if (fl->nsubs == 0 && fl->broker_qos >= 0) {
			if (!(r->unsub[r->nunsub] = mqb__strdup(fl->filter)))
				goto nomem;
			r->nunsub++;
		}
	}
	m->dirty = false;
	if (r->nsub == 0 && r->nunsub == 0) {
		sync_req_free(r);
		return;
	}
	/* The job reads the socket: the loop stops before it can start. */
	stop_reading(m);
	int rc = run_client_job(m, sync_job, "mqtt subscribe", r, sync_finished);
	if (rc) {
		MQB_LOG_WARNING(LOG, "subscription change postponed: %s", mqb_strerror(rc));
		sync_req_free(r);
		m->dirty = true;
		start_reading(m);
		ev_timer_start(loop, w);
		return;
	}
	m->state = ST_SYNCING;
	return;
nomem:
	if (r)
		sync_req_free(r);
	MQB_LOG_ERROR(LOG, "out of memory: subscription change postponed");
	ev_timer_start(loop, w);
}

static void mark_dirty(struct mqb_mqtt *m)
{
	m->dirty = true;
	if (m->state == ST_CONNECTED && !ev_is_active(&m->debounce))
		ev_timer_start(m->core->loop, &m->debounce);
}

int mqb_mqtt_async_subscribe(struct mqb_core *core, const char *filter, int qos,
			     const struct mqb_job *job, struct mqb_mqtt_sub **out)
{
	MQB_ASSERT_LOOP(core);
	struct mqb_mqtt *m = client_of(core);
	if (!m)
		return -ENOTCONN;
	if (!mqb_mqtt_filter_valid(filter) || qos < 0 || qos > 2 || !job || !job->fn)
		return -EINVAL;
	size_t flen = strlen(filter);
	struct filter *fl = hashmap__get(&m->filters, filter, flen);
	bool created = false;
	if (!fl) {
		fl = mqb__calloc(1, sizeof *fl);
		if (!fl || !(fl->filter = mqb__strdup(filter))) {
			mqb__free(fl);
			return -ENOMEM;
		}
		fl->broker_qos = -1;
		fl->qos = qos;
		if (hashmap__put(&m->filters, fl->filter, flen, fl, NULL)) {
			mqb__free(fl->filter);
			mqb__free(fl);
			return -ENOMEM;
		}
		created = true;
	}
	struct mqb_mqtt_sub *s = mqb__calloc(1, sizeof *s);
	if (!s || topic_tree__add(m->tree, filter, s)) {
		mqb__free(s);
		if (created)
			filter_free(m, fl);
		return -ENOMEM;
	}
	s->job = *job;
	s->qos = qos;
	s->f = fl;
	s->refs = 1;
	s->next = fl->subs;
	if (s->next)
		s->next->prev = s;
	fl->subs = s;
	fl->nsubs++;
	if (qos > fl->qos)
		fl->qos = qos;
	m->stats.subscriptions = (unsigned)hashmap__count(&m->filters);
	if (fl->broker_qos < fl->qos)
		mark_dirty(m);
	if (out)
		*out = s;
	return 0;
}

void mqb_mqtt_async_unsubscribe(struct mqb_core *core, struct mqb_mqtt_sub *s)
{
	MQB_ASSERT_LOOP(core);
	struct mqb_mqtt *m = client_of(core);
	if (!m || !s || s->removed)
		return;
	struct filter *fl = s->f;
	topic_tree__remove(m->tree, fl->filter, s);
	if (s->prev)
		s->prev->next = s->next;
	else
		fl->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->removed = true;
	fl->nsubs--;
	sub_unref(s);
	if (fl->nsubs == 0) {
		if (fl->broker_qos >= 0)
			mark_dirty(m); /* UNSUBSCRIBE, then the filter goes */
		else if (m->state != ST_CONNECTING && m->state != ST_SYNCING)
			filter_free(m, fl); /* a job may be holding its name: see sync */
	}
	m->stats.subscriptions = (unsigned)hashmap__count(&m->filters);
}

/* ---- publishing ---------------------------------------------------------- */

static MQTTProperties *props_copy(struct mqb_mqtt *m, const struct mqb_mqtt_props *p)
{
	MQTTProperties *mp = mqb__calloc(1, sizeof *mp);
	if (!mp)
		return NULL;
	int rc = 0;
	if (p->message_expiry) {
		MQTTProperty e = { .identifier = MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL,
				   .value.integer4 = p->message_expiry };
		rc |= m->paho->MQTTProperties_add(mp, &e);
	}
	if (p->content_type) {
		MQTTProperty c = { .identifier = MQTTPROPERTY_CODE_CONTENT_TYPE };
		c.value.data.data = (char *)p->content_type;
		c.value.data.len = (int)strlen(p->content_type);
		rc |= m->paho->MQTTProperties_add(mp, &c);
	}
	for (const char *const *u = p->user; u && u[0] && u[1]; u += 2) {
		MQTTProperty up = { .identifier = MQTTPROPERTY_CODE_USER_PROPERTY };
		up.value.data.data = (char *)u[0];
		up.value.data.len = (int)strlen(u[0]);
		up.value.value.data = (char *)u[1];
		up.value.value.len = (int)strlen(u[1]);
		rc |= m->paho->MQTTProperties_add(mp, &up);
	}
	if (rc) { /* Paho copies the data; -1 means out of memory */
		m->paho->MQTTProperties_free(mp);
		mqb__free(mp);
		return NULL;
	}
	return mp;
}

int mqb_mqtt_async_publish(struct mqb_core *core, const char *topic, const void *payload,
			   size_t len, int qos, bool retain, struct mqb_future **out)
{
	return mqb_mqtt_async_publish_props(core, topic, payload, len, qos, retain, NULL, out);
}

int mqb_mqtt_async_publish_props(struct mqb_core *core, const char *topic, const void *payload,
				 size_t len, int qos, bool retain,
				 const struct mqb_mqtt_props *props, struct mqb_future **out)
{
	MQB_ASSERT_LOOP(core);
	struct mqb_mqtt *m = client_of(core);
	if (!m)
		return -ENOTCONN;
	if (!topic || !mqb_mqtt_topic_valid(topic, strlen(topic)) || qos < 0 || qos > 2 ||
	    (len && !payload) || len > m->opt.max_payload)
		return -EINVAL;
	bool connected = m->state == ST_CONNECTED || m->state == ST_SYNCING;
	if (m->stopping || (!connected && qos == 0)) {
		m->stats.publish_failures++;
		return m->stopping ? -ESHUTDOWN : -ENOTCONN;
	}
	bool direct = m->state == ST_CONNECTED && !m->queue.head &&
		      m->inflight.n < m->opt.max_inflight;
	if (!direct && m->queue.n >= m->opt.outbound_queue_max) {
		m->stats.queue_overflows++;
		m->stats.publish_failures++;
		MQB_LOG_WARNING(LOG, "publish to %s dropped: %u messages already wait for the "
				"broker", topic, m->queue.n);
		return -ENOBUFS;
	}
	struct outmsg *o = mqb__calloc(1, sizeof *o);
	if (!o || !(o->topic = mqb__strdup(topic)) || (len && !(o->payload = mqb__malloc(len)))) {
		if (o)
			outmsg_free(o);
		return -ENOMEM;
	}
	if (len)
		memcpy(o->payload, payload, len);
	o->len = len;
	o->qos = qos;
	o->retain = retain;
	o->paho = m->paho;
	if (props && m->opt.protocol == 5 && !(o->props = props_copy(m, props))) {
		outmsg_free(o);
		return -ENOMEM;
	}
	if (out) {
		if (!(*out = mqb_future_new(core))) {
			outmsg_free(o);
			return -ENOMEM;
		}
		o->fut = mqb_future_ref(*out);
	}
	outq_push(&m->queue, o);
	flush_queue(m);
	m->stats.queued = m->queue.n;
	return 0;
}

/* ---- thread-safe flavours ------------------------------------------------ */

struct ts_pub {
	struct mqb_core *core;
	char *topic;
	void *payload;
	size_t len;
	int qos;
	bool retain;
	struct mqb_future *outer;
};

static void ts_pub_chain(struct mqb_future *inner, void *ud)
{
	struct mqb_future *outer = ud;
	mqb_future_resolve(outer, mqb_future_status(inner), NULL, NULL);
	mqb_future_unref(outer);
	mqb_future_unref(inner);
}

static void ts_pub_run(void *arg)
{
	struct ts_pub *p = arg;
	struct mqb_future *inner = NULL;
	int rc = mqb_mqtt_async_publish(p->core, p->topic, p->payload, p->len, p->qos, p->retain,
					p->outer ? &inner : NULL);
	if (rc && !p->outer)
		MQB_LOG_WARNING(LOG, "publish to %s failed: %s", p->topic, mqb_strerror(rc));
	if (p->outer) {
		if (rc) {
			mqb_future_resolve(p->outer, rc, NULL, NULL);
			mqb_future_unref(p->outer);
		} else if (mqb_future_async_add_done(inner, ts_pub_chain, p->outer)) {
			mqb_future_resolve(p->outer, -ENOMEM, NULL, NULL);
			mqb_future_unref(p->outer);
			mqb_future_unref(inner);
		}
	}
	mqb__free(p->topic);
	mqb__free(p->payload);
	mqb__free(p);
}

int mqb_mqtt_publish(struct mqb_core *core, const char *topic, const void *payload, size_t len,
		     int qos, bool retain, struct mqb_future **out)
{
	if (mqb_core_in_loop_thread(core))
		return mqb_mqtt_async_publish(core, topic, payload, len, qos, retain, out);
	if (!topic || !mqb_mqtt_topic_valid(topic, strlen(topic)) || qos < 0 || qos > 2 ||
	    (len && !payload))
		return -EINVAL;
	struct ts_pub *p = mqb__calloc(1, sizeof *p);
	if (!p || !(p->topic = mqb__strdup(topic)) || (len && !(p->payload = mqb__malloc(len))))
		goto nomem;
	if (len)
		memcpy(p->payload, payload, len);
	p->core = core;
	p->len = len;
	p->qos = qos;
	p->retain = retain;
	if (out && !(p->outer = mqb_future_new(core)))
		goto nomem;
	struct mqb_future *mine = p->outer ? mqb_future_ref(p->outer) : NULL;
	int rc = mqb_call_soon_threadsafe(core, ts_pub_run, p);
	if (rc) {
		mqb_future_unref(mine);
		mqb_future_unref(p->outer);
		mqb__free(p->topic);
		mqb__free(p->payload);
		mqb__free(p);
		return rc;
	}
	if (out)
		*out = mine;
	return 0;
nomem:
	if (p) {
		mqb__free(p->topic);
		mqb__free(p->payload);
		mqb__free(p);
	}
	return -ENOMEM;
}

struct ts_sub {
	const char *filter;
	int qos;
	const struct mqb_job *job;
	struct mqb_mqtt_sub **out;
	struct mqb_mqtt_sub *sub;
};

static int ts_sub_run(void *ud, void *arg, void **result)
{
	struct ts_sub *s = ud;
	return mqb_mqtt_async_subscribe(arg, s->filter, s->qos, s->job, s->out);
}

int mqb_mqtt_subscribe(struct mqb_core *core, const char *filter, int qos,
		       const struct mqb_job *job, struct mqb_mqtt_sub **out)
{
	struct ts_sub s = { filter, qos, job, out, NULL };
	return mqb_call_threadsafe(core, ts_sub_run, &s, core);
}

static int ts_unsub_run(void *ud, void *arg, void **result)
{
	mqb_mqtt_async_unsubscribe(arg, ud);
	return 0;
}

int mqb_mqtt_unsubscribe(struct mqb_core *core, struct mqb_mqtt_sub *sub)
{
	return mqb_call_threadsafe(core, ts_unsub_run, sub, core);
}

int mqb_mqtt_async_stats(struct mqb_core *core, struct mqb_mqtt_stats *out)
{
	MQB_ASSERT_LOOP(core);
	struct mqb_mqtt *m = client_of(core);
	if (!m)
		return -ENOTCONN;
	m->stats.queued = m->queue.n;
	m->stats.inflight = m->inflight.n;
	m->stats.subscriptions = (unsigned)hashmap__count(&m->filters);
	*out = m->stats;
	return 0;
}

/* ---- life cycle ---------------------------------------------------------- */

/* mqbridge_stop: say "offline" and leave cleanly while the loop still runs.
 * The offline publish is written before DISCONNECT on the same socket, so
 * the broker has it before it drops the will. */
static void leave(struct mqb_mqtt *m)
{
	stop_reading(m);
	publish_status(m, "offline");
	m->paho->MQTTClient_disconnect(m->client, 0);
	m->stats.connected = false;
	m->state = ST_STOPPED;
	outq_fail_all(&m->queue, -ECANCELED);
	outq_fail_all(&m->inflight, -ECANCELED);
	MQB_LOG_INFO(LOG, "disconnected from %s", m->uri);
}

static int mqtt_stop(void *ud, void *arg, void **result)
{
	struct mqb_mqtt *m = ud;
	m->stopping = true;
	ev_timer_stop(m->core->loop, &m->backoff);
	ev_timer_stop(m->core->loop, &m->debounce);
	if (m->state == ST_CONNECTED) {
		leave(m);
	} else if (m->state == ST_BACKOFF) {
		m->state = ST_STOPPED;
	}
	/* A running job finishes on its own; its completion sees stopping.
	 * Nothing queued will be sent now. */
	outq_fail_all(&m->queue, -ECANCELED);
	outq_fail_all(&m->inflight, -ECANCELED);
	return 0;
}

static void mqtt_fini(struct mqb_core *core, void *client)
{
	struct mqb_mqtt *m = client;
	/* After the loop ended: a connect or sync job cut short by the
	 * shutdown may have left Paho mid-call on a detached thread. */
	if (m->state == ST_CONNECTING || m->state == ST_SYNCING)
		m->client_lost = true;
	stop_reading(m);
	ev_timer_stop(core->loop, &m->backoff);
	ev_timer_stop(core->loop, &m->debounce);
	if (m->client_lost) {
		/* Its strings and the client are still in use on that thread:
		 * leaking them is the only safe choice. */
		MQB_LOG_WARNING(LOG, "leaving the client to a job that did not finish");
		return;
	}
	if (m->state == ST_CONNECTED && m->paho->MQTTClient_isConnected(m->client))
		m->paho->MQTTClient_disconnect(m->client, 0);
	if (m->client)
		m->paho->MQTTClient_destroy(&m->client);
	outq_fail_all(&m->queue, -ECANCELED);
	outq_fail_all(&m->inflight, -ECANCELED);
	size_t it = 0;
	struct hashmap_entry *e;
	while ((e = hashmap__next(&m->filters, &it))) {
		struct filter *fl = e->value;
		for (struct mqb_mqtt_sub *s = fl->subs, *next; s; s = next) {
			next = s->next;
			mqb__free(s);
		}
		mqb__free(fl->filter);
		mqb__free(fl);
	}
	hashmap__fini(&m->filters);
	topic_tree__free(m->tree);
	mqb__free(m->on_connect);
	for (size_t i = 0; i < sizeof m->strings / sizeof m->strings[0]; i++)
		mqb__free(m->strings[i]);
	mqb__free(m->uri);
	mqb__free(m->status_topic);
	mqb__free(m);
}

static int copy_option(struct mqb_mqtt *m, const char **field, int slot)
{
	if (!*field)
		return 0;
	if (!(m->strings[slot] = mqb__strdup(*field)))
		return -ENOMEM;
	*field = m->strings[slot];
	return 0;
}

static int check_options(const struct mqtt_options *o)
{
	const char *bad = NULL;
	if (!o->host || !*o->host)
		bad = "host is empty";
	else if (o->port < 0 || o->port > 65535)
		bad = "port is not within 0..65535";
	else if (!o->client_id || !*o->client_id)
		bad = "client_id is empty";
	else if (o->keepalive < 0 || o->keepalive > 65535)
		bad = "keepalive is not within 0..65535";
	else if (o->protocol != 4 && o->protocol != 5)
		bad = "protocol is neither 3.1.1 (4) nor 5";
	else if (o->max_inflight == 0 || o->max_inflight > 65535)
		bad = "max_inflight is not within 1..65535";
	else if (o->inbound_batch == 0)
		bad = "inbound_batch is 0";
	else if (!(o->reconnect_min > 0) || !(o->reconnect_max >= o->reconnect_min))
		bad = "reconnect_min must be positive and at most reconnect_max";
	else if (!(o->connect_timeout > 0))
		bad = "connect_timeout must be positive";
	else if (o->base_topic && (!mqb_mqtt_topic_valid(o->base_topic, strlen(o->base_topic))))
		bad = "base_topic is not a valid topic";
	else if (o->password && !o->username)
		bad = "a password needs a username";
	if (bad)
		MQB_LOG_ERROR(LOG, "%s", bad);
	return bad ? -EINVAL : 0;
}

int mqtt__new(struct mqb_core *core, const struct mqtt_options *opt)
{
	MQB_ASSERT_LOOP(core);
	if (client_of(core))
		return -EEXIST;
	if (check_options(opt))
		return -EINVAL;
	/* Without TLS the library without OpenSSL: 2 MiB less resident. */
	char why[512];
	const struct mqb_paho *paho = mqb__paho_get(opt->tls, why, sizeof why);
	if (!paho) {
		MQB_LOG_ERROR(LOG, "%s", why);
		return -ELIBACC;
	}
	struct mqb_mqtt *m = mqb__calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	m->core = core;
	m->paho = paho;
	m->opt = *opt;
	m->fd = -1;
	m->state = ST_BACKOFF;
	m->rng = (uint64_t)mqb__time_wall() * 1000003u ^ (uint64_t)getpid() << 32 ^ (uintptr_t)m;
	if (!m->rng)
		m->rng = 1;
	hashmap__init(&m->filters);
	int rc = -ENOMEM;
	if (copy_option(m, &m->opt.host, 0) || copy_option(m, &m->opt.client_id, 1) ||
	    copy_option(m, &m->opt.username, 2) || copy_option(m, &m->opt.password, 3) ||
	    copy_option(m, &m->opt.ca_file, 4) || copy_option(m, &m->opt.ca_path, 5) ||
	    copy_option(m, &m->opt.cert_file, 6) || copy_option(m, &m->opt.key_file, 7))
		goto fail;
	m->opt.base_topic = NULL; /* only status_topic is kept */
	const char *h = m->opt.host;
	size_t need = strlen(h) + 32;
	if (!(m->uri = mqb__malloc(need)))
		goto fail;
	snprintf(m->uri, need, strchr(h, ':') ? "%s://[%s]:%d" : "%s://%s:%d",
		 m->opt.tls ? "ssl" : "tcp", h, broker_port(m));
	if (opt->base_topic) {
		size_t n = strlen(opt->base_topic) + sizeof "/status";
		if (!(m->status_topic = mqb__malloc(n)))
			goto fail;
		snprintf(m->status_topic, n, "%s/status", opt->base_topic);
	}
	if ((rc = topic_tree__new(&m->tree)))
		goto fail;
	ev_io_init(&m->io, io_cb, -1, EV_READ);
	m->io.data = m;
	ev_timer_init(&m->tick, tick_cb, 1, 1);
	m->tick.data = m;
	ev_timer_init(&m->more, more_cb, 0, 0);
	m->more.data = m;
	ev_timer_init(&m->resend, resend_cb, 0.01, 0);
	m->resend.data = m;
	ev_timer_init(&m->backoff, backoff_cb, 0, 0);
	m->backoff.data = m;
	/* Subscriptions made at start-up go out in one batch. */
	ev_timer_init(&m->debounce, debounce_cb, 0.05, 0);
	m->debounce.data = m;
	if ((rc = mqb_bus_async_listen(core, MQB_EVENT_STOP, &MQB_CALLBACK(mqtt_stop, m), NULL)))
		goto fail;
	static const struct core_slot_ops ops = {.fini = mqtt_fini};
	core__slot_set(core, CORE_SLOT_MQTT, m, &ops);
	/* Connect once the loop runs (so start-up subscriptions ride along). */
	ev_timer_start(core->loop, &m->backoff);
	return 0;
fail:
	mqtt_fini(core, m);
	return rc;
}
