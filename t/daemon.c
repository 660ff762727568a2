/* SPDX-License-Identifier: MIT */
/* End-to-end test harness: runs the real mqbridge on a configuration the
 * test writes, against a real mosquitto, and records every message a
 * watching libmosquitto client receives, for bounded waits. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <mosquitto.h>

#include "testutil.h"

#define LOCK(t) pthread_mutex_lock((pthread_mutex_t *)(t)->lock)
#define UNLOCK(t) pthread_mutex_unlock((pthread_mutex_t *)(t)->lock)

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	(void)m;
	struct td *t = ud;
	LOCK(t);
	if (t->nmsgs == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		struct td_msg *v = realloc(t->msgs, cap * sizeof *v);
		if (!v) {
			UNLOCK(t);
			return;
		}
		t->msgs = v;
		t->cap = cap;
	}
	struct td_msg *x = &t->msgs[t->nmsgs];
	x->topic = strdup(msg->topic);
	x->payload = malloc((size_t)msg->payloadlen + 1);
	if (x->topic && x->payload) {
		if (msg->payloadlen) /* an empty one (a cleared retained topic) has none */
			memcpy(x->payload, msg->payload, (size_t)msg->payloadlen);
		x->payload[msg->payloadlen] = '\0';
		x->len = (size_t)msg->payloadlen;
		x->retain = msg->retain;
		x->at = tu_now();
		t->nmsgs++;
	} else {
		free(x->topic);
		free(x->payload);
	}
	UNLOCK(t);
}

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
	(void)ud;
	if (rc == 0)
		mosquitto_subscribe(m, NULL, "#", 1);
}

void td_init(struct td *t, const char *broker_extra)
{
	td_init_on(t, 0, broker_extra);
}

void td_init_on(struct td *t, int port, const char *broker_extra)
{
	memset(t, 0, sizeof *t);
	t->lock = malloc(sizeof(pthread_mutex_t));
	assert_non_null(t->lock);
	pthread_mutex_init(t->lock, NULL);
	snprintf(t->dir, sizeof t->dir, "/tmp/mqb-td.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->config, sizeof t->config, "%s/mqbridge.yaml", t->dir);
	snprintf(t->log, sizeof t->log, "%s/daemon.log", t->dir);
	if (port > 0)
		t->broker.port = port; /* another broker, the test's own */
	else
		tu_broker_start(&t->broker, broker_extra);
	mosquitto_lib_init();
	char id[64];
	snprintf(id, sizeof id, "td-watch-%ld", (long)getpid());
	struct mosquitto *m = mosquitto_new(id, true, t);
	assert_non_null(m);
	t->mosq = m;
	mosquitto_message_callback_set(m, on_message);
	mosquitto_connect_callback_set(m, on_connect);
	assert_int_equal(mosquitto_connect(m, "127.0.0.1", t->broker.port, 30), MOSQ_ERR_SUCCESS);
	assert_int_equal(mosquitto_loop_start(m), MOSQ_ERR_SUCCESS);
	/* the watcher is subscribed once its own probe comes back */
	for (double end = tu_now() + TU_TIMEOUT;;) {
		mosquitto_publish(m, NULL, "td/probe", 2, "up", 1, false);
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
		if (td_last(t, "td/probe"))
			break;
		assert_true(tu_now() < end);
	}
}

static char *replace_all(const char *s, const char *from, const char *to)
{
	size_t n = 0, lf = strlen(from), lt = strlen(to);
	for (const char *p = s; (p = strstr(p, from)); p += lf)
		n++;
	char *out = malloc(strlen(s) + n * (lt > lf ? lt - lf : 0) + 1), *o = out;
	assert_non_null(out);
	for (const char *p = s, *q; ; p = q + lf) {
		q = strstr(p, from);
		size_t k = q ? (size_t)(q - p) : strlen(p);
		memcpy(o, p, k);
		o += k;
		if (!q)
			break;
		memcpy(o, to, lt);
		o += lt;
	}
	*o = '\0';
	return out;
}

void td_write_config(struct td *t, const char *yaml)
{
	char port[16];
	snprintf(port, sizeof port, "%d", t->broker.port);
	char *a = replace_all(yaml, "%PORT%", port);
	char *b = replace_all(a, "%DIR%", t->dir);
	/* written whole, then renamed into place, as editors and
	 * configuration tools do: a daemon reading it again on SIGHUP
	 * never sees half a file */
	char tmp[sizeof t->config + 8];
	snprintf(tmp, sizeof tmp, "%s.new", t->config);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(b, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, t->config), 0);
	free(a);
	free(b);
}

void td_write_file(struct td *t, const char *name, const char *text, char *out, size_t outlen)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", t->dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	if (out)
		snprintf(out, outlen, "%s", path);
}

static const char *builddir(void)
{
	const char *b = getenv("abs_top_builddir");
	return b ? b : ".";
}

static pid_t spawn(struct td *t, const char *const *extra, size_t nextra, int errfd)
{
	char exe[512], pdir[512];
	snprintf(exe, sizeof exe, "%s/mqbridge", builddir());
	snprintf(pdir, sizeof pdir, "%s/platforms", builddir());
	const char *argv[48];
	size_t n = 0;
	for (const char *const *w = t->wrap; w && *w && n < 8; w++)
		argv[n++] = *w;
	const char *mine[] = {exe, "-c", t->config, "-P", pdir, "-l", "debug"};
	for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++)
		argv[n++] = mine[i];
	for (size_t i = 0; i < nextra && n < 47; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	const char *run[56];
	tu_wrap_argv(argv, run, 56);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* a test that crashes takes its broker and daemons with it,
		 * instead of leaving them to every later run */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		dup2(errfd, 2);
		dup2(errfd, 1);
		/* Nothing of the test's (the watcher's socket, a broker's log)
		 * goes with it: its descriptors are its own, and counted. */
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* No restored states unless a test sets state_dir: not the
		 * configured $localstatedir/lib/mqbridge, which a package
		 * build's root can write (/var/lib/mqbridge), carrying one
		 * test's states into the next. A directory that is not there,
		 * as a build's /usr/local/var/lib/mqbridge is not. */
		char sd[sizeof t->dir + 16];
		snprintf(sd, sizeof sd, "%s/no-state", t->dir);
		setenv("STATE_DIRECTORY", sd, 0);
		execvp(run[0], (char *const *)run);
		_exit(127);
	}
	return pid;
}

static size_t collect(va_list ap, const char **v, size_t max)
{
	size_t n = 0;
	for (const char *a; (a = va_arg(ap, const char *)) && n < max;)
		v[n++] = a;
	return n;
}

void td_start(struct td *t, ...)
{
	const char *extra[16];
	va_list ap;
	va_start(ap, t);
	size_t n = collect(ap, extra, 16);
	va_end(ap);
	int fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	t->pid = spawn(t, extra, n, fd);
	close(fd);
}

static int wait_exit(pid_t pid, double timeout)
{
	int st;
	for (double end = tu_now() + timeout; tu_now() < end;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

int td_stop(struct td *t)
{
	if (!t->pid)
		return -1;
	kill(t->pid, SIGTERM);
	int rc = wait_exit(t->pid, 30);
	t->pid = 0;
	return rc;
}

void td_kill(struct td *t)
{
	if (!t->pid)
		return;
	kill(t->pid, SIGKILL);
	wait_exit(t->pid, 30);
	t->pid = 0;
}

int td_run(struct td *t, char *err, size_t errlen, ...)
{
	const char *extra[16];
	va_list ap;
	va_start(ap, errlen);
	size_t n = collect(ap, extra, 16);
	va_end(ap);
	char path[160];
	snprintf(path, sizeof path, "%s/run.out", t->dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	pid_t pid = spawn(t, extra, n, fd);
	int rc = wait_exit(pid, 60);
	if (err && errlen) {
		ssize_t k = pread(fd, err, errlen - 1, 0);
		err[k > 0 ? k : 0] = '\0';
	}
	close(fd);
	return rc;
}

void td_begin(struct td *t, const char *yaml, const char *status_topic)
{
	td_init(t, NULL);
	td_write_config(t, yaml);
	td_start(t, NULL);
	if (td_wait(t, status_topic, "online", TU_TIMEOUT) < 0) {
		td_dump(t);
		fail_msg("the daemon never came online");
	}
}

void td_check_fails(const char *yaml, char *err, size_t errlen)
{
	struct td t;
	td_init(&t, NULL);
	td_write_config(&t, yaml);
	int rc = td_run(&t, err, errlen, "-C", NULL);
	td_fini(&t);
	if (rc != 78)
		fail_msg("mqbridge -C exited %d, not 78:\n%s", rc, err);
}

void td_expect_in(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("'%s' not in:\n%s", needle, text);
}

void td_pub(struct td *t, const char *topic, const char *payload, bool retain)
{
	int mid;
	assert_int_equal(mosquitto_publish(t->mosq, &mid, topic, (int)strlen(payload), payload, 1,
					   retain),
			 MOSQ_ERR_SUCCESS);
}

const char *td_last(struct td *t, const char *topic)
{
	const char *p = NULL;
	LOCK(t);
	for (size_t i = t->nmsgs; i-- > 0;)
		if (strcmp(t->msgs[i].topic, topic) == 0) {
			p = t->msgs[i].payload;
			break;
		}
	UNLOCK(t);
	return p; /* messages are never freed before td_fini */
}

long td_count(struct td *t)
{
	LOCK(t);
	long n = (long)t->nmsgs;
	UNLOCK(t);
	return n;
}

double td_at(struct td *t, long i)
{
	LOCK(t);
	assert_true(i >= 0 && (size_t)i < t->nmsgs);
	double at = t->msgs[i].at;
	UNLOCK(t);
	return at;
}

long td_wait_after(struct td *t, long since, const char *topic, const char *payload,
		   double timeout)
{
	long next = since < 0 ? 0 : since;
	for (double end = tu_now() + timeout;;) {
		LOCK(t);
		for (; next < (long)t->nmsgs; next++) {
			struct td_msg *m = &t->msgs[next];
			if (strcmp(m->topic, topic) == 0 && (!payload || strcmp(m->payload, payload) == 0)) {
				UNLOCK(t);
				return next;
			}
		}
		UNLOCK(t);
		if (tu_now() >= end)
			return -1;
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

long td_wait(struct td *t, const char *topic, const char *payload, double timeout)
{
	return td_wait_after(t, 0, topic, payload, timeout);
}

long td_expect_after(struct td *t, long since, const char *topic, const char *payload)
{
	long i = td_wait_after(t, since, topic, payload, TU_TIMEOUT);
	if (i < 0) {
		td_dump(t);
		const char *last = td_last(t, topic);
		fail_msg("no '%s' on %s (last: %s)", payload ? payload : "(any)", topic,
			 last ? last : "(none)");
	}
	return i;
}

long td_expect(struct td *t, const char *topic, const char *payload)
{
	return td_expect_after(t, 0, topic, payload);
}

void td_expect_holds(struct td *t, const char *topic, const char *needle)
{
	double end = tu_now() + TU_TIMEOUT;
	for (;;) {
		const char *s = td_last(t, topic);
		if (s && strstr(s, needle))
			return;
		if (tu_now() > end) {
			td_dump(t);
			fail_msg("%s never held %s (last: %s)", topic, needle, s ? s : "none");
		}
		td_wait_after(t, td_count(t), topic, NULL, 0.2);
	}
}

long td_device(struct td *t, const char *topic, const char *payload)
{
	long n = td_count(t);
	td_pub(t, topic, payload, false);
	return td_expect_after(t, n, topic, payload);
}

size_t td_count_topic(struct td *t, long since, const char *prefix, const char *suffix)
{
	size_t n = 0, lp = strlen(prefix), ls = strlen(suffix);
	LOCK(t);
	for (size_t i = since < 0 ? 0 : (size_t)since; i < t->nmsgs; i++) {
		const char *tp = t->msgs[i].topic;
		size_t lt = strlen(tp);
		n += strncmp(tp, prefix, lp) == 0 && lt >= ls && strcmp(tp + lt - ls, suffix) == 0;
	}
	UNLOCK(t);
	return n;
}

size_t td_join(struct td *t, long since, const char *topic, char *out, size_t len)
{
	size_t n = 0, off = 0;
	out[0] = '\0';
	LOCK(t);
	for (size_t i = since < 0 ? 0 : (size_t)since; i < t->nmsgs; i++) {
		if (strcmp(t->msgs[i].topic, topic) != 0)
			continue;
		if (off < len)
			off += (size_t)snprintf(out + off, len - off, "%s%s", n ? "," : "",
						t->msgs[i].payload);
		n++;
	}
	UNLOCK(t);
	return n;
}

size_t td_count_payload(struct td *t, long since, const char *topic, const char *payload)
{
	size_t n = 0;
	LOCK(t);
	for (size_t i = since < 0 ? 0 : (size_t)since; i < t->nmsgs; i++)
		n += strcmp(t->msgs[i].topic, topic) == 0 && strcmp(t->msgs[i].payload, payload) == 0;
	UNLOCK(t);
	return n;
}

/* ---- what the broker keeps ---------------------------------------------- */

/* A fresh client's subscription gets a topic's retained message back from
 * the broker. The broker queues a subscription's retained messages before
 * it reads the client's next publish, so the probe coming back means
 * every retained message has arrived. */
struct retained {
	pthread_mutex_t m;
	const char *topic, *probe;
	char payload[256];
	bool got, probed;
	int subacks;
};

static void ret_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	(void)m;
	struct retained *r = ud;
	pthread_mutex_lock(&r->m);
	if (strcmp(msg->topic, r->probe) == 0) {
		r->probed = true;
	} else if (strcmp(msg->topic, r->topic) == 0 && msg->retain) {
		snprintf(r->payload, sizeof r->payload, "%.*s", msg->payloadlen,
			 (const char *)msg->payload);
		r->got = true;
	}
	pthread_mutex_unlock(&r->m);
}

static void ret_on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *q)
{
	(void)m, (void)mid, (void)n, (void)q;
	struct retained *r = ud;
	pthread_mutex_lock(&r->m);
	r->subacks++;
	pthread_mutex_unlock(&r->m);
}

static bool ret_wait(struct retained *r, bool *flag, int subacks)
{
	for (double end = tu_now() + TU_TIMEOUT; tu_now() < end;) {
		pthread_mutex_lock(&r->m);
		bool ok = flag ? *flag : r->subacks >= subacks;
		pthread_mutex_unlock(&r->m);
		if (ok)
			return true;
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return false;
}

/* The retained payload on topic, or NULL when nothing is retained there. */
const char *td_retained(struct td *t, const char *topic, char *out, size_t outlen)
{
	struct retained r = {.topic = topic, .probe = "td/probe"};
	pthread_mutex_init(&r.m, NULL);
	struct mosquitto *m = mosquitto_new(NULL, true, &r);
	assert_non_null(m);
	mosquitto_message_callback_set(m, ret_on_message);
	mosquitto_subscribe_callback_set(m, ret_on_subscribe);
	assert_int_equal(mosquitto_connect(m, "127.0.0.1", t->broker.port, 30), MOSQ_ERR_SUCCESS);
	assert_int_equal(mosquitto_loop_start(m), MOSQ_ERR_SUCCESS);
	assert_int_equal(mosquitto_subscribe(m, NULL, r.probe, 0), MOSQ_ERR_SUCCESS);
	assert_true(ret_wait(&r, NULL, 1));
	assert_int_equal(mosquitto_subscribe(m, NULL, topic, 0), MOSQ_ERR_SUCCESS);
	assert_true(ret_wait(&r, NULL, 2));
	assert_int_equal(mosquitto_publish(m, NULL, r.probe, 1, "p", 0, false), MOSQ_ERR_SUCCESS);
	assert_true(ret_wait(&r, &r.probed, 0));
	mosquitto_disconnect(m);
	mosquitto_loop_stop(m, false); /* not forced: a cancelled thread may hold locks */
	mosquitto_destroy(m);
	pthread_mutex_destroy(&r.m);
	if (!r.got)
		return NULL;
	snprintf(out, outlen, "%s", r.payload);
	return out;
}

void td_take_over(struct td *t, const char *client_id)
{
	struct retained r = {.topic = "td/none", .probe = "td/none"};
	pthread_mutex_init(&r.m, NULL);
	struct mosquitto *m = mosquitto_new(client_id, true, &r);
	assert_non_null(m);
	mosquitto_subscribe_callback_set(m, ret_on_subscribe);
	assert_int_equal(mosquitto_connect(m, "127.0.0.1", t->broker.port, 30), MOSQ_ERR_SUCCESS);
	assert_int_equal(mosquitto_loop_start(m), MOSQ_ERR_SUCCESS);
	/* its SUBACK: the broker has taken the session over */
	assert_int_equal(mosquitto_subscribe(m, NULL, r.probe, 0), MOSQ_ERR_SUCCESS);
	assert_true(ret_wait(&r, NULL, 1));
	mosquitto_disconnect(m);
	mosquitto_loop_stop(m, false);
	mosquitto_destroy(m);
	pthread_mutex_destroy(&r.m);
}

bool td_log_wait(struct td *t, const char *needle, double timeout)
{
	for (double end = tu_now() + timeout;;) {
		FILE *f = fopen(t->log, "r");
		if (f) {
			char line[4096];
			bool found = false;
			while (!found && fgets(line, sizeof line, f))
				found = strstr(line, needle) != NULL;
			fclose(f);
			if (found)
				return true;
		}
		if (tu_now() >= end)
			return false;
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int td_log_count(struct td *t, const char *needle)
{
	FILE *f = fopen(t->log, "r");
	int n = 0;
	if (!f)
		return 0;
	char line[8192];
	while (fgets(line, sizeof line, f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

void td_expect_log(struct td *t, const char *needle)
{
	if (!td_log_wait(t, needle, TU_TIMEOUT)) {
		td_dump(t);
		fail_msg("the log never said '%s'", needle);
	}
}

void td_stop_clean(struct td *t)
{
	int rc = td_stop(t);
	if (rc != 0) {
		td_dump(t);
		fail_msg("mqbridge exited with %d", rc);
	}
}

void td_dump(struct td *t)
{
	FILE *f = fopen(t->log, "r");
	fprintf(stderr, "---- mqbridge log (%s) ----\n", t->log);
	if (f) {
		char line[4096];
		while (fgets(line, sizeof line, f))
			fputs(line, stderr);
		fclose(f);
	}
	tu_broker_dump_log(&t->broker);
}

void td_fini(struct td *t)
{
	if (!t->lock)
		return; /* never started, or finished already */
	if (t->pid)
		td_stop(t);
	if (t->mosq) {
		mosquitto_disconnect(t->mosq);
		/* not forced: a cancelled loop thread may hold the client's locks */
		mosquitto_loop_stop(t->mosq, false);
		mosquitto_destroy(t->mosq);
		mosquitto_lib_cleanup();
	}
	tu_broker_stop(&t->broker);
	for (size_t i = 0; i < t->nmsgs; i++) {
		free(t->msgs[i].topic);
		free(t->msgs[i].payload);
	}
	free(t->msgs);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", t->dir);
	pthread_mutex_destroy(t->lock);
	free(t->lock);
	memset(t, 0, sizeof *t);
}
