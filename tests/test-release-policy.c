/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * src/validate/release-policy.c: (policy, platform, attested result) ->
 * released or SG_E_POLICY with the exact message; and the parsers of the
 * policy's option values.
 */
#include <stdio.h>
#include <string.h>

#include "vectors.h"
#include "core/policy.h"
#include "validate/release-policy.h"

#define NODBG SG_POLICY_NODBG
#define NOKS SG_POLICY_NOKS
#define ES SG_POLICY_ES
#define NOSEND SG_POLICY_NOSEND
#define DOMAIN SG_POLICY_DOMAIN
#define SEV SG_POLICY_SEV

/* A digest in a row is a tag byte: the SHA-256 is 32 bytes of it (0: none). */
#define TAGS_MAX 4

struct case_check {
	const char *id;
	/* The policy. */
	uint32_t require;
	bool have_min_api;
	uint8_t min_major, min_minor;
	bool have_min_build;
	uint8_t min_build;
	bool allow_debug, destroy_keys;
	uint8_t allowed_fw[TAGS_MAX], allowed_ld[TAGS_MAX];
	/* What the measurement vouched for. */
	uint8_t api_major, api_minor, build;
	uint32_t policy;
	/* The attested result. */
	uint8_t fw, ld; /* tag, 0: no firmware digest / no launch digest */
	const char *exportable_key;
	/* NULL: released. */
	const char *msg;
};

#define DBG_MSG(p)                                                                             \
	"release refused: guest policy " p " allows debugging (NODBG clear); set allow-debug " \
	"to release anyway"
#define LACKS(p, bit) "release refused: guest policy " p " lacks required bit " bit
#define FW_MSG "release refused: firmware is not in allowed-firmware-sha256"
#define LD_MSG "release refused: launch digest is not in allowed-launch-digests"

static const struct case_check check_cases[] = {
	/* The empty policy: any non-debuggable guest. */
	{ .id = "empty-policy-nodbg", .policy = NODBG, .fw = 0xa1, .ld = 0xb1 },
	{ .id = "empty-policy-nothing-attested", .policy = NODBG },
	/* allow-debug. */
	{ .id = "debug-refused", .policy = 0, .msg = DBG_MSG("0x0") },
	{ .id = "debug-refused-es", .policy = ES | SEV, .msg = DBG_MSG("0x24") },
	{ .id = "debug-allowed", .policy = ES, .allow_debug = true },
	{ .id = "debug-allowed-still-needs-bits",
	  .policy = 0,
	  .allow_debug = true,
	  .require = ES,
	  .msg = LACKS("0x0", "es") },
	/* require-policy bits, one at a time and the first missing one in table order. */
	{ .id = "require-nodbg-set", .require = NODBG, .policy = NODBG },
	{ .id = "require-nodbg-clear-is-debug",
	  .require = NODBG,
	  .allow_debug = true,
	  .policy = ES,
	  .msg = LACKS("0x4", "nodbg") },
	{ .id = "require-noks", .require = NOKS, .policy = NODBG, .msg = LACKS("0x1", "noks") },
	{ .id = "require-es", .require = ES, .policy = NODBG, .msg = LACKS("0x1", "es") },
	{ .id = "require-nosend",
	  .require = NOSEND,
	  .policy = NODBG,
	  .msg = LACKS("0x1", "nosend") },
	{ .id = "require-domain",
	  .require = DOMAIN,
	  .policy = NODBG,
	  .msg = LACKS("0x1", "domain") },
	{ .id = "require-sev", .require = SEV, .policy = NODBG, .msg = LACKS("0x1", "sev") },
	{ .id = "require-all-present",
	  .require = NODBG | NOKS | ES | NOSEND | DOMAIN | SEV,
	  .policy = 0x3f },
	{ .id = "require-all-present-extra-bits",
	  .require = NODBG | ES,
	  .policy = NODBG | ES | (1u << 16) },
	{ .id = "require-first-missing-named",
	  .require = ES | NOSEND | SEV,
	  .policy = NODBG | NOSEND,
	  .msg = LACKS("0x9", "es") },
	{ .id = "require-last-missing-named",
	  .require = NOKS | SEV,
	  .policy = NODBG | NOKS,
	  .msg = LACKS("0x3", "sev") },
	/* min-api: equal is allowed, one below refused, the minor counts only at an equal major. */
	{ .id = "min-api-equal",
	  .have_min_api = true,
	  .min_major = 0,
	  .min_minor = 24,
	  .api_major = 0,
	  .api_minor = 24,
	  .policy = NODBG },
	{ .id = "min-api-minor-below",
	  .have_min_api = true,
	  .min_major = 0,
	  .min_minor = 24,
	  .api_major = 0,
	  .api_minor = 23,
	  .policy = NODBG,
	  .msg = "release refused: SEV API 0.23 is older than min-api 0.24" },
	{ .id = "min-api-major-below",
	  .have_min_api = true,
	  .min_major = 1,
	  .min_minor = 0,
	  .api_major = 0,
	  .api_minor = 255,
	  .policy = NODBG,
	  .msg = "release refused: SEV API 0.255 is older than min-api 1.0" },
	{ .id = "min-api-major-above-minor-below",
	  .have_min_api = true,
	  .min_major = 1,
	  .min_minor = 50,
	  .api_major = 2,
	  .api_minor = 0,
	  .policy = NODBG },
	{ .id = "min-api-minor-above",
	  .have_min_api = true,
	  .min_major = 1,
	  .min_minor = 50,
	  .api_major = 1,
	  .api_minor = 51,
	  .policy = NODBG },
	{ .id = "min-api-zero-zero", .have_min_api = true, .policy = NODBG },
	{ .id = "min-api-unset-ignores-old-api",
	  .min_major = 9,
	  .min_minor = 9,
	  .api_major = 0,
	  .api_minor = 1,
	  .policy = NODBG },
	{ .id = "min-api-max",
	  .have_min_api = true,
	  .min_major = 255,
	  .min_minor = 255,
	  .api_major = 255,
	  .api_minor = 254,
	  .policy = NODBG,
	  .msg = "release refused: SEV API 255.254 is older than min-api 255.255" },
	/* min-build. */
	{ .id = "min-build-equal",
	  .have_min_build = true,
	  .min_build = 15,
	  .build = 15,
	  .policy = NODBG },
	{ .id = "min-build-one-below",
	  .have_min_build = true,
	  .min_build = 15,
	  .build = 14,
	  .policy = NODBG,
	  .msg = "release refused: firmware build 14 is older than min-build 15" },
	{ .id = "min-build-above",
	  .have_min_build = true,
	  .min_build = 15,
	  .build = 16,
	  .policy = NODBG },
	{ .id = "min-build-zero",
	  .have_min_build = true,
	  .min_build = 0,
	  .build = 0,
	  .policy = NODBG },
	{ .id = "min-build-255",
	  .have_min_build = true,
	  .min_build = 255,
	  .build = 254,
	  .policy = NODBG,
	  .msg = "release refused: firmware build 254 is older than min-build 255" },
	{ .id = "min-build-unset-ignores-old-build",
	  .min_build = 200,
	  .build = 1,
	  .policy = NODBG },
	/* allowed-firmware-sha256. */
	{ .id = "fw-listed", .allowed_fw = { 0xa1 }, .fw = 0xa1, .policy = NODBG },
	{ .id = "fw-listed-last-of-three",
	  .allowed_fw = { 0xa1, 0xa2, 0xa3 },
	  .fw = 0xa3,
	  .policy = NODBG },
	{ .id = "fw-not-listed",
	  .allowed_fw = { 0xa1, 0xa2 },
	  .fw = 0xa9,
	  .policy = NODBG,
	  .msg = FW_MSG },
	{ .id = "fw-absent", .allowed_fw = { 0xa1 }, .fw = 0, .policy = NODBG, .msg = FW_MSG },
	{ .id = "fw-listed-is-not-ld",
	  .allowed_ld = { 0xa1 },
	  .fw = 0xa1,
	  .ld = 0xb1,
	  .policy = NODBG,
	  .msg = LD_MSG },
	/* allowed-launch-digests. */
	{ .id = "ld-listed", .allowed_ld = { 0xb1 }, .ld = 0xb1, .policy = NODBG },
	{ .id = "ld-listed-second", .allowed_ld = { 0xb1, 0xb2 }, .ld = 0xb2, .policy = NODBG },
	{ .id = "ld-not-listed",
	  .allowed_ld = { 0xb1 },
	  .ld = 0xb3,
	  .policy = NODBG,
	  .msg = LD_MSG },
	{ .id = "ld-absent", .allowed_ld = { 0xb1 }, .ld = 0, .policy = NODBG, .msg = LD_MSG },
	{ .id = "ld-listed-is-not-fw",
	  .allowed_fw = { 0xb1 },
	  .fw = 0xa1,
	  .ld = 0xb1,
	  .policy = NODBG,
	  .msg = FW_MSG },
	/*
	 * Exportable keys: refused or accepted when the key is opened (key-pkcs11.c,
	 * allow_exportable_keys); the release policy does not look at them.
	 */
	{ .id = "exportable-key-not-a-policy-rule",
	  .policy = NODBG,
	  .exportable_key = "pkcs11:token=t;object=tik",
	  .fw = 0xa1,
	  .ld = 0xb1 },
	{ .id = "exportable-key-debug-still-refused",
	  .policy = 0,
	  .exportable_key = "pkcs11:token=t;object=tik",
	  .msg = DBG_MSG("0x0") },
	{ .id = "destroy-keys-not-a-policy-rule", .destroy_keys = true, .policy = NODBG },
	/* Combinations: everything holds; then the order the reasons are checked in. */
	{ .id = "all-rules-hold",
	  .require = NODBG | ES,
	  .have_min_api = true,
	  .min_major = 1,
	  .min_minor = 51,
	  .have_min_build = true,
	  .min_build = 3,
	  .allowed_fw = { 0xa1, 0xa2 },
	  .allowed_ld = { 0xb1, 0xb2 },
	  .api_major = 1,
	  .api_minor = 51,
	  .build = 3,
	  .policy = NODBG | ES,
	  .fw = 0xa2,
	  .ld = 0xb1 },
	{ .id = "debug-before-bits",
	  .require = ES,
	  .have_min_build = true,
	  .min_build = 9,
	  .policy = SEV,
	  .msg = DBG_MSG("0x20") },
	{ .id = "bits-before-api",
	  .require = ES,
	  .have_min_api = true,
	  .min_major = 1,
	  .policy = NODBG,
	  .msg = LACKS("0x1", "es") },
	{ .id = "api-before-build",
	  .have_min_api = true,
	  .min_major = 1,
	  .have_min_build = true,
	  .min_build = 9,
	  .build = 1,
	  .policy = NODBG,
	  .msg = "release refused: SEV API 0.0 is older than min-api 1.0" },
	{ .id = "build-before-fw",
	  .have_min_build = true,
	  .min_build = 9,
	  .build = 8,
	  .allowed_fw = { 0xa1 },
	  .fw = 0xa9,
	  .policy = NODBG,
	  .msg = "release refused: firmware build 8 is older than min-build 9" },
	{ .id = "fw-before-ld",
	  .allowed_fw = { 0xa1 },
	  .allowed_ld = { 0xb1 },
	  .fw = 0xa9,
	  .ld = 0xb9,
	  .policy = NODBG,
	  .msg = FW_MSG },
	{ .id = "all-hold-but-ld",
	  .require = NODBG | ES,
	  .have_min_api = true,
	  .min_major = 1,
	  .have_min_build = true,
	  .min_build = 3,
	  .allowed_fw = { 0xa1 },
	  .allowed_ld = { 0xb1 },
	  .api_major = 1,
	  .build = 3,
	  .policy = NODBG | ES,
	  .fw = 0xa1,
	  .ld = 0xb2,
	  .msg = LD_MSG },
};

static void
fill_list(uint8_t list[][SG_SHA256_LEN], size_t *n, const uint8_t *tags)
{
	for (size_t i = 0; i < TAGS_MAX && tags[i]; i++)
		memset(list[(*n)++], tags[i], SG_SHA256_LEN);
}

static void
test_check(void **state)
{
	const struct case_check *t = *state;
	struct sg_release_policy p = {
		.require_bits = t->require,
		.have_min_api = t->have_min_api,
		.have_min_build = t->have_min_build,
		.min_api_major = t->min_major,
		.min_api_minor = t->min_minor,
		.min_build = t->min_build,
		.allow_debug = t->allow_debug,
		.destroy_keys = t->destroy_keys,
	};
	struct sg_platform plat = {
		.api_major = t->api_major,
		.api_minor = t->api_minor,
		.build_id = t->build,
		.policy = t->policy,
	};
	static struct sg_validate_result res; /* large: not on the stack */
	struct sg_error err = { 0 };
	int rc;

	memset(&res, 0, sizeof(res));
	fill_list(p.allowed_firmware, &p.nallowed_firmware, t->allowed_fw);
	fill_list(p.allowed_digests, &p.nallowed_digests, t->allowed_ld);
	if (t->fw) {
		res.firmware.present = res.firmware.hashed = true;
		memset(res.firmware.sha256, t->fw, SG_SHA256_LEN);
	}
	if (t->ld) {
		res.have_launch_digest = true;
		memset(res.launch_digest, t->ld, SG_SHA256_LEN);
	}
	res.exportable_key = t->exportable_key;
	rc = sg_release_policy_check(&p, &plat, &res, &err);
	if (!t->msg) {
		TV_ASSERT_OK(rc, &err);
		assert_int_equal(err.code, 0);
		assert_string_equal(err.msg, "");
		return;
	}
	TV_ASSERT_ERR(rc, &err, SG_E_POLICY);
	assert_string_equal(err.msg, t->msg);
	assert_null(strchr(err.msg, '\n')); /* one line */
}

/* A digest differing from a listed one in its last byte only is not listed. */
static void
test_check_whole_digest_compared(void **state)
{
	struct sg_release_policy p = { .nallowed_firmware = 1, .nallowed_digests = 1 };
	struct sg_platform plat = { .policy = NODBG };
	static struct sg_validate_result res;
	struct sg_error err = { 0 };

	(void)state;
	memset(&res, 0, sizeof(res));
	memset(p.allowed_firmware[0], 0x11, SG_SHA256_LEN);
	memset(p.allowed_digests[0], 0x22, SG_SHA256_LEN);
	res.firmware.present = res.firmware.hashed = true;
	memset(res.firmware.sha256, 0x11, SG_SHA256_LEN);
	res.have_launch_digest = true;
	memset(res.launch_digest, 0x22, SG_SHA256_LEN);
	TV_ASSERT_OK(sg_release_policy_check(&p, &plat, &res, &err), &err);
	res.launch_digest[SG_SHA256_LEN - 1] ^= 1;
	TV_ASSERT_ERR(sg_release_policy_check(&p, &plat, &res, &err), &err, SG_E_POLICY);
	assert_string_equal(err.msg, LD_MSG);
	res.launch_digest[SG_SHA256_LEN - 1] ^= 1;
	res.firmware.sha256[0] ^= 0x80;
	err = (struct sg_error){ 0 };
	TV_ASSERT_ERR(sg_release_policy_check(&p, &plat, &res, &err), &err, SG_E_POLICY);
	assert_string_equal(err.msg, FW_MSG);
}

/* --- sg_release_require_parse --- */

#define BITS_MSG(w) "unknown policy bit '" w "' (nodbg, noks, es, nosend, domain, sev)"

struct case_require {
	const char *id, *in;
	uint32_t bits;
	const char *msg; /* NULL: parsed */
};

static const struct case_require require_cases[] = {
	{ "require-empty", "", 0, NULL },
	{ "require-only-separators", ", ,,  ", 0, NULL },
	{ "require-one", "nodbg", NODBG, NULL },
	{ "require-every-name", "nodbg,noks,es,nosend,domain,sev", 0x3f, NULL },
	{ "require-spaces", "es sev", ES | SEV, NULL },
	{ "require-mixed-separators", " ,nodbg , es,,", NODBG | ES, NULL },
	{ "require-any-case", "NoDbG,ES,Sev", NODBG | ES | SEV, NULL },
	{ "require-repeated", "es,es", ES, NULL },
	{ "require-unknown", "nodbg,bogus", 0, BITS_MSG("bogus") },
	{ "require-prefix-is-not-a-name", "nodb", 0, BITS_MSG("nodb") },
	{ "require-longer-is-not-a-name", "nodbgx", 0, BITS_MSG("nodbgx") },
	{ "require-other-separator", "nodbg;es", 0, BITS_MSG("nodbg;es") },
	{ "require-long-word-cut", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF", 0,
	  BITS_MSG("abcdefghijklmnopqrstuvwxyz012345") },
};

static void
test_require(void **state)
{
	const struct case_require *t = *state;
	struct sg_error err = { 0 };
	uint32_t bits = 0xdeadbeef;
	int rc = sg_release_require_parse(t->in, &bits, &err);

	if (!t->msg) {
		TV_ASSERT_OK(rc, &err);
		assert_int_equal(bits, t->bits);
		return;
	}
	TV_ASSERT_ERR(rc, &err, SG_E_USAGE);
	assert_string_equal(err.msg, t->msg);
	assert_int_equal(bits, 0xdeadbeef); /* untouched on failure */
}

/* --- sg_release_min_api_parse --- */

#define API_FORM "min-api must be MAJOR.MINOR, e.g. 0.24"
#define API_RANGE "min-api must be MAJOR.MINOR, each 0 to 255"

struct case_api {
	const char *id, *in;
	uint8_t major, minor;
	const char *msg;
};

static const struct case_api api_cases[] = {
	{ "api-typical", "0.24", 0, 24, NULL },
	{ "api-zero", "0.0", 0, 0, NULL },
	{ "api-max", "255.255", 255, 255, NULL },
	{ "api-hex", "0x1.0x18", 1, 24, NULL },
	{ "api-major-256", "256.0", 0, 0, API_RANGE },
	{ "api-minor-256", "1.256", 0, 0, API_RANGE },
	{ "api-no-dot", "24", 0, 0, API_FORM },
	{ "api-empty", "", 0, 0, API_FORM },
	{ "api-no-major", ".24", 0, 0, API_FORM },
	{ "api-no-minor", "1.", 0, 0, API_RANGE },
	{ "api-three-parts", "1.2.3", 0, 0, API_RANGE },
	{ "api-negative", "-1.0", 0, 0, API_RANGE },
	{ "api-space", "1. 2", 0, 0, API_RANGE },
	{ "api-major-7-digits", "0000001.2", 1, 2, NULL },
	{ "api-major-8-digits", "00000001.2", 0, 0, API_FORM },
};

static void
test_api(void **state)
{
	const struct case_api *t = *state;
	struct sg_error err = { 0 };
	uint8_t major = 0xaa, minor = 0xbb;
	int rc = sg_release_min_api_parse(t->in, &major, &minor, &err);

	if (!t->msg) {
		TV_ASSERT_OK(rc, &err);
		assert_int_equal(major, t->major);
		assert_int_equal(minor, t->minor);
		return;
	}
	TV_ASSERT_ERR(rc, &err, SG_E_USAGE);
	assert_string_equal(err.msg, t->msg);
	assert_int_equal(major, 0xaa);
	assert_int_equal(minor, 0xbb);
}

/* --- sg_release_allow_add --- */

#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"

struct case_allow {
	const char *id, *hex;
	const char *msg;
};

static const struct case_allow allow_cases[] = {
	{ "allow-64-digits-any-case", HEX64, NULL },
	{ "allow-63-digits", HEX64 + 1, "allowed-firmware-sha256 must be 64 hex digits" },
	{ "allow-65-digits", HEX64 "0", "allowed-firmware-sha256 must be 64 hex digits" },
	{ "allow-not-hex", "g0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	  "allowed-firmware-sha256 must be 64 hex digits" },
	{ "allow-empty", "", "allowed-firmware-sha256 must be 64 hex digits" },
};

static void
test_allow(void **state)
{
	const struct case_allow *t = *state;
	static uint8_t list[SG_RELEASE_ALLOWED_MAX][SG_SHA256_LEN];
	struct sg_error err = { 0 };
	size_t n = 1;
	int rc;

	memset(list, 0x77, sizeof(list));
	rc = sg_release_allow_add(list, &n, t->hex, "allowed-firmware-sha256", &err);
	if (!t->msg) {
		static const uint8_t want[SG_SHA256_LEN] = {
			0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
			0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
			0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
		};

		TV_ASSERT_OK(rc, &err);
		assert_int_equal(n, 2);
		assert_memory_equal(list[1], want, SG_SHA256_LEN);
		assert_int_equal(list[0][0], 0x77); /* appended, not written over */
		assert_int_equal(list[2][0], 0x77);
		return;
	}
	TV_ASSERT_ERR(rc, &err, SG_E_USAGE);
	assert_string_equal(err.msg, t->msg);
	assert_int_equal(n, 1);
	assert_int_equal(list[1][0], 0x77);
}

/* The list holds SG_RELEASE_ALLOWED_MAX entries: one more is refused, the list unchanged. */
static void
test_allow_full(void **state)
{
	static uint8_t list[SG_RELEASE_ALLOWED_MAX][SG_SHA256_LEN];
	struct sg_error err = { 0 };
	char msg[80];
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < SG_RELEASE_ALLOWED_MAX; i++)
		TV_ASSERT_OK(sg_release_allow_add(list, &n, HEX64, "allowed-launch-digests", &err),
			     &err);
	assert_int_equal(n, SG_RELEASE_ALLOWED_MAX);
	TV_ASSERT_ERR(sg_release_allow_add(list, &n, HEX64, "allowed-launch-digests", &err), &err,
		      SG_E_USAGE);
	snprintf(msg, sizeof(msg), "more than %d allowed-launch-digests entries",
		 SG_RELEASE_ALLOWED_MAX);
	assert_string_equal(err.msg, msg);
	assert_string_equal(err.msg, "more than 64 allowed-launch-digests entries");
	assert_int_equal(n, SG_RELEASE_ALLOWED_MAX);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(check_cases) + SG_ELEMENTSOF(require_cases) +
				SG_ELEMENTSOF(api_cases) + SG_ELEMENTSOF(allow_cases) + 8];
	size_t n = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(check_cases); i++)
		tests[n++] = ROW(test_check, check_cases, i);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_check_whole_digest_compared);
	for (size_t i = 0; i < SG_ELEMENTSOF(require_cases); i++)
		tests[n++] = ROW(test_require, require_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(api_cases); i++)
		tests[n++] = ROW(test_api, api_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(allow_cases); i++)
		tests[n++] = ROW(test_allow, allow_cases, i);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_allow_full);
	return tv_main(argc, argv, "release-policy", tests, n, NULL, 0);
}
