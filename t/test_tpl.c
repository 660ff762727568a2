/* SPDX-License-Identifier: MIT */
/* The template engine's own behaviour: syntax, evaluation, Python's value
 * semantics and formatting, errors with positions, bounds, and allocation
 * failures. (The differential suite against real Jinja2 lives elsewhere.) */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "daemon/options.h"
#include "lib/internal.h"
#include "template/tpl.h"
#include "tpl_cases.h"
#include "mqbridge/config.h"
#include "mqbridge/template.h"

struct rcase {
	const char *tpl, *value, *expect;
};

static int render(const char *tpl, const char *value, const struct mqb_tpl_limits *lim, char **out,
		  struct mqb_tpl_error *err)
{
	struct mqb_template *t;
	int rc = mqb_template_compile(tpl, strlen(tpl), &t, err);
	if (rc)
		return rc;
	struct mqb_tpl_vars v = { .value = value, .value_len = value ? strlen(value) : 0 };
	size_t len;
	rc = mqb_template_render(t, &v, lim, out, &len, err);
	if (rc == 0)
		assert_int_equal(len, strlen(*out));
	mqb_template_free(t);
	return rc;
}

static void check_cases(const struct rcase *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *out = NULL;
		struct mqb_tpl_error err = { 0 };
		int rc = render(c[i].tpl, c[i].value, NULL, &out, &err);
		if (rc != 0 || strcmp(out, c[i].expect) != 0) {
			print_error("template %s\n  value %s\n  expected [%s]\n  got rc=%d [%s] %s\n",
				    c[i].tpl, c[i].value ? c[i].value : "(none)", c[i].expect, rc,
				    out ? out : "", rc ? err.message : "");
			free(out);
			fail();
		}
		free(out);
	}
}

#define CHECK(cases) check_cases(cases, sizeof cases / sizeof cases[0])

static void mqtt_value_templates_render_as_jinja_does(void **s)
{
	static const struct rcase c[] = {
		{ "{{ value_json.temperature }}", "{\"temperature\": 21.5}", "21.5" },
		{ "{{ value_json['DHT11']['Temperature'] }}", "{\"DHT11\": {\"Temperature\": 22}}", "22" },
		{ "{{ value_json.ENERGY.Power }}", "{\"ENERGY\": {\"Power\": 7}}", "7" },
		{ "{{ value_json.temperature | float | round(1) }}", "{\"temperature\": 21.456}", "21.5" },
		{ "{{ value }}", "raw payload", "raw payload" },
		{ "{{ value | float * 2 }}", "2.5", "5.0" },
		{ "{% if value_json.status == 'closed' %}closed{% else %}open{% endif %}",
		  "{\"status\": \"closed\"}", "closed" },
		{ "{% if not value_json.x %}none{% endif %}", "{\"x\": 0}", "none" },
		{ "{{ value.split('next')[0] }}", "abcnextdef", "abc" },
		{ "{{ value_json.status | default('unknown') }}", "{\"a\": 1}", "unknown" },
		{ "{{ value[2:4] | int }}", "ab12cd", "12" },
		{ "{{ value_json }}", "not json", "" },
		{ "{{ value_json }}", "21.5", "21.5" },
		{ "{{ value_json is defined }}", "{nope", "False" },
		{ "{{ value_json.list[1] }}", "{\"list\": [1, 2]}", "2" },
		{ "{{ value_json.b }}|{{ value_json.n }}", "{\"b\": true, \"n\": null}", "True|None" },
		{ "{{ value_json }}", "{\"a\": [1, \"x\", 1.0]}", "{'a': [1, 'x', 1.0]}" },
		{ "{{ value }}", "", "" },
	};
	CHECK(c);
}

static void expressions_follow_jinja_precedence_and_python_arithmetic(void **s)
{
	static const struct rcase c[] = {
		{ "{{ 1 + 2 * 3 }}", NULL, "7" },
		{ "{{ (1 + 2) * 3 }}", NULL, "9" },
		{ "{{ 7 // -2 }} {{ -7 % 3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}", NULL, "-4 2 3.0 0.5" },
		{ "{{ 2 ** 10 }} {{ 2 ** -1 }} {{ -2**2 }} {{ 2**3**2 }}", NULL, "1024 0.5 4 64" },
		{ "{{ 10/4 }} {{ 10/5 }}", NULL, "2.5 2.0" },
		{ "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ true == 1 }}", NULL,
		  "True False True True" },
		{ "{{ 'a' in 'cat' }} {{ 2 not in [1,2] }} {{ 'k' in {'k': 1} }}", NULL,
		  "True False True" },
		{ "{{ 1 if 0 }}|{{ 1 if 1 else 2 }}|{{ none or 'x' }}|{{ 0 and 1 }}|{{ not 0 }}", NULL,
		  "|1|x|0|True" },
		{ "{{ 'a' ~ 1 ~ none ~ 2.50 }}", NULL, "a1None2.5" },
		{ "{{ 3 * 'ab' }} {{ [1] * 2 }} {{ [1] + [2] }} {{ 'a' + 'b' }}", NULL,
		  "ababab [1, 1] [1, 2] ab" },
		{ "{{ -1|abs }} {{ - 3 }} {{ +3 }}", NULL, "1 -3 3" },
		{ "{{ not 1 == 2 }} {{ not x is defined }}", NULL, "True True" },
		{ "{{ 1_000 }} {{ 1e3 }} {{ 2.5e-3 }} {{ 0.5 }}", NULL, "1000 1000.0 0.0025 0.5" },
		{ "{{ \"a\" \"b\" }} {{ 'it\\'s' }} {{ \"tab\\tx\" }}", NULL, "ab it's tab\tx" },
		{ "{{ true }} {{ True }} {{ none }} {{ None }} {{ false }}", NULL,
		  "True True None None False" },
		{ "{{ [1, 'a', none, 1.5, true, {'k': [1]}] }}", NULL,
		  "[1, 'a', None, 1.5, True, {'k': [1]}]" },
		{ "{{ [\"it's\", 'a\"b', 'n\\n'] }}", NULL, "[\"it's\", 'a\"b', 'n\\n']" },
		{ "{{ 'abc'[::-1] }} {{ [1,2,3,4][1:3] }} {{ 'hello'[-3:] }} {{ [1,2,3][::2] }}", NULL,
		  "cba [2, 3] llo [1, 3]" },
		{ "{{ 'abc'[1] }} {{ 'abc'[-1] }} {{ [1,2][5] }}|", NULL, "b c |" },
		{ "{{ {'a': {'b': 1}}}}", NULL, "{'a': {'b': 1}}" },
		{ "{{ x.y if x is defined else 'no' }}", NULL, "no" },
		{ "{{ 9223372036854775807 }}", NULL, "9223372036854775807" },
		{ "{{ \"\\u00e4bc\"|length }} {{ 'äbc'[1] }} {{ 'äbc'[:1] }}", NULL, "3 b ä" },
	};
	CHECK(c);
}

static void statements_and_whitespace_control_work(void **s)
{
	static const struct rcase c[] = {
		{ "{% set x = 5 %}{% set a, b = 1, 2 %}{{ x + a + b }}", NULL, "8" },
		{ "{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }}{{ ',' if not loop.last }}"
		  "{% endfor %}", NULL, "a=1,b=2" },
		{ "{% for i in range(3) %}{{ loop.index0 }}{{ loop.index }}{{ loop.revindex }}"
		  "{{ loop.first }}{{ loop.length }}{{ loop.cycle('x','y') }} {% endfor %}", NULL,
		  "013True3x 122False3y 231False3x " },
		{ "{% for i in [] %}x{% else %}empty{% endfor %}", NULL, "empty" },
		{ "{% for x in [1,2,3,4] if x is even %}{{ x }}{{ loop.length }}{% endfor %}", NULL, "2242" },
		{ "{% for i in range(3) %}{% if i == 0 %}{% set x = 5 %}{% endif %}{{ x }}{% endfor %}{{ x }}",
		  NULL, "5" },
		{ "{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}", NULL, "1" },
		{ "{% set ns = namespace(t=0) %}{% for i in range(4) %}{% set ns.t = ns.t + i %}"
		  "{% endfor %}{{ ns.t }}", NULL, "6" },
		{ "{% if 1 %}a{% elif 2 %}b{% else %}c{% endif %}{% if 0 %}a{% elif 2 %}b{% else %}c"
		  "{% endif %}{% if 0 %}a{% elif 0 %}b{% else %}c{% endif %}", NULL, "abc" },
		{ "a\n{%- if 1 -%}\n b \n{%- endif %}\nc\n", NULL, "ab\nc" },
		{ "line\n", NULL, "line" },
		{ "line\n\n", NULL, "line\n" },
		{ "{% if 1 %}\nx\n{% endif %}\n", NULL, "\nx\n" },
		{ "{% raw %}{{ x }}{% endraw %} {#- c -#} y", NULL, "{{ x }}y" },
		{ "a {# comment #}b", NULL, "a b" },
		{ "{{- ' x ' -}}  ", NULL, " x " },
		{ "{% set s %}inner {{ 1 }}{% endset %}[{{ s }}]", NULL, "[inner 1]" },
		{ "{% for x in 'ab' %}{{ x }}.{% endfor %}", NULL, "a.b." },
		{ "{% for x in {'a': 1} %}{{ x }}{% endfor %}", NULL, "a" },
		{ "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}", NULL, "37" },
		{ "{% for x in [1,2] %}{% for y in [3,4] %}{{ x * y }},{% endfor %}{% endfor %}", NULL,
		  "3,4,6,8," },
		{ "a\r\nb", NULL, "a\nb" },
	};
	CHECK(c);
}

static void jinja_filters_tests_and_methods_behave_as_documented(void **s)
{
	static const struct rcase c[] = {
		{ "{{ 'Hello World'|lower }} {{ 'hello world'|title }} {{ 'hELLO'|capitalize }}", NULL,
		  "hello world Hello World Hello" },
		{ "[{{ '  x  '|trim }}] {{ 'aaa'|replace('a','b',2) }} {{ 'x'|upper }}", NULL, "[x] bba X" },
		{ "{{ [3,1,2]|sort }} {{ [3,1,2]|sort(reverse=true) }} {{ ['b','A','c']|sort }}", NULL,
		  "[1, 2, 3] [3, 2, 1] ['A', 'b', 'c']" },
		{ "{{ [1,2,2,3]|unique|list }} {{ [1,5,3]|max }} {{ [1,5,3]|min }} {{ [1,2,3]|sum }}", NULL,
		  "[1, 2, 3] 5 1 6" },
		{ "{{ [1,2,3]|join(', ') }} {{ [1,2,3]|first }} {{ [1,2,3]|last }} {{ 'abc'|length }}",
		  NULL, "1, 2, 3 1 3 3" },
		{ "{{ {'a':1}|count }} {{ 'abc'|list }}", NULL, "1 ['a', 'b', 'c']" },
		{ "{{ [{'a':1,'b':'x'},{'a':2,'b':'y'}]|selectattr('a','gt',1)|map(attribute='b')|list }}",
		  NULL, "['y']" },
		{ "{{ [{'a':1},{'a':2}]|rejectattr('a','eq',1)|list }}", NULL, "[{'a': 2}]" },
		{ "{{ [1,2,3,4]|select('odd')|list }} {{ [1,2,3,4]|reject('even')|list }}", NULL,
		  "[1, 3] [1, 3]" },
		{ "{{ ['1','2']|map('int')|sum }} {{ [0, 1, '']|select|list }}", NULL, "3 [1]" },
		{ "{{ {'b': 1, 'a': [1, 2.5, none, true, 'x<y']}|tojson }}", NULL,
		  "{\"a\": [1, 2.5, null, true, \"x\\u003cy\"], \"b\": 1}" },
		{ "{{ '%s is %d'|format('x', 3) }} {{ '%.2f' % 3.14159 }} {{ '%05.1f|%-3s|' % (2.25, 'a') }}",
		  NULL, "x is 3 3.14 002.2|a  |" },
		{ "{{ '{} and {:.1f}'.format('a', 2.25) }} {{ '{0}{0}{n}'.format(1, n=2) }}", NULL,
		  "a and 2.2 112" },
		{ "{{ 'a,b,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.rsplit(' ', 1) }}", NULL,
		  "['a', 'b', 'c'] ['a', 'b'] ['a b', 'c']" },
		{ "{{ 'abc'.startswith('a') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'abc'.find('c') }}",
		  NULL, "True True 2" },
		{ "{{ 'a-b'.replace('-', '_') }} {{ '-'.join(['a', 'b']) }} {{ 'aXa'.count('a') }}", NULL,
		  "a_b a-b 2" },
		{ "{{ ' x '.strip() }}|{{ 'xxyxx'.lstrip('x') }}|{{ 'hello world'.title() }}", NULL,
		  "x|yxx|Hello World" },
		{ "{{ {'a':1}.get('a') }} {{ {'a':1}.get('b', 2) }} {{ {'a':1}.get('b') }}", NULL, "1 2 None" },
		{ "{{ {'a':1}.keys()|list }} {{ {'a':1}.values()|list }} {{ [1,2,1].count(1) }}"
		  " {{ [5,6].index(6) }}", NULL, "['a'] [1] 2 1" },
		{ "{{ x is defined }} {{ 1 is number }} {{ 'a' is string }} {{ {} is mapping }}", NULL,
		  "False True True True" },
		{ "{{ none is none }} {{ 3 is divisibleby 3 }} {{ 4 is even }} {{ 1 is not odd }}", NULL,
		  "True True True False" },
		{ "{{ 1 is integer }} {{ 1.0 is float }} {{ true is boolean }} {{ 'A' is upper }}", NULL,
		  "True True True True" },
		{ "{{ 2 is in [1, 2] }} {{ 2 is eq 2 }} {{ 3 is gt(2) }} {{ 'x' is iterable }}", NULL,
		  "True True True True" },
		{ "{{ 1.0|int }} {{ '3.7'|int }} {{ 'x'|int(5) }} {{ '1e3'|float }} {{ 2.675|round(2) }}",
		  NULL, "1 3 5 1000.0 2.67" },
		{ "{{ 'abc'|center(9) }}|{{ 'hello world foo'|truncate(9) }}|{{ 'one two'|wordcount }}",
		  NULL, "   abc   |hello...|2" },
		{ "{{ [1,2,3,4,5]|batch(2)|list }} {{ [1,2]|reverse|list }} {{ 'abc'|reverse }}", NULL,
		  "[[1, 2], [3, 4], [5]] [2, 1] cba" },
		{ "{{ dict(a=1) }} {{ range(2, 10, 3)|list }} {{ namespace(a=1).a }}", NULL,
		  "{'a': 1} [2, 5, 8] 1" },
		{ "{{ foo|default('d') }} {{ ''|default('e', true) }} {{ ''|d('f') }}|", NULL, "d e |" },
		{ "{{ [1, 2]|string }} {{ 5|string ~ 'x' }}", NULL, "[1, 2] 5x" },
		{ "{{ [{'n': 'b'}, {'n': 'a'}]|sort(attribute='n')|map(attribute='n')|join }}", NULL, "ab" },
		{ "{{ [[1, 2]]|map('first')|list }} {{ [1.5, 2]|sum(start=1) }}", NULL, "[1] 4.5" },
	};
	CHECK(c);
}

static void undefined_values_behave_as_jinjas_default_undefined(void **s)
{
	static const struct rcase c[] = {
		{ "{{ foo }}|{{ foo|length }}|{% for x in foo %}x{% endfor %}|{{ foo == none }}", NULL,
		  "|0||False" },
		{ "{{ foo is defined }} {{ foo is undefined }} {{ 'a' in foo }} {{ foo ~ 'x' }}", NULL,
		  "False True False x" },
		{ "{% if foo %}y{% else %}n{% endif %}", NULL, "n" },
		{ "{{ none.x }}|{{ [1].x }}|{{ {'a': 1}.b }}", NULL, "||" },
		{ "{{ value_json.a.b }}", "{\"a\": {\"c\": 1}}", "" },
	};
	CHECK(c);
	static const char *const errs[] = {
		"{{ foo.bar }}", "{{ foo[1] }}", "{{ foo + 1 }}", "{{ foo < 1 }}",
		"{{ foo.bar is defined }}", "{{ value_json.x.y }}",
	};
	for (size_t i = 0; i < sizeof errs / sizeof *errs; i++) {
		char *out = NULL;
		struct mqb_tpl_error err = { 0 };
		int rc = render(errs[i], "{\"a\": 1}", NULL, &out, &err);
		if (rc != -EINVAL)
			print_error("%s: rc %d\n", errs[i], rc);
		assert_int_equal(rc, -EINVAL);
		assert_non_null(strstr(err.message, "undefined"));
		assert_null(out);
	}
}

struct ecase {
	const char *tpl;
	int rc;
	unsigned line, column;
	const char *msg;
};

static void check_errors(const struct ecase *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *out = NULL;
		struct mqb_tpl_error err = { 0 };
		int rc = render(c[i].tpl, "x", NULL, &out, &err);
		if (rc != c[i].rc || err.line != c[i].line || err.column != c[i].column ||
		    !strstr(err.message, c[i].msg)) {
			print_error("template %s\n  expected %d %u:%u %s\n  got %d %u:%u %s\n", c[i].tpl,
				    c[i].rc, c[i].line, c[i].column, c[i].msg, rc, err.line,
				    err.column, err.message);
			fail();
		}
		assert_null(out);
	}
}

static void tuples_print_as_python_tuples(void **s)
{
	static const struct rcase c[] = {
		{ "{{ (1, 2) }}|{{ (1,) }}|{{ () }}", NULL, "(1, 2)|(1,)|()" },
		{ "{{ {'a': 1}.items() | list }}", NULL, "[('a', 1)]" },
		{ "{{ (1, 2) == [1, 2] }}|{{ (1, 2) == (1, 2) }}", NULL, "False|True" },
		{ "{{ {(1, 2): 'x'}[(1, 2)] }}", NULL, "x" },
		{ "{{ [(1, 'a')] | first | list }}", NULL, "[1, 'a']" },
		{ "{{ {'b':1,'a':2} | dictsort | first }}", NULL, "('a', 2)" },
		{ "{{ {'b':1} | items | list }}", NULL, "[('b', 1)]" },
	};
	(void)s;
	CHECK(c);
}

static void loop_controls_break_and_continue(void **s)
{
	static const struct rcase c[] = {
		{ "{% for i in [1,2,3,4] %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}",
		  NULL, "12" },
		{ "{% for i in [1,2,3] %}{% if i == 2 %}{% continue %}{% endif %}{{ i }}{% endfor %}",
		  NULL, "13" },
		{ "{% for i in [1,2] %}{% for j in [1,2,3] %}{% if j == 2 %}{% break %}{% endif %}"
		  "{{ i }}{{ j }}{% endfor %};{% endfor %}", NULL, "11;21;" },
		/* Jinja runs else unless an iteration reached the end of the body */
		{ "{% for i in [1,2] %}{{ i }}{% break %}{% else %}E{% endfor %}", NULL, "1E" },
		{ "{% for i in [1,2] %}{% if i == 2 %}{% continue %}{% endif %}{% else %}E{% endfor %}",
		  NULL, "" },
		{ "{% for i in [1,2,3] %}{% set x %}{{ i }}{% if i == 2 %}{% break %}{% endif %}"
		  "{% endset %}{{ x }}{% endfor %}", NULL, "1" },
	};
	(void)s;
	CHECK(c);
	char *out = NULL;
	struct mqb_tpl_error err = { 0 };
	assert_int_equal(render("{% if 1 %}{% break %}{% endif %}", NULL, NULL, &out, &err), -EINVAL);
	assert_non_null(strstr(err.message, "'break' outside loop"));
	assert_int_equal(render("{% for i in [1] %}{% else %}{% continue %}{% endfor %}", NULL, NULL,
				&out, &err), -EINVAL);
}

static void case_mapping_covers_latin_letters(void **s)
{
	static const struct rcase c[] = {
		{ "{{ 'ÄÖÜ straße' | upper }}|{{ 'ÉCOLE Ÿ' | lower }}", NULL, "ÄÖÜ STRASSE|école ÿ" },
		{ "{{ 'élan vital' | title }}|{{ 'ÀbÇ'.swapcase() }}", NULL, "Élan Vital|àBç" },
		{ "{{ 'x<&>\"\\'' | e }}", NULL, "x&lt;&amp;&gt;&#34;&#39;" },
	};
	(void)s;
	CHECK(c);
}

/* A payload is bytes; a byte that starts no UTF-8 sequence is no letter
 * to case-map (it stays as it is) and no code point to escape (ensure_ascii
 * writes U+FFFD, as Python's decode(errors='replace') would). */
static void bytes_that_are_not_utf8_pass_through_case_mapping(void **s)
{
	static const struct rcase c[] = {
		{ "{{ value | upper }}|{{ value.swapcase() }}|{{ value | title }}", "a\xc9" "b\xff" "c",
		  "A\xc9" "B\xff" "C|A\xc9" "B\xff" "C|A\xc9" "b\xff" "c" },
		{ "{{ value | tojson }}|{{ value | to_json(ensure_ascii=true) }}", "\xe9" "t\xc3\xa9",
		  "\"\\ufffdt\\u00e9\"|\"\\ufffdt\\u00e9\"" },
		{ "{{ value | to_json }}", "\xe9" "t", "\"\xe9" "t\"" },
	};
	(void)s;
	CHECK(c);
}

/* Home Assistant's table is searched first: an entry of the same name and
 * kind in another table could never run (Jinja's int, float and round sat
 * there unreachable until they were removed). */
static void every_builtin_is_reachable_by_its_name(void **s)
{
	static const enum tpl_kind kinds[] = { TPL_FILTER, TPL_FUNCTION, TPL_TEST };
	(void)s;
	for (const struct tpl_builtin *const *t = tpl_builtin_tables; *t; t++)
		for (const struct tpl_builtin *b = *t; b->name; b++)
			for (size_t k = 0; k < 3; k++)
				if ((b->kinds & kinds[k]) &&
				    tpl_builtin_find(b->name, strlen(b->name), kinds[k]) != b)
					fail_msg("%s (kind %d) is hidden by another entry", b->name,
						 kinds[k]);
}

static void syntax_errors_carry_line_and_column(void **s)
{
	static const struct ecase c[] = {
		{ "{{ 1 +}}", -EINVAL, 1, 7, "unexpected 'end of print statement'" },
		{ "abc {{ x }", -EINVAL, 1, 10, "unexpected '}'" },
		{ "a\nb\n  {{ x y }}", -EINVAL, 3, 8, "unexpected 'y'" },
		{ "{% if %}", -EINVAL, 1, 7, "unexpected 'end of statement block'" },
		{ "{% for x in y %}", -EINVAL, 1, 17, "expected 'endfor'" },
		{ "{% if 1 %}\n{% endfor %}", -EINVAL, 2, 4, "unknown tag 'endfor'" },
		{ "{% frob %}", -EINVAL, 1, 4, "unknown tag 'frob'" },
		{ "{{ 'abc }}", -EINVAL, 1, 4, "unexpected end of string" },
		{ "{# never closed", -EINVAL, 1, 1, "missing end of comment tag" },
		{ "{{ .5 }}", -EINVAL, 1, 4, "unexpected '.'" },
		{ "{{ 1 is defined is true }}", -EINVAL, 1, 17, "cannot chain" },
		{ "{{ x $ y }}", -EINVAL, 1, 6, "unexpected char '$'" },
		{ "{{ [1, 2 }}", -EINVAL, 1, 10, "expected ','" },
		{ "{% set = 1 %}", -EINVAL, 1, 8, "unexpected '='" },
		{ "{% raw %}abc", -EINVAL, 1, 1, "missing endraw" },
		{ "{{ 99999999999999999999 }}", -EINVAL, 1, 4, "too large" },
	};
	check_errors(c, sizeof c / sizeof *c);
}

/* Jinja's compiler knows every filter and test (TemplateAssertionError:
 * "No filter named ..."), so Home Assistant refuses those templates when
 * it loads them. A function is a name looked up when the call runs, and
 * arguments are counted then: a template that calls an unknown function
 * or calls one wrongly compiles, and fails only when that call renders,
 * as in Home Assistant (a macro library may hold a branch no one takes). */
static void unknown_filters_and_tests_fail_at_compile_time_calls_when_they_run(void **s)
{
	static const struct ecase at_compile[] = {
		{ "{{ foo | nope }}", -EINVAL, 1, 10, "no filter named 'nope'" },
		{ "\n {{ 1 is frobbed }}", -EINVAL, 2, 10, "no test named 'frobbed'" },
	};
	static const struct ecase at_render[] = {
		{ "{{ frob(1) }}", -EINVAL, 1, 4, "'frob' is undefined" },
		{ "{{ 'x'|lower(1, 2) }}", -EINVAL, 1, 8, "lower() takes at most" },
		{ "{{ 1 is divisibleby }}", -EINVAL, 1, 9, "divisibleby() missing a required argument" },
		{ "{{ is_state_attr('a.b', 'c') }}", -EINVAL, 1, 4,
		  "is_state_attr() missing a required argument" },
	};
	(void)s;
	for (size_t i = 0; i < sizeof at_compile / sizeof *at_compile; i++) {
		struct mqb_template *t;
		struct mqb_tpl_error err;
		assert_int_equal(mqb_template_compile(at_compile[i].tpl, strlen(at_compile[i].tpl), &t, &err),
				 -EINVAL);
	}
	for (size_t i = 0; i < sizeof at_render / sizeof *at_render; i++) {
		struct mqb_template *t;
		struct mqb_tpl_error err;
		assert_int_equal(mqb_template_compile(at_render[i].tpl, strlen(at_render[i].tpl), &t, &err), 0);
		mqb_template_free(t);
	}
	check_errors(at_compile, sizeof at_compile / sizeof *at_compile);
	check_errors(at_render, sizeof at_render / sizeof *at_render);
	/* a branch not taken renders */
	char *out = NULL;
	struct mqb_tpl_error err = { 0 };
	assert_int_equal(render("{% if false %}{{ frob(1) }}{{ is_state_attr('a.b', 'c') }}"
				"{% endif %}ok", "x", NULL, &out, &err), 0);
	assert_string_equal(out, "ok");
	free(out);
}

static void render_errors_report_python_messages(void **s)
{
	static const struct ecase c[] = {
		{ "{{ 'a' < 1 }}", -EINVAL, 1, 4,
		  "'<' not supported between instances of 'str' and 'int'" },
		{ "{{ 1 + 'a' }}", -EINVAL, 1, 6, "unsupported operand type(s) for +: 'int' and 'str'" },
		{ "{{ 1 / 0 }}", -EINVAL, 1, 6, "division by zero" },
		{ "{{ 1 // 0 }}", -EINVAL, 1, 6, "division or modulo by zero" },
		{ "{{ 9223372036854775807 + 1 }}", -EINVAL, 1, 24, "overflow" },
		{ "\n{% for a, b in [1] %}{% endfor %}", -EINVAL, 2, 4, "not iterable" },
		{ "{% for a, b in [[1]] %}{% endfor %}", -EINVAL, 1, 4, "not enough values" },
		{ "{{ 'x'.nope() }}", -EINVAL, 1, 8, "has no attribute 'nope'" },
		{ "{{ [1, 2]|sort(attribute=none)|first + {} }}", -EINVAL, 1, 38, "unsupported operand" },
		{ "{{ {[1]: 2} }}", -EINVAL, 1, 4, "unhashable" },
		{ "{{ [1]|map('nope')|list }}", -EINVAL, 1, 8, "no filter named 'nope'" },
		{ "{% set x = 1 %}{% set x.a = 2 %}", -EINVAL, 1, 19, "non-namespace" },
	};
	check_errors(c, sizeof c / sizeof *c);
}

static void bounds_end_runaway_renders(void **s)
{
	struct mqb_tpl_limits lim = { 1000, 16, 100 };
	char *out = NULL;
	struct mqb_tpl_error err = { 0 };
	double t0 = tu_now();
	assert_int_equal(render("{% for i in range(10**9) %}{% endfor %}", NULL, NULL, &out, &err),
			 -ELOOP);
	assert_true(tu_now() - t0 < 1.0);
	assert_int_equal(render("{% for i in range(10) %}{% for j in range(10) %}{% for k in range(11)"
				" %}{% endfor %}{% endfor %}{% endfor %}", NULL, &lim, &out, &err),
			 -ELOOP);
	assert_int_equal(render("{{ range(10**9)|list|length }}", NULL, NULL, &out, &err), -ELOOP);
	assert_int_equal(render("{{ [1] * 1000000000 }}", NULL, NULL, &out, &err), -ELOOP);
	/* depth: blocks nested deeper than max_depth */
	char deep[2000] = "";
	for (int i = 0; i < 20; i++)
		strcat(deep, "{% if 1 %}");
	strcat(deep, "x");
	for (int i = 0; i < 20; i++)
		strcat(deep, "{% endif %}");
	assert_int_equal(render(deep, NULL, &lim, &out, &err), -ELOOP);
	assert_int_equal(render(deep, NULL, NULL, &out, &err), 0);
	assert_string_equal(out, "x");
	free(out);
	/* the parser refuses absurd nesting instead of overflowing the stack */
	char *paren = malloc(20000);
	memset(paren, '(', 10000);
	strcpy(paren + 10000, "1");
	struct mqb_template *t;
	char *wrapped = malloc(20100);
	sprintf(wrapped, "{{ %s }}", paren);
	assert_int_equal(mqb_template_compile(wrapped, strlen(wrapped), &t, &err), -EINVAL);
	assert_non_null(strstr(err.message, "nested too deeply"));
	free(paren);
	free(wrapped);
	/* output size */
	assert_int_equal(render("{% for i in range(200) %}x{% endfor %}", NULL, &lim, &out, &err),
			 -E2BIG);
	assert_int_equal(render("{{ 'x' * 1000000000 }}", NULL, NULL, &out, &err), -E2BIG);
	assert_int_equal(render(
		"0123456789012345678901234567890123456789012345678901234567890123456789"
		"0123456789012345678901234567890123456789", NULL, &lim, &out, &err), -E2BIG);
	assert_int_equal(render("{% for i in range(100) %}x{% endfor %}", NULL, &lim, &out, &err), 0);
	assert_int_equal(strlen(out), 100);
	free(out);
}

static void float_repr_matches_python(void **s)
{
	static const struct { double d; const char *r; } c[] = {
		{ 0.1 + 0.2, "0.30000000000000004" }, { 1e-05, "1e-05" }, { 1e16, "1e+16" },
		{ 123456789012345678.0, "1.2345678901234568e+17" }, { -0.0, "-0.0" }, { 2.0, "2.0" },
		{ 21.5, "21.5" }, { 1.0 / 3, "0.3333333333333333" }, { 0.0, "0.0" }, { 1e15, "1000000000000000.0" },
		{ 9999999999999998.0, "9999999999999998.0" }, { 0.0001, "0.0001" }, { 0.00001234, "1.234e-05" },
		{ 1.5e300, "1.5e+300" }, { 5e-324, "5e-324" }, { 1.7976931348623157e308, "1.7976931348623157e+308" },
		{ 100.0, "100.0" }, { 123.456, "123.456" }, { -1.5, "-1.5" }, { 2.675, "2.675" },
		{ 1e22, "1e+22" }, { 1.1, "1.1" }, { 3.14159, "3.14159" }, { 1234567.0, "1234567.0" },
		{ 0.5, "0.5" }, { INFINITY, "inf" }, { -INFINITY, "-inf" }, { NAN, "nan" },
		{ 12345678901234567890.0, "1.2345678901234567e+19" }, { 0.001, "0.001" },
		{ 4.35, "4.35" }, { 1e-7, "1e-07" }, { 123e-20, "1.23e-18" },
	};
	for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
		char buf[48];
		dtoa__repr(c[i].d, buf);
		if (strcmp(buf, c[i].r)) {
			print_error("%.17g: expected %s got %s\n", c[i].d, c[i].r, buf);
			fail();
		}
	}
	static const struct rcase r[] = {
		{ "{{ 0.1 + 0.2 }} {{ 1e-5 }} {{ 1e16 }} {{ 2.0 }} {{ 1/3 }} {{ -0.0 }}", NULL,
		  "0.30000000000000004 1e-05 1e+16 2.0 0.3333333333333333 -0.0" },
		{ "{{ [0.1, 1e100] }} {{ {'f': 2.50} }}", NULL, "[0.1, 1e+100] {'f': 2.5}" },
	};
	CHECK(r);
}

static void value_json_is_parsed_lazily_or_taken_as_given(void **s)
{
	struct mqb_template *t;
	struct mqb_tpl_error err;
	const char *tpl = "{{ value_json.a }}-{{ value_json.a }}";
	assert_int_equal(mqb_template_compile(tpl, strlen(tpl), &t, &err), 0);
	json_t *j = json_pack("{s:i}", "a", 42);
	struct mqb_tpl_vars v = { .value = "not json", .value_len = 8, .value_json = j };
	char *out;
	size_t len;
	assert_int_equal(mqb_template_render(t, &v, NULL, &out, &len, &err), 0);
	assert_string_equal(out, "42-42");
	free(out);
	json_decref(j);
	/* a payload with NULs: value keeps them */
	v = (struct mqb_tpl_vars){ .value = "a\0b", .value_len = 3 };
	mqb_template_free(t);
	assert_int_equal(mqb_template_compile("{{ value|length }}", 18, &t, &err), 0);
	assert_int_equal(mqb_template_render(t, &v, NULL, &out, &len, &err), 0);
	assert_string_equal(out, "3");
	free(out);
	mqb_template_free(t);
	/* no vars at all */
	assert_int_equal(mqb_template_compile("[{{ value }}{{ value_json }}]", 29, &t, &err), 0);
	assert_int_equal(mqb_template_render(t, NULL, NULL, &out, &len, &err), 0);
	assert_string_equal(out, "[]");
	free(out);
	mqb_template_free(t);
}

static void variables_trigger_and_this_are_visible(void **s)
{
	struct mqb_template *t;
	struct mqb_tpl_error err;
	const char *tpl = "{{ trigger.payload_json.code }} {{ this.state }} {{ mode }} {{ n + 1 }}";
	assert_int_equal(mqb_template_compile(tpl, strlen(tpl), &t, &err), 0);
	json_t *trig = json_pack("{s:{s:i}}", "payload_json", "code", 7);
	json_t *self = json_pack("{s:s}", "state", "on");
	json_t *vars = json_pack("{s:s,s:i}", "mode", "vacuum", "n", 41);
	struct mqb_tpl_vars v = { .trigger = trig, .this_state = self, .variables = vars };
	char *out;
	size_t len;
	assert_int_equal(mqb_template_render(t, &v, NULL, &out, &len, &err), 0);
	assert_string_equal(out, "7 on vacuum 42");
	free(out);
	mqb_template_free(t);
	json_decref(trig);
	json_decref(self);
	json_decref(vars);
}

/* The trigger's from_state and to_state (and `this`) come as State.as_dict;
 * templates see State objects, as Home Assistant's do: domain, object_id,
 * name, datetimes, the state's repr, and its dict again under tojson. */
static void a_states_dict_reads_as_a_state_object(void **s)
{
	(void)s;
	static const struct {
		const char *tpl, *want;
	} cases[] = {
		{ "{{ trigger.to_state.domain }}/{{ trigger.to_state.object_id }}", "sensor/living_temp" },
		{ "{{ trigger.to_state.name }} {{ this.name }}", "Living room lamp" },
		{ "{{ trigger.to_state.state }} {{ trigger.to_state.attributes.unit_of_measurement }}",
		  "21.5 °C" },
		{ "{{ trigger.to_state.last_changed.year }} {{ trigger.to_state.last_updated.minute }}",
		  "2024 31" },
		{ "{{ trigger.to_state.entity_id }} {{ trigger.to_state is mapping }}",
		  "sensor.living_temp False" },
		/* Jinja's tojson: keys sorted, ASCII */
		{ "{{ trigger.to_state | tojson }}",
		  "{\"attributes\": {\"friendly_name\": \"Living room\", \"unit_of_measurement\": "
		  "\"\\u00b0C\"}, \"entity_id\": \"sensor.living_temp\", "
		  "\"last_changed\": \"2024-05-01T10:30:00+00:00\", "
		  "\"last_updated\": \"2024-05-01T10:31:00+00:00\", \"state\": \"21.5\"}" },
	};
	json_t *trig = json_pack(
		"{s:{s:s,s:s,s:{s:s,s:s},s:s,s:s}}", "to_state", "entity_id", "sensor.living_temp",
		"state", "21.5", "attributes", "unit_of_measurement", "°C", "friendly_name",
		"Living room", "last_changed", "2024-05-01T10:30:00+00:00", "last_updated",
		"2024-05-01T10:31:00+00:00");
	json_t *self = json_pack("{s:s,s:s,s:{},s:s,s:s}", "entity_id", "light.lamp", "state", "on",
				 "attributes", "last_changed", "2024-05-01T10:00:00+00:00",
				 "last_updated", "2024-05-01T10:00:00+00:00");
	struct mqb_tpl_vars v = { .trigger = trig, .this_state = self };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mqb_template *t;
		struct mqb_tpl_error err;
		char *out;
		size_t len;
		assert_int_equal(mqb_template_compile(cases[i].tpl, strlen(cases[i].tpl), &t, &err), 0);
		if (mqb_template_render(t, &v, NULL, &out, &len, &err))
			fail_msg("%s: %s", cases[i].tpl, err.message);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("%s gave '%s', want '%s'", cases[i].tpl, out, cases[i].want);
		free(out);
		mqb_template_free(t);
	}
	json_decref(trig);
	json_decref(self);
}

/* Attribute and item chains over the caller's JSON (walked in place, not
 * converted whole) answer as the converted value would: keys, indexes
 * from either end, a dict's methods before its keys, a missing key's
 * undefined with its name, a name the template assigned. */
static void chains_over_variables_read_as_the_whole_value(void **s)
{
	static const struct {
		const char *tpl, *want;
	} cases[] = {
		{ "{{ trigger.to_state.state }}", "21.5" },
		{ "{{ trigger['to_state']['attributes']['unit'] }}", "C" },
		{ "{{ trigger.to_state.attributes.list[-1] }} {{ trigger.to_state.attributes.list[0] }}",
		  "3 1" },
		{ "{{ trigger.to_state.attributes.list[True] }}", "2" },
		{ "{{ trigger.to_state.attributes.list[5] is defined }}", "False" },
		{ "{{ trigger.to_state.attributes.nested.deep.x }}", "1" },
		{ "{{ trigger.to_state.attributes.keys() | list }}", "['unit', 'list', 'nested', 'keys', 'x']" },
		{ "{{ trigger.to_state.attributes['keys'] }}", "k" },
		{ "{{ trigger.to_state.attributes.items() | list | length }}", "5" },
		{ "{{ trigger.to_state.attributes.get('x') }}", "y" },
		{ "{{ trigger.to_state.nothing is defined }} {{ trigger.to_state.nothing | default('d') }}",
		  "False d" },
		{ "{{ trigger.to_state }}", "{'state': '21.5', 'attributes': {'unit': 'C', 'list': [1, 2, "
		  "3], 'nested': {'deep': {'x': 1}}, 'keys': 'k', 'x': 'y'}}" },
		{ "{{ trigger.to_state.state }}{{ trigger.to_state.state | length }}", "21.54" },
		{ "{% set trigger = {'to_state': {'state': 'mine'}} %}{{ trigger.to_state.state }}",
		  "mine" },
		{ "{% for trigger in [{'to_state': 1}] %}{{ trigger.to_state }}{% endfor %}"
		  "{{ trigger.to_state.state }}", "121.5" },
		{ "{{ mode.a[1].b }} {{ mode['a'][-1]['b'] }}", "2 2" },
		{ "{{ this.state }}", "on" },
	};
	json_t *trig = json_pack("{s:{s:s,s:{s:s,s:[i,i,i],s:{s:{s:i}},s:s,s:s}}}", "to_state",
				 "state", "21.5", "attributes", "unit", "C", "list", 1, 2, 3,
				 "nested", "deep", "x", 1, "keys", "k", "x", "y");
	json_t *self = json_pack("{s:s}", "state", "on");
	json_t *vars = json_pack("{s:{s:[{s:i},{s:i}]}}", "mode", "a", "b", 1, "b", 2);
	struct mqb_tpl_vars v = { .trigger = trig, .this_state = self, .variables = vars };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mqb_template *t;
		struct mqb_tpl_error err;
		char *out;
		size_t len;
		assert_int_equal(mqb_template_compile(cases[i].tpl, strlen(cases[i].tpl), &t, &err), 0);
		int rc = mqb_template_render(t, &v, NULL, &out, &len, &err);
		if (rc)
			fail_msg("%s: %s", cases[i].tpl, err.message);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("%s gave '%s', want '%s'", cases[i].tpl, out, cases[i].want);
		free(out);
		mqb_template_free(t);
	}
	/* a missing key's error names it, as before */
	struct mqb_template *t;
	struct mqb_tpl_error err;
	const char *bad = "{{ trigger.to_state.nothing.more }}";
	assert_int_equal(mqb_template_compile(bad, strlen(bad), &t, &err), 0);
	char *out = NULL;
	size_t len;
	assert_int_equal(mqb_template_render(t, &v, NULL, &out, &len, &err), -EINVAL);
	assert_string_equal(err.message, "'nothing' is undefined");
	mqb_template_free(t);
	json_decref(trig);
	json_decref(self);
	json_decref(vars);
}

static void static_templates_and_now_are_flagged(void **s)
{
	struct mqb_template *t;
	struct mqb_tpl_error err;
	assert_int_equal(mqb_template_compile("plain {text}\n", 13, &t, &err), 0);
	assert_true(mqb_template_is_static(t));
	assert_false(mqb_template_uses_now(t));
	char *out;
	size_t len;
	assert_int_equal(mqb_template_render(t, NULL, NULL, &out, &len, &err), 0);
	assert_string_equal(out, "plain {text}");
	free(out);
	mqb_template_free(t);
	assert_int_equal(mqb_template_compile("{# only a comment #}", 20, &t, &err), 0);
	assert_true(mqb_template_is_static(t));
	mqb_template_free(t);
	assert_int_equal(mqb_template_compile("{{ 1 }}", 7, &t, &err), 0);
	assert_false(mqb_template_is_static(t));
	assert_false(mqb_template_uses_now(t));
	mqb_template_free(t);
	assert_int_equal(mqb_template_compile("", 0, &t, &err), 0);
	assert_int_equal(mqb_template_render(t, NULL, NULL, &out, &len, &err), 0);
	assert_string_equal(out, "");
	free(out);
	mqb_template_free(t);
	mqb_template_free(NULL);
	/* now() is Home Assistant's: flagged when its table marks it */
	const struct tpl_builtin *now = tpl_builtin_find("now", 3, TPL_FUNCTION);
	if (now && now->uses_now) {
		assert_int_equal(mqb_template_compile("{{ now() }}", 11, &t, &err), 0);
		assert_true(mqb_template_uses_now(t));
		mqb_template_free(t);
	}
}

static void renders_can_reuse_a_compiled_template(void **s)
{
	struct mqb_template *t;
	struct mqb_tpl_error err;
	const char *tpl = "{% for i in range(50) %}{{ value_json.v * i }},{% endfor %}";
	assert_int_equal(mqb_template_compile(tpl, strlen(tpl), &t, &err), 0);
	for (int i = 0; i < 200; i++) {
		char payload[32], *out;
		size_t len;
		snprintf(payload, sizeof payload, "{\"v\": %d}", i);
		struct mqb_tpl_vars v = { .value = payload, .value_len = strlen(payload) };
		assert_int_equal(mqb_template_render(t, &v, NULL, &out, &len, &err), 0);
		char expect[32];
		snprintf(expect, sizeof expect, "0,%d,", i);
		assert_memory_equal(out, expect, strlen(expect));
		free(out);
	}
	mqb_template_free(t);
}

static void failing_allocations_never_crash(void **s)
{
	const char *tpl = "{% set ns = namespace(a=[]) %}{% for x in value_json.l|sort %}"
			  "{{ x|string ~ '!' }}{% set ns.a = ns.a + [x] %}{% endfor %}"
			  "{{ ns.a|tojson }}{{ 'y' * 40000 }}";
	const char *payload = "{\"l\": [3, 1, 2], \"s\": \"text\"}";
	bool succeeded = false;
	for (unsigned long n = 1; n < 400 && !succeeded; n++) {
		struct mqb_template *t = NULL;
		struct mqb_tpl_error err;
		mqb__alloc_fail_after(n);
		int rc = mqb_template_compile(tpl, strlen(tpl), &t, &err);
		if (rc == 0) {
			struct mqb_tpl_vars v = { .value = payload, .value_len = strlen(payload) };
			char *out = NULL;
			size_t len;
			rc = mqb_template_render(t, &v, NULL, &out, &len, &err);
			if (rc == 0) {
				assert_memory_equal(out, "1!2!3![1, 2, 3]y", 16);
				free(out);
				succeeded = true;
			} else {
				assert_int_equal(rc, -ENOMEM);
				assert_null(out);
			}
		} else {
			assert_int_equal(rc, -ENOMEM);
			assert_null(t);
		}
		mqb__alloc_fail_after(0);
		mqb_template_free(t);
	}
	assert_true(succeeded);
}

/* ---- the work bound ---------------------------------------------------------- */

/* Issue 12: this payload made "" * 31655867268351, which looped that many
 * times without growing the output and spun for hours. */
static void the_issue_12_payload_renders_at_once_instead_of_spinning(void **s)
{
	const char *tpl = "{{ value_json.ENERGY.Voltage * value_json.ENERGY.Current }}";
	const char *payload = "{\"ENERGY\": {\"Voltage\": \"\", \"Current\": 31655867268351}}";
	struct mqb_template *t;
	struct mqb_tpl_error err;
	(void)s;
	assert_int_equal(mqb_template_compile(tpl, strlen(tpl), &t, &err), 0);
	struct mqb_tpl_vars v = { .value = payload, .value_len = strlen(payload) };
	char *out;
	uint64_t work;
	assert_int_equal(tpl_render(t, &v, NULL, TPL_MAX_WORK, &out, NULL, &err, &work), 0);
	assert_string_equal(out, "");
	assert_true(work < 1000);   /* counted, not timed */
	free(out);
	mqb_template_free(t);
}

/* t/data/tpl/pathological.json lists what made renders slow without
 * bound: repetitions of empty strings, widths and precisions, quadratic
 * unique/in/dict lookups and comparisons, a regex that backtracks, rfind
 * and rsplit, strip with a large set, big JSON, case mapping, slices, and
 * loops whose bodies are long. Each must end as the file says (rendered,
 * or refused by the work, memory or iteration bound) having counted at
 * most the budget: the engine stops when the budget runs out, whatever
 * the time (bench_template --worst times them: about 10 ms at most). */
static void every_known_pathological_input_ends_within_the_work_budget(void **s)
{
	json_error_t jerr;
	json_t *cases = json_load_file(TPL_DATA_DIR "/pathological.json", 0, &jerr);
	(void)s;
	if (!json_is_array(cases))
		fail_msg("%s/pathological.json: %s", TPL_DATA_DIR, jerr.text);
	assert_true(json_array_size(cases) >= 30);
	size_t i;
	json_t *c;
	int failures = 0;
	json_array_foreach(cases, i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));
		const char *text = json_string_value(json_object_get(c, "template"));
		const char *expect = json_string_value(json_object_get(c, "expect"));
		/* The memory bound counts the machine's bytes: where pointers
		 * take half as many, some renders fit under it and end on the
		 * work or iteration bound instead, or render (within the
		 * budget); the file says which. */
		const char *ilp32 = json_string_value(json_object_get(c, "expect_ilp32"));
		if (ilp32 && sizeof(void *) == 4)
			expect = ilp32;
		int want = !strcmp(expect, "ok") ? 0 : !strcmp(expect, "E2BIG") ? -E2BIG : -ELOOP;
		struct mqb_tpl_error err = { 0 };
		char *value = tpl_case_value(c, &err);
		if (json_object_get(c, "value_tpl"))
			assert_non_null(value);
		struct mqb_template *t;
		assert_int_equal(mqb_template_compile(text, strlen(text), &t, &err), 0);
		struct mqb_tpl_vars v = { .value = value, .value_len = value ? strlen(value) : 0 };
		char *out = NULL;
		uint64_t work, again;
		int rc = tpl_render(t, &v, NULL, TPL_MAX_WORK, &out, NULL, &err, &work);
		free(out);
		/* a count, not a clock: the same render does the same work */
		assert_int_equal(tpl_render(t, &v, NULL, TPL_MAX_WORK, &out, NULL, &err, &again), rc);
		free(out);
		if (rc != want || work > TPL_MAX_WORK || again != work) {
			print_error("%s: rc %d (want %d) work %llu (again %llu): %s\n", id, rc, want,
				    (unsigned long long)work, (unsigned long long)again, err.message);
			failures++;
		}
		mqb_template_free(t);
		free(value);
	}
	json_decref(cases);
	assert_int_equal(failures, 0);
}

/* Past the budget a render fails as past the iteration bound: -ELOOP,
 * with a message saying which bound. */
static void a_render_past_its_work_budget_fails_with_eloop(void **s)
{
	const char *tpl = "{% for i in range(1000) %}{{ i * 2 }}{% endfor %}";
	struct mqb_template *t;
	struct mqb_tpl_error err;
	char *out;
	uint64_t all, part;
	(void)s;
	assert_int_equal(mqb_template_compile(tpl, strlen(tpl), &t, &err), 0);
	assert_int_equal(tpl_render(t, NULL, NULL, TPL_MAX_WORK, &out, NULL, &err, &all), 0);
	free(out);
	assert_int_equal(tpl_render(t, NULL, NULL, all / 2, &out, NULL, &err, &part), -ELOOP);
	assert_null(out);
	assert_true(part <= all / 2);
	assert_non_null(strstr(err.message, "steps of work"));
	assert_int_equal(tpl_render(t, NULL, NULL, all, &out, NULL, &err, &part), 0);
	assert_int_equal(part, all);
	free(out);
	mqb_template_free(t);
}

/* Lists nested in a loop can be deeper than the stack: comparing them is a
 * render error, not a crash. */
/* ---- custom_templates/ -------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

struct seen_errors {
	char text[1024];
};

static void note_error(void *ud, const char *file, const struct mqb_tpl_error *err)
{
	struct seen_errors *e = ud;
	size_t n = strlen(e->text);
	snprintf(e->text + n, sizeof e->text - n, "%s:%u:%u: %s\n", file, err->line, err->column,
		 err->message);
}

static char *render_text(const char *tpl)
{
	struct mqb_template *t = NULL;
	struct mqb_tpl_error err;
	char *out = NULL;
	if (mqb_template_compile(tpl, strlen(tpl), &t, &err)) {
		char *e = malloc(strlen(err.message) + 32);
		sprintf(e, "ERR %u:%u %s", err.line, err.column, err.message);
		return e;
	}
	struct mqb_tpl_vars v = { 0 };
	size_t len;
	if (mqb_template_render(t, &v, NULL, &out, &len, &err)) {
		out = malloc(strlen(err.message) + 48);
		sprintf(out, "RENDER ERROR %u:%u %s", err.line, err.column, err.message);
	}
	mqb_template_free(t);
	return out;
}

/* Home Assistant's custom_templates/: every *.jinja under the folder, by
 * its path there; a file that does not compile is reported at its own
 * line and column and the others still load. */
static void custom_templates_load_and_report_errors_where_they_are(void **s)
{
	(void)s;
	char dir[] = "/tmp/tpl-inc-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char sub[600];
	snprintf(sub, sizeof sub, "%s/sub", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	write_file(dir, "a.jinja", "{% macro hi(n) %}hi {{ n }}{% endmacro %}{% set v = 3 %}");
	write_file(dir, "sub/b.jinja", "{% from 'a.jinja' import hi %}{% macro twice(n) %}"
		   "{{ hi(n) }}/{{ hi(n) }}{% endmacro %}");
	write_file(dir, "bad.jinja", "ok\n  {{ 1 + }}");
	write_file(dir, "notes.txt", "{{ ignored");
	struct seen_errors e = { "" };
	assert_int_equal(mqb_template_load_includes(dir, note_error, &e), -EINVAL);
	assert_string_equal(e.text, "bad.jinja:2:10: unexpected 'end of print statement'\n");
	char *out = render_text("{% from 'sub/b.jinja' import twice %}{{ twice(2) }}");
	assert_string_equal(out, "hi 2/hi 2");
	free(out);
	out = render_text("{% import 'a.jinja' as a %}{{ a.v }} {{ a.hi('x') }}");
	assert_string_equal(out, "3 hi x");
	free(out);
	/* names resolved at compile time, with their position */
	out = render_text("x\n{% from 'bad.jinja' import m %}");
	assert_non_null(strstr(out, "ERR 2:9 'bad.jinja' does not compile: 2:10"));
	free(out);
	out = render_text("{% from 'a.jinja' import nope %}");
	assert_string_equal(out, "ERR 1:26 the imported template has no macro or variable named "
			    "'nope'");
	free(out);
	out = render_text("{% import 'a.jinja' as a %}{{ a.nope() }}");
	assert_non_null(strstr(out, "ERR 1:33"));
	free(out);
	out = render_text("{% import 'zzz.jinja' as a %}");
	assert_string_equal(out, "ERR 1:11 no template named 'zzz.jinja' in custom_templates/");
	free(out);
	out = render_text("{{ nosuch_macro(1) }}");
	/* a function no one defines is Jinja's undefined, when it is called */
	assert_string_equal(out, "RENDER ERROR 1:4 'nosuch_macro' is undefined");
	free(out);
	/* {% include %}: found at compile time too, unless ignore missing;
	 * its name must be known then */
	out = render_text("{% set v = 5 %}{% include 'a.jinja' %}<{% include 'sub/b.jinja' %}>");
	assert_string_equal(out, "<>");
	free(out);
	out = render_text("a\n {% include 'zzz.jinja' %}");
	assert_string_equal(out, "ERR 2:13 no template named 'zzz.jinja' in custom_templates/");
	free(out);
	out = render_text("{% include ['zzz.jinja', 'bad.jinja'] %}");
	assert_non_null(strstr(out, "ERR 1:12 'bad.jinja' does not compile"));
	free(out);
	out = render_text("{% include 'zzz.jinja' ignore missing %}ok");
	assert_string_equal(out, "ok");
	free(out);
	out = render_text("{% set f = 'a.jinja' %}{% include f %}");
	assert_string_equal(out, "ERR 1:35 include takes a template's name, or a list of names, "
			    "known when it compiles");
	free(out);
	/* a template keeps what it imported after the files are replaced */
	struct mqb_template *t;
	struct mqb_tpl_error err;
	const char *keep = "{% from 'a.jinja' import hi %}{{ hi(1) }}";
	assert_int_equal(mqb_template_compile(keep, strlen(keep), &t, &err), 0);
	mqb_template_clear_includes();
	char *o = NULL;
	size_t len;
	struct mqb_tpl_vars v = { 0 };
	assert_int_equal(mqb_template_render(t, &v, NULL, &o, &len, &err), 0);
	assert_string_equal(o, "hi 1");
	free(o);
	mqb_template_free(t);
	out = render_text("{% from 'a.jinja' import hi %}");
	assert_non_null(strstr(out, "no template named 'a.jinja'"));
	free(out);
	/* a missing folder loads nothing */
	assert_int_equal(mqb_template_load_includes("/nonexistent/custom_templates", NULL, NULL), 0);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* A macro library whose macros import the file they are in (public
 * custom_templates/ do: {% from 'alarm.jinja' import x %} inside a macro
 * of alarm.jinja): Jinja imports when the macro runs, and by then every
 * macro of the file is defined. At the top level the import would run
 * the file again without end, so it stays an error; a name the file does
 * not export is one too, found once the file is read. */
static void a_macro_may_import_the_file_it_is_in(void **s)
{
	(void)s;
	char dir[] = "/tmp/tpl-self-XXXXXX";
	assert_non_null(mkdtemp(dir));
	write_file(dir, "me.jinja",
		   "{% macro a(x) %}<{{ x }}>{% endmacro %}"
		   "{% macro b(x) %}{% from 'me.jinja' import a %}[{{ a(x) }}]{% endmacro %}"
		   "{% macro c(x) %}{% import 'me.jinja' as me %}{{ me.b(x) }}{{ me.d }}{% endmacro %}"
		   "{% set d = '!' %}");
	write_file(dir, "user.jinja", "{% from 'me.jinja' import c %}{% macro u() %}{{ c(1) }}"
		   "{% endmacro %}");
	write_file(dir, "top.jinja", "x\n{% import 'top.jinja' as t %}");
	write_file(dir, "badname.jinja", "{% macro b() %}\n{% from 'badname.jinja' import nope %}"
		   "{% endmacro %}");
	struct seen_errors e = { "" };
	assert_int_equal(mqb_template_load_includes(dir, note_error, &e), -EINVAL);
	assert_non_null(strstr(e.text, "top.jinja:2:11: 'top.jinja' imports itself\n"));
	if (!strstr(e.text, "badname.jinja:2:32: the imported template has no macro or "
			    "variable named 'nope'\n"))
		fail_msg("errors:\n%s", e.text);
	char *out = render_text("{% from 'me.jinja' import b, c %}{{ b(1) }}{{ c(2) }}");
	assert_string_equal(out, "[<1>][<2>]!");
	free(out);
	out = render_text("{% from 'user.jinja' import u %}{{ u() }}");
	assert_string_equal(out, "[<1>]!");
	free(out);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* mqb_template_uses_name lets a caller skip building variables nobody
 * reads (the MQTT entities' entity_id and name, `this`): a template that
 * includes or imports another may read any of them through its context,
 * so it answers yes for it. */
static void a_template_that_includes_another_may_read_any_name(void **s)
{
	(void)s;
	char dir[] = "/tmp/tpl-uses-XXXXXX";
	assert_non_null(mkdtemp(dir));
	write_file(dir, "who.jinja", "{{ entity_id }}");
	assert_int_equal(mqb_template_load_includes(dir, NULL, NULL), 0);
	static const struct {
		const char *text;
		bool uses;
	} cases[] = {
		{ "{{ value }}", false },
		{ "{{ value_json.temperature }}", false },
		{ "{{ entity_id }}", true },
		{ "{% if true %}{{ name | upper }}{% endif %}", true },
		{ "{% include 'who.jinja' %}", true },
		{ "{% import 'who.jinja' as w %}{{ value }}", true },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mqb_template *t = NULL;
		struct mqb_tpl_error err;
		print_message("case: %s\n", cases[i].text);
		assert_int_equal(mqb_template_compile(cases[i].text, strlen(cases[i].text), &t, &err), 0);
		assert_int_equal(mqb_template_uses_name(t, "entity_id") ||
					 mqb_template_uses_name(t, "name"),
				 cases[i].uses);
		mqb_template_free(t);
	}
	/* and what the included template reads, it gets */
	const char *inc = "[{% include 'who.jinja' %}]";
	struct mqb_template *t = NULL;
	struct mqb_tpl_error err;
	assert_int_equal(mqb_template_compile(inc, strlen(inc), &t, &err), 0);
	json_t *vars = json_pack("{s:s}", "entity_id", "sensor.who");
	struct mqb_tpl_vars v = { .variables = vars };
	char *out = NULL;
	size_t len;
	assert_int_equal(mqb_template_render(t, &v, NULL, &out, &len, &err), 0);
	assert_string_equal(out, "[sensor.who]");
	free(out);
	json_decref(vars);
	mqb_template_free(t);
	mqb_template_clear_includes();
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* The daemon loads custom_templates/ beside its configuration file before
 * the configuration's templates compile; a file that does not compile is
 * a configuration error at file:line:column. */
static void the_configuration_loads_custom_templates_beside_it(void **s)
{
	(void)s;
	char dir[] = "/tmp/tpl-conf-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char ct[600], conf[600];
	snprintf(ct, sizeof ct, "%s/custom_templates", dir);
	snprintf(conf, sizeof conf, "%s/mqbridge.yaml", dir);
	assert_int_equal(mkdir(ct, 0700), 0);
	write_file(ct, "fmt.jinja", "{% macro w(v) %}{{ v | float(0) | round(1) }} W{% endmacro %}");
	write_file(dir, "mqbridge.yaml",
		   "mqtt:\n  sensor:\n    - name: Plug\n      state_topic: tele/plug\n"
		   "      value_template: \"{% from 'fmt.jinja' import w %}{{ w(value) }}\"\n");
	struct mqb_conf_errors errs;
	struct daemon_options o;
	mqb_conf_errors_init(&errs);
	assert_int_equal(options__load(conf, &o, &errs), 0);
	assert_int_equal(errs.n, 0);
	options__fini(&o);
	mqb_conf_errors_fini(&errs);
	char *out = render_text("{% from 'fmt.jinja' import w %}{{ w(2.46) }}");
	assert_string_equal(out, "2.5 W");
	free(out);
	/* a file in error fails the load, at its own position */
	write_file(ct, "bad.jinja", "{% macro m( %}");
	mqb_conf_errors_init(&errs);
	assert_int_equal(options__load(conf, &o, &errs), -EINVAL);
	assert_true(errs.n >= 1);
	assert_non_null(strstr(errs.v[0].mark.file, "custom_templates/bad.jinja"));
	assert_int_equal(errs.v[0].mark.line, 1);
	assert_int_equal(errs.v[0].mark.column, 13);
	mqb_conf_errors_fini(&errs);
	mqb_template_clear_includes();
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void comparing_values_nested_past_the_bound_is_an_error(void **s)
{
	char *out = NULL;
	struct mqb_tpl_error err;
	(void)s;
	assert_int_equal(render("{% set ns = namespace(a=[], b=[]) %}{% for i in range(20000) %}"
				"{% set ns.a = [ns.a] %}{% set ns.b = [ns.b] %}{% endfor %}"
				"{{ ns.a == ns.b }}{{ ns.a < ns.b }}", NULL, NULL, &out, &err), -ELOOP);
	assert_non_null(strstr(err.message, "nested too deeply"));
	assert_int_equal(render("{{ '%999999999d' % 1 }}", NULL, NULL, &out, &err), -E2BIG);
	assert_int_equal(render("{{ '{:.999999999f}'.format(1) }}", NULL, NULL, &out, &err), -E2BIG);
	assert_int_equal(render("{{ ('%5d|%-4s|%.3f|%05.1f' % (42, 'ab', 1.5, 2.25)) }}", NULL, NULL,
				&out, &err), 0);
	assert_string_equal(out, "   42|ab  |1.500|002.2");
	free(out);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(mqtt_value_templates_render_as_jinja_does),
	cmocka_unit_test(expressions_follow_jinja_precedence_and_python_arithmetic),
	cmocka_unit_test(statements_and_whitespace_control_work),
	cmocka_unit_test(jinja_filters_tests_and_methods_behave_as_documented),
	cmocka_unit_test(undefined_values_behave_as_jinjas_default_undefined),
	cmocka_unit_test(tuples_print_as_python_tuples),
	cmocka_unit_test(loop_controls_break_and_continue),
	cmocka_unit_test(case_mapping_covers_latin_letters),
	cmocka_unit_test(bytes_that_are_not_utf8_pass_through_case_mapping),
	cmocka_unit_test(every_builtin_is_reachable_by_its_name),
	cmocka_unit_test(syntax_errors_carry_line_and_column),
	cmocka_unit_test(unknown_filters_and_tests_fail_at_compile_time_calls_when_they_run),
	cmocka_unit_test(render_errors_report_python_messages),
	cmocka_unit_test(bounds_end_runaway_renders),
	cmocka_unit_test(float_repr_matches_python),
	cmocka_unit_test(value_json_is_parsed_lazily_or_taken_as_given),
	cmocka_unit_test(variables_trigger_and_this_are_visible),
	cmocka_unit_test(chains_over_variables_read_as_the_whole_value),
	cmocka_unit_test(a_states_dict_reads_as_a_state_object),
	cmocka_unit_test(static_templates_and_now_are_flagged),
	cmocka_unit_test(renders_can_reuse_a_compiled_template),
	cmocka_unit_test(failing_allocations_never_crash),
	cmocka_unit_test(the_issue_12_payload_renders_at_once_instead_of_spinning),
	cmocka_unit_test(every_known_pathological_input_ends_within_the_work_budget),
	cmocka_unit_test(a_render_past_its_work_budget_fails_with_eloop),
	cmocka_unit_test(comparing_values_nested_past_the_bound_is_an_error),
	cmocka_unit_test(custom_templates_load_and_report_errors_where_they_are),
	cmocka_unit_test(a_macro_may_import_the_file_it_is_in),
	cmocka_unit_test(a_template_that_includes_another_may_read_any_name),
	cmocka_unit_test(the_configuration_loads_custom_templates_beside_it),
};

TU_MAIN(tests)
