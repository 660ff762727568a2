/* SPDX-License-Identifier: MIT */
/* The reads behind the systemmonitor and file integrations: /proc and /sys
 * parsers, Home Assistant's figures (psutil's arithmetic, Python's
 * rounding), and the last line of a file read from its end. */
#define _GNU_SOURCE
#include "sysmon_read.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "mqbridge/text.h"

/* ---- resource types ------------------------------------------------------ */

/* Home Assistant picks the icon by the word size (sys.maxsize > 2**32). */
#if UINTPTR_MAX > 0xffffffffu
#define CPU_ICON "mdi:cpu-64-bit"
#else
#define CPU_ICON "mdi:cpu-32-bit"
#endif

/* Home Assistant 2023's SENSOR_TYPES, the last release with the YAML
 * platform: names, units, classes and icons as it sets them. */
const struct sysmon_type_desc sysmon_types[SYSMON_NTYPES] = {
	[SYSMON_DISK_FREE] = {"disk_free", "Disk free", "GiB", "data_size", "measurement",
			      "mdi:harddisk", false, "mount point"},
	[SYSMON_DISK_USE] = {"disk_use", "Disk use", "GiB", "data_size", "measurement",
			     "mdi:harddisk", false, "mount point"},
	[SYSMON_DISK_USE_PERCENT] = {"disk_use_percent", "Disk use (percent)", "%", NULL,
				     "measurement", "mdi:harddisk", false, "mount point"},
	[SYSMON_IPV4_ADDRESS] = {"ipv4_address", "IPv4 address", NULL, NULL, NULL,
				 "mdi:ip-network", true, "interface"},
	[SYSMON_IPV6_ADDRESS] = {"ipv6_address", "IPv6 address", NULL, NULL, NULL,
				 "mdi:ip-network", true, "interface"},
	[SYSMON_LAST_BOOT] = {"last_boot", "Last boot", NULL, "timestamp", NULL, NULL, false,
			      NULL},
	[SYSMON_LOAD_15M] = {"load_15m", "Load (15m)", NULL, NULL, "measurement", CPU_ICON,
			     false, NULL},
	[SYSMON_LOAD_1M] = {"load_1m", "Load (1m)", NULL, NULL, "measurement", CPU_ICON, false,
			    NULL},
	[SYSMON_LOAD_5M] = {"load_5m", "Load (5m)", NULL, NULL, "measurement", CPU_ICON, false,
			    NULL},
	[SYSMON_MEMORY_FREE] = {"memory_free", "Memory free", "MiB", "data_size", "measurement",
				"mdi:memory", false, NULL},
	[SYSMON_MEMORY_USE] = {"memory_use", "Memory use", "MiB", "data_size", "measurement",
			       "mdi:memory", false, NULL},
	[SYSMON_MEMORY_USE_PERCENT] = {"memory_use_percent", "Memory use (percent)", "%", NULL,
				       "measurement", "mdi:memory", false, NULL},
	[SYSMON_NETWORK_IN] = {"network_in", "Network in", "MiB", "data_size",
			       "total_increasing", "mdi:server-network", true, "interface"},
	[SYSMON_NETWORK_OUT] = {"network_out", "Network out", "MiB", "data_size",
				"total_increasing", "mdi:server-network", true, "interface"},
	[SYSMON_PACKETS_IN] = {"packets_in", "Packets in", NULL, NULL, "total_increasing",
			       "mdi:server-network", true, "interface"},
	[SYSMON_PACKETS_OUT] = {"packets_out", "Packets out", NULL, NULL, "total_increasing",
				"mdi:server-network", true, "interface"},
	[SYSMON_THROUGHPUT_NETWORK_IN] = {"throughput_network_in", "Network throughput in",
					  "MB/s", "data_rate", "measurement", NULL, true,
					  "interface"},
	[SYSMON_THROUGHPUT_NETWORK_OUT] = {"throughput_network_out", "Network throughput out",
					   "MB/s", "data_rate", "measurement", NULL, true,
					   "interface"},
	[SYSMON_PROCESS] = {"process", "Process", NULL, NULL, NULL, CPU_ICON, true,
			    "process name"},
	[SYSMON_PROCESSOR_USE] = {"processor_use", "Processor use", "%", NULL, "measurement",
				  CPU_ICON, false, NULL},
	[SYSMON_PROCESSOR_TEMPERATURE] = {"processor_temperature", "Processor temperature",
					  "\xc2\xb0" "C", "temperature", "measurement", NULL,
					  false, NULL},
	[SYSMON_SWAP_FREE] = {"swap_free", "Swap free", "MiB", "data_size", "measurement",
			      "mdi:harddisk", false, NULL},
	[SYSMON_SWAP_USE] = {"swap_use", "Swap use", "MiB", "data_size", "measurement",
			     "mdi:harddisk", false, NULL},
	[SYSMON_SWAP_USE_PERCENT] = {"swap_use_percent", "Swap use (percent)", "%", NULL,
				     "measurement", "mdi:harddisk", false, NULL},
};

const char *const sysmon_type_keys[SYSMON_NTYPES + 1] = {
	"disk_free", "disk_use", "disk_use_percent", "ipv4_address", "ipv6_address",
	"last_boot", "load_15m", "load_1m", "load_5m", "memory_free", "memory_use",
	"memory_use_percent", "network_in", "network_out", "packets_in", "packets_out",
	"throughput_network_in", "throughput_network_out", "process", "processor_use",
	"processor_temperature", "swap_free", "swap_use", "swap_use_percent", NULL,
};

int sysmon_type_find(const char *key)
{
	for (int i = 0; i < SYSMON_NTYPES; i++)
		if (strcmp(sysmon_types[i].key, key) == 0)
			return i;
	return -1;
}

/* ---- numbers ---------------------------------------------------------------- */

char *sysmon_fmt(double x, int ndigits, char *out, size_t outlen)
{
	/* round(x, n) is a float, printed as repr; round(x) an int */
	char buf[MQB_NUMBER_MAX];
	if (ndigits > 0)
		mqb_format_double(mqb_round(x, ndigits), buf);
	else
		mqb_format_number(mqb_round(x, 0), buf);
	snprintf(out, outlen, "%s", buf);
	return out;
}

double sysmon_percent(double used, double total)
{
	if (total == 0)
		return 0.0;
	return mqb_round(used / total * 100, 1);
}

/* ---- /proc parsers ---------------------------------------------------------- */

/* The line of text that starts with prefix, or NULL. */
static const char *find_line(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p && *p;) {
		if (strncmp(p, prefix, n) == 0)
			return p;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/* A decimal unsigned number at *p (after blanks); advances *p. */
static bool parse_ull(const char **p, unsigned long long *out)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return false;
	*out = v;
	*p = end;
	return true;
}

int sysmon_parse_cpu(const char *text, struct sysmon_cpu_times *out)
{
	const char *p = find_line(text, "cpu ");
	if (!p)
		return -EINVAL;
	p += 4;
	out->n = 0;
	while (out->n < 10 && parse_ull(&p, &out->v[out->n]))
		out->n++;
	return out->n >= 4 ? 0 : -EINVAL;
}

int sysmon_parse_btime(const char *text, long long *out)
{
	const char *p = find_line(text, "btime ");
	unsigned long long v;
	if (!p)
		return -EINVAL;
	p += 6;
	if (!parse_ull(&p, &v) || v > LLONG_MAX)
		return -EINVAL;
	*out = (long long)v;
	return 0;
}

double sysmon_cpu_percent(const struct sysmon_cpu_times *a, const struct sysmon_cpu_times *b)
{
	unsigned n = a->n < b->n ? a->n : b->n;
	double d[10] = {0};
	for (unsigned i = 0; i < n; i++)
		d[i] = b->v[i] > a->v[i] ? (double)(b->v[i] - a->v[i]) : 0; /* psutil's max(0, ...) */
	double all = 0;
	for (unsigned i = 0; i < n; i++)
		all += d[i];
	/* guest and guest_nice are already in user and nice */
	all -= d[8] + d[9];
	double busy = all - d[3] - d[4];
	if (all <= 0)
		return 0.0;
	return mqb_round(busy / all * 100, 1);
}

int sysmon_parse_meminfo(const char *text, struct sysmon_meminfo *out)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{"MemTotal:", offsetof(struct sysmon_meminfo, total)},
		{"MemFree:", offsetof(struct sysmon_meminfo, free)},
		{"MemAvailable:", offsetof(struct sysmon_meminfo, available)},
		{"Buffers:", offsetof(struct sysmon_meminfo, buffers)},
		{"Cached:", offsetof(struct sysmon_meminfo, cached)},
		{"SReclaimable:", offsetof(struct sysmon_meminfo, sreclaimable)},
		{"SwapTotal:", offsetof(struct sysmon_meminfo, swap_total)},
		{"SwapFree:", offsetof(struct sysmon_meminfo, swap_free)},
	};
	memset(out, 0, sizeof *out);
	bool have_total = false;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *p = find_line(text, keys[i].key);
		if (!p)
			continue;
		p += strlen(keys[i].key);
		unsigned long long v;
		if (!parse_ull(&p, &v))
			return -EINVAL;
		while (*p == ' ')
			p++;
		/* the kernel writes kB and means KiB */
		if (strncmp(p, "kB", 2) == 0) {
			if (v > ULLONG_MAX / 1024)
				return -EINVAL;
			v *= 1024;
		}
		memcpy((char *)out + keys[i].off, &v, sizeof v);
		if (i == 0)
			have_total = true;
		if (i == 2)
			out->have_available = true;
	}
	return have_total ? 0 : -EINVAL;
}

unsigned long long sysmon_mem_available(const struct sysmon_meminfo *m)
{
	unsigned long long avail = m->have_available
					   ? m->available
					   : m->free + m->buffers + m->cached + m->sreclaimable;
	/* psutil: "a value greater than total ... is a kernel bug" */
	return avail > m->total ? m->free : avail;
}

int sysmon_parse_loadavg(const char *text, double out[3])
{
	const char *p = text;
	for (int i = 0; i < 3; i++) {
		char *end;
		while (*p == ' ')
			p++;
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return -EINVAL;
		out[i] = strtod(p, &end);
		if (end == p || !isfinite(out[i]))
			return -EINVAL;
		p = end;
	}
	return 0;
}

int sysmon_parse_netdev(const char *text, const char *iface, struct sysmon_netdev *out)
{
	size_t want = strlen(iface);
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		const char *eol = nl ? nl : line + strlen(line);
		/* psutil takes the name before the last colon */
		const char *colon = NULL;
		for (const char *q = line; q < eol; q++)
			if (*q == ':')
				colon = q;
		if (colon) {
			const char *a = line, *b = colon;
			while (a < b && (*a == ' ' || *a == '\t'))
				a++;
			while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
				b--;
			if ((size_t)(b - a) == want && memcmp(a, iface, want) == 0) {
				unsigned long long f[10];
				const char *p = colon + 1;
				for (int i = 0; i < 10; i++)
					if (p >= eol || !parse_ull(&p, &f[i]))
						return -EINVAL;
				out->rx_bytes = f[0];
				out->rx_packets = f[1];
				out->tx_bytes = f[8];
				out->tx_packets = f[9];
				return 0;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

bool sysmon_throughput(unsigned long long before, unsigned long long after, double dt, double *mbps)
{
	if (!(dt > 0) || after < before)
		return false;
	*mbps = mqb_round((double)(after - before) / 1e6 / dt, 3);
	return true;
}

/* ---- files ------------------------------------------------------------------- */

int sysmon_read_file(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t n = 0;
	int rc = 0;
	while (n < cap - 1) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (rc == 0 && n == cap - 1) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r > 0)
			rc = -EFBIG;
	}
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return rc;
}

/* snprintf into a path buffer; false when it did not fit (such a path is
 * skipped, never used cut short). */
__attribute__((format(printf, 3, 4))) static bool pathf(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(out, n, fmt, ap);
	va_end(ap);
	return r >= 0 && (size_t)r < n;
}

/* ---- processor temperature ------------------------------------------------------ */

/* Home Assistant's CPU_SENSOR_PREFIXES (taken by it from glances). */
static const char *const cpu_sensor_names[] = {
	"amdgpu 1", "aml_thermal", "Core 0", "Core 1", "CPU Temperature", "CPU",
	"cpu-thermal 1", "cpu_thermal 1", "exynos-therm 1", "Package id 0", "Physical id 0",
	"radeon 1", "soc-thermal 1", "soc_thermal 1", "Tctl", "cpu0-thermal", "cpu0_thermal",
	"k10temp 1",
};

static bool is_cpu_sensor(const char *s)
{
	for (size_t i = 0; i < sizeof cpu_sensor_names / sizeof cpu_sensor_names[0]; i++)
		if (strcmp(s, cpu_sensor_names[i]) == 0)
			return true;
	return false;
}

struct temp_entry {
	char base[PATH_MAX]; /* ".../hwmon0/temp1" or ".../thermal_zone0" */
	char name[64], label[64];
	double celsius;
};

static int cmp_base(const void *a, const void *b)
{
	return strcmp(((const struct temp_entry *)a)->base, ((const struct temp_entry *)b)->base);
}

static void chomp_copy(char *dst, size_t n, const char *src)
{
	while (*src == ' ' || *src == '\t' || *src == '\n')
		src++;
	snprintf(dst, n, "%s", src);
	size_t l = strlen(dst);
	while (l > 0 && (dst[l - 1] == '\n' || dst[l - 1] == ' ' || dst[l - 1] == '\t'))
		dst[--l] = '\0';
}

static bool read_milli(const char *path, double *out)
{
	char buf[64];
	if (sysmon_read_file(path, buf, sizeof buf, NULL) < 0)
		return false;
	char *end;
	errno = 0;
	double v = strtod(buf, &end);
	if (end == buf || errno || !isfinite(v))
		return false;
	*out = v / 1000.0;
	return true;
}

#define TEMP_MAX 256

/* psutil's sensors_temperatures(): every hwmon tempN_input with its chip
 * name and label, sorted by path; without any, the thermal zones with
 * their type as name. */
static size_t collect_temps(const char *sys, struct temp_entry *v, size_t cap)
{
	char dir[PATH_MAX], hw[PATH_MAX], path[PATH_MAX], buf[256];
	size_t n = 0;
	struct dirent *de;
	DIR *d = pathf(dir, sizeof dir, "%s/class/hwmon", sys) ? opendir(dir) : NULL;
	while (d && (de = readdir(d)) && n < cap) {
		if (strncmp(de->d_name, "hwmon", 5) != 0 ||
		    !pathf(hw, sizeof hw, "%s/%s", dir, de->d_name) ||
		    !pathf(path, sizeof path, "%s/name", hw) ||
		    sysmon_read_file(path, buf, sizeof buf, NULL) < 0)
			continue;
		char name[64];
		chomp_copy(name, sizeof name, buf);
		DIR *h = opendir(hw);
		struct dirent *te;
		while (h && (te = readdir(h)) && n < cap) {
			unsigned idx;
			char tail[16];
			struct temp_entry *e = &v[n];
			if (sscanf(te->d_name, "temp%u_%15s", &idx, tail) != 2 ||
			    strcmp(tail, "input") != 0 ||
			    !pathf(e->base, sizeof e->base, "%s/temp%u", hw, idx) ||
			    !pathf(path, sizeof path, "%s_input", e->base) ||
			    !read_milli(path, &e->celsius))
				continue;
			snprintf(e->name, sizeof e->name, "%s", name);
			e->label[0] = '\0';
			if (pathf(path, sizeof path, "%s_label", e->base) &&
			    sysmon_read_file(path, buf, sizeof buf, NULL) == 0)
				chomp_copy(e->label, sizeof e->label, buf);
			n++;
		}
		if (h)
			closedir(h);
	}
	if (d)
		closedir(d);
	if (n > 0)
		return n;
	d = pathf(dir, sizeof dir, "%s/class/thermal", sys) ? opendir(dir) : NULL;
	while (d && (de = readdir(d)) && n < cap) {
		struct temp_entry *e = &v[n];
		if (strncmp(de->d_name, "thermal_zone", 12) != 0 ||
		    !pathf(e->base, sizeof e->base, "%s/%s", dir, de->d_name) ||
		    !pathf(path, sizeof path, "%s/temp", e->base) || !read_milli(path, &e->celsius) ||
		    !pathf(path, sizeof path, "%s/type", e->base) ||
		    sysmon_read_file(path, buf, sizeof buf, NULL) < 0)
			continue;
		chomp_copy(e->name, sizeof e->name, buf);
		e->label[0] = '\0';
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

int sysmon_cpu_temperature(const char *sys, double *celsius)
{
	struct temp_entry *v = calloc(TEMP_MAX, sizeof *v);
	if (!v)
		return -ENOMEM;
	size_t n = collect_temps(sys, v, TEMP_MAX);
	qsort(v, n, sizeof *v, cmp_base);
	/* Home Assistant walks psutil's dict: chips in the order first seen,
	 * each chip's sensors numbered from 1 in path order. */
	int rc = -ENOENT;
	bool *done = calloc(n ? n : 1, sizeof *done);
	if (!done) {
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && rc != 0; i++) {
		if (done[i])
			continue;
		unsigned k = 0;
		for (size_t j = i; j < n && rc != 0; j++) {
			if (done[j] || strcmp(v[j].name, v[i].name) != 0)
				continue;
			done[j] = true;
			k++;
			char label[96];
			if (v[j].label[0])
				snprintf(label, sizeof label, "%s", v[j].label);
			else
				snprintf(label, sizeof label, "%s %u", v[j].name, k);
			if (is_cpu_sensor(label) || is_cpu_sensor(v[j].name)) {
				*celsius = mqb_round(v[j].celsius, 1);
				rc = 0;
			}
		}
	}
	free(done);
	free(v);
	return rc;
}

/* ---- reading a resource -------------------------------------------------------- */

#define PROC_BUF (256 * 1024) /* /proc/net/dev of a router with many interfaces */

static int read_proc(const struct sysmon_paths *p, const char *name, char **text, char *why,
		     size_t whylen)
{
	char path[PATH_MAX];
	if (!pathf(path, sizeof path, "%s/%s", p->proc, name)) {
		snprintf(why, whylen, "%s: path too long", p->proc);
		return -ENAMETOOLONG;
	}
	char *buf = malloc(PROC_BUF);
	if (!buf)
		return -ENOMEM;
	int rc = sysmon_read_file(path, buf, PROC_BUF, NULL);
	if (rc < 0) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(-rc));
		free(buf);
		return rc;
	}
	*text = buf;
	return 0;
}

static int malformed(const struct sysmon_paths *p, const char *name, char *why, size_t whylen)
{
	snprintf(why, whylen, "%s/%s: unexpected format", p->proc, name);
	return -EINVAL;
}

static int read_cpu(const struct sysmon_paths *p, struct sysmon_cpu_times *t, char *why,
		    size_t whylen)
{
	char *text;
	int rc = read_proc(p, "stat", &text, why, whylen);
	if (rc < 0)
		return rc;
	rc = sysmon_parse_cpu(text, t);
	free(text);
	return rc < 0 ? malformed(p, "stat", why, whylen) : 0;
}

static void sleep_for(double seconds)
{
	struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int read_mem(struct sysmon_res *r, const struct sysmon_paths *p, char *out, size_t n,
		    char *why, size_t whylen)
{
	char *text;
	struct sysmon_meminfo m;
	int rc = read_proc(p, "meminfo", &text, why, whylen);
	if (rc < 0)
		return rc;
	rc = sysmon_parse_meminfo(text, &m);
	free(text);
	if (rc < 0)
		return malformed(p, "meminfo", why, whylen);
	double avail = (double)sysmon_mem_available(&m);
	double total = (double)m.total;
	double swap_used = m.swap_total > m.swap_free ? (double)(m.swap_total - m.swap_free) : 0;
	const double MiB = 1024.0 * 1024.0;
	switch (r->type) {
	case SYSMON_MEMORY_USE: sysmon_fmt((total - avail) / MiB, 1, out, n); break;
	case SYSMON_MEMORY_FREE: sysmon_fmt(avail / MiB, 1, out, n); break;
	case SYSMON_MEMORY_USE_PERCENT:
		sysmon_fmt(sysmon_percent(total - avail, total), 1, out, n);
		break;
	case SYSMON_SWAP_USE: sysmon_fmt(swap_used / MiB, 1, out, n); break;
	case SYSMON_SWAP_FREE: sysmon_fmt((double)m.swap_free / MiB, 1, out, n); break;
	default:
		sysmon_fmt(sysmon_percent(swap_used, (double)m.swap_total), 1, out, n);
		break;
	}
	return 1;
}

static int read_disk(struct sysmon_res *r, char *out, size_t n, char *why, size_t whylen)
{
	struct statvfs st;
	if (statvfs(r->arg, &st) < 0) {
		int e = errno;
		snprintf(why, whylen, "cannot read disk usage of %s: %s", r->arg, strerror(e));
		return -e;
	}
	/* psutil.disk_usage: free is what an unprivileged user may still use,
	 * and the percentage is of used + that */
	double frsize = (double)st.f_frsize;
	double used = (double)(st.f_blocks - st.f_bfree) * frsize;
	double free_ = (double)st.f_bavail * frsize;
	const double GiB = 1024.0 * 1024.0 * 1024.0;
	if (r->type == SYSMON_DISK_USE)
		sysmon_fmt(used / GiB, 1, out, n);
	else if (r->type == SYSMON_DISK_FREE)
		sysmon_fmt(free_ / GiB, 1, out, n);
	else
		sysmon_fmt(sysmon_percent(used, used + free_), 1, out, n);
	return 1;
}

static int read_net(struct sysmon_res *r, const struct sysmon_paths *p, double now, char *out,
		    size_t n, char *why, size_t whylen)
{
	char *text;
	struct sysmon_netdev d;
	int rc = read_proc(p, "net/dev", &text, why, whylen);
	if (rc < 0)
		return rc;
	rc = sysmon_parse_netdev(text, r->arg, &d);
	free(text);
	if (rc == -ENOENT) {
		snprintf(why, whylen, "no interface '%s' in %s/net/dev", r->arg, p->proc);
		return -ENODEV;
	}
	if (rc < 0)
		return malformed(p, "net/dev", why, whylen);
	const double MiB = 1024.0 * 1024.0;
	switch (r->type) {
	case SYSMON_NETWORK_IN: sysmon_fmt((double)d.rx_bytes / MiB, 1, out, n); break;
	case SYSMON_NETWORK_OUT: sysmon_fmt((double)d.tx_bytes / MiB, 1, out, n); break;
	case SYSMON_PACKETS_IN: snprintf(out, n, "%llu", d.rx_packets); break;
	case SYSMON_PACKETS_OUT: snprintf(out, n, "%llu", d.tx_packets); break;
	default: {
		unsigned long long c =
			r->type == SYSMON_THROUGHPUT_NETWORK_IN ? d.rx_bytes : d.tx_bytes;
		double mbps;
		if (r->have_counter && sysmon_throughput(r->counter, c, now - r->counter_at, &mbps))
			sysmon_fmt(mbps, 3, out, n);
		else
			snprintf(out, n, "unknown");
		r->counter = c;
		r->counter_at = now;
		r->have_counter = true;
		break;
	}
	}
	return 1;
}

static int read_addr(struct sysmon_res *r, char *out, size_t n, char *why, size_t whylen)
{
	int family = r->type == SYSMON_IPV4_ADDRESS ? AF_INET : AF_INET6;
	struct ifaddrs *ifa;
	if (getifaddrs(&ifa) < 0) {
		int e = errno;
		snprintf(why, whylen, "cannot list interfaces: %s", strerror(e));
		return -e;
	}
	bool seen = false;
	snprintf(out, n, "unknown");
	for (struct ifaddrs *a = ifa; a; a = a->ifa_next) {
		if (!a->ifa_name || strcmp(a->ifa_name, r->arg) != 0)
			continue;
		seen = true;
		if (!a->ifa_addr || a->ifa_addr->sa_family != family)
			continue;
		char host[NI_MAXHOST];
		socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in)
						  : sizeof(struct sockaddr_in6);
		/* Home Assistant keeps the last address of the family it sees;
		 * numeric, with a link-local address's %scope, as psutil */
		if (getnameinfo(a->ifa_addr, len, host, sizeof host, NULL, 0, NI_NUMERICHOST) == 0)
			snprintf(out, n, "%s", host);
	}
	freeifaddrs(ifa);
	if (!seen && if_nametoindex(r->arg) == 0) {
		snprintf(why, whylen, "no interface '%s'", r->arg);
		return -ENODEV;
	}
	return 1;
}

/* psutil's Process.name(): the kernel's 15-byte comm, completed from the
 * command line when it was cut. */
static bool proc_name_is(const char *proc, const char *pid, const char *want)
{
	char path[PATH_MAX], comm[64], cmd[4096];
	if (!pathf(path, sizeof path, "%s/%s/comm", proc, pid) ||
	    sysmon_read_file(path, comm, sizeof comm, NULL) < 0)
		return false;
	comm[strcspn(comm, "\n")] = '\0';
	if (strlen(comm) < 15)
		return strcmp(comm, want) == 0;
	size_t len;
	int rc = pathf(path, sizeof path, "%s/%s/cmdline", proc, pid)
			 ? sysmon_read_file(path, cmd, sizeof cmd, &len)
			 : -ENAMETOOLONG;
	if ((rc == 0 || rc == -EFBIG) && len > 0) {
		const char *base = strrchr(cmd, '/');
		base = base ? base + 1 : cmd;
		if (strncmp(base, comm, strlen(comm)) == 0)
			return strcmp(base, want) == 0;
	}
	return strcmp(comm, want) == 0;
}

static int read_process(struct sysmon_res *r, const struct sysmon_paths *p, char *out, size_t n,
			char *why, size_t whylen)
{
	DIR *d = opendir(p->proc);
	if (!d) {
		int e = errno;
		snprintf(why, whylen, "cannot list %s: %s", p->proc, strerror(e));
		return -e;
	}
	bool on = false;
	struct dirent *de;
	while (!on && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		on = proc_name_is(p->proc, de->d_name, r->arg);
	}
	closedir(d);
	snprintf(out, n, "%s", on ? "on" : "off");
	return 1;
}

int sysmon_res_read(struct sysmon_res *r, const struct sysmon_paths *p, double now, char *out,
		    size_t n, char *why, size_t whylen)
{
	char *text;
	int rc;
	why[0] = '\0';
	switch (r->type) {
	case SYSMON_DISK_FREE:
	case SYSMON_DISK_USE:
	case SYSMON_DISK_USE_PERCENT:
		return read_disk(r, out, n, why, whylen);
	case SYSMON_MEMORY_FREE:
	case SYSMON_MEMORY_USE:
	case SYSMON_MEMORY_USE_PERCENT:
	case SYSMON_SWAP_FREE:
	case SYSMON_SWAP_USE:
	case SYSMON_SWAP_USE_PERCENT:
		return read_mem(r, p, out, n, why, whylen);
	case SYSMON_NETWORK_IN:
	case SYSMON_NETWORK_OUT:
	case SYSMON_PACKETS_IN:
	case SYSMON_PACKETS_OUT:
	case SYSMON_THROUGHPUT_NETWORK_IN:
	case SYSMON_THROUGHPUT_NETWORK_OUT:
		return read_net(r, p, now, out, n, why, whylen);
	case SYSMON_IPV4_ADDRESS:
	case SYSMON_IPV6_ADDRESS:
		return read_addr(r, out, n, why, whylen);
	case SYSMON_PROCESS:
		return read_process(r, p, out, n, why, whylen);
	case SYSMON_LOAD_1M:
	case SYSMON_LOAD_5M:
	case SYSMON_LOAD_15M: {
		double l[3];
		if ((rc = read_proc(p, "loadavg", &text, why, whylen)) < 0)
			return rc;
		rc = sysmon_parse_loadavg(text, l);
		free(text);
		if (rc < 0)
			return malformed(p, "loadavg", why, whylen);
		int i = r->type == SYSMON_LOAD_1M ? 0 : r->type == SYSMON_LOAD_5M ? 1 : 2;
		sysmon_fmt(l[i], 2, out, n);
		return 1;
	}
	case SYSMON_LAST_BOOT: {
		long long bt;
		if (r->boot_read)
			return 0;
		if ((rc = read_proc(p, "stat", &text, why, whylen)) < 0)
			return rc;
		rc = sysmon_parse_btime(text, &bt);
		free(text);
		if (rc < 0)
			return malformed(p, "stat", why, whylen);
		/* a timestamp sensor's state: ISO 8601 in UTC, as Python's
		 * isoformat() writes it */
		char iso[MQB_ISOFORMAT_MAX];
		if (!mqb_isoformat((double)bt, iso))
			return malformed(p, "stat", why, whylen);
		snprintf(out, n, "%s", iso);
		r->boot_read = true;
		return 1;
	}
	case SYSMON_PROCESSOR_USE: {
		struct sysmon_cpu_times now_t;
		if (!r->have_cpu) {
			if ((rc = read_cpu(p, &r->cpu, why, whylen)) < 0)
				return rc;
			r->have_cpu = true;
			sleep_for(p->first_cpu_interval);
		}
		if ((rc = read_cpu(p, &now_t, why, whylen)) < 0)
			return rc;
		/* Home Assistant rounds psutil's one-decimal figure again, to a
		 * whole number */
		sysmon_fmt(sysmon_cpu_percent(&r->cpu, &now_t), 0, out, n);
		r->cpu = now_t;
		return 1;
	}
	case SYSMON_PROCESSOR_TEMPERATURE: {
		double c;
		rc = sysmon_cpu_temperature(p->sys, &c);
		if (rc == -ENOENT) {
			snprintf(why, whylen,
				 "no processor temperature sensor under %s/class/hwmon or "
				 "%s/class/thermal",
				 p->sys, p->sys);
			return rc;
		}
		if (rc < 0) {
			snprintf(why, whylen, "reading temperatures: %s", strerror(-rc));
			return rc;
		}
		sysmon_fmt(c, 1, out, n);
		return 1;
	}
	case SYSMON_NTYPES:
		break;
	}
	snprintf(why, whylen, "unknown resource type");
	return -EINVAL;
}

/* ---- the last line of a file ------------------------------------------------------ */

/* Read [off, off + want) (or less at end of file) into buf. */
static int pread_all(int fd, char *buf, size_t want, off_t off, size_t *got)
{
	size_t n = 0;
	while (n < want) {
		ssize_t r = pread(fd, buf + n, want - n, off + (off_t)n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*got = n;
	return 0;
}

/* In buf[0..n), where the last line is: [*start, *end). known_start is
 * false when no terminator precedes it in buf (it may begin earlier). */
static void last_line_in(const char *buf, size_t n, size_t *start, size_t *end, bool *known_start)
{
	size_t e = n;
	/* the final terminator closes the last line */
	if (e >= 2 && buf[e - 2] == '\r' && buf[e - 1] == '\n')
		e -= 2;
	else if (e >= 1 && (buf[e - 1] == '\n' || buf[e - 1] == '\r'))
		e -= 1;
	size_t s = e;
	while (s > 0 && buf[s - 1] != '\n' && buf[s - 1] != '\r')
		s--;
	*start = s;
	*end = e;
	*known_start = s > 0;
}

#define PSEUDO_MAX (1024 * 1024)

static int finish_line(const char *buf, size_t s, size_t e, size_t max_line, char **line,
		       size_t *len)
{
	/* Home Assistant: readlines()[-1].strip() */
	size_t n = e - s;
	s = (size_t)(mqb_strip(buf + s, &n) - buf);
	e = s + n;
	if (e - s > max_line)
		return -E2BIG;
	/* a NUL would cut the state short where it is used as a string */
	if (!mqb_utf8_valid(buf + s, e - s))
		return -EILSEQ;
	char *out = malloc(e - s + 1);
	if (!out)
		return -ENOMEM;
	memcpy(out, buf + s, e - s);
	out[e - s] = '\0';
	*line = out;
	*len = e - s;
	return 0;
}

int sysmon_last_line(int fd, size_t max_line, char **line, size_t *len)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL; /* a FIFO or a device could block the pool thread for ever */
	int rc;
	size_t got;
	char *buf;
	if (st.st_size == 0) {
		/* empty, or a /proc file that does not know its size: read it
		 * from the start, bounded */
		buf = malloc(PSEUDO_MAX + 1);
		if (!buf)
			return -ENOMEM;
		rc = pread_all(fd, buf, PSEUDO_MAX + 1, 0, &got);
		if (rc == 0 && got > PSEUDO_MAX)
			rc = -EFBIG;
		if (rc == 0 && got == 0)
			rc = -ENODATA;
		if (rc == 0) {
			size_t s, e;
			bool known;
			last_line_in(buf, got, &s, &e, &known);
			rc = finish_line(buf, s, e, max_line, line, len);
		}
		free(buf);
		return rc;
	}
	/* Windows from the end, growing until one holds the whole last line
	 * (plus the byte before it, to know it starts there) or the line is
	 * longer than max_line. Whitespace around the line counts toward the
	 * bound too: a file ending in a megabyte of blanks is not a line. */
	off_t size = st.st_size;
	size_t window = 4096;
	int shrunk = 0;
	for (;;) {
		off_t start = size > (off_t)window ? size - (off_t)window : 0;
		size_t want = (size_t)(size - start);
		buf = malloc(want + 1);
		if (!buf)
			return -ENOMEM;
		rc = pread_all(fd, buf, want, start, &got);
		if (rc < 0) {
			free(buf);
			return rc;
		}
		if (got == 0 && start == 0) {
			free(buf);
			return -ENODATA;
		}
		if (got < want && start > 0 && shrunk++ < 3) {
			/* truncated while we looked (a rotated log): again */
			free(buf);
			if (fstat(fd, &st) < 0)
				return -errno;
			size = st.st_size;
			if (size == 0)
				return -ENODATA;
			continue;
		}
		size_t s, e;
		bool known;
		last_line_in(buf, got, &s, &e, &known);
		if (known || start == 0 || got < want) {
			/* start 0 with got < want: the file says more than it
			 * holds (sysfs says 4096): what was read is all there is */
			rc = finish_line(buf, s, e, max_line, line, len);
			free(buf);
			return rc;
		}
		free(buf);
		if (window > max_line + 2)
			return -E2BIG;
		window = window * 4 > max_line + 3 ? max_line + 3 : window * 4;
	}
}
