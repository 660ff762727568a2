/* SPDX-License-Identifier: MIT */
/* The sd_notify protocol without libsystemd (sd_notify(3) describes it):
 * "KEY=VALUE" lines in one datagram to the AF_UNIX socket $NOTIFY_SOCKET
 * names, a path or, with a leading '@', the abstract namespace. The
 * watchdog is fed from a loop timer, never a thread of its own: a loop
 * that stalls stops feeding it and systemd restarts the daemon. */
#include "lib/internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <ev.h>

#include "core/loop.h"
#include "daemon/notify.h"

#define SUB "main"
/* STATUS= is looked at this often (when it changed, it is sent). */
#define STATUS_EVERY 5.0

static int sock = -1;
static struct sockaddr_un addr;
static socklen_t addr_len;
static double watchdog;         /* seconds between keep-alives; 0: none */
static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_status[256];
/* READY=1 was sent: a reload ends with READY=1 only then (one asked for
 * during start-up must not announce readiness early). */
static atomic_bool was_ready;

static struct {
	struct mqb_core *core;
	void (*line)(struct mqb_core *core, char *buf, unsigned len);
	ev_timer watchdog, status;
	bool started;
} timers;

void notify__init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	size_t len = path ? strlen(path) : 0;
	/* The watchdog is ours unless it names another process (a wrapper
	 * that exec'd us keeps its pid, so equal is the usual case). */
	if (usec && (!pid || strtol(pid, NULL, 10) == (long)getpid())) {
		double us = strtod(usec, NULL);
		watchdog = us > 0 ? us / 2e6 : 0;
	}
	if (len >= 2 && len < sizeof addr.sun_path && (path[0] == '/' || path[0] == '@')) {
		addr.sun_family = AF_UNIX;
		memcpy(addr.sun_path, path, len);
		if (path[0] == '@')
			addr.sun_path[0] = '\0'; /* abstract: no NUL at the end counted */
		addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				       (path[0] == '/'));
		sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	} else if (path) {
		fprintf(stderr, "mqbridge: NOTIFY_SOCKET '%s' is not a socket address; "
			"systemd will not hear from us\n", path);
	}
	if (sock < 0)
		watchdog = 0; /* nobody to tell */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

bool notify__enabled(void)
{
	return sock >= 0;
}

static void send_text(const char *text)
{
	if (sock < 0)
		return;
	ssize_t n = sendto(sock, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *)&addr,
			   addr_len);
	if (n < 0 && errno != EAGAIN)
		MQB_LOG_DEBUG(SUB, "cannot notify systemd: %s", strerror(errno));
}

/* "STATUS=line" appended to buf (len bytes) holding "KEY=1". */
static void with_status(char *buf, size_t len, const char *line)
{
	size_t have = strlen(buf);
	if (line && *line)
		snprintf(buf + have, len - have, "\nSTATUS=%s", line);
}

static void refresh_line(char *buf, unsigned len)
{
	buf[0] = '\0';
	if (timers.line && timers.core && mqb_core_in_loop_thread(timers.core))
		timers.line(timers.core, buf, len);
}

void notify__ready(void)
{
	char line[sizeof last_status], msg[sizeof last_status + 32] = "READY=1";
	refresh_line(line, sizeof line);
	with_status(msg, sizeof msg, line);
	pthread_mutex_lock(&status_lock);
	if (line[0])
		snprintf(last_status, sizeof last_status, "%s", line);
	send_text(msg);
	pthread_mutex_unlock(&status_lock);
	atomic_store(&was_ready, true);
}

void notify__reloading(bool reloading)
{
	struct timespec ts;
	char msg[96];
	if (!reloading) {
		if (atomic_load(&was_ready))
			notify__ready();
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof msg, "RELOADING=1\nSTATUS=reloading the configuration\n"
		 "MONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
	send_text(msg);
}

void notify__stopping(void)
{
	send_text("STOPPING=1\nSTATUS=stopping");
}

void notify__status(const char *line)
{
	char msg[sizeof last_status + 8];
	pthread_mutex_lock(&status_lock);
	if (strcmp(line, last_status) != 0) {
		snprintf(last_status, sizeof last_status, "%s", line);
		snprintf(msg, sizeof msg, "STATUS=%s", line);
		send_text(msg);
	}
	pthread_mutex_unlock(&status_lock);
}

static void watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	send_text("WATCHDOG=1");
}

static void status_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	char line[sizeof last_status];
	refresh_line(line, sizeof line);
	if (line[0])
		notify__status(line);
}

void notify__async_start(struct mqb_core *core,
			 void (*status_line)(struct mqb_core *core, char *buf, unsigned len))
{
	if (sock < 0 || timers.started)
		return;
	struct ev_loop *loop = core__loop(core);
	timers.core = core;
	timers.line = status_line;
	timers.started = true;
	if (watchdog > 0) {
		ev_timer_init(&timers.watchdog, watchdog_cb, watchdog, watchdog);
		ev_timer_start(loop, &timers.watchdog);
		send_text("WATCHDOG=1");
		MQB_LOG_DEBUG(SUB, "systemd's watchdog fed every %.3f s", watchdog);
	}
	if (status_line) {
		ev_timer_init(&timers.status, status_cb, STATUS_EVERY, STATUS_EVERY);
		ev_timer_start(loop, &timers.status);
	}
}

void notify__async_stop(struct mqb_core *core)
{
	if (timers.started) {
		struct ev_loop *loop = core__loop(core);
		ev_timer_stop(loop, &timers.watchdog);
		ev_timer_stop(loop, &timers.status);
		timers.started = false;
	}
	timers.core = NULL;
	timers.line = NULL;
	if (sock >= 0)
		close(sock);
	sock = -1;
}
