/* SPDX-License-Identifier: MIT */
/* The systemmonitor integration: its parsers on the /proc and /sys samples
 * in t/data/sysmon, the figures Home Assistant computes from them (psutil's
 * arithmetic, Python's rounding), the real machine's values, and the
 * daemon publishing them. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <unistd.h>

#include <jansson.h>

#include "testutil.h"
#include "daemon.h"
#include "sysmon_read.h"

/* ---- helpers ------------------------------------------------------------ */

/* t/data/sysmon: under $srcdir when automake runs the test, else beside
 * this file. */
static const char *data_dir(void)
{
	static char dir[PATH_MAX];
	if (dir[0])
		return dir;
	const char *srcdir = getenv("srcdir");
	if (srcdir) {
		snprintf(dir, sizeof dir, "%s/t/data/sysmon", srcdir);
		if (access(dir, R_OK) == 0)
			return dir;
	}
	snprintf(dir, sizeof dir, "%s", __FILE__);
	char *slash = strrchr(dir, '/');
	snprintf(slash ? slash + 1 : dir, sizeof dir - (size_t)(slash ? slash + 1 - dir : 0),
		 "data/sysmon");
	if (access(dir, R_OK) != 0)
		fail_msg("t/data/sysmon not found (srcdir=%s, tried %s)", srcdir ? srcdir : "", dir);
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

/* The text of a fixture, in a static buffer. */
static const char *fixture(const char *rel)
{
	static char buf[2][64 * 1024];
	static unsigned next;
	char *b = buf[next++ % 2];
	int rc = sysmon_read_file(data(rel), b, sizeof buf[0], NULL);
	if (rc < 0)
		fail_msg("%s: %s", data(rel), strerror(-rc));
	return b;
}

/* Read one resource against the fixture tree (proc, sys). */
static int read_fixture(enum sysmon_type type, const char *arg, const char *sys, char *out,
			size_t n)
{
	struct sysmon_paths p = {.proc = data("proc"), .sys = data(sys)};
	struct sysmon_res r = {.type = type, .arg = arg};
	char why[512];
	int rc = sysmon_res_read(&r, &p, 100.0, out, n, why, sizeof why);
	if (rc < 0)
		print_message("%s: %s\n", sysmon_types[type].key, why);
	return rc;
}

static void assert_reads(enum sysmon_type type, const char *arg, const char *want)
{
	char out[256];
	assert_int_equal(read_fixture(type, arg, "sys", out, sizeof out), 1);
	assert_string_equal(out, want);
}

/* ---- numbers ------------------------------------------------------------- */

static void numbers_print_as_python_rounds_and_reprs_them(void **state)
{
	(void)state;
	char b[64];
	assert_string_equal(sysmon_fmt(0.5, 2, b, sizeof b), "0.5");
	assert_string_equal(sysmon_fmt(1.25, 2, b, sizeof b), "1.25");
	assert_string_equal(sysmon_fmt(12.0, 1, b, sizeof b), "12.0");
	assert_string_equal(sysmon_fmt(100.0, 1, b, sizeof b), "100.0");
	assert_string_equal(sysmon_fmt(0.001, 3, b, sizeof b), "0.001");
	assert_string_equal(sysmon_fmt(0.0, 3, b, sizeof b), "0.0");
	/* the exact binary value decides: 2.675 is 2.67499999..., 0.125 a tie */
	assert_string_equal(sysmon_fmt(2.675, 2, b, sizeof b), "2.67");
	assert_string_equal(sysmon_fmt(0.125, 2, b, sizeof b), "0.12");
	assert_string_equal(sysmon_fmt(45.25, 1, b, sizeof b), "45.2");
	/* round() to a whole number: ties to even, no point */
	assert_string_equal(sysmon_fmt(42.5, 0, b, sizeof b), "42");
	assert_string_equal(sysmon_fmt(43.5, 0, b, sizeof b), "44");
	assert_string_equal(sysmon_fmt(7.2, 0, b, sizeof b), "7");
}

static void percent_is_psutils_one_decimal_and_zero_without_a_total(void **state)
{
	(void)state;
	assert_true(sysmon_percent(1, 3) == 33.3);
	assert_true(sysmon_percent(2, 3) == 66.7);
	assert_true(sysmon_percent(0, 0) == 0.0);
	assert_true(sysmon_percent(5, 5) == 100.0);
}

/* ---- /proc/stat ---------------------------------------------------------- */

static void stat_gives_the_aggregate_cpu_line_and_the_boot_time(void **state)
{
	(void)state;
	struct sysmon_cpu_times t;
	assert_int_equal(sysmon_parse_cpu(fixture("proc/stat"), &t), 0);
	assert_int_equal(t.n, 10);
	assert_true(t.v[0] == 10132153ULL);
	assert_true(t.v[3] == 46828483ULL);
	assert_true(t.v[8] == 175628ULL);
	long long bt;
	assert_int_equal(sysmon_parse_btime(fixture("proc/stat"), &bt), 0);
	assert_true(bt == 1700000000LL);
	/* a 2.6.24 kernel's four-field line is enough; no cpu line is not */
	assert_int_equal(sysmon_parse_cpu("cpu  1 2 3 4\n", &t), 0);
	assert_int_equal(t.n, 4);
	assert_int_equal(sysmon_parse_cpu("cpu0 1 2 3 4\nintr 5\n", &t), -EINVAL);
	assert_int_equal(sysmon_parse_cpu("cpu  1 2\n", &t), -EINVAL);
	assert_int_equal(sysmon_parse_btime("cpu  1 2 3 4\n", &bt), -EINVAL);
}

static void processor_use_compares_two_stat_samples(void **state)
{
	(void)state;
	struct sysmon_cpu_times a, b;
	assert_int_equal(sysmon_parse_cpu(fixture("proc/stat"), &a), 0);
	assert_int_equal(sysmon_parse_cpu(fixture("proc-2/stat"), &b), 0);
	/* 1000 jiffies passed (guest time is inside user), 425 busy */
	assert_true(sysmon_cpu_percent(&a, &b) == 42.5);
	/* nothing passed: 0, as psutil */
	assert_true(sysmon_cpu_percent(&a, &a) == 0.0);
	/* a counter going back counts as 0, not as a huge number */
	struct sysmon_cpu_times back = a;
	back.v[3] -= 100;
	back.v[0] += 100;
	assert_true(sysmon_cpu_percent(&a, &back) == 100.0);
}

static void processor_use_reads_a_whole_number_rounded_to_even(void **state)
{
	(void)state;
	struct sysmon_paths p1 = {.proc = data("proc"), .sys = data("sys")};
	struct sysmon_paths p2 = {.proc = data("proc-2"), .sys = data("sys")};
	struct sysmon_res r = {.type = SYSMON_PROCESSOR_USE, .arg = ""};
	char out[64], why[256];
	/* the first read samples twice (no time passes in a fixture): 0 */
	assert_int_equal(sysmon_res_read(&r, &p1, 1, out, sizeof out, why, sizeof why), 1);
	assert_string_equal(out, "0");
	assert_true(r.have_cpu);
	/* the next compares with the sample kept: 42.5 % is 42, as Python's
	 * round() */
	assert_int_equal(sysmon_res_read(&r, &p2, 2, out, sizeof out, why, sizeof why), 1);
	assert_string_equal(out, "42");
	/* and it keeps the new sample: nothing passed since */
	assert_int_equal(sysmon_res_read(&r, &p2, 3, out, sizeof out, why, sizeof why), 1);
	assert_string_equal(out, "0");
}

static void last_boot_is_iso_8601_in_utc_and_read_once(void **state)
{
	(void)state;
	struct sysmon_paths p = {.proc = data("proc"), .sys = data("sys")};
	struct sysmon_res r = {.type = SYSMON_LAST_BOOT, .arg = ""};
	char out[64], why[256];
	assert_int_equal(sysmon_res_read(&r, &p, 1, out, sizeof out, why, sizeof why), 1);
	assert_string_equal(out, "2023-11-14T22:13:20+00:00");
	/* Home Assistant reads it on setup only */
	assert_int_equal(sysmon_res_read(&r, &p, 2, out, sizeof out, why, sizeof why), 0);
}

/* ---- /proc/meminfo ------------------------------------------------------- */

static void meminfo_is_parsed_in_bytes(void **state)
{
	(void)state;
	struct sysmon_meminfo m;
	assert_int_equal(sysmon_parse_meminfo(fixture("proc/meminfo"), &m), 0);
	assert_true(m.total == 8053212ULL * 1024);
	assert_true(m.available == 3145728ULL * 1024);
	assert_true(m.have_available);
	assert_true(m.swap_total == 2097148ULL * 1024);
	assert_true(m.swap_free == 1572860ULL * 1024);
	assert_true(sysmon_mem_available(&m) == 3145728ULL * 1024);
	assert_int_equal(sysmon_parse_meminfo("Cached: 5 kB\n", &m), -EINVAL);
	assert_int_equal(sysmon_parse_meminfo("MemTotal: lots\n", &m), -EINVAL);
}

static void memory_figures_are_mib_and_percent_of_total(void **state)
{
	(void)state;
	assert_reads(SYSMON_MEMORY_USE, "", "4792.5");     /* (total - available) MiB */
	assert_reads(SYSMON_MEMORY_FREE, "", "3072.0");    /* available MiB */
	assert_reads(SYSMON_MEMORY_USE_PERCENT, "", "60.9");
	assert_reads(SYSMON_SWAP_USE, "", "512.0");
	assert_reads(SYSMON_SWAP_FREE, "", "1536.0");
	assert_reads(SYSMON_SWAP_USE_PERCENT, "", "25.0");
}

static void an_old_kernel_without_memavailable_or_swap_still_adds_up(void **state)
{
	(void)state;
	struct sysmon_meminfo m;
	assert_int_equal(sysmon_parse_meminfo(fixture("meminfo-old"), &m), 0);
	assert_false(m.have_available);
	/* free + buffers + cached + SReclaimable */
	assert_true(sysmon_mem_available(&m) == 88064ULL * 1024);
	char b[32];
	double used = (double)(m.total - sysmon_mem_available(&m));
	assert_string_equal(sysmon_fmt(used / 1048576.0, 1, b, sizeof b), "163.3");
	assert_string_equal(sysmon_fmt(sysmon_percent(used, (double)m.total), 1, b, sizeof b),
			    "65.5");
	/* no swap at all: 0.0 %, as psutil */
	assert_string_equal(sysmon_fmt(sysmon_percent(0, (double)m.swap_total), 1, b, sizeof b),
			    "0.0");
}

/* ---- /proc/loadavg ------------------------------------------------------- */

static void load_averages_keep_two_decimals(void **state)
{
	(void)state;
	double l[3];
	assert_int_equal(sysmon_parse_loadavg(fixture("proc/loadavg"), l), 0);
	assert_true(l[0] == 0.52 && l[1] == 1.5 && l[2] == 0.05);
	assert_reads(SYSMON_LOAD_1M, "", "0.52");
	assert_reads(SYSMON_LOAD_5M, "", "1.5");
	assert_reads(SYSMON_LOAD_15M, "", "0.05");
	assert_int_equal(sysmon_parse_loadavg("0.5 x\n", l), -EINVAL);
	assert_int_equal(sysmon_parse_loadavg("", l), -EINVAL);
}

/* ---- /proc/net/dev ------------------------------------------------------- */

static void net_dev_finds_an_interface_by_its_exact_name(void **state)
{
	(void)state;
	struct sysmon_netdev d;
	const char *text = fixture("proc/net/dev");
	assert_int_equal(sysmon_parse_netdev(text, "eth0", &d), 0);
	assert_true(d.rx_bytes == 1610612736ULL && d.rx_packets == 1234567ULL);
	assert_true(d.tx_bytes == 52428800ULL && d.tx_packets == 234567ULL);
	/* a long name runs into its first number */
	assert_int_equal(sysmon_parse_netdev(text, "enp0s31f6", &d), 0);
	assert_true(d.rx_bytes == 123456789012ULL && d.tx_packets == 12345678ULL);
	assert_int_equal(sysmon_parse_netdev(text, "eth", &d), -ENOENT);
	assert_int_equal(sysmon_parse_netdev(text, "eth1", &d), -ENOENT);
	assert_int_equal(sysmon_parse_netdev("  eth0: 1 2 3\n", "eth0", &d), -EINVAL);
}

static void network_totals_are_mib_and_packets_are_counts(void **state)
{
	(void)state;
	assert_reads(SYSMON_NETWORK_IN, "eth0", "1536.0");
	assert_reads(SYSMON_NETWORK_OUT, "eth0", "50.0");
	assert_reads(SYSMON_PACKETS_IN, "eth0", "1234567");
	assert_reads(SYSMON_PACKETS_OUT, "eth0", "234567");
	assert_reads(SYSMON_NETWORK_IN, "wlan0", "0.0");
}

static void throughput_is_mb_per_second_from_two_readings(void **state)
{
	(void)state;
	double v;
	assert_true(sysmon_throughput(1000000, 4000000, 2.0, &v));
	assert_true(v == 1.5);
	assert_true(sysmon_throughput(0, 1234567, 7.0, &v));
	assert_true(v == 0.176);
	assert_true(sysmon_throughput(5, 5, 1.0, &v));
	assert_true(v == 0.0);
	assert_false(sysmon_throughput(6, 5, 1.0, &v)); /* a reset or a wrap */
	assert_false(sysmon_throughput(5, 6, 0.0, &v));

	/* the first read has nothing to compare with: unknown */
	struct sysmon_paths p = {.proc = data("proc"), .sys = data("sys")};
	struct sysmon_res r = {.type = SYSMON_THROUGHPUT_NETWORK_IN, .arg = "eth0"};
	char out[64], why[256];
	assert_int_equal(sysmon_res_read(&r, &p, 10.0, out, sizeof out, why, sizeof why), 1);
	assert_string_equal(out, "unknown");
	r.counter -= 3000000; /* as if 3 MB had come in over the next 2 s */
	assert_int_equal(sysmon_res_read(&r, &p, 12.0, out, sizeof out, why, sizeof why), 1);
	assert_string_equal(out, "1.5");
}

static void a_missing_interface_is_a_missing_source(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(read_fixture(SYSMON_NETWORK_IN, "eth9", "sys", out, sizeof out),
			 -ENODEV);
	assert_int_equal(read_fixture(SYSMON_THROUGHPUT_NETWORK_OUT, "eth9", "sys", out,
				      sizeof out),
			 -ENODEV);
	assert_int_equal(read_fixture(SYSMON_IPV4_ADDRESS, "no-such-if0", "sys", out, sizeof out),
			 -ENODEV);
	struct sysmon_paths p = {.proc = data("no-proc"), .sys = data("sys")};
	struct sysmon_res r = {.type = SYSMON_MEMORY_USE, .arg = ""};
	char why[512];
	assert_int_equal(sysmon_res_read(&r, &p, 1, out, sizeof out, why, sizeof why), -ENOENT);
	assert_non_null(strstr(why, "no-proc/meminfo"));
}

/* ---- processes ------------------------------------------------------------ */

static void process_is_on_while_one_has_that_name(void **state)
{
	(void)state;
	assert_reads(SYSMON_PROCESS, "mosquitto", "on");
	assert_reads(SYSMON_PROCESS, "systemd", "on");
	/* the kernel cuts comm at 15 bytes; the command line completes it */
	assert_reads(SYSMON_PROCESS, "very-long-process-name", "on");
	assert_reads(SYSMON_PROCESS, "very-long-proce", "off");
	assert_reads(SYSMON_PROCESS, "mosq", "off");
}

/* ---- temperatures --------------------------------------------------------- */

static void processor_temperature_takes_home_assistants_cpu_sensor(void **state)
{
	(void)state;
	double c;
	/* acpitz (hwmon0) is no CPU sensor; coretemp's "Package id 0" is */
	assert_int_equal(sysmon_cpu_temperature(data("sys"), &c), 0);
	assert_true(c == 45.2);
	/* a Raspberry Pi has only thermal zones: "cpu-thermal 1" */
	assert_int_equal(sysmon_cpu_temperature(data("sys-pi"), &c), 0);
	assert_true(c == 51.5);
	assert_int_equal(sysmon_cpu_temperature(data("sys-none"), &c), -ENOENT);
	assert_int_equal(sysmon_cpu_temperature(data("no-sys"), &c), -ENOENT);
	assert_reads(SYSMON_PROCESSOR_TEMPERATURE, "", "45.2");
	char out[64];
	assert_int_equal(read_fixture(SYSMON_PROCESSOR_TEMPERATURE, "", "sys-none", out,
				      sizeof out),
			 -ENOENT);
}

/* ---- the type table -------------------------------------------------------- */

static void types_carry_home_assistants_names_units_and_classes(void **state)
{
	(void)state;
	assert_int_equal(sysmon_type_find("disk_use_percent"), SYSMON_DISK_USE_PERCENT);
	assert_int_equal(sysmon_type_find("processor_use"), SYSMON_PROCESSOR_USE);
	assert_int_equal(sysmon_type_find("cpu"), -1);
	for (int i = 0; i < SYSMON_NTYPES; i++) {
		assert_string_equal(sysmon_type_keys[i], sysmon_types[i].key);
		assert_non_null(sysmon_types[i].name);
		assert_true(!sysmon_types[i].mandatory_arg || sysmon_types[i].arg_doc);
	}
	assert_null(sysmon_type_keys[SYSMON_NTYPES]);
	const struct sysmon_type_desc *d = &sysmon_types[SYSMON_DISK_USE_PERCENT];
	assert_string_equal(d->name, "Disk use (percent)");
	assert_string_equal(d->unit, "%");
	assert_string_equal(d->state_class, "measurement");
	assert_string_equal(d->icon, "mdi:harddisk");
	d = &sysmon_types[SYSMON_NETWORK_IN];
	assert_string_equal(d->unit, "MiB");
	assert_string_equal(d->device_class, "data_size");
	assert_string_equal(d->state_class, "total_increasing");
	assert_true(d->mandatory_arg);
	d = &sysmon_types[SYSMON_THROUGHPUT_NETWORK_OUT];
	assert_string_equal(d->name, "Network throughput out");
	assert_string_equal(d->unit, "MB/s");
	assert_string_equal(d->device_class, "data_rate");
	d = &sysmon_types[SYSMON_PROCESSOR_TEMPERATURE];
	assert_string_equal(d->unit, "\xc2\xb0" "C");
	assert_string_equal(d->device_class, "temperature");
	assert_string_equal(sysmon_types[SYSMON_LAST_BOOT].device_class, "timestamp");
	assert_string_equal(sysmon_types[SYSMON_PROCESSOR_USE].name, "Processor use");
	assert_string_equal(sysmon_types[SYSMON_LOAD_15M].name, "Load (15m)");
	assert_false(sysmon_types[SYSMON_DISK_USE].mandatory_arg);
}

/* ---- the real machine --------------------------------------------------------- */

static double read_real(enum sysmon_type type, const char *arg)
{
	struct sysmon_paths p = {.proc = "/proc", .sys = "/sys", .first_cpu_interval = 0.05};
	struct sysmon_res r = {.type = type, .arg = arg};
	char out[256], why[512];
	int rc = sysmon_res_read(&r, &p, 1, out, sizeof out, why, sizeof why);
	if (rc != 1)
		fail_msg("%s: %d %s", sysmon_types[type].key, rc, why);
	char *end;
	double v = strtod(out, &end);
	if (end == out || *end)
		fail_msg("%s: not a number: '%s'", sysmon_types[type].key, out);
	return v;
}

static void the_real_machines_figures_are_plausible(void **state)
{
	(void)state;
	double pct[] = {
		read_real(SYSMON_MEMORY_USE_PERCENT, ""), read_real(SYSMON_SWAP_USE_PERCENT, ""),
		read_real(SYSMON_DISK_USE_PERCENT, "/"), read_real(SYSMON_PROCESSOR_USE, ""),
	};
	for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++)
		assert_true(pct[i] >= 0 && pct[i] <= 100);
	double use = read_real(SYSMON_MEMORY_USE, ""), free_ = read_real(SYSMON_MEMORY_FREE, "");
	assert_true(use > 0 && free_ > 0);
	struct sysmon_meminfo m;
	char text[16384];
	assert_int_equal(sysmon_read_file("/proc/meminfo", text, sizeof text, NULL), 0);
	assert_int_equal(sysmon_parse_meminfo(text, &m), 0);
	/* used + free is the total, give or take the rounding and the
	 * machine's own movement between the reads */
	assert_true(fabs(use + free_ - (double)m.total / 1048576.0) < 64);
	assert_true(read_real(SYSMON_LOAD_1M, "") >= 0);
	assert_true(read_real(SYSMON_DISK_USE, "/") >= 0);
	assert_true(read_real(SYSMON_DISK_FREE, "/") >= 0);
	assert_true(read_real(SYSMON_NETWORK_IN, "lo") >= 0);
	assert_true(read_real(SYSMON_PACKETS_OUT, "lo") >= 0);

	struct sysmon_paths p = {.proc = "/proc", .sys = "/sys"};
	char out[256], why[512];
	struct sysmon_res boot = {.type = SYSMON_LAST_BOOT, .arg = ""};
	assert_int_equal(sysmon_res_read(&boot, &p, 1, out, sizeof out, why, sizeof why), 1);
	int y, mo, d, h, mi, s;
	assert_int_equal(sscanf(out, "%4d-%2d-%2dT%2d:%2d:%2d+00:00", &y, &mo, &d, &h, &mi, &s), 6);
	assert_int_equal(strlen(out), 25);
	assert_true(y >= 2000);
	struct sysmon_res lo = {.type = SYSMON_IPV4_ADDRESS, .arg = "lo"};
	assert_int_equal(sysmon_res_read(&lo, &p, 1, out, sizeof out, why, sizeof why), 1);
	assert_true(strncmp(out, "127.", 4) == 0 || strcmp(out, "unknown") == 0);
	struct sysmon_res lo6 = {.type = SYSMON_IPV6_ADDRESS, .arg = "lo"};
	assert_int_equal(sysmon_res_read(&lo6, &p, 1, out, sizeof out, why, sizeof why), 1);
	assert_true(strcmp(out, "::1") == 0 || strcmp(out, "unknown") == 0);
	/* no such mount point */
	struct sysmon_res disk = {.type = SYSMON_DISK_USE, .arg = "/no/such/mount"};
	assert_int_equal(sysmon_res_read(&disk, &p, 1, out, sizeof out, why, sizeof why), -ENOENT);
	assert_non_null(strstr(why, "/no/such/mount"));
	/* with or without a sensor, an answer and never a crash */
	struct sysmon_res temp = {.type = SYSMON_PROCESSOR_TEMPERATURE, .arg = ""};
	int rc = sysmon_res_read(&temp, &p, 1, out, sizeof out, why, sizeof why);
	assert_true(rc == 1 || rc == -ENOENT);
}


/* ---- through the daemon ------------------------------------------------------ */

#define BASE "t/sm"

static const char *const config_head =
	"mqbridge:\n"
	"  node_id: sm\n"
	"mqtt:\n"
	"  broker: 127.0.0.1\n"
	"  port: %PORT%\n"
	"  base_topic: " BASE "\n";

static void write_config(struct td *t, const char *sensors)
{
	char *yaml = malloc(strlen(config_head) + strlen(sensors) + 1);
	assert_non_null(yaml);
	strcpy(yaml, config_head);
	strcat(yaml, sensors);
	td_write_config(t, yaml);
	free(yaml);
}

/* The state of sensor.<id> once one other than "unknown" arrives. */
static const char *state_of(struct td *t, const char *id)
{
	char topic[256];
	snprintf(topic, sizeof topic, BASE "/sensor/%s/state", id);
	for (long from = 0;;) {
		long i = td_wait_after(t, from, topic, NULL, TU_TIMEOUT);
		if (i < 0) {
			td_dump(t);
			fail_msg("no state on %s", topic);
		}
		const char *v = td_last(t, topic);
		if (strcmp(v, "unknown") != 0)
			return v;
		from = i + 1;
	}
}

static double number_of(struct td *t, const char *id)
{
	const char *v = state_of(t, id);
	char *end;
	double d = strtod(v, &end);
	if (end == v || *end)
		fail_msg("sensor.%s: not a number: '%s'", id, v);
	return d;
}

static void states_arrive_on_the_sensors_topics(void **state)
{
	(void)state;
	struct td t;
	td_init(&t, NULL);
	write_config(&t, "sensor:\n"
			 "  - platform: systemmonitor\n"
			 "    resources:\n"
			 "      - type: processor_use\n"
			 "      - type: disk_use_percent\n"
			 "        arg: /\n"
			 "      - {type: memory_use_percent}\n"
			 "      - {type: memory_free}\n"
			 "      - {type: swap_use_percent}\n"
			 "      - {type: load_5m}\n"
			 "      - {type: last_boot}\n"
			 "      - {type: network_in, arg: lo}\n"
			 "      - {type: ipv4_address, arg: lo}\n"
			 "      - {type: process, arg: mqbridge}\n");
	td_start(&t, NULL);
	double v = number_of(&t, "processor_use");
	assert_true(v >= 0 && v <= 100 && v == floor(v));
	v = number_of(&t, "disk_use_percent");
	assert_true(v >= 0 && v <= 100);
	v = number_of(&t, "memory_use_percent");
	assert_true(v > 0 && v <= 100);
	assert_true(number_of(&t, "memory_free") > 0);
	v = number_of(&t, "swap_use_percent");
	assert_true(v >= 0 && v <= 100);
	assert_true(number_of(&t, "load_5m") >= 0);
	assert_true(number_of(&t, "network_in_lo") >= 0);
	const char *boot = state_of(&t, "last_boot");
	assert_int_equal(strlen(boot), 25);
	assert_string_equal(boot + 19, "+00:00");
	const char *ip = state_of(&t, "ipv4_address_lo");
	assert_true(strncmp(ip, "127.", 4) == 0);
	assert_string_equal(state_of(&t, "process_mqbridge"), "on");

	/* discovery carries Home Assistant's unit, classes and icon */
	td_expect(&t, "homeassistant/sensor/sm/memory_use_percent/config", NULL);
	json_t *d = json_loads(td_last(&t, "homeassistant/sensor/sm/memory_use_percent/config"), 0,
			       NULL);
	assert_non_null(d);
	assert_string_equal(json_string_value(json_object_get(d, "name")), "Memory use (percent)");
	assert_string_equal(json_string_value(json_object_get(d, "unit_of_measurement")), "%");
	assert_string_equal(json_string_value(json_object_get(d, "state_class")), "measurement");
	assert_string_equal(json_string_value(json_object_get(d, "icon")), "mdi:memory");
	json_decref(d);
	td_expect(&t, "homeassistant/sensor/sm/last_boot/config", NULL);
	d = json_loads(td_last(&t, "homeassistant/sensor/sm/last_boot/config"), 0, NULL);
	assert_non_null(d);
	assert_string_equal(json_string_value(json_object_get(d, "device_class")), "timestamp");
	json_decref(d);
	td_expect(&t, "homeassistant/sensor/sm/disk_use_percent/config", NULL);
	d = json_loads(td_last(&t, "homeassistant/sensor/sm/disk_use_percent/config"), 0, NULL);
	assert_string_equal(json_string_value(json_object_get(d, "name")), "Disk use (percent) /");
	json_decref(d);
	td_stop_clean(&t);
	td_fini(&t);
}

static void without_resources_it_monitors_the_root_disk(void **state)
{
	(void)state;
	struct td t;
	td_init(&t, NULL);
	write_config(&t, "sensor:\n"
			 "  - platform: systemmonitor\n");
	td_start(&t, NULL);
	assert_true(number_of(&t, "disk_use") >= 0);
	td_expect(&t, "homeassistant/sensor/sm/disk_use/config", NULL);
	json_t *d = json_loads(td_last(&t, "homeassistant/sensor/sm/disk_use/config"), 0, NULL);
	assert_string_equal(json_string_value(json_object_get(d, "unit_of_measurement")), "GiB");
	assert_string_equal(json_string_value(json_object_get(d, "device_class")), "data_size");
	json_decref(d);
	td_stop_clean(&t);
	td_fini(&t);
}

static void a_missing_source_makes_its_sensor_unavailable_logged_once(void **state)
{
	(void)state;
	struct td t;
	td_init(&t, NULL);
	write_config(&t, "sensor:\n"
			 "  - platform: systemmonitor\n"
			 "    scan_interval: 0.1\n"
			 "    resources:\n"
			 "      - {type: network_in, arg: mqbno0}\n"
			 "      - {type: disk_free, arg: /nonexistent/mqb}\n"
			 "      - {type: load_15m}\n");
	td_start(&t, NULL);
	td_expect(&t, BASE "/sensor/network_in_mqbno0/availability", "offline");
	td_expect(&t, BASE "/sensor/network_in_mqbno0/state", "unavailable");
	td_expect(&t, BASE "/sensor/disk_free_nonexistent_mqb/availability", "offline");
	assert_true(number_of(&t, "load_15m") >= 0);
	/* ten more polls of a source still missing: no more warnings (a
	 * check of absence, so it waits its full bound) */
	assert_false(td_log_wait(&t, "this line is never logged", 1.0));
	assert_int_equal(td_log_count(&t, "Network in mqbno0: no interface 'mqbno0'"), 1);
	assert_int_equal(td_log_count(&t, "Disk free /nonexistent/mqb: cannot read disk usage"), 1);
	td_stop_clean(&t);
	td_fini(&t);
}

static void bad_types_and_missing_args_are_configuration_errors(void **state)
{
	(void)state;
	struct td t;
	td_init(&t, NULL);
	char err[8192];
	write_config(&t, "sensor:\n"                            /* line 7 */
			 "  - platform: systemmonitor\n"
			 "    resources:\n"
			 "      - type: processor_usage\n"           /* line 10 */
			 "      - type: load_1m\n"
			 "        args: x\n");                       /* line 12 */
	assert_int_equal(td_run(&t, err, sizeof err, "--check-config", NULL), 78);
	assert_non_null(strstr(err, "mqbridge.yaml:10:15: sensor[0].resources[0].type: must be "
				    "one of: disk_free,"));
	assert_non_null(strstr(err, "mqbridge.yaml:12:9: sensor[0].resources[1].args: unknown "
				    "option 'args' (did you mean 'arg'?)"));
	write_config(&t, "sensor:\n"
			 "  - platform: systemmonitor\n"
			 "    resources:\n"
			 "      - type: network_in\n"                /* line 10 */
			 "      - {type: disk_use, arg: /}\n"
			 "      - {type: disk_use}\n"                /* line 12: the same */
			 "  - platform: systemmonitor\n"
			 "    resources: {type: throughput_network_out}\n"); /* line 14 */
	assert_int_equal(td_run(&t, err, sizeof err, "--check-config", NULL), 78);
	assert_non_null(strstr(err, "mqbridge.yaml:10:9: sensor[0].resources[0]: type 'network_in' "
				    "needs an 'arg' (the interface)"));
	assert_non_null(strstr(err, "mqbridge.yaml:12:9: sensor[0].resources[2]: the same resource "
				    "as resources[1] (type 'disk_use', arg '/')"));
	assert_non_null(strstr(err, "mqbridge.yaml:14:16: sensor[1].resources: type "
				    "'throughput_network_out' needs an 'arg' (the interface)"));
	write_config(&t, "sensor:\n"
			 "  - platform: systemmonitor\n"
			 "    scan_interval: -1\n");
	assert_int_equal(td_run(&t, err, sizeof err, "--check-config", NULL), 78);
	assert_non_null(strstr(err, "mqbridge.yaml:9:20: sensor[0].scan_interval:"));
	td_fini(&t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numbers_print_as_python_rounds_and_reprs_them),
		cmocka_unit_test(percent_is_psutils_one_decimal_and_zero_without_a_total),
		cmocka_unit_test(stat_gives_the_aggregate_cpu_line_and_the_boot_time),
		cmocka_unit_test(processor_use_compares_two_stat_samples),
		cmocka_unit_test(processor_use_reads_a_whole_number_rounded_to_even),
		cmocka_unit_test(last_boot_is_iso_8601_in_utc_and_read_once),
		cmocka_unit_test(meminfo_is_parsed_in_bytes),
		cmocka_unit_test(memory_figures_are_mib_and_percent_of_total),
		cmocka_unit_test(an_old_kernel_without_memavailable_or_swap_still_adds_up),
		cmocka_unit_test(load_averages_keep_two_decimals),
		cmocka_unit_test(net_dev_finds_an_interface_by_its_exact_name),
		cmocka_unit_test(network_totals_are_mib_and_packets_are_counts),
		cmocka_unit_test(throughput_is_mb_per_second_from_two_readings),
		cmocka_unit_test(a_missing_interface_is_a_missing_source),
		cmocka_unit_test(process_is_on_while_one_has_that_name),
		cmocka_unit_test(processor_temperature_takes_home_assistants_cpu_sensor),
		cmocka_unit_test(types_carry_home_assistants_names_units_and_classes),
		cmocka_unit_test(the_real_machines_figures_are_plausible),
		cmocka_unit_test(states_arrive_on_the_sensors_topics),
		cmocka_unit_test(without_resources_it_monitors_the_root_disk),
		cmocka_unit_test(a_missing_source_makes_its_sensor_unavailable_logged_once),
		cmocka_unit_test(bad_types_and_missing_args_are_configuration_errors),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
