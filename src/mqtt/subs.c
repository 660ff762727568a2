/* SPDX-License-Identifier: MIT */
/* The MQTT client's subscriptions: handlers shared per filter at the
 * highest QoS asked, changes gathered for a moment (debounce) and synced
 * with the broker by an executor job that owns the client meanwhile. */
#include "mqtt/client_impl.h"

#include <errno.h>
#include <string.h>

/* ---- subscription changes ---------------------------------------------- */

struct sync_req {
	struct mqb_mqtt *m;
	char **sub;
	int *qos;
	unsigned *ids;
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
	mqb__free(r->ids);
	mqb__free(r->unsub);
	mqb__free(r);
}

/* Executor: Paho's SUBSCRIBE/UNSUBSCRIBE wait for their acks (reading the
 * socket meanwhile, so the loop must not read it too). */
static int sync_job(void *ud, void *arg, void **result)
{
	struct sync_req *r = arg;
	struct mqb_mqtt *m = r->m;
	r->sub_rc = mqtt__subscribe_all(m, r->sub, r->qos, r->ids, r->nsub);
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
	filter_table__remove(&m->filters, fl);
	mqb__free(fl);
}

static void sync_finished(struct mqb_future *f, void *ud)
{
	struct sync_req *r = ud;
	struct mqb_mqtt *m = r->m;
	if (mqtt__job_cut_short(m, f)) {
		sync_req_free(r);
		return;
	}
	for (int i = 0; i < r->nsub; i++) {
		struct filter *fl = filter_table__find(&m->filters, r->sub[i], strlen(r->sub[i]));
		if (fl)
			fl->broker_qos = r->sub_rc == 0 ? r->qos[i] : -1;
		if (r->sub_rc != 0 || r->qos[i] < 0)
			MQB_LOG_ERROR(LOG, "subscribing to %s failed", r->sub[i]);
	}
	for (int i = 0; i < r->nunsub; i++) {
		struct filter *fl = filter_table__find(&m->filters, r->unsub[i], strlen(r->unsub[i]));
		if (!fl)
			continue;
		fl->broker_qos = -1;
		if (!fl->subs)
			filter_free(m, fl);
	}
	bool many = r->nsub + r->nunsub >= TRIM_AFTER;
	sync_req_free(r);
	if (many)
		mqb__trim(); /* what Paho and the job used for them */
	m->state = ST_CONNECTED;
	if (!m->paho->MQTTClient_isConnected(m->client)) {
		mqtt__connection_lost(m, "lost while changing subscriptions");
		return;
	}
	if (m->stopping) {
		mqtt__leave(m);
		return;
	}
	mqtt__start_reading(m);
	m->last_in = ev_now(m->core->loop); /* its acks just came */
	if (m->dirty)
		ev_timer_start(m->core->loop, &m->debounce);
	mqtt__birth(m);
	/* The job may have read messages while it waited for its acks. */
	m->paho_may_hold = true;
	mqtt__drain(m);
}

/* Batches subscription changes made close together into one job. */
void mqtt__debounce_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mqb_mqtt *m = w->data;
	if (m->state != ST_CONNECTED || m->stopping || !m->dirty)
		return;
	struct sync_req *r = mqb__calloc(1, sizeof *r);
	size_t n = filter_table__count(&m->filters), b = 0;
	if (!r || !(r->sub = mqb__calloc(n, sizeof *r->sub)) ||
	    !(r->qos = mqb__calloc(n, sizeof *r->qos)) ||
	    !(r->ids = mqb__calloc(n, sizeof *r->ids)) ||
	    !(r->unsub = mqb__calloc(n, sizeof *r->unsub)))
		goto nomem;
	r->m = m;
	struct filter *fl = NULL;
	while ((fl = filter_table__next(&m->filters, &b, fl))) {
		if (fl->subs && fl->broker_qos < fl->qos) {
			if (!(r->sub[r->nsub] = mqb__strdup(fl->filter)))
				goto nomem;
			r->ids[r->nsub] = fl->sub_id;
			r->qos[r->nsub++] = fl->qos;
		} else if (!fl->subs && fl->broker_qos >= 0) {
			if (!(r->unsub[r->nunsub] = mqb__strdup(fl->filter)))
				goto nomem;
			r->nunsub++;
		}
	}
	m->dirty = false;
	if (r->nsub == 0 && r->nunsub == 0) {
		sync_req_free(r);
		mqtt__birth(m);
		return;
	}
	/* The job reads the socket: the loop stops before it can start. */
	mqtt__stop_reading(m);
	int rc = mqtt__run_client_job(m, sync_job, "mqtt subscribe", r, sync_finished);
	if (rc) {
		MQB_LOG_WARNING(LOG, "subscription change postponed: %s", mqb_strerror(rc));
		sync_req_free(r);
		m->dirty = true;
		mqtt__start_reading(m);
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

bool mqtt__is_shared(const char *filter)
{
	return topic_tree__match_part(filter) != filter;
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
	struct filter *fl = filter_table__find(&m->filters, filter, flen);
	bool created = false;
	if (!fl) {
		if (!(fl = mqb__calloc(1, filter_table__size(flen))))
			return -ENOMEM;
		memcpy(fl->filter, filter, flen + 1);
		fl->broker_qos = -1;
		fl->qos = (unsigned)qos & 3;
		fl->sub_id = EXACT_SUB_ID;
		if (mqtt__is_shared(filter) || strpbrk(filter, "+#")) {
			fl->sub_id = m->next_sub_id;
			m->next_sub_id = m->next_sub_id == MAX_SUB_ID ? EXACT_SUB_ID + 1
								       : m->next_sub_id + 1;
		}
		if (filter_table__add(&m->filters, fl)) {
			mqb__free(fl);
			return -ENOMEM;
		}
		created = true;
	}
	struct mqb_mqtt_sub *s = mqb__calloc(1, sizeof *s);
	if (!s || (!mqtt__is_plain(fl) && topic_tree__add(m->tree, filter, s))) {
		mqb__free(s);
		if (created)
			filter_free(m, fl);
		return -ENOMEM;
	}
	s->fn = job->fn;
	s->ud = job->ud;
	s->name = job->name;
	s->result_free = job->result_free;
	s->kind = (uint8_t)job->kind;
	s->qos = (int8_t)qos; /* 0 to 2, checked above */
	s->f = fl;
	s->refs = 1;
	s->next = fl->subs;
	fl->subs = s;
	if (qos > fl->qos)
		fl->qos = (unsigned)qos & 3;
	m->stats.subscriptions = (unsigned)filter_table__count(&m->filters);
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
	if (!mqtt__is_plain(fl))
		topic_tree__remove(m->tree, fl->filter, s);
	struct mqb_mqtt_sub **p = &fl->subs;
	while (*p != s)
		p = &(*p)->next;
	*p = s->next;
	s->removed = true;
	mqtt__sub_unref(s);
	if (!fl->subs) {
		if (fl->broker_qos >= 0)
			mark_dirty(m); /* UNSUBSCRIBE, then the filter goes */
		else if (m->state != ST_CONNECTING && m->state != ST_SYNCING)
			filter_free(m, fl); /* a job may be holding its name: see sync */
	}
	m->stats.subscriptions = (unsigned)filter_table__count(&m->filters);
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
