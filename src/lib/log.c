/* SPDX-License-Identifier: MIT */
/* Logging: one line per message, level and subsystem tag, timestamps, from
 * any thread, to stderr, a file (reopened on SIGHUP for log rotation) or
 * syslog; to the journal (stderr as systemd connects it) with the
 * priority prefix journald reads and no time of our own. Lines are
 * formatted into a stack buffer and written with one write under one
 * lock, so threads never interleave inside a line. */
#include "lib/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "mqbridge/log.h"

enum dest { DEST_STDERR, DEST_FILE, DEST_SYSLOG };

/* The lowest level any subsystem logs at: below it nothing is looked up. */
static atomic_int min_level = MQB_LOG_INFO;
/* The level of subsystems without one of their own (logger: default). */
static atomic_int default_level = MQB_LOG_INFO;
/* Subsystems with a level of their own (logger: logs:): appended at
 * start-up, read without a lock (a name is complete before the count
 * says it is there). */
#define MAX_OVERRIDES 32
static struct {
	char name[32];
	atomic_int level;
} overrides[MAX_OVERRIDES];
static atomic_int noverrides;
/* Guards everything below: the sink, the destination, the file descriptor
 * and its path. Every line is written while holding it, so swapping the
 * file under it can neither lose a line nor write to a closed descriptor. */
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static mqb_log_sink_fn sink;
static void *sink_ud;
static enum dest dest = DEST_STDERR;
/* stderr is the journal: -1 not looked at yet, 0 no, 1 yes. */
static int journal = -1;
static int file_fd = -1;
static char *file_path;

static const char *const level_names[] = { "debug", "info", "warning", "error" };

static void recompute_min(void)
{
	int m = atomic_load(&default_level), n = atomic_load(&noverrides);
	for (int i = 0; i < n; i++)
		if (atomic_load(&overrides[i].level) < m)
			m = atomic_load(&overrides[i].level);
	atomic_store(&min_level, m);
}

void mqb_log_set_level(enum mqb_log_level level)
{
	atomic_store(&default_level, (int)level);
	recompute_min();
}

enum mqb_log_level mqb_log_get_level(void)
{
	return (enum mqb_log_level)atomic_load(&default_level);
}

int mqb_log_set_subsystem_level(const char *subsystem, enum mqb_log_level level)
{
	int n = atomic_load(&noverrides);
	if (!subsystem || strlen(subsystem) >= sizeof overrides[0].name)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (strcmp(overrides[i].name, subsystem) == 0) {
			atomic_store(&overrides[i].level, (int)level);
			recompute_min();
			return 0;
		}
	if (n == MAX_OVERRIDES)
		return -ENOSPC;
	strcpy(overrides[n].name, subsystem);
	atomic_store(&overrides[n].level, (int)level);
	atomic_store(&noverrides, n + 1);
	recompute_min();
	return 0;
}

void mqb_log_clear_subsystem_levels(void)
{
	atomic_store(&noverrides, 0);
	recompute_min();
}

/* The level subsystem logs at. */
static int level_of(const char *subsystem)
{
	int n = atomic_load_explicit(&noverrides, memory_order_acquire);
	for (int i = 0; subsystem && i < n; i++)
		if (strcmp(overrides[i].name, subsystem) == 0)
			return atomic_load_explicit(&overrides[i].level, memory_order_relaxed);
	return atomic_load_explicit(&default_level, memory_order_relaxed);
}

int mqb_log_level_parse(const char *name, enum mqb_log_level *out)
{
	for (size_t i = 0; name && i < sizeof level_names / sizeof level_names[0]; i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum mqb_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void mqb_log_set_sink(mqb_log_sink_fn fn, void *ud)
{
	pthread_mutex_lock(&sink_lock);
	sink = fn;
	sink_ud = ud;
	pthread_mutex_unlock(&sink_lock);
}

static int open_log_file(const char *path)
{
	/* O_APPEND: several writers (and logrotate's copytruncate) never
	 * overwrite each other; O_CLOEXEC: commands we run do not inherit it. */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	return fd < 0 ? -errno : fd;
}

/* systemd sets JOURNAL_STREAM to the device and inode of the stream it
 * connected stderr to (systemd.exec(5)): when stderr is still that one,
 * journald reads "<N>" as the line's priority and stamps it itself. A
 * redirected stderr (mqbridge 2>file under a unit) is not the journal. */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Called with sink_lock held: leave the current destination. */
static void close_dest_locked(void)
{
	if (dest == DEST_FILE) {
		close(file_fd);
		file_fd = -1;
		mqb__free(file_path);
		file_path = NULL;
	} else if (dest == DEST_SYSLOG) {
		closelog();
	}
	dest = DEST_STDERR;
	journal = -1; /* looked at again: stderr may have changed meanwhile */
}

int mqb_log_open(const char *to)
{
	int fd = -1;
	char *path = NULL;
	if (to && strcmp(to, "syslog") != 0) {
		if (!(path = mqb__strdup(to)))
			return -ENOMEM;
		if ((fd = open_log_file(to)) < 0) {
			mqb__free(path);
			return fd;
		}
	}
	pthread_mutex_lock(&sink_lock);
	close_dest_locked();
	if (path) {
		dest = DEST_FILE;
		file_fd = fd;
		file_path = path;
	} else if (to) {
		openlog("mqbridge", LOG_PID, LOG_DAEMON);
		dest = DEST_SYSLOG;
	}
	pthread_mutex_unlock(&sink_lock);
	return 0;
}

int mqb_log_reopen(void)
{
	int rc = 0;
	pthread_mutex_lock(&sink_lock);
	if (dest == DEST_FILE) {
		/* Opened under the lock: a local open is quick, and a logging
		 * thread waits for it instead of racing the swap. */
		int fd = open_log_file(file_path);
		if (fd < 0) {
			rc = fd; /* keep writing to the old (renamed) file */
		} else {
			close(file_fd);
			file_fd = fd;
		}
	}
	pthread_mutex_unlock(&sink_lock);
	return rc;
}

bool mqb_log_is_file(void)
{
	pthread_mutex_lock(&sink_lock);
	bool is_file = dest == DEST_FILE;
	pthread_mutex_unlock(&sink_lock);
	return is_file;
}

void mqb_log_close(void)
{
	pthread_mutex_lock(&sink_lock);
	close_dest_locked();
	pthread_mutex_unlock(&sink_lock);
}

static const int syslog_prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };

/* ---- secrets ------------------------------------------------------------ */

/* Every value the configuration took from !secret: no log line and no
 * error may show one, whatever text it ends up in (a client id in the
 * connect line, a command a shell echoes back in its error, a host name
 * in a URI). Whoever resolves a secret registers it here; every line is
 * searched for all of them before it goes anywhere, longest first. A
 * value longer than a line is registered line by line. */
#define MSG_MAX 1024
#define SECRET_MAX 1024
#define SECRET_SHOWN "(secret)"

struct secret {
	char *s;
	size_t len;
	unsigned refs;          /* registrations: each configuration holding it */
};
static pthread_rwlock_t secret_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct secret *secrets;
static size_t nsecrets, capsecrets;

static struct secret *secret_find(const char *value, size_t len)
{
	for (size_t i = 0; i < nsecrets; i++)
		if (secrets[i].len == len && memcmp(secrets[i].s, value, len) == 0)
			return &secrets[i];
	return NULL;
}

static int secret_add_one(const char *value, size_t len)
{
	struct secret *old = secret_find(value, len);
	if (old) {
		old->refs++;
		return 0;
	}
	if (nsecrets == capsecrets) {
		size_t cap = capsecrets ? 2 * capsecrets : 8;
		struct secret *v = mqb__realloc(secrets, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		secrets = v;
		capsecrets = cap;
	}
	char *copy = mqb__malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, value, len);
	/* Longest first: a secret inside another is never matched first. */
	size_t at = nsecrets;
	while (at > 0 && secrets[at - 1].len < len) {
		secrets[at] = secrets[at - 1];
		at--;
	}
	secrets[at] = (struct secret){copy, len, 1};
	nsecrets++;
	return 0;
}

static int secret_drop_one(const char *value, size_t len)
{
	struct secret *x = secret_find(value, len);
	if (x && --x->refs == 0) {
		mqb__free(x->s);
		memmove(x, x + 1, (size_t)(secrets + nsecrets - (x + 1)) * sizeof *x);
		nsecrets--;
	}
	return 0;
}

/* fn on value, and on each line of it when it is long or has several. */
static int secret_each(const char *value, size_t len, int (*fn)(const char *, size_t))
{
	int rc = 0;
	if (len <= SECRET_MAX)
		rc = fn(value, len);
	if (rc == 0 && (len > SECRET_MAX || memchr(value, '\n', len))) {
		for (size_t i = 0; i < len && rc == 0;) {
			const char *nl = memchr(value + i, '\n', len - i);
			size_t end = nl ? (size_t)(nl - value) : len;
			for (size_t j = i; j < end && rc == 0; j += SECRET_MAX) {
				size_t piece = end - j < SECRET_MAX ? end - j : SECRET_MAX;
				rc = fn(value + j, piece);
			}
			i = end + 1;
		}
	}
	return rc;
}

int mqb__secret_add(const char *value, size_t len)
{
	if (!value || len == 0)
		return 0;
	pthread_rwlock_wrlock(&secret_lock);
	/* Each line of a long or multi-line value too (a key, a certificate). */
	int rc = secret_each(value, len, secret_add_one);
	pthread_rwlock_unlock(&secret_lock);
	return rc;
}

void mqb__secret_drop(const char *value, size_t len)
{
	if (!value || len == 0)
		return;
	pthread_rwlock_wrlock(&secret_lock);
	secret_each(value, len, secret_drop_one);
	pthread_rwlock_unlock(&secret_lock);
}

void mqb__secrets_clear(void)
{
	pthread_rwlock_wrlock(&secret_lock);
	for (size_t i = 0; i < nsecrets; i++)
		mqb__free(secrets[i].s);
	mqb__free(secrets);
	secrets = NULL;
	nsecrets = capsecrets = 0;
	pthread_rwlock_unlock(&secret_lock);
}

/* Copy in[0..limit) to out (at most outlen - 1 bytes and a NUL), every
 * secret that starts there replaced, even one that runs past limit (in
 * holds inlen >= limit bytes, enough for any secret starting before
 * limit). True when the text had to be cut. */
static bool redact(const char *in, size_t inlen, size_t limit, char *out, size_t outlen)
{
	size_t o = 0, i = 0, shown = sizeof SECRET_SHOWN - 1;
	bool cut = false;
	pthread_rwlock_rdlock(&secret_lock);
	while (i < limit) {
		const struct secret *hit = NULL;
		for (size_t k = 0; k < nsecrets && !hit; k++)
			if (secrets[k].len <= inlen - i && in[i] == secrets[k].s[0] &&
			    memcmp(in + i, secrets[k].s, secrets[k].len) == 0)
				hit = &secrets[k];
		const char *piece = hit ? SECRET_SHOWN : in + i;
		size_t plen = hit ? shown : 1;
		if (o + plen >= outlen) {
			cut = true;
			break;
		}
		memcpy(out + o, piece, plen);
		o += plen;
		i += hit ? hit->len : 1;
	}
	pthread_rwlock_unlock(&secret_lock);
	out[o] = '\0';
	return cut || limit < inlen;
}

char *mqb__secret_redact(const char *text, char *out, size_t outlen)
{
	if (!outlen)
		return out;
	size_t len = strlen(text);
	redact(text, len, len, out, outlen);
	return out;
}

int mqb__secret_redact_dup(const char *text, char **out)
{
	*out = NULL;
	size_t len = strlen(text), cap = len * (sizeof SECRET_SHOWN - 1) + 1;
	pthread_rwlock_rdlock(&secret_lock);
	size_t n = nsecrets;
	pthread_rwlock_unlock(&secret_lock);
	if (n == 0)
		return 0;
	char *s = mqb__malloc(cap);
	if (!s)
		return -ENOMEM;
	redact(text, len, len, s, cap);
	if (strcmp(s, text) == 0) {
		mqb__free(s);
		return 0;
	}
	*out = s;
	return 0;
}

static void vlog(enum mqb_log_level level, const char *subsystem, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

void mqb_vlog(enum mqb_log_level level, const char *subsystem, const char *fmt, va_list ap)
{
	if ((int)level < atomic_load_explicit(&min_level, memory_order_relaxed) ||
	    (int)level < level_of(subsystem))
		return;
	vlog(level, subsystem, fmt, ap);
}

void mqb__log_always(const char *subsystem, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(MQB_LOG_INFO, subsystem, fmt, ap);
	va_end(ap);
}

static void vlog(enum mqb_log_level level, const char *subsystem, const char *fmt, va_list ap)
{
	/* Formatted with room past the line's end, so that a secret
	 * straddling the cut is still seen whole, and masked. */
	char raw[MSG_MAX + SECRET_MAX], msg[MSG_MAX];
	int n = vsnprintf(raw, sizeof raw, fmt, ap);
	if (n < 0)
		return;
	size_t have = (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1;
	bool cut = redact(raw, have, have < MSG_MAX - 1 ? have : MSG_MAX - 1, msg, sizeof msg);
	const char *more = cut ? "…" : "";

	pthread_mutex_lock(&sink_lock);
	if (sink) {
		sink(sink_ud, level, subsystem, msg);
	} else if (dest == DEST_SYSLOG) {
		/* syslog adds the time, the host and our pid. */
		syslog(syslog_prio[level], "[%s] %s%s", subsystem ? subsystem : "-", msg, more);
	} else {
		struct timespec ts;
		struct tm tm;
		char line[1200];
		int len;
		if (dest == DEST_STDERR && journal < 0)
			journal = stderr_is_journal();
		if (dest == DEST_STDERR && journal) {
			len = snprintf(line, sizeof line, "<%d>[%s] %s%s\n", syslog_prio[level],
				       subsystem ? subsystem : "-", msg, more);
		} else {
			clock_gettime(CLOCK_REALTIME, &ts);
			localtime_r(&ts.tv_sec, &tm);
			len = snprintf(line, sizeof line,
				       "%04d-%02d-%02d %02d:%02d:%02d.%03ld %-7s [%s] %s%s\n",
				       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
				       tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_names[level],
				       subsystem ? subsystem : "-", msg, more);
		}
		if (len < 0)
			len = 0;
		if (len > (int)sizeof line - 1) { /* cut, but still one line */
			len = (int)sizeof line - 1;
			line[len - 1] = '\n';
		}
		ssize_t w = write(dest == DEST_FILE ? file_fd : STDERR_FILENO, line, (size_t)len);
		(void)w; /* nowhere left to report a failing log */
	}
	pthread_mutex_unlock(&sink_lock);
}

void mqb_log(enum mqb_log_level level, const char *subsystem, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mqb_vlog(level, subsystem, fmt, ap);
	va_end(ap);
}
