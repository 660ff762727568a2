/* SPDX-License-Identifier: MIT */
/* The compatibility corpus: configurations in the shapes Home Assistant's
 * documentation and the device projects (Tasmota, zigbee2mqtt, ESPHome,
 * Shelly, OpenMQTTGateway) publish, t/data/corpus/NAME.yaml, each passing
 * `mqbridge -C` and then run end to end against a real mosquitto by the
 * script beside it, NAME.run:
 *
 *   pub TOPIC PAYLOAD      a device publishes (not retained)
 *   retain TOPIC PAYLOAD   a device publishes, retained
 *   set ENTITY PAYLOAD     a command to <base>/ENTITY/set ("switch/pump")
 *   expect TOPIC PAYLOAD   TOPIC carries PAYLOAD after the last pub or set;
 *                          "@" at its start is <base>/
 *   config ENTITY KEY VALUE   its discovery has KEY = VALUE (JSON text)
 *   log TEXT               the daemon's log has a line with TEXT
 *
 * Each payload is the rest of the line, possibly empty. */
#include "config.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "daemon.h"
#include "testutil.h"

#define BASE "mqbridge/corpus/"
#define PREFIX "homeassistant/"

static struct td T;
static int teardown(void **state)
{
	(void)state;
	td_fini(&T);
	return 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int c;
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(m);
	fclose(f);
	return buf;
}

static void topic_of(const char *word, char *out, size_t len)
{
	if (word[0] == '@')
		snprintf(out, len, BASE "%s", word + 1);
	else
		snprintf(out, len, "%s", word);
}

/* ENTITY ("light/kitchen") -> its discovery's KEY, as JSON text. */
static void check_config(const char *name, int line, const char *entity, const char *key,
			 const char *want)
{
	char topic[512], domain[64];
	const char *slash = strchr(entity, '/');
	snprintf(domain, sizeof domain, "%.*s", slash ? (int)(slash - entity) : 0, entity);
	snprintf(topic, sizeof topic, PREFIX "%s/corpus/%s/config", domain, slash ? slash + 1 : "");
	if (td_wait(&T, topic, NULL, TU_TIMEOUT) < 0) {
		td_dump(&T);
		fail_msg("%s.run:%d: no discovery on %s", name, line, topic);
	}
	json_t *d = json_loads(td_last(&T, topic), 0, NULL);
	json_t *v = json_object_get(d, key);
	char *got = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("(none)");
	json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
	bool same = w && v && json_equal(v, w);
	json_decref(w);
	json_decref(d);
	if (!same) {
		fprintf(stderr, "%s.run:%d: %s: %s is %s, want %s, in\n%s\n", name, line, topic, key,
			got, want, td_last(&T, topic));
		free(got);
		fail_msg("discovery differs");
	}
	free(got);
}

static void run_script(const char *name, const char *script)
{
	/* Until the first pub or set, what was published since the start:
	 * the states of the start come before "online", which waits for the
	 * subscriptions. */
	long since = 0;
	/* A run of pub, retain and set lines is one step: what follows it may
	 * come from any of them, so the count is taken at its first line. */
	bool stepping = false;
	int line = 0;
	for (const char *p = script; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char buf[2048];
		snprintf(buf, sizeof buf, "%.*s", (int)len, p);
		p += len + (nl != NULL);
		line++;
		char verb[16], a[512], b[256];
		int off = 0;
		if (buf[0] == '#' || sscanf(buf, "%15s %511s%n", verb, a, &off) < 2)
			continue;
		const char *rest = buf + off + (buf[off] == ' ');
		char topic[600];
		bool step = strcmp(verb, "pub") == 0 || strcmp(verb, "retain") == 0 ||
			    strcmp(verb, "set") == 0;
		if (step && !stepping)
			since = td_count(&T);
		stepping = step;
		if (strcmp(verb, "pub") == 0 || strcmp(verb, "retain") == 0) {
			topic_of(a, topic, sizeof topic);
			if (strcmp(verb, "retain") == 0)
				td_pub(&T, topic, rest, true);
			else
				td_device(&T, topic, rest);
		} else if (strcmp(verb, "set") == 0) {
			snprintf(topic, sizeof topic, BASE "%s/set", a);
			td_pub(&T, topic, rest, false);
		} else if (strcmp(verb, "expect") == 0) {
			topic_of(a, topic, sizeof topic);
			if (td_wait_after(&T, since, topic, rest, TU_TIMEOUT) < 0) {
				td_dump(&T);
				const char *last = td_last(&T, topic);
				fail_msg("%s.run:%d: %s never carried '%s' (last: %s)", name, line, topic,
					 rest, last ? last : "nothing");
			}
		} else if (strcmp(verb, "log") == 0) {
			td_expect_log(&T, buf + 4);
		} else if (strcmp(verb, "config") == 0 && sscanf(rest, "%255s%n", b, &off) == 1) {
			check_config(name, line, a, b, rest + off + (rest[off] == ' '));
		} else {
			fail_msg("%s.run:%d: cannot read '%s'", name, line, buf);
		}
	}
}

/* NAME.yaml: -C passes without an error, then NAME.run holds. */
static void run_case(const char *dir, const char *name)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
	char *yaml = slurp(path);
	assert_non_null(yaml);
	snprintf(path, sizeof path, "%s/%s.run", dir, name);
	char *script = slurp(path);
	if (!script)
		fail_msg("%s.yaml has no %s.run beside it", name, name);
	td_init(&T, NULL);
	td_write_config(&T, yaml);
	char err[4096];
	int rc = td_run(&T, err, sizeof err, "-C", NULL);
	if (rc != 0)
		fail_msg("%s.yaml: mqbridge -C exits %d:\n%s", name, rc, err);
	if (strstr(err, "error"))
		fprintf(stderr, "%s.yaml: -C says:\n%s", name, err);
	td_start(&T, NULL);
	td_expect(&T, BASE "status", "online");
	run_script(name, script);
	td_stop_clean(&T);
	td_fini(&T);
	free(yaml);
	free(script);
}

static void every_configuration_of_the_corpus_loads_and_runs(void **state)
{
	(void)state;
	struct dirent **ents;
	int n = scandir(CORPUS_DIR, &ents, NULL, alphasort);
	assert_true(n > 0);
	int cases = 0;
	const char *only = getenv("MQB_CORPUS");
	for (int i = 0; i < n; i++) {
		char name[256];
		size_t len = strlen(ents[i]->d_name);
		if (len > 5 && strcmp(ents[i]->d_name + len - 5, ".yaml") == 0 &&
		    (!only || strncmp(ents[i]->d_name, only, strlen(only)) == 0)) {
			snprintf(name, sizeof name, "%.*s", (int)(len - 5), ents[i]->d_name);
			fprintf(stderr, "corpus: %s\n", name);
			run_case(CORPUS_DIR, name);
			cases++;
		}
		free(ents[i]);
	}
	free(ents);
	assert_true(only || cases >= 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(every_configuration_of_the_corpus_loads_and_runs, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
