/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * src/util/escape.c: names from outside (guest names, manifest keys, libvirt
 * domain names) on a terminal, and the name rule every recorded name obeys.
 */
#include <stdlib.h>
#include <string.h>

#include "vectors.h"
#include "util/escape.h"

struct case_esc {
	const char *id;
	const char *in;
	size_t len; /* 0: strlen(in) */
	const char *out;
	bool printable;
};

static const struct case_esc cases[] = {
	{ "plain", "db1", 0, "db1", true },
	{ "empty", "", 0, "", true },
	{ "space-punct", "a b-c_d.e:f/g", 0, "a b-c_d.e:f/g", true },
	/* A backslash is doubled, so "a\\x1b" never prints like an escaped ESC (vis(3)). */
	{ "backslash-doubled", "a\\x1b", 0, "a\\\\x1b", true },
	{ "backslash-vs-esc", "\\\x1b", 0, "\\\\\\x1b", false },
	{ "backslashes", "\\\\", 0, "\\\\\\\\", true },
	{ "esc-csi", "a\x1b[31mb", 0, "a\\x1b[31mb", false },
	{ "osc-title", "\x1b]0;pwned\x07", 0, "\\x1b]0;pwned\\x07", false },
	{ "cr-lf-tab", "\r\n\t", 0, "\\x0d\\x0a\\x09", false },
	{ "del", "\x7f", 0, "\\x7f", false },
	{ "nul-inside", "db1\0evil", 8, "db1\\x00evil", false },
	{ "c1-csi",
	  "\xc2\x9b"
	  "31m",
	  0, "\\u{9b}31m", false },
	{ "c1-first", "\xc2\x80", 0, "\\u{80}", false },
	{ "c1-last", "\xc2\x9f", 0, "\\u{9f}", false },
	{ "nbsp-kept", "\xc2\xa0", 0, "\xc2\xa0", true },
	{ "latin1-kept", "caf\xc3\xa9", 0, "caf\xc3\xa9", true },
	{ "cjk-kept", "\xe6\x97\xa5\xe6\x9c\xac", 0, "\xe6\x97\xa5\xe6\x9c\xac", true },
	{ "emoji-kept", "\xf0\x9f\x98\x80", 0, "\xf0\x9f\x98\x80", true },
	{ "rlo",
	  "abc\xe2\x80\xae"
	  "fdp.exe",
	  0, "abc\\u{202e}fdp.exe", false },
	{ "lre", "\xe2\x80\xaa", 0, "\\u{202a}", false },
	{ "lri", "\xe2\x81\xa6", 0, "\\u{2066}", false },
	{ "pdi", "\xe2\x81\xa9", 0, "\\u{2069}", false },
	{ "lrm", "\xe2\x80\x8e", 0, "\\u{200e}", false },
	{ "rlm", "\xe2\x80\x8f", 0, "\\u{200f}", false },
	{ "alm", "\xd8\x9c", 0, "\\u{61c}", false },
	{ "line-separator", "\xe2\x80\xa8", 0, "\\u{2028}", false },
	{ "paragraph-separator", "\xe2\x80\xa9", 0, "\\u{2029}", false },
	{ "invalid-ff",
	  "a\xff"
	  "b",
	  0, "a\\xffb", false },
	{ "invalid-continuation", "\x80", 0, "\\x80", false },
	{ "truncated-2", "x\xc3", 0, "x\\xc3", false },
	{ "truncated-3", "\xe2\x80", 0, "\\xe2\\x80", false },
	{ "overlong-slash", "\xc0\xaf", 0, "\\xc0\\xaf", false },
	{ "overlong-3", "\xe0\x80\xaf", 0, "\\xe0\\x80\\xaf", false },
	{ "surrogate", "\xed\xa0\x80", 0, "\\xed\\xa0\\x80", false },
	{ "over-10ffff", "\xf4\x90\x80\x80", 0, "\\xf4\\x90\\x80\\x80", false },
	{ "max-10ffff", "\xf4\x8f\xbf\xbf", 0, "\xf4\x8f\xbf\xbf", true },
	{ "bad-then-good", "\xc3(\xc3\xa9", 0, "\\xc3(\xc3\xa9", false },
	/* Invisible format characters that hide or join text. */
	{ "zwsp",
	  "a\xe2\x80\x8b"
	  "b",
	  0, "a\\u{200b}b", false },
	{ "zwnj", "\xe2\x80\x8c", 0, "\\u{200c}", false },
	{ "zwj", "\xe2\x80\x8d", 0, "\\u{200d}", false },
	{ "word-joiner", "\xe2\x81\xa0", 0, "\\u{2060}", false },
	{ "invisible-plus", "\xe2\x81\xa4", 0, "\\u{2064}", false },
	{ "reserved-2065", "\xe2\x81\xa5", 0, "\\u{2065}", false },
	{ "deprecated-206f", "\xe2\x81\xaf", 0, "\\u{206f}", false },
	{ "superscript-kept", "\xe2\x81\xb0", 0, "\xe2\x81\xb0", true },
	{ "bom",
	  "\xef\xbb\xbf"
	  "db1",
	  0, "\\u{feff}db1", false },
	{ "tag-first", "\xf3\xa0\x80\x80", 0, "\\u{e0000}", false },
	{ "tag-a", "db\xf3\xa0\x81\xa1", 0, "db\\u{e0061}", false },
	{ "tag-last", "\xf3\xa0\x81\xbf", 0, "\\u{e007f}", false },
	{ "after-tags-kept", "\xf3\xa0\x82\x80", 0, "\xf3\xa0\x82\x80", true },
	{ "zwsp-before-kept", "\xe2\x80\x8a", 0, "\xe2\x80\x8a", true },
};

static void
test_escape(void **state)
{
	const struct case_esc *t = *state;
	size_t len = t->len ? t->len : strlen(t->in);
	char out[256];
	char *dup;

	assert_int_equal(sg_str_escape(t->in, len, out, sizeof(out)), strlen(t->out));
	assert_string_equal(out, t->out);
	assert_int_equal(sg_str_printable(t->in, len), t->printable);
	if (!t->len) {
		assert_non_null(dup = sg_str_escape_dup(t->in));
		assert_string_equal(dup, t->out);
		free(dup);
	}
}

/* A short buffer: the result is cut before an escape or a character, never inside one. */
static void
test_truncate(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(sg_str_escape("a\x1b", 2, out, 6), 5);
	assert_string_equal(out, "a\\x1b");
	assert_int_equal(sg_str_escape("a\x1b", 2, out, 5), 5);
	assert_string_equal(out, "a");
	assert_int_equal(sg_str_escape("ab\xc3\xa9", 4, out, 4), 4);
	assert_string_equal(out, "ab");
	assert_int_equal(sg_str_escape("abc", 3, out, 1), 3);
	assert_string_equal(out, "");
	assert_int_equal(sg_str_escape("abc", 3, NULL, 0), 3);
	/* A doubled backslash is one piece too. */
	assert_int_equal(sg_str_escape("a\\", 2, out, 3), 3);
	assert_string_equal(out, "a");
}

/* For JSON: invalid bytes become U+FFFD, everything valid is kept (json-c escapes controls). */
static void
test_utf8_valid(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "db1", "db1" },
		{ "a\xff"
		  "b",
		  "a\xef\xbf\xbd"
		  "b" },
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\x1b[31m", "\x1b[31m" },
		{ "\xe2\x80\xae", "\xe2\x80\xae" },
		{ "x\xc3", "x\xef\xbf\xbd" },
	};

	(void)state;
	for (size_t i = 0; i < SG_ELEMENTSOF(t); i++) {
		char *s = sg_utf8_sanitize(t[i].in);

		assert_non_null(s);
		assert_string_equal(s, t[i].out);
		assert_int_equal(sg_utf8_valid(s, strlen(s)), true);
		free(s);
	}
	assert_int_equal(sg_utf8_valid("a\xff", 2), false);
}

/* A cut at @max bytes never splits a character. */
static void
test_utf8_cut(void **state)
{
	(void)state;
	assert_int_equal(sg_utf8_cut("abc", 2), 2);
	assert_int_equal(sg_utf8_cut("abc", 5), 3);
	assert_int_equal(sg_utf8_cut("a\xc3\xa9", 2), 1);
	assert_int_equal(sg_utf8_cut("a\xc3\xa9", 3), 3);
	assert_int_equal(sg_utf8_cut("\xe2\x80\xae", 2), 0);
	assert_int_equal(sg_utf8_cut("\xf0\x9f\x98\x80x", 4), 4);
	assert_int_equal(sg_utf8_cut("\xf0\x9f\x98\x80x", 3), 0);
	/* A character that starts before the cut and ends more than a byte past it. */
	assert_int_equal(sg_utf8_cut("a\xe2\x82\xac", 2), 1);
	assert_int_equal(sg_utf8_cut("ab\xf0\x9f\x98\x80", 3), 2);
	assert_int_equal(sg_utf8_cut("ab\xf0\x9f\x98\x80", 4), 2);
	assert_int_equal(sg_utf8_cut("ab\xf0\x9f\x98\x80", 5), 2);
	assert_int_equal(sg_utf8_cut("ab\xf0\x9f\x98\x80", 6), 6);
	/* Invalid bytes are not characters to keep whole: cut where asked. */
	assert_int_equal(sg_utf8_cut("\xff\xff\xff", 2), 2);
}

/* The name rule: at most 255 bytes of printable UTF-8; the message never echoes the name. */
static void
test_name_check(void **state)
{
	char big[300];
	struct sg_error err = { 0 };

	(void)state;
	TV_ASSERT_OK(sg_name_check("db1", "--guest", &err), &err);
	TV_ASSERT_OK(sg_name_check("caf\xc3\xa9 \xe6\x97\xa5", "--guest", &err), &err);
	memset(big, 'a', 255);
	big[255] = '\0';
	TV_ASSERT_OK(sg_name_check(big, "--guest", &err), &err);
	big[255] = 'a';
	big[256] = '\0';
	TV_ASSERT_ERR(sg_name_check(big, "--guest", &err), &err, SG_E_USAGE);
	assert_string_equal(err.msg, "--guest is longer than 255 bytes (256)");
	sg_error_clear(&err);
	TV_ASSERT_ERR(sg_name_check("db1\x1b[2J", "guest", &err), &err, SG_E_USAGE);
	assert_string_equal(err.msg, "guest must be printable UTF-8 (no control characters, C1 "
				     "controls, bidirectional overrides or invalid bytes)");
	sg_error_clear(&err);
	TV_ASSERT_ERR(sg_name_check("a\xe2\x80\xae", "--guest", &err), &err, SG_E_USAGE);
	sg_error_clear(&err);
	TV_ASSERT_ERR(sg_name_check("a\xff", "--guest", &err), &err, SG_E_USAGE);
	sg_error_clear(&err);
	TV_ASSERT_ERR(sg_name_check("a\xc2\x9b", "--guest", &err), &err, SG_E_USAGE);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(cases) + 4];
	size_t n = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(cases); i++)
		tests[n++] = (struct CMUnitTest){ .name = cases[i].id,
						  .test_func = test_escape,
						  .initial_state = (void *)&cases[i] };
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_truncate);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_utf8_valid);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_utf8_cut);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_name_check);
	return tv_main(argc, argv, "escape", tests, n, NULL, 0);
}
