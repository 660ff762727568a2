/* SPDX-License-Identifier: MIT */
/* The MQTT client's traffic on the loop: messages read from Paho, checked
 * (Paho hands over NULs, bad UTF-8 and wildcards) and dispatched to their
 * handlers per job kind; the outbound queue and what the socket may take;
 * publish completions. */
#include "mqtt/client_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>

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
void mqtt__outq_prepend(struct outq *to, struct outq *from)
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

void mqtt__outq_fail_all(struct outq *q, int status)
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

void mqtt__read_sndbuf(struct mqb_mqtt *m)
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
	mqtt__read_sndbuf(m);
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
		 * the socket no longer shows: the next mqtt__drain takes them all. */
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


/* Send what waits, in order, while the connection takes it. */
void mqtt__flush_queue(struct mqb_mqtt *m)
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
				mqtt__outq_prepend(&m->queue, &one);
				mqtt__connection_lost(m, "publish failed");
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
void mqtt__published_cb(void *ctx, int dt, int packet_type, MQTTProperties *props,
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

void mqtt__sub_unref(struct mqb_mqtt_sub *s)
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

/* A plain filter's handlers in the order they subscribed (its list has
 * the newest first), as the topic tree gives the others'. */
static void collect_filter(struct dispatch *d, const struct filter *fl)
{
	size_t first = d->n;
	for (struct mqb_mqtt_sub *s = fl->subs; s; s = s->next)
		collect(d, s);
	for (size_t i = first, j = d->n; i + 1 < j; i++, j--) {
		struct mqb_mqtt_sub *t = d->v[i];
		d->v[i] = d->v[j - 1];
		d->v[j - 1] = t;
	}
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

/* Under MQTT 5 a broker may send a message once for every subscription
 * of ours it matches: a client holding $share/g/x and x gets it once for x
 * and once more when the broker picks it in group g (MQTT 5.0 §4.8.2);
 * mosquitto sends one for each overlapping plain filter too. Each copy
 * names the subscription it was sent for (its subscription identifiers,
 * client.c): only that subscription's handlers get it, so every handler
 * sees each message once and a group's handlers their share once. Without
 * identifiers (MQTT 3.1.1, or a broker without them) the copies cannot be
 * told apart: every handler gets each, as before, and the log says so once
 * for the case brokers do not spare (a shared and a plain filter). */
static void for_its_subscription(struct mqb_mqtt *m, const char *topic,
				 const MQTTClient_message *msg, struct dispatch *d)
{
	unsigned ids[16];
	size_t nids = 0;
	const MQTTProperties *p = &msg->properties;
	for (int i = 0; m->sub_ids && m->opt.protocol == 5 && i < p->count; i++)
		if (p->array[i].identifier == MQTTPROPERTY_CODE_SUBSCRIPTION_IDENTIFIER) {
			if (nids == sizeof ids / sizeof ids[0])
				return; /* more than we ever give out: keep them all */
			ids[nids++] = (unsigned)p->array[i].value.integer4;
		}
	if (nids == 0) {
		bool shared = false, plain = false;
		for (size_t i = 0; i < d->n; i++)
			*(mqtt__is_shared(d->v[i]->f->filter) ? &shared : &plain) = true;
		if (shared && plain && !m->share_warned) {
			m->share_warned = true;
			MQB_LOG_WARNING(LOG, "a message on %s matches both a shared ($share/) and "
					"a plain subscription: without MQTT 5 subscription identifiers "
					"the broker's two copies cannot be told apart, so both handlers "
					"get both (protocol: \"5\" fixes it)", topic);
		}
		return;
	}
	size_t kept = 0;
	for (size_t i = 0; i < d->n; i++) {
		struct mqb_mqtt_sub *s = d->v[i];
		bool mine = false;
		for (size_t k = 0; k < nids && !mine; k++)
			mine = ids[k] == s->f->sub_id;
		if (mine)
			d->v[kept++] = s;
		else
			mqtt__sub_unref(s);
	}
	d->n = kept;
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
		/* Worth a reconnect only past what a message within the limit
		 * may leave in Paho's buffer anyway (give_back, client.c). */
		if (len > m->opt.max_payload + GIVE_BACK_OVER && len > m->oversized)
			m->oversized = len;
		return;
	}
	struct dispatch d = { .v = d.subs, .cap = sizeof d.subs / sizeof d.subs[0] };
	struct filter *fl = filter_table__find(&m->filters, topic, tlen);
	if (fl && mqtt__is_plain(fl)) /* not "$share/g/x" taken as a topic */
		collect_filter(&d, fl);
	topic_tree__match(m->tree, topic, tlen, collect, &d);
	if (d.n > 1)
		for_its_subscription(m, topic, msg, &d);
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
		struct mqb_job job = mqtt__sub_job(s);
		int rc = mqb_async_run_job(m->core, &job, mqb_mqtt_message_ref(mm),
					   (mqb_release_fn)mqb_mqtt_message_unref, NULL);
		if (rc) {
			mqb_mqtt_message_unref(mm);
			m->stats.dropped_handler_busy++;
			MQB_LOG_WARNING(LOG, "%s: handler %s not run: %s", topic,
					s->name ? s->name : "?", mqb_strerror(rc));
		} else {
			m->stats.dispatched++;
		}
	}
	mqb_mqtt_message_unref(mm);
out:
	for (size_t i = 0; i < d.n; i++)
		mqtt__sub_unref(d.v[i]);
	if (d.v != d.subs)
		mqb__free(d.v);
}

/* Paho gives up on a broker that leaves a PINGREQ unanswered for a
 * keepalive, closing the socket itself; from outside that looks like any
 * other close. The socket tells them apart: a broker that closes it wakes
 * the loop (EOF) just before, a hung or cut-off one has been silent. */
static const char *why_lost(struct mqb_mqtt *m, const char *otherwise)
{
	double silent = ev_now(m->core->loop) - m->last_in;
	if (m->opt.keepalive > 0 && silent >= m->opt.keepalive) {
		snprintf(m->why, sizeof m->why, "no answer from the broker for %.1f s (keepalive "
			 "%d s): it is hung or the network is cut", silent, m->opt.keepalive);
		return m->why;
	}
	return otherwise;
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
void mqtt__drain(struct mqb_mqtt *m)
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
			mqtt__connection_lost(m, why_lost(m, m->paho->MQTTClient_strerror(rc)));
			return;
		}
		if (!msg) {
			if (topic)
				m->paho->MQTTClient_free(topic);
			m->paho_may_hold = false; /* Paho hands out what it holds first */
			if (m->held_read >= TRIM_AFTER)
				mqb__trim(); /* what Paho read for them while a job had it */
			m->held_read = 0;
			break;
		}
		m->held_read += m->paho_may_hold;
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
		if (m->oversized) {
			mqtt__give_back(m);
			return;
		}
	}
	if (i == budget || (m->opt.tls && i > 0))
		ev_timer_start(loop, &m->more);
	if (!m->paho->MQTTClient_isConnected(m->client)) {
		mqtt__connection_lost(m, why_lost(m, "the broker closed the connection"));
		return;
	}
	if (m->oversized) { /* read while a publish waited inside Paho */
		mqtt__give_back(m);
		return;
	}
	check_completions(m);
	mqtt__flush_queue(m);
}

void mqtt__more_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mqb_mqtt *m = w->data;
	if (m->state == ST_CONNECTED)
		mqtt__drain(m);
}

void mqtt__resend_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	mqtt__flush_queue(w->data);
}

void mqtt__io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mqb_mqtt *m = w->data;
	m->last_in = ev_now(loop);
	if (m->state == ST_CONNECTED)
		mqtt__drain(m);
}

/* Keepalive and Paho's retries happen inside its cycle, which only runs
 * when we call it: a quiet connection still needs a turn now and then. */
void mqtt__tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mqb_mqtt *m = w->data;
	if (m->state == ST_CONNECTED)
		mqtt__drain(m);
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
	bool connected = m->state == ST_CONNECTED || m->state == ST_SYNCING || m->recycling;
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
	mqtt__flush_queue(m);
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
