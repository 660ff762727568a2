/* SPDX-License-Identifier: MIT */
/* systemd's service notifications (sd_notify(3)), spoken directly: READY,
 * RELOADING, STOPPING, STATUS and the watchdog's keep-alive, each a
 * datagram to $NOTIFY_SOCKET. Without that variable every call does
 * nothing. */
#ifndef MQB_DAEMON_NOTIFY_H
#define MQB_DAEMON_NOTIFY_H

#include <stdbool.h>

struct mqb_core;

/* Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID and remove them from
 * the environment, so commands the daemon runs do not inherit them.
 * Thread: main, before any other thread exists (it changes the
 * environment). */
void notify__init(void);
/* Whether systemd listens (NOTIFY_SOCKET was set). Thread: any. */
bool notify__enabled(void);
/* Keep the watchdog fed from the loop (every half of WATCHDOG_USEC), so a
 * stalled loop is what systemd sees, and refresh STATUS= with what
 * status_line writes every few seconds while it changes. Thread: loop. */
void notify__async_start(struct mqb_core *core,
			 void (*status_line)(struct mqb_core *core, char *buf, unsigned len));
/* Thread: any. Each sends one datagram: READY=1 (with the STATUS= line);
 * STOPPING=1 when the shutdown begins. */
void notify__ready(void);
void notify__stopping(void);
/* What a reload calls as it begins (true: RELOADING=1 with
 * MONOTONIC_USEC=, as systemd 253's Type=notify-reload asks) and once
 * what was read is in force or refused (false: READY=1 again, if the
 * daemon had been ready). Thread: any. */
void notify__reloading(bool reloading);
/* STATUS=line, when it differs from the last one sent. Thread: any. */
void notify__status(const char *line);
/* Stop the timers and close the socket. Thread: loop. */
void notify__async_stop(struct mqb_core *core);

#endif
