/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/core/hashes.c: QEMU's padded kernel-hashes table (spec 3.2), byte-exact. */
#include <string.h>

#include "vectors.h"
#include "core/hashes.h"

/* Inputs are given as literal bytes; NULL for an absent initrd / cmdline. */
struct case_table {
	const char *id;
	const char *kernel;
	size_t kernel_len;
	const char *initrd; /* NULL: no initrd (hashes as empty data) */
	size_t initrd_len;
	const char *cmdline; /* NULL: not given (hashes as "\0") */
	const char *table_hex;
};

/* "KERNEL" x 1000 and "INITRD" x 500 are filled in by main(). */
static char kernel_synth[6000], initrd_synth[3000];

static const struct case_table table_cases[] = {
	/* vectors README section 1: /dev/null, /dev/null, "" (S01/S02/H0x). */
	{ "devnull-devnull-empty", "", 0, "", 0, "",
	  "06d63894224fc94cb479a793d411fd21a800d82dd09720bd944caa78e7714d36ab2a32006e340b9cffb37a98"
	  "9ca544e6bb780a2c78901d3fb33738768511a30617afa01d31f7ba442f3ad74b9af141e29169781d3200e3b0"
	  "c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8553794e74dd2ab7f42b835d5b172d2"
	  "045b3200e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550000000000000000" },
	/* The same bytes for kernel=/dev/null alone (S04/H06): no initrd, no cmdline. */
	{ "devnull-none-none", "", 0, NULL, 0, NULL,
	  "06d63894224fc94cb479a793d411fd21a800d82dd09720bd944caa78e7714d36ab2a32006e340b9cffb37a98"
	  "9ca544e6bb780a2c78901d3fb33738768511a30617afa01d31f7ba442f3ad74b9af141e29169781d3200e3b0"
	  "c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8553794e74dd2ab7f42b835d5b172d2"
	  "045b3200e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550000000000000000" },
	/* vectors README: sevctl fake kernel/initrd/cmdline (C02). */
	{ "sevctl-fake-c02", "fake vmlinuz\n", 13, "fake initrd\n", 12,
	  "foo bar baz fake kernel=cmdline",
	  "06d63894224fc94cb479a793d411fd21a800d82dd09720bd944caa78e7714d36ab2a32003e8a0b8c83c8eb5a"
	  "34c6d0b9db3f36ae619b384db601c643af6456106a43dffd31f7ba442f3ad74b9af141e29169781d320076fa"
	  "1a19324945ce9b1ee17f211ca5b55cbb74d0368eecce53932a1fddc8e8cb3794e74dd2ab7f42b835d5b172d2"
	  "045b3200af609b31eca2942fc46ed7209c7704771cfc2c91750ff4cb899be39b371b4e480000000000000000" },
	/* Spec 13 TV2: synthetic kernel, initrd and "console=ttyS0 root=/dev/vda1". */
	{ "spec-tv2", kernel_synth, 6000, initrd_synth, 3000, "console=ttyS0 root=/dev/vda1",
	  "06d63894224fc94cb479a793d411fd21a800d82dd09720bd944caa78e7714d36ab2a3200e3f97613f5becaae"
	  "a74a9b953ab0e3943407857741be62d37ff0e9f4b3f4912c31f7ba442f3ad74b9af141e29169781d320056ca"
	  "55b0da2e5bd72e1b890afda97429a246f0d00f354f54b4d138cb959dc3113794e74dd2ab7f42b835d5b172d2"
	  "045b3200378d2442bebfd8674800ae8e070a20acd84f0f870b77656cc01c99efe36dc5cb0000000000000000" },
	/* Spec 13 TV2b: kernel only. */
	{ "spec-tv2b", kernel_synth, 6000, NULL, 0, NULL,
	  "06d63894224fc94cb479a793d411fd21a800d82dd09720bd944caa78e7714d36ab2a32006e340b9cffb37a98"
	  "9ca544e6bb780a2c78901d3fb33738768511a30617afa01d31f7ba442f3ad74b9af141e29169781d3200e3b0"
	  "c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8553794e74dd2ab7f42b835d5b172d2"
	  "045b3200378d2442bebfd8674800ae8e070a20acd84f0f870b77656cc01c99efe36dc5cb0000000000000000" },
	/* TV2b with -e "": an empty cmdline hashes the same as none. */
	{ "spec-tv2b-empty-cmdline", kernel_synth, 6000, NULL, 0, "",
	  "06d63894224fc94cb479a793d411fd21a800d82dd09720bd944caa78e7714d36ab2a32006e340b9cffb37a98"
	  "9ca544e6bb780a2c78901d3fb33738768511a30617afa01d31f7ba442f3ad74b9af141e29169781d3200e3b0"
	  "c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8553794e74dd2ab7f42b835d5b172d2"
	  "045b3200378d2442bebfd8674800ae8e070a20acd84f0f870b77656cc01c99efe36dc5cb0000000000000000" },
};

static void
test_table(void **state)
{
	const struct case_table *t = *state;
	struct sg_crypto *c = NULL;
	struct sg_error err = { 0 };
	struct sg_hashes h;
	uint8_t got[SG_HASHES_TABLE_PADDED_LEN + 8], want[SG_HASHES_TABLE_PADDED_LEN];

	assert_int_equal(tv_unhex(t->table_hex, want, sizeof(want)), SG_HASHES_TABLE_PADDED_LEN);
	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	/* Kernel and initrd hashes are plain SHA-256 of the files; the cmdline gets its NUL. */
	tv_sha256(t->kernel, t->kernel_len, h.kernel);
	if (t->initrd)
		tv_sha256(t->initrd, t->initrd_len, h.initrd);
	else
		memcpy(h.initrd, SG_SHA256_EMPTY, SG_SHA256_LEN);
	TV_ASSERT_OK(sg_hashes_cmdline_sha256(c, t->cmdline, h.cmdline, &err), &err);
	memset(got, 0xee, sizeof(got));
	sg_hashes_table_build(&h, got);
	assert_memory_equal(got, want, SG_HASHES_TABLE_PADDED_LEN);
	for (size_t i = SG_HASHES_TABLE_PADDED_LEN; i < sizeof(got); i++)
		assert_int_equal(got[i], 0xee); /* exactly 176 bytes written */
	sg_crypto_free(c);
}

struct case_cmdline {
	const char *id;
	const char *cmdline;
	const char *sha256;
};

static const struct case_cmdline cmdline_cases[] = {
	{ "cmdline-null", NULL,
	  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d" },
	{ "cmdline-empty", "", "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d" },
	{ "cmdline-spec-13", "console=ttyS0 root=/dev/vda1",
	  "e3f97613f5becaaea74a9b953ab0e3943407857741be62d37ff0e9f4b3f4912c" },
	{ "cmdline-sevctl-c02", "foo bar baz fake kernel=cmdline",
	  "3e8a0b8c83c8eb5a34c6d0b9db3f36ae619b384db601c643af6456106a43dffd" },
};

static void
test_cmdline(void **state)
{
	const struct case_cmdline *t = *state;
	struct sg_crypto *c = NULL;
	struct sg_error err = { 0 };
	uint8_t got[32], want[32];

	tv_unhex(t->sha256, want, sizeof(want));
	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	TV_ASSERT_OK(sg_hashes_cmdline_sha256(c, t->cmdline, got, &err), &err);
	assert_memory_equal(got, want, 32);
	sg_crypto_free(c);
}

/* Whitespace matters: a trailing space is a different cmdline. */
static void
test_cmdline_whitespace(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_error err = { 0 };
	uint8_t a[32], b[32];

	(void)state;
	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	TV_ASSERT_OK(sg_hashes_cmdline_sha256(c, "console=ttyS0", a, &err), &err);
	TV_ASSERT_OK(sg_hashes_cmdline_sha256(c, "console=ttyS0 ", b, &err), &err);
	assert_memory_not_equal(a, b, 32);
	sg_crypto_free(c);
}

static void
test_constants(void **state)
{
	uint8_t e[32];

	(void)state;
	tv_sha256("", 0, e);
	assert_memory_equal(SG_SHA256_EMPTY, e, 32);
	assert_int_equal(SG_HASHES_TABLE_LEN, 168);
	assert_int_equal(SG_HASHES_TABLE_PADDED_LEN, 176);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(table_cases) + SG_ELEMENTSOF(cmdline_cases) + 2];
	size_t n = 0;

	for (size_t i = 0; i < 1000; i++)
		memcpy(kernel_synth + 6 * i, "KERNEL", 6);
	for (size_t i = 0; i < 500; i++)
		memcpy(initrd_synth + 6 * i, "INITRD", 6);
	for (size_t i = 0; i < SG_ELEMENTSOF(table_cases); i++)
		tests[n++] = ROW(test_table, table_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(cmdline_cases); i++)
		tests[n++] = ROW(test_cmdline, cmdline_cases, i);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_cmdline_whitespace);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_constants);
	return tv_main(argc, argv, "hashes", tests, n, NULL, 0);
}
