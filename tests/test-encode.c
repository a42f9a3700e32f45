/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/util/encode.c: hex and strict, exact-length base64. */
#include <string.h>

#include "vectors.h"
#include "util/encode.h"

#define FILL 0xa5

/* ---- hex ---- */

struct case_hex {
	const char *id;
	const char *hex;
	size_t len; /* bytes asked for */
	int rc;
	const char *bytes; /* expected, as lowercase hex (success rows) */
};

static const struct case_hex hex_cases[] = {
	{ "hex-empty", "", 0, 0, "" },
	{ "hex-lower", "00ff10ab", 4, 0, "00ff10ab" },
	{ "hex-upper", "00FF10AB", 4, 0, "00ff10ab" },
	{ "hex-mixed", "aBcD", 2, 0, "abcd" },
	{ "hex-tik", "3569cf61a32a602b87185ac6e0f55913", 16, 0,
	  "3569cf61a32a602b87185ac6e0f55913" },
	{ "hex-odd-length", "abc", 2, SG_E_FORMAT, NULL },
	{ "hex-too-short", "abcd", 3, SG_E_FORMAT, NULL },
	{ "hex-too-long", "abcdef", 2, SG_E_FORMAT, NULL },
	{ "hex-bad-first", "g0", 1, SG_E_FORMAT, NULL },
	{ "hex-bad-second", "0g", 1, SG_E_FORMAT, NULL },
	{ "hex-bad-late", "0011zz", 3, SG_E_FORMAT, NULL },
	{ "hex-space", "00 1", 2, SG_E_FORMAT, NULL },
	{ "hex-0x-prefix", "0x11", 2, SG_E_FORMAT, NULL },
};

static void
test_hex_decode(void **state)
{
	const struct case_hex *t = *state;
	struct sg_error err = { 0 };
	uint8_t out[32], want[32];
	int rc;

	memset(out, FILL, sizeof(out));
	rc = sg_hex_decode(t->hex, out, t->len, &err);
	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		size_t n = tv_unhex(t->bytes, want, sizeof(want));
		assert_int_equal(n, t->len);
		if (n)
			assert_memory_equal(out, want, n);
		assert_int_equal(out[n], FILL);
		return;
	}
	TV_ASSERT_ERR(rc, &err, t->rc);
	/* Nothing is written on failure, not even a decoded prefix. */
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], FILL);
}

static void
test_hex_encode(void **state)
{
	static const uint8_t in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char out[2 * sizeof(in) + 2];

	(void)state;
	memset(out, 'X', sizeof(out));
	sg_hex_encode(in, sizeof(in), out);
	assert_string_equal(out, "00017f80abff");
	sg_hex_encode(in, 0, out);
	assert_string_equal(out, "");
}

/* ---- base64 ---- */

struct case_b64 {
	const char *id;
	const char *b64;
	size_t cap;
	int rc;
	const char *hex; /* expected bytes (success rows) */
};

static const struct case_b64 b64_cases[] = {
	/* RFC 4648 section 10. */
	{ "b64-rfc-empty", "", 8, 0, "" },
	{ "b64-rfc-f", "Zg==", 8, 0, "66" },
	{ "b64-rfc-fo", "Zm8=", 8, 0, "666f" },
	{ "b64-rfc-foo", "Zm9v", 8, 0, "666f6f" },
	{ "b64-rfc-foob", "Zm9vYg==", 8, 0, "666f6f62" },
	{ "b64-rfc-fooba", "Zm9vYmE=", 8, 0, "666f6f6261" },
	{ "b64-rfc-foobar", "Zm9vYmFy", 8, 0, "666f6f626172" },
	{ "b64-all-symbols", "+/+/", 3, 0, "fbffbf" },
	{ "b64-exact-cap", "Zm9vYmFy", 6, 0, "666f6f626172" },
	{ "b64-mnonce-ms1", "wxP6tRHCFrFQWxsuqZA8QA==", 16, 0, "c313fab511c216b1505b1b2ea9903c40" },
	/* Padding. */
	{ "b64-missing-padding-2", "Zg", 8, SG_E_FORMAT, NULL },
	{ "b64-missing-padding-1", "Zm8", 8, SG_E_FORMAT, NULL },
	{ "b64-too-much-padding", "Zm9v====", 8, SG_E_FORMAT, NULL },
	{ "b64-pad-only", "====", 8, SG_E_FORMAT, NULL },
	{ "b64-pad-in-middle", "Zg==Zg==", 8, SG_E_FORMAT, NULL },
	{ "b64-pad-then-char", "Zg=A", 8, SG_E_FORMAT, NULL },
	{ "b64-triple-pad", "Z===", 8, SG_E_FORMAT, NULL },
	/* Bad characters. */
	{ "b64-bad-char-first", "!m9v", 8, SG_E_FORMAT, NULL },
	{ "b64-bad-char-late", "Zm9vYm!y", 8, SG_E_FORMAT, NULL },
	{ "b64-urlsafe-minus", "Zm9-", 8, SG_E_FORMAT, NULL },
	{ "b64-urlsafe-underscore", "Zm9_", 8, SG_E_FORMAT, NULL },
	{ "b64-newline", "Zm9v\nYmFy", 8, SG_E_FORMAT, NULL },
	{ "b64-trailing-newline", "Zm9vYmFy\n", 8, SG_E_FORMAT, NULL },
	{ "b64-space", "Zm9v YmFy", 8, SG_E_FORMAT, NULL },
	{ "b64-nul-in-quad", "Zm9vYmF\x01", 8, SG_E_FORMAT, NULL },
	/* Non-zero trailing bits. */
	{ "b64-trailing-bits-1", "Zh==", 8, SG_E_FORMAT, NULL },
	{ "b64-trailing-bits-2", "Zm9=", 8, SG_E_FORMAT, NULL },
	{ "b64-trailing-bits-late", "Zm9vYmFyZh==", 16, SG_E_FORMAT, NULL },
	/* Exact length: the decoded size must fit the caller's buffer. */
	{ "b64-one-over-cap", "Zm9vYmFy", 5, SG_E_FORMAT, NULL },
	{ "b64-49-for-48", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
	  48, SG_E_FORMAT, NULL },
	{ "b64-length-not-4n", "Zm9vY", 8, SG_E_FORMAT, NULL },
};

static void
test_b64_decode(void **state)
{
	const struct case_b64 *t = *state;
	struct sg_error err = { 0 };
	uint8_t out[64], want[64];
	size_t len = 777;
	int rc;

	memset(out, FILL, sizeof(out));
	rc = sg_base64_decode(t->b64, out, t->cap, &len, "measurement", &err);
	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		size_t n = tv_unhex(t->hex, want, sizeof(want));
		assert_int_equal(len, n);
		if (n)
			assert_memory_equal(out, want, n);
		assert_int_equal(out[n], FILL);
		return;
	}
	TV_ASSERT_ERR(rc, &err, t->rc);
	assert_non_null(strstr(err.msg, "measurement"));
	assert_int_equal(len, 777);
	/* A failed decode must not leave a decoded prefix in the caller's buffer. */
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], FILL);
}

/*
 * sg_base64_decode_arg, on every row: the same bytes and messages, a
 * malformed value reported as SG_E_USAGE in both the result and @err.
 */
static void
test_b64_decode_arg(void **state)
{
	(void)state;
	for (size_t i = 0; i < SG_ELEMENTSOF(b64_cases); i++) {
		const struct case_b64 *t = &b64_cases[i];
		struct sg_error efmt = { 0 }, earg = { 0 };
		uint8_t ofmt[64], oarg[64];
		size_t lfmt = 777, larg = 777;
		int rfmt, rarg;

		memset(ofmt, FILL, sizeof(ofmt));
		memset(oarg, FILL, sizeof(oarg));
		rfmt = sg_base64_decode(t->b64, ofmt, t->cap, &lfmt, "--measurement", &efmt);
		rarg = sg_base64_decode_arg(t->b64, oarg, t->cap, &larg, "--measurement", &earg);
		if (t->rc == 0) {
			TV_ASSERT_OK(rarg, &earg);
		} else {
			assert_int_equal(rfmt, SG_E_FORMAT);
			TV_ASSERT_ERR(rarg, &earg, SG_E_USAGE);
		}
		assert_string_equal(earg.msg, efmt.msg);
		assert_int_equal(larg, lfmt);
		assert_memory_equal(oarg, ofmt, sizeof(oarg));
	}
}

/* The 48-byte measurement blob decodes to exactly 48 bytes; 47 decodes short. */
static void
test_b64_exact_48(void **state)
{
	static const char blob[] =
		"Jtkm6DPHOLtKnVthiMCUs4dyWKB2Kb5yGoM6nUd3nvqgoaKjpKWmp6ipqqusra6v";
	struct sg_error err = { 0 };
	uint8_t out[48];
	size_t len = 0;
	char *b;
	uint8_t raw[47];

	(void)state;
	TV_ASSERT_OK(sg_base64_decode(blob, out, sizeof(out), &len, "measurement", &err), &err);
	assert_int_equal(len, 48);
	assert_int_equal(out[32], 0xa0);
	assert_int_equal(out[47], 0xaf);
	memset(raw, 0x11, sizeof(raw));
	b = tv_b64(raw, sizeof(raw));
	TV_ASSERT_OK(sg_base64_decode(b, out, sizeof(out), &len, "measurement", &err), &err);
	assert_int_equal(len, 47);
	free(b);
}

static void
test_b64_encode(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < SG_ELEMENTSOF(v); i++) {
		sg_base64_encode((const uint8_t *)v[i].in, strlen(v[i].in), out);
		assert_string_equal(out, v[i].out);
		assert_int_equal(strlen(out), SG_B64_ENCODED_LEN(strlen(v[i].in)));
	}
	assert_int_equal(SG_B64_ENCODED_LEN(52), 72);
}

/* Every length 0..300 round-trips against OpenSSL's encoder. */
static void
test_b64_roundtrip(void **state)
{
	uint8_t in[300], out[300];
	char enc[SG_B64_ENCODED_LEN(300) + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(in); n++) {
		struct sg_error err = { 0 };
		char *ref = tv_b64(in, n);
		size_t len = 0;

		sg_base64_encode(in, n, enc);
		assert_string_equal(enc, ref);
		TV_ASSERT_OK(sg_base64_decode(enc, out, n, &len, "x", &err), &err);
		assert_int_equal(len, n);
		if (n)
			assert_memory_equal(in, out, n);
		free(ref);
	}
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(hex_cases) + SG_ELEMENTSOF(b64_cases) + 5];
	size_t n = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(hex_cases); i++)
		tests[n++] = ROW(test_hex_decode, hex_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(b64_cases); i++)
		tests[n++] = ROW(test_b64_decode, b64_cases, i);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_hex_encode);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_b64_encode);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_b64_decode_arg);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_b64_exact_48);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_b64_roundtrip);
	return tv_main(argc, argv, "encode", tests, n, NULL, 0);
}
