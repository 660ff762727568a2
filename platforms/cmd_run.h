/* SPDX-License-Identifier: MIT */
/* Running the command_line integration's commands: a runner that starts a
 * command in its own session and process group with clean signal state,
 * captures bounded output and kills the whole group on a timeout; and the
 * word splitter that turns a command with templates into arguments, so a
 * template's output is always exactly one argument and never meets a shell
 * (DESIGN §5). Linked into platforms/command_line.so and t/test_cmd_run. */
#ifndef MQB_PLATFORMS_CMD_RUN_H
#define MQB_PLATFORMS_CMD_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct mqb_template;

/* Default bounds on what is kept of a command's output. */
#define CMD_MAX_STDOUT (64 * 1024)
#define CMD_MAX_STDERR (4 * 1024)

enum cmd_spawn {
	CMD_SPAWN_DEFAULT, /* posix_spawn where the C library can do all we ask, else fork */
	CMD_SPAWN_FORK,    /* fork and exec (the fallback; tests run both) */
};

struct cmd_spec {
	/* Exactly one of: shell, run as /bin/sh -c shell; or argv, a
	 * NULL-terminated vector whose argv[0] is looked up in PATH when it
	 * has no '/', run without a shell. Both borrowed. */
	const char *shell;
	char *const *argv;
	const char *cwd;        /* working directory; NULL: the daemon's */
	double timeout;         /* seconds; <= 0: no limit */
	size_t max_stdout;      /* 0: CMD_MAX_STDOUT */
	size_t max_stderr;      /* 0: CMD_MAX_STDERR */
	/* Asked about every 100 ms while the command runs (NULL: never); true
	 * kills the group as a timeout does. Thread: the runner's. */
	bool (*cancelled)(void *ud);
	void *cancel_ud;
	enum cmd_spawn spawn;
	/* Find the command's exit by asking every 100 ms, as on kernels
	 * without pidfd_open (tests run both ways). */
	bool no_pidfd;
	/* What the command reads on standard input (a notification's
	 * message), written as it reads; NULL: /dev/null. A command that
	 * exits without reading it all is no error. Borrowed. */
	const char *input;
	size_t input_len;
};

enum cmd_how {
	CMD_EXITED,    /* status: the exit code */
	CMD_SIGNALED,  /* status: the signal that ended it */
	CMD_TIMEOUT,   /* the group was killed when the time ran out */
	CMD_CANCELLED, /* the group was killed because cancelled() said so */
	CMD_NOT_RUN,   /* status: the errno that stopped it starting */
};

struct cmd_result {
	enum cmd_how how;
	int status;
	/* What the command wrote, NUL-terminated (may hold NULs of its own),
	 * at most the bound; *_truncated when it wrote more (the rest was
	 * read and dropped, so the command never blocks on a full pipe). */
	char *out, *err;
	size_t out_len, err_len;
	bool out_truncated, err_truncated;
	pid_t pid;              /* the command; also its process group's id */
	double seconds;         /* how long it ran */
};

/* Run spec to the end. 0 with *res filled (how says what happened; a
 * command that could not start is CMD_NOT_RUN, not an error); -EINVAL for
 * a bad spec; -ENOMEM or -errno when the runner itself could not work
 * (pipes, memory). The command gets /dev/null (or spec->input) on standard input, pipes on
 * standard output and error, no other descriptor of ours, every signal at
 * its default and none blocked, and a session of its own (setsid: no
 * controlling terminal), so that a timeout kills it and everything it
 * started with one kill(-pgid, SIGKILL), then reaps it. A command that
 * exits while its children still hold its output open is waited for until
 * they close it or the time runs out. Thread: any (blocks). */
int cmd_run(const struct cmd_spec *spec, struct cmd_result *res);
void cmd_result_fini(struct cmd_result *res); /* accepts NULL */

/* ---- a command for the pool ---------------------------------------------- */

struct mqb_core;

/* What a command run from the loop hands the pool: the arg of an
 * EXECUTOR job whose fn is cmd_job_run, freed with cmd_job_free (the
 * job's arg_release). It owns what it holds, so a job still running at
 * shutdown touches nothing of its caller's. */
struct cmd_job {
	struct mqb_core *core;  /* the command is killed once it stops */
	char *shell;            /* as cmd_spec's */
	char **argv;
	char *cwd;
	double timeout;
	size_t max_stdout, max_stderr;
	char *input;            /* as cmd_spec's; NULL: none */
	size_t input_len;
	/* Its exit status is its answer (a switch's command_state without a
	 * value_template: non-zero is off), so only 126 and 127 (it could not
	 * run) count as command failures. */
	bool status_answers;
};

/* The job's fn: cmd_run, with the struct cmd_result in *result (set the
 * job's result_free to cmd_job_result_free). Thread: pool. */
int cmd_job_run(void *ud, void *arg, void **result);
void cmd_job_free(void *job);              /* accepts NULL */
void cmd_job_result_free(void *result);    /* accepts NULL */

/* "exit status 2", "killed by signal 9 (Killed)", "timed out after 15 s
 * (process group killed)", "could not start: No such file or directory".
 * Returns buf. Thread: any. */
const char *cmd_describe(const struct cmd_result *res, double timeout, char *buf, size_t buflen);

/* s[0..len) for a log line: control characters and invalid UTF-8 shown
 * as escapes or '?', surrounding white space dropped, cut to fit with
 * "..." (buflen > 4). Returns buf. Thread: any. */
const char *cmd_printable(const char *s, size_t len, char *buf, size_t buflen);

/* ---- reading what a command printed ------------------------------------ */

/* Home Assistant's result_as_boolean (cv.boolean) for an availability
 * template's output: true, yes, on, enable, 1 (any case) or a non-zero
 * number. Thread: any. */
bool cmd_truthy(const char *s);
/* A command_line switch's state template output: true, on or 1 (any
 * case, surrounding blanks ignored). Thread: any. */
bool cmd_switch_on(const char *s);
/* A cover's state output: an integer position 0..100 (0: closed), or one
 * of open, closed, opening, closing (any case). 0 with *state (a static
 * string) and *position (-1 when none was given), or -EINVAL. Thread: any. */
int cmd_cover_state(const char *s, const char **state, int *position);

/* json_attributes_path: the subset of JSONPath that command_line
 * configurations use, $ followed by .name, ['name'], [N] or .[N] (negative
 * counts from the end) and * or [*]. */
struct cmd_jpath;
/* 0 with *out (free with cmd_jpath_free); -EINVAL with a reason in err;
 * -ENOMEM. Thread: any. */
int cmd_jpath_compile(const char *text, struct cmd_jpath **out, char *err, size_t errlen);
void cmd_jpath_free(struct cmd_jpath *p); /* accepts NULL */
/* The first match in document order (borrowed from doc), or NULL, as
 * Home Assistant takes jsonpath(...)[0]. Thread: any. */
struct json_t;
struct json_t *cmd_jpath_first(const struct cmd_jpath *p, struct json_t *doc);

/* ---- commands with templates ------------------------------------------ */

/* True when text holds a template ("{{" or "{%"): it is then split into
 * words and run without a shell; otherwise it runs as /bin/sh -c text. */
bool cmd_has_template(const char *text);

struct cmd_word {
	char *text;                  /* after quote removal; template tags verbatim */
	struct mqb_template *tpl;    /* compiled when text holds a tag, else NULL */
};

/* A command with templates, split once at setup. */
struct cmd_line {
	struct cmd_word *words;
	size_t n;
};

struct cmd_split_error {
	size_t offset;      /* byte offset in the command text */
	unsigned word;      /* 1-based word the problem is in (0: none) */
	char message[256];
};

/* Split text into words as a shell would, but without any expansion:
 * blanks separate words; '...' quotes literally; "..." quotes with \" and
 * \\ as escapes; a backslash outside quotes takes the next character
 * literally; a template tag ({{ }}, {% %}, {# #}, with Jinja's string
 * literals inside) is copied verbatim and never splits. A word holding a
 * tag is compiled as a template. Refused, with err filled in: unterminated
 * quotes or tags; a template in the first word (the program); an
 * unquoted | & ; < > ( ) ` or $, a $ or ` inside "...", or a leading ~
 * (no shell would expand them); a template that does not compile (a block
 * must lie within one word: quote it); no words at all. 0, -EINVAL or
 * -ENOMEM. Thread: any. */
int cmd_line_parse(const char *text, struct cmd_line *out, struct cmd_split_error *err);
void cmd_line_fini(struct cmd_line *c); /* accepts a zeroed one */

/* Renders one templated word: 0 with *out (malloc'd, caller frees) and
 * *len, or a negative errno (the renderer logs why). */
typedef int (*cmd_render_fn)(void *ud, unsigned word, const struct mqb_template *t, char **out,
			     size_t *len);

/* The argument vector for one run: literal words copied, each templated
 * word rendered into exactly one argument (an empty output is an empty
 * argument). 0 with *argv (NULL-terminated; free with cmd_argv_free); the
 * renderer's error; -EILSEQ when an output holds a NUL (*bad_word says
 * which); -ENOMEM. Thread: whatever render allows. */
int cmd_line_argv(const struct cmd_line *c, cmd_render_fn render, void *ud, char ***argv,
		  unsigned *bad_word);
void cmd_argv_free(char **argv); /* accepts NULL */

#endif
