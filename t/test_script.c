/* SPDX-License-Identifier: MIT */
/* The script engine (mqbridge/script.h, src/ha/script_*.c) against Home
 * Assistant's tests: tests/helpers/test_script.py unless a case names
 * another file, with the vectors of the research spec's §8. Each case is a
 * coroutine on a core whose loop runs on this thread; time passes on the
 * fake clock (timer__advance), never by sleeping. */
#include "config.h"

#include <errno.h>
#include <math.h>

#include "testutil.h"
#include "config/load.h"
#include "core/loop.h"
#include "lib/internal.h"
#include "mqbridge/bus.h"
#include "mqbridge/coro.h"
#include "mqbridge/future.h"
#include "mqbridge/log.h"
#include "mqbridge/script.h"
#include "mqbridge/services.h"
#include "mqbridge/states.h"
#include "mqbridge/timer.h"

/* ---- the fixture ------------------------------------------------------------------ */

struct sx {
	struct mqb_core *core;
	struct mqb_conf_doc *doc;
	struct mqb_script *s;
	struct mqb_script_variables *vars;
	json_t *events;          /* [{type, data}] of test_event and friends */
	json_t *calls;           /* [{service, data}] of the test services */
	char *log;               /* every line logged, '\n' after each */
	size_t loglen;
	void (*scenario)(struct sx *x);
	int refused_level;       /* the level "Already running" was logged at */
	int slow_calls;          /* test.slow calls running */
	int slow_cancelled;
};

static struct sx *X; /* the one running: log sink and handlers reach it */

static void sink(void *ud, enum mqb_log_level level, const char *sub, const char *line)
{
	struct sx *x = ud;
	size_t n = strlen(line);
	if (getenv("TEST_SCRIPT_LOG"))
		fprintf(stderr, "%s\n", line);
	if (strstr(line, "Already running"))
		x->refused_level = (int)level;
	char *p = realloc(x->log, x->loglen + n + 2);
	if (!p)
		return;
	x->log = p;
	memcpy(p + x->loglen, line, n);
	x->loglen += n;
	p[x->loglen++] = '\n';
	p[x->loglen] = '\0';
}

static int record_event(void *ud, void *arg, void **result)
{
	struct sx *x = ud;
	const char *type = mqb_event_type(arg);
	if (strncmp(type, "test", 4) != 0)
		return 0;
	json_array_append_new(x->events, json_pack("{s:s,s:o}", "type", type, "data",
						   json_deep_copy(mqb_event_data(arg))));
	return 0;
}

static int record_call(void *ud, void *arg, void **result)
{
	struct sx *x = ud;
	json_array_append_new(x->calls,
			      json_pack("{s:s,s:o}", "service", mqb_service_call_service(arg), "data",
					json_deep_copy(mqb_service_call_data(arg))));
	if (strcmp(mqb_service_call_service(arg), "response") == 0 &&
	    mqb_service_call_return_response(arg))
		*result = json_pack("{s:s}", "data", "value-12345");
	if (strcmp(mqb_service_call_service(arg), "broken") == 0)
		return -EIO;
	return 0;
}

/* A handler that takes an hour (a coroutine sleeping on the real clock,
 * which no test lets pass: only a stop ends the run waiting for it). */
static int slow_call(void *ud, void *arg, void **result)
{
	struct sx *x = ud;
	x->slow_calls++;
	int rc = mqb_async_sleep_await(x->core, 3600);
	if (rc == -ECANCELED)
		x->slow_cancelled++;
	return rc;
}

static int validate_text(void *ud, const json_t *data, char *msg, size_t len)
{
	const json_t *t = json_object_get(data, "text");
	if (t && !json_is_string(t)) {
		snprintf(msg, len, "expected str for dictionary value @ data['text']");
		return -EINVAL;
	}
	return 0;
}

/* A core whose coroutines have stack bytes of stack (0: the default). */
static int setup_stack(void **state, size_t stack)
{
	struct sx *x = calloc(1, sizeof *x);
	assert_non_null(x);
	struct mqb_core_options opt;
	mqb_core_options_init(&opt);
	if (stack)
		opt.coro_stack_size = stack;
	assert_int_equal(mqb_core_new(&opt, &x->core), 0);
	x->events = json_array();
	x->calls = json_array();
	struct mqb_job ev = MQB_CALLBACK(record_event, x);
	assert_int_equal(mqb_bus_async_listen(x->core, MQB_MATCH_ALL, &ev, NULL), 0);
	struct mqb_job call = MQB_CALLBACK(record_call, x);
	const char *plain[] = { "script", "automation", "broken" };
	for (int i = 0; i < 3; i++)
		assert_int_equal(mqb_services_async_register(x->core, "test", plain[i], &call,
							     validate_text, NULL), 0);
	assert_int_equal(mqb_services_async_register_response(x->core, "test", "response", &call,
							      NULL, NULL,
							      MQB_SERVICE_RESPONSE_OPTIONAL), 0);
	assert_int_equal(mqb_services_async_register_response(x->core, "test", "only", &call, NULL,
							      NULL, MQB_SERVICE_RESPONSE_ONLY), 0);
	struct mqb_job slow = MQB_COROUTINE(slow_call, x);
	assert_int_equal(mqb_services_async_register(x->core, "test", "slow", &slow, NULL, NULL), 0);
	X = x;
	mqb_log_set_sink(sink, x);
	mqb_log_set_level(MQB_LOG_DEBUG);
	*state = x;
	return 0;
}

static int setup(void **state)
{
	return setup_stack(state, 0);
}

/* A small stack: the deepest blocks no longer fit. */
static int setup_small_stack(void **state)
{
	return setup_stack(state, 16 * 1024);
}

static int teardown(void **state)
{
	struct sx *x = *state;
	mqb_log_set_sink(NULL, NULL);
	mqb_log_set_level(MQB_LOG_INFO);
	mqb_core_free(x->core);
	mqb_script_free(x->s);
	mqb_script_variables_free(x->vars);
	mqb_conf_doc_free(x->doc);
	json_decref(x->events);
	json_decref(x->calls);
	free(x->log);
	free(x);
	X = NULL;
	return 0;
}

/* Compile "sequence:" of yaml with options; fails the test on errors. */
static void compile_opt(struct sx *x, const char *yaml, const struct mqb_script_options *opt)
{
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	mqb_script_free(x->s);
	x->s = NULL;
	mqb_conf_doc_free(x->doc);
	x->doc = NULL;
	struct mqb_script_options o = { .name = "Test Name" };
	if (opt)
		o = *opt;
	if (conf__load_string("t.yaml", NULL, yaml, strlen(yaml), NULL, &x->doc, &errs) ||
	    mqb_script_compile(mqb_conf_get(mqb_conf_root(x->doc), "sequence"), "script.test.sequence",
			       &o, &errs, &x->s)) {
		mqb_conf_errors_print(&errs, stderr);
		fail_msg("does not compile:\n%s", yaml);
	}
	mqb_conf_errors_fini(&errs);
}

static void compile(struct sx *x, const char *yaml)
{
	compile_opt(x, yaml, NULL);
}

static void compile_mode(struct sx *x, const char *yaml, enum mqb_script_mode mode, unsigned max)
{
	struct mqb_script_options o = { .name = "Test Name", .mode = mode, .max = max };
	compile_opt(x, yaml, &o);
}

/* Compile yaml that must fail: the first error holds want, at line:column
 * (0: not checked), under path (NULL: not checked). */
static void compile_fails(const char *yaml, const char *want, unsigned line, unsigned column,
			  const char *path)
{
	struct mqb_conf_errors errs;
	struct mqb_conf_doc *doc = NULL;
	struct mqb_script *s = NULL;
	mqb_conf_errors_init(&errs);
	assert_int_equal(conf__load_string("t.yaml", NULL, yaml, strlen(yaml), NULL, &doc, &errs), 0);
	size_t n = mqb_script_compile(mqb_conf_get(mqb_conf_root(doc), "sequence"),
				      "automation[0].action", NULL, &errs, &s);
	tu_expect_conf_error(&errs, n, want, line, column, yaml);
	assert_null(s);
	if (path)
		assert_string_equal(errs.v[0].path, path);
	mqb_conf_errors_fini(&errs);
	mqb_conf_doc_free(doc);
}

static int drive(void *ud, void *arg, void **result)
{
	struct sx *x = ud;
	x->scenario(x);
	mqb_core_async_stop(x->core, 0);
	return 0;
}

/* Run scenario as a coroutine, then shut the core down (runs still going
 * are cancelled by the shutdown, as the daemon's are). */
static void play(struct sx *x, void (*scenario)(struct sx *x))
{
	x->scenario = scenario;
	struct mqb_job job = MQB_COROUTINE(drive, x);
	assert_int_equal(mqb_async_add_job(x->core, &job, NULL, NULL, NULL), 0);
	assert_int_equal(tu_run(x->core, TU_TIMEOUT), 0);
}

static void wake(struct mqb_timer *t, void *ud)
{
	mqb_future_resolve(ud, 0, NULL, NULL);
	mqb_future_unref(ud);
}

/* Let what is queued run, a few loop iterations' worth. */
static void settle(struct sx *x)
{
	for (int i = 0; i < 4; i++) {
		struct mqb_future *f = mqb_future_new(x->core);
		assert_int_equal(mqb_async_call_later(x->core, 0, wake, mqb_future_ref(f), NULL), 0);
		assert_int_equal(mqb_await(f, NULL), 0);
		mqb_future_unref(f);
	}
}

static void advance(struct sx *x, double seconds)
{
	timer__advance(x->core, seconds);
	settle(x);
}

/* Start a run with variables (JSON text or NULL). */
static struct mqb_future *start(struct sx *x, const char *vars)
{
	struct mqb_future *f = NULL;
	json_t *v = vars ? json_loads(vars, 0, NULL) : NULL;
	if (vars)
		assert_non_null(v);
	assert_int_equal(mqb_script_async_run(x->core, x->s, v, &f), 0);
	return f;
}

/* Run to the end: the run's status, and its response in *resp (a new
 * reference, when asked). */
static int run_to_end(struct sx *x, const char *vars, json_t **resp)
{
	struct mqb_future *f = start(x, vars);
	void *v = NULL;
	int rc = mqb_await(f, &v);
	if (resp)
		*resp = v ? json_incref(v) : NULL;
	mqb_future_unref(f);
	return rc;
}

static size_t nevents(struct sx *x)
{
	return json_array_size(x->events);
}

static const json_t *event_data(struct sx *x, size_t i)
{
	return json_object_get(json_array_get(x->events, i), "data");
}

static const json_t *call_data(struct sx *x, size_t i)
{
	return json_object_get(json_array_get(x->calls, i), "data");
}

/* The event's (or call's) data as compact JSON, sorted keys, to compare. */
static void expect_json(const json_t *got, const char *want)
{
	json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
	assert_non_null(w);
	if (!json_equal(got, w)) {
		char *g = json_dumps(got, JSON_ENCODE_ANY | JSON_SORT_KEYS);
		fail_msg("got %s, want %s", g ? g : "NULL", want);
	}
	json_decref(w);
}

static size_t count_in_log(struct sx *x, const char *s)
{
	size_t n = 0;
	for (const char *p = x->log; p && (p = strstr(p, s)); p += strlen(s))
		n++;
	return n;
}

static void expect_log(struct sx *x, const char *s)
{
	if (!count_in_log(x, s))
		fail_msg("the log lacks '%s':\n%s", s, x->log ? x->log : "");
}

/* ---- events and service calls ------------------------------------------------------- */

static void sc_event_basic(struct sx *x)
{
	compile(x, "sequence:\n  alias: event step\n  event: test_event\n  event_data: {hello: world}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 1);
	expect_json(event_data(x, 0), "{\"hello\": \"world\"}");
	expect_log(x, "Test Name: Running script sequence");
	expect_log(x, "Test Name: sequence[0]: Executing step event step");
}

/* ::test_firing_event_basic */
static void an_event_step_fires_its_event(void **state)
{
	play(*state, sc_event_basic);
}

static void sc_event_template(struct sx *x)
{
	compile(x, "sequence:\n"
		   "  - event: test_event\n"
		   "    event_data:\n"
		   "      dict: {1: '{{ is_world }}', 2: '{{ is_world }}{{ is_world }}', 3: '{{ is_world }}{{ is_world }}{{ is_world }}'}\n"
		   "      list: ['{{ is_world }}', '{{ is_world }}{{ is_world }}']\n"
		   "    event_data_template:\n"
		   "      dict2: {1: '{{ is_world }}'}\n"
		   "      list2: ['{{ is_world }}']\n"
		   "      number: '{{ 5 }}'\n");
	assert_int_equal(run_to_end(x, "{\"is_world\": \"yes\"}", NULL), 0);
	expect_json(event_data(x, 0),
		    "{\"dict\": {\"1\": \"yes\", \"2\": \"yesyes\", \"3\": \"yesyesyes\"},"
		    " \"list\": [\"yes\", \"yesyes\"], \"dict2\": {\"1\": \"yes\"},"
		    " \"list2\": [\"yes\"], \"number\": 5}");
}

/* ::test_firing_event_template (V1): templates anywhere, rendered to
 * native values */
static void event_data_templates_render_anywhere_inside(void **state)
{
	play(*state, sc_event_template);
}

static void sc_calls(struct sx *x)
{
	compile(x, "sequence:\n"
		   "  - alias: service step\n    action: test.script\n    data: {hello: world}\n"
		   "  - service: test.script\n    data: {hello: \"{{ 'world' }}\"}\n"
		   "  - service_template: \"{% if True %} test.script {% else %} test.automation {% endif %}\"\n"
		   "    data_template: {hello: \"{% if is_world == 'yes' %} world {% else %} not world {% endif %}\"}\n"
		   "  - action: test.script\n    data_template: {\"{{ hello_var }}\": world}\n"
		   "  - action: test.script\n    data: {brightness: 100, on: on, q: '100', t: 'on', n: ~}\n");
	assert_int_equal(run_to_end(x, "{\"is_world\": \"yes\", \"hello_var\": \"hello\"}", NULL), 0);
	assert_int_equal(json_array_size(x->calls), 5);
	for (int i = 0; i < 4; i++)
		expect_json(call_data(x, (size_t)i), "{\"hello\": \"world\"}");
	/* YAML 1.1 as PyYAML reads it, then strings as static templates */
	expect_json(call_data(x, 4), "{\"brightness\": 100, \"True\": true, \"q\": 100, \"t\": \"on\","
				     " \"n\": null}");
	expect_log(x, "Executing step service step");
}

/* ::test_calling_service_basic, ::test_calling_service_backwards_compatible,
 * ::test_calling_service_template, ::test_data_template_with_templated_key */
static void service_calls_render_their_name_and_data(void **state)
{
	play(*state, sc_calls);
}

static void sc_target(struct sx *x)
{
	compile(x, "sequence:\n"
		   "  - action: test.script\n    entity_id: hello.world\n"
		   "    data: {event: '{{ ev }}'}\n"
		   "  - action: test.script\n    entity_id: [hello.world, hello.World2]\n"
		   "  - action: test.script\n    target: {entity_id: \"{{ 'a.b, c.d' }}\", area_id: kitchen}\n"
		   "  - action: test.script\n    target: {entity_id: x.y}\n    entity_id: z.w\n"
		   "  - action: test.script\n    target: \"{{ {'entity_id': 'light.' ~ which} }}\"\n");
	assert_int_equal(run_to_end(x, "{\"ev\": \"test_event\", \"which\": \"porch\"}", NULL), 0);
	expect_json(call_data(x, 0), "{\"entity_id\": [\"hello.world\"], \"event\": \"test_event\"}");
	expect_json(call_data(x, 1), "{\"entity_id\": [\"hello.world\", \"hello.world2\"]}");
	expect_json(call_data(x, 2), "{\"entity_id\": [\"a.b\", \"c.d\"], \"area_id\": \"kitchen\"}");
	expect_json(call_data(x, 3), "{\"entity_id\": [\"z.w\"]}");
	expect_json(call_data(x, 4), "{\"entity_id\": [\"light.porch\"]}");
}

static void sc_device(struct sx *x)
{
	struct mqb_job call = MQB_CALLBACK(record_call, x);
	assert_int_equal(mqb_services_async_register(x->core, "light", "turn_on", &call, NULL, NULL),
			 0);
	assert_int_equal(mqb_services_async_register(x->core, "switch", "toggle", &call, NULL, NULL),
			 0);
	compile(x, "sequence:\n"
		   "  - {device_id: abc, domain: light, entity_id: light.desk, type: brightness_increase}\n"
		   "  - {device_id: abc, domain: light, entity_id: light.desk, type: brightness_decrease}\n"
		   "  - {device_id: abc, domain: light, entity_id: light.desk, type: turn_on,\n"
		   "     brightness_pct: 40}\n"
		   "  - {device_id: abc, domain: light, entity_id: light.desk, type: flash}\n"
		   "  - {device_id: abc, domain: light, entity_id: light.desk, type: flash, flash: long}\n"
		   "  - {device_id: def, domain: switch, entity_id: switch.tree, type: toggle}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(json_array_size(x->calls), 6);
	expect_json(call_data(x, 0), "{\"entity_id\": [\"light.desk\"], \"brightness_step_pct\": 10}");
	expect_json(call_data(x, 1), "{\"entity_id\": [\"light.desk\"], \"brightness_step_pct\": -10}");
	expect_json(call_data(x, 2), "{\"entity_id\": [\"light.desk\"], \"brightness_pct\": 40}");
	expect_json(call_data(x, 3), "{\"entity_id\": [\"light.desk\"], \"flash\": \"short\"}");
	expect_json(call_data(x, 4), "{\"entity_id\": [\"light.desk\"], \"flash\": \"long\"}");
	assert_string_equal(json_string_value(json_object_get(json_array_get(x->calls, 5),
							      "service")), "toggle");
	expect_json(call_data(x, 5), "{\"entity_id\": [\"switch.tree\"]}");
	/* another integration's: kept, and it fails when a run reaches it */
	json_array_clear(x->calls);
	compile(x, "sequence:\n"
		   "  - {device_id: abc, domain: mobile_app, type: notify, message: hi,\n"
		   "     continue_on_error: true}\n"
		   "  - {device_id: def, domain: switch, entity_id: switch.tree, type: toggle}\n"
		   "  - {device_id: abc, domain: zha, type: issue_zigbee_command}\n"
		   "  - {device_id: def, domain: switch, entity_id: switch.tree, type: toggle}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), -ENOTSUP);
	assert_int_equal(json_array_size(x->calls), 1);
	expect_log(x, "the device action notify of mobile_app cannot run here: mqbridge does not "
		      "have Home Assistant's mobile_app integration");
	expect_log(x, "the device action issue_zigbee_command of zha cannot run here");
}

/* Device actions of entities that turn on and off, as Home Assistant's
 * UI writes them: tests/components/light/test_device_action.py
 * (test_action: turn_on, turn_off, toggle, brightness_increase,
 * brightness_decrease, flash, flash long, brightness_pct) and
 * device_automation/toggle_entity.py: a call of the entity's service. */
static void device_actions_of_toggle_entities_call_their_services(void **state)
{
	play(*state, sc_device);
}

/* tests/components/automation/test_init.py::test_service_specify_entity_id,
 * ::test_service_specify_entity_id_list, ::test_action_backward_compatibility:
 * entity ids reach the handler as a list, a top-level one wins */
static void targets_reach_the_handler_as_entity_id_lists(void **state)
{
	play(*state, sc_target);
}

static void sc_response(struct sx *x)
{
	compile(x, "sequence:\n"
		   "  - action: test.response\n    response_variable: my_response\n"
		   "  - action: test.script\n    data_template: {key: '{{ my_response.data }}'}\n"
		   "  - stop: done\n    response_variable: my_response\n");
	json_t *resp = NULL;
	assert_int_equal(run_to_end(x, NULL, &resp), 0);
	expect_json(call_data(x, 1), "{\"key\": \"value-12345\"}");
	expect_json(resp, "{\"data\": \"value-12345\"}");
	json_decref(resp);

	/* ::test_service_response_data_errors: asking one that answers
	 * nothing, not asking one that only answers */
	compile(x, "sequence:\n  - action: test.script\n    response_variable: r\n"
		   "  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), -EINVAL);
	expect_log(x, "Script does not support 'response_variable' for service 'test.script' which "
		      "does not support response data.");
	compile(x, "sequence:\n  - action: test.only\n");
	assert_int_equal(run_to_end(x, NULL, NULL), -EINVAL);
	expect_log(x, "Script requires 'response_variable' for response data for service call "
		      "test.only");
	assert_int_equal(nevents(x), 0);
}

/* ::test_calling_service_response_data (V2), ::test_service_response_data_errors,
 * ::test_stop_action_response_variables */
static void a_response_variable_takes_what_the_service_answers(void **state)
{
	play(*state, sc_response);
}

static void sc_propagate(struct sx *x)
{
	compile(x, "sequence:\n  - action: test.nope\n  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), -MQB_E_NOTFOUND);
	expect_log(x, "Test Name: sequence[0]: Error executing script. Service not found for "
		      "call_service: Action test.nope not found");
	compile(x, "sequence:\n  - action: test.script\n    data: {text: 1}\n  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), -EINVAL);
	expect_log(x, "Invalid data for call_service: expected str for dictionary value @ data['text']");
	compile(x, "sequence:\n  - action: test.broken\n  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), -EIO);
	compile(x, "sequence:\n  - action: test.script\n    data: 100\n  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), -EINVAL);
	expect_log(x, "Error rendering data template: Result is not a Dictionary");
	assert_int_equal(nevents(x), 0);
	/* only test.broken's handler ran */
	assert_int_equal(json_array_size(x->calls), 1);
}

/* ::test_propagate_error_service_not_found, ::test_propagate_error_invalid_service_data,
 * ::test_propagate_error_service_exception; tests/components/automation/
 * test_init.py::test_service_data_not_a_dict: the run ends with the error */
static void a_failing_call_ends_the_run_with_its_error(void **state)
{
	play(*state, sc_propagate);
}

static void sc_continue(struct sx *x)
{
	compile(x, "sequence:\n"
		   "  - event: test_event\n"
		   "  - continue_on_error: true\n    action: test.broken\n"
		   "  - event: test_event\n"
		   "  - continue_on_error: false\n    action: test.broken\n"
		   "  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), -EIO);
	assert_int_equal(nevents(x), 2);
	/* logged even when continued past */
	assert_int_equal(count_in_log(x, "Error executing script"), 2);
	/* ::test_continue_on_error_automation_issue: not past an unknown service */
	compile(x, "sequence:\n  - continue_on_error: true\n    action: service.not_found\n"
		   "  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), -MQB_E_NOTFOUND);
	/* nor invalid data, nor a template error of a variables step */
	compile(x, "sequence:\n  - continue_on_error: true\n    action: test.script\n"
		   "    data: {text: 1}\n  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), -EINVAL);
	compile(x, "sequence:\n  - continue_on_error: true\n    variables: {a: '{{ 1 / 0 }}'}\n"
		   "  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), -EINVAL);
	/* but past a data template that renders no dictionary */
	compile(x, "sequence:\n  - continue_on_error: true\n    action: test.script\n"
		   "    data: '{{ 5 }}'\n  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 3);
	/* ::test_continue_on_error_with_stop: stop stops */
	compile(x, "sequence:\n  - continue_on_error: true\n    stop: Stop it!\n"
		   "  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 3);
	/* on a block: errors out of the whole block */
	compile(x, "sequence:\n  - continue_on_error: true\n    sequence:\n"
		   "      - action: test.broken\n      - event: test_event\n"
		   "  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 4);
}

/* ::test_continue_on_error (V20), ::test_continue_on_error_automation_issue,
 * ::test_continue_on_error_with_stop */
static void continue_on_error_goes_past_only_an_actions_own_failure(void **state)
{
	play(*state, sc_continue);
}

static void collect_service(void *ud, const char *domain, const char *service, const char *path)
{
	json_array_append_new(ud, json_sprintf("%s.%s @ %s", domain, service, path));
}

static void sc_error_path(struct sx *x)
{
	struct mqb_script_options o = { .name = "automation.porch" };
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	const char *yaml = "action:\n"
			   "  - event: test_event\n"
			   "  - variables: {a: 1}\n"
			   "  - choose:\n"
			   "      - conditions: \"{{ true }}\"\n"
			   "        sequence:\n"
			   "          - event: test_event\n"
			   "          - action: light.nowhere\n";
	assert_int_equal(conf__load_string("t.yaml", NULL, yaml, strlen(yaml), NULL, &x->doc, &errs),
			 0);
	assert_int_equal(mqb_script_compile(mqb_conf_get(mqb_conf_root(x->doc), "action"),
					    "automation[0].action", &o, &errs, &x->s),
			 0);
	mqb_conf_errors_fini(&errs);
	assert_int_equal(run_to_end(x, NULL, NULL), -MQB_E_NOTFOUND);
	/* once, with the automation's name and the action's path */
	assert_int_equal(count_in_log(x, "light.nowhere not found"), 1);
	expect_log(x, "automation.porch: action[2].choose[0].sequence[1]: Error executing script. "
		      "Service not found for call_service: Action light.nowhere not found");
	expect_log(x, "automation.porch: Running automation actions");
	/* what the start-up warning about unknown services walks */
	json_t *list = json_array();
	mqb_script_foreach_service(x->s, collect_service, list);
	expect_json(list, "[\"light.nowhere @ action[2].choose[0].sequence[1]\"]");
	json_decref(list);
}

/* The log line: a failing action is logged once, with the path
 * from the automation's own action list */
static void a_failing_action_is_logged_once_with_its_path(void **state)
{
	play(*state, sc_error_path);
}

/* ---- delay ------------------------------------------------------------------------ */

static void sc_delay(struct sx *x)
{
	const char *forms[] = { "{seconds: 5}", "\"00:00:{{ 5 }}\"", "{seconds: \"{{ 5 }}\"}", "5",
				"'00:00:05'" };
	for (int i = 0; i < 5; i++) {
		char y[256];
		snprintf(y, sizeof y, "sequence:\n  - event: test_event\n  - delay: %s\n"
				      "  - event: test_event\n", forms[i]);
		compile(x, y);
		json_array_clear(x->events);
		struct mqb_future *f = start(x, NULL);
		settle(x);
		assert_int_equal(nevents(x), 1);
		assert_true(mqb_script_async_running(x->s));
		advance(x, 4);
		assert_int_equal(nevents(x), 1);
		advance(x, 1);
		assert_int_equal(nevents(x), 2);
		assert_false(mqb_script_async_running(x->s));
		assert_int_equal(mqb_await(f, NULL), 0);
		mqb_future_unref(f);
	}
	expect_log(x, "Executing step delay 0:00:05");
	/* ::test_empty_delay: no wait at all */
	compile(x, "sequence:\n  - delay: {seconds: 0}\n  - event: test_event\n");
	struct mqb_future *f = start(x, NULL);
	settle(x);
	assert_true(mqb_future_done(f));
	mqb_future_unref(f);
}

/* ::test_delay_basic, ::test_delay_template_ok, ::test_delay_template_complex_ok,
 * ::test_empty_delay (V3): the run waits on the fake clock */
static void a_delay_waits_on_a_timer_in_any_form(void **state)
{
	play(*state, sc_delay);
}

static void sc_delay_invalid(struct sx *x)
{
	compile(x, "sequence:\n  - event: test_event\n  - delay: '{{ invalid_delay }}'\n"
		   "  - delay: {seconds: 5}\n  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0); /* aborted, not an error */
	assert_int_equal(nevents(x), 1);
	expect_log(x, "Error rendering Test Name delay template: offset  should be format 'HH:MM', "
		      "'HH:MM:SS' or 'HH:MM:SS.F'");
	compile(x, "sequence:\n  - event: test_event\n  - delay: {seconds: '{{ invalid_delay }}'}\n"
		   "  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 2);
	expect_log(x, "expected float for dictionary value @ data['seconds']");
}

/* ::test_delay_template_invalid (V4), ::test_delay_template_complex_invalid */
static void a_delay_that_renders_badly_aborts_the_run(void **state)
{
	play(*state, sc_delay_invalid);
}

/* ---- conditions, choose, if ------------------------------------------------------ */

static void sc_condition(struct sx *x)
{
	compile(x, "sequence:\n  - event: test_event\n"
		   "  - condition: template\n    value_template: \"{{ states.test.entity.state == 'hello' }}\"\n"
		   "  - event: test_event\n");
	mqb_states_async_set(x->core, "test.entity", "hello", NULL, false);
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 2);
	mqb_states_async_set(x->core, "test.entity", "goodbye", NULL, false);
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 3);
	expect_log(x, "Test condition template: False");
	/* ::test_shorthand_template_condition and the and shorthand */
	compile(x, "sequence:\n  - condition: \"{{ states.test.entity.state == 'goodbye' }}\"\n"
		   "  - alias: shorthand and condition\n    and:\n      - \"{{ true }}\"\n"
		   "  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 4);
	expect_log(x, "Test condition shorthand and condition: True");
	/* ::test_condition_warning: an error is false, with a warning */
	compile(x, "sequence:\n  - condition: numeric_state\n    entity_id: test.entity\n"
		   "    above: 0\n  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 4);
	expect_log(x, "Error in 'condition' evaluation:\nIn 'numeric_state':\n  In 'numeric_state' "
		      "condition: entity test.entity state 'goodbye' cannot be processed as a number");
	/* ::test_condition_subscript (V9): a false condition ends its block only */
	compile(x, "sequence:\n  - event: test_event\n"
		   "  - repeat:\n      until: \"{{ 1 == 1 }}\"\n      sequence:\n"
		   "        - condition: \"{{ 1 == 2 }}\"\n"
		   "  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 6);
}

/* ::test_condition_basic, ::test_shorthand_template_condition,
 * ::test_condition_and_shorthand, ::test_condition_warning,
 * ::test_condition_subscript */
static void a_false_condition_ends_its_sequence(void **state)
{
	play(*state, sc_condition);
}

static void sc_choose(struct sx *x)
{
	compile(x, "sequence:\n"
		   "  - alias: choose step\n    choose:\n"
		   "      - alias: choice one\n"
		   "        conditions: {condition: template, value_template: \"{{ var == 1 }}\"}\n"
		   "        sequence: {alias: sequence one, event: test_event, event_data: {choice: first}}\n"
		   "      - alias: choice two\n"
		   "        conditions: \"{{ var == 2 }}\"\n"
		   "        sequence: {alias: sequence two, event: test_event, event_data: {choice: second}}\n"
		   "    default: {alias: default sequence, event: test_event, event_data: {choice: default}}\n");
	const char *want[] = { "first", "second", "default" };
	for (int v = 1; v <= 3; v++) {
		char vars[32];
		snprintf(vars, sizeof vars, "{\"var\": %d}", v);
		assert_int_equal(run_to_end(x, vars, NULL), 0);
		assert_string_equal(json_string_value(json_object_get(event_data(x, (size_t)v - 1),
								      "choice")),
				    want[v - 1]);
	}
	expect_log(x, "Executing step sequence one");
	expect_log(x, "Executing step default sequence");
	/* ::test_choose_warning: errors are warnings and not matching */
	compile(x, "sequence:\n  - choose:\n"
		   "      - conditions: {condition: numeric_state, entity_id: test.nope, above: 1}\n"
		   "        sequence: {event: test_event, event_data: {choice: first}}\n"
		   "      - conditions: {condition: numeric_state, entity_id: test.nope2, above: 1}\n"
		   "        sequence: {event: test_event, event_data: {choice: second}}\n"
		   "    default: {event: test_event, event_data: {choice: default}}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_json(event_data(x, 3), "{\"choice\": \"default\"}");
	assert_int_equal(count_in_log(x, "Error in 'choose[0]' evaluation"), 2);
}

/* ::test_choose (V14), ::test_choose_warning */
static void choose_runs_the_first_option_that_holds(void **state)
{
	play(*state, sc_choose);
}

static void sc_if(struct sx *x)
{
	compile(x, "sequence:\n  - if: {condition: template, value_template: \"{{ var == 1 }}\"}\n"
		   "    then: {alias: if then, event: test_event, event_data: {if: then}}\n"
		   "    else: {alias: if else, event: test_event, event_data: {if: else}}\n");
	assert_int_equal(run_to_end(x, "{\"var\": 1}", NULL), 0);
	assert_int_equal(run_to_end(x, "{\"var\": 2}", NULL), 0);
	expect_json(event_data(x, 0), "{\"if\": \"then\"}");
	expect_json(event_data(x, 1), "{\"if\": \"else\"}");
	/* ::test_if_disabled: a disabled condition holds */
	compile(x, "sequence:\n  - if: {condition: template, value_template: \"{{ false }}\", "
		   "enabled: false}\n    then: {event: test_event, event_data: {if: then}}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_json(event_data(x, 2), "{\"if\": \"then\"}");
	/* ::test_if_warning: an error takes else */
	compile(x, "sequence:\n  - if: {condition: numeric_state, entity_id: test.nope, above: 1}\n"
		   "    then: {event: test_event, event_data: {if: then}}\n"
		   "    else: {event: test_event, event_data: {if: else}}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_json(event_data(x, 3), "{\"if\": \"else\"}");
	assert_int_equal(count_in_log(x, "Error in 'if[0]' evaluation"), 1);
}

/* ::test_if (V15), ::test_if_disabled, ::test_if_warning */
static void if_runs_then_or_else(void **state)
{
	play(*state, sc_if);
}

/* ---- repeat ------------------------------------------------------------------------- */

static void sc_repeat_count(struct sx *x)
{
	compile(x, "sequence:\n  - alias: condition step\n    repeat:\n      count: 3\n"
		   "      sequence:\n        event: test_event\n"
		   "        event_data_template: {first: '{{ repeat.first }}', index: '{{ repeat.index }}',"
		   " last: '{{ repeat.last }}'}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 3);
	expect_json(event_data(x, 0), "{\"first\": true, \"index\": 1, \"last\": false}");
	expect_json(event_data(x, 1), "{\"first\": false, \"index\": 2, \"last\": false}");
	expect_json(event_data(x, 2), "{\"first\": false, \"index\": 3, \"last\": true}");
	assert_int_equal(count_in_log(x, "Repeating condition step: Iteration"), 3);
	/* ::test_repeat_count_0 */
	compile(x, "sequence:\n  - repeat: {count: \"{{ 0 }}\", sequence: {event: test_event}}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 3);
	/* a count that is no number aborts */
	compile(x, "sequence:\n  - repeat: {count: \"{{ 'x' }}\", sequence: {event: test_event}}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_log(x, "Error rendering Test Name repeat count template");
}

/* ::test_repeat_count (V10), ::test_repeat_count_0 */
static void repeat_count_sets_the_repeat_variable(void **state)
{
	play(*state, sc_repeat_count);
}

static void sc_repeat_for_each(struct sx *x)
{
	compile(x, "sequence:\n  - alias: For each!\n    repeat:\n"
		   "      for_each: [one, two, \"{{ 'thr' + 'ee' }}\"]\n"
		   "      sequence:\n        event: test_event\n"
		   "        event_data: {item: '{{ repeat.item }}', last: '{{ repeat.last }}'}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_json(event_data(x, 0), "{\"item\": \"one\", \"last\": false}");
	expect_json(event_data(x, 1), "{\"item\": \"two\", \"last\": false}");
	expect_json(event_data(x, 2), "{\"item\": \"three\", \"last\": true}");
	compile(x, "sequence:\n  - repeat:\n      for_each: \"{{ ['x', 'y'] }}\"\n"
		   "      sequence: {event: test_event, event_data: {item: '{{ repeat.item }}'}}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_json(event_data(x, 4), "{\"item\": \"y\"}");
	/* ::test_repeat_for_each_non_list_template, ::test_repeat_for_each_invalid_template */
	compile(x, "sequence:\n  - repeat:\n      for_each: \"{{ 'Not a list' }}\"\n"
		   "      sequence: {event: test_event}\n  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 5);
	expect_log(x, "Repeat 'for_each' must be a list of items in Test Name, got: \"Not a list\"");
}

/* ::test_repeat_for_each (V11), ::test_repeat_for_each_template,
 * ::test_repeat_for_each_non_list_template */
static void repeat_for_each_walks_its_items(void **state)
{
	play(*state, sc_repeat_for_each);
}

static void sc_repeat_cond(struct sx *x)
{
	compile(x, "sequence:\n  - repeat:\n      while: \"{{ repeat.index <= 2 }}\"\n"
		   "      sequence: {event: test_event}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 2);
	compile(x, "sequence:\n  - repeat:\n      until: \"{{ repeat.index == 2 }}\"\n"
		   "      sequence: {event: test_event}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 4);
	/* ::test_repeat_condition_warning: while stops at an error, until ends */
	compile(x, "sequence:\n  - repeat:\n      while: {condition: numeric_state, entity_id: t.nope, above: 1}\n"
		   "      sequence: {event: test_event}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 4);
	compile(x, "sequence:\n  - repeat:\n      until: {condition: numeric_state, entity_id: t.nope, above: 1}\n"
		   "      sequence: {event: test_event}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 5);
	expect_log(x, "Error in 'while[0]' evaluation");
	expect_log(x, "Error in 'until[0]' evaluation");
	/* a counter across iterations, the 2025.4 way: variables go to the top */
	compile(x, "sequence:\n  - variables: {n: 0}\n  - repeat:\n"
		   "      while: \"{{ n < 3 }}\"\n"
		   "      sequence:\n        - variables: {n: \"{{ n + 1 }}\"}\n"
		   "  - event: test_event\n    event_data: {n: '{{ n }}'}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_json(event_data(x, 5), "{\"n\": 3}");
}

/* ::test_repeat_var_in_condition (V12), ::test_repeat_condition_warning */
static void repeat_while_and_until_test_around_each_turn(void **state)
{
	play(*state, sc_repeat_cond);
}

static void sc_repeat_nested(struct sx *x)
{
	const char *out = "{event: test_event, event_data: {repeat: \"{{ None if repeat is not "
			  "defined else repeat }}\", x: \"{{ None if x is not defined else x }}\"}}";
	const char *ev = "{event: test_event, event_data: {first: '{{ repeat.first }}', "
			 "index: '{{ repeat.index }}', last: '{{ repeat.last }}', x: '{{ x }}'}}";
	char y[1200];
	snprintf(y, sizeof y,
		 "sequence:\n  - %s\n  - repeat:\n      count: 2\n      sequence:\n"
		 "        - %s\n        - repeat:\n            count: 2\n            sequence:\n"
		 "              - %s\n        - %s\n  - %s\n",
		 out, ev, ev, ev, out);
	compile(x, y);
	assert_int_equal(run_to_end(x, "{\"x\": 1}", NULL), 0);
	assert_int_equal(nevents(x), 10);
	expect_json(event_data(x, 0), "{\"repeat\": null, \"x\": 1}");
	const int want[][3] = { { 1, 1, 0 }, { 1, 1, 0 }, { 0, 2, 1 }, { 1, 1, 0 },
				{ 0, 2, 1 }, { 1, 1, 0 }, { 0, 2, 1 }, { 0, 2, 1 } };
	for (int i = 0; i < 8; i++) {
		char w[128];
		snprintf(w, sizeof w, "{\"first\": %s, \"index\": %d, \"last\": %s, \"x\": 1}",
			 want[i][0] ? "true" : "false", want[i][1], want[i][2] ? "true" : "false");
		expect_json(event_data(x, (size_t)i + 1), w);
	}
	expect_json(event_data(x, 9), "{\"repeat\": null, \"x\": 1}");
	/* without x: None everywhere */
	compile(x, y);
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_json(event_data(x, 10), "{\"repeat\": null, \"x\": null}");
}

/* ::test_repeat_nested (V13): the inner loop's repeat shadows the outer's
 * and goes with it */
static void nested_repeats_each_have_their_own_repeat(void **state)
{
	play(*state, sc_repeat_nested);
}

/* ---- scopes ----------------------------------------------------------------------------- */

static void sc_scopes(struct sx *x)
{
	compile(x, "sequence:\n  - variables: {x: 1, y: 1}\n  - alias: scope\n    sequence:\n"
		   "      - variables: {y: 3, z: 3}\n"
		   "      - action: test.script\n        data: {value: 'x={{ x }}, y={{ y }}, z={{ z }}'}\n"
		   "  - action: test.script\n    data: {value: 'x={{ x }}, y={{ y }}, z={{ z }}'}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_json(call_data(x, 0), "{\"value\": \"x=1, y=3, z=3\"}");
	expect_json(call_data(x, 1), "{\"value\": \"x=1, y=3, z=3\"}");
	compile(x, "sequence:\n  - variables: {variable: '1'}\n"
		   "  - action: test.script\n    data: {value: '{{ variable }}'}\n"
		   "  - variables: {variable: '{{ variable | int + 1 }}'}\n"
		   "  - action: test.script\n    data: {value: '{{ variable }}'}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_json(call_data(x, 2), "{\"value\": 1}");
	expect_json(call_data(x, 3), "{\"value\": 2}");
	/* each value sees those before it in the same block */
	compile(x, "sequence:\n  - variables: {a: 2, b: '{{ a * 10 }}'}\n"
		   "  - event: test_event\n    event_data: {b: '{{ b }}'}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_json(event_data(x, 0), "{\"b\": 20}");
}

/* ::test_set_variable (V17), ::test_set_redefines_variable: variables are
 * assigned where they are defined, else at the top (2025.4) */
static void variables_are_scoped_as_home_assistant_2025_4_scopes_them(void **state)
{
	play(*state, sc_scopes);
}

/* ---- parallel ----------------------------------------------------------------------------- */

static void sc_parallel(struct sx *x)
{
	compile(x, "sequence:\n  - parallel:\n"
		   "      - alias: Sequential group\n        sequence:\n"
		   "          - delay: 1\n"
		   "          - event: test_event\n            event_data: {hello: from action 1, what: '{{ what }}'}\n"
		   "      - alias: Don't wait at all\n        event: test_event\n"
		   "        event_data: {hello: from action 2, what: '{{ what }}'}\n"
		   "  - event: test_event\n    event_data: {hello: after}\n");
	struct mqb_future *f = start(x, "{\"what\": \"world\"}");
	settle(x);
	assert_int_equal(nevents(x), 1);
	expect_json(event_data(x, 0), "{\"hello\": \"from action 2\", \"what\": \"world\"}");
	advance(x, 1);
	assert_int_equal(mqb_await(f, NULL), 0);
	mqb_future_unref(f);
	assert_int_equal(nevents(x), 3);
	expect_json(event_data(x, 1), "{\"hello\": \"from action 1\", \"what\": \"world\"}");
	expect_json(event_data(x, 2), "{\"hello\": \"after\"}");
	/* ::test_parallel_error: the first error in branch order, after all
	 * branches ended */
	compile(x, "sequence:\n  - parallel:\n      - action: epic.failure\n"
		   "      - [{delay: 1}, {event: test_event}]\n  - event: test_event\n");
	f = start(x, NULL);
	settle(x);
	assert_false(mqb_future_done(f));
	advance(x, 1);
	assert_int_equal(mqb_await(f, NULL), -MQB_E_NOTFOUND);
	mqb_future_unref(f);
	assert_int_equal(nevents(x), 4);
	expect_log(x, "Test Name: sequence[0].parallel[0][0]: Error executing script. Service not "
		      "found for call_service: Action epic.failure not found");
	/* ::test_calling_service_response_data_in_scopes, ::test_parallel_loop */
	compile(x, "sequence:\n  - parallel:\n      - sequence:\n"
		   "          - variables: {state: 'off'}\n"
		   "          - action: test.response\n            response_variable: my_response\n"
		   "      - repeat:\n          for_each: [a, b]\n          sequence:\n"
		   "            - event: test_loop\n              event_data: {item: '{{ repeat.item }}'}\n"
		   "  - stop: end\n    response_variable: my_response\n");
	json_t *resp;
	assert_int_equal(run_to_end(x, NULL, &resp), 0);
	expect_json(resp, "{\"data\": \"value-12345\"}");
	json_decref(resp);
	expect_json(event_data(x, 5), "{\"item\": \"b\"}");
}

/* ::test_parallel (V16, a delay for the trigger), ::test_parallel_error,
 * ::test_calling_service_response_data_in_scopes, ::test_parallel_loop */
static void parallel_branches_run_at_once_and_all_end(void **state)
{
	play(*state, sc_parallel);
}

/* ---- stop and disabled steps --------------------------------------------------------------- */

static void sc_stop(struct sx *x)
{
	compile(x, "sequence:\n  - event: test_event\n  - stop: In the name of love\n"
		   "  - event: test_event\n");
	json_t *resp;
	assert_int_equal(run_to_end(x, NULL, &resp), 0);
	expect_json(resp, "{}");
	json_decref(resp);
	assert_int_equal(nevents(x), 1);
	expect_log(x, "Test Name: Stop script sequence: In the name of love");
	/* ::test_stop_action_nested_response_variables (V18) */
	compile(x, "sequence:\n  - variables: {output: {value: Testing 123}}\n"
		   "  - if: {condition: template, value_template: '{{ var == 1 }}'}\n"
		   "    then:\n      - variables: {output: {value: 'If: Then'}}\n"
		   "      - stop: In the name of love\n        response_variable: output\n"
		   "    else:\n      - variables: {output: {value: 'If: Else'}}\n"
		   "      - stop: In the name of love\n        response_variable: output\n");
	assert_int_equal(run_to_end(x, "{\"var\": 1}", &resp), 0);
	expect_json(resp, "{\"value\": \"If: Then\"}");
	json_decref(resp);
	assert_int_equal(run_to_end(x, "{\"var\": 2}", &resp), 0);
	expect_json(resp, "{\"value\": \"If: Else\"}");
	json_decref(resp);
	/* ::test_stop_action_with_error (V19), ::test_stop_action_subscript */
	compile(x, "sequence:\n  - event: test_event\n  - sequence:\n"
		   "      - alias: stop step\n        stop: Epic one...\n        error: true\n"
		   "  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 2);
	expect_log(x, "Test Name: Error script sequence: Epic one...");
	/* ::test_responses_no_response: an undefined response variable aborts */
	compile(x, "sequence:\n  - stop: done\n    response_variable: test_var\n");
	assert_int_equal(run_to_end(x, NULL, &resp), 0);
	expect_json(resp, "{}");
	json_decref(resp);
	expect_log(x, "Response variable 'test_var' is not defined");
}

/* ::test_stop_action, ::test_stop_action_nested_response_variables,
 * ::test_stop_action_with_error, ::test_stop_action_subscript;
 * tests/components/script/test_init.py::test_responses_no_response */
static void stop_ends_the_run_with_its_response(void **state)
{
	play(*state, sc_stop);
}

static void sc_disabled(struct sx *x)
{
	compile(x, "sequence:\n  - event: test_event\n"
		   "  - alias: Hello\n    enabled: false\n    action: broken.service\n"
		   "  - alias: World\n    enabled: \"{{ 1 == 9 }}\"\n    event: test_event\n"
		   "  - event: test_event\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 2);
	expect_log(x, "Test Name: sequence[1]: Skipped disabled step Hello");
	expect_log(x, "Test Name: sequence[2]: Skipped disabled step World");
}

/* ::test_disabled_actions (V21) */
static void disabled_steps_are_skipped(void **state)
{
	play(*state, sc_disabled);
}

/* ---- modes and stopping ---------------------------------------------------------------------- */

#define TWO_STEPS \
	"sequence:\n  - event: test_event\n    event_data: {value: 1}\n  - delay: 10\n" \
	"  - event: test_event\n    event_data: {value: 2}\n"

static void values(struct sx *x, const char *want)
{
	char got[64] = "";
	for (size_t i = 0; i < nevents(x); i++) {
		char b[8];
		snprintf(b, sizeof b, "%s%" JSON_INTEGER_FORMAT, i ? "," : "",
			 json_integer_value(json_object_get(event_data(x, i), "value")));
		strcat(got, b);
	}
	assert_string_equal(got, want);
}

static void sc_modes(struct sx *x)
{
	struct mqb_future *a, *b;
	/* single: the second start is refused with the warning */
	compile_mode(x, TWO_STEPS, MQB_SCRIPT_SINGLE, 0);
	a = start(x, NULL);
	settle(x);
	assert_int_equal(mqb_script_async_run(x->core, x->s, NULL, &b), -EBUSY);
	expect_log(x, "Test Name: Already running");
	advance(x, 10);
	assert_int_equal(mqb_await(a, NULL), 0);
	mqb_future_unref(a);
	values(x, "1,2");

	/* restart: the running one is cancelled and unwinds first */
	json_array_clear(x->events);
	compile_mode(x, TWO_STEPS, MQB_SCRIPT_RESTART, 0);
	a = start(x, NULL);
	settle(x);
	b = start(x, NULL);
	assert_int_equal(mqb_script_async_runs(x->s), 2);
	settle(x);
	assert_int_equal(mqb_future_status(a), -ECANCELED);
	assert_int_equal(mqb_script_async_runs(x->s), 1);
	expect_log(x, "Test Name: Restarting");
	advance(x, 10);
	assert_int_equal(mqb_await(b, NULL), 0);
	mqb_future_unref(a);
	mqb_future_unref(b);
	values(x, "1,1,2");

	/* parallel, max 2 */
	json_array_clear(x->events);
	compile_mode(x, TWO_STEPS, MQB_SCRIPT_PARALLEL, 2);
	a = start(x, NULL);
	settle(x);
	b = start(x, NULL);
	settle(x);
	struct mqb_future *c = NULL;
	assert_int_equal(mqb_script_async_run(x->core, x->s, NULL, &c), -EBUSY);
	expect_log(x, "Test Name: Maximum number of runs exceeded");
	advance(x, 10);
	assert_int_equal(mqb_await(a, NULL), 0);
	assert_int_equal(mqb_await(b, NULL), 0);
	mqb_future_unref(a);
	mqb_future_unref(b);
	values(x, "1,1,2,2");

	/* queued, max 2: the second waits, counted, and keeps its turn */
	json_array_clear(x->events);
	compile_mode(x, TWO_STEPS, MQB_SCRIPT_QUEUED, 2);
	a = start(x, "{\"who\": \"a\"}");
	settle(x);
	b = start(x, NULL);
	settle(x);
	assert_int_equal(mqb_script_async_runs(x->s), 2);
	values(x, "1");
	assert_int_equal(mqb_script_async_run(x->core, x->s, NULL, &c), -EBUSY);
	advance(x, 10);
	values(x, "1,2,1");
	assert_int_equal(mqb_script_async_runs(x->s), 1);
	advance(x, 10);
	values(x, "1,2,1,2");
	assert_int_equal(mqb_await(b, NULL), 0);
	assert_int_equal(mqb_script_async_runs(x->s), 0);
	mqb_future_unref(a);
	mqb_future_unref(b);
}

/* ::test_script_mode_single, ::test_script_mode_2 (restart, parallel),
 * ::test_script_mode_queued, ::test_max_exceeded (V22) */
static void modes_decide_what_a_second_start_does(void **state)
{
	play(*state, sc_modes);
}

static void sc_max_exceeded(struct sx *x)
{
	const enum mqb_log_level lv[] = { MQB_LOG_WARNING, MQB_LOG_INFO, MQB_LOG_ERROR };
	for (int i = 0; i < 4; i++) {
		struct mqb_script_options o = { .name = "Test Name", .mode = MQB_SCRIPT_SINGLE,
						.max_exceeded = i < 3 ? lv[i] : MQB_LOG_ERROR,
						.max_exceeded_silent = i == 3 };
		compile_opt(x, TWO_STEPS, &o);
		free(x->log);
		x->log = NULL;
		x->loglen = 0;
		struct mqb_future *a = start(x, NULL), *b = NULL;
		assert_int_equal(mqb_script_async_run(x->core, x->s, NULL, &b), -EBUSY);
		assert_int_equal(count_in_log(x, "Already running"), i < 3 ? 1 : 0);
		if (i < 3)
			assert_int_equal(x->refused_level, lv[i]);
		mqb_future_unref(a);
		assert_int_equal(mqb_script_async_stop(x->s, &b), 0);
		assert_int_equal(mqb_await(b, NULL), 0);
		mqb_future_unref(b);
	}
}

/* ::test_max_exceeded: the refusal is logged at max_exceeded, or not at all */
static void a_refused_start_is_logged_at_max_exceeded(void **state)
{
	play(*state, sc_max_exceeded);
}

static void sc_cancel(struct sx *x)
{
	/* ::test_cancel_delay: a stop ends the delay at once, no time passing */
	compile_mode(x, "sequence:\n  - delay: 3600\n  - event: test_event\n", MQB_SCRIPT_PARALLEL, 5);
	struct mqb_future *a = start(x, NULL), *b = start(x, NULL), *stopped = NULL;
	settle(x);
	assert_int_equal(mqb_script_async_runs(x->s), 2);
	assert_int_equal(mqb_script_async_stop(x->s, &stopped), 0);
	assert_int_equal(mqb_await(stopped, NULL), 0);
	assert_int_equal(mqb_future_status(a), -ECANCELED);
	assert_int_equal(mqb_future_status(b), -ECANCELED);
	assert_int_equal(mqb_script_async_runs(x->s), 0);
	mqb_future_unref(a);
	mqb_future_unref(b);
	mqb_future_unref(stopped);
	advance(x, 7200);
	assert_int_equal(nevents(x), 0);

	/* ::test_stop_no_wait: runs inside a long service call end at once */
	compile_mode(x, "sequence:\n  - action: test.slow\n  - event: test_event\n",
		     MQB_SCRIPT_PARALLEL, 5);
	a = start(x, NULL);
	b = start(x, NULL);
	settle(x);
	assert_int_equal(x->slow_calls, 2);
	assert_int_equal(mqb_script_async_stop(x->s, &stopped), 0);
	assert_int_equal(mqb_await(stopped, NULL), 0);
	assert_int_equal(mqb_future_status(a), -ECANCELED);
	mqb_future_unref(a);
	mqb_future_unref(b);
	mqb_future_unref(stopped);

	/* ::test_script_mode_queued_stop: waiting runs never start */
	compile_mode(x, TWO_STEPS, MQB_SCRIPT_QUEUED, 3);
	a = start(x, NULL);
	b = start(x, NULL);
	struct mqb_future *c = start(x, NULL);
	settle(x);
	assert_int_equal(mqb_script_async_runs(x->s), 3);
	assert_int_equal(mqb_script_async_stop(x->s, &stopped), 0);
	assert_int_equal(mqb_future_status(b), -ECANCELED);
	assert_int_equal(mqb_future_status(c), -ECANCELED);
	assert_int_equal(mqb_await(stopped, NULL), 0);
	assert_int_equal(mqb_script_async_runs(x->s), 0);
	assert_int_equal(nevents(x), 1);
	mqb_future_unref(a);
	mqb_future_unref(b);
	mqb_future_unref(c);
	mqb_future_unref(stopped);

	/* stopping a parallel step stops every branch */
	compile_mode(x, "sequence:\n  - parallel:\n      - delay: 100\n      - delay: 200\n"
			"      - action: test.slow\n  - event: test_event\n",
		     MQB_SCRIPT_SINGLE, 0);
	a = start(x, NULL);
	settle(x);
	assert_int_equal(mqb_script_async_stop(x->s, &stopped), 0);
	assert_int_equal(mqb_await(stopped, NULL), 0);
	assert_int_equal(mqb_future_status(a), -ECANCELED);
	mqb_future_unref(a);
	mqb_future_unref(stopped);
	assert_int_equal(nevents(x), 1);
}

/* ::test_cancel_delay, ::test_stop_no_wait, ::test_script_mode_queued_stop:
 * a stop ends every wait at once */
static void a_stop_ends_every_wait_at_once(void **state)
{
	play(*state, sc_cancel);
}

static void sc_shutdown(struct sx *x)
{
	compile(x, "sequence:\n  - delay: 3600\n  - event: test_event\n");
	struct mqb_future *f = start(x, NULL);
	settle(x);
	/* held past the scenario: the shutdown cancels the run */
	x->scenario = (void *)f;
}

/* Shutdown cancels a suspended run, which unwinds and settles -ECANCELED */
static void shutdown_cancels_suspended_runs(void **state)
{
	struct sx *x = *state;
	play(x, sc_shutdown);
	struct mqb_future *f = (void *)x->scenario;
	assert_int_equal(mqb_future_status(f), -ECANCELED);
	assert_int_equal(mqb_script_async_runs(x->s), 0);
	assert_int_equal(nevents(x), 0);
	mqb_future_unref(f);
}

/* ---- waits --------------------------------------------------------------------------------- */

#define WAIT_OFF \
	"sequence:\n  - wait_template: \"{{ states.switch.test.state == 'off' }}\"\n" \
	"    timeout: %s\n    continue_on_timeout: %s\n" \
	"  - event: test_event\n    event_data_template: {completed: '{{ wait.completed }}', " \
	"remaining: '{{ wait.remaining }}'}\n"

static void switch_to(struct sx *x, const char *state)
{
	assert_int_equal(mqb_states_async_set(x->core, "switch.test", state, NULL, false), 0);
}

static double remaining(struct sx *x, size_t i)
{
	return json_number_value(json_object_get(event_data(x, i), "remaining"));
}

static void sc_wait_template(struct sx *x)
{
	char y[512];
	/* ::test_wait_timeout: every form of timeout; nothing before it */
	const char *forms[] = { "5", "\"{{ 5 }}\"", "{seconds: 5}", "{seconds: \"{{ 5 }}\"}" };
	switch_to(x, "on");
	for (int i = 0; i < 4; i++) {
		snprintf(y, sizeof y, WAIT_OFF, forms[i], "true");
		compile(x, y);
		json_array_clear(x->events);
		struct mqb_future *f = start(x, NULL);
		settle(x);
		advance(x, 4);
		assert_int_equal(nevents(x), 0);
		advance(x, 1);
		assert_int_equal(nevents(x), 1);
		expect_json(event_data(x, 0), "{\"completed\": false, \"remaining\": 0.0}");
		assert_int_equal(mqb_await(f, NULL), 0);
		mqb_future_unref(f);
	}
	expect_log(x, "Executing step wait template (timeout: 0:00:05)");

	/* ::test_wait_variables_out: done before the timeout, with what was left */
	snprintf(y, sizeof y, WAIT_OFF, "5", "true");
	compile(x, y);
	json_array_clear(x->events);
	struct mqb_future *f = start(x, NULL);
	settle(x);
	advance(x, 1);
	assert_int_equal(nevents(x), 0);
	switch_to(x, "off");
	settle(x);
	assert_int_equal(nevents(x), 1);
	assert_true(json_is_true(json_object_get(event_data(x, 0), "completed")));
	assert_true(remaining(x, 0) > 3.5 && remaining(x, 0) <= 4.0 + 1e-6);
	mqb_future_unref(f);

	/* ::test_wait_continue_on_timeout: false aborts */
	switch_to(x, "on");
	snprintf(y, sizeof y, WAIT_OFF, "5", "false");
	compile(x, y);
	f = start(x, NULL);
	settle(x);
	advance(x, 5);
	assert_int_equal(mqb_await(f, NULL), 0);
	mqb_future_unref(f);
	assert_int_equal(nevents(x), 1);
	expect_log(x, "Test Name: Timeout reached, abort script.");

	/* ::test_wait_template_not_schedule: true already, no waiting;
	 * ::test_wait_template_matches_with_zero_timeout,
	 * ::test_wait_template_with_zero_timeout */
	compile(x, "sequence:\n  - wait_template: \"{{ states.switch.test.state == 'on' }}\"\n"
		   "  - event: test_event\n    event_data: {wait: '{{ wait }}'}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_json(event_data(x, 1), "{\"wait\": {\"completed\": true, \"remaining\": null}}");
	compile(x, "sequence:\n  - wait_template: \"{{ states.switch.test.state == 'on' }}\"\n"
		   "    timeout: 0\n  - event: test_event\n    event_data: {wait: '{{ wait }}'}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_json(event_data(x, 2), "{\"wait\": {\"completed\": true, \"remaining\": 0.0}}");
	compile(x, "sequence:\n  - wait_template: \"{{ states.switch.test.state == 'off' }}\"\n"
		   "    timeout: 0\n  - event: test_event\n    event_data: {wait: '{{ wait }}'}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_json(event_data(x, 3), "{\"wait\": {\"completed\": false, \"remaining\": 0.0}}");
	expect_log(x, "(timeout: 0:00:00)");

	/* ::test_wait_template_variables_in, ::test_wait_basic: no timeout */
	compile(x, "sequence:\n  - wait_template: \"{{ is_state(data, 'off') }}\"\n"
		   "  - event: test_event\n    event_data: {wait: '{{ wait }}'}\n");
	f = start(x, "{\"data\": \"switch.test\"}");
	settle(x);
	advance(x, 3600);
	assert_int_equal(nevents(x), 4);
	switch_to(x, "off");
	assert_int_equal(mqb_await(f, NULL), 0);
	mqb_future_unref(f);
	expect_json(event_data(x, 4), "{\"wait\": {\"completed\": true, \"remaining\": null}}");
}

/* ::test_wait_timeout, ::test_wait_variables_out, ::test_wait_continue_on_timeout,
 * ::test_wait_template_not_schedule, ::test_wait_template_matches_with_zero_timeout,
 * ::test_wait_template_with_zero_timeout, ::test_wait_template_variables_in,
 * ::test_wait_basic (V5, V6, V7) */
static void wait_template_waits_on_the_state_machine_with_its_timeout(void **state)
{
	play(*state, sc_wait_template);
}

static void sc_wait_scope(struct sx *x)
{
	/* ::test_wait_in_sequence: wait reaches the top (read out through a
	 * variable into the response) */
	compile(x, "sequence:\n  - sequence:\n      - variables: {state: 'off'}\n"
		   "      - wait_template: \"{{ state == 'off' }}\"\n"
		   "  - variables: {out: {wait: '{{ wait }}', state: '{{ state }}'}}\n"
		   "  - stop: end\n    response_variable: out\n");
	json_t *resp;
	assert_int_equal(run_to_end(x, NULL, &resp), 0);
	expect_json(resp, "{\"wait\": {\"completed\": true, \"remaining\": null}, "
			  "\"state\": \"off\"}");
	json_decref(resp);
	/* ::test_wait_in_parallel: it stays in the branch, state does not */
	compile(x, "sequence:\n  - parallel:\n      - sequence:\n"
		   "          - variables: {state: 'off'}\n"
		   "          - wait_template: \"{{ state == 'off' }}\"\n"
		   "  - variables: {out: {wait: '{{ wait is defined }}', state: '{{ state }}'}}\n"
		   "  - stop: end\n    response_variable: out\n");
	assert_int_equal(run_to_end(x, NULL, &resp), 0);
	expect_json(resp, "{\"wait\": false, \"state\": \"off\"}");
	json_decref(resp);
	/* ::test_cancel_wait: a stop ends it at once */
	switch_to(x, "on");
	compile(x, "sequence:\n  - wait_template: \"{{ states.switch.test.state == 'off' }}\"\n"
		   "  - event: test_event\n");
	struct mqb_future *f = start(x, NULL), *stopped;
	settle(x);
	assert_int_equal(mqb_script_async_stop(x->s, &stopped), 0);
	assert_int_equal(mqb_await(stopped, NULL), 0);
	assert_int_equal(mqb_future_status(f), -ECANCELED);
	mqb_future_unref(f);
	mqb_future_unref(stopped);
	switch_to(x, "off");
	settle(x);
	assert_int_equal(nevents(x), 0);
}

/* ::test_wait_in_sequence, ::test_wait_in_parallel, ::test_cancel_wait */
static void the_wait_variable_is_scoped_and_a_stop_ends_the_wait(void **state)
{
	play(*state, sc_wait_scope);
}

/* ---- wait_for_trigger --------------------------------------------------------------------- */

static void sc_wait_trigger(struct sx *x)
{
	/* ::test_wait_basic (V8): the first firing, its trigger variable */
	switch_to(x, "on");
	compile(x, "sequence:\n  - wait_for_trigger:\n      platform: state\n"
		   "      entity_id: switch.test\n      to: 'off'\n"
		   "  - event: test_event\n    event_data:\n"
		   "      completed: '{{ wait.completed }}'\n      remaining: '{{ wait.remaining }}'\n"
		   "      trigger: '{{ wait.trigger.platform }} {{ wait.trigger.id }} {{ wait.trigger.idx }}"
		   " {{ wait.trigger.entity_id }} {{ wait.trigger.from_state.state }}"
		   " {{ wait.trigger.to_state.state }} {{ wait.trigger.description }}'\n");
	struct mqb_future *f = start(x, NULL);
	settle(x);
	assert_false(mqb_future_done(f));
	switch_to(x, "off");
	assert_int_equal(mqb_await(f, NULL), 0);
	mqb_future_unref(f);
	expect_json(event_data(x, 0), "{\"completed\": true, \"remaining\": null, \"trigger\": "
				      "\"state 0 0 switch.test on off state of switch.test\"}");
	expect_log(x, "Executing step wait for trigger");

	/* ::test_wait_trigger_matches_with_zero_timeout (V7): no look at all */
	compile(x, "sequence:\n  - wait_for_trigger: {trigger: state, entity_id: switch.test, to: 'off'}\n"
		   "    timeout: 0\n    continue_on_timeout: true\n"
		   "  - event: test_event\n    event_data: {wait: '{{ wait }}'}\n");
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_json(event_data(x, 1), "{\"wait\": {\"completed\": false, \"trigger\": null, "
				      "\"remaining\": 0.0}}");

	/* a timeout, and continue_on_timeout: false */
	compile(x, "sequence:\n  - wait_for_trigger: {trigger: state, entity_id: switch.test, to: 'on'}\n"
		   "    timeout: 5\n    continue_on_timeout: false\n  - event: test_event\n");
	f = start(x, NULL);
	settle(x);
	advance(x, 5);
	assert_int_equal(mqb_await(f, NULL), 0);
	mqb_future_unref(f);
	assert_int_equal(nevents(x), 2);
	expect_log(x, "Timeout reached, abort script.");

	/* ::test_wait_for_trigger_variables: the triggers see the run's variables */
	compile(x, "sequence:\n  - variables: {state: 'on'}\n"
		   "  - wait_for_trigger:\n      trigger: template\n"
		   "      value_template: \"{{ states.switch.test.state == state }}\"\n"
		   "  - event: test_event\n");
	f = start(x, NULL);
	settle(x);
	assert_int_equal(nevents(x), 2);
	switch_to(x, "on");
	assert_int_equal(mqb_await(f, NULL), 0);
	mqb_future_unref(f);
	assert_int_equal(nevents(x), 3);

	/* ::test_parallel (V16): one branch waits for a trigger, the other not */
	switch_to(x, "off");
	compile(x, "sequence:\n  - parallel:\n"
		   "      - alias: Sequential group\n        sequence:\n"
		   "          - alias: Waiting for trigger\n"
		   "            wait_for_trigger: {platform: state, entity_id: switch.test, to: 'on'}\n"
		   "          - event: test_event\n            event_data: {hello: from action 1, what: '{{ what }}'}\n"
		   "      - alias: Don't wait at all\n        event: test_event\n"
		   "        event_data: {hello: from action 2, what: '{{ what }}'}\n");
	f = start(x, "{\"what\": \"world\"}");
	settle(x);
	assert_int_equal(nevents(x), 4);
	expect_json(event_data(x, 3), "{\"hello\": \"from action 2\", \"what\": \"world\"}");
	switch_to(x, "on");
	assert_int_equal(mqb_await(f, NULL), 0);
	mqb_future_unref(f);
	expect_json(event_data(x, 4), "{\"hello\": \"from action 1\", \"what\": \"world\"}");
	expect_log(x, "Test Name: sequence[0].parallel[0][0].sequence[0]: Executing step "
		      "Waiting for trigger");

	/* a stop detaches it at once */
	compile(x, "sequence:\n  - wait_for_trigger: {trigger: state, entity_id: switch.test, to: 'off'}\n"
		   "  - event: test_event\n");
	struct mqb_future *stopped;
	f = start(x, NULL);
	settle(x);
	assert_int_equal(mqb_script_async_stop(x->s, &stopped), 0);
	assert_int_equal(mqb_await(stopped, NULL), 0);
	assert_int_equal(mqb_future_status(f), -ECANCELED);
	mqb_future_unref(f);
	mqb_future_unref(stopped);
	switch_to(x, "off");
	settle(x);
	assert_int_equal(nevents(x), 5);
}

/* ::test_wait_basic, ::test_wait_trigger_matches_with_zero_timeout,
 * ::test_wait_for_trigger_variables, ::test_parallel (V7, V8, V16) */
static void wait_for_trigger_waits_for_a_firing(void **state)
{
	play(*state, sc_wait_trigger);
}

/* ---- deep nesting -------------------------------------------------------------------------- */

static void sc_deep_compile(struct sx *x)
{
	/* as deep as the loader lets a document go (64 levels of YAML), a
	 * service call with templates at the bottom, on the run's own stack */
	static const char *const open[] = { "{sequence: [", "{if: '{{ true }}', then: [",
					    "{sequence: [", "{repeat: {count: 2, sequence: [" };
	static const char *const close[] = { "]}", "]}", "]}", "]}}" };
	char y[4096];
	size_t n = (size_t)snprintf(y, sizeof y, "sequence:\n  - ");
	const int depth = 24; /* 6 x (2 + 2 + 2 + 3) = 54 levels, + 4 around */
	for (int i = 0; i < depth; i++)
		n += (size_t)snprintf(y + n, sizeof y - n, "%s", open[i % 4]);
	n += (size_t)snprintf(y + n, sizeof y - n,
			      "{action: test.script, data: {index: '{{ repeat.index }}'}}");
	for (int i = depth - 1; i >= 0; i--)
		n += (size_t)snprintf(y + n, sizeof y - n, "%s", close[i % 4]);
	snprintf(y + n, sizeof y - n, "\n");
	compile(x, y);
}

static void sc_deep(struct sx *x)
{
	sc_deep_compile(x);
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	/* 2^6 calls: each repeat doubles those inside it */
	assert_int_equal(json_array_size(x->calls), 64);
	expect_json(call_data(x, 63), "{\"index\": 2}");
}

/* Nesting as deep as a configuration can hold runs on a run's own stack */
static void blocks_nested_as_deep_as_yaml_allows_run(void **state)
{
	play(*state, sc_deep);
}

/* The same nesting on a stack too small for it: the run fails at the
 * action where the stack ran short, with its path, and the daemon goes on
 * (before, a run walked into its stack's guard page and killed it). */
static void sc_deep_short(struct sx *x)
{
	assert_int_not_equal(run_to_end(x, NULL, NULL), 0);
	assert_true(json_array_size(x->calls) < 64);
	assert_non_null(strstr(x->log, "Error executing script. Error for "));
	assert_non_null(strstr(x->log, "nested too deep for the run's stack"));
}

static void a_run_nested_past_its_stack_fails_instead_of_crashing(void **state)
{
	sc_deep_compile(*state); /* here, on the test's own stack */
	play(*state, sc_deep_short);
}

/* A template nested sixty filters deep renders on a run's stack: each
 * level costs a small frame, not the parser's bound on arguments. */
static void sc_deep_template(struct sx *x)
{
	char y[2048];
	size_t n = (size_t)snprintf(y, sizeof y, "sequence:\n  - action: test.script\n"
				    "    data: {v: \"{{ ");
	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(y + n, sizeof y - n, "(");
	n += (size_t)snprintf(y + n, sizeof y - n, "-3");
	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(y + n, sizeof y - n, "|abs)");
	snprintf(y + n, sizeof y - n, " }}\"}\n");
	compile(x, y);
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	expect_json(call_data(x, 0), "{\"v\": 3}");
}

static void a_template_nested_sixty_deep_renders_in_a_run(void **state)
{
	play(*state, sc_deep_template);
}

/* ---- script variables ------------------------------------------------------------------------- */

static void sc_script_variables(struct sx *x)
{
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	struct mqb_conf_doc *doc = NULL;
	const char *yaml = "variables:\n  test_var: from_config\n"
			   "  templated_config_var: \"{{ var_from_service | default('config-default') }}\"\n";
	assert_int_equal(conf__load_string("v.yaml", NULL, yaml, strlen(yaml), NULL, &doc, &errs), 0);
	assert_int_equal(mqb_script_variables_compile(mqb_conf_get(mqb_conf_root(doc), "variables"),
						      "script.x.variables", &errs, &x->vars),
			 0);
	struct mqb_script_options o = { .name = "Test Name", .variables = x->vars };
	compile_opt(x, "sequence:\n  - event: test_event\n    event_data: {value: '{{ test_var }}',"
		       " templated: '{{ templated_config_var }}'}\n",
		    &o);
	assert_int_equal(run_to_end(x, "{\"var_from_service\": \"hello\"}", NULL), 0);
	expect_json(event_data(x, 0), "{\"value\": \"from_config\", \"templated\": \"hello\"}");
	assert_int_equal(run_to_end(x, "{\"test_var\": \"from_service\"}", NULL), 0);
	expect_json(event_data(x, 1), "{\"value\": \"from_service\", \"templated\": \"config-default\"}");
	mqb_conf_errors_fini(&errs);
	mqb_conf_doc_free(doc);
}

/* tests/components/script/test_init.py::test_script_variables: the
 * script's variables are defaults under what the caller passes */
static void a_scripts_variables_are_defaults_under_the_callers(void **state)
{
	play(*state, sc_script_variables);
}

/* ---- what a run answers, and the call path ----------------------------------------------------- */

static void sc_respond_variables(struct sx *x)
{
	struct mqb_script_options o = { .name = "Test Name", .respond_variables = true };
	compile_opt(x, "sequence:\n  - variables: {a: 1}\n"
		       "  - action: test.response\n    response_variable: r\n"
		       "  - if: '{{ false }}'\n    then: [{variables: {b: 2}}]\n",
		    &o);
	json_t *resp = NULL;
	assert_int_equal(run_to_end(x, "{\"trigger\": {\"platform\": null}}", &resp), 0);
	expect_json(resp, "{\"trigger\": {\"platform\": null}, \"a\": 1,"
			  " \"r\": {\"data\": \"value-12345\"}}");
	json_decref(resp);
}

/* components/template/coordinator.py renders a trigger-based entity
 * with the variables its action left (ScriptRunResult.variables): a
 * script may answer with them instead of its stop response */
static void a_run_can_answer_with_its_variables(void **state)
{
	play(*state, sc_respond_variables);
}

/* A service whose handler starts a script's run for the call and waits
 * for it, as script.<id> does. */
struct caller {
	struct sx *x;
	struct mqb_script **target;
	int rc[4];   /* what each start returned, in order */
	int n;
};

static int call_script(void *ud, void *arg, void **result)
{
	struct caller *c = ud;
	struct mqb_future *f = NULL;
	int rc = mqb_script_async_run_call(c->x->core, *c->target, NULL, arg, &f);
	if (c->n < 4)
		c->rc[c->n++] = rc;
	if (rc == 0) {
		mqb_await(f, NULL);
		mqb_future_unref(f);
	}
	return 0;
}

static void sc_recursion(struct sx *x)
{
	struct mqb_script *b = NULL;
	struct caller to_a = { x, &x->s, { 0 }, 0 }, to_b = { x, &b, { 0 }, 0 };
	struct mqb_job ja = MQB_COROUTINE(call_script, &to_a), jb = MQB_COROUTINE(call_script, &to_b);
	assert_int_equal(mqb_services_async_register(x->core, "test", "call_a", &ja, NULL, NULL), 0);
	assert_int_equal(mqb_services_async_register(x->core, "test", "call_b", &jb, NULL, NULL), 0);
	struct mqb_script_options ob = { .name = "script.b", .mode = MQB_SCRIPT_PARALLEL };
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	struct mqb_conf_doc *doc = NULL;
	const char *yb = "sequence:\n  - event: test_b\n  - action: test.call_a\n";
	assert_int_equal(conf__load_string("b.yaml", NULL, yb, strlen(yb), NULL, &doc, &errs), 0);
	assert_int_equal(mqb_script_compile(mqb_conf_get(mqb_conf_root(doc), "sequence"), "s", &ob,
					    &errs, &b), 0);
	/* a (queued) calls b (parallel), which calls a: a would wait for itself */
	compile_mode(x, "sequence:\n  - event: test_a\n  - action: test.call_b\n",
		     MQB_SCRIPT_QUEUED, 2);
	assert_int_equal(run_to_end(x, NULL, NULL), 0);
	assert_int_equal(nevents(x), 2);
	assert_int_equal(to_b.n, 1);
	assert_int_equal(to_b.rc[0], 0);
	assert_int_equal(to_a.n, 1);
	assert_int_equal(to_a.rc[0], -EDEADLK);
	expect_log(x, "Test Name: Disallowed recursion detected, script.b tried to start Test Name "
		      "which is already running in the current execution path; Traceback (most "
		      "recent call last): - Test Name - script.b");
	/* a call from outside a run has no path: it starts */
	struct mqb_future *f = NULL;
	assert_int_equal(mqb_services_async_call(x->core, "test", "call_a", NULL, &f), 0);
	assert_int_equal(mqb_await(f, NULL), 0);
	mqb_future_unref(f);
	settle(x);
	/* a starts, then b, whose call of a is refused */
	assert_int_equal(to_a.n, 3);
	assert_int_equal(to_a.rc[1], 0);
	assert_int_equal(to_a.rc[2], -EDEADLK);
	assert_int_equal(nevents(x), 4);
	mqb_script_free(b);
	mqb_conf_errors_fini(&errs);
	mqb_conf_doc_free(doc);
}

/* ::test_disallowed_recursion, tests/components/script/test_init.py::
 * test_recursive_script: a restart or queued script a blocking call
 * would start again inside its own call path is refused, with Home
 * Assistant's warning; the caller goes on */
static void a_script_on_its_own_call_path_does_not_start_again(void **state)
{
	play(*state, sc_recursion);
}

/* ---- configuration errors ---------------------------------------------------------------------- */

/* tests/helpers/test_config_validation.py::test_invalid_service_schema,
 * ::test_determine_script_action_ambiguous and the schemas of
 * tests/helpers/test_script.py::test_validate_action_config: errors at
 * file:line:column, with the action's path */
static void bad_actions_are_configuration_errors_at_their_place(void **state)
{
	compile_fails("sequence:\n  - servce: light.turn_on\n", "did you mean 'service'", 2, 5,
		      "automation[0].action[0]");
	compile_fails("sequence:\n  - foo: 1\n", "Unable to determine action", 2, 5, NULL);
	compile_fails("sequence:\n  - delay: hello\n", "should be format", 2, 12,
		      "automation[0].action[0].delay");
	compile_fails("sequence:\n  - event: x\n    event_data: {a: '{{ 1 + }}'}\n",
		      "invalid template", 3, 29, NULL);
	compile_fails("sequence:\n  - service: a.b\n    action: a.b\n",
		      "Cannot specify both 'service' and 'action'", 0, 0, NULL);
	compile_fails("sequence:\n  - action: nodot\n", "does not match format <domain>.<name>", 2, 13,
		      NULL);
	compile_fails("sequence:\n  - stop: x\n    error: true\n    response_variable: r\n",
		      "not allowed to add a response to an error stop action", 0, 0, NULL);
	compile_fails("sequence:\n  - condition: template\n    value_template: '{{ 1 }}'\n"
		      "    continue_on_error: true\n",
		      "unknown option 'continue_on_error'", 4, 5, NULL);
	compile_fails("sequence:\n  - event: x\n    action: y.z\n", "unknown option 'action'", 3, 5,
		      NULL);
	compile_fails("sequence:\n  - choose:\n      - conditions: []\n        sequence: []\n"
		      "      - sequence: []\n",
		      "data['conditions']", 5, 9, "automation[0].action[0].choose[1]");
	compile_fails("sequence:\n  - repeat: {count: 1, while: '{{ 1 }}', sequence: []}\n",
		      "group of exclusion 'repeat'", 0, 0, NULL);
	compile_fails("sequence:\n  - repeat: {sequence: []}\n",
		      "must contain at least one of count, for_each, while, until.", 0, 0, NULL);
	compile_fails("sequence:\n  - device_id: abc\n    domain: switch\n    type: flash\n"
		      "    entity_id: switch.x\n",
		      "value must be one of ['toggle', 'turn_off', 'turn_on']", 4, 11, NULL);
	compile_fails("sequence:\n  - device_id: abc\n    domain: light\n",
		      "required key not provided @ data['type']", 0, 0, NULL);
	compile_fails("sequence:\n  - parallel:\n      - delay: 1\n      - bogus: 2\n",
		      "Unable to determine action", 4, 9, "automation[0].action[0].parallel[1][0]");
	compile_fails("sequence:\n  - scene: light.x\n", "does not belong to domain 'scene'", 0, 0,
		      NULL);
	compile_fails("sequence:\n  - wait_for_trigger: {trigger: nope}\n", "nope", 0, 0, NULL);
	/* the fuzzer's: a comment where the template was meant to be */
	compile_fails("sequence:\n  - wait_template: #{{ is_state('a.b', 'off') }}\n",
		      "template value is None", 0, 0, "automation[0].action[0].wait_template");
	compile_fails("sequence:\n  - action: a.b\n    continue_on_error: maybe\n",
		      "invalid boolean", 3, 24, NULL);
}

static const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	T(an_event_step_fires_its_event),
	T(event_data_templates_render_anywhere_inside),
	T(service_calls_render_their_name_and_data),
	T(device_actions_of_toggle_entities_call_their_services),
	T(targets_reach_the_handler_as_entity_id_lists),
	T(a_response_variable_takes_what_the_service_answers),
	T(a_failing_call_ends_the_run_with_its_error),
	T(continue_on_error_goes_past_only_an_actions_own_failure),
	T(a_failing_action_is_logged_once_with_its_path),
	T(a_delay_waits_on_a_timer_in_any_form),
	T(a_delay_that_renders_badly_aborts_the_run),
	T(a_false_condition_ends_its_sequence),
	T(choose_runs_the_first_option_that_holds),
	T(if_runs_then_or_else),
	T(repeat_count_sets_the_repeat_variable),
	T(repeat_for_each_walks_its_items),
	T(repeat_while_and_until_test_around_each_turn),
	T(nested_repeats_each_have_their_own_repeat),
	T(variables_are_scoped_as_home_assistant_2025_4_scopes_them),
	T(parallel_branches_run_at_once_and_all_end),
	T(stop_ends_the_run_with_its_response),
	T(disabled_steps_are_skipped),
	T(modes_decide_what_a_second_start_does),
	T(a_refused_start_is_logged_at_max_exceeded),
	T(a_stop_ends_every_wait_at_once),
	T(shutdown_cancels_suspended_runs),
	T(wait_template_waits_on_the_state_machine_with_its_timeout),
	T(the_wait_variable_is_scoped_and_a_stop_ends_the_wait),
	T(wait_for_trigger_waits_for_a_firing),
	T(blocks_nested_as_deep_as_yaml_allows_run),
	cmocka_unit_test_setup_teardown(a_run_nested_past_its_stack_fails_instead_of_crashing,
					setup_small_stack, teardown),
	T(a_template_nested_sixty_deep_renders_in_a_run),
	T(a_scripts_variables_are_defaults_under_the_callers),
	T(a_run_can_answer_with_its_variables),
	T(a_script_on_its_own_call_path_does_not_start_again),
	T(bad_actions_are_configuration_errors_at_their_place),
#undef T
};

TU_MAIN(tests)
