/* SPDX-License-Identifier: MIT */
/* The configuration loader: marks, scalars, anchors and merge keys, Home
 * Assistant's tags on the tree in t/data/load/, and the bounds that turn a
 * hostile file into an error found fast. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "lib/internal.h"
#include "mqbridge/config.h"
#include "config/config_impl.h"
#include "config/load.h"

/* ---- helpers ------------------------------------------------------------ */

/* t/data/load: under $srcdir when automake runs the test, else beside
 * this file. */
static const char *data_dir(void)
{
	static char dir[PATH_MAX];
	if (dir[0])
		return dir;
	const char *srcdir = getenv("srcdir");
	if (srcdir) {
		snprintf(dir, sizeof dir, "%s/t/data/load", srcdir);
		if (access(dir, R_OK) == 0)
			return dir;
	}
	snprintf(dir, sizeof dir, "%s", __FILE__);
	char *slash = strrchr(dir, '/');
	snprintf(slash ? slash + 1 : dir, sizeof dir - (size_t)(slash ? slash + 1 - dir : 0),
		 "data/load");
	if (access(dir, R_OK) != 0)
		fail_msg("t/data/load not found (srcdir=%s, tried %s)", srcdir ? srcdir : "", dir);
	return dir;
}

/* data_dir()/rel, in one of a few rotating buffers. */
static const char *data(const char *rel)
{
	static char bufs[4][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 4];
	if (snprintf(b, PATH_MAX, "%s/%s", data_dir(), rel) >= PATH_MAX)
		fail_msg("path too long: %s/%s", data_dir(), rel);
	return b;
}

static void print_errors(const struct mqb_conf_errors *e)
{
	mqb_conf_errors_print(e, stderr);
}

/* Load a fixture that must load cleanly. */
static struct mqb_conf_doc *load_ok(const char *rel)
{
	struct mqb_conf_errors e;
	struct mqb_conf_doc *doc = NULL;
	mqb_conf_errors_init(&e);
	int rc = conf__load(data(rel), NULL, &doc, &e);
	if (rc != 0)
		print_errors(&e);
	assert_int_equal(rc, 0);
	assert_int_equal(e.n, 0);
	mqb_conf_errors_fini(&e);
	return doc;
}

static struct mqb_conf_doc *load_str_ok(const char *text, const char *dir)
{
	struct mqb_conf_errors e;
	struct mqb_conf_doc *doc = NULL;
	mqb_conf_errors_init(&e);
	int rc = conf__load_string("test.yaml", dir, text, strlen(text), NULL, &doc, &e);
	if (rc != 0)
		print_errors(&e);
	assert_int_equal(rc, 0);
	mqb_conf_errors_fini(&e);
	return doc;
}

/* Load text that must fail; the errors stay in e for the caller. */
static void load_str_fails(const char *text, const char *dir, const struct conf_limits *lim,
			   struct mqb_conf_errors *e)
{
	struct mqb_conf_doc *doc = (struct mqb_conf_doc *)1;
	mqb_conf_errors_init(e);
	int rc = conf__load_string("test.yaml", dir, text, strlen(text), lim, &doc, e);
	assert_int_equal(rc, -EINVAL);
	assert_null(doc);
	assert_true(e->n > 0);
}

static void load_fails(const char *rel, const struct conf_limits *lim,
		       struct mqb_conf_errors *e)
{
	struct mqb_conf_doc *doc = (struct mqb_conf_doc *)1;
	mqb_conf_errors_init(e);
	int rc = conf__load(data(rel), lim, &doc, e);
	assert_int_equal(rc, -EINVAL);
	assert_null(doc);
	assert_true(e->n > 0);
}

/* The first error whose message contains needle; fails the test if none. */
static const struct mqb_conf_error *error_with(const struct mqb_conf_errors *e, const char *needle)
{
	for (size_t i = 0; i < e->n; i++)
		if (strstr(e->v[i].message, needle))
			return &e->v[i];
	print_errors(e);
	fail_msg("no error contains \"%s\"", needle);
	return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);
	return s && a >= b && strcmp(s + a - b, suffix) == 0;
}

static void assert_mark_is(struct mqb_conf_mark m, const char *file_suffix, unsigned line,
			   unsigned column)
{
	if (!ends_with(m.file, file_suffix) || m.line != line || m.column != column)
		fail_msg("mark %s:%u:%u, expected *%s:%u:%u", m.file ? m.file : "(null)", m.line,
			 m.column, file_suffix, line, column);
}

/* The node at a path like "top.list[2].b[1]" (keys and indexes). */
static const struct mqb_conf_node *at(const struct mqb_conf_node *n, const char *path)
{
	char key[128];
	const char *p = path;
	while (*p && n) {
		if (*p == '.')
			p++;
		if (*p == '[') {
			char *end;
			unsigned long i = strtoul(p + 1, &end, 10);
			n = mqb_conf_item(n, i);
			p = end + 1;
			continue;
		}
		size_t k = strcspn(p, ".[");
		assert_true(k < sizeof key);
		memcpy(key, p, k);
		key[k] = '\0';
		n = mqb_conf_get(n, key);
		p += k;
	}
	if (!n)
		fail_msg("nothing at %s", path);
	return n;
}

static const char *text(const struct mqb_conf_node *n)
{
	const char *s = mqb_conf_scalar(n, NULL);
	assert_non_null(s);
	return s;
}

/* A path in a fresh temporary directory, removed by rm_tmp. */
static char tmpdir[64];

static const char *tmp_path(const char *name)
{
	static char path[128];
	if (!tmpdir[0]) {
		strcpy(tmpdir, "/tmp/mqb-conf-XXXXXX");
		assert_non_null(mkdtemp(tmpdir));
	}
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	return path;
}

static void rm_tmp(const char *name)
{
	unlink(tmp_path(name));
	rmdir(tmpdir);
	tmpdir[0] = '\0';
}

/* ---- nodes -------------------------------------------------------------- */

static void marks_of_nested_keys_and_list_items_are_one_based(void **state)
{
	struct mqb_conf_doc *doc = load_ok("marks.yaml");
	const struct mqb_conf_node *root = mqb_conf_root(doc);
	assert_int_equal(mqb_conf_kind(root), MQB_CONF_MAP);
	assert_mark_is(mqb_conf_mark(mqb_conf_key(root, 0)), "load/marks.yaml", 2, 1);
	const struct mqb_conf_node *top = at(root, "top");
	assert_mark_is(mqb_conf_mark(mqb_conf_key(top, 0)), "marks.yaml", 3, 3);
	assert_mark_is(mqb_conf_mark(at(root, "top.nested.key")), "marks.yaml", 4, 10);
	assert_mark_is(mqb_conf_mark(at(root, "top.list[0]")), "marks.yaml", 6, 7);
	assert_mark_is(mqb_conf_mark(at(root, "top.list[1]")), "marks.yaml", 7, 9);
	assert_mark_is(mqb_conf_mark(at(root, "top.list[2]")), "marks.yaml", 8, 7);
	assert_mark_is(mqb_conf_mark(at(root, "top.list[2].b[1]")), "marks.yaml", 8, 21);
	assert_string_equal(text(at(root, "top.list[2].b[1]")), "y");
	assert_mark_is(mqb_conf_mark(at(root, "block")), "marks.yaml", 12, 8);
	assert_string_equal(text(at(root, "block")), "text\n");
	mqb_conf_doc_free(doc);
}

static void quoted_scalars_are_told_from_plain_ones(void **state)
{
	struct mqb_conf_doc *doc = load_ok("marks.yaml");
	const struct mqb_conf_node *root = mqb_conf_root(doc);
	assert_true(mqb_conf_quoted(at(root, "quoted")));
	assert_string_equal(text(at(root, "quoted")), "1");
	assert_true(mqb_conf_quoted(at(root, "single")));
	assert_false(mqb_conf_quoted(at(root, "plain")));
	assert_string_equal(text(at(root, "plain")), "3");
	assert_true(mqb_conf_quoted(at(root, "block")));
	mqb_conf_doc_free(doc);
}

static void empty_values_and_tildes_are_null_but_a_quoted_null_is_a_string(void **state)
{
	struct mqb_conf_doc *doc = load_ok("marks.yaml");
	const struct mqb_conf_node *root = mqb_conf_root(doc);
	assert_int_equal(mqb_conf_kind(at(root, "null_value")), MQB_CONF_NULL);
	assert_int_equal(mqb_conf_kind(at(root, "tilde")), MQB_CONF_NULL);
	assert_int_equal(mqb_conf_kind(at(root, "quoted_null")), MQB_CONF_SCALAR);
	assert_null(mqb_conf_get(root, "absent"));
	mqb_conf_doc_free(doc);
}

static void an_empty_file_loads_as_a_null_root(void **state)
{
	struct mqb_conf_doc *doc = load_str_ok("# nothing but a comment\n", NULL);
	assert_null(mqb_conf_root(doc));
	mqb_conf_doc_free(doc);
	doc = load_str_ok("", NULL);
	assert_null(mqb_conf_root(doc));
	mqb_conf_doc_free(doc);
}

static void aliases_share_the_anchored_node(void **state)
{
	struct mqb_conf_doc *doc = load_str_ok("device: &dev {identifiers: [car_1]}\n"
					       "a: {device: *dev}\n"
					       "b: {device: *dev}\n", NULL);
	const struct mqb_conf_node *root = mqb_conf_root(doc);
	assert_ptr_equal(at(root, "a.device"), at(root, "device"));
	assert_ptr_equal(at(root, "b.device"), at(root, "device"));
	assert_string_equal(text(at(root, "b.device.identifiers[0]")), "car_1");
	/* The shared node keeps the anchor's mark. */
	assert_mark_is(mqb_conf_mark(at(root, "b.device")), "test.yaml", 1, 9);
	mqb_conf_doc_free(doc);
}

/* A reload keeps what did not change: two files' items are the same
 * when they say the same, wherever they are written. */
static void nodes_are_equal_when_they_say_the_same_wherever_written(void **state)
{
	struct mqb_conf_doc *doc = load_str_ok("a: {name: x, qos: 1, l: [1, {b: ~}]}\n"
					       "\n"
					       "b:\n"
					       "  name: x\n"
					       "  qos: 1\n"
					       "  l:\n"
					       "    - 1\n"
					       "    - b: null\n"
					       "c: {name: x, qos: '1', l: [1, {b: ~}]}\n"
					       "d: {qos: 1, name: x, l: [1, {b: ~}]}\n"
					       "e: {name: x, qos: 1, l: [1, {b: ~}], more: 1}\n", NULL);
	const struct mqb_conf_node *root = mqb_conf_root(doc);
	assert_true(mqb_conf_equal(at(root, "a"), at(root, "b")));
	assert_true(conf__node_hash(at(root, "a")) == conf__node_hash(at(root, "b")));
	/* '1' is not 1 */
	assert_false(mqb_conf_equal(at(root, "a"), at(root, "c")));
	assert_false(conf__node_hash(at(root, "a")) == conf__node_hash(at(root, "c")));
	/* the same keys in another order are another text */
	assert_false(mqb_conf_equal(at(root, "a"), at(root, "d")));
	assert_false(mqb_conf_equal(at(root, "a"), at(root, "e")));
	assert_false(mqb_conf_equal(at(root, "a"), NULL));
	assert_true(mqb_conf_equal(NULL, NULL));
	mqb_conf_doc_free(doc);
}

static void merge_keys_let_own_keys_win_and_earlier_merges_win_over_later(void **state)
{
	struct mqb_conf_doc *doc = load_str_ok("base: &base {qos: 0, retain: false, name: base}\n"
					       "more: &more {qos: 2, icon: mdi:x, name: more}\n"
					       "one:\n"
					       "  <<: *base\n"
					       "  qos: 1\n"
					       "two:\n"
					       "  name: own\n"
					       "  <<: [*more, *base]\n", NULL);
	const struct mqb_conf_node *root = mqb_conf_root(doc);
	const struct mqb_conf_node *one = at(root, "one"), *two = at(root, "two");
	assert_int_equal(mqb_conf_len(one), 3);
	assert_string_equal(text(at(one, "qos")), "1");
	assert_string_equal(text(at(one, "retain")), "false");
	assert_null(mqb_conf_get(one, "<<"));
	assert_int_equal(mqb_conf_len(two), 4);
	assert_string_equal(text(at(two, "name")), "own");
	assert_string_equal(text(at(two, "qos")), "2");
	assert_string_equal(text(at(two, "icon")), "mdi:x");
	assert_string_equal(text(at(two, "retain")), "false");
	/* Several << keys in one mapping (PyYAML takes them): a later one
	 * wins over an earlier, the mapping's own keys over both. */
	mqb_conf_doc_free(doc);
	doc = load_str_ok("base: &base {qos: 0, retain: false, name: base}\n"
			  "more: &more {qos: 2, icon: mdi:x, name: more}\n"
			  "three:\n"
			  "  <<: *base\n"
			  "  name: own\n"
			  "  <<: *more\n", NULL);
	const struct mqb_conf_node *three = at(mqb_conf_root(doc), "three");
	assert_int_equal(mqb_conf_len(three), 4);
	assert_string_equal(text(at(three, "name")), "own");
	assert_string_equal(text(at(three, "qos")), "2");
	assert_string_equal(text(at(three, "icon")), "mdi:x");
	assert_string_equal(text(at(three, "retain")), "false");
	assert_null(mqb_conf_get(three, "<<"));
	/* A quoted "<<" is an ordinary key. */
	mqb_conf_doc_free(doc);
	doc = load_str_ok("a: {\"<<\": 1}\n", NULL);
	assert_string_equal(text(at(mqb_conf_root(doc), "a.<<")), "1");
	mqb_conf_doc_free(doc);
}

static void merging_anything_but_mappings_is_an_error(void **state)
{
	struct mqb_conf_errors e;
	load_str_fails("s: &s 1\nm:\n  <<: *s\n", NULL, NULL, &e);
	const struct mqb_conf_error *err = error_with(&e, "<< merges a mapping");
	assert_int_equal(err->mark.line, 1);
	mqb_conf_errors_fini(&e);
	load_str_fails("l: &l [1]\nm:\n  <<: [*l]\n", NULL, NULL, &e);
	error_with(&e, "not a list holding a sequence");
	mqb_conf_errors_fini(&e);
}

static void duplicate_keys_name_both_lines(void **state)
{
	struct mqb_conf_errors e;
	load_str_fails("mqtt:\n  broker: a\n  port: 1883\n  keepalive: 60\n  port: 1884\n", NULL,
		       NULL, &e);
	assert_int_equal(e.n, 1);
	const struct mqb_conf_error *err = error_with(&e, "duplicate key 'port' (first at line 3)");
	assert_mark_is(err->mark, "test.yaml", 5, 3);
	mqb_conf_errors_fini(&e);
}

static void duplicate_keys_in_a_wide_mapping_are_found_fast(void **state)
{
	size_t n = 30000, cap = n * 16 + 64, o = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, "k%zu: %zu\n", i, i);
	o += (size_t)snprintf(s + o, cap - o, "k17: again\n");
	struct mqb_conf_errors e;
	double t0 = tu_now();
	load_str_fails(s, NULL, NULL, &e);
	assert_true(tu_now() - t0 < 2.0);
	assert_int_equal(e.n, 1);
	error_with(&e, "duplicate key 'k17' (first at line 18)");
	mqb_conf_errors_fini(&e);
	free(s);
}

static void unknown_and_doubly_defined_anchors_are_errors(void **state)
{
	struct mqb_conf_errors e;
	load_str_fails("a: *nowhere\n", NULL, NULL, &e);
	assert_mark_is(error_with(&e, "unknown alias *nowhere")->mark, "test.yaml", 1, 4);
	mqb_conf_errors_fini(&e);
	load_str_fails("a: &x 1\nb: &x 2\n", NULL, NULL, &e);
	error_with(&e, "anchor &x defined twice (first at line 1)");
	mqb_conf_errors_fini(&e);
}

static void an_alias_inside_its_own_anchor_is_a_cycle_error(void **state)
{
	struct mqb_conf_errors e;
	load_str_fails("a: &x [1, *x]\n", NULL, NULL, &e);
	const struct mqb_conf_error *err = error_with(&e, "alias *x is inside the node it names");
	assert_mark_is(err->mark, "test.yaml", 1, 11);
	mqb_conf_errors_fini(&e);
	load_str_fails("a: &m {b: {c: *m}}\n", NULL, NULL, &e);
	error_with(&e, "(a cycle)");
	mqb_conf_errors_fini(&e);
}

static void unknown_tags_are_errors_and_yaml_str_quotes(void **state)
{
	struct mqb_conf_errors e;
	/* a blueprint's tag (test_blueprint.c) is an error anywhere else */
	load_str_fails("a: !input motion_sensor\n", NULL, NULL, &e);
	assert_mark_is(error_with(&e, "!input is only valid in a blueprint")->mark, "test.yaml", 1,
		       4);
	mqb_conf_errors_fini(&e);
	load_str_fails("a: !weird [1]\n", NULL, NULL, &e);
	error_with(&e, "unknown tag !weird");
	mqb_conf_errors_fini(&e);
	struct mqb_conf_doc *doc = load_str_ok("a: !!str 1\nb: !!int 2\n", NULL);
	assert_true(mqb_conf_quoted(at(mqb_conf_root(doc), "a")));
	assert_false(mqb_conf_quoted(at(mqb_conf_root(doc), "b")));
	mqb_conf_doc_free(doc);
}

static void non_scalar_keys_are_errors(void **state)
{
	struct mqb_conf_errors e;
	load_str_fails("? [a, b]\n: 1\n", NULL, NULL, &e);
	error_with(&e, "a mapping key must be a scalar, not a sequence");
	mqb_conf_errors_fini(&e);
}

/* ---- tags --------------------------------------------------------------- */

static void secrets_come_from_beside_the_file_and_from_parent_directories(void **state)
{
	struct mqb_conf_doc *doc = load_ok("tree/configuration.yaml");
	const struct mqb_conf_node *root = mqb_conf_root(doc), *pw = at(root, "mqtt.password");
	assert_string_equal(text(pw), "pw-top-90210");
	assert_true(mqb_conf_is_secret(pw));
	/* The mark is where the secret was asked for. */
	assert_mark_is(mqb_conf_mark(pw), "tree/configuration.yaml", 6, 13);
	char buf[64];
	assert_string_equal(mqb_conf_display(pw, buf, sizeof buf), "(secret)");
	/* packages/pkg.yaml: one from the parent, one from its own directory,
	 * and its own directory's wins. */
	assert_string_equal(text(at(root, "pkg.password")), "pw-top-90210");
	assert_string_equal(text(at(root, "pkg.token")), "tok-pkg-31337");
	assert_string_equal(text(at(root, "pkg.shadowed")), "from-packages");
	assert_false(mqb_conf_is_secret(at(root, "mqtt.broker")));
	mqb_conf_doc_free(doc);
}

static void secrets_are_never_looked_for_above_the_main_directory(void **state)
{
	struct mqb_conf_errors e;
	/* t/data/load/secrets.yaml has above_only; tree/ is the main directory. */
	load_fails("tree/above.yaml", NULL, &e);
	error_with(&e, "secret 'above_only' is not defined");
	mqb_conf_errors_fini(&e);
	/* With packages/pkg.yaml as the main file, tree/secrets.yaml is above. */
	load_fails("tree/packages/pkg.yaml", NULL, &e);
	assert_int_equal(e.n, 1);
	const struct mqb_conf_error *err = error_with(&e, "secret 'mqtt_password' is not defined");
	assert_mark_is(err->mark, "tree/packages/pkg.yaml", 1, 11);
	mqb_conf_errors_fini(&e);
}

static void a_missing_secret_names_the_secret_and_the_file_asking(void **state)
{
	struct mqb_conf_errors e;
	load_str_fails("mqtt:\n  password: !secret no_such_secret\n", data("tree"), NULL, &e);
	const struct mqb_conf_error *err = error_with(&e, "no_such_secret");
	assert_non_null(strstr(err->message, "asked for by test.yaml"));
	assert_mark_is(err->mark, "test.yaml", 2, 13);
	mqb_conf_errors_fini(&e);
}

/* As every other error, it names the option that asked, by its path from
 * the main file's root, through includes. */
static void a_missing_secret_names_the_option_that_asked_for_it(void **state)
{
	struct mqb_conf_errors e;
	load_str_fails("mqtt:\n  username: !secret mqtt_user\n", data("tree"), NULL, &e);
	const struct mqb_conf_error *err = error_with(&e, "secret 'mqtt_user' is not defined");
	assert_string_equal(err->path, "mqtt.username");
	mqb_conf_errors_fini(&e);

	load_str_fails("mqtt:\n  sensor:\n    - name: a\n    - state_topic: !secret nope\n",
		       data("tree"), NULL, &e);
	assert_string_equal(error_with(&e, "secret 'nope'")->path, "mqtt.sensor[1].state_topic");
	mqb_conf_errors_fini(&e);

	load_str_fails("mqtt: !include incl/missing_secret.yaml\n", data("tree"), NULL, &e);
	err = error_with(&e, "secret 'not_anywhere'");
	assert_string_equal(err->path, "mqtt.username");
	assert_mark_is(err->mark, "incl/missing_secret.yaml", 1, 11);
	mqb_conf_errors_fini(&e);
}

static void a_secret_inside_secrets_yaml_is_an_error(void **state)
{
	struct mqb_conf_errors e;
	load_fails("badsecret/main.yaml", NULL, &e);
	assert_mark_is(error_with(&e, "!secret cannot be used in secrets.yaml")->mark,
		       "badsecret/secrets.yaml", 1, 8);
	mqb_conf_errors_fini(&e);
}

static void secret_values_never_appear_in_error_text(void **state)
{
	static const char *const values[] = { "leak-value-5555", "leak-token-6666" };
	struct mqb_conf_errors e;
	load_fails("leak/main.yaml", NULL, &e);
	assert_true(e.n >= 3); /* a duplicate secret key, a merged secret, a duplicate key */
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	assert_non_null(f);
	mqb_conf_errors_print(&e, f);
	fclose(f);
	for (size_t v = 0; v < 2; v++) {
		assert_null(strstr(out, values[v]));
		for (size_t i = 0; i < e.n; i++)
			assert_null(strstr(e.v[i].message, values[v]));
	}
	error_with(&e, "duplicate key '(secret)'");
	free(out);
	mqb_conf_errors_fini(&e);
}

static void include_puts_the_files_root_in_place_with_its_own_marks(void **state)
{
	struct mqb_conf_doc *doc = load_ok("tree/configuration.yaml");
	const struct mqb_conf_node *root = mqb_conf_root(doc);
	const struct mqb_conf_node *sensors = at(root, "mqtt.sensor");
	assert_int_equal(mqb_conf_kind(sensors), MQB_CONF_SEQ);
	assert_int_equal(mqb_conf_len(sensors), 2);
	assert_string_equal(text(at(sensors, "[1].name")), "Kitchen humidity");
	assert_mark_is(mqb_conf_mark(at(sensors, "[1].state_topic")), "tree/incl/sensors.yaml", 5,
		       16);
	/* incl/sensors.yaml includes more/extra.yaml, relative to itself. */
	const struct mqb_conf_node *unit = at(sensors, "[0].extra.unit_of_measurement");
	assert_string_equal(text(unit), "°C");
	assert_mark_is(mqb_conf_mark(unit), "tree/incl/more/extra.yaml", 1, 22);
	mqb_conf_doc_free(doc);
}

static void include_from_a_string_is_relative_to_its_directory(void **state)
{
	struct mqb_conf_doc *doc = load_str_ok("a: !include incl/more/extra.yaml\n"
					       "b: !include incl/more/extra.yaml\n", data("tree"));
	const struct mqb_conf_node *root = mqb_conf_root(doc);
	assert_string_equal(text(at(root, "a.unit_of_measurement")), "°C");
	/* The same file included twice is read once and shared. */
	assert_ptr_equal(at(root, "a"), at(root, "b"));
	mqb_conf_doc_free(doc);
}

static void a_missing_include_is_an_error_at_the_tag(void **state)
{
	struct mqb_conf_errors e;
	load_fails("errors/main.yaml", NULL, &e);
	const struct mqb_conf_error *err = error_with(&e, "cannot read ");
	assert_non_null(strstr(err->message, "errors/missing.yaml: No such file or directory"));
	assert_mark_is(err->mark, "errors/main.yaml", 3, 10);
	mqb_conf_errors_fini(&e);
}

static void errors_in_an_included_file_carry_its_own_path_and_line(void **state)
{
	struct mqb_conf_errors e;
	load_fails("errors/main.yaml", NULL, &e);
	const struct mqb_conf_error *err = error_with(&e, "did not find expected ',' or ']'");
	assert_mark_is(err->mark, "errors/broken.yaml", 3, 2);
	mqb_conf_errors_fini(&e);
}

static void include_dir_list_is_sorted_recursive_and_skips_hidden_files(void **state)
{
	struct mqb_conf_doc *doc = load_ok("tree/configuration.yaml");
	const struct mqb_conf_node *list = at(mqb_conf_root(doc), "list");
	assert_int_equal(mqb_conf_len(list), 3);
	assert_string_equal(text(at(list, "[0][0]")), "one");
	assert_string_equal(text(at(list, "[1].two")), "2");
	assert_string_equal(text(at(list, "[2]")), "three");
	assert_mark_is(mqb_conf_mark(at(list, "[2]")), "tree/dirs/list/sub/03.yaml", 1, 1);
	mqb_conf_doc_free(doc);
}

static void include_dir_named_maps_file_names_to_their_roots(void **state)
{
	struct mqb_conf_doc *doc = load_ok("tree/configuration.yaml");
	const struct mqb_conf_node *named = at(mqb_conf_root(doc), "named");
	assert_int_equal(mqb_conf_len(named), 3);
	assert_string_equal(text(mqb_conf_key(named, 0)), "alpha");
	assert_string_equal(text(at(named, "alpha.a")), "1");
	assert_int_equal(mqb_conf_kind(at(named, "beta")), MQB_CONF_NULL);
	assert_string_equal(text(at(named, "gamma[0]")), "g");
	mqb_conf_doc_free(doc);
}

static void include_dir_merge_list_concatenates_the_files_lists(void **state)
{
	struct mqb_conf_doc *doc = load_ok("tree/configuration.yaml");
	const struct mqb_conf_node *l = at(mqb_conf_root(doc), "mlist");
	assert_int_equal(mqb_conf_len(l), 3);
	assert_string_equal(text(mqb_conf_item(l, 0)), "a1");
	assert_string_equal(text(mqb_conf_item(l, 2)), "b1");
	mqb_conf_doc_free(doc);
}

static void include_dir_merge_named_merges_the_files_mappings(void **state)
{
	struct mqb_conf_doc *doc = load_ok("tree/configuration.yaml");
	const struct mqb_conf_node *m = at(mqb_conf_root(doc), "mnamed");
	assert_int_equal(mqb_conf_len(m), 3);
	assert_string_equal(text(at(m, "pump.command")), "on");
	assert_string_equal(text(at(m, "light.brightness")), "3");
	assert_int_equal(mqb_conf_kind(at(m, "fan")), MQB_CONF_MAP);
	mqb_conf_doc_free(doc);
}

/* Home Assistant's loader passes over a file of the wrong kind in a merged
 * directory (util/yaml/loader.py: _include_dir_merge_list_yaml extends
 * with lists only, _include_dir_merge_named_yaml updates with dicts only):
 * so does ours, leaving a warning at the file for the daemon to log. */
static void include_dir_merge_skips_a_file_of_the_other_kind_with_a_warning(void **state)
{
	struct mqb_conf_doc *doc = load_ok("tree/configuration.yaml");
	assert_int_equal(mqb_conf_len(at(mqb_conf_root(doc), "mlist")), 3);
	assert_int_equal(mqb_conf_len(at(mqb_conf_root(doc), "mnamed")), 3);
	const char *a = conf__doc_note(doc, 0), *b = conf__doc_note(doc, 1);
	assert_non_null(a);
	assert_non_null(b);
	assert_null(conf__doc_note(doc, 2));
	assert_non_null(strstr(a, "tree/dirs/mlist/m.yaml:1:1: ignored: !include_dir_merge_list "
				  "takes a sequence from each file, and this one holds a mapping"));
	assert_non_null(strstr(b, "tree/dirs/mnamed/l.yaml:1:1: ignored: "
				  "!include_dir_merge_named takes a mapping from each file, and this "
				  "one holds a sequence"));
	mqb_conf_doc_free(doc);
}

/* Home Assistant's container keeps the configuration at /config, and
 * configurations include files there by absolute path: where /config has
 * no such file, the one beside the main file is read, with a warning. */
static void an_absolute_config_path_reads_from_beside_the_main_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/mqb-cfgpath-XXXXXX", path[PATH_MAX], main_file[PATH_MAX];
	assert_non_null(mkdtemp(dir));
	const char *name = strrchr(dir, '/') + 1; /* unique: no /config holds it */
	snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("from: beside\n", f);
	fclose(f);
	snprintf(main_file, sizeof main_file, "%s/configuration.yaml", dir);
	f = fopen(main_file, "w");
	assert_non_null(f);
	fprintf(f, "a: !include /config/%s.yaml\n", name);
	fclose(f);
	struct mqb_conf_errors e;
	struct mqb_conf_doc *doc = NULL;
	mqb_conf_errors_init(&e);
	assert_int_equal(conf__load(main_file, NULL, &doc, &e), 0);
	assert_string_equal(text(at(mqb_conf_root(doc), "a.from")), "beside");
	const char *n = conf__doc_note(doc, 0);
	assert_non_null(n);
	assert_non_null(strstr(n, "configuration.yaml:1:4: /config/"));
	assert_non_null(strstr(n, "is read from"));
	mqb_conf_doc_free(doc);
	mqb_conf_errors_fini(&e);
	/* one that is nowhere is still an error */
	f = fopen(main_file, "w");
	assert_non_null(f);
	fprintf(f, "a: !include /config/%s-none.yaml\n", name);
	fclose(f);
	mqb_conf_errors_init(&e);
	assert_int_equal(conf__load(main_file, NULL, &doc, &e), -EINVAL);
	assert_non_null(strstr(e.v[0].message, "No such file or directory"));
	mqb_conf_errors_fini(&e);
	unlink(path);
	unlink(main_file);
	rmdir(dir);
}

/* Home Assistant's _find_files walks a missing directory with os.walk,
 * which yields nothing: an empty collection, here with a warning at the
 * tag. A directory that cannot be read is still an error. */
static void include_dir_of_a_missing_directory_is_empty_with_a_warning(void **state)
{
	struct mqb_conf_doc *doc = load_str_ok("a: !include_dir_named nowhere\n"
					       "b: !include_dir_merge_list nowhere\n",
					       data("tree"));
	const struct mqb_conf_node *root = mqb_conf_root(doc);
	assert_int_equal(mqb_conf_kind(at(root, "a")), MQB_CONF_MAP);
	assert_int_equal(mqb_conf_len(at(root, "a")), 0);
	assert_int_equal(mqb_conf_kind(at(root, "b")), MQB_CONF_SEQ);
	assert_int_equal(mqb_conf_len(at(root, "b")), 0);
	const char *n = conf__doc_note(doc, 0);
	assert_non_null(n);
	assert_non_null(strstr(n, "test.yaml:1:4: "));
	assert_non_null(strstr(n, "tree/nowhere does not exist: taken as an empty directory"));
	assert_non_null(conf__doc_note(doc, 1));
	mqb_conf_doc_free(doc);
	if (geteuid() != 0) {
		struct mqb_conf_errors e;
		char dir[] = "/tmp/mqb-unreadable-XXXXXX";
		assert_non_null(mkdtemp(dir));
		chmod(dir, 0);
		char text[128];
		snprintf(text, sizeof text, "a: !include_dir_named %s\n", dir);
		load_str_fails(text, NULL, NULL, &e);
		error_with(&e, "Permission denied");
		mqb_conf_errors_fini(&e);
		rmdir(dir);
	}
}

static void env_var_takes_the_variable_else_the_default_else_fails(void **state)
{
	setenv("MQB_TEST_BROKER", "mqtt.example", 1);
	unsetenv("MQB_TEST_UNSET");
	struct mqb_conf_doc *doc = load_str_ok("a: !env_var MQB_TEST_BROKER\n"
					       "b: !env_var MQB_TEST_BROKER fallback\n"
					       "c: !env_var MQB_TEST_UNSET  two   words\n", NULL);
	const struct mqb_conf_node *root = mqb_conf_root(doc);
	assert_string_equal(text(at(root, "a")), "mqtt.example");
	assert_string_equal(text(at(root, "b")), "mqtt.example");
	assert_string_equal(text(at(root, "c")), "two words");
	mqb_conf_doc_free(doc);
	struct mqb_conf_errors e;
	load_str_fails("a: !env_var MQB_TEST_UNSET\n", NULL, NULL, &e);
	assert_mark_is(error_with(&e, "MQB_TEST_UNSET is not set")->mark, "test.yaml", 1, 4);
	mqb_conf_errors_fini(&e);
	unsetenv("MQB_TEST_BROKER");
}

/* ---- bounds ------------------------------------------------------------- */

static void an_alias_bomb_fails_fast_with_the_alias_expansion_error(void **state)
{
	/* Nine levels of ten aliases: 10^9 nodes if expanded. */
	char s[4096];
	size_t o = (size_t)snprintf(s, sizeof s, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 9; i++) {
		o += (size_t)snprintf(s + o, sizeof s - o, "a%d: &a%d [", i, i);
		for (int j = 0; j < 10; j++)
			o += (size_t)snprintf(s + o, sizeof s - o, "%s*a%d", j ? ", " : "", i - 1);
		o += (size_t)snprintf(s + o, sizeof s - o, "]\n");
	}
	struct mqb_conf_errors e;
	double t0 = tu_now();
	load_str_fails(s, NULL, NULL, &e);
	assert_true(tu_now() - t0 < 1.0);
	assert_int_equal(e.n, 1);
	const struct mqb_conf_error *err = error_with(&e, "alias expansion exceeds 100000 nodes");
	assert_string_equal(err->mark.file, "test.yaml");
	assert_true(err->mark.line >= 2 && err->mark.line <= 9);
	mqb_conf_errors_fini(&e);
}

/* Merging copies keys, not nodes, but every alias in a << list counts in
 * full, so the work merging does stays under the node bound. */
static void merging_many_copies_of_a_mapping_counts_every_copy(void **state)
{
	size_t cap = 16384, o = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	o += (size_t)snprintf(s + o, cap - o, "base: &b {");
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(s + o, cap - o, "%sk%d: %d", i ? ", " : "", i, i);
	o += (size_t)snprintf(s + o, cap - o, "}\nm:\n  <<: [");
	for (int i = 0; i < 1000; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s*b", i ? ", " : "");
	o += (size_t)snprintf(s + o, cap - o, "]\n");
	struct mqb_conf_errors e;
	double t0 = tu_now();
	load_str_fails(s, NULL, NULL, &e);
	assert_true(tu_now() - t0 < 1.0);
	assert_int_equal(e.n, 1);
	assert_mark_is(error_with(&e, "alias expansion exceeds 100000 nodes")->mark, "test.yaml", 3,
		       8 + 4 * 496); /* the 497th alias: 206 + 497 * 201 > 100000 */
	mqb_conf_errors_fini(&e);
	free(s);
}

/* 100,000 MQTT sensors as a user writes them (8 MB, 700,000 nodes) load:
 * the bound is on what aliases multiply, not on what the file holds. */
static char *many_sensors(size_t n, size_t *len)
{
	size_t cap = n * 96 + 64, o = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	o += (size_t)snprintf(s + o, cap - o, "mqtt:\n  sensor:\n");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o,
				      "    - name: Sensor %zu\n      state_topic: dev/%zu/temp\n"
				      "      unit_of_measurement: C\n", i, i);
	*len = o;
	return s;
}

static void a_hundred_thousand_sensors_load(void **state)
{
	size_t len;
	char *s = many_sensors(100000, &len);
	struct mqb_conf_doc *doc = NULL;
	struct mqb_conf_errors e;
	mqb_conf_errors_init(&e);
	double t0 = tu_now();
	int rc = conf__load_string("big.yaml", NULL, s, len, NULL, &doc, &e);
	if (rc)
		print_errors(&e);
	assert_int_equal(rc, 0);
	assert_true(tu_now() - t0 < 30.0);
	const struct mqb_conf_node *list = at(mqb_conf_root(doc), "mqtt.sensor");
	assert_int_equal(mqb_conf_len(list), 100000);
	mqb_conf_doc_free(doc);
	mqb_conf_errors_fini(&e);
	free(s);
}

/* A large file buys its aliases a larger budget, in proportion: a bomb at
 * the end of 100,000 sensors still fails fast, at 8 times their nodes. */
static void an_alias_bomb_in_a_large_file_stops_at_eight_times_its_nodes(void **state)
{
	size_t len;
	char *big = many_sensors(100000, &len);
	size_t cap = len + 4096;
	char *s = realloc(big, cap);
	assert_non_null(s);
	size_t o = len;
	o += (size_t)snprintf(s + o, cap - o, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 9; i++) {
		o += (size_t)snprintf(s + o, cap - o, "a%d: &a%d [", i, i);
		for (int j = 0; j < 10; j++)
			o += (size_t)snprintf(s + o, cap - o, "%s*a%d", j ? ", " : "", i - 1);
		o += (size_t)snprintf(s + o, cap - o, "]\n");
	}
	struct mqb_conf_errors e;
	double t0 = tu_now();
	load_str_fails(s, NULL, NULL, &e);
	assert_true(tu_now() - t0 < 30.0);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.v[0].message, "alias expansion exceeds"));
	/* 700,000 nodes of sensors (7 each) and some of the bomb's: 8 times
	 * that, about 5.6 million */
	unsigned long long limit = strtoull(strstr(e.v[0].message, "exceeds ") + 8, NULL, 10);
	assert_true(limit >= 5600000 && limit < 5700000);
	mqb_conf_errors_fini(&e);
	free(s);
}

static void deep_flow_nesting_fails_fast_with_the_depth_error(void **state)
{
	size_t n = 100000;
	char *s = malloc(2 * n + 2);
	assert_non_null(s);
	memset(s, '[', n);
	memset(s + n, ']', n);
	s[2 * n] = '\n';
	s[2 * n + 1] = '\0';
	struct mqb_conf_errors e;
	double t0 = tu_now();
	load_str_fails(s, NULL, NULL, &e);
	assert_true(tu_now() - t0 < 1.0);
	assert_int_equal(e.n, 1);
	assert_mark_is(error_with(&e, "nesting deeper than 64")->mark, "test.yaml", 1, 65);
	mqb_conf_errors_fini(&e);
	free(s);
}

static void block_nesting_is_allowed_to_the_limit_and_not_past_it(void **state)
{
	char s[8192];
	for (unsigned depth = 64; depth <= 65; depth++) {
		size_t o = 0;
		for (unsigned i = 0; i < depth; i++)
			o += (size_t)snprintf(s + o, sizeof s - o, "%*sk:\n", (int)i, "");
		o += (size_t)snprintf(s + o, sizeof s - o, "%*sleaf\n", (int)depth, "");
		struct mqb_conf_errors e;
		struct mqb_conf_doc *doc = NULL;
		mqb_conf_errors_init(&e);
		int rc = conf__load_string("deep.yaml", NULL, s, o, NULL, &doc, &e);
		if (depth == 64) {
			assert_int_equal(rc, 0);
			mqb_conf_doc_free(doc);
		} else {
			assert_int_equal(rc, -EINVAL);
			assert_mark_is(error_with(&e, "nesting deeper than 64")->mark, "deep.yaml", 65, 65);
		}
		mqb_conf_errors_fini(&e);
	}
}

static void an_alias_cannot_nest_past_the_depth_limit(void **state)
{
	char s[2048];
	size_t o = (size_t)snprintf(s, sizeof s, "a: &a ");
	for (int i = 0; i < 40; i++)
		s[o++] = '[';
	for (int i = 0; i < 40; i++)
		s[o++] = ']';
	o += (size_t)snprintf(s + o, sizeof s - o, "\nb: [[[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]]]]]]]]]]]\n");
	struct mqb_conf_errors e;
	load_str_fails(s, NULL, NULL, &e);
	error_with(&e, "nesting deeper than 64");
	mqb_conf_errors_fini(&e);
}

static void a_file_over_the_size_limit_is_refused_before_parsing(void **state)
{
	size_t n = 2u << 20;
	char *s = malloc(n + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i += 8)
		memcpy(s + i, "k: [1]\n\n", 8);
	s[n] = '\0';
	FILE *f = fopen(tmp_path("big.yaml"), "w");
	assert_non_null(f);
	assert_int_equal(fwrite(s, 1, n, f), n);
	fclose(f);
	struct mqb_conf_errors e;
	struct mqb_conf_doc *doc = NULL;
	mqb_conf_errors_init(&e);
	/* The default is 64 MiB (a configuration of 100,000 entities is 8
	 * MB): a bound of 1 MiB shows the refusal. */
	struct conf_limits lim = { .max_file_size = 1u << 20 };
	double t0 = tu_now();
	assert_int_equal(conf__load(tmp_path("big.yaml"), &lim, &doc, &e), -EINVAL);
	assert_true(tu_now() - t0 < 1.0);
	assert_int_equal(e.n, 1);
	error_with(&e, "is larger than 1048576 bytes");
	mqb_conf_errors_fini(&e);
	/* From memory too, and an include of it from a string. */
	load_str_fails(s, NULL, &lim, &e);
	error_with(&e, "test.yaml is larger than 1048576 bytes");
	mqb_conf_errors_fini(&e);
	load_str_fails("a: !include big.yaml\n", tmpdir, &lim, &e);
	assert_mark_is(error_with(&e, "big.yaml is larger than")->mark, "test.yaml", 1, 4);
	mqb_conf_errors_fini(&e);
	rm_tmp("big.yaml");
	free(s);
}

static void a_file_including_itself_is_an_include_cycle(void **state)
{
	struct mqb_conf_errors e;
	load_fails("cycle1/a.yaml", NULL, &e);
	const struct mqb_conf_error *err = error_with(&e, "include cycle: ");
	assert_non_null(strstr(err->message, "cycle1/a.yaml -> "));
	assert_true(ends_with(err->message, "cycle1/a.yaml"));
	assert_mark_is(err->mark, "cycle1/a.yaml", 1, 7);
	mqb_conf_errors_fini(&e);
}

static void two_files_including_each_other_are_an_include_cycle(void **state)
{
	struct mqb_conf_errors e;
	load_fails("cycle2/a.yaml", NULL, &e);
	const struct mqb_conf_error *err = error_with(&e, "include cycle: ");
	assert_non_null(strstr(err->message, "cycle2/a.yaml -> "));
	assert_non_null(strstr(err->message, "cycle2/b.yaml -> "));
	assert_true(ends_with(err->message, "cycle2/a.yaml"));
	assert_mark_is(err->mark, "cycle2/b.yaml", 2, 7);
	mqb_conf_errors_fini(&e);
}

static void includes_nested_past_the_limit_are_an_error(void **state)
{
	struct mqb_conf_doc *doc = load_ok("chain/1.yaml");
	assert_string_equal(text(at(mqb_conf_root(doc), "next.next.next.end")), "true");
	mqb_conf_doc_free(doc);
	struct conf_limits lim = { .max_includes = 2 };
	struct mqb_conf_errors e;
	load_fails("chain/1.yaml", &lim, &e);
	assert_mark_is(error_with(&e, "includes nested deeper than 2")->mark, "chain/3.yaml", 1, 7);
	mqb_conf_errors_fini(&e);
}

static void a_second_document_in_one_file_is_an_error(void **state)
{
	struct mqb_conf_errors e;
	load_str_fails("a: 1\n---\nb: 2\n", NULL, NULL, &e);
	assert_mark_is(error_with(&e, "a second document")->mark, "test.yaml", 2, 1);
	mqb_conf_errors_fini(&e);
}

static void syntax_errors_carry_libyamls_text_and_position(void **state)
{
	static const struct {
		const char *text, *message;
		unsigned line, column;
	} cases[] = {
		{ "a: 1\n b: 2\n", "mapping values are not allowed in this context", 2, 3 },
		{ "a: [1, 2\nb: 3\n", "did not find expected ',' or ']'", 2, 2 },
		{ "a: 'open\n", "found unexpected end of stream", 2, 1 },
		{ "a:\n\t- 1\n", "found character that cannot start any token", 2, 1 },
		{ "a: \xff\n", "invalid leading UTF-8 octet", 1, 4 },
		{ "- a\nb: c\n", "did not find expected '-' indicator", 2, 1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mqb_conf_errors e;
		load_str_fails(cases[i].text, NULL, NULL, &e);
		assert_int_equal(e.n, 1);
		assert_mark_is(error_with(&e, cases[i].message)->mark, "test.yaml", cases[i].line,
			       cases[i].column);
		mqb_conf_errors_fini(&e);
	}
}

static void many_anchors_and_aliases_load_fast(void **state)
{
	size_t n = 20000, cap = n * 48, o = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, "a%zu: &x%zu %zu\nb%zu: *x%zu\n", i, i, i, i, i);
	struct mqb_conf_doc *doc;
	struct mqb_conf_errors e;
	mqb_conf_errors_init(&e);
	struct conf_limits lim = { .max_nodes = 200000, .max_file_size = 4u << 20 };
	double t0 = tu_now();
	assert_int_equal(conf__load_string("w.yaml", NULL, s, o, &lim, &doc, &e), 0);
	assert_true(tu_now() - t0 < 2.0);
	assert_string_equal(text(at(mqb_conf_root(doc), "b19999")), "19999");
	mqb_conf_doc_free(doc);
	mqb_conf_errors_fini(&e);
	free(s);
}

/* ---- errors and display ------------------------------------------------- */

static void errors_print_as_file_line_column_path_message(void **state)
{
	struct mqb_conf_errors e;
	mqb_conf_errors_init(&e);
	char file[] = "conf.yaml";
	struct mqb_conf_mark m = { file, 3, 7 };
	mqb_conf_error(&e, &m, "mqtt.sensor[2].state_topic", "not a topic: %s", "a/+/b");
	mqb_conf_error(&e, &m, "", "no path");
	mqb_conf_error(&e, NULL, NULL, "nowhere in particular");
	file[0] = 'X'; /* the error holds its own copy */
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	mqb_conf_errors_print(&e, f);
	fclose(f);
	assert_string_equal(out, "conf.yaml:3:7: mqtt.sensor[2].state_topic: not a topic: a/+/b\n"
				 "conf.yaml:3:7: no path\n"
				 "nowhere in particular\n");
	free(out);
	mqb_conf_errors_fini(&e);
	assert_int_equal(e.n, 0);
	mqb_conf_errors_fini(&e);
}

static void display_shortens_text_and_hides_secrets(void **state)
{
	struct mqb_conf_doc *doc = load_str_ok("long: abcdefghijklmnopqrstuvwxyz\n"
					       "utf8: ääääääääää\n"
					       "multi: \"one\\ntwo\"\n"
					       "map: {a: 1}\nseq: [1]\nnone:\n", NULL);
	const struct mqb_conf_node *root = mqb_conf_root(doc);
	char buf[12], big[64];
	assert_string_equal(mqb_conf_display(at(root, "long"), buf, sizeof buf), "abcdefgh…");
	assert_string_equal(mqb_conf_display(at(root, "long"), big, sizeof big),
			    "abcdefghijklmnopqrstuvwxyz");
	/* Never half a character. */
	assert_string_equal(mqb_conf_display(at(root, "utf8"), buf, sizeof buf), "ääää…");
	assert_string_equal(mqb_conf_display(at(root, "multi"), big, sizeof big), "one\\ntwo");
	assert_string_equal(mqb_conf_display(at(root, "map"), big, sizeof big), "a mapping");
	assert_string_equal(mqb_conf_display(at(root, "seq"), big, sizeof big), "a sequence");
	assert_string_equal(mqb_conf_display(at(root, "none"), big, sizeof big), "null");
	assert_string_equal(mqb_conf_display(NULL, big, 3), "nu");
	mqb_conf_doc_free(doc);
}

/* ---- memory ------------------------------------------------------------- */

/* Keys repeated item after item share their text (memory: 100,000 MQTT
 * sensors repeat the same few), yet each keeps its own place for errors,
 * and a key YAML 1.1 reads otherwise keeps its Python str. */
static void repeated_keys_share_their_text_and_keep_their_marks(void **s)
{
	(void)s;
	struct mqb_conf_doc *doc = load_str_ok("- {name: a, on: 1, 'unit': q}\n"
					       "- name: b\n"
					       "  on: 2\n"
					       "  unit: r\n", NULL);
	const struct mqb_conf_node *root = mqb_conf_root(doc);
	const struct mqb_conf_node *m0 = mqb_conf_item(root, 0), *m1 = mqb_conf_item(root, 1);
	assert_non_null(m0);
	assert_non_null(m1);
	const struct mqb_conf_node *k00 = mqb_conf_key(m0, 0), *k10 = mqb_conf_key(m1, 0);
	const struct mqb_conf_node *k01 = mqb_conf_key(m0, 1), *k11 = mqb_conf_key(m1, 1);
	assert_ptr_equal(mqb_conf_scalar(k00, NULL), mqb_conf_scalar(k10, NULL));
	assert_string_equal(mqb_conf_scalar(k10, NULL), "name");
	assert_int_equal(mqb_conf_mark(k00).line, 1);
	assert_int_equal(mqb_conf_mark(k10).line, 2);
	assert_int_equal(mqb_conf_mark(k10).column, 3);
	assert_int_equal(mqb_conf_mark(k11).line, 3);
	/* on is true to YAML 1.1: its str is Python's, in both */
	assert_string_equal(mqb_conf_string(k01, NULL), mqb_conf_string(k11, NULL));
	assert_string_equal(mqb_conf_scalar(k11, NULL), "on");
	/* a quoted key has a text of its own */
	const struct mqb_conf_node *kq = mqb_conf_key(m0, 2), *kp = mqb_conf_key(m1, 2);
	assert_string_equal(mqb_conf_scalar(kq, NULL), "unit");
	assert_string_equal(mqb_conf_scalar(kp, NULL), "unit");
	assert_ptr_not_equal(mqb_conf_scalar(kq, NULL), mqb_conf_scalar(kp, NULL));
	assert_true(mqb_conf_equal(m0, m0));
	mqb_conf_doc_free(doc);
}

static void every_failed_allocation_is_reported_as_enomem(void **state)
{
	int rc = -ENOMEM;
	unsigned long n;
	for (n = 1; rc == -ENOMEM && n < 100000; n++) {
		struct mqb_conf_errors e;
		struct mqb_conf_doc *doc = (struct mqb_conf_doc *)1;
		mqb_conf_errors_init(&e);
		mqb__alloc_fail_after(n);
		rc = conf__load(data("tree/configuration.yaml"), NULL, &doc, &e);
		mqb__alloc_fail_after(0);
		if (rc == -ENOMEM)
			assert_null(doc);
		else
			assert_int_equal(rc, 0);
		mqb_conf_doc_free(rc == 0 ? doc : NULL);
		mqb_conf_errors_fini(&e);
	}
	assert_int_equal(rc, 0);
	assert_true(n > 50);
}

static void failed_allocations_on_error_paths_are_enomem_too(void **state)
{
	int rc = -ENOMEM;
	for (unsigned long n = 1; rc == -ENOMEM && n < 100000; n++) {
		struct mqb_conf_errors e;
		struct mqb_conf_doc *doc = (struct mqb_conf_doc *)1;
		mqb_conf_errors_init(&e);
		mqb__alloc_fail_after(n);
		rc = conf__load(data("leak/main.yaml"), NULL, &doc, &e);
		mqb__alloc_fail_after(0);
		assert_true(rc == -ENOMEM || rc == -EINVAL);
		assert_null(doc);
		mqb_conf_errors_fini(&e);
	}
	assert_int_equal(rc, -EINVAL);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(marks_of_nested_keys_and_list_items_are_one_based),
	cmocka_unit_test(quoted_scalars_are_told_from_plain_ones),
	cmocka_unit_test(empty_values_and_tildes_are_null_but_a_quoted_null_is_a_string),
	cmocka_unit_test(an_empty_file_loads_as_a_null_root),
	cmocka_unit_test(aliases_share_the_anchored_node),
	cmocka_unit_test(nodes_are_equal_when_they_say_the_same_wherever_written),
	cmocka_unit_test(merge_keys_let_own_keys_win_and_earlier_merges_win_over_later),
	cmocka_unit_test(merging_anything_but_mappings_is_an_error),
	cmocka_unit_test(duplicate_keys_name_both_lines),
	cmocka_unit_test(duplicate_keys_in_a_wide_mapping_are_found_fast),
	cmocka_unit_test(unknown_and_doubly_defined_anchors_are_errors),
	cmocka_unit_test(an_alias_inside_its_own_anchor_is_a_cycle_error),
	cmocka_unit_test(unknown_tags_are_errors_and_yaml_str_quotes),
	cmocka_unit_test(non_scalar_keys_are_errors),
	cmocka_unit_test(secrets_come_from_beside_the_file_and_from_parent_directories),
	cmocka_unit_test(secrets_are_never_looked_for_above_the_main_directory),
	cmocka_unit_test(a_missing_secret_names_the_secret_and_the_file_asking),
	cmocka_unit_test(a_missing_secret_names_the_option_that_asked_for_it),
	cmocka_unit_test(a_secret_inside_secrets_yaml_is_an_error),
	cmocka_unit_test(secret_values_never_appear_in_error_text),
	cmocka_unit_test(include_puts_the_files_root_in_place_with_its_own_marks),
	cmocka_unit_test(include_from_a_string_is_relative_to_its_directory),
	cmocka_unit_test(a_missing_include_is_an_error_at_the_tag),
	cmocka_unit_test(errors_in_an_included_file_carry_its_own_path_and_line),
	cmocka_unit_test(include_dir_list_is_sorted_recursive_and_skips_hidden_files),
	cmocka_unit_test(include_dir_named_maps_file_names_to_their_roots),
	cmocka_unit_test(include_dir_merge_list_concatenates_the_files_lists),
	cmocka_unit_test(include_dir_merge_named_merges_the_files_mappings),
	cmocka_unit_test(include_dir_merge_skips_a_file_of_the_other_kind_with_a_warning),
	cmocka_unit_test(include_dir_of_a_missing_directory_is_empty_with_a_warning),
	cmocka_unit_test(an_absolute_config_path_reads_from_beside_the_main_file),
	cmocka_unit_test(env_var_takes_the_variable_else_the_default_else_fails),
	cmocka_unit_test(an_alias_bomb_fails_fast_with_the_alias_expansion_error),
	cmocka_unit_test(a_hundred_thousand_sensors_load),
	cmocka_unit_test(an_alias_bomb_in_a_large_file_stops_at_eight_times_its_nodes),
	cmocka_unit_test(merging_many_copies_of_a_mapping_counts_every_copy),
	cmocka_unit_test(deep_flow_nesting_fails_fast_with_the_depth_error),
	cmocka_unit_test(block_nesting_is_allowed_to_the_limit_and_not_past_it),
	cmocka_unit_test(an_alias_cannot_nest_past_the_depth_limit),
	cmocka_unit_test(a_file_over_the_size_limit_is_refused_before_parsing),
	cmocka_unit_test(a_file_including_itself_is_an_include_cycle),
	cmocka_unit_test(two_files_including_each_other_are_an_include_cycle),
	cmocka_unit_test(includes_nested_past_the_limit_are_an_error),
	cmocka_unit_test(a_second_document_in_one_file_is_an_error),
	cmocka_unit_test(syntax_errors_carry_libyamls_text_and_position),
	cmocka_unit_test(many_anchors_and_aliases_load_fast),
	cmocka_unit_test(errors_print_as_file_line_column_path_message),
	cmocka_unit_test(display_shortens_text_and_hides_secrets),
	cmocka_unit_test(repeated_keys_share_their_text_and_keep_their_marks),
	cmocka_unit_test(every_failed_allocation_is_reported_as_enomem),
	cmocka_unit_test(failed_allocations_on_error_paths_are_enomem_too),
};

TU_MAIN(tests)
