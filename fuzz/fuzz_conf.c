/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the configuration loader: any bytes as a main file
 * in a scratch directory that holds a few files to include and a
 * secrets.yaml, then every node walked, every automation's and script's
 * actions, conditions and variables compiled by the script engine, and
 * every error printed. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mqbridge/condition.h"
#include "mqbridge/config.h"
#include "mqbridge/script.h"
#include "config/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static FILE *devnull;

static void put(const char *name, const char *text)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void remove_dir(void)
{
	static const char *const files[] = { "pkg/b.yaml", "pkg/sub/c.yaml", "pkg/sub",
					     "pkg", "a.yaml", "list.yaml", "secrets.yaml" };
	char path[128];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		if (unlink(path) < 0)
			rmdir(path);
	}
	rmdir(dir);
}

/* The scratch directory, made once per process: names the inputs may use
 * are a.yaml, list.yaml, pkg/ (with a subdirectory) and the secrets
 * mqtt_password, device and token. */
static void setup(void)
{
	if (dir[0])
		return;
	strcpy(dir, "/tmp/mqb-fuzz-conf-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	char path[128];
	snprintf(path, sizeof path, "%s/pkg", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/pkg/sub", dir);
	mkdir(path, 0700);
	put("a.yaml", "name: included\nlist: [1, 2]\n");
	put("list.yaml", "- platform: mqtt\n  state_topic: a/b\n");
	put("pkg/b.yaml", "- b1\n- b2\n");
	put("pkg/sub/c.yaml", "- c1\n");
	put("secrets.yaml", "mqtt_password: hunter2\ndevice: {id: 1}\ntoken: &t abc\n");
	devnull = fopen("/dev/null", "w");
	atexit(remove_dir);
}

/* Walk every node (depth is bounded by the loader), calling each accessor. */
static size_t walk(const struct mqb_conf_node *n, unsigned depth)
{
	char buf[32];
	size_t len, count = 1;
	struct mqb_conf_mark m = mqb_conf_mark(n);
	if (!m.file || m.line == 0 || m.column == 0 || depth > 200)
		abort();
	mqb_conf_display(n, buf, sizeof buf);
	if (strlen(buf) >= sizeof buf)
		abort();
	switch (mqb_conf_kind(n)) {
	case MQB_CONF_SCALAR:
	case MQB_CONF_NULL:
		if (!mqb_conf_scalar(n, &len) || mqb_conf_scalar(n, NULL)[len] != '\0')
			abort();
		break;
	case MQB_CONF_SEQ:
		for (size_t i = 0; i < mqb_conf_len(n) && count < 1000000; i++)
			count += walk(mqb_conf_item(n, i), depth + 1);
		break;
	case MQB_CONF_MAP:
		for (size_t i = 0; i < mqb_conf_len(n) && count < 1000000; i++) {
			const struct mqb_conf_node *k = mqb_conf_key(n, i);
			count += walk(k, depth + 1) + walk(mqb_conf_value(n, i), depth + 1);
			const char *ks = mqb_conf_scalar(k, &len);
			if (ks && mqb_conf_kind(k) == MQB_CONF_SCALAR && strlen(ks) == len &&
			    !mqb_conf_get(n, ks))
				abort();
		}
		break;
	}
	return count;
}

/* One automation or script's parts through the engine's compilers;
 * nothing is kept, only errors. */
static void compile_parts(const struct mqb_conf_node *item, const char *seq_key,
			  struct mqb_conf_errors *errs)
{
	const struct mqb_conf_node *n;
	const char *acts[] = { seq_key, "actions", "action" };
	for (int i = 0; i < 3; i++)
		if ((n = mqb_conf_get(item, acts[i])))
			mqb_script_compile(n, "fuzz.action", NULL, errs, NULL);
	const char *conds[] = { "conditions", "condition" };
	for (int i = 0; i < 2; i++)
		if ((n = mqb_conf_get(item, conds[i])))
			mqb_condition_compile(n, "fuzz.condition", errs, NULL);
	if ((n = mqb_conf_get(item, "variables")))
		mqb_script_variables_compile(n, "fuzz.variables", errs, NULL);
}

static void compile_engine(const struct mqb_conf_node *root, struct mqb_conf_errors *errs)
{
	if (mqb_conf_kind(root) != MQB_CONF_MAP)
		return;
	for (size_t i = 0; i < mqb_conf_len(root); i++) {
		size_t len;
		const char *key = mqb_conf_scalar(mqb_conf_key(root, i), &len);
		const struct mqb_conf_node *v = mqb_conf_value(root, i);
		if (!key)
			continue;
		if (strncmp(key, "automation", 10) == 0) {
			if (mqb_conf_kind(v) == MQB_CONF_MAP)
				compile_parts(v, "sequence", errs);
			for (size_t k = 0; mqb_conf_kind(v) == MQB_CONF_SEQ && k < mqb_conf_len(v); k++)
				if (mqb_conf_kind(mqb_conf_item(v, k)) == MQB_CONF_MAP)
					compile_parts(mqb_conf_item(v, k), "sequence", errs);
		} else if (strncmp(key, "script", 6) == 0 && mqb_conf_kind(v) == MQB_CONF_MAP) {
			for (size_t k = 0; k < mqb_conf_len(v); k++)
				if (mqb_conf_kind(mqb_conf_value(v, k)) == MQB_CONF_MAP)
					compile_parts(mqb_conf_value(v, k), "sequence", errs);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	struct mqb_conf_errors errs;
	struct mqb_conf_doc *doc = NULL;
	mqb_conf_errors_init(&errs);
	int rc = conf__load_string("fuzz.yaml", dir, (const char *)data, size, NULL, &doc, &errs);
	if (rc == 0) {
		if (mqb_conf_root(doc)) {
			walk(mqb_conf_root(doc), 0);
			compile_engine(mqb_conf_root(doc), &errs);
		}
	} else if (doc || (rc == -22 && errs.n == 0)) {
		abort(); /* a failure returns no document and says why */
	}
	/* A secret's value in an error, unless the input wrote it itself. */
	bool wrote = memmem(data, size, "hunter2", 7) != NULL;
	for (size_t i = 0; i < errs.n && !wrote; i++)
		if (strstr(errs.v[i].message, "hunter2"))
			abort();
	mqb_conf_errors_print(&errs, devnull);
	mqb_conf_errors_fini(&errs);
	mqb_conf_doc_free(doc);
	return 0;
}
