/* SPDX-License-Identifier: MIT */
/* tpl_render: the C side of the template differential test (t/tpl-diff.py).
 *
 * Reads cases, one JSON object per line (blank lines and lines starting
 * with '#' are skipped), from the files named on the command line or from
 * standard input:
 *
 *   {"id": "lit-001", "template": "{{ 1 + 1 }}",
 *    "value": "raw payload" | null,       (absent or null: undefined)
 *    "value_json": {...},                  (optional; absent: parsed from value)
 *    "variables": {...},                   (optional: extra top-level names)
 *    "now": 946720800,                     (optional: the time now() gives)
 *    "states": {...}}                      (optional: needs a core; see below)
 *
 * and prints one JSON line per case:
 *
 *   {"id": ..., "ok": true, "out": "..."}
 *   {"id": ..., "ok": false, "error": "...", "phase": "compile"|"render"}
 *   {"id": ..., "skip": "..."}             (a case this driver cannot run)
 *
 * Each case runs in a forked child (unless --no-fork), so an engine crash or
 * hang becomes {"ok": false, "crash": true, ...} and the run goes on. now() is
 * fixed (--now, default 1700000000 = 2023-11-14T22:13:20Z) and TZ is UTC.
 * Output bytes are written as they are (JSON-escaped only where JSON needs
 * it), so invalid UTF-8 from the engine reaches the comparison unchanged. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <jansson.h>

#include "mqbridge/template.h"

static double opt_now = 1700000000.0;
static bool opt_fork = true;
static unsigned opt_timeout = 5;

/* A JSON string of len bytes: control characters, '"' and '\\' escaped,
 * everything else (UTF-8 or not) copied. */
static void put_json_str(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

static void put_id(FILE *f, const char *id)
{
	fputs("{\"id\": ", f);
	put_json_str(f, id, strlen(id));
}

static void put_error(FILE *f, const char *id, const char *phase, int rc,
		      const struct mqb_tpl_error *err)
{
	char msg[400];

	snprintf(msg, sizeof msg, "%s (rc %d, %u:%u)", err->message[0] ? err->message : "(no message)",
		 rc, err->line, err->column);
	put_id(f, id);
	fputs(", \"ok\": false, \"phase\": ", f);
	put_json_str(f, phase, strlen(phase));
	fputs(", \"error\": ", f);
	put_json_str(f, msg, strnlen(msg, sizeof msg));
	fputs("}\n", f);
}

/* Compile and render one case; print its line to f. */
/* What mqb_template_render promises beyond the text itself: the output is
 * NUL-terminated at len, and a compiled template is immutable, so a second
 * render with the same variables gives the same result. NULL when kept. */
static const char *contract_broken(const struct mqb_template *t, const struct mqb_tpl_vars *vars,
				   const char *out, size_t len)
{
	if (!out)
		return "contract: render succeeded without output";
	if (out[len] != 0)
		return "contract: output is not NUL-terminated at its length";
	char *again = NULL;
	size_t len2 = 0;
	struct mqb_tpl_error err2;
	int rc = mqb_template_render(t, vars, NULL, &again, &len2, &err2);
	const char *why = NULL;
	if (rc != 0)
		why = "contract: a second render of the same template failed";
	else if (len2 != len || memcmp(again, out, len) != 0)
		why = "contract: a second render of the same template differs";
	free(again);
	return why;
}

static void run_case(FILE *f, const char *id, json_t *c)
{
	json_t *jt = json_object_get(c, "template");
	json_t *jv = json_object_get(c, "value");
	json_t *jvj = json_object_get(c, "value_json");
	json_t *jvars = json_object_get(c, "variables");
	struct mqb_template *t = NULL;
	struct mqb_tpl_error err;
	struct mqb_tpl_vars vars;
	char *out = NULL;
	size_t len = 0;
	int rc;

	if (!json_is_string(jt)) {
		put_id(f, id);
		fputs(", \"ok\": false, \"phase\": \"input\", \"error\": \"case has no template string\"}\n", f);
		return;
	}
	if (json_object_get(c, "states")) {
		/* Entity states need a running core; this driver renders
		 * without one. Those cases belong to the HA functions' own
		 * test; here they are reported as skipped. */
		put_id(f, id);
		fputs(", \"skip\": \"tpl_render has no core: states unavailable\"}\n", f);
		return;
	}
	memset(&err, 0, sizeof err);
	rc = mqb_template_compile(json_string_value(jt), json_string_length(jt), &t, &err);
	if (rc != 0) {
		put_error(f, id, "compile", rc, &err);
		return;
	}
	memset(&vars, 0, sizeof vars);
	if (json_is_string(jv)) {
		vars.value = json_string_value(jv);
		vars.value_len = json_string_length(jv);
	}
	if (jvj)
		vars.value_json = jvj;
	if (json_is_object(jvars))
		vars.variables = jvars;
	vars.now = json_is_number(json_object_get(c, "now")) ? json_number_value(json_object_get(c, "now"))
							     : opt_now;
	memset(&err, 0, sizeof err);
	rc = mqb_template_render(t, &vars, NULL, &out, &len, &err);
	const char *broken = rc == 0 ? contract_broken(t, &vars, out, len) : NULL;
	if (broken) {
		/* Counted by tpl-diff.py as a failure, whatever the output. */
		put_id(f, id);
		fputs(", \"ok\": false, \"crash\": true, \"error\": ", f);
		put_json_str(f, broken, strlen(broken));
		fputs("}\n", f);
	} else if (rc != 0) {
		put_error(f, id, "render", rc, &err);
	} else {
		put_id(f, id);
		fputs(", \"ok\": true, \"out\": ", f);
		put_json_str(f, out ? out : "", out ? len : 0);
		fputs("}\n", f);
	}
	free(out);
	mqb_template_free(t);
}

/* Run one case in a child; its line comes back through a pipe so a crash
 * midway leaves no partial line behind. */
static void run_case_forked(const char *id, json_t *c)
{
	int p[2];
	pid_t pid;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int status = 0;

	fflush(stdout);
	if (pipe(p) != 0 || (pid = fork()) < 0) {
		perror("tpl_render: pipe/fork");
		exit(2);
	}
	if (pid == 0) {
		FILE *f;

		close(p[0]);
		alarm(opt_timeout);
		f = fdopen(p[1], "w");
		if (!f)
			_exit(3);
		run_case(f, id, c);
		fclose(f);
		_exit(0);
	}
	close(p[1]);
	for (;;) {
		ssize_t r;

		if (n + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			if (!buf) {
				perror("tpl_render");
				exit(2);
			}
		}
		r = read(p[0], buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && n > 0 && buf[n - 1] == '\n') {
		fwrite(buf, 1, n, stdout);
	} else {
		char msg[128];

		if (WIFSIGNALED(status))
			snprintf(msg, sizeof msg, "engine crashed: signal %d (%s)", WTERMSIG(status),
				 WTERMSIG(status) == SIGALRM ? "timeout" : strsignal(WTERMSIG(status)));
		else
			snprintf(msg, sizeof msg, "driver child exited with status %d",
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		put_id(stdout, id);
		fputs(", \"ok\": false, \"crash\": true, \"error\": ", stdout);
		put_json_str(stdout, msg, strlen(msg));
		fputs("}\n", stdout);
	}
	free(buf);
	fflush(stdout);
}

static void run_file(FILE *in, const char *name)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t r;
	unsigned lineno = 0;

	while ((r = getline(&line, &cap, in)) >= 0) {
		json_error_t jerr;
		json_t *c;
		json_t *jid;
		char idbuf[64];
		const char *id;
		size_t i = 0;

		lineno++;
		while (i < (size_t)r && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == (size_t)r || line[i] == '\n' || line[i] == '\r' || line[i] == '#')
			continue;
		c = json_loadb(line, (size_t)r, JSON_ALLOW_NUL, &jerr);
		snprintf(idbuf, sizeof idbuf, "%s:%u", name, lineno);
		if (!json_is_object(c)) {
			char msg[300];

			snprintf(msg, sizeof msg, "bad case line: %s", c ? "not an object" : jerr.text);
			put_id(stdout, idbuf);
			fputs(", \"ok\": false, \"phase\": \"input\", \"error\": ", stdout);
			put_json_str(stdout, msg, strlen(msg));
			fputs("}\n", stdout);
			json_decref(c);
			continue;
		}
		jid = json_object_get(c, "id");
		id = json_is_string(jid) ? json_string_value(jid) : idbuf;
		if (opt_fork)
			run_case_forked(id, c);
		else
			run_case(stdout, id, c);
		fflush(stdout);
		json_decref(c);
	}
	free(line);
}

static void usage(FILE *f)
{
	fputs("usage: tpl_render [--no-fork] [--now UNIX] [--timeout S] [--includes DIR]\n"
	      "                  [CASES.jsonl ...]\n"
	      "Renders each case (one JSON object a line; '-' or none: stdin) and prints\n"
	      "one JSON line per case: {\"id\", \"ok\", \"out\"|\"error\"}. --includes\n"
	      "loads DIR as custom_templates/ first.\n", f);
}

static void report_include(void *ud, const char *file, const struct mqb_tpl_error *err)
{
	(void)ud;
	fprintf(stderr, "tpl_render: custom_templates/%s:%u:%u: %s\n", file, err->line,
		err->column, err->message);
}

int main(int argc, char **argv)
{
	int i;
	int nfiles = 0;

	setenv("TZ", "UTC", 1);
	tzset();
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-fork")) {
			opt_fork = false;
		} else if (!strcmp(argv[i], "--now") && i + 1 < argc) {
			opt_now = strtod(argv[++i], NULL);
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			opt_timeout = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--includes") && i + 1 < argc) {
			/* custom_templates/: what {% import %} finds */
			int rc = mqb_template_load_includes(argv[++i], report_include, NULL);
			if (rc && rc != -EINVAL) {
				fprintf(stderr, "tpl_render: %s: %s\n", argv[i], strerror(-rc));
				return 2;
			}
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			usage(stderr);
			return 2;
		} else {
			argv[++nfiles] = argv[i];
		}
	}
	if (nfiles == 0) {
		run_file(stdin, "<stdin>");
		return 0;
	}
	for (i = 1; i <= nfiles; i++) {
		FILE *in;

		if (!strcmp(argv[i], "-")) {
			run_file(stdin, "<stdin>");
			continue;
		}
		in = fopen(argv[i], "r");
		if (!in) {
			fprintf(stderr, "tpl_render: %s: %s\n", argv[i], strerror(errno));
			return 2;
		}
		run_file(in, argv[i]);
		fclose(in);
	}
	return 0;
}
