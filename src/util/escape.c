/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/escape.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The code point of the UTF-8 sequence at @s (@len bytes left) and its
 * length, or 0 for an invalid one (overlong, surrogate, > U+10FFFF,
 * truncated, a stray continuation byte).
 */
static size_t
utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t n;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/*
 * Code points that move or hide text on a terminal: C0, DEL, C1; the
 * bidirectional marks, embeddings, overrides and isolates; the line and
 * paragraph separators; and the invisible format characters that hide or
 * join text (zero-width space and joiners, word joiner and invisible
 * operators, the BOM, the tag characters).
 */
static bool
needs_escape(uint32_t c)
{
	return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x061c ||
	       (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) ||
	       (c >= 0x2060 && c <= 0x206f) || c == 0xfeff || (c >= 0xe0000 && c <= 0xe007f);
}

size_t
sg_str_escape(const char *str, size_t len, char *out, size_t size)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t need = 0, i = 0;
	bool full = false;

	if (size > 0)
		out[0] = '\0';
	while (i < len) {
		char esc[16];
		const char *piece = esc;
		size_t plen;
		uint32_t cp = 0;
		size_t n = utf8_next(s + i, len - i, &cp);

		if (n == 0) {
			plen = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", s[i]);
			n = 1;
		} else if (cp == '\\') {
			/* Doubled, so a literal "\x1b" never reads like an escaped ESC. */
			piece = "\\\\";
			plen = 2;
		} else if (!needs_escape(cp)) {
			piece = (const char *)s + i;
			plen = n;
		} else if (cp < 0x80) {
			plen = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", (unsigned)cp);
		} else {
			plen = (size_t)snprintf(esc, sizeof(esc), "\\u{%x}", (unsigned)cp);
		}
		/* Whole pieces only: a cut never leaves half an escape or character. */
		if (!full && need + plen < size) {
			memcpy(out + need, piece, plen);
			out[need + plen] = '\0';
		} else {
			full = true;
		}
		need += plen;
		i += n;
	}
	return need;
}

char *
sg_str_escape_dup(const char *s)
{
	size_t len = strlen(s), need = sg_str_escape(s, len, NULL, 0);
	char *out = malloc(need + 1);

	if (out)
		sg_str_escape(s, len, out, need + 1);
	return out;
}

/* True when @len bytes of @s are valid UTF-8 and, with @printable, hold nothing needs_escape. */
static bool
utf8_scan(const char *str, size_t len, bool printable)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_next(s + i, len - i, &cp);

		if (n == 0 || (printable && needs_escape(cp)))
			return false;
		i += n;
	}
	return true;
}

bool
sg_str_printable(const char *s, size_t len)
{
	return utf8_scan(s, len, true);
}

bool
sg_utf8_valid(const char *s, size_t len)
{
	return utf8_scan(s, len, false);
}

size_t
sg_utf8_cut(const char *str, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;
	/* Up to a whole character past @max, so one that starts before the cut is seen whole. */
	size_t len = strnlen(str, max + 4), i = 0;

	if (len <= max)
		return len;
	/* Walk whole characters (an invalid byte counts as one) until the next would not fit. */
	while (i < max) {
		uint32_t cp;
		size_t n = utf8_next(s + i, len - i, &cp);

		if (n == 0)
			n = 1;
		if (i + n > max)
			break;
		i += n;
	}
	return i;
}

char *
sg_utf8_sanitize(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len = strlen(str), o = 0;
	char *out;

	/* At worst each byte becomes the three of U+FFFD. */
	if (len > (SIZE_MAX - 1) / 3 || !(out = malloc(3 * len + 1)))
		return NULL;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_next(s + i, len - i, &cp);

		if (n == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	return out;
}

int
sg_name_check(const char *name, const char *what, struct sg_error *err)
{
	size_t len = strlen(name);

	if (len > SG_NAME_MAX)
		return sg_error_set(err, SG_E_USAGE, "%s is longer than %d bytes (%zu)", what,
				    SG_NAME_MAX, len);
	if (!sg_str_printable(name, len))
		return sg_error_set(
			err, SG_E_USAGE,
			"%s must be printable UTF-8 (no control characters, C1 controls, "
			"bidirectional overrides or invalid bytes)",
			what);
	return 0;
}
