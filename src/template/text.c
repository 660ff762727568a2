/* SPDX-License-Identifier: MIT */
/* Text filters: Jinja's HTML and layout filters (escape and Markup,
 * striptags, urlize, urlencode, indent, wordwrap, filesizeformat,
 * xmlattr, pprint), and Home Assistant's text and byte functions
 * (slugify, ordinal, urlencode, base64, from_hex, pack and unpack, ord,
 * the hashes). */
#include "lib/internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/utf8.h"
#include "template/tpl.h"

#define ARG(i, name) tpl_arg(args, nargs, kw, nkw, i, name)
#define FN(name) static struct tv name(struct tpl_ctx *cx, const struct tv *args, size_t nargs, \
				       const struct tpl_kwarg *kw, size_t nkw)

static const struct tv_str *str_of(struct tpl_ctx *cx, struct tv v)
{
	return tv_to_str(cx, v);
}

/* ---- Markup ------------------------------------------------------------------- */

static void escape_into(struct tpl_ctx *cx, struct tpl_buf *b, const char *s, size_t n)
{
	tpl_work(cx, TPL_W_SCAN(n));
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		const char *e;
		switch (s[i]) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '\'': e = "&#39;"; break;
		case '"': e = "&#34;"; break;
		default: continue;
		}
		tpl_buf_add(cx, b, s + run, i - run);
		tpl_buf_puts(cx, b, e);
		run = i + 1;
	}
	tpl_buf_add(cx, b, s + run, n - run);
}

struct tv tpl_escape(struct tpl_ctx *cx, struct tv v)
{
	if (tv_is_markup(v))
		return tv_strv(v.s);   /* as it is, the flag left to the caller */
	if (v.t == TV_UNDEFINED)
		return tv_string(cx, "", 0);
	const struct tv_str *s = str_of(cx, v);
	struct tpl_buf b = { 0 };
	escape_into(cx, &b, s->s, s->len);
	return tv_strv(tpl_buf_done(cx, &b));
}

FN(f_escape) { return tv_markup(tpl_escape(cx, args[0])); }

FN(f_forceescape)
{
	return tv_markup(tpl_escape(cx, tv_strv(str_of(cx, args[0]))));
}

FN(f_safe)
{
	if (tv_is_markup(args[0]))
		return args[0];
	return tv_markup(tv_strv(str_of(cx, args[0])));
}

/* The entities html.unescape knows that templates meet. */
static size_t unescape_entity(const char *s, size_t n, char *out, size_t *used)
{
	static const struct { const char *name; const char *text; } named[] = {
		{ "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" }, { "apos", "'" },
		{ "nbsp", "\xc2\xa0" }, { "copy", "\xc2\xa9" }, { "reg", "\xc2\xae" },
		{ "deg", "\xc2\xb0" }, { "euro", "\xe2\x82\xac" }, { "raquo", "\xc2\xbb" },
		{ "laquo", "\xc2\xab" }, { "hellip", "\xe2\x80\xa6" }, { "mdash", "\xe2\x80\x94" },
		{ "ndash", "\xe2\x80\x93" },
	};
	if (n < 3 || s[0] != '&')
		return 0;
	if (s[1] == '#') {
		size_t i = 2;
		bool hex = i < n && (s[i] == 'x' || s[i] == 'X');
		i += hex;
		uint32_t cp = 0;
		size_t d = 0;
		while (i < n && d < 8 && (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i]))) {
			cp = cp * (hex ? 16 : 10) + (uint32_t)(isdigit((unsigned char)s[i]) ? s[i] - '0'
				: tolower((unsigned char)s[i]) - 'a' + 10);
			i++;
			d++;
		}
		if (!d)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			cp = 0xfffd;
		*used = i;
		return utf8__encode(cp, out);
	}
	for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
		size_t l = strlen(named[k].name);
		if (n >= l + 2 && memcmp(s + 1, named[k].name, l) == 0 && s[l + 1] == ';') {
			*used = l + 2;
			memcpy(out, named[k].text, strlen(named[k].text));
			return strlen(named[k].text);
		}
	}
	return 0;
}

/* markupsafe's striptags: comments and tags out, white space runs one
 * space, entities decoded. */
FN(f_striptags)
{
	const struct tv_str *s = str_of(cx, args[0]);
	tpl_work(cx, 4 * TPL_W_SCAN(s->len));
	struct tpl_buf b = { 0 };
	const char *p = s->s, *e = s->s + s->len;
	bool space = false;
	/* once a search for an end fails, every later one would: each is
	 * made once, and the text is looked at a bounded number of times */
	bool no_comment_end = false, no_tag_end = false;
	while (p < e) {
		if (!no_comment_end && e - p >= 4 && memcmp(p, "<!--", 4) == 0) {
			const char *c = memmem(p + 4, (size_t)(e - p - 4), "-->", 3);
			if (c) {
				p = c + 3;
				continue;
			}
			no_comment_end = true;
		}
		if (*p == '<' && !no_tag_end) {
			const char *c = memchr(p + 1, '>', (size_t)(e - p - 1));
			if (c) {
				p = c + 1;
				continue;
			}
			no_tag_end = true;
		}
		if (isspace((unsigned char)*p)) {
			space = b.len > 0;
			p++;
			continue;
		}
		if (space)
			tpl_buf_addc(cx, &b, ' ');
		space = false;
		char u[8];
		size_t used, n = unescape_entity(p, (size_t)(e - p), u, &used);
		if (n) {
			tpl_buf_add(cx, &b, u, n);
			p += used;
		} else {
			tpl_buf_addc(cx, &b, *p++);
		}
	}
	return tv_strv(tpl_buf_done(cx, &b));
}

/* ---- URLs ---------------------------------------------------------------------- */

/* urllib's quote: unreserved characters and safe stay, the rest %XX. */
static void url_quote(struct tpl_ctx *cx, struct tpl_buf *b, const char *s, size_t n,
		      const char *safe, bool plus)
{
	tpl_work(cx, TPL_W_CHAR * (uint64_t)n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalnum(c) || strchr("_.-~", c) || (c && strchr(safe, c))) {
			tpl_buf_addc(cx, b, (char)c);
		} else if (plus && c == ' ') {
			tpl_buf_addc(cx, b, '+');
		} else {
			char h[4];
			snprintf(h, sizeof h, "%%%02X", c);
			tpl_buf_add(cx, b, h, 3);
		}
	}
}

static void quote_value(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v, const char *safe,
			bool plus)
{
	const struct tv_str *s = v.t == TV_BYTES ? v.s : str_of(cx, v);
	url_quote(cx, b, s->s, s->len, safe, plus);
}

/* Jinja's urlencode: a string quoted ("/" kept), or key=value pairs of a
 * dict or of a list of pairs joined by "&" (for a query: "+" for space). */
FN(f_urlencode)
{
	struct tv v = args[0];
	struct tpl_buf b = { 0 };
	if (v.t != TV_DICT && v.t != TV_LIST) {
		quote_value(cx, &b, v, "/", false);
		return tv_strv(tpl_buf_done(cx, &b));
	}
	struct tv items = v;
	if (v.t == TV_DICT) {
		items = tv_list_new(cx, v.d->n);
		for (size_t i = 0; i < v.d->n; i++) {
			struct tv p = tv_make_tuple(tv_list_new(cx, 2));
			p.l->v[0] = v.d->k[i];
			p.l->v[1] = v.d->v[i];
			p.l->n = 2;
			items.l->v[items.l->n++] = p;
		}
	}
	for (size_t i = 0; i < items.l->n; i++) {
		tpl_tick(cx);
		struct tv p = items.l->v[i];
		if (p.t != TV_LIST || p.l->n != 2)
			tpl_fail(cx, "urlencode expects pairs");
		if (i)
			tpl_buf_addc(cx, &b, '&');
		quote_value(cx, &b, p.l->v[0], "", true);
		tpl_buf_addc(cx, &b, '=');
		quote_value(cx, &b, p.l->v[1], "", true);
	}
	return tv_strv(tpl_buf_done(cx, &b));
}

/* Home Assistant's urlencode(): urllib's urlencode of a mapping, as bytes. */
FN(ha_urlencode)
{
	struct tv v = args[0];
	if (v.t != TV_DICT)
		tpl_fail(cx, "not a valid non-string sequence or mapping object");
	struct tpl_buf b = { 0 };
	for (size_t i = 0; i < v.d->n; i++) {
		tpl_tick(cx);
		if (i)
			tpl_buf_addc(cx, &b, '&');
		quote_value(cx, &b, v.d->k[i], "", true);
		tpl_buf_addc(cx, &b, '=');
		quote_value(cx, &b, v.d->v[i], "", true);
	}
	struct tv r = tv_strv(tpl_buf_done(cx, &b));
	r.t = TV_BYTES;
	return r;
}

static bool starts(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n >= l && memcmp(s, lit, l) == 0;
}

static bool ends(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n >= l && memcmp(s + n - l, lit, l) == 0;
}

static size_t count_of(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit), c = 0;
	for (size_t i = 0; i + l <= n;)
		if (memcmp(s + i, lit, l) == 0) {
			c++;
			i += l;
		} else {
			i++;
		}
	return c;
}

/* Jinja's urlize (utils.urlize) with its default rel="noopener". */
FN(f_urlize)
{
	static const char http_re[] =
		"^((https?://|www\\.)(([\\w%-]+\\.)+)?([a-z]{2,63}|xn--[\\w%]{2,59})|"
		"([\\w%-]{2,63}\\.)+(com|net|int|edu|gov|org|info|mil)|"
		"(https?://)((([\\d]{1,3})(\\.[\\d]{1,3}){3})|"
		"(\\[([\\da-f]{0,4}:){2}([\\da-f]{0,4}:?){1,6}])))"
		"(?::[\\d]{1,5})?(?:[/?#]\\S*)?$";
	static const char email_re[] = "^\\S+@\\w[\\w.-]*\\.\\w+$";
	const struct tv *lim = ARG(1, "trim_url_limit"), *nf = ARG(2, "nofollow"),
			*tg = ARG(3, "target"), *rl = ARG(4, "rel");
	int64_t limit = lim && lim->t == TV_INT ? lim->i : -1;
	struct tpl_buf rel = { 0 };
	/* the rel words, sorted and unique: noopener, and the ones given */
	{
		const char *w[3] = { "noopener", nf && tv_truthy(*nf) ? "nofollow" : NULL, NULL };
		const struct tv_str *given = rl && rl->t == TV_STR ? rl->s : NULL;
		struct tv words = tv_list_new(cx, 4);
		for (int i = 0; i < 2; i++)
			if (w[i])
				tv_list_push(cx, &words, tv_cstr(cx, w[i]));
		if (given) {
			struct tv g = tpl_str_method(cx, tv_strv(given), "split", NULL, 0, NULL, 0);
			for (size_t i = 0; i < g.l->n; i++)
				tv_list_push(cx, &words, g.l->v[i]);
		}
		size_t *order = tpl_sort_index(cx, words.l->v, words.l->n, false);
		const struct tv_str *last = NULL;
		for (size_t i = 0; i < words.l->n; i++) {
			const struct tv_str *s = words.l->v[order[i]].s;
			if (last && last->len == s->len && memcmp(last->s, s->s, s->len) == 0)
				continue;
			if (last)
				tpl_buf_addc(cx, &rel, ' ');
			tpl_buf_add(cx, &rel, s->s, s->len);
			last = s;
		}
	}
	struct tv text = tpl_escape(cx, args[0]);
	const char *s = text.s->s, *e = s + text.s->len;
	struct tpl_buf b = { 0 };
	tpl_work(cx, 4 * TPL_W_SCAN(text.s->len));
	while (s < e) {
		/* white space runs as they are; each word on its own */
		const char *w = s;
		while (w < e && isspace((unsigned char)*w))
			w++;
		tpl_buf_add(cx, &b, s, (size_t)(w - s));
		if (w == e)
			break;
		const char *we = w;
		while (we < e && !isspace((unsigned char)*we))
			we++;
		s = we;
		tpl_tick(cx);
		/* head: ( < &lt; ; tail: ) > . , &gt; */
		const char *m = w, *me = we;
		for (;;) {
			if (m < me && (*m == '(' || *m == '<'))
				m++;
			else if (starts(m, (size_t)(me - m), "&lt;"))
				m += 4;
			else
				break;
		}
		const char *tail = me;
		for (;;) {
			if (tail > m && strchr(")>.,\n", tail[-1]))
				tail--;
			else if (ends(m, (size_t)(tail - m), "&gt;"))
				tail -= 4;
			else
				break;
		}
		me = tail;
		tail = we;
		/* balance parentheses from the tail */
		static const char *const pairs[][2] = { { "(", ")" }, { "<", ">" }, { "&lt;", "&gt;" } };
		for (int k = 0; k < 3; k++) {
			size_t open = count_of(m, (size_t)(me - m), pairs[k][0]);
			if (open <= count_of(m, (size_t)(me - m), pairs[k][1]))
				continue;
			size_t moves = count_of(me, (size_t)(tail - me), pairs[k][1]);
			if (moves > open)
				moves = open;
			for (size_t j = 0; j < moves; j++) {
				const char *c = memmem(me, (size_t)(tail - me), pairs[k][1],
						       strlen(pairs[k][1]));
				me = c + strlen(pairs[k][1]);
			}
		}
		tpl_buf_add(cx, &b, w, (size_t)(m - w));
		size_t mn = (size_t)(me - m);
		const int32_t *caps;
		if (tpl_regex_match(cx, http_re, true, m, mn, &caps)) {
			bool scheme = starts(m, mn, "https://") || starts(m, mn, "http://");
			tpl_buf_puts(cx, &b, scheme ? "<a href=\"" : "<a href=\"https://");
			tpl_buf_add(cx, &b, m, mn);
			tpl_buf_puts(cx, &b, "\"");
			if (rel.len) {
				tpl_buf_puts(cx, &b, " rel=\"");
				escape_into(cx, &b, rel.p, rel.len);
				tpl_buf_puts(cx, &b, "\"");
			}
			if (tg && tg->t != TV_NONE && tv_truthy(*tg)) {
				const struct tv_str *t = str_of(cx, *tg);
				tpl_buf_puts(cx, &b, " target=\"");
				escape_into(cx, &b, t->s, t->len);
				tpl_buf_puts(cx, &b, "\"");
			}
			tpl_buf_puts(cx, &b, ">");
			size_t cps = tpl_utf8_len(m, mn);
			if (limit >= 0 && cps > (size_t)limit) {
				size_t k = 0, bytes = 0;
				while (k < (size_t)limit) {
					bytes++;
					while (bytes < mn && ((unsigned char)m[bytes] & 0xc0) == 0x80)
						bytes++;
					k++;
				}
				tpl_buf_add(cx, &b, m, bytes);
				tpl_buf_puts(cx, &b, "...");
			} else {
				tpl_buf_add(cx, &b, m, mn);
			}
			tpl_buf_puts(cx, &b, "</a>");
		} else if (starts(m, mn, "mailto:") &&
			   tpl_regex_match(cx, email_re, false, m + 7, mn - 7, &caps)) {
			tpl_buf_puts(cx, &b, "<a href=\"");
			tpl_buf_add(cx, &b, m, mn);
			tpl_buf_puts(cx, &b, "\">");
			tpl_buf_add(cx, &b, m + 7, mn - 7);
			tpl_buf_puts(cx, &b, "</a>");
		} else if (memchr(m, '@', mn) && !starts(m, mn, "www.") && !memchr(m, ':', mn) &&
			   tpl_regex_match(cx, email_re, false, m, mn, &caps)) {
			tpl_buf_puts(cx, &b, "<a href=\"mailto:");
			tpl_buf_add(cx, &b, m, mn);
			tpl_buf_puts(cx, &b, "\">");
			tpl_buf_add(cx, &b, m, mn);
			tpl_buf_puts(cx, &b, "</a>");
		} else {
			tpl_buf_add(cx, &b, m, mn);
		}
		tpl_buf_add(cx, &b, me, (size_t)(we - me));
	}
	return tv_strv(tpl_buf_done(cx, &b));
}

/* ---- layout ---------------------------------------------------------------------- */

/* The end of the line starting at p (before e), and where the next one
 * starts, as str.splitlines() splits. */
static const char *line_end(const char *p, const char *e, const char **next)
{
	for (; p < e; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\n' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e)) {
			*next = p + 1;
			return p;
		}
		if (c == '\r') {
			*next = p + 1 < e && p[1] == '\n' ? p + 2 : p + 1;
			return p;
		}
		if (c == 0xc2 && p + 1 < e && (unsigned char)p[1] == 0x85) {
			*next = p + 2;
			return p;
		}
		if (c == 0xe2 && p + 2 < e && (unsigned char)p[1] == 0x80 &&
		    ((unsigned char)p[2] == 0xa8 || (unsigned char)p[2] == 0xa9)) {
			*next = p + 3;
			return p;
		}
	}
	*next = e;
	return e;
}

/* The lines of s, as str.splitlines() gives them: a list of strings. */
static struct tv split_lines(struct tpl_ctx *cx, const char *s, size_t n)
{
	struct tv l = tv_list_new(cx, 4);
	const char *p = s, *e = s + n;
	tpl_work(cx, TPL_W_SCAN(n));
	while (p < e) {
		const char *next, *le = line_end(p, e, &next);
		tv_list_push(cx, &l, tv_string(cx, p, (size_t)(le - p)));
		p = next;
	}
	return l;
}

FN(f_indent)
{
	const struct tv *wv = ARG(1, "width"), *fv = ARG(2, "first"), *bv = ARG(3, "blank");
	struct tv ind;
	if (wv && wv->t == TV_STR) {
		ind = *wv;
	} else {
		int64_t w = 4;
		if (wv) {
			if (wv->t != TV_INT && wv->t != TV_BOOL)
				tpl_fail(cx, "can't multiply sequence by non-int of type '%s'",
					 tv_type_name(*wv));
			w = wv->t == TV_INT ? wv->i : wv->b;
		}
		if (w > (int64_t)cx->max_output)
			tpl_fail_code(cx, -E2BIG, "output too long");
		struct tpl_buf b = { 0 };
		if (w > 0)
			tpl_buf_fill(cx, &b, ' ', (size_t)w);
		ind = tv_strv(tpl_buf_done(cx, &b));
	}
	const struct tv_str *s = str_of(cx, args[0]);
	/* s + "\n", then split: Jinja's quirk keeps a last empty line */
	struct tpl_buf t = { 0 };
	tpl_buf_add(cx, &t, s->s, s->len);
	tpl_buf_addc(cx, &t, '\n');
	struct tv lines = split_lines(cx, t.p, t.len);
	bool blank = bv && tv_truthy(*bv), first = fv && tv_truthy(*fv);
	struct tpl_buf b = { 0 };
	if (first)
		tpl_buf_add(cx, &b, ind.s->s, ind.s->len);
	for (size_t i = 0; i < lines.l->n; i++) {
		tpl_tick(cx);
		const struct tv_str *ln = lines.l->v[i].s;
		if (i) {
			tpl_buf_addc(cx, &b, '\n');
			if (blank || ln->len)
				tpl_buf_add(cx, &b, ind.s->s, ind.s->len);
		}
		tpl_buf_add(cx, &b, ln->s, ln->len);
	}
	struct tv r = tv_strv(tpl_buf_done(cx, &b));
	return tv_is_markup(args[0]) ? tv_markup(r) : r;
}

static bool wrap_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool letter_at(const char *s, const char *e, const char *p)
{
	return p >= s && p < e && (isalpha((unsigned char)*p) || (unsigned char)*p >= 0x80);
}

/* textwrap's chunks of one line: runs of white space, and words split
 * after a hyphen between letters (break_on_hyphens). */
static struct tv wrap_chunks(struct tpl_ctx *cx, const char *s, size_t n, bool hyphens)
{
	struct tv l = tv_list_new(cx, 8);
	const char *p = s, *e = s + n;
	while (p < e) {
		const char *q = p;
		if (wrap_ws(*q)) {
			while (q < e && wrap_ws(*q))
				q++;
		} else {
			while (q < e && !wrap_ws(*q)) {
				q++;
				if (hyphens && q < e && q[-1] == '-' && letter_at(s, e, q - 2) &&
				    (letter_at(s, e, q - 3) ||
				     (q - 4 >= p && q[-3] == '-' && letter_at(s, e, q - 4))) &&
				    letter_at(s, e, q) &&
				    (letter_at(s, e, q + 1) || (q + 1 < e && q[1] == '-' &&
								 letter_at(s, e, q + 2))))
					break;
			}
		}
		tv_list_push(cx, &l, tv_string(cx, p, (size_t)(q - p)));
		p = q;
	}
	return l;
}

static size_t cps(const struct tv_str *s)
{
	return tpl_utf8_len(s->s, s->len);
}

/* The first n code points of s, in bytes. */
static size_t cp_bytes(const struct tv_str *s, size_t n)
{
	size_t i = 0;
	while (n && i < s->len) {
		i++;
		while (i < s->len && ((unsigned char)s->s[i] & 0xc0) == 0x80)
			i++;
		n--;
	}
	return i;
}

/* textwrap.wrap(line, width, expand_tabs=False, replace_whitespace=False)
 * into b, lines joined by sep. */
static void wrap_line(struct tpl_ctx *cx, struct tpl_buf *b, const struct tv_str *line,
		      size_t width, bool long_words, bool hyphens, const struct tv_str *sep,
		      bool *any)
{
	struct tv chunks = wrap_chunks(cx, line->s, line->len, hyphens);
	struct tv *c = chunks.l->v;
	size_t nc = chunks.l->n, i = 0;
	bool lines = false;
	while (i < nc) {
		tpl_tick(cx);
		if (lines && wrap_ws(c[i].s->s[0]))
			i++;   /* drop white space at a line's start (not the first's) */
		size_t start = i, len = 0;
		while (i < nc && len + cps(c[i].s) <= width) {
			len += cps(c[i].s);
			i++;
		}
		struct tv_str *cut = NULL;   /* a long word's head on this line */
		if (i < nc && cps(c[i].s) > width) {
			if (long_words) {
				size_t room = width > len ? width - len : 1;
				const struct tv_str *w = c[i].s;
				/* its rest is measured and copied again at each cut */
				tpl_work(cx, 2 * TPL_W_SCAN(w->len));
				size_t end = room;
				if (hyphens && cps(w) > room) {
					/* break after the last hyphen that fits, if any */
					size_t bytes = cp_bytes(w, room);
					for (size_t k = bytes; k-- > 1;)
						if (w->s[k] == '-' && w->s[k - 1] != '-') {
							end = tpl_utf8_len(w->s, k + 1);
							break;
						}
				}
				size_t bytes = cp_bytes(w, end);
				cut = tpl_alloc(cx, sizeof *cut + bytes + 1);
				tv_str_fill(cut, w->s, bytes);
				c[i] = tv_string(cx, w->s + bytes, w->len - bytes);
			} else if (i == start) {
				i++;
			}
		}
		size_t stop = i;
		/* drop white space at its end */
		if (!cut && stop > start && wrap_ws(c[stop - 1].s->s[0]))
			stop--;
		if (stop > start || cut) {
			if (*any)
				tpl_buf_add(cx, b, sep->s, sep->len);
			*any = true;
			lines = true;
			for (size_t k = start; k < stop; k++)
				tpl_buf_add(cx, b, c[k].s->s, c[k].s->len);
			if (cut)
				tpl_buf_add(cx, b, cut->s, cut->len);
		}
	}
}

FN(f_wordwrap)
{
	const struct tv *wv = ARG(1, "width"), *bl = ARG(2, "break_long_words"),
			*ws = ARG(3, "wrapstring"), *bh = ARG(4, "break_on_hyphens");
	int64_t width = wv && wv->t == TV_INT ? wv->i : 79;
	if (width <= 0)
		tpl_fail(cx, "invalid width %lld (must be > 0)", (long long)width);
	const struct tv_str *sep = ws && ws->t != TV_NONE ? str_of(cx, *ws) : tpl_str(cx, "\n", 1);
	struct tv lines = split_lines(cx, str_of(cx, args[0])->s, str_of(cx, args[0])->len);
	struct tpl_buf b = { 0 };
	for (size_t i = 0; i < lines.l->n; i++) {
		if (i)
			tpl_buf_add(cx, &b, sep->s, sep->len);
		bool any = false;
		wrap_line(cx, &b, lines.l->v[i].s, (size_t)width, !bl || tv_truthy(*bl),
			  !bh || tv_truthy(*bh), sep, &any);
	}
	return tv_strv(tpl_buf_done(cx, &b));
}

FN(f_filesizeformat)
{
	static const char *const dec[] = { "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB" };
	static const char *const bin[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB" };
	const struct tv *bv = ARG(1, "binary");
	bool binary = bv && tv_truthy(*bv);
	double bytes;
	if (!tpl_to_double(cx, args[0], &bytes))
		tpl_fail(cx, "could not convert string to float: '%s'", tpl_str_of(cx, args[0]));
	double base = binary ? 1024 : 1000;
	char buf[64];
	if (bytes == 1)
		return tv_cstr(cx, "1 Byte");
	if (bytes < base) {
		int64_t i;
		if (!isfinite(bytes))
			tpl_fail(cx, "cannot convert float to integer");
		i = (int64_t)bytes;
		snprintf(buf, sizeof buf, "%lld Bytes", (long long)i);
		return tv_cstr(cx, buf);
	}
	double unit = base;
	int k = 0;
	for (; k < 8; k++) {
		unit = pow(base, k + 2);
		if (bytes < unit)
			break;
	}
	if (k == 8)
		k = 7;
	snprintf(buf, sizeof buf, "%.1f %s", base * bytes / unit, binary ? bin[k] : dec[k]);
	return tv_cstr(cx, buf);
}

FN(f_xmlattr)
{
	const struct tv *av = ARG(1, "autospace");
	if (args[0].t != TV_DICT)
		tpl_fail(cx, "'%s' object has no attribute 'items'", tv_type_name(args[0]));
	const struct tv_dict *d = args[0].d;
	struct tpl_buf b = { 0 };
	bool any = false;
	for (size_t i = 0; i < d->n; i++) {
		tpl_tick(cx);
		struct tv v = d->v[i];
		if (v.t == TV_NONE || v.t == TV_UNDEFINED)
			continue;
		const struct tv_str *k = str_of(cx, d->k[i]);
		tpl_work(cx, TPL_W_CHAR * (uint64_t)k->len);
		for (size_t j = 0; j < k->len; j++)
			if (strchr(" \t\n\f/>=", k->s[j]) && k->s[j])
				tpl_fail(cx, "Invalid character in attribute name: %s",
					 tv_repr(cx, d->k[i])->s);
		if (any || !av || tv_truthy(*av))
			tpl_buf_addc(cx, &b, ' ');
		any = true;
		escape_into(cx, &b, k->s, k->len);
		tpl_buf_puts(cx, &b, "=\"");
		struct tv e = tpl_escape(cx, v);
		tpl_buf_add(cx, &b, e.s->s, e.s->len);
		tpl_buf_addc(cx, &b, '"');
	}
	return tv_strv(tpl_buf_done(cx, &b));
}

/* ---- pprint ----------------------------------------------------------------------- */

/* Python's pprint.pformat (width 80): repr with dicts' keys sorted, and
 * what does not fit a line split one item a line. */
static void pp_repr(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v, unsigned depth);

static struct tv pp_sorted_keys(struct tpl_ctx *cx, const struct tv_dict *d)
{
	struct tv keys = tv_list_of(cx, d->k, d->n);
	bool same = true;
	for (size_t i = 1; i < d->n; i++)
		if (d->k[i].t != d->k[0].t && !(tv_is_number(d->k[i]) && tv_is_number(d->k[0])))
			same = false;
	if (same && d->n > 1) {
		size_t *o = tpl_sort_index(cx, d->k, d->n, false);
		for (size_t i = 0; i < d->n; i++)
			keys.l->v[i] = d->k[o[i]];
	}
	return keys;
}

static void pp_repr(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v, unsigned depth)
{
	if (depth > TV_MAX_NEST)
		tpl_fail_code(cx, -ELOOP, "value nested too deeply");
	if (v.t == TV_DICT) {
		struct tv keys = pp_sorted_keys(cx, v.d);
		tpl_buf_addc(cx, b, '{');
		for (size_t i = 0; i < keys.l->n; i++) {
			if (i)
				tpl_buf_puts(cx, b, ", ");
			pp_repr(cx, b, keys.l->v[i], depth + 1);
			tpl_buf_puts(cx, b, ": ");
			pp_repr(cx, b, *tv_dict_get(cx, &v, keys.l->v[i]), depth + 1);
		}
		tpl_buf_addc(cx, b, '}');
		return;
	}
	if (v.t == TV_LIST && !tv_is_set(v)) {
		bool tuple = tv_is_tuple(v);
		tpl_buf_addc(cx, b, tuple ? '(' : '[');
		for (size_t i = 0; i < v.l->n; i++) {
			if (i)
				tpl_buf_puts(cx, b, ", ");
			pp_repr(cx, b, v.l->v[i], depth + 1);
		}
		if (tuple && v.l->n == 1)
			tpl_buf_addc(cx, b, ',');
		tpl_buf_addc(cx, b, tuple ? ')' : ']');
		return;
	}
	const struct tv_str *r = tv_repr(cx, v);
	tpl_buf_add(cx, b, r->s, r->len);
}

static void pp_format(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v, size_t indent,
		      size_t allowance, unsigned depth);

static void pp_items(struct tpl_ctx *cx, struct tpl_buf *b, const struct tv *items, size_t n,
		     size_t indent, size_t allowance, unsigned depth)
{
	indent += 1;
	for (size_t i = 0; i < n; i++) {
		tpl_tick(cx);
		if (i) {
			tpl_buf_puts(cx, b, ",\n");
			tpl_buf_fill(cx, b, ' ', indent);
		}
		pp_format(cx, b, items[i], indent, i + 1 == n ? allowance : 1, depth + 1);
	}
}

static void pp_format(struct tpl_ctx *cx, struct tpl_buf *b, struct tv v, size_t indent,
		      size_t allowance, unsigned depth)
{
	if (depth > TV_MAX_NEST)
		tpl_fail_code(cx, -ELOOP, "value nested too deeply");
	struct tpl_buf r = { 0 };
	pp_repr(cx, &r, v, depth);
	size_t width = 80 > indent + allowance ? 80 - indent - allowance : 0;
	if (tpl_utf8_len(r.p ? r.p : "", r.len) <= width ||
	    !(v.t == TV_DICT || (v.t == TV_LIST && !tv_is_set(v))) ||
	    (v.t == TV_LIST && !v.l->n) || (v.t == TV_DICT && !v.d->n)) {
		tpl_buf_add(cx, b, r.p ? r.p : "", r.len);
		return;
	}
	if (v.t == TV_LIST) {
		bool tuple = tv_is_tuple(v);
		const char *end = tuple && v.l->n == 1 ? ",)" : tuple ? ")" : "]";
		tpl_buf_addc(cx, b, tuple ? '(' : '[');
		pp_items(cx, b, v.l->v, v.l->n, indent, allowance + strlen(end), depth);
		tpl_buf_puts(cx, b, end);
		return;
	}
	struct tv keys = pp_sorted_keys(cx, v.d);
	tpl_buf_addc(cx, b, '{');
	size_t in = indent + 1;
	for (size_t i = 0; i < keys.l->n; i++) {
		tpl_tick(cx);
		if (i) {
			tpl_buf_puts(cx, b, ",\n");
			tpl_buf_fill(cx, b, ' ', in);
		}
		struct tpl_buf k = { 0 };
		pp_repr(cx, &k, keys.l->v[i], depth + 1);
		tpl_buf_add(cx, b, k.p, k.len);
		tpl_buf_puts(cx, b, ": ");
		pp_format(cx, b, *tv_dict_get(cx, &v, keys.l->v[i]), in + tpl_utf8_len(k.p, k.len) + 2,
			  i + 1 == keys.l->n ? allowance + 1 : 1, depth + 1);
	}
	tpl_buf_addc(cx, b, '}');
}

FN(f_pprint)
{
	struct tpl_buf b = { 0 };
	pp_format(cx, &b, args[0], 0, 0, 0);
	return tv_strv(tpl_buf_done(cx, &b));
}

/* ---- Home Assistant's text functions ----------------------------------------------- */

/* The ASCII a Latin letter is written with (unidecode's, for the Latin-1
 * and Latin Extended-A blocks); NULL when none is known. */
static const char *translit(uint32_t c)
{
	static const char *const latin1[] = {
		/* 0xC0 */ "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I", "I",
		/* 0xD0 */ "D", "N", "O", "O", "O", "O", "O", "x", "O", "U", "U", "U", "U", "Y", "Th", "ss",
		/* 0xE0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
		/* 0xF0 */ "d", "n", "o", "o", "o", "o", "o", "/", "o", "u", "u", "u", "u", "y", "th", "y",
	};
	static const char ext_a[][2] = {   /* 0x100 to 0x131 */
		"A", "a", "A", "a", "A", "a", "C", "c", "C", "c", "C", "c", "C", "c", "D", "d",
		"D", "d", "E", "e", "E", "e", "E", "e", "E", "e", "E", "e", "G", "g", "G", "g",
		"G", "g", "G", "g", "H", "h", "H", "h", "I", "i", "I", "i", "I", "i", "I", "i",
		"I", "i",
	};
	if (c >= 0xC0 && c <= 0xFF)
		return latin1[c - 0xC0];
	if (c >= 0x100 && c < 0x100 + sizeof ext_a / sizeof ext_a[0])
		return ext_a[c - 0x100];
	switch (c) {
	case 0x132: return "IJ";
	case 0x133: return "ij";
	case 0x141: return "L";
	case 0x142: return "l";
	case 0x152: return "OE";
	case 0x153: return "oe";
	case 0x160: return "S";
	case 0x161: return "s";
	case 0x17D: return "Z";
	case 0x17E: return "z";
	case 0x178: return "Y";
	case 0x15A: return "S";
	case 0x15B: return "s";
	case 0x15E: return "S";
	case 0x15F: return "s";
	case 0x143: return "N";
	case 0x144: return "n";
	case 0x147: return "N";
	case 0x148: return "n";
	case 0x150: return "O";
	case 0x151: return "o";
	case 0x158: return "R";
	case 0x159: return "r";
	case 0x164: return "T";
	case 0x165: return "t";
	case 0x16E: return "U";
	case 0x16F: return "u";
	case 0x170: return "U";
	case 0x171: return "u";
	case 0x179: return "Z";
	case 0x17A: return "z";
	case 0x17B: return "Z";
	case 0x17C: return "z";
	}
	return NULL;
}

/* Home Assistant's slugify (python-slugify): transliterated to ASCII,
 * lower case, runs of anything but letters and digits one separator,
 * none at either end; "unknown" when nothing is left. */
FN(ha_slugify)
{
	const struct tv *sv = ARG(1, "separator");
	if (args[0].t == TV_NONE)
		return tv_cstr(cx, "");
	const struct tv_str *s = str_of(cx, args[0]);
	const struct tv_str *sep = sv ? str_of(cx, *sv) : tpl_str(cx, "_", 1);
	if (!s->len)
		return tv_cstr(cx, "");
	tpl_work(cx, TPL_W_CHAR * (uint64_t)s->len);
	struct tpl_buf a = { 0 };
	for (size_t i = 0; i < s->len;) {
		uint32_t c;
		size_t n = utf8__decode((const unsigned char *)s->s + i, s->len - i, &c);
		if (!n) {
			n = 1;
			c = '?';
		}
		if (c < 0x80) {
			/* "1,000" is 1000: commas between digits go */
			if (c == ',' && i && isdigit((unsigned char)s->s[i - 1]) && i + 1 < s->len &&
			    isdigit((unsigned char)s->s[i + 1])) {
				i += n;
				continue;
			}
			if (c == '\'')  /* quotes go */
				c = '-';
			tpl_buf_addc(cx, &a, (char)tolower((int)c));
		} else {
			const char *t = translit(c);
			for (; t && *t; t++)
				tpl_buf_addc(cx, &a, (char)tolower((unsigned char)*t));
			if (!t)
				tpl_buf_addc(cx, &a, '-');
		}
		i += n;
	}
	struct tpl_buf b = { 0 };
	bool pending = false;
	for (size_t i = 0; i < a.len; i++) {
		char c = a.p[i];
		if (isalnum((unsigned char)c)) {
			if (pending && b.len)
				tpl_buf_add(cx, &b, sep->s, sep->len);
			pending = false;
			tpl_buf_addc(cx, &b, c);
		} else {
			pending = true;
		}
	}
	if (!b.len)
		return tv_cstr(cx, "unknown");
	return tv_strv(tpl_buf_done(cx, &b));
}

/* Home Assistant's ordinal: 1st 2nd 3rd 4th ... 11th 12th 13th 21st. */
FN(ha_ordinal)
{
	const struct tv_str *s = str_of(cx, args[0]);
	if (!s->len || !isdigit((unsigned char)s->s[s->len - 1]) ||
	    (s->len > 1 && !isdigit((unsigned char)s->s[s->len - 2]) && s->s[s->len - 2] != '-'))
		tpl_fail(cx, "invalid literal for int() with base 10: '%s'", s->s);
	int last = s->s[s->len - 1] - '0';
	int two = s->len > 1 && isdigit((unsigned char)s->s[s->len - 2])
		? (s->s[s->len - 2] - '0') * 10 + last : last;
	static const char *const suffix[] = { "th", "st", "nd", "rd", "th", "th", "th", "th", "th",
					      "th" };
	const char *sfx = two >= 11 && two <= 13 ? "th" : suffix[last];
	struct tpl_buf b = { 0 };
	tpl_buf_add(cx, &b, s->s, s->len);
	tpl_buf_puts(cx, &b, sfx);
	return tv_strv(tpl_buf_done(cx, &b));
}

/* ---- bytes -------------------------------------------------------------------------- */

static struct tv bytes_of(struct tpl_ctx *cx, const char *s, size_t n)
{
	struct tv v = tv_string(cx, s, n);
	v.t = TV_BYTES;
	return v;
}

FN(ha_base64_encode)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const struct tv_str *s = args[0].t == TV_BYTES ? args[0].s : str_of(cx, args[0]);
	if (args[0].t != TV_BYTES && args[0].t != TV_STR)
		tpl_fail(cx, "'%s' object has no attribute 'encode'", tv_type_name(args[0]));
	tpl_work(cx, TPL_W_CHAR * (uint64_t)s->len);
	struct tpl_buf b = { 0 };
	const unsigned char *p = (const unsigned char *)s->s;
	for (size_t i = 0; i < s->len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < s->len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < s->len)
			v |= p[i + 2];
		char q[4] = { tab[v >> 18], tab[v >> 12 & 63], i + 1 < s->len ? tab[v >> 6 & 63] : '=',
			      i + 2 < s->len ? tab[v & 63] : '=' };
		tpl_buf_add(cx, &b, q, 4);
	}
	return tv_strv(tpl_buf_done(cx, &b));
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* Python's b64decode (not validating: characters outside the alphabet
 * are skipped), then decoded as encoding (utf-8; None: the bytes). */
FN(ha_base64_decode)
{
	const struct tv *ev = ARG(1, "encoding");
	const struct tv_str *s = args[0].t == TV_BYTES ? args[0].s : str_of(cx, args[0]);
	tpl_work(cx, TPL_W_CHAR * (uint64_t)s->len);
	struct tpl_buf b = { 0 };
	uint32_t acc = 0;
	int bits = 0, quads = 0, pad = 0;
	for (size_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->s[i];
		if (c == '=') {
			/* padding ends the data once the quad can be completed */
			if (quads % 4 >= 2 && quads % 4 + ++pad >= 4)
				break;
			continue;
		}
		int v = b64_value(c);
		if (v < 0)
			continue;
		if (pad)
			tpl_fail(cx, "Incorrect padding");   /* data after '=' */
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		quads++;
		if (bits >= 8) {
			bits -= 8;
			tpl_buf_addc(cx, &b, (char)(acc >> bits & 0xff));
		}
	}
	if (quads % 4 == 1)
		tpl_fail(cx, "Invalid base64-encoded string: number of data characters (%d) cannot be "
			 "1 more than a multiple of 4", quads);
	if (quads % 4 && quads % 4 + pad < 4)
		tpl_fail(cx, "Incorrect padding");
	struct tv out = bytes_of(cx, b.p ? b.p : "", b.len);
	if (ev && ev->t == TV_NONE)
		return out;
	const char *enc = ev ? tpl_str_of(cx, *ev) : "utf-8";
	if (strcasecmp(enc, "utf-8") != 0 && strcasecmp(enc, "utf8") != 0 &&
	    strcasecmp(enc, "ascii") != 0)
		tpl_fail(cx, "unknown encoding: %s", enc);
	for (size_t i = 0; i < out.s->len;) {
		uint32_t c;
		size_t n = utf8__decode((const unsigned char *)out.s->s + i, out.s->len - i, &c);
		if (!n || (c >= 0x80 && strcasecmp(enc, "ascii") == 0))
			tpl_fail(cx, "'%s' codec can't decode byte 0x%02x in position %zu", enc,
				 (unsigned char)out.s->s[i], i);
		i += n;
	}
	out.t = TV_STR;
	return out;
}

FN(ha_from_hex)
{
	if (args[0].t != TV_STR)
		tpl_fail(cx, "fromhex() argument must be str, not %s", tv_type_name(args[0]));
	const struct tv_str *s = args[0].s;
	tpl_work(cx, TPL_W_CHAR * (uint64_t)s->len);
	struct tpl_buf b = { 0 };
	for (size_t i = 0; i < s->len;) {
		if (isspace((unsigned char)s->s[i])) {
			i++;
			continue;
		}
		if (i + 1 >= s->len || !isxdigit((unsigned char)s->s[i]) ||
		    !isxdigit((unsigned char)s->s[i + 1]))
			tpl_fail(cx, "non-hexadecimal number found in fromhex() arg at position %zu",
				 i + (i + 1 < s->len && isxdigit((unsigned char)s->s[i])));
		char h[3] = { s->s[i], s->s[i + 1], 0 };
		tpl_buf_addc(cx, &b, (char)strtol(h, NULL, 16));
		i += 2;
	}
	return bytes_of(cx, b.p ? b.p : "", b.len);
}

FN(ha_ord)
{
	struct tv v = args[0];
	if (v.t == TV_BYTES) {
		if (v.s->len != 1)
			tpl_fail(cx, "ord() expected a character, but string of length %zu found",
				 v.s->len);
		return tv_int((unsigned char)v.s->s[0]);
	}
	if (v.t != TV_STR)
		tpl_fail(cx, "ord() expected string of length 1, but %s found", tv_type_name(v));
	uint32_t c;
	size_t n = utf8__decode((const unsigned char *)v.s->s, v.s->len, &c);
	if (!n || n != v.s->len)
		tpl_fail(cx, "ord() expected a character, but string of length %zu found",
			 tpl_utf8_len(v.s->s, v.s->len));
	return tv_int(c);
}

/* ---- struct ------------------------------------------------------------------------- */

/* One format of Python's struct: byte order, then one code (with a count
 * for 's'). */
struct pack_fmt {
	bool little, native;
	char code;
	size_t size, count;
};

static bool pack_parse(const char *f, struct pack_fmt *p)
{
	p->little = true;
	p->native = true;
	if (*f && strchr("@=<>!", *f)) {
		p->native = *f == '@';
		p->little = *f == '<' || *f == '=' || *f == '@';
		f++;
	}
	p->count = 1;
	if (isdigit((unsigned char)*f)) {
		p->count = 0;
		while (isdigit((unsigned char)*f) && p->count < 1000000)
			p->count = p->count * 10 + (size_t)(*f++ - '0');
	}
	p->code = *f;
	if (!*f || f[1])
		return false;
	switch (*f) {
	case 'x': case 'c': case 'b': case 'B': case '?': case 's': case 'p': p->size = 1; break;
	case 'h': case 'H': case 'e': p->size = 2; break;
	case 'i': case 'I': case 'f': p->size = 4; break;
	case 'l': case 'L': p->size = p->native ? 8 : 4; break;
	case 'q': case 'Q': case 'd': case 'n': case 'N': case 'P': p->size = 8; break;
	default: return false;
	}
	if (strchr("nNP", *f) && !p->native)
		return false;
	if (*f != 's' && *f != 'p' && *f != 'x' && p->count != 1)
		return false;
	return true;
}

static void put_uint(unsigned char *o, uint64_t v, size_t n, bool little)
{
	for (size_t i = 0; i < n; i++)
		o[little ? i : n - 1 - i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_uint(const unsigned char *o, size_t n, bool little)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)o[little ? i : n - 1 - i] << (8 * i);
	return v;
}

/* Home Assistant's pack(value, format): struct.pack of one value, None
 * (and a warning in Home Assistant's log) when it does not fit. */
FN(ha_pack)
{
	const struct tv *fv = ARG(1, "format_string");
	struct pack_fmt p;
	struct tv v = args[0];
	if (!fv || fv->t != TV_STR || !pack_parse(fv->s->s, &p) || p.code == 'x')
		return tv_none();
	unsigned char o[8] = { 0 };
	if (p.code == 's' || p.code == 'p') {
		if (v.t != TV_BYTES)
			return tv_none();
		if (p.count > cx->max_output)
			tpl_fail_code(cx, -E2BIG, "output too long");
		tpl_work(cx, p.count);
		char *buf = tpl_alloc(cx, p.count + 1);
		memset(buf, 0, p.count);
		size_t n = v.s->len < p.count ? v.s->len : p.count;
		if (p.code == 'p' && p.count) {
			n = n < p.count - 1 ? n : p.count - 1;
			buf[0] = (char)(n > 255 ? 255 : n);
			memcpy(buf + 1, v.s->s, n);
		} else {
			memcpy(buf, v.s->s, n);
		}
		return bytes_of(cx, buf, p.count);
	}
	if (p.code == 'c') {
		if (v.t != TV_BYTES || v.s->len != 1)
			return tv_none();
		return v;
	}
	if (strchr("efd", p.code)) {
		double d;
		if (!tv_is_number(v))
			return tv_none();
		d = tv_as_double(v);
		if (p.code == 'd') {
			uint64_t u;
			memcpy(&u, &d, 8);
			put_uint(o, u, 8, p.little);
		} else if (p.code == 'f') {
			float f = (float)d;
			uint32_t u;
			if (isfinite(d) && !isfinite(f))
				return tv_none();
			memcpy(&u, &f, 4);
			put_uint(o, u, 4, p.little);
		} else {
			return tv_none();   /* half floats: rare; refused */
		}
		return bytes_of(cx, (char *)o, p.size);
	}
	if (v.t != TV_INT && v.t != TV_BOOL)
		return tv_none();
	int64_t i = v.t == TV_INT ? v.i : v.b;
	if (p.code == '?') {
		o[0] = i != 0;
		return bytes_of(cx, (char *)o, 1);
	}
	bool is_signed = islower((unsigned char)p.code) && p.code != 'e';
	if (p.size < 8) {
		int64_t lo = is_signed ? -(INT64_C(1) << (p.size * 8 - 1)) : 0;
		int64_t hi = is_signed ? (INT64_C(1) << (p.size * 8 - 1)) - 1
				       : (INT64_C(1) << (p.size * 8)) - 1;
		if (i < lo || i > hi)
			return tv_none();
	} else if (!is_signed && i < 0) {
		return tv_none();
	}
	put_uint(o, (uint64_t)i, p.size, p.little);
	return bytes_of(cx, (char *)o, p.size);
}

/* Home Assistant's unpack(value, format, offset=0): the first value of
 * struct.unpack_from, None when the bytes do not hold it. */
FN(ha_unpack)
{
	const struct tv *fv = ARG(1, "format_string"), *ov = ARG(2, "offset");
	struct pack_fmt p;
	if (!fv || fv->t != TV_STR || !pack_parse(fv->s->s, &p) || p.code == 'x')
		return tv_none();
	if (args[0].t != TV_BYTES)
		tpl_fail(cx, "a bytes-like object is required, not '%s'", tv_type_name(args[0]));
	int64_t off = ov && ov->t == TV_INT ? ov->i : 0;
	const struct tv_str *s = args[0].s;
	if (off < 0)
		off += (int64_t)s->len;
	size_t need = (p.code == 's' || p.code == 'p') ? p.count : p.size;
	if (off < 0 || (uint64_t)off > s->len || s->len - (size_t)off < need)
		return tv_none();
	const unsigned char *b = (const unsigned char *)s->s + off;
	switch (p.code) {
	case 's':
		return bytes_of(cx, (const char *)b, p.count);
	case 'p': {
		size_t n = p.count ? (b[0] < p.count - 1 ? b[0] : p.count - 1) : 0;
		return bytes_of(cx, (const char *)b + 1, n);
	}
	case 'c':
		return bytes_of(cx, (const char *)b, 1);
	case '?':
		return tv_bool(b[0] != 0);
	case 'd': {
		uint64_t u = get_uint(b, 8, p.little);
		double d;
		memcpy(&d, &u, 8);
		return tv_float(d);
	}
	case 'f': {
		uint32_t u = (uint32_t)get_uint(b, 4, p.little);
		float f;
		memcpy(&f, &u, 4);
		return tv_float(f);
	}
	case 'e': {
		uint16_t h = (uint16_t)get_uint(b, 2, p.little);
		int e = h >> 10 & 31, m = h & 1023;
		double d = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY)
						    : ldexp(m + 1024, e - 25);
		return tv_float(h >> 15 ? -d : d);
	}
	default: {
		uint64_t u = get_uint(b, p.size, p.little);
		bool is_signed = islower((unsigned char)p.code);
		if (is_signed && p.size < 8 && (u >> (p.size * 8 - 1)))
			u |= ~UINT64_C(0) << (p.size * 8);
		if (!is_signed && u > INT64_MAX)
			return tv_float((double)u);   /* beyond int64: a float here */
		return tv_int((int64_t)u);
	}
	}
}

/* ---- versions ------------------------------------------------------------------------ */

/* The next section of a version at *p: its digits' value (or -1 when it
 * starts with a letter: a modifier such as b1, rc2, dev0) and its text. */
static long long ver_section(const char **p, const char *e, const char **text, size_t *n)
{
	while (*p < e && (**p == '.' || **p == '-' || **p == '+' || **p == '_'))
		(*p)++;
	*text = *p;
	if (*p < e && isdigit((unsigned char)**p)) {
		long long v = 0;
		while (*p < e && isdigit((unsigned char)**p)) {
			if (v < 1000000000000LL)
				v = v * 10 + (**p - '0');
			(*p)++;
		}
		*n = (size_t)(*p - *text);
		return v;
	}
	while (*p < e && !strchr(".-+_", **p))
		(*p)++;
	*n = (size_t)(*p - *text);
	return -1;
}

int tpl_version_cmp(const struct tv_str *a, const struct tv_str *b)
{
	const char *p = a->s, *pe = p + a->len, *q = b->s, *qe = q + b->len;
	if (p < pe && (*p == 'v' || *p == 'V'))
		p++;
	if (q < qe && (*q == 'v' || *q == 'V'))
		q++;
	while (p < pe || q < qe) {
		const char *ta, *tb;
		size_t na = 0, nb = 0;
		long long x = p < pe ? ver_section(&p, pe, &ta, &na) : -2;
		long long y = q < qe ? ver_section(&q, qe, &tb, &nb) : -2;
		if (x == -2 && y == -2)
			return 0;
		/* a modifier (-1) sorts before the release it modifies (-2,
		 * nothing more), and that before a further number */
		if (x >= 0 && y >= 0) {
			if (x != y)
				return x < y ? -1 : 1;
			continue;
		}
		if (x == -1 && y == -1) {
			int c = memcmp(ta, tb, na < nb ? na : nb);
			if (c || na != nb)
				return c ? (c < 0 ? -1 : 1) : (na < nb ? -1 : 1);
			continue;
		}
		long long rx = x == -1 ? -3 : x, ry = y == -1 ? -3 : y;
		return rx < ry ? -1 : rx > ry ? 1 : 0;
	}
	return 0;
}

FN(ha_version)
{
	tpl_check_defined(cx, args[0]);
	if (args[0].t == TV_NONE || (args[0].t != TV_STR && !tv_is_number(args[0])))
		tpl_fail(cx, "Can't create a version of %s", tpl_typeof(args[0]));
	struct tv v = tv_strv(str_of(cx, args[0]));
	v.utcoffset = 2;
	return v;
}

/* ---- hashes -------------------------------------------------------------------------- */

static struct tv hash_filter(struct tpl_ctx *cx, struct tv v, enum tpl_hash h)
{
	const struct tv_str *s = str_of(cx, v);
	if (v.t != TV_STR)
		tpl_fail(cx, "'%s' object has no attribute 'encode'", tv_type_name(v));
	unsigned char d[64];
	/* about 12 ns a byte for SHA-512 (bench_template --worst) */
	tpl_work_n(cx, s->len + 20, 4 * TPL_W_CHAR);
	size_t n = tpl_hash(h, s->s, s->len, d);
	char hex[129];
	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return tv_string(cx, hex, 2 * n);
}

FN(ha_md5) { return hash_filter(cx, args[0], TPL_MD5); }
FN(ha_sha1) { return hash_filter(cx, args[0], TPL_SHA1); }
FN(ha_sha256) { return hash_filter(cx, args[0], TPL_SHA256); }
FN(ha_sha512) { return hash_filter(cx, args[0], TPL_SHA512); }

#define F TPL_FILTER
#define U TPL_FUNCTION
const struct tpl_builtin tpl_text_builtins[] = {
	{ "escape", F, f_escape, 1, 1, false },
	{ "e", F, f_escape, 1, 1, false },
	{ "forceescape", F, f_forceescape, 1, 1, false },
	{ "safe", F, f_safe, 1, 1, false },
	{ "striptags", F, f_striptags, 1, 1, false },
	{ "urlize", F, f_urlize, 1, 6, false },
	{ "urlencode", F, f_urlencode, 1, 1, false },
	{ "indent", F, f_indent, 1, 4, false },
	{ "wordwrap", F, f_wordwrap, 1, 5, false },
	{ "filesizeformat", F, f_filesizeformat, 1, 2, false },
	{ "xmlattr", F, f_xmlattr, 1, 2, false },
	{ "pprint", F, f_pprint, 1, 1, false },
	{ "slugify", U | F, ha_slugify, 1, 2, false },
	{ "ordinal", F, ha_ordinal, 1, 1, false },
	{ "urlencode", U, ha_urlencode, 1, 1, false },
	{ "base64_encode", F, ha_base64_encode, 1, 1, false },
	{ "base64_decode", F, ha_base64_decode, 1, 2, false },
	{ "from_hex", F, ha_from_hex, 1, 1, false },
	{ "ord", F, ha_ord, 1, 1, false },
	{ "pack", U | F, ha_pack, 2, 2, false },
	{ "unpack", U | F, ha_unpack, 2, 3, false },
	{ "version", U | F, ha_version, 1, 1, false },
	{ "md5", U | F, ha_md5, 1, 1, false },
	{ "sha1", U | F, ha_sha1, 1, 1, false },
	{ "sha256", U | F, ha_sha256, 1, 1, false },
	{ "sha512", U | F, ha_sha512, 1, 1, false },
	{ NULL, 0, NULL, 0, 0, false },
};
#undef F
#undef U
