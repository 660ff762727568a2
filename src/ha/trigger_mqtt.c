/* SPDX-License-Identifier: MIT */
/* The mqtt trigger (Home Assistant's components/mqtt/trigger.py): a topic
 * filter (or a template rendered when attached), an optional payload to
 * match after value_template, on the core's MQTT client, whose
 * subscriptions are shared per filter. */
#include "lib/internal.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "mqbridge/mqtt.h"
#include "mqbridge/text.h"

#include "config/schema.h"
#include "ha/cv.h"
#include "ha/duration.h"
#include "ha/trigger_impl.h"
#include "template/native.h"

#define SUB "trigger"

struct conf {
	char *topic;                    /* a filter, or NULL: */
	struct mqb_template *topic_tpl; /* rendered when attached */
	bool has_payload;
	char *payload;
	struct mqb_template *payload_tpl;
	struct mqb_template *value_template;
	int qos;
	bool raw;                       /* encoding: "" */
};

static const char *const keys[] = {"topic", "payload", "value_template", "qos", "encoding", NULL};

static void conf_free(void *p)
{
	struct conf *c = p;
	if (!c)
		return;
	mqb__free(c->topic);
	mqb_template_free(c->topic_tpl);
	mqb__free(c->payload);
	mqb_template_free(c->payload_tpl);
	mqb_template_free(c->value_template);
	mqb__free(c);
}

/* A text or a template: exactly one of *text and *tpl is set. */
static size_t text_or_template(const struct mqb_conf_node *n, const char *path,
			       struct mqb_conf_errors *errs, char **text, struct mqb_template **tpl)
{
	const char *s = cv__text(n);
	if (!s) {
		mqb_conf_error_at(errs, n, path, "expected a string");
		return 1;
	}
	if (duration__is_template_text(s, strlen(s)))
		return schema__compile_template(n, path, errs, tpl) < 0;
	return cv__strdup(n, path, errs, text);
}

static size_t compile(const struct mqb_conf_node *node, const char *path,
		      struct mqb_conf_errors *errs, void **priv)
{
	char p[CV_PATH_MAX];
	size_t found = 0;
	struct conf *c = mqb__calloc(1, sizeof *c);
	if (!c) {
		mqb_conf_error(errs, NULL, path, "out of memory");
		return 1;
	}
	const struct mqb_conf_node *topic = cv__required(node, "topic", path, errs, &found);
	if (topic) {
		cv__path(p, path, ".topic");
		size_t f = text_or_template(topic, p, errs, &c->topic, &c->topic_tpl);
		if (!f && c->topic && !mqb_mqtt_filter_valid(c->topic)) {
			mqb_conf_error_at(errs, topic, p, "invalid MQTT topic filter '%s' ('+' alone "
							  "in a level, '#' alone at the end)",
					  c->topic);
			f = 1;
		}
		found += f;
	}
	const struct mqb_conf_node *payload = mqb_conf_get(node, "payload");
	if (payload) {
		c->has_payload = true;
		found += text_or_template(payload, cv__path(p, path, ".payload"), errs, &c->payload,
					  &c->payload_tpl);
	}
	const struct mqb_conf_node *vt = mqb_conf_get(node, "value_template");
	if (vt && schema__compile_template(vt, cv__path(p, path, ".value_template"), errs,
					   &c->value_template) < 0)
		found++;
	const struct mqb_conf_node *qos = mqb_conf_get(node, "qos");
	if (qos) {
		const char *s = cv__text(qos);
		if (!s || strlen(s) != 1 || s[0] < '0' || s[0] > '2') {
			mqb_conf_error_at(errs, qos, cv__path(p, path, ".qos"),
					  "value must be one of [0, 1, 2]");
			found++;
		} else {
			c->qos = s[0] - '0';
		}
	}
	const struct mqb_conf_node *enc = mqb_conf_get(node, "encoding");
	if (enc) {
		const char *s = cv__text(enc);
		if (s && !*s)
			c->raw = true;
		else if (!s || (strcasecmp(s, "utf-8") && strcasecmp(s, "utf8"))) {
			mqb_conf_error_at(errs, enc, cv__path(p, path, ".encoding"),
					  "unsupported encoding: 'utf-8' or '' (raw bytes)");
			found++;
		}
	}
	if (found)
		conf_free(c);
	else
		*priv = c;
	return found;
}

struct run {
	struct trig_run *r;
	char *wanted;               /* the payload to match; NULL: any */
	struct mqb_mqtt_sub *sub;
};

json_t *trigger__mqtt_data(const char *topic, const char *payload, size_t len, int qos)
{
	char desc[256];
	snprintf(desc, sizeof desc, "mqtt topic %s", topic);
	json_t *data = json_pack("{s:s,s:o,s:i,s:s}", "topic", topic, "payload",
				 payload ? json_stringn(payload, len) : json_null(), "qos", qos,
				 "description", desc);
	json_t *parsed = payload && len ? json_loadb(payload, len, JSON_DECODE_ANY, NULL) : NULL;
	if (data && parsed)
		json_object_set_new(data, "payload_json", parsed);
	else
		json_decref(parsed);
	return data;
}

static int on_message(void *ud, void *arg, void **result)
{
	(void)result;
	struct run *run = ud;
	struct trig_run *r = run->r;
	const struct conf *c = r->t->priv;
	const struct mqb_mqtt_message *m = arg;
	const char *payload = mqb_mqtt_message_payload(m);
	size_t len = mqb_mqtt_message_len(m);
	bool text = mqb_utf8_valid(payload, len);
	if (!text && !c->raw) {
		MQB_LOG_WARNING(SUB, "%s: Can't decode payload on %s with encoding utf-8",
				trigger__name(r), mqb_mqtt_message_topic(m));
		return 0;
	}
	if (run->wanted) {
		/* raw bytes never equal a text (Home Assistant: bytes != str) */
		if (c->raw)
			return 0;
		char *value = NULL;
		size_t vlen = len;
		const char *v = payload;
		if (c->value_template) {
			struct mqb_tpl_vars tv = trigger__vars(r, NULL);
			tv.value = payload;
			tv.value_len = len;
			struct mqb_tpl_error err;
			if (mqb_template_render(c->value_template, &tv, NULL, &value, &vlen, &err)) {
				MQB_LOG_DEBUG(SUB, "%s: value_template: %s", trigger__name(r),
					      err.message);
				vlen = 0;
			}
			v = value ? mqb_strip(value, &vlen) : "";
		}
		bool match = vlen && strlen(run->wanted) == vlen && memcmp(v, run->wanted, vlen) == 0;
		mqb__free(value);
		if (!match)
			return 0;
	}
	trigger__enter(r);
	json_t *data = trigger__mqtt_data(mqb_mqtt_message_topic(m), text ? payload : NULL, len,
					  mqb_mqtt_message_qos(m));
	if (data)
		trigger__fire(r, data);
	else
		MQB_LOG_ERROR(SUB, "%s: out of memory", trigger__name(r));
	trigger__leave(r);
	return 0;
}

static void detach(struct trig_run *r)
{
	struct run *run = r->state;
	if (!run)
		return;
	if (run->sub)
		mqb_mqtt_async_unsubscribe(r->a->core, run->sub);
	mqb__free(run->wanted);
	mqb__free(run);
	r->state = NULL;
}

/* A template of the trigger rendered once, as text (limited: the
 * attachment's variables, no states). */
static int render_text(struct trig_run *r, const struct mqb_template *t, char **out)
{
	struct mqb_tpl_vars vars = trigger__vars(r, NULL);
	vars.core = NULL;
	struct mqb_tpl_error err = {0};
	json_t *v = NULL;
	int rc = tpl__render_json(t, &vars, false, &v, &err);
	if (rc) {
		if (rc != -ENOMEM)
			MQB_LOG_ERROR(SUB, "%s: mqtt trigger: %s", trigger__name(r), err.message);
		return rc;
	}
	*out = mqb__strdup(json_is_string(v) ? json_string_value(v) : "");
	json_decref(v);
	return *out ? 0 : -ENOMEM;
}

static int attach(struct trig_run *r)
{
	const struct conf *c = r->t->priv;
	struct run *run = mqb__calloc(1, sizeof *run);
	char *topic = NULL;
	if (!run)
		return -ENOMEM;
	r->state = run;
	run->r = r;
	int rc = 0;
	if (c->topic_tpl) {
		if ((rc = render_text(r, c->topic_tpl, &topic)))
			goto fail;
		if (!mqb_mqtt_filter_valid(topic)) {
			MQB_LOG_ERROR(SUB, "%s: mqtt trigger: '%s' is not a valid topic filter",
				      trigger__name(r), topic);
			rc = -EINVAL;
			goto fail;
		}
	}
	if (c->payload_tpl)
		rc = render_text(r, c->payload_tpl, &run->wanted);
	else if (c->has_payload && !(run->wanted = mqb__strdup(c->payload)))
		rc = -ENOMEM;
	if (rc)
		goto fail;
	rc = mqb_mqtt_async_subscribe(r->a->core, topic ? topic : c->topic, c->qos,
				      &MQB_CALLBACK(on_message, run), &run->sub);
	if (rc) {
		MQB_LOG_ERROR(SUB, "%s: mqtt trigger on %s: %s", trigger__name(r),
			      topic ? topic : c->topic,
			      rc == -ENOTCONN ? "no MQTT client" : mqb_strerror(rc));
		goto fail;
	}
	mqb__free(topic);
	return 0;
fail:
	mqb__free(topic);
	detach(r);
	return rc;
}

const struct trig_ops trigger__mqtt = {
	.name = "mqtt",
	.keys = keys,
	.compile = compile,
	.free = conf_free,
	.attach = attach,
	.detach = detach,
};
