/* SPDX-License-Identifier: MIT */
/* The daemon's configuration files end to end: every t/data/bad/NAME.yaml
 * must fail with exactly the lines in NAME.err (loaded from inside the
 * directory, so marks read "NAME.yaml:line:column"), and every
 * t/data/good/NAME.yaml, shaped like real Home Assistant files, must load
 * without a word, with some of its values checked. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "testutil.h"
#include "config/load.h"
#include "daemon/options.h"
#include "lib/internal.h"

/* ---- finding the data ----------------------------------------------------- */

static char data_dir[PATH_MAX];

static int setup(void **state)
{
	const char *srcdir = getenv("srcdir");
	if (srcdir) {
		snprintf(data_dir, sizeof data_dir, "%s/t/data", srcdir);
	} else {
		/* t/test_options.c -> t/data, relative to where we were compiled */
		snprintf(data_dir, sizeof data_dir, "%s", __FILE__);
		char *slash = strrchr(data_dir, '/');
		if (slash)
			snprintf(slash + 1, sizeof data_dir - (size_t)(slash + 1 - data_dir), "data");
		else
			snprintf(data_dir, sizeof data_dir, "data");
	}
	char real[PATH_MAX];
	if (!realpath(data_dir, real)) {
		fprintf(stderr, "test_options: no data directory at %s\n", data_dir);
		return -1;
	}
	snprintf(data_dir, sizeof data_dir, "%s", real);
	/* !env_var fixtures */
	setenv("MQB_TEST_BROKER", "broker.example", 1);
	unsetenv("MQB_TEST_SURELY_UNSET");
	return 0;
}

/* The *.yaml files of a directory that are cases (not secrets.yaml),
 * sorted. */
static size_t list_cases(const char *dir, char ***out)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);
	assert_true(n >= 0);
	char **v = calloc((size_t)n + 1, sizeof *v);
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		size_t len = strlen(name);
		if (len > 5 && strcmp(name + len - 5, ".yaml") == 0 && strcmp(name, "secrets.yaml") != 0)
			v[k++] = strdup(name);
		free(ents[i]);
	}
	free(ents);
	*out = v;
	return k;
}

static void free_list(char **v)
{
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, got, m);
	fclose(m);
	fclose(f);
	return buf;
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

/* Run fn inside dir, coming back after. */
static void in_dir(const char *sub, void (*fn)(void *), void *arg)
{
	char old[PATH_MAX], dir[PATH_MAX + 16];
	assert_non_null(getcwd(old, sizeof old));
	snprintf(dir, sizeof dir, "%s/%s", data_dir, sub);
	assert_int_equal(chdir(dir), 0);
	fn(arg);
	assert_int_equal(chdir(old), 0);
}

/* ---- bad files ------------------------------------------------------------ */

struct bad_run {
	size_t cases, failed;
};

static void run_bad(void *arg)
{
	struct bad_run *r = arg;
	char **names;
	r->cases = list_cases(".", &names);
	for (size_t i = 0; names[i]; i++) {
		const char *name = names[i];
		char errname[PATH_MAX];
		snprintf(errname, sizeof errname, "%.*s.err", (int)(strlen(name) - 5), name);
		char *want = read_file(errname);
		if (!want) {
			fprintf(stderr, "%s: no %s beside it\n", name, errname);
			r->failed++;
			continue;
		}
		struct mqb_conf_errors errs;
		mqb_conf_errors_init(&errs);
		struct daemon_options c;
		int rc = options__load(name, &c, &errs);
		char *got = errors_text(&errs);
		if (rc != -EINVAL || strcmp(got, want) != 0) {
			fprintf(stderr, "---- %s: rc %d\nwant:\n%sgot:\n%s", name, rc, want, got);
			r->failed++;
		}
		/* a failed load leaves nothing to free */
		if (rc == 0)
			options__fini(&c);
		else
			assert_null(c.doc);
		/* no secret value reaches a message */
		assert_null(strstr(got, "s3cr3t"));
		free(got);
		free(want);
		mqb_conf_errors_fini(&errs);
	}
	free_list(names);
}

static void each_bad_file_gives_exactly_its_err_lines(void **state)
{
	struct bad_run r = {0, 0};
	in_dir("bad", run_bad, &r);
	if (r.failed)
		fail_msg("%zu of %zu bad files gave other errors (above)", r.failed, r.cases);
	assert_true(r.cases >= 60);
}

/* ---- good files ----------------------------------------------------------- */

static void check_minimal(const struct daemon_options *c)
{
	/* every default, and the host's name as node_id */
	char host[256] = "", want[80];
	gethostname(host, sizeof host - 1);
	size_t i = 0;
	for (; host[i] && i < 64; i++) {
		char ch = (char)tolower((unsigned char)host[i]);
		want[i] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ? ch : '_';
	}
	want[i] = '\0';
	assert_string_equal(c->node_id, want);
	assert_string_equal(c->name, want);
	char buf[128];
	snprintf(buf, sizeof buf, "mqbridge-%s", want);
	assert_string_equal(c->mqtt.client_id, buf);
	snprintf(buf, sizeof buf, "mqbridge/%s", want);
	assert_string_equal(c->mqtt.base_topic, buf);
	assert_false(c->have_mqtt);
	assert_false(c->have_log_level);
	assert_string_equal(c->mqtt.host, "localhost");
	assert_int_equal(c->mqtt.port, 1883);
	assert_int_equal(c->mqtt.keepalive, 60);
	assert_int_equal(c->mqtt.protocol, 4);
	assert_true(c->mqtt.clean_session);
	assert_false(c->mqtt.tls);
	assert_int_equal(c->mqtt.max_payload, 1048576);
	assert_int_equal(c->mqtt.max_inflight, 256);
	assert_int_equal(c->mqtt.outbound_queue_max, 1000);
	assert_true(c->mqtt.reconnect_min == 1.0 && c->mqtt.reconnect_max == 60.0);
	assert_true(c->discovery);
	assert_string_equal(c->discovery_prefix, "homeassistant");
	assert_int_equal(c->core.executor_threads, 4);
	assert_int_equal(c->core.executor_queue_max, 1024);
	assert_true(c->core.shutdown_timeout == 10.0);
}

static void check_design_example(const struct daemon_options *c)
{
	assert_string_equal(c->node_id, "garage");
	assert_string_equal(c->name, "Garage");
	assert_true(c->have_log_level);
	assert_int_equal(c->log_level, MQB_LOG_INFO);
	assert_true(c->have_mqtt);
	assert_string_equal(c->mqtt.host, "127.0.0.1");
	assert_int_equal(c->mqtt.port, 1883);
	assert_string_equal(c->mqtt.client_id, "mqbridge-garage");
	assert_string_equal(c->mqtt.username, "bridge");
	assert_string_equal(c->mqtt.password, "s3cr3t-password");
	assert_int_equal(c->mqtt.protocol, 4);
	assert_string_equal(c->mqtt.base_topic, "mqbridge/garage");
	assert_true(c->mqtt.tls);
	assert_string_equal(c->mqtt.ca_file, "/etc/ssl/certs/ca.pem");
	assert_string_equal(c->mqtt.cert_file, "/etc/mqbridge/client.crt");
	assert_string_equal(c->mqtt.key_file, "/etc/mqbridge/client.key");
	assert_false(c->mqtt.tls_insecure);
	assert_int_equal(c->core.executor_threads, 4);
}

static void check_list_form(const struct daemon_options *c)
{
	assert_true(c->have_mqtt);
	assert_string_equal(c->mqtt.host, "mqtt.lan");
	assert_string_equal(c->mqtt.username, "ha");
	assert_int_equal(c->mqtt.protocol, 5);
	assert_string_equal(c->node_id, "pantry");
}

static void check_coercion(const struct daemon_options *c)
{
	assert_string_equal(c->node_id, "42");
	assert_int_equal(c->mqtt.protocol, 5);
	assert_true(c->mqtt.tls);
	assert_int_equal(c->mqtt.port, 8883); /* tls: and no port */
	assert_int_equal(c->mqtt.keepalive, 30);
	assert_false(c->mqtt.clean_session);
	assert_false(c->discovery);
	assert_string_equal(c->mqtt.username, "1234");
	assert_string_equal(c->mqtt.password, "0");
	assert_int_equal(c->core.executor_threads, 8);
	assert_true(c->mqtt.tls_insecure);
	assert_int_equal(c->log_level, MQB_LOG_WARNING);
}

static void check_durations(const struct daemon_options *c)
{
	assert_true(c->core.shutdown_timeout == 30.0);
	assert_true(c->mqtt.reconnect_min == 90.0); /* a plain 1:30 is YAML 1.1's 90 */
	assert_true(c->mqtt.reconnect_max == 150.0);
	assert_int_equal(c->mqtt.port, 1884);
}

static void check_env(const struct daemon_options *c)
{
	assert_string_equal(c->mqtt.host, "broker.example");
	assert_string_equal(c->mqtt.username, "fallback-user");
}

static void check_includes(const struct daemon_options *c)
{
	assert_true(c->have_mqtt);
	assert_string_equal(c->mqtt.host, "10.1.2.3");
	assert_string_equal(c->node_id, "attic");
}

static void check_packages(const struct daemon_options *c)
{
	assert_string_equal(c->node_id, "house");
	assert_true(c->have_mqtt);
	assert_string_equal(c->mqtt.host, "broker.house");
}

static void check_anchors(const struct daemon_options *c)
{
	assert_string_equal(c->mqtt.host, "anchored.lan");
	assert_int_equal(c->mqtt.keepalive, 45);
	assert_string_equal(c->discovery_prefix, "ha");
}

static void check_entities_only(const struct daemon_options *c)
{
	/* mqtt: with entities alone still connects, to the default broker */
	assert_true(c->have_mqtt);
	assert_string_equal(c->mqtt.host, "localhost");
	assert_int_equal(c->mqtt.port, 1883);
}

static void check_tls_only_ca(const struct daemon_options *c)
{
	assert_true(c->mqtt.tls);
	assert_int_equal(c->mqtt.port, 8883);
	assert_string_equal(c->mqtt.ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_null(c->mqtt.cert_file);
}

/* Home Assistant's own integrations are skipped, each named once with
 * where it was first given, and so are the user's own custom ones
 * (custom_components/<name>/manifest.json beside the main file); logger:
 * sets the levels (DESIGN §7). */
static void check_home_assistant_main_file(const struct daemon_options *c)
{
	assert_string_equal(c->skipped,
			    "frontend (home_assistant_main_file.yaml:14:1), "
			    "http (home_assistant_main_file.yaml:17:1), "
			    "recorder (home_assistant_main_file.yaml:22:1), "
			    "tts (home_assistant_main_file.yaml:57:1), "
			    "custom integration solar_forecast_x (home_assistant_main_file.yaml:62:1), "
			    "debugpy (home_assistant_main_file.yaml:70:1), "
			    "compensation (home_assistant_main_file.yaml:71:1), "
			    "sensor platform time_date (home_assistant_main_file.yaml:45:15), "
			    "sensor platform rest (home_assistant_main_file.yaml:47:15), "
			    "scene platform homeassistant (home_assistant_main_file.yaml:53:5), "
			    "binary_sensor platform solar_forecast_x "
			    "(home_assistant_main_file.yaml:65:15), "
			    "alarm_control_panel platform manual_mqtt "
			    "(home_assistant_main_file.yaml:76:15), "
			    "light platform switch (home_assistant_main_file.yaml:82:15)");
	assert_true(c->have_log_level);
	assert_int_equal(c->log_level, MQB_LOG_WARNING);
	assert_int_equal(c->nlog_levels, 2);
	assert_string_equal(c->log_levels[0].subsystem, "mqtt");
	assert_int_equal(c->log_levels[0].level, MQB_LOG_DEBUG);
	assert_string_equal(c->log_levels[1].subsystem, "bridge");
	assert_int_equal(c->log_levels[1].level, MQB_LOG_INFO);
	assert_int_equal(c->nitems, 1);
}

static void check_brokers(const struct daemon_options *c)
{
	assert_int_equal(c->mqtt.nbrokers, 3);
	assert_string_equal(c->mqtt.brokers[0], "broker-a.lan");
	assert_string_equal(c->mqtt.brokers[1], "broker-b.lan:1884");
	assert_string_equal(c->mqtt.brokers[2], "mqtt://[fd00::2]:1885");
	assert_int_equal(c->mqtt.port, 1883);
}

static void check_include_dir_missing(const struct daemon_options *c)
{
	const char *n = conf__doc_note(c->doc, 0);
	assert_non_null(n);
	assert_non_null(strstr(n, "include_dir_missing.yaml:5:9: "));
	assert_non_null(strstr(n, "no_such_dir does not exist: taken as an empty directory"));
	assert_int_equal(c->nitems, 0);
}

static const struct good_check {
	const char *file;
	void (*check)(const struct daemon_options *c);
} good_checks[] = {
	{"minimal.yaml", check_minimal},
	{"design_example.yaml", check_design_example},
	{"mqtt_list_form.yaml", check_list_form},
	{"coercion.yaml", check_coercion},
	{"durations.yaml", check_durations},
	{"env_var.yaml", check_env},
	{"includes.yaml", check_includes},
	{"packages.yaml", check_packages},
	{"anchors.yaml", check_anchors},
	{"mqtt_entities_only.yaml", check_entities_only},
	{"tls_only_ca.yaml", check_tls_only_ca},
	{"home_assistant_main_file.yaml", check_home_assistant_main_file},
	{"mqtt_brokers.yaml", check_brokers},
	{"include_dir_missing.yaml", check_include_dir_missing},
};

struct good_run {
	size_t cases, failed, checked;
};

static void run_good(void *arg)
{
	struct good_run *r = arg;
	char **names;
	r->cases = list_cases(".", &names);
	for (size_t i = 0; names[i]; i++) {
		struct mqb_conf_errors errs;
		mqb_conf_errors_init(&errs);
		struct daemon_options c;
		int rc = options__load(names[i], &c, &errs);
		if (rc != 0 || errs.n) {
			char *got = errors_text(&errs);
			fprintf(stderr, "---- %s: rc %d\n%s", names[i], rc, got);
			free(got);
			r->failed++;
			mqb_conf_errors_fini(&errs);
			continue;
		}
		for (size_t k = 0; k < sizeof good_checks / sizeof good_checks[0]; k++)
			if (strcmp(good_checks[k].file, names[i]) == 0) {
				good_checks[k].check(&c);
				r->checked++;
			}
		options__fini(&c);
		mqb_conf_errors_fini(&errs);
	}
	free_list(names);
}

static void each_good_file_loads_without_a_word(void **state)
{
	struct good_run r = {0, 0, 0};
	in_dir("good", run_good, &r);
	if (r.failed)
		fail_msg("%zu of %zu good files gave errors (above)", r.failed, r.cases);
	assert_int_equal(r.checked, sizeof good_checks / sizeof good_checks[0]);
	assert_true(r.cases >= 10);
}

/* ---- the rest ------------------------------------------------------------- */

static void a_missing_file_is_one_error(void **state)
{
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	struct daemon_options c;
	assert_true(options__load("/nonexistent/mqbridge.yaml", &c, &errs) < 0);
	assert_int_equal(errs.n, 1);
	assert_null(c.doc);
	mqb_conf_errors_fini(&errs);
	options__fini(NULL);
}

static void two_configs_live_side_by_side(void **state)
{
	char a[PATH_MAX + 32], b[PATH_MAX + 32];
	snprintf(a, sizeof a, "%s/good/design_example.yaml", data_dir);
	snprintf(b, sizeof b, "%s/good/mqtt_list_form.yaml", data_dir);
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	struct daemon_options ca, cb;
	assert_int_equal(options__load(a, &ca, &errs), 0);
	assert_int_equal(options__load(b, &cb, &errs), 0);
	options__fini(&ca);
	assert_string_equal(cb.mqtt.client_id, "mqbridge-pantry");
	assert_string_equal(cb.mqtt.base_topic, "mqbridge/pantry");
	options__fini(&cb);
	assert_int_equal(errs.n, 0);
	mqb_conf_errors_fini(&errs);
}

static void quiet(void *ud, enum mqb_log_level level, const char *subsystem, const char *line)
{
}

static void failing_allocations_never_crash(void **state)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/good/packages.yaml", data_dir);
	mqb_log_set_sink(quiet, NULL);
	for (unsigned long fail = 1; fail < 400; fail++) {
		struct mqb_conf_errors errs;
		mqb_conf_errors_init(&errs);
		struct daemon_options c;
		mqb__alloc_fail_after(fail);
		int rc = options__load(path, &c, &errs);
		mqb__alloc_fail_after(0);
		if (rc == 0)
			options__fini(&c);
		else
			assert_null(c.doc);
		mqb_conf_errors_fini(&errs);
	}
	mqb_log_set_sink(NULL, NULL);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_bad_file_gives_exactly_its_err_lines),
		cmocka_unit_test(each_good_file_loads_without_a_word),
		cmocka_unit_test(a_missing_file_is_one_error),
		cmocka_unit_test(two_configs_live_side_by_side),
		cmocka_unit_test(failing_allocations_never_crash),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, setup, NULL);
}
