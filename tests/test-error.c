/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/util/error.c: the first failure wins; sg_error_prefix adds context in front of it. */
#include <string.h>

#include "vectors.h"
#include "util/error.h"

#define MAX (SG_ERROR_MSG_MAX - 1) /* longest message */

/* @n copies of @c, then @tail (static storage: rows point into it). */
static char *
rep(char *buf, size_t size, char c, size_t n, const char *tail)
{
	assert_true(n + strlen(tail) < size);
	memset(buf, c, n);
	strcpy(buf + n, tail);
	return buf;
}

struct case_prefix {
	const char *id;
	bool null_err;	 /* pass NULL as @err */
	int have_code;	 /* the failure already in @err (0: none) */
	const char *msg; /* its message */
	const char *prefix;
	int code; /* passed to sg_error_prefix */
	/* expected */
	int rc, want_code;
	const char *want_msg;
};

static char long_msg[600], long_want[600], utf8_msg[600], utf8_want[600], emoji_msg[600],
	emoji_want[600], long_prefix[700], long_prefix_want[600], utf8_prefix[600],
	utf8_prefix_want[600];

static struct case_prefix cases[] = {
	{ "set", false, SG_E_IO, "cannot open 'x': No such file", "manifest.yaml: ", SG_E_IO,
	  SG_E_IO, SG_E_IO, "manifest.yaml: cannot open 'x': No such file" },
	/* The first failure's code stays in @err; the caller's is only returned. */
	{ "set-other-code", false, SG_E_FORMAT, "bad character at offset 3", "--measurement: ",
	  SG_E_USAGE, SG_E_USAGE, SG_E_FORMAT, "--measurement: bad character at offset 3" },
	{ "set-empty-prefix", false, SG_E_KEY, "no such key", "", SG_E_KEY, SG_E_KEY, SG_E_KEY,
	  "no such key" },
	/* A failure set with an empty message: what a front end would print stands in for it. */
	{ "set-no-message", false, SG_E_TOKEN, "", "token 'a': ", SG_E_TOKEN, SG_E_TOKEN,
	  SG_E_TOKEN, "token 'a': SG_E_TOKEN" },
	{ "empty", false, 0, NULL, "fw.bin: ", SG_E_IO, SG_E_IO, SG_E_IO, "fw.bin: SG_E_IO" },
	{ "empty-success", false, 0, NULL, "fw.bin: ", 0, 0, 0, "" },
	{ "empty-count", false, 0, NULL, "fw.bin: ", 3, 3, 0, "" },
	{ "null", true, 0, NULL, "fw.bin: ", SG_E_VIRT, SG_E_VIRT, 0, NULL },
	/* Too long: the end of the old message goes first... */
	{ "overflow", false, SG_E_IO, long_msg, "0123456789: ", SG_E_IO, SG_E_IO, SG_E_IO,
	  long_want },
	/* ...never in the middle of a character (2 and 4 bytes)... */
	{ "overflow-utf8", false, SG_E_IO, utf8_msg, "0123456789: ", SG_E_IO, SG_E_IO, SG_E_IO,
	  utf8_want },
	{ "overflow-utf8-4", false, SG_E_IO, emoji_msg, "0123456789: ", SG_E_IO, SG_E_IO, SG_E_IO,
	  emoji_want },
	/* ...and a prefix longer than the limit leaves nothing of the old message. */
	{ "prefix-too-long", false, SG_E_IO, "old", long_prefix, SG_E_IO, SG_E_IO, SG_E_IO,
	  long_prefix_want },
	{ "prefix-too-long-utf8", false, SG_E_IO, "xyz", utf8_prefix, SG_E_IO, SG_E_IO, SG_E_IO,
	  utf8_prefix_want },
};

static void
make_rows(void)
{
	char tmp[600];

	/* 12-byte prefix: 499 bytes of room. */
	rep(long_msg, sizeof(long_msg), 'a', 550, "");
	snprintf(long_want, sizeof(long_want), "0123456789: %s",
		 rep(tmp, sizeof(tmp), 'a', 499, ""));
	/* "é" (c3 a9) at 498..499: byte 499 would be cut off, so the whole character goes. */
	rep(utf8_msg, sizeof(utf8_msg), 'a', 498, "\xc3\xa9tail");
	snprintf(utf8_want, sizeof(utf8_want), "0123456789: %s",
		 rep(tmp, sizeof(tmp), 'a', 498, ""));
	/* U+1F512 (f0 9f 94 92) at 497..500: only three bytes fit. */
	rep(emoji_msg, sizeof(emoji_msg), 'b', 497, "\xf0\x9f\x94\x92!");
	snprintf(emoji_want, sizeof(emoji_want), "0123456789: %s",
		 rep(tmp, sizeof(tmp), 'b', 497, ""));
	rep(long_prefix, sizeof(long_prefix), 'p', 650, "");
	rep(long_prefix_want, sizeof(long_prefix_want), 'p', MAX, "");
	/* "€" (e2 82 ac) at 510..512 does not fit: the prefix keeps 510 bytes, the message 1. */
	rep(utf8_prefix, sizeof(utf8_prefix), 'p', 510, "\xe2\x82\xac: ");
	rep(utf8_prefix_want, sizeof(utf8_prefix_want), 'p', 510, "x");
}

static void
test_prefix(void **state)
{
	const struct case_prefix *t = *state;
	struct sg_error err = { 0 };
	int rc;

	if (t->have_code)
		assert_int_equal(sg_error_set(&err, t->have_code, "%s", t->msg), t->have_code);
	rc = sg_error_prefix(t->null_err ? NULL : &err, t->code, "%s", t->prefix);
	assert_int_equal(rc, t->rc);
	if (t->null_err)
		return;
	assert_int_equal(err.code, t->want_code);
	assert_string_equal(err.msg, t->want_msg);
	assert_true(strlen(err.msg) <= MAX);
}

/* The prefix is a format; prefixes nest, the outermost first. */
static void
test_prefix_format_nested(void **state)
{
	struct sg_error err = { 0 };

	(void)state;
	assert_int_equal(sg_error_set(&err, SG_E_FORMAT, "unknown key '%s'", "polcy"), SG_E_FORMAT);
	assert_int_equal(sg_error_prefix(&err, SG_E_FORMAT, "%s:%u:%u: ", "m.yaml", 3u, 1u),
			 SG_E_FORMAT);
	assert_int_equal(sg_error_prefix(&err, SG_E_USAGE, "guest %s: ", "web-1"), SG_E_USAGE);
	assert_int_equal(err.code, SG_E_FORMAT);
	assert_string_equal(err.msg, "guest web-1: m.yaml:3:1: unknown key 'polcy'");
}

/* After a prefix the first failure still wins over a later sg_error_set. */
static void
test_first_wins(void **state)
{
	struct sg_error err = { 0 };

	(void)state;
	assert_int_equal(sg_error_set(&err, SG_E_IO, "first"), SG_E_IO);
	assert_int_equal(sg_error_prefix(&err, SG_E_IO, "a: "), SG_E_IO);
	assert_int_equal(sg_error_set(&err, SG_E_KEY, "second"), SG_E_KEY);
	assert_int_equal(err.code, SG_E_IO);
	assert_string_equal(err.msg, "a: first");
	sg_error_clear(&err);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.msg, "");
}

struct case_recode {
	const char *id;
	int have_code;	 /* the failure already in @err (0: none) */
	const char *msg; /* its message */
	int code;	 /* passed to sg_error_recode */
	/* expected */
	int want_code;
	const char *want_msg;
};

static const struct case_recode recodes[] = {
	/* A malformed manifest: its command's usage error, the message as reported. */
	{ "format", SG_E_FORMAT, "m.yaml:3:1: unknown key 'polcy'", SG_E_USAGE, SG_E_USAGE,
	  "m.yaml:3:1: unknown key 'polcy'" },
	{ "limit", SG_E_LIMIT, "too many URIs with a pin-value", SG_E_USAGE, SG_E_USAGE,
	  "too many URIs with a pin-value" },
	{ "no-message", SG_E_FORMAT, "", SG_E_USAGE, SG_E_USAGE, "SG_E_USAGE" },
	{ "empty", 0, NULL, SG_E_USAGE, SG_E_USAGE, "SG_E_USAGE" },
	{ "empty-success", 0, NULL, 0, 0, "" },
};

static void
test_recode(void **state)
{
	const struct case_recode *t = *state;
	struct sg_error err = { 0 };

	if (t->have_code)
		assert_int_equal(sg_error_set(&err, t->have_code, "%s", t->msg), t->have_code);
	assert_int_equal(sg_error_recode(&err, t->code), t->code);
	assert_int_equal(err.code, t->want_code);
	assert_string_equal(err.msg, t->want_msg);
	assert_int_equal(sg_error_recode(NULL, SG_E_USAGE), SG_E_USAGE);
}

struct case_outrank {
	const char *id;
	int have_code;	 /* the failure already in @err (0: none) */
	const char *msg; /* its message */
	int code;
	const char *new_msg;
	/* expected */
	const char *want_msg;
};

static char or_long_old[600], or_long_want[600], or_long_new[600], or_new_want[600],
	or_utf8_old[600], or_utf8_want[600];

static struct case_outrank outranks[] = {
	{ "verdict", SG_E_MISMATCH, "the measurement does not match", SG_E_IO,
	  "cannot write audit log 'a.log': disk full: the mismatch verdict is not recorded",
	  "cannot write audit log 'a.log': disk full: the mismatch verdict is not recorded "
	  "(the measurement does not match)" },
	{ "old-empty-message", SG_E_POLICY, "", SG_E_IO, "new", "new ()" },
	{ "empty", 0, NULL, SG_E_IO, "new", "new" },
	/* Too long: the end of the old message goes first, the ')' stays. */
	{ "overflow-old", SG_E_MISMATCH, or_long_old, SG_E_IO, "0123456789", or_long_want },
	/* ...never in the middle of a character... */
	{ "overflow-old-utf8", SG_E_MISMATCH, or_utf8_old, SG_E_IO, "0123456789", or_utf8_want },
	/* ...and a new message with no room for " ()" leaves none of it. */
	{ "overflow-new", SG_E_MISMATCH, "old", SG_E_IO, or_long_new, or_new_want },
};

static void
make_outrank_rows(void)
{
	char tmp[600];

	/* NEW is 10 bytes, " (" and ")" 3: 498 bytes of OLD fit. */
	rep(or_long_old, sizeof(or_long_old), 'a', 550, "");
	snprintf(or_long_want, sizeof(or_long_want), "0123456789 (%s)",
		 rep(tmp, sizeof(tmp), 'a', 498, ""));
	/* "é" (c3 a9) at 497..498: byte 498 does not fit, so the whole character goes. */
	rep(or_utf8_old, sizeof(or_utf8_old), 'a', 497, "\xc3\xa9tail");
	snprintf(or_utf8_want, sizeof(or_utf8_want), "0123456789 (%s)",
		 rep(tmp, sizeof(tmp), 'a', 497, ""));
	rep(or_long_new, sizeof(or_long_new), 'n', 510, "");
	rep(or_new_want, sizeof(or_new_want), 'n', 510, "");
}

static void
test_outrank(void **state)
{
	const struct case_outrank *t = *state;
	struct sg_error err = { 0 };

	if (t->have_code)
		assert_int_equal(sg_error_set(&err, t->have_code, "%s", t->msg), t->have_code);
	assert_int_equal(sg_error_outrank(&err, t->code, "%s", t->new_msg), t->code);
	assert_int_equal(err.code, t->code);
	assert_string_equal(err.msg, t->want_msg);
	assert_true(strlen(err.msg) <= MAX);
	assert_int_equal(sg_error_outrank(NULL, SG_E_IO, "x"), SG_E_IO);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest
		tests[SG_ELEMENTSOF(cases) + SG_ELEMENTSOF(recodes) + SG_ELEMENTSOF(outranks) + 2];
	size_t n = 0;

	make_rows();
	make_outrank_rows();
	for (size_t i = 0; i < SG_ELEMENTSOF(cases); i++)
		tests[n++] = ROW(test_prefix, cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(recodes); i++)
		tests[n++] = ROW(test_recode, recodes, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(outranks); i++)
		tests[n++] = ROW(test_outrank, outranks, i);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_prefix_format_nested);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_first_wins);
	return tv_main(argc, argv, "error", tests, n, NULL, 0);
}
