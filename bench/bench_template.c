/* SPDX-License-Identifier: MIT */
/* bench_template: renders per second of the most common MQTT value
 * template, `{{ value_json.temperature | float | round(1) }}`, over a ~120-byte
 * JSON payload given as the raw string each time (vars.value_json NULL, so
 * the JSON parse is part of every render). bench/run-template.sh puts the
 * figure beside Jinja2's, measured in the same run. With --macros DIR, the
 * template is MACRO_TEMPLATE instead: macros imported from DIR (a
 * custom_templates/ folder: t/data/tpl/custom_templates) called for each
 * member of the payload, ten macro calls a render.
 *
 * usage: bench_template [-n N] [--callgrind] [--check] [--macros DIR]
 *        bench_template --worst CASES.json
 *   -n N         renders in the measured loop (default 1,000,000; 1,000
 *                with --callgrind)
 *   --callgrind  count only the measured loop (CALLGRIND_START/STOP_
 *                INSTRUMENTATION; run under --instr-atstart=no)
 *   --check      render once and print the output
 *   --worst      time each pathological case (t/data/tpl/pathological.json)
 *                under the work budget: its outcome, the work it counted,
 *                milliseconds and nanoseconds per unit, then the slowest.
 *                This is what the budget (TPL_MAX_WORK) is calibrated on.
 * Prints: "renders_per_sec R", "ns_per_render X" (per CPU-second: the
 * process's CPU time), "output O". */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mqbridge/template.h"
#include "template/tpl.h"
#include "../t/tpl_cases.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define HAVE_CALLGRIND 0
#define CALLGRIND_START_INSTRUMENTATION do { } while (0)
#define CALLGRIND_STOP_INSTRUMENTATION do { } while (0)
#endif

static const char TEMPLATE[] = "{{ value_json.temperature | float | round(1) }}";
static const char MACRO_TEMPLATE[] =
	"{% from 'bench.jinja' import row %}"
	"{% for k, v in value_json.items() if v is number %}{{ row(k, v, unit='x') }};{% endfor %}";
static const char PAYLOAD[] = "{\"temperature\": 21.456, \"humidity\": 55, \"battery\": 97, "
			      "\"linkquality\": 120, \"voltage\": 3012, \"id\": \"sensor-1\"}";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The process's CPU time: on a machine other work shares, what the
 * renders cost without the time spent waiting for a CPU (Jinja2's side
 * is timed with time.process_time, the same clock). */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void render_once(const struct mqb_template *t, char **out, size_t *len)
{
	struct mqb_tpl_vars vars;
	struct mqb_tpl_error err;
	int rc;

	memset(&vars, 0, sizeof vars);
	vars.value = PAYLOAD;
	vars.value_len = sizeof PAYLOAD - 1;
	vars.now = 1700000000.0;
	rc = mqb_template_render(t, &vars, NULL, out, len, &err);
	if (rc != 0) {
		fprintf(stderr, "bench_template: render: %s (%d)\n", err.message, rc);
		exit(1);
	}
}

/* Each case rendered under the work budget, the best of 5 timed. */
static int worst(const char *path)
{
	json_error_t jerr;
	json_t *cases = json_load_file(path, 0, &jerr);
	if (!json_is_array(cases)) {
		fprintf(stderr, "bench_template: %s: %s\n", path, jerr.text);
		return 1;
	}
	double slowest = 0, dearest = 0;
	const char *slowest_id = "", *dearest_id = "";
	size_t i;
	json_t *c;
	printf("%-28s %6s %10s %8s %8s\n", "case", "rc", "work", "ms", "ns/unit");
	json_array_foreach(cases, i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));
		const char *text = json_string_value(json_object_get(c, "template"));
		struct mqb_tpl_error err;
		char *value = tpl_case_value(c, &err);
		if (!value && json_object_get(c, "value_tpl")) {
			fprintf(stderr, "bench_template: %s: value_tpl: %s\n", id, err.message);
			return 1;
		}
		struct mqb_template *t;
		if (mqb_template_compile(text, strlen(text), &t, &err)) {
			fprintf(stderr, "bench_template: %s: %s\n", id, err.message);
			return 1;
		}
		struct mqb_tpl_vars vars = { .value = value, .value_len = value ? strlen(value) : 0,
					     .now = 1700000000.0 };
		double best = 1e9;
		uint64_t work = 0;
		int rc = 0;
		for (int r = 0; r < 5; r++) {
			char *out = NULL;
			double t0 = now_s();
			rc = tpl_render(t, &vars, NULL, TPL_MAX_WORK, &out, NULL, &err, &work);
			double dt = now_s() - t0;
			free(out);
			if (dt < best)
				best = dt;
		}
		double ns_unit = work ? best * 1e9 / (double)work : 0;
		printf("%-28s %6d %10llu %8.3f %8.2f %s\n", id, rc, (unsigned long long)work,
		       best * 1e3, ns_unit, rc ? err.message : "");
		if (best > slowest) {
			slowest = best;
			slowest_id = id;
		}
		if (work > 100000 && ns_unit > dearest) {
			dearest = ns_unit;
			dearest_id = id;
		}
		mqb_template_free(t);
		free(value);
	}
	printf("slowest %s %.3f ms; dearest unit %s %.2f ns; budget %llu units\n", slowest_id,
	       slowest * 1e3, dearest_id, dearest, (unsigned long long)TPL_MAX_WORK);
	json_decref(cases);
	return 0;
}

int main(int argc, char **argv)
{
	struct mqb_template *t = NULL;
	struct mqb_tpl_error err;
	bool cg = false, check = false;
	const char *text = TEMPLATE;
	long n = -1;
	char *out = NULL;
	size_t len = 0;
	double t0, t1;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--callgrind")) {
			cg = true;
		} else if (!strcmp(argv[i], "--check")) {
			check = true;
		} else if (!strcmp(argv[i], "--worst") && i + 1 < argc) {
			return worst(argv[i + 1]);
		} else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			n = strtol(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--macros") && i + 1 < argc) {
			if (mqb_template_load_includes(argv[++i], NULL, NULL)) {
				fprintf(stderr, "bench_template: %s: cannot load it\n", argv[i]);
				return 1;
			}
			text = MACRO_TEMPLATE;
		} else {
			fprintf(stderr, "usage: bench_template [-n N] [--callgrind] [--check] "
				"[--macros DIR] | --worst CASES.json\n");
			return 2;
		}
	}
	if (n <= 0)
		n = cg ? 1000 : 1000000;
	if (cg && !HAVE_CALLGRIND) {
		fprintf(stderr, "bench_template: built without valgrind/callgrind.h\n");
		return 2;
	}
	rc = mqb_template_compile(text, strlen(text), &t, &err);
	if (rc != 0) {
		fprintf(stderr, "bench_template: compile: %s (%d)\n", err.message, rc);
		return 1;
	}
	render_once(t, &out, &len); /* warm-up, and the output to check */
	printf("output %s\n", out);
	free(out);
	if (check) {
		mqb_template_free(t);
		return 0;
	}
	/* Warm-up: caches and the allocator settle before the measured loop. */
	for (long i = 0; i < (n < 10000 ? n : 10000); i++) {
		render_once(t, &out, &len);
		free(out);
	}
	if (cg)
		CALLGRIND_START_INSTRUMENTATION;
	t0 = cpu_s();
	for (long i = 0; i < n; i++) {
		render_once(t, &out, &len);
		free(out);
	}
	t1 = cpu_s();
	if (cg)
		CALLGRIND_STOP_INSTRUMENTATION;
	printf("renders %ld\n", n);
	printf("renders_per_sec %.0f\n", (double)n / (t1 - t0));
	printf("ns_per_render %.1f\n", (t1 - t0) * 1e9 / (double)n);
	mqb_template_free(t);
	return 0;
}
