/* mqbridge: the daemon's entry point. Its order is the start-up order:
 * arguments, logging, the core, the loop; everything it calls is a function
 * the tests can call too. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ev.h>

#include "mqbridge/core.h"
#include "mqbridge/log.h"

enum { EXIT_USAGE = 2 };

static void usage(FILE *to)
{
	fprintf(to,
		"Usage: mqbridge [OPTIONS]\n"
		"Home Assistant's async integration core, with MQTT at its centre.\n"
		"\n"
		"  -l, --log-level LEVEL  debug, info, warning or error\n"
		"  -v, --verbose          one log level more\n"
		"  -q, --quiet            one log level less\n"
		"  -V, --version          print the version and exit\n"
		"  -h, --help             print this help and exit\n");
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct mqb_core *core = w->data;
	MQB_LOG_INFO("main", "signal %d: stopping", w->signum);
	mqb_core_async_stop(core, 0);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "log-level", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int level = MQB_LOG_INFO, c;
	while ((c = getopt_long(argc, argv, "l:vqVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': {
			enum mqb_log_level l;
			if (mqb_log_level_parse(optarg, &l)) {
				fprintf(stderr, "mqbridge: --log-level: '%s' is not one of debug, "
						"info, warning, error\n", optarg);
				return EXIT_USAGE;
			}
			level = (int)l;
			break;
		}
		case 'v':
			level = level > MQB_LOG_DEBUG ? level - 1 : level;
			break;
		case 'q':
			level = level < MQB_LOG_ERROR ? level + 1 : level;
			break;
		case 'V':
			printf("mqbridge %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mqbridge: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	mqb_log_set_level((enum mqb_log_level)level);

	struct mqb_core *core;
	int rc = mqb_core_new(NULL, &core);
	if (rc) {
		MQB_LOG_ERROR("main", "cannot start the core: %s", strerror(-rc));
		return 1;
	}
	ev_signal sigterm, sigint;
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	ev_signal_init(&sigint, on_signal, SIGINT);
	sigterm.data = sigint.data = core;
	ev_signal_start(mqb_core_async_loop(core), &sigterm);
	ev_signal_start(mqb_core_async_loop(core), &sigint);
	ev_unref(mqb_core_async_loop(core));
	ev_unref(mqb_core_async_loop(core));
	MQB_LOG_INFO("main", "mqbridge %s running", PACKAGE_VERSION);
	rc = mqb_core_run(core);
	ev_ref(mqb_core_async_loop(core));
	ev_ref(mqb_core_async_loop(core));
	ev_signal_stop(mqb_core_async_loop(core), &sigterm);
	ev_signal_stop(mqb_core_async_loop(core), &sigint);
	mqb_core_free(core);
	return rc;
}
