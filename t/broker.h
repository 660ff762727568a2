/* SPDX-License-Identifier: MIT */
/* A real mosquitto for tests: started on a free port of 127.0.0.1 with its
 * own configuration file and log, stopped by its PID, its log dumped when a
 * test fails. Never a fixed port, never a mock broker. */
#ifndef MQB_T_BROKER_H
#define MQB_T_BROKER_H

#include <stdbool.h>
#include <sys/types.h>

struct tu_broker {
	pid_t pid;
	int port;
	char dir[64];       /* private temporary directory */
	char conf[96];
	char log[96];
	char extra[2048];   /* configuration lines added by the test */
};

/* Start a broker; extra (may be NULL) is appended to its configuration
 * (e.g. "password_file /path\n"; "%PORT%" in it becomes the port, for
 * another listener). The port is chosen free. Waits, bounded,
 * until it accepts connections. Fails the test on error. */
void tu_broker_start(struct tu_broker *b, const char *extra);
/* Start it again on the same port and configuration (after a kill). */
void tu_broker_restart(struct tu_broker *b);
/* SIGKILL, as a crash would. */
void tu_broker_kill(struct tu_broker *b);
/* SIGTERM and wait (bounded), keeping its files: a clean stop it can be
 * restarted from (with persistence, it saves its database). */
void tu_broker_term(struct tu_broker *b);
/* SIGTERM, wait (bounded), remove its files. */
void tu_broker_stop(struct tu_broker *b);
/* Print the broker's log to stderr (for failures). */
void tu_broker_dump_log(const struct tu_broker *b);
/* Wait until needle occurs at least count times in the log. */
bool tu_broker_log_wait(const struct tu_broker *b, const char *needle, int count, double timeout);
int tu_broker_log_count(const struct tu_broker *b, const char *needle);
/* A path inside the broker's directory (for password files, certificates). */
void tu_broker_path(const struct tu_broker *b, const char *name, char *out, size_t outlen);

/* A free TCP port on 127.0.0.1 (bind to port 0, read it back). */
int tu_free_port(void);

#endif
