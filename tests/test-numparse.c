/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/util/numparse.c: whole-string decimal or 0x hex, range-checked before use. */
#include <string.h>

#include "vectors.h"
#include "util/numparse.h"

#define UNTOUCHED 0x5a5a5a5a5a5a5a5aull

struct case_num {
	const char *id;
	const char *s;
	uint64_t max;
	int rc;
	uint64_t value;
};

static const struct case_num cases[] = {
	/* Decimal. */
	{ "dec-zero", "0", UINT64_MAX, 0, 0 },
	{ "dec-seven", "7", 255, 0, 7 },
	{ "dec-leading-zeros", "0007", 255, 0, 7 },
	{ "dec-u8-max", "255", 255, 0, 255 },
	{ "dec-u8-over", "256", 255, SG_E_USAGE, 0 },
	{ "dec-u8-way-over", "300", 255, SG_E_USAGE, 0 },
	{ "dec-u32-max", "4294967295", UINT32_MAX, 0, UINT32_MAX },
	{ "dec-u32-over", "4294967296", UINT32_MAX, SG_E_USAGE, 0 },
	{ "dec-u64-max", "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
	{ "dec-u64-overflow", "18446744073709551616", UINT64_MAX, SG_E_USAGE, 0 },
	{ "dec-u64-overflow-long", "99999999999999999999999", UINT64_MAX, SG_E_USAGE, 0 },
	/* Range max below 10: a single digit above the limit must fail. */
	{ "dec-max-5-ok", "5", 5, 0, 5 },
	{ "dec-max-5-digit-over", "9", 5, SG_E_USAGE, 0 },
	{ "dec-max-0-ok", "0", 0, 0, 0 },
	{ "dec-max-0-one", "1", 0, SG_E_USAGE, 0 },
	{ "dec-max-15-ok", "15", 15, 0, 15 },
	{ "dec-max-15-over", "16", 15, SG_E_USAGE, 0 },
	/* 0x hex. */
	{ "hex-lower", "0x7", 255, 0, 7 },
	{ "hex-upper-prefix", "0X1F", 255, 0, 0x1f },
	{ "hex-mixed-digits", "0xaBc", 0xfff, 0, 0xabc },
	{ "hex-u32-max", "0xffffffff", UINT32_MAX, 0, UINT32_MAX },
	{ "hex-u32-over", "0x100000000", UINT32_MAX, SG_E_USAGE, 0 },
	{ "hex-u64-max", "0xffffffffffffffff", UINT64_MAX, 0, UINT64_MAX },
	{ "hex-u64-overflow", "0x10000000000000000", UINT64_MAX, SG_E_USAGE, 0 },
	{ "hex-max-5-digit-over", "0x9", 5, SG_E_USAGE, 0 },
	{ "hex-max-9-digit-f", "0xf", 9, SG_E_USAGE, 0 },
	{ "hex-leading-zeros", "0x0000000000000000000001", 1, 0, 1 },
	{ "hex-no-digits", "0x", 255, SG_E_USAGE, 0 },
	{ "hex-bad-digit", "0xg", 255, SG_E_USAGE, 0 },
	{ "hex-digits-without-prefix", "ff", 255, SG_E_USAGE, 0 },
	{ "hex-double-prefix", "0x0x1", 255, SG_E_USAGE, 0 },
	/* Rejected forms. */
	{ "empty", "", 255, SG_E_USAGE, 0 },
	{ "plus-sign", "+1", 255, SG_E_USAGE, 0 },
	{ "minus-sign", "-1", 255, SG_E_USAGE, 0 },
	{ "leading-space", " 1", 255, SG_E_USAGE, 0 },
	{ "trailing-space", "1 ", 255, SG_E_USAGE, 0 },
	{ "trailing-newline", "1\n", 255, SG_E_USAGE, 0 },
	{ "underscore", "1_000", UINT64_MAX, SG_E_USAGE, 0 },
	{ "octal-prefix", "0o7", 255, SG_E_USAGE, 0 },
	{ "binary-prefix", "0b1", 255, SG_E_USAGE, 0 },
	{ "decimal-point", "1.0", 255, SG_E_USAGE, 0 },
	{ "exponent", "1e3", UINT64_MAX, SG_E_USAGE, 0 },
	{ "word", "seven", 255, SG_E_USAGE, 0 },
};

static void
test_parse(void **state)
{
	const struct case_num *t = *state;
	struct sg_error err = { 0 };
	uint64_t v = UNTOUCHED, v2 = UNTOUCHED;
	int rc;

	rc = sg_parse_uint_err(t->s, t->max, "--policy", &v, &err);
	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		assert_int_equal(v, t->value);
		assert_true(v <= t->max);
	} else {
		TV_ASSERT_ERR(rc, &err, t->rc);
		assert_non_null(strstr(err.msg, "--policy"));
		assert_int_equal(v, UNTOUCHED);
	}
	/* The err-less variant agrees. */
	assert_int_equal(sg_parse_uint(t->s, t->max, "--policy", &v2), t->rc);
	assert_int_equal(v2, t->rc == 0 ? t->value : UNTOUCHED);
	/* So does the one with the caller's code: the same message, that code. */
	{
		struct sg_error cerr = { 0 };
		uint64_t v3 = UNTOUCHED;

		rc = sg_parse_uint_code(t->s, t->max, "--policy", SG_E_FORMAT, &v3, &cerr);
		assert_int_equal(rc, t->rc == 0 ? 0 : SG_E_FORMAT);
		assert_int_equal(v3, t->rc == 0 ? t->value : UNTOUCHED);
		assert_int_equal(cerr.code, t->rc == 0 ? 0 : SG_E_FORMAT);
		assert_string_equal(cerr.msg, err.msg);
	}
}

static void
test_null_string(void **state)
{
	struct sg_error err = { 0 };
	uint64_t v = UNTOUCHED;

	(void)state;
	TV_ASSERT_ERR(sg_parse_uint_err(NULL, 255, "--api-major", &v, &err), &err, SG_E_USAGE);
	assert_int_equal(v, UNTOUCHED);
}

/* The first message wins: a second failure does not overwrite it. */
static void
test_first_message_wins(void **state)
{
	struct sg_error err = { 0 };
	uint64_t v = UNTOUCHED;
	char first[SG_ERROR_MSG_MAX];

	(void)state;
	TV_ASSERT_ERR(sg_parse_uint_err("x", 255, "--first", &v, &err), &err, SG_E_USAGE);
	strcpy(first, err.msg);
	assert_int_equal(sg_parse_uint_err("y", 255, "--second", &v, &err), SG_E_USAGE);
	assert_string_equal(err.msg, first);
	sg_error_clear(&err);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.msg, "");
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(cases) + 2];
	size_t n = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(cases); i++)
		tests[n++] = (struct CMUnitTest){ .name = cases[i].id,
						  .test_func = test_parse,
						  .initial_state = (void *)&cases[i] };
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_null_string);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_first_message_wins);
	return tv_main(argc, argv, "numparse", tests, n, NULL, 0);
}
