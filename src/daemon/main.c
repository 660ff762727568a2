/* SPDX-License-Identifier: MIT */
/* mqbridge: the daemon's entry point. Its order is the start-up order:
 * arguments, options from the configuration file (--check-config stops
 * there), log, core and pool, signals, pid file, then the daemon itself
 * (daemon.c: MQTT, entities, bridge, platforms), the loop. man/mqbridge.8
 * is the contract for what it accepts and how it exits. */
#include "lib/internal.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ev.h>

#include "core/loop.h"
#include "daemon/daemon.h"
#include "daemon/dryrun.h"
#include "daemon/notify.h"
#include "daemon/options.h"
#include "daemon/pidfile.h"
#include "daemon/reload.h"
#include "daemon/status.h"
#include "ha/bridge.h"
#include "mqbridge/bus.h"
#include "mqbridge/core.h"
#include "mqbridge/error.h"
#include "mqbridge/log.h"
#include "mqbridge/mqtt.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/mqbridge/mqbridge.yaml"
#ifndef PLATFORMDIR
#define PLATFORMDIR "/usr/local/lib/mqbridge/platforms"
#endif

/* 0 is a clean stop; EXIT_CONFIG is sysexits.h's EX_CONFIG. */
enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_CONFIG = 78 };

struct args {
	const char *config;
	bool check_config;
	bool test;                      /* --test: poll once, print the states */
	bool have_level;
	enum mqb_log_level level;
	int verbosity;                  /* each -v one up, each -q one down */
	const char *log_file;           /* NULL: stderr; "syslog" */
	const char **platform_dirs;     /* for the platform loader, in order given */
	size_t n_platform_dirs;
	const char *pid_file;
};

static void usage(FILE *to)
{
	fprintf(to,
		"Usage: mqbridge [OPTIONS]\n"
		"Home Assistant's integration core, with MQTT at its centre: a daemon\n"
		"that bridges sensors, switches and commands to an MQTT broker.\n"
		"\n"
		"  -c, --config FILE        configuration file\n"
		"                           (default " DEFAULT_CONFIG ")\n"
		"  -C, --check-config       validate the configuration, print every error, exit;\n"
		"                           with -v, also list what it would create\n"
		"      --test               set up without a broker, poll every polled entity\n"
		"                           once, print every entity's state, exit\n"
		"  -l, --log-level LEVEL    debug, info, warning or error (overrides the file)\n"
		"  -v, --verbose            log one level more (repeatable)\n"
		"  -q, --quiet              log one level less (repeatable)\n"
		"  -L, --log-file FILE      log to FILE (reopened on SIGHUP), or to syslog if\n"
		"                           FILE is \"syslog\"\n"
		"  -P, --platform-dir DIR   load integrations from DIR (repeatable)\n"
		"  -p, --pid-file FILE      write the process id to FILE\n"
		"  -V, --version            print the version and exit\n"
		"  -h, --help               print this help and exit\n"
		"\n"
		"Exit status: 0 clean stop, 1 runtime failure, 2 usage error,\n"
		"78 configuration error. See mqbridge(8) and mqbridge.yaml(5).\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("mqbridge: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\nTry 'mqbridge --help' for more information.\n", stderr);
	va_end(ap);
	return EXIT_USAGE;
}

/* -1 to go on, or the exit code. */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "log-file", required_argument, NULL, 'L' },
		{ "platform-dir", required_argument, NULL, 'P' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "test", no_argument, NULL, 'T' },
		{ 0 },
	};
	a->config = DEFAULT_CONFIG;
	opterr = 0; /* our own messages, without argv[0]'s path */
	int c;
	while ((c = getopt_long(argc, argv, ":c:Cl:vqL:P:p:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->config = optarg;
			break;
		case 'C':
			a->check_config = true;
			break;
		case 'T': /* --test only: no short option, as telegraf */
			a->test = true;
			break;
		case 'l':
			if (mqb_log_level_parse(optarg, &a->level))
				return usage_error("--log-level: '%s' is not one of debug, info, "
						   "warning, error", optarg);
			a->have_level = true;
			break;
		case 'v':
			a->verbosity++;
			break;
		case 'q':
			a->verbosity--;
			break;
		case 'L':
			if (!*optarg)
				return usage_error("--log-file: empty file name");
			a->log_file = optarg;
			break;
		case 'P': {
			struct stat st;
			if (stat(optarg, &st) < 0)
				return usage_error("--platform-dir: '%s': %s", optarg, strerror(errno));
			if (!S_ISDIR(st.st_mode))
				return usage_error("--platform-dir: '%s' is not a directory", optarg);
			const char **v = mqb__realloc(a->platform_dirs,
						      (a->n_platform_dirs + 1) * sizeof *v);
			if (!v) {
				fprintf(stderr, "mqbridge: out of memory\n");
				return EXIT_RUNTIME;
			}
			v[a->n_platform_dirs++] = optarg;
			a->platform_dirs = v;
			break;
		}
		case 'p':
			if (!*optarg)
				return usage_error("--pid-file: empty file name");
			a->pid_file = optarg;
			break;
		case 'V':
			printf("mqbridge %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default: /* optopt: a known option given what it does not take */
			if (optopt && strncmp(argv[optind - 1], "--", 2) == 0)
				return usage_error("option '%s' takes no argument", argv[optind - 1]);
			if (optopt)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return -1;
}

/* 0, or the exit code: every error is printed, each as
 * file:line:column: path: message. */
static int load_options(const struct args *a, struct daemon_options *opts)
{
	struct mqb_conf_errors errs;
	mqb_conf_errors_init(&errs);
	int rc = options__load(a->config, opts, &errs);
	if (rc) {
		if (errs.n)
			mqb_conf_errors_print(&errs, stderr);
		else
			fprintf(stderr, "mqbridge: %s: %s\n", a->config, mqb_strerror(rc));
	}
	mqb_conf_errors_fini(&errs);
	if (rc == -ENOMEM)
		return EXIT_RUNTIME;
	return rc ? EXIT_CONFIG : 0;
}

/* The command line's level overrides the file's; -v and -q move from it. */
static enum mqb_log_level log_level(const struct args *a, const struct daemon_options *opts)
{
	int level = a->have_level ? (int)a->level
		  : opts->have_log_level ? (int)opts->log_level : (int)MQB_LOG_INFO;
	level -= a->verbosity;
	if (level < (int)MQB_LOG_DEBUG)
		level = MQB_LOG_DEBUG;
	if (level > (int)MQB_LOG_ERROR)
		level = MQB_LOG_ERROR;
	return (enum mqb_log_level)level;
}

/* -C -v and --test print on stdout; the log (stderr) says only what
 * went wrong unless asked for more: -C's first -v is the listing. */
static enum mqb_log_level dry_log_level(const struct args *a)
{
	int level = a->have_level ? (int)a->level : (int)MQB_LOG_WARNING;
	level -= a->verbosity - (a->check_config && !a->test && a->verbosity > 0);
	if (level < (int)MQB_LOG_DEBUG)
		level = MQB_LOG_DEBUG;
	if (level > (int)MQB_LOG_ERROR)
		level = MQB_LOG_ERROR;
	return (enum mqb_log_level)level;
}

/* Lines go to a file or syslog, not (only) to stderr. */
static bool log_elsewhere;

/* A start-up failure once the log may be elsewhere: the person starting
 * the daemon sees it on stderr, and the log has it too. */
static void startup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void startup_error(const char *fmt, ...)
{
	char msg[512], shown[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "mqbridge: %s\n", mqb__secret_redact(msg, shown, sizeof shown));
	if (log_elsewhere)
		MQB_LOG_ERROR("main", "%s", msg);
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	MQB_LOG_INFO("main", "%s: stopping", w->signum == SIGINT ? "SIGINT" : "SIGTERM");
	mqb_core_async_stop(w->data, 0);
}

/* Log rotation (the old file was renamed: write to a new one at the
 * path), and the configuration read again (reload.c). */
static void on_sighup(struct ev_loop *loop, ev_signal *w, int revents)
{
	int rc;
	if (!mqb_log_is_file())
		MQB_LOG_INFO("main", "SIGHUP: not logging to a file, nothing to reopen");
	else if ((rc = mqb_log_reopen()))
		MQB_LOG_WARNING("main", "cannot reopen the log file: %s; still writing to the old one",
				mqb_strerror(rc));
	else
		MQB_LOG_INFO("main", "log file reopened");
	if ((rc = reload__async_request(w->data, RELOAD_ALL, NULL, "SIGHUP", NULL)))
		MQB_LOG_ERROR("main", "SIGHUP: cannot reload: %s", mqb_strerror(rc));
}

/* A reload's log level: the command line's still wins over the file's. */
static void reload_log_levels(void *ud, const struct daemon_options *o)
{
	enum mqb_log_level before = mqb_log_get_level(), now = log_level(ud, o);
	mqb_log_set_level(now);
	static const char *const names[] = {"debug", "info", "warning", "error"};
	if (now != before)
		MQB_LOG_WARNING("main", "log level now %s", names[now]);
}

/* A status dump in the log; the signal's default would end the process. */
static void on_sigusr1(struct ev_loop *loop, ev_signal *w, int revents)
{
	int rc = status__async_dump(w->data);
	if (rc)
		MQB_LOG_WARNING("main", "SIGUSR1: no status dump: %s", mqb_strerror(rc));
}

/* ---- readiness, for systemd ------------------------------------------------ */

/* Ready once every integration is set up and, with a broker, once
 * connected and everything announced: what a unit ordered after ours may
 * count on. */
static struct {
	bool started, ready;
} readiness;

static void check_ready(struct mqb_core *core)
{
	bool mqtt = mqb_mqtt_async_stats(core, &(struct mqb_mqtt_stats){0}) == 0;
	if (readiness.ready || !readiness.started || (mqtt && !bridge__async_announced(core)))
		return;
	readiness.ready = true;
	notify__ready();
	MQB_LOG_DEBUG("main", "ready%s", notify__enabled() ? " (systemd told)" : "");
}

static void on_announced(void *core)
{
	check_ready(core);
}

static int on_started(void *ud, void *arg, void **result)
{
	readiness.started = true;
	check_ready(ud);
	return 0;
}

static int on_stopping(void *ud, void *arg, void **result)
{
	notify__stopping();
	return 0;
}

/* libev aborts on a system call it cannot do without (creating its
 * eventfd, for one, with every descriptor taken): say what failed and exit
 * as any other runtime failure, not with a core dump. */
static void __attribute__((noreturn)) loop_failed(const char *msg)
{
	startup_error("the event loop failed: %s: %s", msg, strerror(errno));
	mqb_log_close();
	_exit(EXIT_RUNTIME);
}

int main(int argc, char **argv)
{
	struct args args = { 0 };
	struct daemon_options opts = { 0 };
	struct mqb_core *core = NULL;
	struct pidfile *pidfile = NULL;
	ev_signal sig[4];
	bool have_opts = false, have_signals = false;
	int rc;

	mqb__alloc_init();
#ifdef MQB_DEBUG
	/* Tests only (t/faults/test_alloc): fail allocations on purpose. */
	const char *alloc_test = getenv("MQB_TEST_ALLOC_FAIL");
	if (alloc_test && mqb__alloc_test(alloc_test)) {
		fprintf(stderr, "mqbridge: MQB_TEST_ALLOC_FAIL: '%s' is not N, sites or "
			"random:K:A:S\n", alloc_test);
		return EXIT_USAGE;
	}
#endif
	ev_set_syserr_cb(loop_failed);
	if ((rc = parse_args(argc, argv, &args)) >= 0)
		goto out;

	/* -P directories first, then the installed modules. */
	const char **dirs = mqb__realloc(args.platform_dirs,
					 (args.n_platform_dirs + 1) * sizeof *args.platform_dirs);
	if (!dirs) {
		fprintf(stderr, "mqbridge: out of memory\n");
		rc = EXIT_RUNTIME;
		goto out;
	}
	args.platform_dirs = dirs;
	dirs[args.n_platform_dirs] = PLATFORMDIR;
	options__set_platform_dirs(dirs, args.n_platform_dirs + 1);
	if ((rc = load_options(&args, &opts)))
		goto out;
	have_opts = true;
	if (args.check_config && !args.test && args.verbosity <= 0) {
		options__warn(&opts);
		printf("configuration OK\n");
		goto out;
	}
	if (args.check_config || args.test) {
		mqb_log_set_level(dry_log_level(&args));
		options__warn(&opts);
		rc = dryrun__run(&opts, args.config, args.test ? DRYRUN_TEST : DRYRUN_LIST, stdout);
		rc = rc == 0 ? 0 : rc == -EINVAL ? EXIT_CONFIG : EXIT_RUNTIME;
		goto out;
	}

	mqb_log_set_level(log_level(&args, &opts));
	for (size_t i = 0; i < opts.nlog_levels; i++)
		if (mqb_log_set_subsystem_level(opts.log_levels[i].subsystem,
						opts.log_levels[i].level))
			MQB_LOG_WARNING("main", "logger: too many subsystems with a level of "
				"their own; %s keeps the default", opts.log_levels[i].subsystem);
	if (args.log_file && (rc = mqb_log_open(args.log_file))) {
		fprintf(stderr, "mqbridge: --log-file: '%s': %s\n", args.log_file, mqb_strerror(rc));
		rc = EXIT_RUNTIME;
		goto out;
	}
	log_elsewhere = args.log_file != NULL;
	MQB_LOG_INFO("main", "mqbridge %s starting with %s", PACKAGE_VERSION, args.config);
	options__warn(&opts);

	/* Before any thread: it takes systemd's variables out of the
	 * environment the commands inherit. */
	notify__init();
	if ((rc = mqb_core_new(&opts.core, &core))) {
		startup_error("cannot start the core: %s", mqb_strerror(rc));
		rc = EXIT_RUNTIME;
		goto out;
	}
	/* Paho ignores SIGPIPE too; a closed stderr must not kill us either. */
	signal(SIGPIPE, SIG_IGN);
	struct ev_loop *loop = core__loop(core);
	ev_signal_init(&sig[0], on_stop_signal, SIGTERM);
	ev_signal_init(&sig[1], on_stop_signal, SIGINT);
	ev_signal_init(&sig[2], on_sighup, SIGHUP);
	ev_signal_init(&sig[3], on_sigusr1, SIGUSR1);
	for (int i = 0; i < 4; i++) {
		sig[i].data = core;
		ev_signal_start(loop, &sig[i]);
	}
	have_signals = true;

	/* After the signal watchers: once the file exists, SIGTERM stops us
	 * cleanly. Before platforms and MQTT: a second instance must not
	 * connect with the first one's client id. */
	if (args.pid_file) {
		pid_t holder;
		if ((rc = pidfile__create(args.pid_file, &pidfile, &holder))) {
			if (rc == -EEXIST && holder)
				startup_error("pid file %s is held by process %ld, which is running",
					      args.pid_file, (long)holder);
			else if (rc == -EEXIST)
				startup_error("pid file %s: another mqbridge is starting",
					      args.pid_file);
			else
				startup_error("pid file %s: %s", args.pid_file, mqb_strerror(rc));
			rc = EXIT_RUNTIME;
			goto out;
		}
	}

	for (size_t i = 0; i < args.n_platform_dirs; i++)
		MQB_LOG_DEBUG("main", "platform directory %s", args.platform_dirs[i]);

	/* Before the start, which may fire mqbridge_start, and while a
	 * failure still has nothing running to stop. */
	if ((rc = mqb_bus_async_listen(core, MQB_EVENT_START, &MQB_CALLBACK(on_started, core),
				       NULL)) ||
	    (rc = mqb_bus_async_listen(core, MQB_EVENT_STOP, &MQB_CALLBACK(on_stopping, core),
				       NULL))) {
		startup_error("cannot listen for start and stop: %s", mqb_strerror(rc));
		rc = EXIT_RUNTIME;
		goto out;
	}
	enum daemon_step failed;
	if ((rc = daemon__async_start(core, &opts, args.config, &failed))) {
		startup_error("cannot %s: %s", daemon__step_name(failed), mqb_strerror(rc));
		/* the options passed their checks, but the client may see more */
		rc = failed == DAEMON_MQTT && rc == -EINVAL ? EXIT_CONFIG : EXIT_RUNTIME;
		goto out;
	}

	reload__async_on_log_levels(core, reload_log_levels, &args);
	bridge__async_on_announced(core, on_announced, core);
	notify__async_start(core, status__async_line);

	MQB_LOG_INFO("main", "mqbridge %s running (pid %ld)", PACKAGE_VERSION, (long)getpid());
	rc = mqb_core_run(core);
	MQB_LOG_INFO("main", "stopped (exit code %d)", rc);
out:
	if (have_signals) {
		/* Stopping a watcher gives its signal back its default, which
		 * for these ends the process: a second SIGTERM (systemd's, a
		 * test's) arriving while the core is freed would make a clean
		 * stop look killed. Held, then ignored: the stop is under way. */
		sigset_t held;
		sigemptyset(&held);
		for (int i = 0; i < 4; i++)
			sigaddset(&held, sig[i].signum);
		sigprocmask(SIG_BLOCK, &held, NULL);
		notify__async_stop(core);
		for (int i = 0; i < 4; i++) {
			ev_signal_stop(core__loop(core), &sig[i]);
			signal(sig[i].signum, SIG_IGN);
		}
	}
	mqb_core_free(core);
	pidfile__remove(pidfile);
	if (have_opts)
		options__fini(&opts);
	mqb__free(args.platform_dirs);
	mqb_log_close();
	return rc;
}
