/* SPDX-License-Identifier: MIT */
/* The service registry: register, replace, remove, call; validation before
 * anything runs; the call_service event; each handler kind settling the
 * caller's future; and calls from other threads. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "lib/internal.h"
#include "mqbridge/bus.h"
#include "mqbridge/coro.h"
#include "mqbridge/error.h"
#include "mqbridge/log.h"
#include "mqbridge/services.h"

static struct mqb_core *core_new(void)
{
	struct mqb_core *core = NULL;
	assert_int_equal(mqb_core_new(NULL, &core), 0);
	return core;
}

/* A handler that remembers its call and answers with a string result. */
struct handler {
	struct mqb_core *core;
	int n;
	int status;
	char domain[80], service[80];
	json_int_t brightness;
	const char *order[8];
	int norder;
};

static int handle(void *ud, void *arg, void **result)
{
	struct handler *h = ud;
	h->n++;
	snprintf(h->domain, sizeof(h->domain), "%s", mqb_service_call_domain(arg));
	snprintf(h->service, sizeof(h->service), "%s", mqb_service_call_service(arg));
	h->brightness = json_integer_value(json_object_get(mqb_service_call_data(arg), "brightness"));
	if (h->norder < 8)
		h->order[h->norder++] = "handler";
	*result = strdup("done");
	return h->status;
}

static struct mqb_job handler_job(enum mqb_job_kind kind, struct handler *h)
{
	struct mqb_job job = MQB_JOB(kind, handle, h);
	job.result_free = free;
	return job;
}

/* Events on the bus, in order. */
struct events {
	struct handler *h; /* to interleave with the handler's record */
	int n;
	char type[8][32];
	json_t *data[8];
};

static int record_event(void *ud, void *arg, void **result)
{
	struct events *e = ud;
	if (e->n < 8) {
		snprintf(e->type[e->n], sizeof(e->type[0]), "%s", mqb_event_type(arg));
		e->data[e->n] = json_deep_copy(mqb_event_data(arg));
		e->n++;
	}
	if (e->h && e->h->norder < 8)
		e->h->order[e->h->norder++] = "event";
	return 0;
}

static void events_clear(struct events *e)
{
	for (int i = 0; i < e->n && i < 8; i++)
		json_decref(e->data[i]);
	e->n = 0;
}

static void a_registered_service_is_called_with_its_data(void **unused)
{
	struct mqb_core *core = core_new();
	struct handler h = { .core = core };
	struct mqb_job job = handler_job(MQB_JOB_CALLBACK, &h);
	assert_int_equal(mqb_services_async_register(core, "light", "turn_on", &job, NULL, NULL), 0);
	assert_true(mqb_services_async_has(core, "light", "turn_on"));
	assert_false(mqb_services_async_has(core, "light", "turn_off"));

	struct mqb_future *f = NULL;
	assert_int_equal(mqb_services_async_call(core, "light", "turn_on",
						 json_pack("{s:i}", "brightness", 128), &f), 0);
	/* A CALLBACK handler has run before the call returns. */
	assert_int_equal(h.n, 1);
	assert_string_equal(h.domain, "light");
	assert_string_equal(h.service, "turn_on");
	assert_int_equal(h.brightness, 128);
	assert_non_null(f);
	assert_true(mqb_future_done(f));
	assert_int_equal(mqb_future_status(f), 0);
	assert_string_equal(mqb_future_value(f), "done");
	mqb_future_unref(f);
	/* Without data, and without wanting the future. */
	assert_int_equal(mqb_services_async_call(core, "light", "turn_on", NULL, NULL), 0);
	assert_int_equal(h.n, 2);
	mqb_core_free(core);
}

static void registering_again_replaces_the_handler_and_announces_it(void **unused)
{
	struct mqb_core *core = core_new();
	struct events ev = { 0 };
	struct mqb_job lj = MQB_CALLBACK(record_event, &ev);
	assert_int_equal(mqb_bus_async_listen(core, MQB_EVENT_SERVICE_REGISTERED, &lj, NULL), 0);
	struct handler h1 = { .core = core }, h2 = { .core = core };
	struct mqb_job j1 = handler_job(MQB_JOB_CALLBACK, &h1), j2 = handler_job(MQB_JOB_CALLBACK, &h2);
	assert_int_equal(mqb_services_async_register(core, "switch", "toggle", &j1, NULL, NULL), 0);
	assert_int_equal(mqb_services_async_register(core, "switch", "toggle", &j2, NULL, NULL), 0);
	assert_int_equal(mqb_services_async_call(core, "switch", "toggle", NULL, NULL), 0);
	assert_int_equal(h1.n, 0);
	assert_int_equal(h2.n, 1);
	assert_int_equal(ev.n, 2);
	for (int i = 0; i < 2; i++) {
		assert_string_equal(ev.type[i], "service_registered");
		assert_int_equal(json_object_size(ev.data[i]), 2);
		assert_string_equal(json_string_value(json_object_get(ev.data[i], "domain")), "switch");
		assert_string_equal(json_string_value(json_object_get(ev.data[i], "service")), "toggle");
	}
	mqb_core_free(core);
	events_clear(&ev); /* after the core: "*" listeners also get mqbridge_stop */
}

static void a_removed_service_is_not_found(void **unused)
{
	struct mqb_core *core = core_new();
	struct events ev = { 0 };
	struct mqb_job lj = MQB_CALLBACK(record_event, &ev);
	assert_int_equal(mqb_bus_async_listen(core, MQB_EVENT_SERVICE_REMOVED, &lj, NULL), 0);
	struct handler h = { .core = core };
	struct mqb_job job = handler_job(MQB_JOB_CALLBACK, &h);
	assert_int_equal(mqb_services_async_register(core, "script", "run", &job, NULL, NULL), 0);
	assert_int_equal(mqb_services_async_remove(core, "script", "run"), 0);
	assert_false(mqb_services_async_has(core, "script", "run"));
	assert_int_equal(mqb_services_async_remove(core, "script", "run"), -MQB_E_NOTFOUND);
	struct mqb_future *f = (struct mqb_future *)&h;
	assert_int_equal(mqb_services_async_call(core, "script", "run", json_object(), &f),
			 -MQB_E_NOTFOUND);
	assert_null(f);
	assert_int_equal(h.n, 0);
	assert_int_equal(ev.n, 1);
	assert_string_equal(ev.type[0], "service_removed");
	assert_string_equal(json_string_value(json_object_get(ev.data[0], "service")), "run");
	mqb_core_free(core);
	events_clear(&ev); /* after the core: "*" listeners also get mqbridge_stop */
}

static void calling_an_unknown_service_runs_nothing(void **unused)
{
	struct mqb_core *core = core_new();
	struct events ev = { 0 };
	struct mqb_job lj = MQB_CALLBACK(record_event, &ev);
	assert_int_equal(mqb_bus_async_listen(core, MQB_EVENT_CALL_SERVICE, &lj, NULL), 0);
	assert_int_equal(mqb_services_async_call(core, "light", "turn_on", NULL, NULL),
			 -MQB_E_NOTFOUND);
	assert_int_equal(ev.n, 0);
	mqb_core_free(core);
}

/* ---- validation ---- */

static int need_brightness(void *ud, const json_t *data, char *msg, size_t msglen)
{
	(*(int *)ud)++;
	if (json_is_integer(json_object_get(data, "brightness")))
		return 0;
	snprintf(msg, msglen, "brightness is required");
	return -EINVAL;
}

struct captured_log {
	int n;
	char line[256];
	enum mqb_log_level level;
};

static void capture_log(void *ud, enum mqb_log_level level, const char *subsystem,
			const char *line)
{
	struct captured_log *c = ud;
	if (strcmp(subsystem, "services") != 0)
		return;
	c->n++;
	c->level = level;
	snprintf(c->line, sizeof(c->line), "%s", line);
}

static void a_validator_rejection_is_logged_and_nothing_fires_or_runs(void **unused)
{
	struct mqb_core *core = core_new();
	struct events ev = { 0 };
	struct mqb_job lj = MQB_CALLBACK(record_event, &ev);
	assert_int_equal(mqb_bus_async_listen(core, MQB_MATCH_ALL, &lj, NULL), 0);
	struct handler h = { .core = core };
	int validated = 0;
	struct mqb_job job = handler_job(MQB_JOB_CALLBACK, &h);
	assert_int_equal(mqb_services_async_register(core, "light", "turn_on", &job,
						     need_brightness, &validated), 0);
	events_clear(&ev);

	struct captured_log log = { 0 };
	mqb_log_set_sink(capture_log, &log);
	struct mqb_future *f = NULL;
	int rc = mqb_services_async_call(core, "light", "turn_on", json_pack("{s:s}", "x", "y"), &f);
	mqb_log_set_sink(NULL, NULL);
	assert_int_equal(rc, -EINVAL);
	assert_null(f);
	assert_int_equal(validated, 1);
	assert_int_equal(h.n, 0);
	assert_int_equal(ev.n, 0);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.level, MQB_LOG_WARNING);
	assert_string_equal(log.line, "light.turn_on: brightness is required");

	/* Valid data passes the same validator. */
	assert_int_equal(mqb_services_async_call(core, "light", "turn_on",
						 json_pack("{s:i}", "brightness", 1), NULL), 0);
	assert_int_equal(validated, 2);
	assert_int_equal(h.n, 1);
	/* Data that is not an object never reaches the validator. */
	assert_int_equal(mqb_services_async_call(core, "light", "turn_on", json_array(), NULL),
			 -EINVAL);
	assert_int_equal(validated, 2);
	mqb_core_free(core);
	events_clear(&ev); /* after the core: "*" listeners also get mqbridge_stop */
}

static void call_service_is_fired_with_the_data_before_the_handler_runs(void **unused)
{
	struct mqb_core *core = core_new();
	struct handler h = { .core = core };
	struct events ev = { .h = &h };
	struct mqb_job lj = MQB_CALLBACK(record_event, &ev);
	assert_int_equal(mqb_bus_async_listen(core, MQB_EVENT_CALL_SERVICE, &lj, NULL), 0);
	struct mqb_job job = handler_job(MQB_JOB_CALLBACK, &h);
	assert_int_equal(mqb_services_async_register(core, "light", "turn_on", &job, NULL, NULL), 0);
	assert_int_equal(mqb_services_async_call(core, "light", "turn_on",
						 json_pack("{s:i,s:s}", "brightness", 50, "entity_id",
							   "light.kitchen"), NULL), 0);
	assert_int_equal(ev.n, 1);
	assert_string_equal(ev.type[0], "call_service");
	json_t *d = ev.data[0];
	assert_int_equal(json_object_size(d), 3);
	assert_string_equal(json_string_value(json_object_get(d, "domain")), "light");
	assert_string_equal(json_string_value(json_object_get(d, "service")), "turn_on");
	json_t *want = json_pack("{s:i,s:s}", "brightness", 50, "entity_id", "light.kitchen");
	assert_true(json_equal(json_object_get(d, "service_data"), want));
	json_decref(want);
	assert_int_equal(h.norder, 2);
	assert_string_equal(h.order[0], "event");
	assert_string_equal(h.order[1], "handler");
	mqb_core_free(core);
	events_clear(&ev); /* after the core: "*" listeners also get mqbridge_stop */
}

/* ---- names ---- */

#define N64 "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"

static void names_are_lowercased_and_checked(void **unused)
{
	struct mqb_core *core = core_new();
	struct handler h = { .core = core };
	struct mqb_job job = handler_job(MQB_JOB_CALLBACK, &h);
	assert_int_equal(mqb_services_async_register(core, "Light", "Turn_On", &job, NULL, NULL), 0);
	assert_true(mqb_services_async_has(core, "light", "turn_on"));
	assert_int_equal(mqb_services_async_call(core, "LIGHT", "TURN_ON", NULL, NULL), 0);
	assert_string_equal(h.domain, "light");
	assert_string_equal(h.service, "turn_on");
	assert_int_equal(mqb_services_async_register(core, N64, N64, &job, NULL, NULL), 0);
	assert_int_equal(mqb_services_async_call(core, N64, N64, NULL, NULL), 0);
	assert_int_equal(h.n, 2);

	const char *bad[] = { "", N64 "n", "li-ght", "light.x", "l ight", "l\xc3\xa4", NULL };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("bad name %zu\n", i);
		assert_int_equal(mqb_services_async_register(core, bad[i], "x", &job, NULL, NULL),
				 -EINVAL);
		assert_int_equal(mqb_services_async_register(core, "x", bad[i], &job, NULL, NULL),
				 -EINVAL);
		assert_int_equal(mqb_services_async_call(core, bad[i], "x", NULL, NULL), -EINVAL);
		assert_int_equal(mqb_services_async_remove(core, "x", bad[i]), -EINVAL);
		assert_false(mqb_services_async_has(core, bad[i], "x"));
	}
	assert_int_equal(mqb_services_async_register(core, "a", "b", NULL, NULL, NULL), -EINVAL);
	mqb_core_free(core);
}

/* ---- handler kinds and other threads ---- */

static int coro_handle(void *ud, void *arg, void **result)
{
	struct handler *h = ud;
	/* Suspend once, so the call is settled by a coroutine resumed later. */
	int rc = mqb_async_sleep_await(h->core, 0);
	if (rc < 0)
		return rc;
	if (!mqb_in_coroutine())
		return -EPERM;
	return handle(ud, arg, result);
}

static int executor_handle(void *ud, void *arg, void **result)
{
	struct handler *h = ud;
	if (mqb_core_in_loop_thread(h->core))
		return -EPERM;
	return handle(ud, arg, result);
}

struct async_call {
	struct mqb_core *core;
	const char *service;
	int rc;
	struct mqb_future *f;
};

static void call_on_loop(void *arg)
{
	struct async_call *a = arg;
	a->rc = mqb_services_async_call(a->core, "test", a->service, NULL, &a->f);
}

static void each_handler_kind_settles_the_future_with_its_status_and_result(void **unused)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct handler h[3];
	const char *names[3] = { "callback", "coroutine", "executor" };
	struct mqb_job jobs[3];
	for (int i = 0; i < 3; i++)
		h[i] = (struct handler){ .core = t.core };
	jobs[0] = handler_job(MQB_JOB_CALLBACK, &h[0]);
	jobs[1] = (struct mqb_job){ .kind = MQB_JOB_COROUTINE, .fn = coro_handle, .ud = &h[1],
				    .name = "coro_handle", .result_free = free };
	jobs[2] = (struct mqb_job){ .kind = MQB_JOB_EXECUTOR, .fn = executor_handle, .ud = &h[2],
				    .name = "executor_handle", .result_free = free };
	for (int i = 0; i < 3; i++)
		assert_int_equal(mqb_services_register(t.core, "test", names[i], &jobs[i], NULL,
						       NULL), 0);

	for (int status = 0; status >= -EIO; status -= EIO) {
		for (int i = 0; i < 3; i++) {
			print_message("%s handler, status %d\n", names[i], status);
			h[i].status = status;
			/* From the loop: the job's own future. */
			struct async_call a = { t.core, names[i], -1, NULL };
			tu_on_loop(&t, call_on_loop, &a);
			assert_int_equal(a.rc, 0);
			void *value = NULL;
			assert_int_equal(mqb_future_result(a.f, TU_TIMEOUT, &value), status);
			assert_non_null(value);
			assert_string_equal(value, "done");
			mqb_future_unref(a.f);

			/* From this thread: the thread-safe flavour's future. */
			struct mqb_future *f = NULL;
			assert_int_equal(mqb_services_call(t.core, "test", names[i],
							   json_pack("{s:i}", "brightness", i), &f), 0);
			assert_non_null(f);
			value = NULL;
			assert_int_equal(mqb_future_result(f, TU_TIMEOUT, &value), status);
			assert_non_null(value);
			assert_string_equal(value, "done");
			assert_int_equal(h[i].brightness, i);
			mqb_future_unref(f);
		}
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(h[i].n, 4);
	tu_loop_stop(&t);
}

static void a_thread_safe_call_settles_its_future_with_errors_found_on_the_loop(void **unused)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct handler h = { .core = t.core };
	int validated = 0;
	struct mqb_job job = handler_job(MQB_JOB_EXECUTOR, &h);
	assert_int_equal(mqb_services_register(t.core, "light", "turn_on", &job, need_brightness,
					       &validated), 0);
	struct mqb_future *f = NULL;
	assert_int_equal(mqb_services_call(t.core, "light", "turn_off", NULL, &f), 0);
	assert_int_equal(mqb_future_result(f, TU_TIMEOUT, NULL), -MQB_E_NOTFOUND);
	mqb_future_unref(f);
	mqb_log_set_level(MQB_LOG_ERROR); /* the rejection below is expected */
	assert_int_equal(mqb_services_call(t.core, "light", "turn_on", NULL, &f), 0);
	assert_int_equal(mqb_future_result(f, TU_TIMEOUT, NULL), -EINVAL);
	mqb_log_set_level(MQB_LOG_INFO);
	mqb_future_unref(f);
	assert_int_equal(validated, 1);
	assert_int_equal(h.n, 0);
	/* Bad names and data are refused at once, with no future. */
	f = NULL;
	assert_int_equal(mqb_services_call(t.core, "li-ght", "turn_on", NULL, &f), -EINVAL);
	assert_int_equal(mqb_services_call(t.core, "light", "turn_on", json_string("x"), &f),
			 -EINVAL);
	assert_null(f);
	/* Nobody has to take the future. */
	assert_int_equal(mqb_services_call(t.core, "light", "turn_on",
					   json_pack("{s:i}", "brightness", 3), NULL), 0);
	tu_loop_stop(&t);
}

struct register_on_loop {
	struct mqb_core *core;
	int rc;
};

static void register_blocking_on_loop(void *arg)
{
	struct register_on_loop *r = arg;
	struct mqb_job job = MQB_CALLBACK(handle, NULL);
	r->rc = mqb_services_register(r->core, "a", "b", &job, NULL, NULL);
}

static void blocking_register_on_the_loop_thread_returns_edeadlk(void **unused)
{
	struct tu_loop t;
	tu_loop_start(&t, NULL);
	struct register_on_loop r = { t.core, 0 };
	tu_on_loop(&t, register_blocking_on_loop, &r);
	assert_int_equal(r.rc, -EDEADLK);
	tu_loop_stop(&t);
}


/* ---- response data ---- */

/* Answers {"asked": <return_response>} when asked. */
static int respond(void *ud, void *arg, void **result)
{
	int *n = ud;
	(*n)++;
	*result = json_pack("{s:b}", "asked", mqb_service_call_return_response(arg));
	return 0;
}

/* Home Assistant's SupportsResponse (tests/test_core.py::
 * test_serviceregistry_async_return_response, ::
 * test_serviceregistry_return_response_arguments and ::
 * test_serviceregistry_return_response_optional): a response when asked,
 * refusals before anything runs when the caller and the service disagree,
 * with the reason where the caller wants it. */
static void a_service_answers_when_asked_and_refuses_what_it_cannot(void **unused)
{
	struct mqb_core *core = core_new();
	int n = 0;
	struct mqb_job job = MQB_CALLBACK(respond, &n);
	assert_int_equal(mqb_services_async_register_response(core, "t", "optional", &job, NULL, NULL,
							      MQB_SERVICE_RESPONSE_OPTIONAL), 0);
	assert_int_equal(mqb_services_async_register_response(core, "t", "only", &job, NULL, NULL,
							      MQB_SERVICE_RESPONSE_ONLY), 0);
	assert_int_equal(mqb_services_async_register(core, "t", "none", &job, NULL, NULL), 0);
	assert_int_equal(mqb_services_async_supports_response(core, "t", "optional"),
			 MQB_SERVICE_RESPONSE_OPTIONAL);
	assert_int_equal(mqb_services_async_supports_response(core, "t", "none"),
			 MQB_SERVICE_RESPONSE_NONE);
	assert_int_equal(mqb_services_async_supports_response(core, "t", "nope"), -MQB_E_NOTFOUND);

	char msg[128] = "";
	struct mqb_service_call_options opt = { .return_response = true, .errmsg = msg,
						.errlen = sizeof msg };
	struct mqb_future *f = NULL;
	assert_int_equal(mqb_services_async_call_opt(core, "t", "optional", NULL, &opt, &f), 0);
	assert_int_equal(mqb_future_status(f), 0);
	json_t *r = mqb_future_value(f);
	assert_true(json_is_true(json_object_get(r, "asked")));
	mqb_future_unref(f);
	assert_int_equal(mqb_services_async_call_opt(core, "t", "only", NULL, &opt, &f), 0);
	mqb_future_unref(f);

	assert_int_equal(mqb_services_async_call_opt(core, "t", "none", NULL, &opt, &f), -EINVAL);
	assert_null(f);
	assert_string_equal(msg, "An action which does not return responses can't be called with "
				 "return_response=True");
	opt.return_response = false;
	assert_int_equal(mqb_services_async_call_opt(core, "t", "only", NULL, &opt, &f), -EINVAL);
	assert_string_equal(msg, "The action requires responses and must be called with "
				 "return_response=True");
	assert_int_equal(mqb_services_async_call_opt(core, "t", "nope", NULL, &opt, &f),
			 -MQB_E_NOTFOUND);
	/* not asked: the handler knows, and the plain call is the same */
	assert_int_equal(mqb_services_async_call(core, "t", "optional", NULL, &f), 0);
	assert_true(json_is_false(json_object_get(mqb_future_value(f), "asked")));
	mqb_future_unref(f);
	assert_int_equal(n, 3);
	mqb_core_free(core);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(a_registered_service_is_called_with_its_data),
	cmocka_unit_test(registering_again_replaces_the_handler_and_announces_it),
	cmocka_unit_test(a_removed_service_is_not_found),
	cmocka_unit_test(calling_an_unknown_service_runs_nothing),
	cmocka_unit_test(a_validator_rejection_is_logged_and_nothing_fires_or_runs),
	cmocka_unit_test(call_service_is_fired_with_the_data_before_the_handler_runs),
	cmocka_unit_test(names_are_lowercased_and_checked),
	cmocka_unit_test(each_handler_kind_settles_the_future_with_its_status_and_result),
	cmocka_unit_test(a_thread_safe_call_settles_its_future_with_errors_found_on_the_loop),
	cmocka_unit_test(blocking_register_on_the_loop_thread_returns_edeadlk),
	cmocka_unit_test(a_service_answers_when_asked_and_refuses_what_it_cannot),
};

TU_MAIN(tests)
