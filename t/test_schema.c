/* SPDX-License-Identifier: MIT */
/* Schema tables applied to YAML: each case is a snippet and the exact
 * error lines it gives, or the values it stores (Home Assistant's
 * coercion, ranges, choices, durations, topics, lists, nested paths,
 * did-you-mean, defaults, secrets never shown). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <unistd.h>

#include "testutil.h"
#include "lib/internal.h"
#include "mqbridge/config.h"
#include "config/load.h"
#include "daemon/options.h"

/* ---- the schema under test ------------------------------------------------ */

struct deep {
	int x;
};
struct sub {
	const char *host;
	int port;
	struct deep deep;
};
struct tgt {
	const char *s, *sd, *e, *t, *fl, *pw;
	int i, ir, port;
	unsigned u;
	size_t z;
	double f, fr, d, dr;
	bool b, bd;
	struct sub sub;
	const struct mqb_conf_node *list, *maps, *any;
	int nostore;
};

static const char *const protocols[] = {"3.1.1", "5", NULL};

#define AT(f) .offset = offsetof(struct tgt, f), .stored = true
#define SAT(f) .offset = offsetof(struct sub, f), .stored = true

static const struct mqb_schema_key deep_keys[] = {
	{.key = "x", .type = MQB_S_INT, .required = true, .offset = offsetof(struct deep, x),
	 .stored = true},
};
static const struct mqb_schema deep_schema = {"test.sub.deep", deep_keys, 1};

static const struct mqb_schema_key sub_keys[] = {
	{.key = "host", .type = MQB_S_STRING, .required = true, SAT(host)},
	{.key = "port", .type = MQB_S_INT, .def = "1883", .min = 1, .max = 65535, SAT(port)},
	{.key = "deep", .type = MQB_S_MAP, .sub = &deep_schema, SAT(deep)},
};
static const struct mqb_schema sub_schema = {"test.sub", sub_keys, 3};

static const struct mqb_schema_key string_item[] = {{.key = "item", .type = MQB_S_STRING}};
static const struct mqb_schema string_list = {"test.list", string_item, 1};

static const struct mqb_schema_key entity_keys[] = {
	{.key = "name", .type = MQB_S_STRING, .required = true},
	{.key = "n", .type = MQB_S_INT},
};
static const struct mqb_schema entity_schema = {"test.entity", entity_keys, 2};
static const struct mqb_schema_key map_item[] = {
	{.key = "item", .type = MQB_S_MAP, .sub = &entity_schema}};
static const struct mqb_schema map_list = {"test.maps", map_item, 1};

static const struct mqb_schema_key test_keys[] = {
	{.key = "s", .type = MQB_S_STRING, AT(s)},
	{.key = "sd", .type = MQB_S_STRING, .def = "dflt", AT(sd)},
	{.key = "i", .type = MQB_S_INT, AT(i)},
	{.key = "ir", .type = MQB_S_INT, .min = -10, .max = 10, AT(ir)},
	{.key = "u", .type = MQB_S_UINT, AT(u)},
	{.key = "z", .type = MQB_S_SIZE, AT(z)},
	{.key = "f", .type = MQB_S_FLOAT, AT(f)},
	{.key = "fr", .type = MQB_S_FLOAT, .min = 0, .max = 1, AT(fr)},
	{.key = "b", .type = MQB_S_BOOL, AT(b)},
	{.key = "bd", .type = MQB_S_BOOL, .def = "on", AT(bd)},
	{.key = "e", .type = MQB_S_ENUM, .choices = protocols, AT(e)},
	{.key = "d", .type = MQB_S_DURATION, AT(d)},
	{.key = "dr", .type = MQB_S_DURATION, .min = 1, .max = 60, AT(dr)},
	{.key = "t", .type = MQB_S_TOPIC, AT(t)},
	{.key = "fl", .type = MQB_S_FILTER, AT(fl)},
	{.key = "port", .type = MQB_S_INT, .min = 1, .max = 65535, AT(port)},
	{.key = "pw", .type = MQB_S_STRING, AT(pw)},
	{.key = "sub", .type = MQB_S_MAP, .sub = &sub_schema, AT(sub)},
	{.key = "list", .type = MQB_S_LIST, .sub = &string_list, AT(list)},
	{.key = "maps", .type = MQB_S_LIST, .sub = &map_list, AT(maps)},
	{.key = "any", .type = MQB_S_ANY, AT(any)},
	{.key = "nostore", .type = MQB_S_INT, .offset = offsetof(struct tgt, nostore)},
};
static const struct mqb_schema test_schema = {"test", test_keys,
					      sizeof test_keys / sizeof test_keys[0]};

static const struct mqb_schema_key req_keys[] = {
	{.key = "broker", .type = MQB_S_STRING, .required = true},
	{.key = "port", .type = MQB_S_INT},
};
static const struct mqb_schema req_schema = {"req", req_keys, 2};

/* ---- the cases ------------------------------------------------------------ */

struct scase {
	const char *yaml;
	const char *errors;         /* the printed error lines, exactly */
	const char *want;           /* "field=value;field=value" stored */
	const struct mqb_schema *s; /* NULL: test_schema */
	const char *path;           /* NULL: "" */
};

#define OK(yaml, want) {yaml, "", want, NULL, NULL}
#define BAD(yaml, errors) {yaml, errors, NULL, NULL, NULL}

static const struct scase cases[] = {
	/* STRING: any scalar, as text (cv.string) */
	OK("s: hello", "s=hello"),
	OK("s: 1", "s=1"),
	/* a YAML 1.1 boolean or number is Python's str() of it, as
	 * cv.string makes it (payload_on: true matches a template's True) */
	OK("s: true", "s=True"),
	OK("s: yes", "s=True"),
	OK("s: OFF", "s=False"),
	OK("s: 'true'", "s=true"),
	OK("s: 1.50", "s=1.5"),
	OK("s: .5", "s=0.5"),
	OK("s: 010", "s=8"),
	OK("s: 0x1F", "s=31"),
	OK("s: +1", "s=1"),
	OK("s: 1_000", "s=1000"),
	OK("s: 1:30", "s=90"),
	/* beyond 64 bits (the fuzzer's): the text as written, no undefined
	 * conversion (PyYAML's int would grow; ours cannot) */
	OK("s: 777777777777777777:7", "s=777777777777777777:7"),
	OK("s: -9999999999999999999:59", "s=-9999999999999999999:59"),
	OK("s: 1e5", "s=1e5"),
	OK("s: 1.0e+3", "s=1000.0"),
	OK("s: 0.1.2", "s=0.1.2"),
	OK("s: '007'", "s=007"),
	OK("s: ''", "s="),
	BAD("s: [a]", "t:1:4: s: expected a string, got a sequence\n"),
	BAD("s: {a: 1}", "t:1:4: s: expected a string, got a mapping\n"),
	BAD("s: ~", "t:1:4: s: expected a string, got null\n"),
	OK("sd: ~", "sd=dflt"),
	OK("sd: given", "sd=given"),
	OK("{}", "s=(null);sd=dflt;b=false;bd=true;sub.port=1883;list=(null)"),
	/* INT */
	OK("i: 42", "i=42"),
	OK("i: '-7'", "i=-7"),
	OK("i: +3", "i=3"),
	BAD("i: abc", "t:1:4: i: expected an integer, got 'abc'\n"),
	BAD("i: 1.5", "t:1:4: i: expected an integer, got '1.5'\n"),
	BAD("i: 0x10", "t:1:4: i: expected an integer, got '0x10'\n"),
	BAD("i: ''", "t:1:4: i: expected an integer, got ''\n"),
	BAD("i: [1]", "t:1:4: i: expected an integer, got a sequence\n"),
	BAD("i: 3000000000", "t:1:4: i: must be between -2147483648 and 2147483647, got 3000000000\n"),
	BAD("i: 99999999999999999999999", "t:1:4: i: must be between -2147483648 and 2147483647, "
				       "got 99999999999999999999999\n"),
	BAD("ir: 11", "t:1:5: ir: must be between -10 and 10, got 11\n"),
	OK("ir: -10", "ir=-10"),
	BAD("port: 70000", "t:1:7: port: must be between 1 and 65535, got 70000\n"),
	BAD("port: '0'", "t:1:7: port: must be between 1 and 65535, got 0\n"),
	OK("port: \"8883\"", "port=8883"),
	/* UINT, SIZE */
	OK("u: 4294967295", "u=4294967295"),
	BAD("u: -1", "t:1:4: u: expected a non-negative integer, got '-1'\n"),
	BAD("u: 4294967296", "t:1:4: u: must be between 0 and 4294967295, got 4294967296\n"),
	OK("z: 1048576", "z=1048576"),
	BAD("z: 1e6", "t:1:4: z: expected a non-negative integer, got '1e6'\n"),
	/* FLOAT */
	OK("f: 1", "f=1"),
	OK("f: -2.5e3", "f=-2500"),
	OK("f: '3.25'", "f=3.25"),
	OK("f: .5", "f=0.5"),
	BAD("f: abc", "t:1:4: f: expected a number, got 'abc'\n"),
	BAD("f: .inf", "t:1:4: f: expected a number, got '.inf'\n"),
	BAD("f: nan", "t:1:4: f: expected a number, got 'nan'\n"),
	BAD("f: 0x1p3", "t:1:4: f: expected a number, got '0x1p3'\n"),
	BAD("fr: 1.5", "t:1:5: fr: must be between 0 and 1, got 1.5\n"),
	OK("fr: 1", "fr=1"),
	/* BOOL (cv.boolean), quoted or not, any case */
	OK("b: yes", "b=true"),
	OK("b: No", "b=false"),
	OK("b: ON", "b=true"),
	OK("b: off", "b=false"),
	OK("b: 1", "b=true"),
	OK("b: '0'", "b=false"),
	OK("b: TRUE", "b=true"),
	OK("b: \"False\"", "b=false"),
	OK("bd: ~", "bd=true"),
	BAD("b: maybe", "t:1:4: b: expected a boolean (true/false, yes/no, on/off, 1/0), got 'maybe'\n"),
	BAD("b: 2", "t:1:4: b: expected a boolean (true/false, yes/no, on/off, 1/0), got '2'\n"),
	BAD("b: {}", "t:1:4: b: expected a boolean (true/false, yes/no, on/off, 1/0), got a mapping\n"),
	/* ENUM: the canonical spelling is stored */
	OK("e: 5", "e=5"),
	OK("e: 3.1.1", "e=3.1.1"),
	OK("e: '5'", "e=5"),
	BAD("e: 4", "t:1:4: e: must be one of: 3.1.1, 5; got '4'\n"),
	BAD("e: [5]", "t:1:4: e: must be one of: 3.1.1, 5; got a sequence\n"),
	BAD("e: ~", "t:1:4: e: must be one of: 3.1.1, 5; got null\n"),
	/* DURATION (cv.time_period) */
	OK("d: 30", "d=30"),
	OK("d: 2.5", "d=2.5"),
	OK("d: '45'", "d=45"),
	OK("d: '00:05'", "d=300"),
	OK("d: 00:05", "d=300"),
	OK("d: '1:30'", "d=5400"),
	/* YAML 1.1 reads a plain 1:30 as the integer 90, and so Home Assistant */
	OK("d: 1:30", "d=90"),
	OK("d: '01:02:03.5'", "d=3723.5"),
	OK("d: '-00:01'", "d=-60"),
	OK("d: {minutes: 5, seconds: 3}", "d=303"),
	OK("d: {hours: 1, milliseconds: 500}", "d=3600.5"),
	OK("d: {days: 1}", "d=86400"),
	OK("d: {hours: 1, minutes: -30}", "d=1800"),
	OK("d: {seconds: '1.5'}", "d=1.5"),
	BAD("d: {minuts: 5}", "t:1:5: d.minuts: unknown option 'minuts' (did you mean 'minutes'?)\n"),
	BAD("d: {minutes: abc}", "t:1:14: d.minutes: expected a number, got 'abc'\n"),
	BAD("d: {}", "t:1:4: d: expected at least one of days, hours, minutes, seconds, milliseconds\n"),
	BAD("d: abc", "t:1:4: d: expected a duration (seconds, HH:MM, HH:MM:SS[.fff], or a mapping of "
		   "days, hours, minutes, seconds, milliseconds), got 'abc'\n"),
	BAD("d: '1:2:3:4'", "t:1:4: d: expected a duration (seconds, HH:MM, HH:MM:SS[.fff], or a "
			 "mapping of days, hours, minutes, seconds, milliseconds), got '1:2:3:4'\n"),
	BAD("d: [1]", "t:1:4: d: expected a duration (seconds, HH:MM, HH:MM:SS[.fff], or a "
		   "mapping of days, hours, minutes, seconds, milliseconds), got a sequence\n"),
	BAD("dr: 0.5", "t:1:5: dr: must be between 1 and 60, got 0.5\n"),
	BAD("dr: {hours: 1}", "t:1:5: dr: must be between 1 and 60, got 3600\n"),
	OK("dr: '00:01'", "dr=60"),
	/* TOPIC and FILTER */
	OK("t: a/b", "t=a/b"),
	OK("t: 1", "t=1"),
	BAD("t: 'a/#'", "t:1:4: t: expected an MQTT topic name (not empty, no '+' or '#'), got 'a/#'\n"),
	BAD("t: a/+/b", "t:1:4: t: expected an MQTT topic name (not empty, no '+' or '#'), got 'a/+/b'\n"),
	BAD("t: ''", "t:1:4: t: expected an MQTT topic name (not empty, no '+' or '#'), got ''\n"),
	OK("fl: a/+/#", "fl=a/+/#"),
	OK("fl: $share/g/a/#", "fl=$share/g/a/#"),
	BAD("fl: 'a/#/b'", "t:1:5: fl: expected an MQTT topic filter ('+' alone in a level, '#' alone "
			"at the end), got 'a/#/b'\n"),
	BAD("fl: a+/b", "t:1:5: fl: expected an MQTT topic filter ('+' alone in a level, '#' alone "
		     "at the end), got 'a+/b'\n"),
	/* unknown keys and did-you-mean */
	BAD("prot: 1", "t:1:1: prot: unknown option 'prot' (did you mean 'port'?)\n"),
	BAD("potr: 1", "t:1:1: potr: unknown option 'potr' (did you mean 'port'?)\n"),
	BAD("ii: 1", "t:1:1: ii: unknown option 'ii' (did you mean 'i'?)\n"),
	BAD("xyzzy: 1", "t:1:1: xyzzy: unknown option 'xyzzy'\n"),
	BAD("qos: 1", "t:1:1: qos: unknown option 'qos'\n"),
	BAD("nostor: 1", "t:1:1: nostor: unknown option 'nostor' (did you mean 'nostore'?)\n"),
	BAD("sub: {host: h, hots: a}", "t:1:16: sub.hots: unknown option 'hots' (did you mean 'host'?)\n"),
	/* required, at the mapping's mark */
	BAD("sub: {port: 1}", "t:1:6: sub: required option 'host' is missing\n"),
	BAD("sub: ~", "t:1:6: sub: required option 'host' is missing\n"),
	BAD("sub: {hots: a}", "t:1:7: sub.hots: unknown option 'hots' (did you mean 'host'?)\n"
			   "t:1:6: sub: required option 'host' is missing\n"),
	{"port: 1", "t:1:1: mqtt: required option 'broker' is missing\n", NULL, &req_schema, "mqtt"},
	{"port: 1", "t:1:1: required option 'broker' is missing\n", NULL, &req_schema, NULL},
	{"broker: 1", "", NULL, &req_schema, NULL},
	/* nested maps: paths and defaults */
	OK("sub: {host: h}", "sub.host=h;sub.port=1883"),
	BAD("sub:\n  host: h\n  deep:\n    x: abc\n", "t:4:8: sub.deep.x: expected an integer, got 'abc'\n"),
	BAD("sub: {host: h, deep: {}}", "t:1:22: sub.deep: required option 'x' is missing\n"),
	BAD("sub: {host: h, port: 0}", "t:1:22: sub.port: must be between 1 and 65535, got 0\n"),
	BAD("sub: [a]", "t:1:6: sub: expected a mapping, got a sequence\n"),
	BAD("sub: a", "t:1:6: sub: expected a mapping, got 'a'\n"),
	OK("sub:\n  host: h\n  deep: {x: 7}\n", "sub.host=h;sub.deep.x=7"),
	{"[1, 2]", "t:1:1: x: expected a mapping, got a sequence\n", NULL, NULL, "x"},
	BAD("just text", "t:1:1: expected a mapping, got 'just text'\n"),
	/* lists (cv.ensure_list: one item stands for a list of one) */
	OK("list: [a, 1, true]", "list=seq:3"),
	OK("list: single", "list=scalar:single"),
	OK("list: ~", "list=(null)"),
	OK("list: []", "list=seq:0"),
	BAD("list: [a, [b]]", "t:1:11: list[1]: expected a string, got a sequence\n"),
	BAD("list: {a: 1}", "t:1:7: list: expected a string, got a mapping\n"),
	BAD("maps:\n  - name: a\n  - n: 2\n", "t:3:5: maps[1]: required option 'name' is missing\n"),
	BAD("maps:\n  - name: a\n    n: x\n", "t:3:8: maps[0].n: expected an integer, got 'x'\n"),
	BAD("maps: {name: x, n: y}", "t:1:20: maps.n: expected an integer, got 'y'\n"),
	OK("maps: {name: x}", "maps=map:1"),
	BAD("maps: [a]", "t:1:8: maps[0]: expected a mapping, got 'a'\n"),
	/* anything */
	OK("any: [1, 2]", "any=seq:2"),
	OK("any: {a: b}", "any=map:1"),
	OK("any: x", "any=scalar:x"),
	/* validated, not stored */
	BAD("nostore: abc", "t:1:10: nostore: expected an integer, got 'abc'\n"),
	OK("nostore: 5", "nostore=0"),
	/* every error in one pass, in file order */
	BAD("i: x\nb: y\nprot: 1\nsub: {}\n", "t:1:4: i: expected an integer, got 'x'\n"
	 "t:2:4: b: expected a boolean (true/false, yes/no, on/off, 1/0), got 'y'\n"
	 "t:3:1: prot: unknown option 'prot' (did you mean 'port'?)\n"
	 "t:4:6: sub: required option 'host' is missing\n"),
	/* secrets: validated, stored, never shown */
	OK("pw: !secret pw", "pw=hunter2"),
	BAD("i: !secret pw", "t:1:4: i: expected an integer, got (secret)\n"),
	BAD("port: !secret big", "t:1:7: port: must be between 1 and 65535, got (secret)\n"),
	BAD("e: !secret pw", "t:1:4: e: must be one of: 3.1.1, 5; got (secret)\n"),
	BAD("b: !secret word", "t:1:4: b: expected a boolean (true/false, yes/no, on/off, 1/0), "
			    "got (secret)\n"),
	BAD("t: !secret wild", "t:1:4: t: expected an MQTT topic name (not empty, no '+' or '#'), "
			    "got (secret)\n"),
	OK("port: !secret port", "port=1883"),
	BAD("dr: !secret durmap", "t:1:5: dr: must be between 1 and 60, got (secret)\n"),
	OK("dr: !secret dur", "dr=42"),
	BAD("list: [a, !secret map]", "t:1:11: list[1]: expected a string, got (secret)\n"),
};

/* ---- running them --------------------------------------------------------- */

static char secrets_dir[] = "/tmp/mqb-test-schema-XXXXXX";

static int setup(void **state)
{
	if (!mkdtemp(secrets_dir))
		return -1;
	char path[sizeof secrets_dir + 32];
	snprintf(path, sizeof path, "%s/secrets.yaml", secrets_dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs("pw: hunter2\nbig: 70000\nword: maybe\nwild: 'a/#/hunter2'\nport: 1883\n"
	      "map: {host: hunter2x}\ndurmap: {hours: 2}\ndur: 42\nbadmap: {hunter2: 1, host: h, port: hunter2}\n",
	      f);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	char path[sizeof secrets_dir + 32];
	snprintf(path, sizeof path, "%s/secrets.yaml", secrets_dir);
	unlink(path);
	rmdir(secrets_dir);
	return 0;
}

static void render_node(const struct mqb_conf_node *n, char *buf, size_t len)
{
	if (!n) {
		snprintf(buf, len, "(null)");
		return;
	}
	switch (mqb_conf_kind(n)) {
	case MQB_CONF_NULL: snprintf(buf, len, "null"); break;
	case MQB_CONF_SEQ: snprintf(buf, len, "seq:%zu", mqb_conf_len(n)); break;
	case MQB_CONF_MAP: snprintf(buf, len, "map:%zu", mqb_conf_len(n)); break;
	case MQB_CONF_SCALAR: snprintf(buf, len, "scalar:%s", mqb_conf_scalar(n, NULL)); break;
	}
}

/* One stored field as text. */
static void render(const struct tgt *t, const char *field, char *buf, size_t len)
{
#define STR(f) if (strcmp(field, #f) == 0) { snprintf(buf, len, "%s", t->f ? t->f : "(null)"); return; }
#define NUM(f, fmt) if (strcmp(field, #f) == 0) { snprintf(buf, len, fmt, t->f); return; }
#define BOOL(f) if (strcmp(field, #f) == 0) { snprintf(buf, len, "%s", t->f ? "true" : "false"); return; }
#define NODE(f) if (strcmp(field, #f) == 0) { render_node(t->f, buf, len); return; }
	STR(s) STR(sd) STR(e) STR(t) STR(fl) STR(pw) STR(sub.host)
	NUM(i, "%d") NUM(ir, "%d") NUM(port, "%d") NUM(u, "%u") NUM(z, "%zu")
	NUM(f, "%g") NUM(fr, "%g") NUM(d, "%g") NUM(dr, "%g") NUM(sub.port, "%d")
	NUM(sub.deep.x, "%d") NUM(nostore, "%d")
	BOOL(b) BOOL(bd)
	NODE(list) NODE(maps) NODE(any)
	fail_msg("no field '%s'", field);
}

static char *errors_text(const struct mqb_conf_errors *e)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	mqb_conf_errors_print(e, f);
	fclose(f);
	return buf;
}

static void check_case(const struct scase *c, size_t idx)
{
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	struct mqb_conf_doc *doc = NULL;
	int rc = conf__load_string("t", secrets_dir, c->yaml, strlen(c->yaml), NULL, &doc, &errs);
	if (rc != 0) {
		char *got = errors_text(&errs);
		fail_msg("case %zu %s: load failed (%d): %s", idx, c->yaml, rc, got);
	}
	struct tgt t;
	memset(&t, 0, sizeof t);
	const struct mqb_schema *s = c->s ? c->s : &test_schema;
	size_t n = mqb_schema_apply(s, mqb_conf_root(doc), c->path ? c->path : "",
				    c->s ? NULL : &t, &errs);
	char *got = errors_text(&errs);
	if (strcmp(got, c->errors) != 0)
		fail_msg("case %zu:\n%s\nwant errors:\n%sgot:\n%s", idx, c->yaml, c->errors, got);
	assert_int_equal(n, errs.n);
	/* the secrets' values never appear in a message */
	assert_null(strstr(got, "hunter2"));
	if (strstr(c->yaml, "!secret"))
		assert_null(strstr(got, "70000"));
	free(got);
	if (c->want) {
		char want[256];
		snprintf(want, sizeof want, "%s", c->want);
		char *save = NULL;
		for (char *item = strtok_r(want, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
			char *eq = strchr(item, '=');
			assert_non_null(eq);
			*eq = '\0';
			char val[128];
			render(&t, item, val, sizeof val);
			if (strcmp(val, eq + 1) != 0)
				fail_msg("case %zu %s: %s is '%s', want '%s'", idx, c->yaml, item, val,
					 eq + 1);
		}
	}
	mqb_conf_doc_free(doc);
	mqb_conf_errors_fini(&errs);
}

static void each_snippet_gives_exactly_its_errors_and_values(void **state)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_case(&cases[i], i);
}

static void absent_mapping_stores_the_defaults(void **state)
{
	struct tgt t;
	memset(&t, 0, sizeof t);
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	/* NULL: the mapping is absent; required keys are not asked for */
	assert_int_equal(mqb_schema_apply(&test_schema, NULL, "test", &t, &errs), 0);
	assert_string_equal(t.sd, "dflt");
	assert_true(t.bd);
	assert_int_equal(t.sub.port, 1883);
	assert_null(t.sub.host);
	assert_int_equal(mqb_schema_apply(&req_schema, NULL, "req", NULL, &errs), 0);
	mqb_conf_errors_fini(&errs);
}

static void defaults_point_at_the_table(void **state)
{
	struct tgt t;
	memset(&t, 0, sizeof t);
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	assert_int_equal(mqb_schema_apply(&test_schema, NULL, "", &t, &errs), 0);
	assert_ptr_equal(t.sd, test_keys[1].def);
	mqb_conf_errors_fini(&errs);
}

static void strings_point_into_the_document(void **state)
{
	static const char yaml[] = "s: text\nsub: {host: h}\n";
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	struct mqb_conf_doc *doc = NULL;
	assert_int_equal(conf__load_string("t", NULL, yaml, strlen(yaml), NULL, &doc, &errs), 0);
	struct tgt t;
	memset(&t, 0, sizeof t);
	assert_int_equal(mqb_schema_apply(&test_schema, mqb_conf_root(doc), "", &t, &errs), 0);
	const struct mqb_conf_node *s = mqb_conf_get(mqb_conf_root(doc), "s");
	assert_ptr_equal(t.s, mqb_conf_scalar(s, NULL));
	mqb_conf_doc_free(doc);
	mqb_conf_errors_fini(&errs);
}

static void every_daemon_schema_has_docs_and_defaults_that_parse(void **state)
{
	const struct mqb_schema *const *all;
	size_t n = options__schemas(&all);
	assert_true(n >= 3);
	bool mqtt = false, mqbridge = false;
	for (size_t i = 0; i < n; i++) {
		const struct mqb_schema *s = all[i];
		mqtt |= strcmp(s->name, "mqtt") == 0;
		mqbridge |= strcmp(s->name, "mqbridge") == 0;
		for (size_t k = 0; k < s->nkeys; k++) {
			if (!s->keys[k].doc || !*s->keys[k].doc)
				fail_msg("%s.%s has no doc line", s->name, s->keys[k].key);
			for (size_t j = 0; j < k; j++)
				if (strcmp(s->keys[j].key, s->keys[k].key) == 0)
					fail_msg("%s.%s twice", s->name, s->keys[k].key);
			if (s->keys[k].type == MQB_S_ENUM)
				assert_non_null(s->keys[k].choices);
			if (s->keys[k].type == MQB_S_MAP || s->keys[k].type == MQB_S_LIST)
				assert_non_null(s->keys[k].sub);
		}
		/* validate only: every default parses (a bad one aborts) */
		struct mqb_conf_errors errs;
		mqb_conf_errors_init(&errs);
		assert_int_equal(mqb_schema_apply(s, NULL, s->name, NULL, &errs), 0);
		mqb_conf_errors_fini(&errs);
	}
	assert_true(mqtt && mqbridge);
	/* asking again gives the same list */
	const struct mqb_schema *const *again;
	assert_int_equal(options__schemas(&again), n);
}

static void nothing_under_a_secret_is_shown(void **state)
{
	static const char yaml[] = "sub: !secret badmap\n";
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	struct mqb_conf_doc *doc = NULL;
	assert_int_equal(conf__load_string("t", secrets_dir, yaml, strlen(yaml), NULL, &doc, &errs),
			 0);
	struct tgt t;
	memset(&t, 0, sizeof t);
	assert_int_equal(mqb_schema_apply(&test_schema, mqb_conf_root(doc), "", &t, &errs), 2);
	char *got = errors_text(&errs);
	assert_null(strstr(got, "hunter2"));
	assert_non_null(strstr(got, "sub.(secret): unknown option (secret)\n"));
	assert_non_null(strstr(got, "sub.port: expected an integer, got (secret)\n"));
	free(got);
	mqb_conf_doc_free(doc);
	mqb_conf_errors_fini(&errs);
}

static void quiet(void *ud, enum mqb_log_level level, const char *subsystem, const char *line)
{
}

static void failing_allocations_never_crash(void **state)
{
	mqb_log_set_sink(quiet, NULL);
	static const char yaml[] = "i: x\nb: y\nprot: 1\nsub: {hots: 1, deep: {}}\n"
				   "maps: [{n: 1}, {name: a, n: b}]\nd: {minuts: 1}\n";
	for (unsigned long fail = 1; fail < 40; fail++) {
		struct mqb_conf_errors errs;
		mqb_conf_errors_init(&errs);
		struct mqb_conf_doc *doc = NULL;
		assert_int_equal(conf__load_string("t", NULL, yaml, strlen(yaml), NULL, &doc, &errs),
				 0);
		struct tgt t;
		memset(&t, 0, sizeof t);
		mqb__alloc_fail_after(fail);
		size_t n = mqb_schema_apply(&test_schema, mqb_conf_root(doc), "", &t, &errs);
		mqb__alloc_fail_after(0);
		assert_true(n <= 9);
		mqb_conf_doc_free(doc);
		mqb_conf_errors_fini(&errs);
	}
	mqb_log_set_sink(NULL, NULL);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_snippet_gives_exactly_its_errors_and_values),
		cmocka_unit_test(absent_mapping_stores_the_defaults),
		cmocka_unit_test(defaults_point_at_the_table),
		cmocka_unit_test(strings_point_into_the_document),
		cmocka_unit_test(every_daemon_schema_has_docs_and_defaults_that_parse),
		cmocka_unit_test(nothing_under_a_secret_is_shown),
		cmocka_unit_test(failing_allocations_never_crash),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, setup, teardown);
}
