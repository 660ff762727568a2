/* SPDX-License-Identifier: MIT */
/* State that survives a restart (mqbridge/restore.h), Home Assistant's
 * helpers/restore_state.py: the last states of entities that opt in, read
 * from the state file at start-up, before the loop runs and the
 * integrations are set up, and written atomically in the pool (temporary file, fsync, rename, fsync of the
 * directory) when the daemon has started, every 15 minutes and, as a
 * final job the shutdown waits for, at stop. */
#include "lib/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "core/loop.h"
#include "ha/restore_impl.h"
#include "lib/hashmap.h"
#include "mqbridge/bus.h"
#include "mqbridge/coro.h"
#include "mqbridge/entity.h"
#include "mqbridge/future.h"
#include "mqbridge/json.h"
#include "mqbridge/restore.h"
#include "mqbridge/states.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"

#define SUB "restore"
#define DATA_KEY "mqbridge.restore"

/* Home Assistant's STATE_DUMP_INTERVAL and STATE_EXPIRATION: a state
 * whose entity is gone is kept for a week. */
#define DUMP_INTERVAL (15 * 60.0)
#define EXPIRATION (7 * 86400.0)
/* Home Assistant's key and version, so the file says what it is. */
#define FILE_KEY "mqbridge.restore_state"
#define FILE_VERSION 1
/* A state file larger than this is not read (a thousand helpers take
 * about half a megabyte). */
#define MAX_FILE_SIZE (64u << 20)

/* What the write jobs share: they run in the pool and may outlive the
 * core (one abandoned at shutdown), so it is counted. */
struct writer {
	atomic_int refs;
	pthread_mutex_t lock;    /* one write at a time */
	unsigned long long done; /* the newest snapshot written */
	char *dir, *path, *tmp;
};

/* An opted-in entity. */
struct reg {
	struct mqb_entity *e;
	mqb_restore_extra_fn extra;
	void *ud;
};

struct restore {
	struct mqb_core *core;
	struct writer *w;
	/* entity id -> {"state": {...}, "extra_data": ..., "last_seen": "..."} */
	json_t *last;
	struct hashmap regs;      /* entity id (the entity's own string) -> struct reg */
	struct mqb_timer *interval;
	struct mqb_listener *on_start, *on_stop;
	unsigned long long seq;   /* snapshots taken */
	bool loaded;              /* the file was read (or found missing or bad) */
	bool had_states;          /* it held some, or a write did: keep it current */
	bool stopping;
};

static struct restore *of(struct mqb_core *core)
{
	return mqb_core_async_data(core, DATA_KEY);
}

/* ---- the writer ----------------------------------------------------------- */

static void writer_unref(struct writer *w)
{
	if (!w || atomic_fetch_sub(&w->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&w->lock);
	mqb__free(w->dir);
	mqb__free(w->path);
	mqb__free(w->tmp);
	mqb__free(w);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The whole text to a temporary file, on disk, renamed over the state
 * file, and the rename on disk: a crash at any point leaves either the
 * old file or the new one whole. */
static int write_atomically(struct writer *w, const char *text, size_t len)
{
	if (mkdir(w->dir, 0750) && errno != EEXIST)
		return -errno;
	int fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = write_all(fd, text, len);
	if (!rc && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(w->tmp, w->path))
		rc = -errno;
	if (rc) {
		unlink(w->tmp);
		return rc;
	}
	int dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fsync(dfd))
		rc = -errno;
	close(dfd);
	return rc;
}

/* A write: the states as the loop saw them (references: a state is
 * immutable, so the pool may read it) and all else the job's alone. */
struct write_job {
	struct writer *w;
	struct mqb_state **states;
	json_t **extras;          /* each entity's extra data, or NULL */
	size_t n;
	json_t *kept;             /* stored states of entities not in this run */
	double seen;              /* when the snapshot was taken */
	unsigned long long seq;
};

static void write_job_free(void *p)
{
	struct write_job *j = p;
	for (size_t i = 0; i < j->n; i++) {
		mqb_state_unref(j->states[i]);
		json_decref(j->extras[i]);
	}
	mqb__free(j->states);
	mqb__free(j->extras);
	json_decref(j->kept);
	writer_unref(j->w);
	mqb__free(j);
}

static json_t *stored(json_t *state, json_t *extra, double seen);

/* The file's document: Home Assistant's StoredState.as_dict of each
 * state, then the kept ones. Takes the extras and the kept items. */
static json_t *document(struct write_job *j)
{
	json_t *data = json_array();
	for (size_t i = 0; data && i < j->n; i++) {
		json_t *item = stored(mqb_state_to_json(j->states[i]), j->extras[i], j->seen);
		j->extras[i] = NULL;
		if (!item || json_array_append_new(data, item)) {
			json_decref(data);
			return NULL;
		}
	}
	if (!data || json_array_extend(data, j->kept)) {
		json_decref(data);
		return NULL;
	}
	return json_pack("{s:i, s:s, s:o}", "version", FILE_VERSION, "key", FILE_KEY, "data",
			 data);
}

/* Pool: the document, serialised and written, unless a newer snapshot is
 * on disk already (the final write can overtake a periodic one still
 * queued). */
static int write_run(void *ud, void *arg, void **result)
{
	(void)ud;
	(void)result;
	struct write_job *j = arg;
	struct writer *w = j->w;
	double t0 = mqb_time_monotonic();
	json_t *doc = document(j);
	char *text = doc ? mqb_json_dumps(doc, MQB_JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	int rc = 0;
	pthread_mutex_lock(&w->lock);
	if (j->seq > w->done) {
		rc = write_atomically(w, text, len);
		if (rc == 0)
			w->done = j->seq;
	}
	pthread_mutex_unlock(&w->lock);
	if (rc)
		MQB_LOG_WARNING(SUB, "cannot write %s: %s; it keeps what was written last", w->path,
				mqb_strerror(rc));
	else
		MQB_LOG_DEBUG(SUB, "%s written: %zu bytes in %.1f ms", w->path, len,
			      (mqb_time_monotonic() - t0) * 1e3);
	free(text);
	return rc;
}

/* ---- taking a snapshot ------------------------------------------------------ */

static json_t *stored(json_t *state, json_t *extra, double seen)
{
	if (!state) {
		json_decref(extra);
		return NULL;
	}
	char iso[MQB_ISOFORMAT_MAX];
	mqb_isoformat(seen, iso);
	return json_pack("{s:o, s:o, s:s}", "state", state, "extra_data", extra ? extra : json_null(),
			 "last_seen", iso);
}

/* What an opted-in entity would store now: its state as the state
 * machine has it, and its extra data. NULL when it has no state (or on
 * ENOMEM). */
static json_t *stored_now(struct restore *r, const struct reg *g, double now)
{
	struct mqb_state *s = mqb_states_async_get(r->core, mqb_entity_id(g->e));
	if (!s)
		return NULL;
	json_t *st = mqb_state_to_json(s);
	mqb_state_unref(s);
	return stored(st, g->extra ? g->extra(g->e, g->ud) : NULL, now);
}

static bool expired(const json_t *item, double now)
{
	double seen;
	int32_t off;
	bool aware;
	const char *s = json_string_value(json_object_get(item, "last_seen"));
	return !s || !mqb_parse_datetime(s, &seen, &off, &aware) || seen < now - EXPIRATION;
}

/* Home Assistant's async_get_stored_states, taken on the loop: a
 * reference to each opted-in entity's state and its extra data, then
 * copies of the kept states of entities not in this run, unless a week
 * old. The JSON is made and written in the pool. NULL when there is
 * nothing to write, or on ENOMEM (*oom). */
static struct write_job *snapshot(struct restore *r, bool *oom)
{
	struct write_job *j = mqb__calloc(1, sizeof *j);
	size_t cap = hashmap__count(&r->regs);
	*oom = true;
	if (!j)
		return NULL;
	j->seen = mqb_async_now(r->core);
	if (!(j->kept = json_array()) ||
	    (cap && (!(j->states = mqb__calloc(cap, sizeof *j->states)) ||
		     !(j->extras = mqb__calloc(cap, sizeof *j->extras)))))
		goto fail;
	size_t it = 0;
	struct hashmap_entry *en;
	while ((en = hashmap__next(&r->regs, &it)) && j->n < cap) {
		const struct reg *g = en->value;
		struct mqb_state *s = mqb_states_async_get(r->core, mqb_entity_id(g->e));
		if (!s)
			continue;
		j->states[j->n] = s;
		j->extras[j->n++] = g->extra ? g->extra(g->e, g->ud) : NULL;
	}
	const char *id;
	json_t *item;
	json_object_foreach(r->last, id, item) {
		struct mqb_state *s = mqb_states_async_get(r->core, id);
		mqb_state_unref(s);
		if (s || expired(item, j->seen))
			continue;
		if (json_array_append_new(j->kept, json_deep_copy(item)))
			goto fail;
	}
	*oom = false;
	if (j->n + json_array_size(j->kept) == 0 && !r->had_states)
		goto fail;
	r->had_states = true;
	return j;
fail:
	write_job_free(j);
	return NULL;
}

/* Queue a write of the states as they are now; final: at stop, a job the
 * shutdown runs and waits for. */
static int dump(struct restore *r, bool final, struct mqb_future **out)
{
	if (out)
		*out = NULL;
	if (!r->loaded)
		return 0; /* never overwrite a file not read yet */
	bool oom;
	double t0 = mqb_time_monotonic();
	struct write_job *j = snapshot(r, &oom);
	if (!j) {
		if (oom)
			MQB_LOG_WARNING(SUB, "out of memory taking the states to write");
		return oom ? -ENOMEM : 0;
	}
	MQB_LOG_DEBUG(SUB, "%zu states taken on the loop in %.2f ms", j->n,
		      (mqb_time_monotonic() - t0) * 1e3);
	atomic_fetch_add(&r->w->refs, 1);
	j->w = r->w;
	j->seq = ++r->seq;
	struct mqb_job job = MQB_EXECUTOR(write_run, NULL);
	int rc = final ? core__async_add_final_job(r->core, &job, j, write_job_free, out)
		       : mqb_async_add_job(r->core, &job, j, write_job_free, out);
	if (rc) {
		write_job_free(j);
		MQB_LOG_WARNING(SUB, "cannot queue the write of %s: %s", r->w->path,
				mqb_strerror(rc));
	}
	return rc;
}

int restore__async_dump(struct mqb_core *core, struct mqb_future **out)
{
	MQB_ASSERT_LOOP(core);
	struct restore *r = of(core);
	if (out)
		*out = NULL;
	return r ? dump(r, false, out) : -ENOENT;
}

/* ---- when to write ---------------------------------------------------------- */

static void on_interval(struct mqb_timer *t, void *ud)
{
	(void)t;
	dump(ud, false, NULL);
}

/* Home Assistant writes once it has started (so old states it read are
 * soon replaced), then every 15 minutes: from the start or, when the file
 * is read later (a test), from then. */
static void begin_writing(struct restore *r)
{
	if (r->stopping || r->interval || !r->loaded || !mqb_core_async_started(r->core))
		return;
	dump(r, false, NULL);
	int rc = mqb_async_track_time_interval(r->core, DUMP_INTERVAL, on_interval, r,
					       &r->interval);
	if (rc)
		MQB_LOG_WARNING(SUB, "cannot write %s every 15 minutes: %s", r->w->path,
				mqb_strerror(rc));
}

static int on_start(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct restore *r = ud;
	r->on_start = NULL;
	begin_writing(r);
	return 0;
}

static int on_stop(void *ud, void *arg, void **result)
{
	(void)arg;
	(void)result;
	struct restore *r = ud;
	r->on_stop = NULL;
	r->stopping = true;
	mqb_async_timer_cancel(r->interval);
	r->interval = NULL;
	dump(r, true, NULL);
	return 0;
}

/* ---- reading ------------------------------------------------------------------- */

/* What reading found: the load job's result, owned by its future. */
struct load {
	json_t *last;      /* entity id -> stored state; NULL: none read */
	size_t skipped;    /* items that were not states */
	bool missing;
};

static void load_free(void *p)
{
	struct load *l = p;
	json_decref(l->last);
	mqb__free(l);
}

/* One item of the file as Home Assistant's StoredState.from_dict takes
 * it, checked as a state the state machine would take; NULL if it is
 * not one. */
static json_t *item_of(const json_t *item, const char **id)
{
	const json_t *st = json_object_get(item, "state");
	const char *eid = json_string_value(json_object_get(st, "entity_id"));
	const char *value = json_string_value(json_object_get(st, "state"));
	const json_t *attrs = json_object_get(st, "attributes");
	const char *seen = json_string_value(json_object_get(item, "last_seen"));
	if (!eid || !mqb_entity_id_valid(eid) || !value || !mqb_state_value_valid(value) || !seen ||
	    (attrs && !json_is_object(attrs)))
		return NULL;
	*id = eid;
	json_t *copy = json_deep_copy(item);
	json_t *cst = json_object_get(copy, "state");
	if (copy && !attrs)
		json_object_set_new(cst, "attributes", json_object());
	return copy;
}

/* Read the state file (arg: the writer, whose path it is) whole and keep
 * its states in *result. */
static int load_run(void *ud, void *arg, void **result)
{
	(void)ud;
	const char *path = ((struct writer *)arg)->path;
	struct load *l = mqb__calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	*result = l;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			l->missing = true;
			return 0;
		}
		int rc = -errno;
		MQB_LOG_WARNING(SUB, "cannot read %s: %s; starting without restored states",
				path, mqb_strerror(rc));
		return 0;
	}
	struct stat sb;
	char *buf = NULL;
	size_t len = 0;
	int rc = 0;
	if (fstat(fd, &sb)) {
		rc = -errno;
	} else if ((unsigned long long)sb.st_size > MAX_FILE_SIZE) {
		rc = -EFBIG;
	} else if (!(buf = mqb__malloc((size_t)sb.st_size + 1))) {
		rc = -ENOMEM;
	} else {
		while (len < (size_t)sb.st_size) {
			ssize_t n = read(fd, buf + len, (size_t)sb.st_size - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				rc = n < 0 ? -errno : 0;
				break;
			}
			len += (size_t)n;
		}
	}
	close(fd);
	if (rc) {
		MQB_LOG_WARNING(SUB, "cannot read %s: %s; starting without restored states",
				path, mqb_strerror(rc));
		mqb__free(buf);
		return 0;
	}
	json_error_t err;
	json_t *doc = json_loadb(buf, len, 0, &err);
	mqb__free(buf);
	const json_t *data = json_object_get(doc, "data");
	if (!json_is_array(data)) {
		if (doc)
			MQB_LOG_WARNING(SUB, "%s is not a state file (no \"data\" list); starting "
					"without restored states", path);
		else
			MQB_LOG_WARNING(SUB, "%s is corrupt (line %d, column %d: %s); starting "
					"without restored states", path, err.line, err.column,
					err.text);
		json_decref(doc);
		return 0;
	}
	if (!(l->last = json_object())) {
		json_decref(doc);
		return -ENOMEM;
	}
	size_t i;
	const json_t *item;
	json_array_foreach(data, i, item) {
		const char *id;
		json_t *kept = item_of(item, &id);
		if (!kept || json_object_set_new(l->last, id, kept))
			l->skipped++;
	}
	json_decref(doc);
	return 0;
}

int restore__load(struct mqb_core *core)
{
	MQB_ASSERT_LOOP(core);
	struct restore *r = of(core);
	if (!r || r->loaded)
		return 0;
	const char *path = r->w->path;
	struct load *l = NULL;
	int rc = load_run(NULL, r->w, (void **)&l);
	if (rc) {
		MQB_LOG_WARNING(SUB, "cannot read %s: %s; starting without restored states", path,
				mqb_strerror(rc));
	} else if (l->last) {
		json_decref(r->last);
		r->last = l->last;
		l->last = NULL;
		r->had_states = json_object_size(r->last) > 0;
		MQB_LOG_INFO(SUB, "%zu states to restore from %s", json_object_size(r->last), path);
		if (l->skipped)
			MQB_LOG_WARNING(SUB, "%s: %zu entries that are not states were skipped", path,
					l->skipped);
	} else if (l->missing) {
		MQB_LOG_DEBUG(SUB, "no %s yet: nothing to restore", path);
	}
	if (l)
		load_free(l);
	r->loaded = true;
	begin_writing(r);
	return 0;
}

/* ---- the core's restore state ----------------------------------------------- */

static void restore_free(void *p)
{
	struct restore *r = p;
	mqb_async_timer_cancel(r->interval);
	if (r->on_start)
		mqb_bus_async_unlisten(r->core, r->on_start);
	if (r->on_stop)
		mqb_bus_async_unlisten(r->core, r->on_stop);
	size_t it = 0;
	struct hashmap_entry *en;
	while ((en = hashmap__next(&r->regs, &it)))
		mqb__free(en->value);
	hashmap__fini(&r->regs);
	json_decref(r->last);
	writer_unref(r->w);
	mqb__free(r);
}

int restore__async_init(struct mqb_core *core, const char *dir)
{
	MQB_ASSERT_LOOP(core);
	if (of(core))
		return -EEXIST;
	struct restore *r = mqb__calloc(1, sizeof *r);
	struct writer *w = r ? mqb__calloc(1, sizeof *w) : NULL;
	if (!w) {
		mqb__free(r);
		return -ENOMEM;
	}
	r->core = core;
	r->w = w;
	atomic_init(&w->refs, 1);
	pthread_mutex_init(&w->lock, NULL);
	hashmap__init(&r->regs);
	int rc = -ENOMEM;
	if (!(w->dir = mqb__strdup(dir)) ||
	    !(w->path = mqb__fmt(NULL, 0, "%s/%s", dir, RESTORE_FILE)) ||
	    !(w->tmp = mqb__fmt(NULL, 0, "%s/%s.tmp", dir, RESTORE_FILE)) ||
	    !(r->last = json_object()))
		goto fail;
	if ((!mqb_core_async_started(core) &&
	     (rc = mqb_bus_async_listen_once(core, MQB_EVENT_START, &MQB_CALLBACK(on_start, r),
					     &r->on_start))) ||
	    (rc = mqb_bus_async_listen_once(core, MQB_EVENT_STOP, &MQB_CALLBACK(on_stop, r),
					    &r->on_stop)) ||
	    (rc = mqb_core_async_set_data(core, DATA_KEY, r, restore_free)))
		goto fail;
	return 0;
fail:
	restore_free(r);
	return rc;
}

/* ---- entities -------------------------------------------------------------------- */

int mqb_restore_async_register(struct mqb_entity *e, mqb_restore_extra_fn extra, void *ud)
{
	struct mqb_core *core = mqb_entity_core(e);
	MQB_ASSERT_LOOP(core);
	struct restore *r = of(core);
	if (!r)
		return 0;
	const char *id = mqb_entity_id(e);
	struct reg *g = hashmap__get(&r->regs, id, strlen(id));
	if (!g) {
		if (!(g = mqb__malloc(sizeof *g)))
			return -ENOMEM;
		if (hashmap__put(&r->regs, id, strlen(id), g, NULL)) {
			mqb__free(g);
			return -ENOMEM;
		}
	}
	*g = (struct reg){.e = e, .extra = extra, .ud = ud};
	return 0;
}

static const json_t *last_of(struct mqb_entity *e)
{
	struct restore *r = of(mqb_entity_core(e));
	return r ? json_object_get(r->last, mqb_entity_id(e)) : NULL;
}

const json_t *mqb_restore_async_last_state(struct mqb_entity *e)
{
	MQB_ASSERT_LOOP(mqb_entity_core(e));
	return json_object_get(last_of(e), "state");
}

const char *mqb_restore_async_last_value(struct mqb_entity *e)
{
	return json_string_value(json_object_get(mqb_restore_async_last_state(e), "state"));
}

const json_t *mqb_restore_async_last_extra_data(struct mqb_entity *e)
{
	MQB_ASSERT_LOOP(mqb_entity_core(e));
	const json_t *x = json_object_get(last_of(e), "extra_data");
	return json_is_null(x) ? NULL : x;
}

/* Home Assistant's async_restore_entity_removed: an entity removed while
 * running (a reload) keeps its last state for one added again. */
void restore__async_entity_removed(struct mqb_entity *e)
{
	struct restore *r = of(mqb_entity_core(e));
	const char *id = mqb_entity_id(e);
	struct reg *g = r ? hashmap__get(&r->regs, id, strlen(id)) : NULL;
	if (!g || g->e != e)
		return;
	json_t *item = stored_now(r, g, mqb_async_now(r->core));
	if (item && json_object_set_new(r->last, id, item))
		MQB_LOG_WARNING(SUB, "%s: out of memory keeping its last state", id);
	hashmap__remove(&r->regs, id, strlen(id));
	mqb__free(g);
}
