/* SPDX-License-Identifier: MIT */
/* The command line as a user meets it: the built mqbridge binary run as a
 * child process. --help against the man page, exit codes and where output
 * goes, --check-config, the pid file, signals and log reopening.
 *
 * Every wait is on a condition with a bound (the pid file holding the
 * child's pid, a line in the log, the child's exit), polled every 2 ms.
 * The binary is $MQBRIDGE, else $abs_top_builddir/mqbridge, else
 * $top_builddir/mqbridge, else ./mqbridge or ../mqbridge; the man page and
 * the example configuration are found through $srcdir (automake sets it),
 * else beside this file's source. The configuration keys the man page
 * documents are checked against the schema tables themselves. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "mqbridge/config.h"
#include "daemon/options.h"

extern char **environ;

#define MAXKIDS 4
#define WAIT 10.0 /* seconds: anything slower is a failure */

struct fx {
	char dir[64];            /* scratch directory, removed afterwards */
	char bin[PATH_MAX];
	pid_t kids[MAXKIDS];     /* still running: killed in teardown */
};

struct proc {
	pid_t pid;
	char out[PATH_MAX], err[PATH_MAX];
};

/* ---- helpers ------------------------------------------------------------ */

static bool executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static bool find_binary(char *out, size_t len)
{
	const char *env;
	if ((env = getenv("MQBRIDGE")) && executable(env)) {
		snprintf(out, len, "%s", env);
		return true;
	}
	const char *dirs[] = { getenv("abs_top_builddir"), getenv("top_builddir"), ".", ".." };
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		if (!dirs[i])
			continue;
		snprintf(out, len, "%s/mqbridge", dirs[i]);
		if (executable(out))
			return true;
	}
	return false;
}

/* A man page as this build made it from man/NAME.in, with its paths. */
static void built_man_page(char *out, size_t len, const char *rel)
{
	const char *b = getenv("abs_top_builddir");
	snprintf(out, len, "%s/%s", b ? b : ".", rel);
}

/* A file of the source tree: $srcdir/rel, else relative to this file. */
static void source_file(char *out, size_t len, const char *rel)
{
	const char *srcdir = getenv("srcdir");
	if (srcdir) {
		snprintf(out, len, "%s/%s", srcdir, rel);
		if (access(out, R_OK) == 0)
			return;
	}
	const char *me = __FILE__; /* ".../t/test_cli.c" */
	const char *slash = strrchr(me, '/');
	int dirlen = slash ? (int)(slash - me) : 1;
	snprintf(out, len, "%.*s/../%s", dirlen, slash ? me : ".", rel);
}

static void in_dir(const struct fx *fx, char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", fx->dir, name);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* The whole file, NUL-terminated ("" when missing); the caller frees. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	assert_non_null(buf);
	if (f) {
		size_t n;
		while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
			len += n;
			if (cap - len < 2) {
				buf = realloc(buf, cap *= 2);
				assert_non_null(buf);
			}
		}
		fclose(f);
	}
	buf[len] = 0;
	return buf;
}

static bool file_contains(const char *path, const char *needle)
{
	char *s = slurp(path);
	bool found = strstr(s, needle) != NULL;
	free(s);
	return found;
}

static void track(struct fx *fx, pid_t pid, bool add)
{
	for (int i = 0; i < MAXKIDS; i++) {
		if (add ? fx->kids[i] == 0 : fx->kids[i] == pid) {
			fx->kids[i] = add ? pid : 0;
			return;
		}
	}
	if (add)
		fail_msg("too many child processes");
}

/* Start mqbridge with args (NULL-terminated), stdout and stderr to files
 * named after tag, default signal dispositions and an empty mask. */
static void start(struct fx *fx, struct proc *p, const char *tag, const char *const *args)
{
	char outname[64], errname[64];
	snprintf(outname, sizeof outname, "%s.out", tag);
	snprintf(errname, sizeof errname, "%s.err", tag);
	in_dir(fx, p->out, sizeof p->out, outname);
	in_dir(fx, p->err, sizeof p->err, errname);
	const char *argv[32] = { fx->bin };
	size_t n = 1;
	for (; args[n - 1]; n++) {
		assert_true(n < 31);
		argv[n] = args[n - 1];
	}
	argv[n] = NULL;

	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t def, empty;
	sigemptyset(&empty);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGHUP);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, p->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, p->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setsigmask(&at, &empty);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	const char *run[40];
	tu_wrap_argv(argv, run, 40);
	int rc = posix_spawnp(&p->pid, run[0], &fa, &at, (char *const *)run, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		fail_msg("cannot run %s: %s", fx->bin, strerror(rc));
	track(fx, p->pid, true);
}

static void pause_2ms(void)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

/* The exit status; -1 if still running after timeout (it is then killed),
 * 128 + signal if a signal ended it. */
static int finish(struct fx *fx, struct proc *p, double timeout)
{
	double end = tu_now() + timeout;
	int status;
	for (;;) {
		pid_t r = waitpid(p->pid, &status, WNOHANG);
		if (r == p->pid)
			break;
		assert_int_equal(r, 0);
		if (tu_now() > end) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &status, 0);
			track(fx, p->pid, false);
			return -1;
		}
		pause_2ms();
	}
	track(fx, p->pid, false);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Run to completion; the exit status, with stdout and stderr in *out and
 * *err (the caller frees). */
static int run(struct fx *fx, const char *tag, const char *const *args, char **out, char **err)
{
	struct proc p;
	start(fx, &p, tag, args);
	int rc = finish(fx, &p, WAIT);
	*out = slurp(p.out);
	*err = slurp(p.err);
	if (rc == -1)
		fail_msg("mqbridge %s did not exit within %.0f s; stderr: %s", args[0] ? args[0] : "",
			 WAIT, *err);
	return rc;
}

/* Wait until path holds exactly "<pid>\n", as long as p runs. */
static void wait_pid_file(struct proc *p, const char *path)
{
	char want[32];
	snprintf(want, sizeof want, "%ld\n", (long)p->pid);
	double end = tu_now() + WAIT;
	for (;;) {
		char *s = slurp(path);
		bool ok = strcmp(s, want) == 0;
		free(s);
		if (ok)
			return;
		if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
			char *err = slurp(p->err);
			fail_msg("mqbridge exited before writing %s; stderr: %s", path, err);
		}
		if (tu_now() > end)
			fail_msg("%s did not come to hold %ld within %.0f s", path, (long)p->pid, WAIT);
		pause_2ms();
	}
}

static void wait_contains(struct proc *p, const char *path, const char *needle)
{
	double end = tu_now() + WAIT;
	while (!file_contains(path, needle)) {
		if (tu_now() > end) {
			char *s = slurp(path);
			fail_msg("%s never contained '%s'; it holds:\n%s", path, needle, s);
		}
		pause_2ms();
	}
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* A configuration without mqtt:, so nothing connects to a broker. */
static const char quiet_config[] =
	"mqbridge:\n"
	"  node_id: clitest\n"
	"  name: CLI test\n"
	"  executor_threads: 2\n";

static void quiet_config_path(struct fx *fx, char *out, size_t len)
{
	in_dir(fx, out, len, "quiet.yaml");
	if (!exists(out))
		write_file(out, quiet_config);
}

/* ---- fixture ------------------------------------------------------------ */

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);
	assert_non_null(fx);
	if (!find_binary(fx->bin, sizeof fx->bin))
		fail_msg("mqbridge binary not found: set MQBRIDGE or abs_top_builddir, or run "
			 "from the build directory");
	snprintf(fx->dir, sizeof fx->dir, "/tmp/mqbt-cli-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	for (int i = 0; i < MAXKIDS; i++) {
		if (fx->kids[i]) {
			kill(fx->kids[i], SIGKILL);
			waitpid(fx->kids[i], NULL, 0);
		}
	}
	/* Only files this test made: a flat directory. */
	DIR *d = opendir(fx->dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				char path[PATH_MAX];
				in_dir(fx, path, sizeof path, e->d_name);
				unlink(path);
			}
		}
		closedir(d);
	}
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* ---- options, output, exit codes ----------------------------------------- */

struct optset {
	char names[64][32];
	int n;
};

static void optset_add(struct optset *s, const char *name, size_t len)
{
	char buf[32];
	if (len >= sizeof buf)
		len = sizeof buf - 1;
	memcpy(buf, name, len);
	buf[len] = 0;
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->names[i], buf) == 0)
			return;
	assert_true(s->n < 64);
	strcpy(s->names[s->n++], buf);
}

static bool optset_has(const struct optset *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return true;
	return false;
}

/* --help: the option column of lines that start with "  -": "-c, --config";
 * or with "      --", a long option alone: "--test". */
static void help_options(const char *help, struct optset *s)
{
	for (const char *line = help; line && *line; line = strchr(line, '\n'), line += !!line) {
		if (strncmp(line, "  -", 3) != 0 && strncmp(line, "      --", 8) != 0)
			continue;
		const char *p = line + strspn(line, " ");
		while (*p == '-') {
			size_t len = strcspn(p, ", \n");
			optset_add(s, p, len);
			p += len;
			if (strncmp(p, ", ", 2) != 0)
				break;
			p += 2;
		}
	}
}

/* The man page: each ".It Fl x , Fl \-long ..." of the options list;
 * "\-" is a hyphen, and Fl adds one. */
static void man_options(const char *man, struct optset *s)
{
	for (const char *line = man; line && *line; line = strchr(line, '\n'), line += !!line) {
		if (strncmp(line, ".It Fl ", 7) != 0)
			continue;
		const char *eol = strchr(line, '\n');
		size_t linelen = eol ? (size_t)(eol - line) : strlen(line);
		for (const char *p = line; (p = strstr(p, "Fl ")) && p < line + linelen;) {
			p += 3;
			char name[32] = "-";
			size_t k = 1;
			while (p < line + linelen && *p != ' ' && k < sizeof name - 1) {
				if (p[0] == '\\' && p[1] == '-') {
					name[k++] = '-';
					p += 2;
				} else {
					name[k++] = *p++;
				}
			}
			optset_add(s, name, k);
		}
	}
}

static void help_and_man_page_list_the_same_options(void **state)
{
	struct fx *fx = *state;
	char *out, *err;
	assert_int_equal(run(fx, "help", (const char *[]){ "--help", NULL }, &out, &err), 0);
	assert_string_equal(err, "");
	char manpath[PATH_MAX];
	built_man_page(manpath, sizeof manpath, "man/mqbridge.8");
	char *man = slurp(manpath);
	if (!*man)
		fail_msg("cannot read %s (set srcdir)", manpath);

	struct optset h = { 0 }, m = { 0 };
	help_options(out, &h);
	man_options(man, &m);
	assert_true(h.n >= 20); /* ten options, each short and long */
	for (int i = 0; i < h.n; i++)
		if (!optset_has(&m, h.names[i]))
			fail_msg("%s is in --help but not in man/mqbridge.8", h.names[i]);
	for (int i = 0; i < m.n; i++)
		if (!optset_has(&h, m.names[i]))
			fail_msg("%s is in man/mqbridge.8 but not in --help", m.names[i]);
	assert_int_equal(h.n, m.n);
	free(out);
	free(err);
	free(man);
}

static void version_prints_name_and_version_on_stdout(void **state)
{
	struct fx *fx = *state;
	char *out, *err;
	assert_int_equal(run(fx, "version", (const char *[]){ "--version", NULL }, &out, &err), 0);
	assert_string_equal(out, "mqbridge " PACKAGE_VERSION "\n");
	assert_string_equal(err, "");
	free(out);
	free(err);
	assert_int_equal(run(fx, "V", (const char *[]){ "-V", NULL }, &out, &err), 0);
	assert_string_equal(out, "mqbridge " PACKAGE_VERSION "\n");
	free(out);
	free(err);
}

static void bad_log_level_exits_2_with_the_reason_on_stderr_only(void **state)
{
	struct fx *fx = *state;
	char *out, *err;
	assert_int_equal(run(fx, "loud", (const char *[]){ "--log-level", "loud", NULL }, &out, &err),
			 2);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "loud"));
	assert_non_null(strstr(err, "debug, info, warning, error"));
	free(out);
	free(err);
}

static void unknown_option_or_stray_argument_exits_2(void **state)
{
	struct fx *fx = *state;
	const char *const cases[][3] = {
		{ "--no-such-option", NULL },
		{ "-x", NULL },
		{ "stray", NULL },
		{ "--help=yes", NULL },
		{ "--config", NULL },      /* missing its argument */
		{ "-P", "/nonexistent/mqbridge-platforms", NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *out, *err;
		int rc = run(fx, "usage", cases[i], &out, &err);
		if (rc != 2)
			fail_msg("mqbridge %s: exit %d, expected 2", cases[i][0], rc);
		assert_string_equal(out, "");
		assert_non_null(strstr(err, "mqbridge: "));
		free(out);
		free(err);
	}
}

/* ---- --check-config ------------------------------------------------------- */

static void check_config_accepts_a_good_file(void **state)
{
	struct fx *fx = *state;
	char conf[PATH_MAX], *out, *err;
	quiet_config_path(fx, conf, sizeof conf);
	int rc = run(fx, "check", (const char *[]){ "-C", "-c", conf, NULL }, &out, &err);
	if (rc != 0)
		fail_msg("exit %d; stderr: %s", rc, err);
	assert_string_equal(out, "configuration OK\n");
	/* Nothing on stderr, but the warning that we run as root (issue 12). */
	if (geteuid() == 0)
		assert_true(strstr(err, "warning [main] running as root") && !strchr(err, '\n')[1]);
	else
		assert_string_equal(err, "");
	free(out);
	free(err);
}

/* Every error, each as file:line:column (1-based), and nothing on stdout. */
static void check_config_reports_every_error_with_file_line_and_column(void **state)
{
	struct fx *fx = *state;
	char conf[PATH_MAX], *out, *err;
	in_dir(fx, conf, sizeof conf, "bad.yaml");
	write_file(conf, "mqbridge:\n"
			 "  node_id: clitest\n"
			 "  no_such_key: 1\n"
			 "  executor_threads: many\n");
	int rc = run(fx, "check", (const char *[]){ "--check-config", "--config", conf, NULL },
		     &out, &err);
	if (rc != 78)
		fail_msg("exit %d, expected 78; stderr: %s", rc, err);
	assert_string_equal(out, "");
	char where[PATH_MAX + 16];
	snprintf(where, sizeof where, "%s:3:3: ", conf);
	if (!strstr(err, where))
		fail_msg("no error at %s in:\n%s", where, err);
	snprintf(where, sizeof where, "%s:4:", conf);
	if (!strstr(err, where))
		fail_msg("no error on line 4 in:\n%s", err);
	/* Every line has the form. */
	size_t flen = strlen(conf);
	for (const char *line = err; *line; line = strchr(line, '\n') + 1) {
		unsigned l, c;
		char colon;
		if (strncmp(line, conf, flen) != 0 ||
		    sscanf(line + flen, ":%u:%u%c", &l, &c, &colon) != 3 || colon != ':' || !l || !c)
			fail_msg("not file:line:column: %.*s", (int)strcspn(line, "\n"), line);
		if (!strchr(line, '\n'))
			break;
	}
	free(out);
	free(err);
}

/* A main file copied from Home Assistant: its own integrations are
 * named once in a warning, and the check passes (DESIGN §7). */
static void check_config_warns_once_of_home_assistant_integrations(void **state)
{
	struct fx *fx = *state;
	char conf[PATH_MAX], *out, *err;
	in_dir(fx, conf, sizeof conf, "ha.yaml");
	write_file(conf, "recorder:\n"
			 "  purge_keep_days: 7\n"
			 "frontend:\n"
			 "logger:\n"
			 "  default: info\n"
			 "  logs: {mqbridge.mqtt: debug}\n"
			 "recorder 2: {}\n");
	int rc = run(fx, "check", (const char *[]){ "-C", "-c", conf, NULL }, &out, &err);
	if (rc != 0)
		fail_msg("exit %d; stderr: %s", rc, err);
	assert_string_equal(out, "configuration OK\n");
	char want[2 * PATH_MAX + 160];
	snprintf(want, sizeof want,
		 " [main] skipped, as mqbridge does not have them: recorder (%s:1:1), "
		 "frontend (%s:3:1)\n",
		 conf, conf);
	if (!strstr(err, want))
		fail_msg("no '%s' in:\n%s", want, err);
	assert_null(strstr(strstr(err, want) + strlen(want), "skipped, as")); /* once */
	free(out);
	free(err);
}

static void check_config_of_a_missing_file_exits_78(void **state)
{
	struct fx *fx = *state;
	char conf[PATH_MAX], *out, *err;
	in_dir(fx, conf, sizeof conf, "missing.yaml");
	assert_int_equal(run(fx, "check", (const char *[]){ "-C", "-c", conf, NULL }, &out, &err),
			 78);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "missing.yaml"));
	free(out);
	free(err);
}

/* Every configuration shipped in conf/ (the installed example, demos) must
 * pass --check-config. */
static void every_configuration_in_conf_passes_check_config(void **state)
{
	struct fx *fx = *state;
	char dir[PATH_MAX];
	source_file(dir, sizeof dir, "conf");
	DIR *d = opendir(dir);
	assert_non_null(d);
	int checked = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
			continue;
		char conf[2 * PATH_MAX], *out, *err;
		snprintf(conf, sizeof conf, "%s/%s", dir, e->d_name);
		/* the modules beside the binary (the build tree's platforms/) */
		char pdir[PATH_MAX + 16];
		snprintf(pdir, sizeof pdir, "%s", fx->bin);
		char *slash = strrchr(pdir, '/');
		snprintf(slash ? slash + 1 : pdir, sizeof pdir - (size_t)(slash ? slash + 1 - pdir : 0),
			 "platforms");
		int rc = run(fx, "check", (const char *[]){ "-C", "-c", conf, "-P", pdir, NULL },
			     &out, &err);
		if (rc != 0)
			fail_msg("%s: exit %d; stderr:\n%s", conf, rc, err);
		assert_string_equal(out, "configuration OK\n");
		free(out);
		free(err);
		checked++;
	}
	closedir(d);
	assert_true(checked >= 1); /* at least the installed example */
}

/* ---- -C -v and --test: set up without a broker ------------------------------- */

/* The modules beside the binary (the build tree's platforms/). */
static void platform_dir(const struct fx *fx, char *out, size_t len)
{
	snprintf(out, len, "%s", fx->bin);
	char *slash = strrchr(out, '/');
	snprintf(slash ? slash + 1 : out, len - (size_t)(slash ? slash + 1 - out : 0), "platforms");
}

/* A broker nobody answers: a listening socket whose backlog shows whether
 * anything tried to connect. Its port in *port. */
static int silent_broker(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Nothing connected to it (the process that could have has exited). */
static void expect_no_connection(int fd)
{
	fcntl(fd, F_SETFL, O_NONBLOCK);
	int c = accept(fd, NULL, NULL);
	if (c >= 0)
		fail_msg("something connected to the broker");
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	close(fd);
}

static void expect_line(const char *out, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return;
	fail_msg("no line\n  %s\nin\n%s", line, out);
}

/* Where line begins in out (failing when it is not there). */
static size_t line_at(const char *out, const char *prefix)
{
	const char *p = strstr(out, prefix);
	if (!p)
		fail_msg("nothing starting '%s' in\n%s", prefix, out);
	return (size_t)(p - out);
}

/* What a configuration makes, in every group: an MQTT sensor and switch
 * (the device's topics), a polled command_line sensor, helpers, two
 * automations and a script. */
static void write_objects_config(struct fx *fx, char *conf, size_t len, int port,
				 const char *extra)
{
	char text[16384];
	in_dir(fx, conf, len, "objects.yaml");
	snprintf(text, sizeof text,
		 "mqbridge: {node_id: garage, executor_threads: 2, state_dir: %s/state}\n"
		 "mqtt:\n"
		 "  broker: 127.0.0.1\n"
		 "  port: %d\n"
		 "  sensor:\n"
		 "    - {name: Outside, state_topic: weather/outside, unique_id: out1}\n"
		 "  switch:\n"
		 "    - {name: Fan, command_topic: fan/set, state_topic: fan/state}\n"
		 "sensor:\n"
		 "  - platform: command_line\n"
		 "    name: CPU temp\n"
		 "    command: echo 42\n"
		 "    scan_interval: 30\n"
		 "input_boolean:\n"
		 "  porch: {name: Porch}\n"
		 "counter:\n"
		 "  visits: {initial: 3}\n"
		 "automation:\n"
		 "  - id: a1\n"
		 "    alias: Porch light\n"
		 "    triggers:\n"
		 "      - {trigger: state, entity_id: input_boolean.porch}\n"
		 "      - {platform: time, at: \"07:00\"}\n"
		 "    actions: []\n"
		 "  - alias: At start\n"
		 "    trigger: {platform: homeassistant, event: start}\n"
		 "    action: {service: input_boolean.turn_on, target: {entity_id: input_boolean.porch}}\n"
		 "script:\n"
		 "  wake: {alias: Wake up, sequence: []}\n"
		 "%s",
		 fx->dir, port, extra ? extra : "");
	write_file(conf, text);
}

/* mqbridge -C -v: one line per object, grouped (bridge, entity, helper,
 * automation, script) and sorted by entity id within a group, on stdout;
 * no broker is contacted, no state file written, no automation run. */
static void check_config_verbose_lists_what_the_configuration_creates(void **state)
{
	struct fx *fx = *state;
	char conf[PATH_MAX], pdir[PATH_MAX], *out, *err;
	int port, lfd = silent_broker(&port);
	/* with the prometheus module, its port taken (by the running daemon,
	 * say): nothing set up and never started listens */
	char prom[PATH_MAX + 16], extra[64] = "";
	platform_dir(fx, pdir, sizeof pdir);
	snprintf(prom, sizeof prom, "%s/prometheus.so", pdir);
	if (access(prom, R_OK) == 0)
		snprintf(extra, sizeof extra, "prometheus: {server_port: %d}\n", port);
	write_objects_config(fx, conf, sizeof conf, port, extra);
	int rc = run(fx, "checkv", (const char *[]){ "-C", "-v", "-c", conf, "-P", pdir, NULL },
		     &out, &err);
	if (rc != 0)
		fail_msg("exit %d; stderr: %s", rc, err);
	if (strstr(err, "cannot listen"))
		fail_msg("something listened: %s", err);
	expect_no_connection(lfd);
	char want[512];
	snprintf(want, sizeof want, "bridge broker uri=tcp://127.0.0.1:%d client_id=mqbridge-garage",
		 port);
	expect_line(out, want);
	expect_line(out, "bridge status mqbridge/garage/status retained=true will=offline");
	expect_line(out, "bridge subscribe homeassistant/status why=home_assistant_birth");
	expect_line(out, "entity sensor.outside integration=mqtt unique_id=out1 "
			 "state_topic=weather/outside bridge_state=mqbridge/garage/sensor/outside/state "
			 "discovery=homeassistant/sensor/garage/outside/config");
	expect_line(out, "entity switch.fan integration=mqtt command_topic=fan/set "
			 "state_topic=fan/state bridge_state=mqbridge/garage/switch/fan/state "
			 "bridge_command=mqbridge/garage/switch/fan/set "
			 "discovery=homeassistant/switch/garage/fan/config");
	assert_non_null(strstr(out, "\nentity sensor.cpu_temp integration=command_line "
				    "scan_interval=30 "));
	assert_non_null(strstr(out, "\nhelper input_boolean.porch integration=input_boolean "
				    "bridge_state=mqbridge/garage/input_boolean/porch/state "));
	assert_non_null(strstr(out, " discovery=homeassistant/switch/garage/input_boolean_porch/config\n"));
	assert_non_null(strstr(out, "\nhelper counter.visits integration=counter "));
	assert_non_null(strstr(out, "\nautomation automation.porch_light integration=automation "
				    "unique_id=a1 alias=\"Porch light\" mode=single triggers=2 "
				    "trigger_kinds=state,time "));
	assert_non_null(strstr(out, "\nautomation automation.at_start integration=automation "
				    "alias=\"At start\" mode=single triggers=1 "
				    "trigger_kinds=homeassistant "));
	assert_non_null(strstr(out, "\nscript script.wake integration=script alias=\"Wake up\" "));
	/* grouped, and by id within a group */
	assert_true(line_at(out, "bridge broker") < line_at(out, "entity "));
	assert_true(line_at(out, "entity sensor.cpu_temp") < line_at(out, "entity sensor.outside"));
	assert_true(line_at(out, "entity sensor.outside") < line_at(out, "entity switch.fan"));
	assert_true(line_at(out, "entity switch.fan") < line_at(out, "helper counter.visits"));
	assert_true(line_at(out, "helper counter.visits") < line_at(out, "helper input_boolean"));
	assert_true(line_at(out, "helper input_boolean") < line_at(out, "automation automation.at"));
	assert_true(line_at(out, "automation automation.at") < line_at(out, "automation automation.p"));
	assert_true(line_at(out, "automation automation.p") < line_at(out, "script "));
	/* the bridge's diagnostic sensor is an entity too */
	/* and a count to end with */
	static const char last[] = "configuration OK: 4 entities, 2 helpers, 2 automations, "
				   "1 scripts\n";
	assert_true(strlen(out) > strlen(last));
	assert_string_equal(out + strlen(out) - strlen(last), last);
	/* no state file: the running daemon's is not to be touched */
	char path[PATH_MAX];
	in_dir(fx, path, sizeof path, "state");
	assert_false(exists(path));
	free(out);
	free(err);
}

/* With errors, -v changes nothing: every error, exit 78, nothing listed. */
static void check_config_verbose_with_errors_exits_78_and_lists_nothing(void **state)
{
	struct fx *fx = *state;
	char conf[PATH_MAX], pdir[PATH_MAX], *out, *err;
	write_objects_config(fx, conf, sizeof conf, 1, "timer:\n  t: {duration: soon}\n");
	platform_dir(fx, pdir, sizeof pdir);
	int rc = run(fx, "checkv", (const char *[]){ "-C", "-v", "-c", conf, "-P", pdir, NULL },
		     &out, &err);
	if (rc != 78)
		fail_msg("exit %d, expected 78; stderr: %s", rc, err);
	assert_string_equal(out, "");
	char where[PATH_MAX + 64];
	snprintf(where, sizeof where, "%s:31:17: timer.t.duration: ", conf);
	if (!strstr(err, where))
		fail_msg("no error at %s in:\n%s", where, err);
	free(out);
	free(err);
}

/* mqbridge --test: every polled entity polled once (the command appends
 * a line each time it runs), every entity's state and attributes printed,
 * nothing connected to the broker. */
static void test_polls_each_polled_entity_once_and_prints_every_state(void **state)
{
	struct fx *fx = *state;
	char conf[PATH_MAX], pdir[PATH_MAX], runs[PATH_MAX], extra[2 * PATH_MAX + 1024], *out, *err;
	int port, lfd = silent_broker(&port);
	in_dir(fx, runs, sizeof runs, "runs");
	snprintf(extra, sizeof extra,
		 "command_line:\n"
		 "  - sensor:\n"
		 "      name: Runs\n"
		 "      command: \"echo x >> %s; wc -l < %s\"\n"
		 "      scan_interval: 1\n"
		 "  - binary_sensor: {name: Door, command: echo ON, payload_on: \"ON\", payload_off: \"OFF\"}\n"
		 "  - switch: {name: Pump, command_on: \"true\", command_off: \"true\",\n"
		 "             command_state: echo 1, value_template: \"{{ value == '1' }}\"}\n"
		 "  - sensor:\n"
		 "      name: Weather\n"
		 "      command: \"echo '{\\\"sky\\\": \\\"partly cloudy\\\", \\\"uv\\\": 3}'\"\n"
		 "      value_template: \"{{ value_json.sky }}\"\n"
		 "      json_attributes: [uv]\n",
		 runs, runs);
	write_objects_config(fx, conf, sizeof conf, port, extra);
	platform_dir(fx, pdir, sizeof pdir);
	int rc = run(fx, "test", (const char *[]){ "--test", "-c", conf, "-P", pdir, NULL }, &out,
		     &err);
	if (rc != 0)
		fail_msg("exit %d; stderr: %s", rc, err);
	expect_no_connection(lfd);
	char *lines = slurp(runs);
	assert_string_equal(lines, "x\n");
	free(lines);
	expect_line(out, "sensor.runs 1 {\"friendly_name\":\"Runs\"}");
	expect_line(out, "sensor.cpu_temp 42 {\"friendly_name\":\"CPU temp\"}");
	expect_line(out, "binary_sensor.door on {\"friendly_name\":\"Door\"}");
	expect_line(out, "switch.pump on {\"friendly_name\":\"Pump\"}");
	expect_line(out, "sensor.weather \"partly cloudy\" {\"friendly_name\":\"Weather\",\"uv\":3}");
	/* pushed entities keep what they have; no automation ran */
	expect_line(out, "sensor.outside unknown {\"friendly_name\":\"Outside\"}");
	expect_line(out, "input_boolean.porch off {\"editable\":false,\"friendly_name\":\"Porch\"}");
	/* one line per entity, by id */
	assert_true(line_at(out, "automation.at_start ") < line_at(out, "binary_sensor.door "));
	assert_true(line_at(out, "sensor.weather ") < line_at(out, "switch.fan "));
	char path[PATH_MAX];
	in_dir(fx, path, sizeof path, "state");
	assert_false(exists(path));
	free(out);
	free(err);
}

/* A command that outlives its timeout ends the wait, not the test: the
 * entity keeps its state, and --test exits 0. */
static void test_waits_no_longer_than_a_commands_timeout(void **state)
{
	struct fx *fx = *state;
	char conf[PATH_MAX], pdir[PATH_MAX], *out, *err;
	write_objects_config(fx, conf, sizeof conf, 1,
			     "command_line:\n"
			     "  - sensor: {name: Slow, command: sleep 60, command_timeout: 1}\n");
	platform_dir(fx, pdir, sizeof pdir);
	double t0 = tu_now();
	int rc = run(fx, "test", (const char *[]){ "--test", "-c", conf, "-P", pdir, NULL }, &out,
		     &err);
	if (rc != 0)
		fail_msg("exit %d; stderr: %s", rc, err);
	assert_true(tu_now() - t0 < WAIT);
	expect_line(out, "sensor.slow unknown {\"friendly_name\":\"Slow\"}");
	free(out);
	free(err);
}

static void test_of_an_invalid_configuration_exits_78(void **state)
{
	struct fx *fx = *state;
	char conf[PATH_MAX], pdir[PATH_MAX], *out, *err;
	write_objects_config(fx, conf, sizeof conf, 1, "sensor 2:\n  - platform: nosuch\n");
	platform_dir(fx, pdir, sizeof pdir);
	int rc = run(fx, "test", (const char *[]){ "--test", "-c", conf, "-P", pdir, NULL }, &out,
		     &err);
	if (rc != 78)
		fail_msg("exit %d, expected 78; stderr: %s", rc, err);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "nosuch"));
	free(out);
	free(err);
}

/* ---- the running daemon ------------------------------------------------- */

static void pid_file_is_created_and_removed_and_sigterm_exits_0(void **state)
{
	struct fx *fx = *state;
	char conf[PATH_MAX], pidf[PATH_MAX];
	quiet_config_path(fx, conf, sizeof conf);
	in_dir(fx, pidf, sizeof pidf, "mqbridge.pid");
	struct proc p;
	start(fx, &p, "daemon", (const char *[]){ "-c", conf, "-p", pidf, NULL });
	wait_pid_file(&p, pidf);
	assert_int_equal(kill(p.pid, SIGTERM), 0);
	int rc = finish(fx, &p, WAIT);
	if (rc != 0) {
		char *err = slurp(p.err);
		fail_msg("exit %d after SIGTERM, expected 0; stderr:\n%s", rc, err);
	}
	assert_false(exists(pidf));
}

static void sigint_exits_0(void **state)
{
	struct fx *fx = *state;
	char conf[PATH_MAX], pidf[PATH_MAX];
	quiet_config_path(fx, conf, sizeof conf);
	in_dir(fx, pidf, sizeof pidf, "mqbridge.pid");
	struct proc p;
	start(fx, &p, "daemon", (const char *[]){ "-c", conf, "-p", pidf, "-q", NULL });
	wait_pid_file(&p, pidf);
	assert_int_equal(kill(p.pid, SIGINT), 0);
	assert_int_equal(finish(fx, &p, WAIT), 0);
	assert_false(exists(pidf));
}

static void second_instance_with_the_same_pid_file_is_refused(void **state)
{
	struct fx *fx = *state;
	char conf[PATH_MAX], pidf[PATH_MAX];
	quiet_config_path(fx, conf, sizeof conf);
	in_dir(fx, pidf, sizeof pidf, "mqbridge.pid");
	struct proc first;
	start(fx, &first, "first", (const char *[]){ "-c", conf, "-p", pidf, NULL });
	wait_pid_file(&first, pidf);

	char *out, *err;
	int rc = run(fx, "second", (const char *[]){ "-c", conf, "-p", pidf, NULL }, &out, &err);
	if (rc != 1)
		fail_msg("second instance: exit %d, expected 1; stderr:\n%s", rc, err);
	char running[64];
	snprintf(running, sizeof running, "held by process %ld, which is running",
		 (long)first.pid);
	if (!strstr(err, running))
		fail_msg("stderr does not say '%s':\n%s", running, err);
	free(out);
	free(err);
	/* The refused one left the file alone. */
	wait_pid_file(&first, pidf);

	assert_int_equal(kill(first.pid, SIGTERM), 0);
	assert_int_equal(finish(fx, &first, WAIT), 0);
	assert_false(exists(pidf));
}

static void stale_pid_file_is_replaced(void **state)
{
	struct fx *fx = *state;
	char conf[PATH_MAX], pidf[PATH_MAX];
	quiet_config_path(fx, conf, sizeof conf);
	in_dir(fx, pidf, sizeof pidf, "mqbridge.pid");
	/* A pid that is certainly gone: a child we reaped. */
	pid_t gone = fork();
	assert_true(gone >= 0);
	if (gone == 0)
		_exit(0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);
	char text[32];
	snprintf(text, sizeof text, "%ld\n", (long)gone);
	write_file(pidf, text);

	struct proc p;
	start(fx, &p, "daemon", (const char *[]){ "-c", conf, "-p", pidf, NULL });
	wait_pid_file(&p, pidf);
	assert_int_equal(kill(p.pid, SIGTERM), 0);
	assert_int_equal(finish(fx, &p, WAIT), 0);
	assert_false(exists(pidf));
}

/* Log rotation: rename the file, SIGHUP, and the next line is in a new
 * file at the original path (the handler itself logs one). */
static void sighup_reopens_the_log_file(void **state)
{
	struct fx *fx = *state;
	char conf[PATH_MAX], pidf[PATH_MAX], log[PATH_MAX], rotated[PATH_MAX];
	quiet_config_path(fx, conf, sizeof conf);
	in_dir(fx, pidf, sizeof pidf, "mqbridge.pid");
	in_dir(fx, log, sizeof log, "mqbridge.log");
	in_dir(fx, rotated, sizeof rotated, "mqbridge.log.1");
	struct proc p;
	start(fx, &p, "daemon", (const char *[]){ "-c", conf, "-p", pidf, "-L", log, NULL });
	wait_pid_file(&p, pidf);
	wait_contains(&p, log, "running");

	assert_int_equal(rename(log, rotated), 0);
	assert_int_equal(kill(p.pid, SIGHUP), 0);
	wait_contains(&p, log, "log file reopened");
	assert_false(file_contains(rotated, "log file reopened"));

	assert_int_equal(kill(p.pid, SIGTERM), 0);
	assert_int_equal(finish(fx, &p, WAIT), 0);
	assert_true(file_contains(log, "stopping"));
	assert_false(file_contains(rotated, "stopping"));
	/* Nothing went to stderr once the log was open. */
	char *err = slurp(p.err);
	assert_string_equal(err, "");
	free(err);
}

/* -l beats the file's log_level; -P is checked and logged at debug. */
static void command_line_log_level_overrides_the_file(void **state)
{
	struct fx *fx = *state;
	char conf[PATH_MAX], pidf[PATH_MAX], log[PATH_MAX];
	in_dir(fx, conf, sizeof conf, "errors-only.yaml");
	write_file(conf, "mqbridge:\n  node_id: clitest\n  log_level: error\n");
	in_dir(fx, pidf, sizeof pidf, "mqbridge.pid");
	in_dir(fx, log, sizeof log, "mqbridge.log");

	struct proc p;
	start(fx, &p, "daemon",
	      (const char *[]){ "-c", conf, "-p", pidf, "-L", log, "-l", "debug", "-P", fx->dir,
				NULL });
	wait_pid_file(&p, pidf);
	assert_int_equal(kill(p.pid, SIGTERM), 0);
	assert_int_equal(finish(fx, &p, WAIT), 0);
	char want[PATH_MAX + 32];
	snprintf(want, sizeof want, "platform directory %s", fx->dir);
	if (!file_contains(log, want)) {
		char *s = slurp(log);
		fail_msg("no '%s' at debug level in:\n%s", want, s);
	}

	/* The file's level alone: nothing below error is logged. */
	assert_int_equal(unlink(log), 0);
	start(fx, &p, "daemon", (const char *[]){ "-c", conf, "-p", pidf, "-L", log, NULL });
	wait_pid_file(&p, pidf);
	assert_int_equal(kill(p.pid, SIGTERM), 0);
	assert_int_equal(finish(fx, &p, WAIT), 0);
	char *s = slurp(log);
	assert_string_equal(s, "");
	free(s);
}

/* ---- man/mqbridge.yaml.5 against the schema tables ---------------------- */

/* One ".It Ic key : ..." item of the page: its keys (a comma list, as for
 * the MQTT domains) and the text up to the next item. */
struct man_item {
	char keys[8][40];
	int nkeys;
	const char *text, *end;
};

static int man_items(const char *man, const char *from, const char *to, struct man_item *v,
		     int max)
{
	const char *start = strstr(man, from), *stop = start ? strstr(start, to) : NULL;
	assert_non_null(start);
	assert_non_null(stop);
	int n = 0;
	for (const char *line = start; line < stop; line = strchr(line, '\n') + 1) {
		if (strncmp(line, ".It ", 4) == 0 && n > 0 && !v[n - 1].end)
			v[n - 1].end = line;
		if (strncmp(line, ".It Ic ", 7) != 0)
			continue;
		assert_true(n < max);
		struct man_item *it = &v[n++];
		memset(it, 0, sizeof *it);
		it->text = line;
		const char *p = line + 7;
		for (;;) {
			size_t len = strcspn(p, " \n");
			assert_true(len < sizeof it->keys[0] && it->nkeys < 8);
			memcpy(it->keys[it->nkeys], p, len);
			it->keys[it->nkeys++][len] = 0;
			p += len;
			if (strncmp(p, " , ", 3) != 0)
				break;
			p += 3;
		}
	}
	if (n > 0 && !v[n - 1].end)
		v[n - 1].end = stop;
	return n;
}

static const struct man_item *man_find(const struct man_item *v, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		for (int k = 0; k < v[i].nkeys; k++)
			if (strcmp(v[i].keys[k], key) == 0)
				return &v[i];
	return NULL;
}

static bool documented_here(const struct mqb_schema *s)
{
	return strcmp(s->name, "mqbridge") == 0 || strcmp(s->name, "mqtt") == 0 ||
	       strncmp(s->name, "mqtt.", 5) == 0 || strcmp(s->name, "homeassistant") == 0 ||
	       strcmp(s->name, "logger") == 0;
}

/* Every key of the mqbridge:, homeassistant:, logger: and mqtt: tables has an
 * item, with its default in it; every item is a key of the tables. */
static void man_page_documents_every_configuration_key(void **state)
{
	char manpath[PATH_MAX];
	built_man_page(manpath, sizeof manpath, "man/mqbridge.yaml.5");
	char *man = slurp(manpath);
	if (!*man)
		fail_msg("cannot read %s (set srcdir)", manpath);
	struct man_item items[64];
	int n = man_items(man, "\n.Sh THE MQBRIDGE BLOCK", "\n.Sh INTEGRATIONS", items, 64);

	const struct mqb_schema *const *all;
	size_t ns = options__schemas(&all), checked = 0;
	for (size_t i = 0; i < ns; i++) {
		if (!documented_here(all[i]))
			continue;
		for (size_t k = 0; k < all[i]->nkeys; k++) {
			const struct mqb_schema_key *key = &all[i]->keys[k];
			const struct man_item *it = man_find(items, n, key->key);
			if (!it)
				fail_msg("%s.%s is not in %s", all[i]->name, key->key, manpath);
			if (key->def) {
				char *text = strndup(it->text, (size_t)(it->end - it->text));
				bool found = strstr(text, key->def) != NULL;
				free(text);
				if (!found)
					fail_msg("%s.%s: the man page does not give its default '%s'",
						 all[i]->name, key->key, key->def);
			}
			checked++;
		}
	}
	assert_true(checked >= 20);
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < items[i].nkeys; k++) {
			bool known = false;
			for (size_t j = 0; j < ns && !known; j++)
				for (size_t m = 0; documented_here(all[j]) && m < all[j]->nkeys; m++)
					known |= strcmp(all[j]->keys[m].key, items[i].keys[k]) == 0;
			if (!known)
				fail_msg("%s documents '%s', which no table has", manpath,
					 items[i].keys[k]);
		}
	}
	free(man);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(help_and_man_page_list_the_same_options),
		T(version_prints_name_and_version_on_stdout),
		T(bad_log_level_exits_2_with_the_reason_on_stderr_only),
		T(unknown_option_or_stray_argument_exits_2),
		T(check_config_accepts_a_good_file),
		T(check_config_reports_every_error_with_file_line_and_column),
		T(check_config_warns_once_of_home_assistant_integrations),
	T(check_config_of_a_missing_file_exits_78),
		T(every_configuration_in_conf_passes_check_config),
		T(check_config_verbose_lists_what_the_configuration_creates),
		T(check_config_verbose_with_errors_exits_78_and_lists_nothing),
		T(test_polls_each_polled_entity_once_and_prints_every_state),
		T(test_waits_no_longer_than_a_commands_timeout),
		T(test_of_an_invalid_configuration_exits_78),
		T(pid_file_is_created_and_removed_and_sigterm_exits_0),
		T(sigint_exits_0),
		T(second_instance_with_the_same_pid_file_is_refused),
		T(stale_pid_file_is_replaced),
		T(sighup_reopens_the_log_file),
		T(command_line_log_level_overrides_the_file),
		T(man_page_documents_every_configuration_key),
#undef T
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
