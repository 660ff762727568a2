/* SPDX-License-Identifier: MIT */
/* The file integration: the last line of a file as Home Assistant's file
 * sensor takes it, read from the end within bounds (huge files, no final
 * newline, empty and missing files, /proc), and the daemon following a
 * file as lines are appended. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "testutil.h"
#include "daemon.h"
#include "sysmon_read.h"

/* ---- helpers ------------------------------------------------------------ */

static char tmpdir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/mqb-test-file.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	(void)state;
	char path[PATH_MAX];
	const char *names[] = {"f", "huge", "big"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	return rmdir(tmpdir);
}

static const char *tmp_path(const char *name)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	return path;
}

static void write_file(const char *name, const char *text, size_t len)
{
	int fd = open(tmp_path(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* The last line of path, or NULL with *err set. */
static char *last_line_of(const char *path, size_t max_line, int *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	char *line = NULL;
	size_t len = 0;
	*err = sysmon_last_line(fd, max_line, &line, &len);
	close(fd);
	if (*err == 0)
		assert_int_equal(strlen(line), len);
	return line;
}

static void assert_last(const char *text, size_t len, const char *want)
{
	int err;
	write_file("f", text, len);
	char *line = last_line_of(tmp_path("f"), 65536, &err);
	if (err != 0)
		fail_msg("'%s': %s", text, strerror(-err));
	assert_string_equal(line, want);
	free(line);
}

static void assert_last_fails(const char *text, size_t len, size_t max_line, int want)
{
	int err;
	write_file("f", text, len);
	char *line = last_line_of(tmp_path("f"), max_line, &err);
	assert_null(line);
	assert_int_equal(err, want);
}

#define LAST(text, want) assert_last(text, sizeof text - 1, want)

/* ---- the last line ------------------------------------------------------- */

static void the_last_line_is_the_state(void **state)
{
	(void)state;
	LAST("21.5\n", "21.5");
	LAST("20.1\n20.7\n21.5\n", "21.5");
	LAST("only", "only");
	/* no newline at the end: what follows the last one */
	LAST("20.1\n20.7\n21.5", "21.5");
	/* the final newline closes the last line, so a blank line is one */
	LAST("20.1\n\n", "");
	LAST("\n", "");
	/* \r\n and \r end lines too (Python's universal newlines) */
	LAST("20.1\r\n21.5\r\n", "21.5");
	LAST("20.1\r21.5\r", "21.5");
	LAST("20.1\r\n21.5", "21.5");
	/* stripped at both ends as str.strip() */
	LAST("a\n \t 21.5 \t\n", "21.5");
	/* python3: '\x1c\xa021.5\u3000'.strip() == '21.5' */
	LAST("a\n\x1c\xc2\xa0" "21.5\xe3\x80\x80\n", "21.5");
	LAST("{\"temperature\": 21.5}\n", "{\"temperature\": 21.5}");
	LAST("caf\xc3\xa9\n", "caf\xc3\xa9");
}

static void an_empty_file_has_no_line(void **state)
{
	(void)state;
	assert_last_fails("", 0, 65536, -ENODATA);
}

static void a_line_that_is_not_utf8_is_refused(void **state)
{
	(void)state;
	assert_last_fails("ok\n\xff\xfe bad\n", 10, 65536, -EILSEQ);
	assert_last_fails("ok\nnul\0here\n", 13, 65536, -EILSEQ);
	/* an earlier bad line does not matter */
	LAST("\xff\n21.5\n", "21.5");
}

static void a_directory_or_a_missing_file_is_an_error(void **state)
{
	(void)state;
	int err;
	assert_null(last_line_of(tmpdir, 65536, &err));
	assert_int_equal(err, -EISDIR);
	assert_null(last_line_of(tmp_path("missing"), 65536, &err));
	assert_int_equal(err, -ENOENT);
}

static void a_long_last_line_is_read_whole_across_windows(void **state)
{
	(void)state;
	/* longer than the first 4 KiB window, shorter than the bound */
	size_t n = 20000;
	char *text = malloc(n + 64);
	strcpy(text, "first line\n");
	size_t off = strlen(text);
	for (size_t i = 0; i < n; i++)
		text[off + i] = (char)('a' + i % 26);
	off += n;
	strcpy(text + off, "\n");
	write_file("f", text, off + 1);
	int err;
	char *line = last_line_of(tmp_path("f"), 65536, &err);
	assert_int_equal(err, 0);
	assert_int_equal(strlen(line), n);
	assert_memory_equal(line, text + 11, n);
	free(line);
	/* the same file with a smaller bound */
	assert_null(last_line_of(tmp_path("f"), 10000, &err));
	assert_int_equal(err, -E2BIG);
	/* and a file of one line, no newline at all, over the bound */
	assert_last_fails(text + 11, n, 1000, -E2BIG);
	free(text);
}

static void a_huge_file_is_read_from_its_end(void **state)
{
	(void)state;
	/* 64 GiB, sparse: reading it through would take minutes and find a
	 * sea of NULs; the last line is there at once */
	int fd = open(tmp_path("huge"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	off_t size = (off_t)64 << 30;
	if (ftruncate(fd, size) < 0) {
		close(fd);
		skip(); /* a file system without sparse files this large */
	}
	const char tail[] = "\n2024-05-01 12:00:00 temperature=21.5\n";
	assert_int_equal(pwrite(fd, tail, sizeof tail - 1, size), (ssize_t)(sizeof tail - 1));
	close(fd);
	double t0 = tu_now();
	int err;
	char *line = last_line_of(tmp_path("huge"), 65536, &err);
	assert_int_equal(err, 0);
	assert_string_equal(line, "2024-05-01 12:00:00 temperature=21.5");
	free(line);
	assert_true(tu_now() - t0 < 1.0);
	/* a big real file: 8 MB of lines */
	fd = open(tmp_path("big"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	char buf[64];
	FILE *f = fdopen(fd, "w");
	for (int i = 0; i < 400000; i++) {
		snprintf(buf, sizeof buf, "%d line of the log\n", i);
		fputs(buf, f);
	}
	fclose(f);
	line = last_line_of(tmp_path("big"), 65536, &err);
	assert_int_equal(err, 0);
	assert_string_equal(line, "399999 line of the log");
	free(line);
	unlink(tmp_path("huge"));
	unlink(tmp_path("big"));
}

static void proc_files_without_a_size_are_read_from_the_start(void **state)
{
	(void)state;
	int err;
	/* /proc/self/status reports size 0; its last line is a counter */
	char *line = last_line_of("/proc/self/status", 65536, &err);
	assert_int_equal(err, 0);
	assert_non_null(strstr(line, "ctxt_switches:"));
	free(line);
	line = last_line_of("/proc/loadavg", 65536, &err);
	assert_int_equal(err, 0);
	assert_non_null(strchr(line, '/'));
	free(line);
	/* sysfs says 4096 bytes and holds a few */
	if (access("/sys/class/net/lo/mtu", R_OK) == 0) {
		line = last_line_of("/sys/class/net/lo/mtu", 65536, &err);
		assert_int_equal(err, 0);
		assert_true(atoi(line) > 0);
		free(line);
	}
}

/* ---- through the daemon ------------------------------------------------------ */

#define BASE "t/fl"

static const char *const config_head =
	"mqbridge:\n"
	"  node_id: fl\n"
	"mqtt:\n"
	"  broker: 127.0.0.1\n"
	"  port: %PORT%\n"
	"  base_topic: " BASE "\n"
	"sensor:\n";

static void write_config(struct td *t, const char *sensors)
{
	char *yaml = malloc(strlen(config_head) + strlen(sensors) + 1);
	assert_non_null(yaml);
	strcpy(yaml, config_head);
	strcat(yaml, sensors);
	td_write_config(t, yaml);
	free(yaml);
}

/* Append text to dir/name, as a logger would. */
static void append(struct td *t, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", t->dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

#define STATE(id) BASE "/sensor/" id "/state"

static void the_sensor_follows_lines_appended_to_the_file(void **state)
{
	(void)state;
	struct td t;
	td_init(&t, NULL);
	td_write_file(&t, "outside.log", "19.8\n20.1\n", NULL, 0);
	write_config(&t, "  - platform: file\n"
			 "    name: Outside temperature\n"
			 "    file_path: %DIR%/outside.log\n"
			 "    unit_of_measurement: \"\xc2\xb0" "C\"\n"
			 "    scan_interval: 0.1\n");
	td_start(&t, NULL);
	td_expect(&t, STATE("outside_temperature"), "20.1");
	append(&t, "outside.log", "20.7\n");
	td_expect(&t, STATE("outside_temperature"), "20.7");
	/* a line still being written: no newline yet */
	append(&t, "outside.log", "21.5");
	td_expect(&t, STATE("outside_temperature"), "21.5");
	append(&t, "outside.log", "\r\n  22.0  \r\n");
	td_expect(&t, STATE("outside_temperature"), "22.0");
	/* Home Assistant's unit and the file sensor's icon in discovery */
	const char *cfg = "homeassistant/sensor/fl/outside_temperature/config";
	td_expect(&t, cfg, NULL);
	json_t *d = json_loads(td_last(&t, cfg), 0, NULL);
	assert_non_null(d);
	assert_string_equal(json_string_value(json_object_get(d, "name")), "Outside temperature");
	assert_string_equal(json_string_value(json_object_get(d, "unit_of_measurement")),
			    "\xc2\xb0" "C");
	assert_string_equal(json_string_value(json_object_get(d, "icon")), "mdi:file");
	json_decref(d);
	td_stop_clean(&t);
	td_fini(&t);
}

static void value_template_makes_the_state_and_a_bad_line_keeps_it(void **state)
{
	(void)state;
	struct td t;
	td_init(&t, NULL);
	td_write_file(&t, "sensor.jsonl", "{\"temperature\": 21.46, \"humidity\": 40}\n", NULL, 0);
	td_write_file(&t, "plain.log", "21.5\n", NULL, 0);
	write_config(&t, "  - platform: file\n"
			 "    name: Kitchen\n"
			 "    file_path: %DIR%/sensor.jsonl\n"
			 "    value_template: \"{{ value_json.temperature | round(1) }}\"\n"
			 "    scan_interval: 0.1\n"
			 "  - platform: file\n"
			 "    name: Fahrenheit\n"
			 "    file_path: %DIR%/plain.log\n"
			 "    value_template: \"{{ (value | float * 1.8 + 32) | round(1) }}\"\n"
			 "    scan_interval: 0.1\n");
	td_start(&t, NULL);
	td_expect(&t, STATE("kitchen"), "21.5");
	td_expect(&t, STATE("fahrenheit"), "70.7");
	append(&t, "sensor.jsonl", "{\"temperature\": 22.04, \"humidity\": 41}\n");
	td_expect(&t, STATE("kitchen"), "22.0");
	/* a line the template cannot take: logged once, the state stays */
	append(&t, "plain.log", "sensor offline\n");
	td_expect_log(&t, "sensor.fahrenheit: value_template: error rendering");
	assert_false(td_log_wait(&t, "this line is never logged", 0.5));
	assert_int_equal(td_log_count(&t, "sensor.fahrenheit: value_template: error rendering"), 1);
	assert_string_equal(td_last(&t, STATE("fahrenheit")), "70.7");
	append(&t, "plain.log", "22\n");
	td_expect(&t, STATE("fahrenheit"), "71.6");
	td_stop_clean(&t);
	td_fini(&t);
}

static void a_missing_file_is_logged_once_until_it_appears(void **state)
{
	(void)state;
	struct td t;
	td_init(&t, NULL);
	write_config(&t, "  - platform: file\n"
			 "    name: Later\n"
			 "    file_path: %DIR%/later.log\n"
			 "    scan_interval: 0.1\n");
	td_start(&t, NULL);
	td_expect(&t, STATE("later"), "unknown");
	td_expect_log(&t, "later.log: No such file or directory; keeping the state unknown");
	/* ten more reads of a file still missing: no more warnings (a check
	 * of absence, so it waits its full bound) */
	assert_false(td_log_wait(&t, "this line is never logged", 1.0));
	assert_int_equal(td_log_count(&t, "later.log: No such file or directory"), 1);
	append(&t, "later.log", "here\n");
	td_expect(&t, STATE("later"), "here");
	td_expect_log(&t, "later.log reads again");
	/* gone again (rotated away): the state stays, one more warning */
	char path[256];
	snprintf(path, sizeof path, "%s/later.log", t.dir);
	unlink(path);
	td_expect_log(&t, "later.log: No such file or directory; keeping the state here");
	td_stop_clean(&t);
	assert_string_equal(td_last(&t, STATE("later")), "here");
	td_fini(&t);
}

static void an_empty_file_keeps_the_state_until_a_line_comes(void **state)
{
	(void)state;
	struct td t;
	td_init(&t, NULL);
	td_write_file(&t, "empty.log", "", NULL, 0);
	write_config(&t, "  - platform: file\n"
			 "    file_path: %DIR%/empty.log\n"
			 "    scan_interval: 0.1\n");
	td_start(&t, NULL);
	/* Home Assistant's default name */
	td_expect(&t, STATE("file"), "unknown");
	td_expect_log(&t, "empty.log: the file is empty");
	append(&t, "empty.log", "first\n");
	td_expect(&t, STATE("file"), "first");
	td_stop_clean(&t);
	td_fini(&t);
}

static void a_huge_file_gives_its_last_line_at_once(void **state)
{
	(void)state;
	struct td t;
	td_init(&t, NULL);
	char path[256];
	snprintf(path, sizeof path, "%s/huge.log", t.dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	off_t size = (off_t)32 << 30;
	if (ftruncate(fd, size) < 0) {
		close(fd);
		td_fini(&t);
		skip();
	}
	const char tail[] = "\n2024-05-01T12:00:00 pressure=1013.2\n";
	assert_int_equal(pwrite(fd, tail, sizeof tail - 1, size), (ssize_t)(sizeof tail - 1));
	close(fd);
	write_config(&t, "  - platform: file\n"
			 "    name: Log\n"
			 "    file_path: %DIR%/huge.log\n"
			 "    value_template: \"{{ value.split('=')[1] }}\"\n");
	td_start(&t, NULL);
	td_expect(&t, STATE("log"), "1013.2");
	td_stop_clean(&t);
	td_fini(&t);
}

static void options_are_checked_with_their_position(void **state)
{
	(void)state;
	struct td t;
	td_init(&t, NULL);
	char err[8192];
	write_config(&t, "  - platform: file\n"                 /* line 8 */
			 "    name: No path\n"
			 "    file: /tmp/x\n"                       /* line 10 */
			 "  - platform: file\n"
			 "    file_path: /tmp/x\n"
			 "    value_template: \"{{ value | float( }}\"\n" /* line 13 */
			 "    scan_interval: soon\n");              /* line 14 */
	assert_int_equal(td_run(&t, err, sizeof err, "--check-config", NULL), 78);
	assert_non_null(strstr(err, "mqbridge.yaml:10:5: sensor[0].file: unknown option 'file'"));
	assert_non_null(strstr(err, "mqbridge.yaml:8:5: sensor[0]: required option 'file_path' is "
				    "missing"));
	assert_non_null(strstr(err, "mqbridge.yaml:13:"));
	assert_non_null(strstr(err, "sensor[1].value_template: invalid template"));
	assert_non_null(strstr(err, "mqbridge.yaml:14:20: sensor[1].scan_interval:"));
	td_fini(&t);
}

/* Home Assistant's file notify: each message a line appended to the file,
 * a header first in a new one, the time before it when asked. */
static void a_notify_service_appends_each_message_as_a_line(void **state)
{
	(void)state;
	struct td t;
	td_init(&t, NULL);
	write_config(&t, "  - platform: file\n"
			 "    file_path: %DIR%/unused\n"
			 "notify:\n"
			 "  - platform: file\n"
			 "    name: filenotify\n"
			 "    file_path: notify.txt\n"
			 "  - platform: file\n"
			 "    name: Stamped\n"
			 "    filename: %DIR%/stamped.txt\n"
			 "    timestamp: true\n"
			 "template:\n"
			 "  - switch:\n"
			 "      - name: Tell\n"
			 "        turn_on:\n"
			 "          - service: notify.filenotify\n"
			 "            data: {message: Laundry is done}\n"
			 "          - service: notify.stamped\n"
			 "            data: {message: Laundry is done, title: Chores}\n"
			 "        turn_off: []\n");
	td_start(&t, NULL);
	td_expect(&t, BASE "/switch/tell/state", NULL);
	long n = td_count(&t);
	td_pub(&t, BASE "/switch/tell/set", "ON", false);
	td_expect_after(&t, n, BASE "/switch/tell/state", "on");
	n = td_count(&t);
	td_pub(&t, BASE "/switch/tell/set", "OFF", false);
	td_expect_after(&t, n, BASE "/switch/tell/state", "off");
	n = td_count(&t);
	td_pub(&t, BASE "/switch/tell/set", "ON", false);
	td_expect_after(&t, n, BASE "/switch/tell/state", "on");
	char path[256], buf[4096];
	/* relative to the configuration's folder */
	snprintf(path, sizeof path, "%s/notify.txt", t.dir);
	for (double end = tu_now() + TU_TIMEOUT; tu_now() < end;) {
		FILE *f = fopen(path, "r");
		size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
		buf[len] = '\0';
		if (f)
			fclose(f);
		if (strstr(buf, "done\nLaundry is done\n"))
			break;
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_non_null(strstr(buf, "Home Assistant notifications (Log started: "));
	assert_non_null(strstr(buf, ")\n--------------------------------------------------"
				    "------------------------------\nLaundry is done\n"
				    "Laundry is done\n"));
	snprintf(path, sizeof path, "%s/stamped.txt", t.dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t len = fread(buf, 1, sizeof buf - 1, f);
	buf[len] = '\0';
	fclose(f);
	assert_true(strncmp(buf, "Chores notifications (Log started: ", 35) == 0);
	/* "2024-05-01T12:00:00.123456+00:00 Laundry is done" */
	const char *line = strstr(buf, "-\n") + 2;
	assert_non_null(strstr(line, "+00:00 Laundry is done\n"));
	assert_true(line[4] == '-' && line[10] == 'T');
	td_stop_clean(&t);
	td_fini(&t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_last_line_is_the_state),
		cmocka_unit_test(an_empty_file_has_no_line),
		cmocka_unit_test(a_line_that_is_not_utf8_is_refused),
		cmocka_unit_test(a_directory_or_a_missing_file_is_an_error),
		cmocka_unit_test(a_long_last_line_is_read_whole_across_windows),
		cmocka_unit_test(a_huge_file_is_read_from_its_end),
		cmocka_unit_test(proc_files_without_a_size_are_read_from_the_start),
			cmocka_unit_test(the_sensor_follows_lines_appended_to_the_file),
		cmocka_unit_test(value_template_makes_the_state_and_a_bad_line_keeps_it),
		cmocka_unit_test(a_missing_file_is_logged_once_until_it_appears),
		cmocka_unit_test(an_empty_file_keeps_the_state_until_a_line_comes),
		cmocka_unit_test(a_huge_file_gives_its_last_line_at_once),
		cmocka_unit_test(options_are_checked_with_their_position),
		cmocka_unit_test(a_notify_service_appends_each_message_as_a_line),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
