/* SPDX-License-Identifier: MIT */
/* The command_line integration's process runner and word splitter (see
 * cmd_run.h): commands run in a session of their own with clean signal
 * state and bounded output, and a timeout kills their whole process group. */
#define _GNU_SOURCE

#include "cmd_run.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "mqbridge/core.h"
#include "mqbridge/template.h"
#include "mqbridge/text.h"
#include "mqbridge/timer.h"

extern char **environ;

/* posix_spawn can do everything we need (chdir, close every other
 * descriptor, a new session) in glibc 2.34 and later; elsewhere (musl on
 * routers, say) we fork. */
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 34) && defined(POSIX_SPAWN_SETSID)
#define HAVE_FULL_POSIX_SPAWN 1
#endif
#endif

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* How often a running command's cancel callback is asked. */
#define CANCEL_POLL_MS 100

/* ---- descriptors ------------------------------------------------------- */

/* Move fd above the standard three (they are the child's), keeping
 * close-on-exec: posix_spawn's dup2 onto the same number would otherwise
 * leave the flag set and the child without that descriptor. */
static int above_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int e = errno;
	close(fd);
	errno = e;
	return nfd;
}

static int cloexec_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	p[0] = above_stdio(p[0]);
	p[1] = above_stdio(p[1]);
	if (p[0] < 0 || p[1] < 0) {
		int e = errno;
		if (p[0] >= 0)
			close(p[0]);
		if (p[1] >= 0)
			close(p[1]);
		return -e;
	}
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* ---- finding the program ----------------------------------------------- */

static bool is_exec_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The file to exec for name: name itself when it has a '/', else the
 * first executable PATH entry (in the parent, before spawning: the fork
 * path must not allocate between fork and exec). 0 with *out (malloc'd),
 * -ENOENT, -ENOMEM. */
static int find_program(const char *name, char **out)
{
	*out = NULL;
	if (!name[0])
		return -ENOENT;
	if (strchr(name, '/')) {
		*out = strdup(name);
		return *out ? 0 : -ENOMEM;
	}
	const char *path = getenv("PATH");
	if (!path || !path[0])
		path = "/usr/local/bin:/usr/bin:/bin";
	size_t nlen = strlen(name);
	for (const char *p = path;;) {
		const char *end = strchr(p, ':');
		size_t dlen = end ? (size_t)(end - p) : strlen(p);
		char *cand = malloc(dlen + nlen + 3);
		if (!cand)
			return -ENOMEM;
		/* an empty entry means the current directory, as execvp has it */
		if (dlen)
			memcpy(cand, p, dlen);
		else
			cand[dlen++] = '.';
		cand[dlen] = '/';
		memcpy(cand + dlen + 1, name, nlen + 1);
		if (is_exec_file(cand)) {
			*out = cand;
			return 0;
		}
		free(cand);
		if (!end)
			break;
		p = end + 1;
	}
	return -ENOENT;
}

/* ---- spawning ---------------------------------------------------------- */

struct spawn_io {
	const char *path;
	char *const *argv;
	const char *cwd;
	int devnull, out_w, err_w;
};

#ifdef HAVE_FULL_POSIX_SPAWN
static int spawn_posix(const struct spawn_io *io, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int rc;

	sigemptyset(&none);
	/* Every bit, not sigfillset: that leaves out the C library's own
	 * signals (glibc: 32 and 33), which glibc's spawn then sets to SIG_IGN
	 * in the child, and an ignored signal stays ignored across exec. */
	memset(&all, 0xff, sizeof all);
	if ((rc = posix_spawn_file_actions_init(&fa)))
		return -rc;
	if ((rc = posix_spawnattr_init(&at))) {
		posix_spawn_file_actions_destroy(&fa);
		return -rc;
	}
	if (!(rc = posix_spawn_file_actions_adddup2(&fa, io->devnull, 0)) &&
	    !(rc = posix_spawn_file_actions_adddup2(&fa, io->out_w, 1)) &&
	    !(rc = posix_spawn_file_actions_adddup2(&fa, io->err_w, 2)) &&
	    !(rc = io->cwd ? posix_spawn_file_actions_addchdir_np(&fa, io->cwd) : 0) &&
	    !(rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) &&
	    !(rc = posix_spawnattr_setsigmask(&at, &none)) &&
	    !(rc = posix_spawnattr_setsigdefault(&at, &all)) &&
	    !(rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
							 POSIX_SPAWN_SETSID)))
		rc = posix_spawn(pid, io->path, &fa, &at, io->argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return -rc;
}
#endif

/* The child's side of spawn_fork: only async-signal-safe calls (the
 * daemon is multithreaded; another thread may hold malloc's lock). On
 * failure the errno goes back through status_w and the child exits 127. */
static void fork_child(const struct spawn_io *io, int status_w, int maxfd)
{
	/* The kernel's own calls, not the C library's: glibc refuses to touch
	 * its internal signals (32 and 33), and a parent started by a
	 * posix_spawn (make, say) has them ignored, which would last across
	 * our exec. All zero is SIG_DFL with no flags and an empty mask in
	 * every architecture's struct sigaction, and an empty signal set. */
	static const unsigned long zero[32];
	const size_t setsize = (NSIG - 1) / 8;
	int e;

	if (setsid() < 0)
		goto fail;
	/* errors ignored: SIGKILL and SIGSTOP refuse, and are at their
	 * default anyway */
	for (int s = 1; s < NSIG; s++)
		syscall(SYS_rt_sigaction, s, zero, NULL, setsize);
	if (io->cwd && chdir(io->cwd) < 0)
		goto fail;
	if (dup2(io->devnull, 0) < 0 || dup2(io->out_w, 1) < 0 || dup2(io->err_w, 2) < 0)
		goto fail;
	/* everything else (status_w too) closes at exec */
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
#endif
		for (int fd = 3; fd < maxfd; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, zero, NULL, setsize);
	execve(io->path, io->argv, environ);
fail:
	e = errno;
	while (write(status_w, &e, sizeof e) < 0 && errno == EINTR)
		;
	_exit(127);
}

static int spawn_fork(const struct spawn_io *io, pid_t *pid)
{
	int status[2], rc;
	if ((rc = cloexec_pipe(status)))
		return rc;
	long open_max = sysconf(_SC_OPEN_MAX);
	int maxfd = open_max < 0 || open_max > 65536 ? 65536 : (int)open_max;

	/* No handler of ours may run in the child before it resets them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t p = fork();
	if (p == 0)
		fork_child(io, status[1], maxfd);
	int fork_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(status[1]);
	if (p < 0) {
		close(status[0]);
		return -fork_errno;
	}
	/* EOF: exec succeeded (the descriptor closed with it); an int: why not */
	int child_errno = 0;
	ssize_t n;
	do
		n = read(status[0], &child_errno, sizeof child_errno);
	while (n < 0 && errno == EINTR);
	close(status[0]);
	if (n == (ssize_t)sizeof child_errno) {
		int st;
		while (waitpid(p, &st, 0) < 0 && errno == EINTR)
			;
		return -(child_errno ? child_errno : EIO);
	}
	*pid = p;
	return 0;
}

/* ---- feeding input ----------------------------------------------------- */

/* Write what the pipe takes of the input now (it is non-blocking); close
 * it when all is written or the command stopped reading. SIGPIPE is
 * blocked around the write and one it raised is taken back, so a command
 * that exits unread kills nobody (the daemon ignores the signal anyway;
 * a test need not). */
static void feed(int *fd, const char *data, size_t len, size_t *done)
{
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	ssize_t n = write(*fd, data + *done, len - *done);
	int e = errno;
	if (n < 0 && e == EPIPE) {
		struct timespec zero = {0, 0};
		sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (n > 0)
		*done += (size_t)n;
	if ((n < 0 && e != EAGAIN && e != EINTR) || *done == len)
		close_fd(fd);
}

/* ---- collecting output ------------------------------------------------- */

struct sink {
	char *buf;
	size_t len, cap, max;
	bool truncated;
};

static int sink_add(struct sink *s, const char *data, size_t n)
{
	size_t room = s->max - s->len;
	if (n > room) {
		s->truncated = true;
		n = room;
	}
	if (!n)
		return 0;
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 1024;
		while (cap < s->len + n + 1)
			cap *= 2;
		if (cap > s->max + 1)
			cap = s->max + 1;
		char *b = realloc(s->buf, cap);
		if (!b)
			return -ENOMEM;
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return 0;
}

/* Read what is there; close *fd at EOF or error. */
static int drain(int *fd, struct sink *s)
{
	char chunk[16384];
	ssize_t n = read(*fd, chunk, sizeof chunk);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		close_fd(fd);
		return 0;
	}
	return sink_add(s, chunk, (size_t)n);
}

static int pidfd_for(pid_t pid)
{
#ifdef SYS_pidfd_open
	long fd = syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0) {
		/* not inherited by commands other threads start */
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
		return (int)fd;
	}
#else
	(void)pid;
#endif
	return -1;
}

/* Has pid exited? Without reaping it: while it is a zombie its pid (and
 * so its group's id) cannot be reused, so kill(-pid) stays safe. */
static bool has_exited(pid_t pid)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD;
	return si.si_pid == pid;
}

int cmd_run(const struct cmd_spec *spec, struct cmd_result *res)
{
	struct sink out = {0}, err = {0};
	struct spawn_io io = {0};
	char *path = NULL;
	int pout[2] = {-1, -1}, perr[2] = {-1, -1}, pin[2] = {-1, -1}, devnull = -1, pidfd = -1;
	size_t fed = 0;
	int rc;
	pid_t pid = 0;

	memset(res, 0, sizeof *res);
	if (!spec || !spec->shell == !spec->argv || (spec->argv && !spec->argv[0]))
		return -EINVAL;
	out.max = spec->max_stdout ? spec->max_stdout : CMD_MAX_STDOUT;
	err.max = spec->max_stderr ? spec->max_stderr : CMD_MAX_STDERR;

	char *shell_argv[] = {"sh", "-c", (char *)spec->shell, NULL};
	if (spec->shell) {
		io.path = "/bin/sh";
		io.argv = shell_argv;
	} else {
		rc = find_program(spec->argv[0], &path);
		if (rc == -ENOMEM)
			return rc;
		if (rc) {
			res->how = CMD_NOT_RUN;
			res->status = -rc;
			return 0;
		}
		io.path = path;
		io.argv = spec->argv;
	}
	io.cwd = spec->cwd;

	if ((rc = cloexec_pipe(pout)) || (rc = cloexec_pipe(perr)))
		goto out;
	if (spec->input) {
		/* the child's standard input is the pipe's end, where /dev/null
		 * would be */
		if ((rc = cloexec_pipe(pin)))
			goto out;
		if (fcntl(pin[1], F_SETFL, O_NONBLOCK) < 0) {
			rc = -errno;
			goto out;
		}
		devnull = pin[0];
		pin[0] = -1;
	} else {
		devnull = above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC));
	}
	if (devnull < 0) {
		rc = -errno;
		goto out;
	}
	io.devnull = devnull;
	io.out_w = pout[1];
	io.err_w = perr[1];

	double start = mqb_time_monotonic();
#ifdef HAVE_FULL_POSIX_SPAWN
	if (spec->spawn == CMD_SPAWN_DEFAULT)
		rc = spawn_posix(&io, &pid);
	else
#endif
		rc = spawn_fork(&io, &pid);
	close_fd(&pout[1]);
	close_fd(&perr[1]);
	close_fd(&devnull);
	if (rc) {
		if (rc == -ENOMEM)
			goto out;
		res->how = CMD_NOT_RUN;
		res->status = -rc;
		rc = 0;
		goto out;
	}
	res->pid = pid;

	pidfd = spec->no_pidfd ? -1 : pidfd_for(pid);
	double deadline = spec->timeout > 0 ? start + spec->timeout : 0;
	bool exited = false;
	enum cmd_how stop = CMD_EXITED;
	if (pin[1] >= 0 && !spec->input_len)
		close_fd(&pin[1]);
	while (pout[0] >= 0 || perr[0] >= 0 || !exited) {
		double now = mqb_time_monotonic();
		if (deadline && now >= deadline) {
			stop = CMD_TIMEOUT;
			break;
		}
		if (spec->cancelled && spec->cancelled(spec->cancel_ud)) {
			stop = CMD_CANCELLED;
			break;
		}
		int wait_ms = -1;
		if (deadline)
			wait_ms = deadline - now > 60 ? 60000 : (int)((deadline - now) * 1000) + 1;
		/* without a pidfd an exit is only seen by asking */
		if ((spec->cancelled || (pidfd < 0 && !exited)) &&
		    (wait_ms < 0 || wait_ms > CANCEL_POLL_MS))
			wait_ms = CANCEL_POLL_MS;
		struct pollfd pf[4];
		nfds_t n = 0;
		int i_out = -1, i_err = -1, i_pid = -1, i_in = -1;
		if (pin[1] >= 0)
			pf[i_in = (int)n++] = (struct pollfd){.fd = pin[1], .events = POLLOUT};
		if (pout[0] >= 0)
			pf[i_out = (int)n++] = (struct pollfd){.fd = pout[0], .events = POLLIN};
		if (perr[0] >= 0)
			pf[i_err = (int)n++] = (struct pollfd){.fd = perr[0], .events = POLLIN};
		if (pidfd >= 0 && !exited)
			pf[i_pid = (int)n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		int pr = poll(pf, n, wait_ms);
		if (pr < 0 && errno != EINTR) {
			rc = -errno;
			stop = CMD_CANCELLED;
			break;
		}
		if (pr > 0) {
			if (i_out >= 0 && pf[i_out].revents && (rc = drain(&pout[0], &out)))
				break;
			if (i_err >= 0 && pf[i_err].revents && (rc = drain(&perr[0], &err)))
				break;
			if (i_pid >= 0 && pf[i_pid].revents)
				exited = true;
			if (i_in >= 0 && pf[i_in].revents)
				feed(&pin[1], spec->input, spec->input_len, &fed);
		}
		if (!exited && pidfd < 0)
			exited = has_exited(pid);
	}
	if (rc)
		stop = CMD_CANCELLED;
	if (stop != CMD_EXITED) {
		/* the leader is not reaped yet (or is a zombie), so its id is
		 * still the group's: nothing else can be hit */
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	int st = 0;
	pid_t w;
	while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	res->seconds = mqb_time_monotonic() - start;
	if (rc)
		goto out;
	if (w < 0) {
		/* someone else reaped it (SIGCHLD ignored?): nothing to report */
		rc = -errno;
		goto out;
	}
	if (stop != CMD_EXITED) {
		res->how = stop;
	} else if (WIFSIGNALED(st)) {
		res->how = CMD_SIGNALED;
		res->status = WTERMSIG(st);
	} else {
		res->how = CMD_EXITED;
		res->status = WEXITSTATUS(st);
	}
out:
	close_fd(&pidfd);
	close_fd(&pout[0]);
	close_fd(&pout[1]);
	close_fd(&perr[0]);
	close_fd(&perr[1]);
	close_fd(&pin[0]);
	close_fd(&pin[1]);
	close_fd(&devnull);
	free(path);
	if (rc) {
		free(out.buf);
		free(err.buf);
		res->out = res->err = NULL;
		return rc;
	}
	/* always a string, even when nothing was written */
	if (!out.buf && !(out.buf = calloc(1, 1)))
		rc = -ENOMEM;
	if (!err.buf && !(err.buf = calloc(1, 1)))
		rc = -ENOMEM;
	if (rc) {
		free(out.buf);
		free(err.buf);
		return rc;
	}
	res->out = out.buf;
	res->out_len = out.len;
	res->out_truncated = out.truncated;
	res->err = err.buf;
	res->err_len = err.len;
	res->err_truncated = err.truncated;
	return 0;
}

/* ---- a command for the pool ---------------------------------------------- */

void cmd_job_free(void *p)
{
	struct cmd_job *j = p;
	if (!j)
		return;
	free(j->shell);
	cmd_argv_free(j->argv);
	free(j->cwd);
	free(j->input);
	free(j);
}

void cmd_job_result_free(void *p)
{
	cmd_result_fini(p);
	free(p);
}

static bool core_stopping(void *core)
{
	return mqb_core_is_stopping(core);
}

int cmd_job_run(void *ud, void *arg, void **result)
{
	(void)ud;
	struct cmd_job *j = arg;
	struct cmd_result *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	struct cmd_spec spec = {.shell = j->shell,
				.argv = j->argv,
				.cwd = j->cwd,
				.timeout = j->timeout,
				.max_stdout = j->max_stdout,
				.max_stderr = j->max_stderr,
				.cancelled = core_stopping,
				.cancel_ud = j->core,
				.input = j->input,
				.input_len = j->input_len};
	int rc = cmd_run(&spec, r);
	if (rc) {
		free(r);
		return rc;
	}
	if (r->how == CMD_TIMEOUT)
		mqb_core_count(j->core, MQB_COUNT_COMMAND_TIMEOUTS);
	else if (r->how != CMD_CANCELLED && (r->how != CMD_EXITED || r->status != 0) &&
		 !(j->status_answers && r->how == CMD_EXITED && r->status != 126 &&
		   r->status != 127))
		mqb_core_count(j->core, MQB_COUNT_COMMAND_FAILURES);
	*result = r;
	return 0;
}

void cmd_result_fini(struct cmd_result *res)
{
	if (!res)
		return;
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
	res->out_len = res->err_len = 0;
}

const char *cmd_describe(const struct cmd_result *res, double timeout, char *buf, size_t buflen)
{
	switch (res->how) {
	case CMD_EXITED:
		if (res->status == 127)
			snprintf(buf, buflen, "exit status 127 (command not found?)");
		else if (res->status == 126)
			snprintf(buf, buflen, "exit status 126 (not executable?)");
		else
			snprintf(buf, buflen, "exit status %d", res->status);
		break;
	case CMD_SIGNALED:
		snprintf(buf, buflen, "killed by signal %d (%s)", res->status,
			 strsignal(res->status));
		break;
	case CMD_TIMEOUT:
		snprintf(buf, buflen, "timed out after %g s (process group killed)", timeout);
		break;
	case CMD_CANCELLED:
		snprintf(buf, buflen, "cancelled (process group killed)");
		break;
	case CMD_NOT_RUN:
		snprintf(buf, buflen, "could not start: %s", strerror(res->status));
		break;
	}
	return buf;
}

/* ---- text -------------------------------------------------------------- */

const char *cmd_printable(const char *s, size_t len, char *buf, size_t buflen)
{
	size_t o = 0;
	const unsigned char *u = (const unsigned char *)mqb_strip_bytes(s, &len);
	for (size_t i = 0; i < len;) {
		char esc[8];
		size_t elen, adv = 1;
		uint32_t cp;
		if (u[i] == '\n' || u[i] == '\t' || u[i] == '\r') {
			esc[0] = '\\';
			esc[1] = u[i] == '\n' ? 'n' : u[i] == '\t' ? 't' : 'r';
			elen = 2;
		} else if (u[i] < 0x20 || u[i] == 0x7f) {
			esc[0] = '?';
			elen = 1;
		} else if (u[i] < 0x80) {
			esc[0] = (char)u[i];
			elen = 1;
		} else if ((adv = mqb_utf8_decode((const char *)u + i, len - i, &cp))) {
			memcpy(esc, u + i, adv);
			elen = adv;
		} else {
			esc[0] = '?';
			elen = adv = 1;
		}
		/* keep room for "..." and the NUL */
		if (o + elen + 4 > buflen) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, esc, elen);
		o += elen;
		i += adv;
	}
	buf[o] = '\0';
	return buf;
}

/* ---- reading output ---------------------------------------------------- */

/* s without surrounding blanks, lower-cased into buf; false when too long. */
static bool trimmed_lower(const char *s, char *buf, size_t buflen)
{
	size_t len = strlen(s);
	const char *p = mqb_strip_bytes(s, &len);
	if (len >= buflen)
		return false;
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
	buf[len] = '\0';
	return true;
}

bool cmd_truthy(const char *s)
{
	char w[64];
	if (!trimmed_lower(s, w, sizeof w) || !w[0])
		return false;
	static const char *const yes[] = {"true", "yes", "on", "enable", "1"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (strcmp(w, yes[i]) == 0)
			return true;
	char *end;
	errno = 0;
	double d = strtod(w, &end);
	return !*end && errno != ERANGE && d == d && d != 0;
}

bool cmd_switch_on(const char *s)
{
	char w[16];
	if (!trimmed_lower(s, w, sizeof w))
		return false;
	return strcmp(w, "true") == 0 || strcmp(w, "on") == 0 || strcmp(w, "1") == 0;
}

int cmd_cover_state(const char *s, const char **state, int *position)
{
	static const char *const words[] = {"open", "closed", "opening", "closing"};
	char w[32];
	*position = -1;
	if (!trimmed_lower(s, w, sizeof w) || !w[0])
		return -EINVAL;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcmp(w, words[i]) == 0) {
			*state = words[i];
			return 0;
		}
	char *end;
	errno = 0;
	long v = strtol(w, &end, 10);
	if (*end || errno || v < 0 || v > 100)
		return -EINVAL;
	*position = (int)v;
	*state = v == 0 ? "closed" : "open";
	return 0;
}

enum jstep_kind { JS_KEY, JS_INDEX, JS_ANY };

struct jstep {
	enum jstep_kind kind;
	char *key;
	long index;
};

struct cmd_jpath {
	struct jstep *steps;
	size_t n;
};

void cmd_jpath_free(struct cmd_jpath *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->steps[i].key);
	free(p->steps);
	free(p);
}

static int jpath_add(struct cmd_jpath *p, enum jstep_kind kind, const char *key, size_t klen,
		     long index)
{
	struct jstep *s = realloc(p->steps, (p->n + 1) * sizeof *s);
	if (!s)
		return -ENOMEM;
	p->steps = s;
	s[p->n] = (struct jstep){.kind = kind, .index = index};
	if (key && !(s[p->n].key = strndup(key, klen)))
		return -ENOMEM;
	p->n++;
	return 0;
}

int cmd_jpath_compile(const char *text, struct cmd_jpath **out, char *err, size_t errlen)
{
	struct cmd_jpath *p = calloc(1, sizeof *p);
	int rc = 0;
	size_t i = 1;
	*out = NULL;
	if (!p)
		return -ENOMEM;
	if (text[0] != '$') {
		snprintf(err, errlen, "a JSONPath starts with '$'");
		rc = -EINVAL;
		goto fail;
	}
	while (text[i]) {
		if (text[i] == '.') {
			i++;
			if (text[i] == '.') {
				snprintf(err, errlen, "'..' (recursive descent) is not supported");
				rc = -EINVAL;
				goto fail;
			}
			if (text[i] == '[') {
				/* "$.[0]", as Home Assistant's examples write it */
				continue;
			} else if (text[i] == '*') {
				rc = jpath_add(p, JS_ANY, NULL, 0, 0);
				i++;
			} else {
				size_t j = i;
				while (text[j] && text[j] != '.' && text[j] != '[')
					j++;
				if (j == i) {
					snprintf(err, errlen, "a name is missing after '.' at %zu",
						 i);
					rc = -EINVAL;
					goto fail;
				}
				rc = jpath_add(p, JS_KEY, text + i, j - i, 0);
				i = j;
			}
		} else if (text[i] == '[') {
			i++;
			if (text[i] == '\'' || text[i] == '"') {
				char q = text[i++];
				const char *end = strchr(text + i, q);
				if (!end || end[1] != ']') {
					snprintf(err, errlen, "unterminated ['name'] at %zu", i);
					rc = -EINVAL;
					goto fail;
				}
				rc = jpath_add(p, JS_KEY, text + i, (size_t)(end - (text + i)), 0);
				i = (size_t)(end - text) + 2;
			} else if (text[i] == '*' && text[i + 1] == ']') {
				rc = jpath_add(p, JS_ANY, NULL, 0, 0);
				i += 2;
			} else {
				char *end;
				errno = 0;
				long v = strtol(text + i, &end, 10);
				if (end == text + i || *end != ']' || errno) {
					snprintf(err, errlen,
						 "expected an index, '*' or a quoted name "
						 "in [] at %zu",
						 i);
					rc = -EINVAL;
					goto fail;
				}
				rc = jpath_add(p, JS_INDEX, NULL, 0, v);
				i = (size_t)(end - text) + 1;
			}
		} else {
			snprintf(err, errlen, "unexpected '%c' at %zu (expected '.' or '[')",
				 text[i], i);
			rc = -EINVAL;
			goto fail;
		}
		if (rc)
			goto fail;
	}
	*out = p;
	return 0;
fail:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	cmd_jpath_free(p);
	return rc;
}

static json_t *jpath_walk(const struct cmd_jpath *p, size_t step, json_t *node)
{
	if (step == p->n)
		return node;
	const struct jstep *s = &p->steps[step];
	switch (s->kind) {
	case JS_KEY:
		return json_is_object(node) && json_object_get(node, s->key)
			       ? jpath_walk(p, step + 1, json_object_get(node, s->key))
			       : NULL;
	case JS_INDEX: {
		if (!json_is_array(node))
			return NULL;
		long n = (long)json_array_size(node), i = s->index < 0 ? n + s->index : s->index;
		return i >= 0 && i < n ? jpath_walk(p, step + 1, json_array_get(node, (size_t)i))
				       : NULL;
	}
	case JS_ANY:
		if (json_is_array(node)) {
			for (size_t i = 0; i < json_array_size(node); i++) {
				json_t *m = jpath_walk(p, step + 1, json_array_get(node, i));
				if (m)
					return m;
			}
		} else if (json_is_object(node)) {
			const char *k;
			json_t *v;
			json_object_foreach(node, k, v) {
				json_t *m = jpath_walk(p, step + 1, v);
				if (m)
					return m;
			}
		}
		return NULL;
	}
	return NULL;
}

struct json_t *cmd_jpath_first(const struct cmd_jpath *p, struct json_t *doc)
{
	return doc ? jpath_walk(p, 0, doc) : NULL;
}

/* ---- word splitting ---------------------------------------------------- */

bool cmd_has_template(const char *text)
{
	return strstr(text, "{{") || strstr(text, "{%");
}

struct wbuf {
	char *s;
	size_t len, cap;
};

static int wbuf_add(struct wbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p)
			return -ENOMEM;
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

static int split_error(struct cmd_split_error *err, size_t off, unsigned word, const char *fmt,
		       ...) __attribute__((format(printf, 4, 5)));
static int split_error(struct cmd_split_error *err, size_t off, unsigned word, const char *fmt,
		       ...)
{
	va_list ap;
	err->offset = off;
	err->word = word;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A template tag starting at text[i] ("{{", "{%" or "{#"): the index just
 * past its end, or 0 when it is not closed. Jinja's string literals inside
 * {{ }} and {% %} may hold the closing characters. */
static size_t tag_end(const char *text, size_t i)
{
	char kind = text[i + 1];
	char close = kind == '{' ? '}' : kind;
	size_t j = i + 2;
	char quote = 0;
	for (; text[j]; j++) {
		char c = text[j];
		if (quote) {
			if (c == '\\' && text[j + 1])
				j++;
			else if (c == quote)
				quote = 0;
			continue;
		}
		if (kind != '#' && (c == '\'' || c == '"'))
			quote = c;
		else if (c == close && text[j + 1] == '}')
			return j + 2;
	}
	return 0;
}

static bool is_tag_start(const char *text, size_t i)
{
	return text[i] == '{' && (text[i + 1] == '{' || text[i + 1] == '%' || text[i + 1] == '#');
}

static void words_free(struct cmd_word *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(w[i].text);
		mqb_template_free(w[i].tpl);
	}
	free(w);
}

void cmd_line_fini(struct cmd_line *c)
{
	if (!c)
		return;
	words_free(c->words, c->n);
	c->words = NULL;
	c->n = 0;
}

/* The state of one split. */
struct splitter {
	const char *text;
	size_t i;                 /* where we are in text */
	struct cmd_word *words;
	size_t n, cap;
	struct wbuf b;            /* the word being read */
	bool in_word, tagged;
	struct cmd_split_error *err;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The word read so far becomes words[n]; one holding a tag is compiled. */
static int finish_word(struct splitter *s)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 8;
		struct cmd_word *nw = realloc(s->words, nc * sizeof *nw);
		if (!nw)
			return -ENOMEM;
		s->words = nw;
		s->cap = nc;
	}
	if (!s->b.s && wbuf_add(&s->b, "", 0))
		return -ENOMEM;
	struct cmd_word *w = &s->words[s->n++];
	size_t len = s->b.len;
	*w = (struct cmd_word){.text = s->b.s};
	s->b = (struct wbuf){0};
	bool tagged = s->tagged;
	s->in_word = s->tagged = false;
	if (!tagged)
		return 0;
	if (s->n == 1)
		return split_error(s->err, s->i, 1,
				   "the program (the first word) cannot be a template: name it "
				   "literally");
	struct mqb_tpl_error te;
	int rc = mqb_template_compile(w->text, len, &w->tpl, &te);
	if (rc == -EINVAL)
		return split_error(s->err, s->i, (unsigned)s->n,
				   "argument %zu: invalid template: %s (line %u, column %u of the "
				   "argument; a block must lie within one argument: quote it)",
				   s->n - 1, te.message, te.line, te.column);
	return rc;
}

/* Copy the template tag at text[i] verbatim. */
static int copy_tag(struct splitter *s)
{
	size_t j = tag_end(s->text, s->i);
	if (!j)
		return split_error(s->err, s->i, (unsigned)s->n + 1,
				   "unterminated template tag '%.2s'", s->text + s->i);
	int rc = wbuf_add(&s->b, s->text + s->i, j - s->i);
	s->tagged = true;
	s->i = j;
	return rc;
}

/* A quoted part, text[i] being its opening quote. */
static int quoted(struct splitter *s)
{
	const char *text = s->text;
	char q = text[s->i];
	size_t open = s->i++;
	unsigned wno = (unsigned)s->n + 1;
	int rc = 0;

	/* '' is an empty word, not nothing */
	if (!s->b.s && (rc = wbuf_add(&s->b, "", 0)))
		return rc;
	for (;;) {
		char d = text[s->i];
		if (!d)
			return split_error(s->err, open, wno, "unterminated %s quote",
					   q == '\'' ? "single" : "double");
		if (d == q) {
			s->i++;
			return 0;
		}
		if (is_tag_start(text, s->i)) {
			if ((rc = copy_tag(s)))
				return rc;
			continue;
		}
		if (q == '"' && d == '\\' && text[s->i + 1] && strchr("\"\\$`\n", text[s->i + 1])) {
			/* a backslash and newline join lines, as in a shell */
			if (text[s->i + 1] != '\n' && (rc = wbuf_add(&s->b, text + s->i + 1, 1)))
				return rc;
			s->i += 2;
			continue;
		}
		if (q == '"' && (d == '$' || d == '`'))
			return split_error(s->err, s->i, wno,
					   "'%c' inside double quotes: a command with templates "
					   "runs without a shell, so nothing would expand it; use "
					   "single quotes or a template",
					   d);
		if ((rc = wbuf_add(&s->b, &d, 1)))
			return rc;
		s->i++;
	}
}

/* One step outside quotes: a blank, a tag, a quote, a backslash or a
 * plain character. */
static int step(struct splitter *s)
{
	const char *text = s->text;
	char c = text[s->i];
	if (is_blank(c)) {
		s->i++;
		return s->in_word ? finish_word(s) : 0;
	}
	bool word_start = !s->in_word;
	s->in_word = true;
	if (is_tag_start(text, s->i))
		return copy_tag(s);
	if (c == '\'' || c == '"')
		return quoted(s);
	if (c == '\\') {
		if (!text[s->i + 1])
			return split_error(s->err, s->i, (unsigned)s->n + 1,
					   "a backslash at the end of the command");
		int rc = 0;
		if (text[s->i + 1] == '\n')
			s->in_word = !word_start; /* a line continuation joins */
		else
			rc = wbuf_add(&s->b, text + s->i + 1, 1);
		s->i += 2;
		return rc;
	}
	if (strchr("|&;<>()`$", c) || (word_start && (c == '~' || c == '#')))
		return split_error(s->err, s->i, (unsigned)s->n + 1,
				   "unquoted '%c': a command with templates runs without a "
				   "shell, so it would reach the program as a plain argument; "
				   "quote it, or move the shell part into a script",
				   c);
	s->i++;
	return wbuf_add(&s->b, &c, 1);
}

int cmd_line_parse(const char *text, struct cmd_line *out, struct cmd_split_error *err)
{
	struct splitter s = {.text = text, .err = err};
	int rc = 0;

	memset(out, 0, sizeof *out);
	memset(err, 0, sizeof *err);
	while (!rc && text[s.i])
		rc = step(&s);
	if (!rc && s.in_word)
		rc = finish_word(&s);
	if (!rc && !s.n)
		rc = split_error(err, 0, 0, "the command is empty");
	if (rc) {
		if (rc == -ENOMEM)
			split_error(err, s.i, 0, "out of memory");
		free(s.b.s);
		words_free(s.words, s.n);
		return rc;
	}
	out->words = s.words;
	out->n = s.n;
	return 0;
}

void cmd_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

int cmd_line_argv(const struct cmd_line *c, cmd_render_fn render, void *ud, char ***argv,
		  unsigned *bad_word)
{
	char **v = calloc(c->n + 1, sizeof *v);
	int rc = 0;
	*argv = NULL;
	if (bad_word)
		*bad_word = 0;
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++) {
		const struct cmd_word *w = &c->words[i];
		if (!w->tpl) {
			if (!(v[i] = strdup(w->text))) {
				rc = -ENOMEM;
				break;
			}
			continue;
		}
		char *o = NULL;
		size_t len = 0;
		if ((rc = render(ud, (unsigned)i + 1, w->tpl, &o, &len)))
			break;
		/* an argument ends at its first NUL: refuse rather than cut */
		if (memchr(o, '\0', len)) {
			free(o);
			if (bad_word)
				*bad_word = (unsigned)i + 1;
			rc = -EILSEQ;
			break;
		}
		v[i] = o;
	}
	if (rc) {
		cmd_argv_free(v);
		return rc;
	}
	*argv = v;
	return 0;
}
