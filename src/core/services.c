/* SPDX-License-Identifier: MIT */
/* The service registry: "domain.service" -> a handler job and a validator.
 * A call is checked before anything happens, announced as call_service,
 * then its handler is run per its kind; the caller gets the job's future. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "lib/internal.h"
#include "core/hass.h"
#include "lib/hashmap.h"
#include "lib/jsonref.h"
#include "mqbridge/bus.h"
#include "mqbridge/error.h"
#include "mqbridge/future.h"
#include "mqbridge/log.h"
#include "mqbridge/services.h"

#define NAME_MAX_LEN 64
#define KEY_MAX_LEN (2 * NAME_MAX_LEN + 1)

struct service {
	struct mqb_job handler;
	mqb_service_validate_fn validate;
	void *validate_ud;
	enum mqb_service_response response;
	const char *const *text_fields; /* services__async_set_text_fields */
	size_t domain_len;
	char key[]; /* "domain.service", lowercased: the map's key */
};

struct services {
	struct hashmap map; /* key (pointing into the service) -> struct service * */
};

static inline struct services *services_of(struct mqb_core *core)
{
	return core__slot(core, CORE_SLOT_SERVICES);
}

struct mqb_service_call {
	atomic_uint refs;
	json_t *data;
	json_t *texts; /* services__call_text's; NULL: none */
	/* A thread-safe call's future (mqb_services_call), settled by the
	 * handler's wrapper; if the handler never runs, by the last unref. */
	struct mqb_future *settle;
	struct mqb_job handler;
	const char *service;
	bool return_response;
	char domain[]; /* "domain\0service\0" */
};

/* ---- calls ---- */

struct mqb_service_call *mqb_service_call_ref(struct mqb_service_call *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void mqb_service_call_unref(struct mqb_service_call *c)
{
	if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (c->settle) {
		/* The handler never ran (the pool refused it, or shutdown
		 * cancelled it): whoever waits must still hear. -EALREADY when
		 * it did run is expected. */
		mqb_future_resolve(c->settle, -ECANCELED, NULL, NULL);
		mqb_future_unref(c->settle);
	}
	jsonref__put(c->data);
	jsonref__put(c->texts);
	mqb__free(c);
}

static void call_release(void *p)
{
	mqb_service_call_unref(p);
}

const char *mqb_service_call_domain(const struct mqb_service_call *c) { return c->domain; }
const char *mqb_service_call_service(const struct mqb_service_call *c) { return c->service; }
const json_t *mqb_service_call_data(const struct mqb_service_call *c) { return c->data; }
bool mqb_service_call_return_response(const struct mqb_service_call *c) { return c->return_response; }

const char *services__call_text(const struct mqb_service_call *c, const char *key, size_t *len)
{
	const json_t *t = c->texts ? json_object_get(c->texts, key) : NULL;
	if (!json_is_string(t))
		return NULL;
	if (len)
		*len = json_string_length(t);
	return json_string_value(t);
}

/* ---- names ---- */

/* Lowercase one name into out; 1..64 of [a-z0-9_] after lowercasing.
 * Returns its length or -1. */
static long name_lower(const char *name, char *out)
{
	if (!name)
		return -1;
	size_t i;
	for (i = 0; name[i]; i++) {
		if (i == NAME_MAX_LEN)
			return -1;
		char c = name[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return -1;
		out[i] = c;
	}
	return i ? (long)i : -1;
}

/* key gets "domain.service" (KEY_MAX_LEN + 1 bytes); returns its length or
 * -EINVAL, and *domain_len the domain's. */
static long make_key(const char *domain, const char *service, char *key, size_t *domain_len)
{
	long d = name_lower(domain, key);
	if (d < 0)
		return -EINVAL;
	key[d] = '.';
	long s = name_lower(service, key + d + 1);
	if (s < 0)
		return -EINVAL;
	key[d + 1 + s] = '\0';
	*domain_len = (size_t)d;
	return d + 1 + s;
}

/* ---- the registry, on the loop ---- */

struct services *services__new(void)
{
	struct services *sv = mqb__calloc(1, sizeof(*sv));
	if (sv)
		hashmap__init(&sv->map);
	return sv;
}

void services__free(struct services *sv)
{
	if (!sv)
		return;
	size_t it = 0;
	struct hashmap_entry *e;
	while ((e = hashmap__next(&sv->map, &it)))
		mqb__free(e->value);
	hashmap__fini(&sv->map);
	mqb__free(sv);
}

/* {domain, service} for service_registered and service_removed. */
static void fire_name_event(struct mqb_core *core, const char *type, const struct service *s)
{
	json_t *d = json_pack("{s:s%,s:s}", "domain", s->key, s->domain_len, "service",
			      s->key + s->domain_len + 1);
	if (!d) {
		MQB_LOG_ERROR("services", "%s: %s not fired: out of memory", s->key, type);
		return;
	}
	mqb_bus_async_fire(core, type, d);
}

static void release_response(void *p)
{
	json_decref(p);
}

int mqb_services_async_register(struct mqb_core *core, const char *domain, const char *service,
				const struct mqb_job *handler, mqb_service_validate_fn validate,
				void *validate_ud)
{
	return mqb_services_async_register_response(core, domain, service, handler, validate,
						    validate_ud, MQB_SERVICE_RESPONSE_NONE);
}

int mqb_services_async_register_response(struct mqb_core *core, const char *domain,
					 const char *service, const struct mqb_job *handler,
					 mqb_service_validate_fn validate, void *validate_ud,
					 enum mqb_service_response supports)
{
	MQB_ASSERT_LOOP(core);
	struct services *sv = services_of(core);
	char key[KEY_MAX_LEN + 1];
	size_t domain_len;
	long len = make_key(domain, service, key, &domain_len);
	if (len < 0 || !handler || !handler->fn)
		return -EINVAL;
	struct service *s = mqb__malloc(sizeof(*s) + (size_t)len + 1);
	if (!s)
		return -ENOMEM;
	s->handler = *handler;
	if (supports != MQB_SERVICE_RESPONSE_NONE && !s->handler.result_free)
		s->handler.result_free = release_response;
	s->validate = validate;
	s->validate_ud = validate_ud;
	s->response = supports;
	s->text_fields = NULL;
	s->domain_len = domain_len;
	memcpy(s->key, key, (size_t)len + 1);
	void *old = NULL;
	int rc = hashmap__put(&sv->map, s->key, (size_t)len, s, &old);
	if (rc < 0) {
		mqb__free(s);
		return rc;
	}
	if (old) {
		MQB_LOG_INFO("services", "%s: handler replaced", s->key);
		mqb__free(old);
	}
	fire_name_event(core, MQB_EVENT_SERVICE_REGISTERED, s);
	return 0;
}

int mqb_services_async_remove(struct mqb_core *core, const char *domain, const char *service)
{
	MQB_ASSERT_LOOP(core);
	struct services *sv = services_of(core);
	char key[KEY_MAX_LEN + 1];
	size_t domain_len;
	long len = make_key(domain, service, key, &domain_len);
	if (len < 0)
		return (int)len;
	struct service *s = hashmap__remove(&sv->map, key, (size_t)len);
	if (!s)
		return -MQB_E_NOTFOUND;
	/* Calls already under way hold their own copy of the handler. */
	fire_name_event(core, MQB_EVENT_SERVICE_REMOVED, s);
	mqb__free(s);
	return 0;
}

bool mqb_services_async_has(struct mqb_core *core, const char *domain, const char *service)
{
	MQB_ASSERT_LOOP(core);
	char key[KEY_MAX_LEN + 1];
	size_t domain_len;
	long len = make_key(domain, service, key, &domain_len);
	return len >= 0 && hashmap__get(&services_of(core)->map, key, (size_t)len);
}

int mqb_services_async_supports_response(struct mqb_core *core, const char *domain,
					 const char *service)
{
	MQB_ASSERT_LOOP(core);
	char key[KEY_MAX_LEN + 1];
	size_t domain_len;
	long len = make_key(domain, service, key, &domain_len);
	const struct service *s = len < 0 ? NULL : hashmap__get(&services_of(core)->map, key, (size_t)len);
	return s ? (int)s->response : -MQB_E_NOTFOUND;
}

static const struct service *find(struct mqb_core *core, const char *domain, const char *service)
{
	char key[KEY_MAX_LEN + 1];
	size_t domain_len;
	long len = make_key(domain, service, key, &domain_len);
	return len < 0 ? NULL : hashmap__get(&services_of(core)->map, key, (size_t)len);
}

int services__async_set_text_fields(struct mqb_core *core, const char *domain,
				    const char *service, const char *const *fields)
{
	MQB_ASSERT_LOOP(core);
	struct service *s = (struct service *)find(core, domain, service);
	if (!s)
		return -MQB_E_NOTFOUND;
	s->text_fields = fields;
	return 0;
}

const char *const *services__async_text_fields(struct mqb_core *core, const char *domain,
					       const char *service)
{
	MQB_ASSERT_LOOP(core);
	const struct service *s = find(core, domain, service);
	return s ? s->text_fields : NULL;
}

static struct mqb_service_call *call_new(const struct service *s, json_t *data)
{
	size_t n = strlen(s->key) + 1;
	struct mqb_service_call *c = mqb__malloc(sizeof(*c) + n);
	if (!c)
		return NULL;
	atomic_init(&c->refs, 1);
	c->data = data;
	c->texts = NULL;
	c->settle = NULL;
	c->handler = s->handler;
	c->return_response = false;
	memcpy(c->domain, s->key, n);
	c->domain[s->domain_len] = '\0';
	c->service = c->domain + s->domain_len + 1;
	return c;
}

static int fire_call_service(struct mqb_core *core, const struct mqb_service_call *c)
{
	/* Building the event's JSON is the costly part of a call; skip it
	 * when nobody listens. */
	if (!mqb_bus_async_listener_count(core, MQB_EVENT_CALL_SERVICE) &&
	    !mqb_bus_async_listener_count(core, MQB_MATCH_ALL))
		return 0;
	/* A copy of the data: the call's own is shared with the handler,
	 * which may be on another thread (jsonref.h). */
	json_t *d = json_pack("{s:s,s:s,s:o}", "domain", c->domain, "service", c->service,
			      "service_data", json_deep_copy(c->data));
	if (!d)
		return -ENOMEM;
	return mqb_bus_async_fire(core, MQB_EVENT_CALL_SERVICE, d);
}

/* A thread-safe call's handler: run the real one, then settle the caller's
 * future with its status and result (whose ownership passes with it).
 * Runs per the handler's kind, like the handler would. */
static int settle_wrapper(void *ud, void *arg, void **result)
{
	struct mqb_service_call *c = arg;
	void *r = NULL;
	int rc = c->handler.fn(c->handler.ud, c, &r);
	if (mqb_future_resolve(c->settle, rc, r, c->handler.result_free) < 0 && r &&
	    c->handler.result_free)
		c->handler.result_free(r);
	return rc;
}

/* A refusal's reason: to the caller's buffer, else to the log. */
static void __attribute__((format(printf, 3, 4)))
refuse(const struct mqb_service_call_options *opt, const char *key, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (opt && opt->errmsg && opt->errlen)
		snprintf(opt->errmsg, opt->errlen, "%s", msg);
	else
		MQB_LOG_WARNING("services", "%s: %s", key, msg);
}

/* The loop half of every call. settle (may be NULL) is a thread-safe
 * caller's future: the handler settles it, and this function does when it
 * fails. Takes data. */
static int call(struct mqb_core *core, const char *domain, const char *service, json_t *data,
		json_t *texts, const struct mqb_service_call_options *opt,
		struct mqb_future *settle, struct mqb_future **out)
{
	bool want_response = opt && opt->return_response;
	struct services *sv = services_of(core);
	char key[KEY_MAX_LEN + 1];
	size_t domain_len;
	struct mqb_service_call *c = NULL;
	int rc;

	long len = make_key(domain, service, key, &domain_len);
	if (len < 0) {
		rc = (int)len;
		goto fail;
	}
	if (!data && !(data = json_object())) {
		rc = -ENOMEM;
		goto fail;
	}
	if (!json_is_object(data)) {
		rc = -EINVAL;
		goto fail;
	}
	struct service *s = hashmap__get(&sv->map, key, (size_t)len);
	if (!s) {
		rc = -MQB_E_NOTFOUND;
		goto fail;
	}
	if (want_response && s->response == MQB_SERVICE_RESPONSE_NONE) {
		refuse(opt, s->key, "An action which does not return responses can't be called "
				    "with return_response=True");
		rc = -EINVAL;
		goto fail;
	}
	if (!want_response && s->response == MQB_SERVICE_RESPONSE_ONLY) {
		refuse(opt, s->key, "The action requires responses and must be called with "
				    "return_response=True");
		rc = -EINVAL;
		goto fail;
	}
	if (s->validate) {
		char msg[256] = "";
		if (s->validate(s->validate_ud, data, msg, sizeof(msg)) != 0) {
			refuse(opt, s->key, "%s", msg[0] ? msg : "invalid data");
			rc = -EINVAL;
			goto fail;
		}
	}
	c = call_new(s, data);
	if (!c) {
		rc = -ENOMEM;
		goto fail;
	}
	c->return_response = want_response;
	c->texts = texts;
	data = NULL; /* the call has them */
	texts = NULL;
	rc = fire_call_service(core, c);
	if (rc < 0)
		MQB_LOG_WARNING("services", "%s.%s: call_service not fired: %s", c->domain,
				c->service, mqb_strerror(rc));

	struct mqb_job job = c->handler;
	if (settle) {
		c->settle = mqb_future_ref(settle);
		job.fn = settle_wrapper;
		job.ud = NULL;
		job.result_free = NULL;
	}
	/* The job's reference; on failure nothing ran and it is still ours. */
	mqb_service_call_ref(c);
	rc = mqb_async_run_job(core, &job, c, call_release, out);
	if (rc < 0) {
		mqb_service_call_unref(c);
		if (settle) {
			mqb_future_resolve(settle, rc, NULL, NULL);
			mqb_future_unref(c->settle);
			c->settle = NULL;
		}
	}
	mqb_service_call_unref(c);
	return rc;

fail:
	json_decref(data);
	json_decref(texts);
	if (settle)
		mqb_future_resolve(settle, rc, NULL, NULL);
	return rc;
}

int mqb_services_async_call(struct mqb_core *core, const char *domain, const char *service,
			    json_t *data, struct mqb_future **out)
{
	MQB_ASSERT_LOOP(core);
	if (out)
		*out = NULL;
	return call(core, domain, service, data, NULL, NULL, NULL, out);
}

int mqb_services_async_call_opt(struct mqb_core *core, const char *domain, const char *service,
				json_t *data, const struct mqb_service_call_options *opt,
				struct mqb_future **out)
{
	MQB_ASSERT_LOOP(core);
	if (out)
		*out = NULL;
	return call(core, domain, service, data, NULL, opt, NULL, out);
}

int services__async_call_texts(struct mqb_core *core, const char *domain, const char *service,
			       json_t *data, json_t *texts,
			       const struct mqb_service_call_options *opt, struct mqb_future **out)
{
	MQB_ASSERT_LOOP(core);
	if (out)
		*out = NULL;
	return call(core, domain, service, data, texts, opt, NULL, out);
}

/* ---- thread-safe flavours ---- */

struct register_args {
	const char *domain, *service;
	const struct mqb_job *handler;
	mqb_service_validate_fn validate;
	void *validate_ud;
};

static int register_on_loop(void *ud, void *arg, void **result)
{
	struct register_args *a = ud;
	return mqb_services_async_register(arg, a->domain, a->service, a->handler, a->validate,
					   a->validate_ud);
}

int mqb_services_register(struct mqb_core *core, const char *domain, const char *service,
			  const struct mqb_job *handler, mqb_service_validate_fn validate,
			  void *validate_ud)
{
	struct register_args a = { domain, service, handler, validate, validate_ud };
	return mqb_call_threadsafe(core, register_on_loop, &a, core);
}

/* A call handed to the loop: the names are copied, as the caller does not
 * wait for the loop to read them. */
struct call_request {
	struct mqb_core *core;
	json_t *data;
	struct mqb_future *settle;
	char domain[NAME_MAX_LEN + 1];
	char service[NAME_MAX_LEN + 1];
};

static void call_on_loop(void *arg)
{
	struct call_request *r = arg;
	call(r->core, r->domain, r->service, r->data, NULL, NULL, r->settle, NULL);
	mqb_future_unref(r->settle);
	mqb__free(r);
}

int mqb_services_call(struct mqb_core *core, const char *domain, const char *service,
		      json_t *data, struct mqb_future **out)
{
	struct call_request *r = NULL;
	int rc;
	if (out)
		*out = NULL;
	/* Bad names and data fail here and now; only the loop can say
	 * whether the service exists or the data is valid. */
	char key[KEY_MAX_LEN + 1];
	size_t domain_len;
	long len = make_key(domain, service, key, &domain_len);
	if (len < 0 || (data && !json_is_object(data))) {
		rc = -EINVAL;
		goto fail;
	}
	r = mqb__calloc(1, sizeof(*r));
	if (!r || !(r->settle = mqb_future_new(core))) {
		rc = -ENOMEM;
		goto fail;
	}
	r->core = core;
	r->data = data;
	memcpy(r->domain, key, domain_len);
	memcpy(r->service, key + domain_len + 1, (size_t)len - domain_len);
	struct mqb_future *f = mqb_future_ref(r->settle);
	rc = mqb_call_soon_threadsafe(core, call_on_loop, r);
	if (rc < 0) {
		mqb_future_unref(f);
		goto fail;
	}
	if (out)
		*out = f;
	else
		mqb_future_unref(f);
	return 0;

fail:
	json_decref(data);
	if (r)
		mqb_future_unref(r->settle);
	mqb__free(r);
	return rc;
}
