/* SPDX-License-Identifier: MIT */
/* State that survives a restart (src/ha/restore.c), on an in-process core
 * with the entity registry: what an opted-in entity holds is written at
 * start, every 15 minutes (the fake clock) and at stop, even with the pool
 * busy, and read back by the next run; a removed entity keeps its last
 * state; a week-old one goes; a missing, corrupt or cut file (at every
 * byte) and an unwritable directory are survived. Following Home
 * Assistant's tests/helpers/test_restore_state.py (test_caching_data,
 * test_dump_data, test_hass_starting, test_load_error).
 *
 * Code on the loop records what it saw; cmocka checks it on the test's
 * thread. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "testutil.h"
#include "core/loop.h"
#include "ha/entity_impl.h"
#include "ha/restore_impl.h"
#include "mqbridge/future.h"
#include "mqbridge/log.h"
#include "mqbridge/restore.h"
#include "mqbridge/states.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"

static const struct mqb_platform_domain dom = {.domain = "input_boolean"};
static const struct mqb_platform_desc desc = {.api_version = MQB_PLATFORM_API_VERSION,
					      .name = "trestore"};

/* ---- a run of the daemon, in miniature ---------------------------------- */

struct run {
	struct tu_loop t;
	char dir[64];
	char path[128];
	struct mqb_platform *p;
};

/* An entity that opts in and, when added, takes its last state (or
 * "fresh" without one) and remembers what it found. */
struct ent {
	char id[32];
	char restored[64];      /* the last state's value, "" for none */
	char restored_extra[64];/* its extra data, as JSON */
	char last_changed[40];
	bool with_extra;
	struct mqb_entity *e;
};

static json_t *extra_of(struct mqb_entity *e, void *ud)
{
	return json_pack("{s:s}", "kept", mqb_entity_id(e));
}

static int ent_added(struct mqb_entity *e, void *priv)
{
	struct ent *x = priv;
	const json_t *last = mqb_restore_async_last_state(e);
	const json_t *extra = mqb_restore_async_last_extra_data(e);
	snprintf(x->restored, sizeof x->restored, "%s",
		 last ? json_string_value(json_object_get(last, "state")) : "");
	snprintf(x->last_changed, sizeof x->last_changed, "%s",
		 last ? json_string_value(json_object_get(last, "last_changed")) : "");
	char *t = extra ? json_dumps(extra, JSON_COMPACT) : NULL;
	snprintf(x->restored_extra, sizeof x->restored_extra, "%s", t ? t : "");
	free(t);
	mqb_entity_async_set_state(e, last ? x->restored : "fresh");
	return mqb_restore_async_register(e, x->with_extra ? extra_of : NULL, NULL);
}

static const struct mqb_entity_ops ent_ops = {.async_added = ent_added};

struct call {
	struct run *r;
	struct ent *x;
	const char *state;
	int rc;
	struct mqb_future *f;
};

static void init_on_loop(void *arg)
{
	struct call *c = arg;
	struct mqb_core *core = c->r->t.core;
	c->rc = entities__init(core, "tr");
	if (!c->rc)
		c->rc = restore__async_init(core, c->r->dir);
	if (!c->rc)
		c->rc = restore__load(core);
	c->r->p = entities__platform(core, &desc, &dom);
}

/* Start a run whose state directory is dir (made by the caller). */
static void run_start(struct run *r, const char *dir, unsigned threads)
{
	struct mqb_core_options opt;
	mqb_core_options_init(&opt);
	opt.executor_threads = threads;
	opt.shutdown_timeout = TU_TIMEOUT;
	snprintf(r->dir, sizeof r->dir, "%s", dir);
	snprintf(r->path, sizeof r->path, "%s/%s", dir, RESTORE_FILE);
	tu_loop_start(&r->t, &opt);
	struct call c = {.r = r};
	tu_on_loop(&r->t, init_on_loop, &c);
	assert_int_equal(c.rc, 0);
	assert_non_null(r->p);
}

static void add_on_loop(void *arg)
{
	struct call *c = arg;
	struct mqb_entity_info info = {.object_id = c->x->id};
	c->rc = mqb_platform_async_add_entity(c->r->p, &info, &ent_ops, c->x, &c->x->e);
}

static void add(struct run *r, struct ent *x)
{
	struct call c = {.r = r, .x = x};
	tu_on_loop(&r->t, add_on_loop, &c);
	assert_int_equal(c.rc, 0);
}

static void set_on_loop(void *arg)
{
	struct call *c = arg;
	mqb_entity_async_set_state(c->x->e, c->state);
	c->rc = mqb_entity_async_write(c->x->e);
}

static void set(struct run *r, struct ent *x, const char *state)
{
	struct call c = {.r = r, .x = x, .state = state};
	tu_on_loop(&r->t, set_on_loop, &c);
	assert_int_equal(c.rc, 0);
}

static void remove_on_loop(void *arg)
{
	struct call *c = arg;
	c->rc = mqb_entity_async_remove(c->x->e);
}

static void dump_on_loop(void *arg)
{
	struct call *c = arg;
	c->rc = restore__async_dump(c->r->t.core, &c->f);
}

/* Write now and wait for it; the write's status. */
static int dump(struct run *r)
{
	struct call c = {.r = r};
	tu_on_loop(&r->t, dump_on_loop, &c);
	assert_int_equal(c.rc, 0);
	if (!c.f)
		return 1; /* nothing to write */
	int rc = mqb_future_result(c.f, TU_TIMEOUT, NULL);
	mqb_future_unref(c.f);
	return rc;
}

static void advance_on_loop(void *arg)
{
	timer__advance(((struct call *)arg)->r->t.core, 15 * 60);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static void spit(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

/* The state the file holds for id, or NULL. */
static const char *state_in(json_t *doc, const char *id)
{
	size_t i;
	json_t *item;
	json_array_foreach(json_object_get(doc, "data"), i, item) {
		json_t *st = json_object_get(item, "state");
		if (strcmp(json_string_value(json_object_get(st, "entity_id")), id) == 0)
			return json_string_value(json_object_get(st, "state"));
	}
	return NULL;
}

static json_t *load_file(const char *path)
{
	json_error_t err;
	json_t *doc = json_load_file(path, 0, &err);
	if (!doc)
		fail_msg("%s: %s", path, err.text);
	return doc;
}

/* Wait (bounded) until the file holds state for id. */
static bool file_says(const char *path, const char *id, const char *state)
{
	for (double end = tu_now() + TU_TIMEOUT; tu_now() < end;) {
		json_t *doc = json_load_file(path, 0, NULL);
		const char *v = doc ? state_in(doc, id) : NULL;
		bool ok = v && strcmp(v, state) == 0;
		json_decref(doc);
		if (ok)
			return true;
		nanosleep(&(struct timespec){0, 2000000}, NULL);
	}
	return false;
}

static char tmpl[] = "/tmp/mqb-restore-XXXXXX";

static const char *new_dir(char *buf, size_t len)
{
	snprintf(buf, len, "%s", tmpl);
	assert_non_null(mkdtemp(buf));
	return buf;
}

static void rm_dir(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- the tests ------------------------------------------------------------ */

/* test_hass_starting / test_caching_data: the states written when the
 * daemon stops come back, with their extra data, in the next run; an
 * entity not opted in is not kept. */
static void what_was_written_at_stop_comes_back_in_the_next_run(void **state)
{
	(void)state;
	char dir[64];
	new_dir(dir, sizeof dir);
	struct run r;
	run_start(&r, dir, 2);
	struct ent a = {.id = "a", .with_extra = true}, b = {.id = "b"};
	add(&r, &a);
	add(&r, &b);
	assert_string_equal(a.restored, "");
	set(&r, &a, "on");
	set(&r, &b, "off");
	assert_int_equal(tu_loop_stop(&r.t), 0);

	json_t *doc = load_file(r.path);
	assert_int_equal(json_integer_value(json_object_get(doc, "version")), 1);
	assert_string_equal(json_string_value(json_object_get(doc, "key")), "mqbridge.restore_state");
	assert_string_equal(state_in(doc, "input_boolean.a"), "on");
	assert_string_equal(state_in(doc, "input_boolean.b"), "off");
	json_decref(doc);
	struct stat sb;
	assert_int_equal(stat(r.path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s.tmp", r.path);
	assert_int_equal(access(tmp, F_OK), -1);

	run_start(&r, dir, 2);
	struct ent a2 = {.id = "a"}, b2 = {.id = "b"};
	add(&r, &a2);
	add(&r, &b2);
	assert_string_equal(a2.restored, "on");
	assert_string_equal(a2.restored_extra, "{\"kept\":\"input_boolean.a\"}");
	assert_string_equal(b2.restored, "off");
	assert_string_equal(b2.restored_extra, "");
	assert_true(a2.last_changed[0]);
	assert_int_equal(tu_loop_stop(&r.t), 0);
	rm_dir(dir);
}

/* The final write is queued when mqbridge_stop fires; the shutdown
 * cancels the executor jobs queued then, but not it. */
struct busy {
	struct tu_latch started, gate;
};

static int busy_job(void *ud, void *arg, void **result)
{
	struct busy *b = ud;
	tu_latch_count_down(&b->started);
	tu_latch_wait(&b->gate, TU_TIMEOUT);
	return 0;
}

static int idle_job(void *ud, void *arg, void **result)
{
	return 0;
}

static void open_gate(struct mqb_future *f, void *ud)
{
	tu_latch_count_down(ud);
}

struct jam {
	struct mqb_core *core;
	struct busy *b;
	int rc;
};

static void jam_on_loop(void *arg)
{
	struct jam *j = arg;
	j->rc = mqb_async_add_job(j->core, &MQB_EXECUTOR(busy_job, j->b), NULL, NULL, NULL);
	/* queued behind it, cancelled at stop: cancelling opens the gate */
	for (int i = 0; i < 3 && !j->rc; i++) {
		struct mqb_future *f = NULL;
		j->rc = mqb_async_add_job(j->core, &MQB_EXECUTOR(idle_job, NULL), NULL, NULL, &f);
		if (!j->rc) {
			mqb_future_async_add_done(f, open_gate, &j->b->gate);
			mqb_future_unref(f);
		}
	}
}

static void the_stop_write_happens_though_the_pool_is_busy(void **state)
{
	(void)state;
	char dir[64];
	new_dir(dir, sizeof dir);
	struct run r;
	run_start(&r, dir, 1);
	struct ent a = {.id = "a"};
	add(&r, &a);
	set(&r, &a, "on");
	assert_int_equal(dump(&r), 0);
	assert_true(file_says(r.path, "input_boolean.a", "on"));
	set(&r, &a, "off");
	struct busy b;
	tu_latch_init(&b.started, 1);
	tu_latch_init(&b.gate, 1);
	struct jam j = {.core = r.t.core, .b = &b};
	tu_on_loop(&r.t, jam_on_loop, &j);
	assert_int_equal(j.rc, 0);
	assert_true(tu_latch_wait(&b.started, TU_TIMEOUT));
	assert_int_equal(tu_loop_stop(&r.t), 0);
	json_t *doc = load_file(r.path);
	assert_string_equal(state_in(doc, "input_boolean.a"), "off");
	json_decref(doc);
	tu_latch_destroy(&b.started);
	tu_latch_destroy(&b.gate);
	rm_dir(dir);
}

/* STATE_DUMP_INTERVAL: with the fake clock 15 minutes on, the file holds
 * the state as it is now, without a stop. */
static void the_states_are_written_every_15_minutes(void **state)
{
	(void)state;
	char dir[64];
	new_dir(dir, sizeof dir);
	struct run r;
	run_start(&r, dir, 2);
	struct ent a = {.id = "a"};
	add(&r, &a);
	assert_int_equal(dump(&r), 0);
	assert_true(file_says(r.path, "input_boolean.a", "fresh"));
	set(&r, &a, "later");
	struct call c = {.r = &r};
	tu_on_loop(&r.t, advance_on_loop, &c);
	assert_true(file_says(r.path, "input_boolean.a", "later"));
	assert_int_equal(tu_loop_stop(&r.t), 0);
	rm_dir(dir);
}

/* async_restore_entity_removed: an entity removed (a reload) keeps its
 * last state for one of the same id added again, and that state is
 * written while the id has no entity. */
static void a_removed_entity_keeps_its_last_state_for_the_next_one(void **state)
{
	(void)state;
	char dir[64];
	new_dir(dir, sizeof dir);
	struct run r;
	run_start(&r, dir, 2);
	struct ent a = {.id = "a"};
	add(&r, &a);
	set(&r, &a, "kept");
	struct call c = {.r = &r, .x = &a};
	tu_on_loop(&r.t, remove_on_loop, &c);
	assert_int_equal(c.rc, 0);
	assert_int_equal(dump(&r), 0);
	json_t *doc = load_file(r.path);
	assert_string_equal(state_in(doc, "input_boolean.a"), "kept");
	json_decref(doc);
	struct ent again = {.id = "a"};
	add(&r, &again);
	assert_string_equal(again.restored, "kept");
	assert_int_equal(tu_loop_stop(&r.t), 0);
	rm_dir(dir);
}

/* STATE_EXPIRATION: a kept state whose entity has not been seen for a
 * week is not written again; one seen six days ago is. */
static void a_state_unseen_for_a_week_is_dropped(void **state)
{
	(void)state;
	char dir[64], path[128], old[40], recent[40];
	new_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/%s", dir, RESTORE_FILE);
	double now = (double)time(NULL);
	mqb_isoformat(now - 8 * 86400, old);
	mqb_isoformat(now - 6 * 86400, recent);
	char text[1024];
	int n = snprintf(text, sizeof text,
			 "{\"version\":1,\"key\":\"mqbridge.restore_state\",\"data\":["
			 "{\"state\":{\"entity_id\":\"input_boolean.old\",\"state\":\"on\"},"
			 "\"extra_data\":null,\"last_seen\":\"%s\"},"
			 "{\"state\":{\"entity_id\":\"input_boolean.recent\",\"state\":\"on\","
			 "\"attributes\":{}},\"last_seen\":\"%s\"}]}",
			 old, recent);
	spit(path, text, (size_t)n);
	struct run r;
	run_start(&r, dir, 2);
	assert_int_equal(dump(&r), 0);
	assert_int_equal(tu_loop_stop(&r.t), 0);
	json_t *doc = load_file(path);
	assert_null(state_in(doc, "input_boolean.old"));
	assert_string_equal(state_in(doc, "input_boolean.recent"), "on");
	json_decref(doc);
	rm_dir(dir);
}

/* test_load_error: what cannot be read is logged and the run starts
 * without restored states; items that are not states are skipped, the
 * rest kept. */
static char logged[4096];
static void capture(void *ud, enum mqb_log_level level, const char *sub, const char *line)
{
	if (level >= MQB_LOG_WARNING && strlen(logged) + strlen(line) + 2 < sizeof logged) {
		strcat(logged, line);
		strcat(logged, "\n");
	}
}

static int restore_sink(void **state)
{
	(void)state;
	mqb_log_set_sink(NULL, NULL);
	return 0;
}

static void a_corrupt_file_is_logged_and_survived(void **state)
{
	(void)state;
	char dir[64], path[128];
	new_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/%s", dir, RESTORE_FILE);
	static const char *const bad[] = {
		"{\"data\": [",
		"[1, 2, 3]",
		"\x89PNG\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		spit(path, bad[i], strlen(bad[i]));
		logged[0] = '\0';
		mqb_log_set_sink(capture, NULL);
		struct run r;
		run_start(&r, dir, 1);
		mqb_log_set_sink(NULL, NULL);
		struct ent a = {.id = "a"};
		add(&r, &a);
		assert_string_equal(a.restored, "");
		assert_int_equal(tu_loop_stop(&r.t), 0);
		assert_non_null(strstr(logged, "starting without restored states"));
	}
	const char *mixed = "{\"data\":[{\"state\":{\"entity_id\":\"Not An Id\",\"state\":\"x\"},"
			    "\"last_seen\":\"2024-01-01T00:00:00+00:00\"},7,"
			    "{\"state\":{\"entity_id\":\"input_boolean.a\",\"state\":\"on\"},"
			    "\"last_seen\":\"2024-01-01T00:00:00+00:00\"}]}";
	spit(path, mixed, strlen(mixed));
	logged[0] = '\0';
	mqb_log_set_sink(capture, NULL);
	struct run r;
	run_start(&r, dir, 1);
	mqb_log_set_sink(NULL, NULL);
	struct ent a = {.id = "a"};
	add(&r, &a);
	assert_string_equal(a.restored, "on");
	assert_non_null(strstr(logged, "2 entries that are not states were skipped"));
	assert_int_equal(tu_loop_stop(&r.t), 0);
	rm_dir(dir);
}

/* The file cut at every byte (a disk that lost its tail): each start
 * survives it, restoring nothing but from the whole file. In-process and
 * without the loop running, as the daemon reads it before it runs. */
static void a_file_cut_at_every_byte_is_survived(void **state)
{
	(void)state;
	char dir[64];
	new_dir(dir, sizeof dir);
	struct run r;
	run_start(&r, dir, 1);
	struct ent a = {.id = "a", .with_extra = true}, b = {.id = "b"};
	add(&r, &a);
	add(&r, &b);
	set(&r, &a, "on");
	set(&r, &b, "\xc3\xa9t\xc3\xa9"); /* "été": cut inside a character too */
	assert_int_equal(tu_loop_stop(&r.t), 0);
	size_t len = 0;
	char *whole = slurp(r.path, &len);
	assert_non_null(whole);
	assert_true(len > 200);
	mqb_log_set_level(MQB_LOG_ERROR);
	for (size_t cut = 0; cut <= len; cut++) {
		spit(r.path, whole, cut);
		struct mqb_core_options opt;
		mqb_core_options_init(&opt);
		opt.executor_threads = 1;
		struct mqb_core *core;
		assert_int_equal(mqb_core_new(&opt, &core), 0);
		assert_int_equal(entities__init(core, "tr"), 0);
		assert_int_equal(restore__async_init(core, dir), 0);
		assert_int_equal(restore__load(core), 0);
		struct mqb_platform *p = entities__platform(core, &desc, &dom);
		struct ent x = {.id = "a"};
		struct mqb_entity_info info = {.object_id = "a"};
		assert_int_equal(mqb_platform_async_add_entity(p, &info, &ent_ops, &x, &x.e), 0);
		if (cut == len)
			assert_string_equal(x.restored, "on");
		else
			assert_string_equal(x.restored, "");
		mqb_core_free(core);
	}
	mqb_log_set_level(MQB_LOG_INFO);
	free(whole);
	rm_dir(dir);
}

/* A directory that cannot be written (here a file in its place): each
 * write fails, is logged, and the run goes on. */
static void an_unwritable_directory_is_logged_and_survived(void **state)
{
	(void)state;
	char dir[64], file[96];
	new_dir(dir, sizeof dir);
	snprintf(file, sizeof file, "%s/not-a-dir", dir);
	spit(file, "x", 1);
	logged[0] = '\0';
	mqb_log_set_sink(capture, NULL);
	struct run r;
	run_start(&r, file, 1);
	struct ent a = {.id = "a"};
	add(&r, &a);
	assert_int_equal(dump(&r), -ENOTDIR);
	set(&r, &a, "still");
	assert_int_equal(tu_loop_stop(&r.t), 0);
	mqb_log_set_sink(NULL, NULL);
	assert_non_null(strstr(logged, "cannot write"));
	rm_dir(dir);
}

/* Nothing opted in and no file: nothing is written (a configuration
 * without helpers leaves the state directory alone). */
static void without_states_nothing_is_written(void **state)
{
	(void)state;
	char dir[64];
	new_dir(dir, sizeof dir);
	struct run r;
	run_start(&r, dir, 1);
	assert_int_equal(dump(&r), 1);
	assert_int_equal(tu_loop_stop(&r.t), 0);
	assert_int_equal(access(r.path, F_OK), -1);
	rm_dir(dir);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(what_was_written_at_stop_comes_back_in_the_next_run),
	cmocka_unit_test(the_stop_write_happens_though_the_pool_is_busy),
	cmocka_unit_test(the_states_are_written_every_15_minutes),
	cmocka_unit_test(a_removed_entity_keeps_its_last_state_for_the_next_one),
	cmocka_unit_test(a_state_unseen_for_a_week_is_dropped),
	cmocka_unit_test_teardown(a_corrupt_file_is_logged_and_survived, restore_sink),
	cmocka_unit_test(a_file_cut_at_every_byte_is_survived),
	cmocka_unit_test_teardown(an_unwritable_directory_is_logged_and_survived, restore_sink),
	cmocka_unit_test(without_states_nothing_is_written),
};

TU_MAIN(tests)
