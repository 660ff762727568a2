/* SPDX-License-Identifier: MIT */
/* UTF-8 validation (RFC 3629), byte by byte with an ASCII fast path: states
 * and topics are mostly ASCII. */
#include "config.h"

#include <stdint.h>

#include "lib/utf8.h"

bool utf8__valid(const char *str, size_t len, bool allow_nul)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + len;
	while (s < end) {
		unsigned c = *s;
		if (c < 0x80) {
			if (c == 0 && !allow_nul)
				return false;
			s++;
			continue;
		}
		unsigned n;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false; /* a continuation byte, or 0xf8..0xff */
		}
		if ((size_t)(end - s) <= n)
			return false;
		for (unsigned i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}
