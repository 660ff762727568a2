/* SPDX-License-Identifier: MIT */
/* The reads behind the systemmonitor and file integrations, without the
 * daemon: /proc and /sys parsers, the figures Home Assistant's
 * systemmonitor computes from them, and a bounded read of a file's last
 * line. Linked into systemmonitor.so, file.so and their unit tests. */
#ifndef MQB_PLATFORMS_SYSMON_READ_H
#define MQB_PLATFORMS_SYSMON_READ_H

#include <stdbool.h>
#include <stddef.h>

/* ---- resource types ------------------------------------------------------ */

/* Home Assistant's systemmonitor resource types (its SENSOR_TYPES). */
enum sysmon_type {
	SYSMON_DISK_FREE,
	SYSMON_DISK_USE,
	SYSMON_DISK_USE_PERCENT,
	SYSMON_IPV4_ADDRESS,
	SYSMON_IPV6_ADDRESS,
	SYSMON_LAST_BOOT,
	SYSMON_LOAD_15M,
	SYSMON_LOAD_1M,
	SYSMON_LOAD_5M,
	SYSMON_MEMORY_FREE,
	SYSMON_MEMORY_USE,
	SYSMON_MEMORY_USE_PERCENT,
	SYSMON_NETWORK_IN,
	SYSMON_NETWORK_OUT,
	SYSMON_PACKETS_IN,
	SYSMON_PACKETS_OUT,
	SYSMON_THROUGHPUT_NETWORK_IN,
	SYSMON_THROUGHPUT_NETWORK_OUT,
	SYSMON_PROCESS,
	SYSMON_PROCESSOR_USE,
	SYSMON_PROCESSOR_TEMPERATURE,
	SYSMON_SWAP_FREE,
	SYSMON_SWAP_USE,
	SYSMON_SWAP_USE_PERCENT,
	SYSMON_NTYPES
};

/* What Home Assistant says about a type; NULL where it sets nothing. */
struct sysmon_type_desc {
	const char *key;            /* "disk_use_percent": the `type` option */
	const char *name;           /* "Disk use (percent)": the entity name before arg */
	const char *unit;           /* "%" */
	const char *device_class;   /* "data_size" */
	const char *state_class;    /* "measurement" */
	const char *icon;           /* "mdi:harddisk" */
	bool mandatory_arg;         /* an `arg` is required */
	const char *arg_doc;        /* what arg means: "interface", "mount point" */
};

extern const struct sysmon_type_desc sysmon_types[SYSMON_NTYPES];
/* The keys, NULL-terminated: the schema's enum choices. */
extern const char *const sysmon_type_keys[SYSMON_NTYPES + 1];

/* The type called key; -1 when none is. Thread: any. */
int sysmon_type_find(const char *key);

/* ---- numbers as Home Assistant prints them -------------------------------- */

/* Python's repr(round(x, ndigits)) for ndigits >= 1 ("0.5", "12.0",
 * "1.25"), or str(round(x)) for ndigits 0 ("7"): ties to even on the exact
 * binary value, as Python does. Returns out. Thread: any. */
char *sysmon_fmt(double x, int ndigits, char *out, size_t outlen);
/* psutil's usage_percent(used, total, round_=1): 0.0 for a zero total. */
double sysmon_percent(double used, double total);

/* ---- /proc parsers (text in, figures out; -EINVAL for malformed text) ---- */

/* The aggregate "cpu" line of /proc/stat: user nice system idle iowait irq
 * softirq steal guest guest_nice, as many as the kernel gives (4 to 10). */
struct sysmon_cpu_times {
	unsigned long long v[10];
	unsigned n;
};
int sysmon_parse_cpu(const char *text, struct sysmon_cpu_times *out);
/* btime of /proc/stat: boot time, seconds since the epoch. */
int sysmon_parse_btime(const char *text, long long *out);
/* psutil.cpu_percent between two samples: busy share of all time in
 * percent, rounded to one decimal (guest time counted once, as it is
 * already in user; 0.0 when no time passed). */
double sysmon_cpu_percent(const struct sysmon_cpu_times *before,
			  const struct sysmon_cpu_times *after);

/* /proc/meminfo, in bytes. */
struct sysmon_meminfo {
	unsigned long long total, free, available, buffers, cached, sreclaimable;
	unsigned long long swap_total, swap_free;
	bool have_available; /* MemAvailable (Linux 3.14 and later) */
};
int sysmon_parse_meminfo(const char *text, struct sysmon_meminfo *out);
/* What psutil.virtual_memory() calls available: MemAvailable, else free +
 * buffers + cached + SReclaimable; never more than total. */
unsigned long long sysmon_mem_available(const struct sysmon_meminfo *m);

/* /proc/loadavg: the three averages. */
int sysmon_parse_loadavg(const char *text, double out[3]);

/* One interface's counters from /proc/net/dev. */
struct sysmon_netdev {
	unsigned long long rx_bytes, rx_packets, tx_bytes, tx_packets;
};
/* -ENOENT when iface is not listed. */
int sysmon_parse_netdev(const char *text, const char *iface, struct sysmon_netdev *out);

/* Throughput between two counter readings dt seconds apart, in MB/s
 * (10^6 bytes) rounded to 3 decimals. False when there is no figure: no
 * time passed, or the counter went back (a reset or a 32-bit wrap). */
bool sysmon_throughput(unsigned long long before, unsigned long long after, double dt,
		       double *mbps);

/* ---- reading a resource ---------------------------------------------------- */

/* Where reads look: "/proc" and "/sys" normally, a fixture tree in tests. */
struct sysmon_paths {
	const char *proc;
	const char *sys;
	/* processor_use has nothing to compare with on its first read: it
	 * samples twice this many seconds apart (psutil's interval). */
	double first_cpu_interval;
};

/* One configured resource and what it keeps between reads. Reads of one
 * resource never run at once (the core skips an update still running). */
struct sysmon_res {
	enum sysmon_type type;
	const char *arg;              /* "" when not given ("/" for disks) */
	struct sysmon_cpu_times cpu;  /* processor_use: the previous sample */
	bool have_cpu;
	unsigned long long counter;   /* throughput: the previous counter */
	double counter_at;            /* ... and when (monotonic seconds) */
	bool have_counter;
	bool boot_read;               /* last_boot: read once, as Home Assistant does */
};

/* Read r now (monotonic seconds). 1 with the state in out (the string
 * "unknown" when the source is there but gives no figure, as Home
 * Assistant's None); 0 when nothing changed (last_boot after its first
 * read); a negative errno when the source is missing or unreadable, with
 * why (a sentence naming the source) in why. Blocking. Thread: any. */
int sysmon_res_read(struct sysmon_res *r, const struct sysmon_paths *p, double now, char *out,
		    size_t outlen, char *why, size_t whylen);

/* The processor temperature as psutil.sensors_temperatures() finds it and
 * Home Assistant picks it: hwmon sensors (or, without any, thermal zones)
 * under sys, the first whose label (or "<name> <n>") or name is one of
 * Home Assistant's CPU sensor names, in degrees Celsius. -ENOENT when none
 * is. Thread: any. */
int sysmon_cpu_temperature(const char *sys, double *celsius);

/* ---- files ------------------------------------------------------------------ */

/* Read at most cap - 1 bytes of path into buf, NUL-terminated; *len (may
 * be NULL) gets the length. -EFBIG when the file holds more. -errno
 * otherwise. Thread: any. */
int sysmon_read_file(const char *path, char *buf, size_t cap, size_t *len);

/* The last line of the open file fd, as Home Assistant's file sensor takes
 * it (lines end at \n, \r\n or \r; the final terminator closes the last
 * line, so "a\nb\n" gives "b" and "a\n\n" gives ""), read from the end in
 * growing windows, never more than max_line bytes of one line. 0 with
 * *line (malloc'd, NUL-terminated, whitespace stripped at both ends as
 * Python's str.strip) and *len; -ENODATA for an empty file, -E2BIG for a
 * last line over max_line, -EILSEQ when it is not UTF-8 text (or holds a
 * NUL), -EISDIR, -EINVAL for what is not a regular file, -errno.
 * Files that report no size (/proc) are read from the start, at most 1 MiB.
 * Thread: any. */
int sysmon_last_line(int fd, size_t max_line, char **line, size_t *len);

#endif
