/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/core/secret.c: the OVMF secret table (spec 5.2) and its two padding rules. */
#include <string.h>

#include "vectors.h"
#include "core/secret.h"
#include "util/cursor.h"

#define SECRET_DIR "sevctl/tests/data/secret/"

struct item {
	const char *guid; /* canonical text or an alias */
	const char *text; /* inline data, or NULL */
	const char *file; /* vectors-relative data file, when text is NULL */
	size_t fill;	  /* when both are NULL: this many 'x' bytes */
};

struct case_table {
	const char *id;
	struct item items[3];
	size_t n;
	enum sg_secret_pad pad;
	size_t unpadded, padded;
	const char *hex; /* expected padded table, or NULL (structure checked) */
};

static const struct case_table table_cases[] = {
	{ "SB1",
	  { { "736869e5-84f0-4973-92ec-06879ce3da0b", "MY-LUKS-PASSPHRASE", NULL, 0 } },
	  1,
	  SG_SECRET_PAD_ALIGN16,
	  58,
	  64,
	  "42f5741edd71664d963eef4287ff173b3a000000e5696873f084734992ec06879ce3da0b260000004d592d4c5"
	  "54b532d50415353504852415345000000000000" },
	{ "SB2",
	  { { "736869e5-84f0-4973-92ec-06879ce3da0b", "MY-LUKS-PASSPHRASE", NULL, 0 },
	    { "736869e5-aaaa-4973-92ec-06879ce3da0b", "SOME OTHER SECRET", NULL, 0 } },
	  2,
	  SG_SECRET_PAD_ALIGN16,
	  95,
	  96,
	  "42f5741edd71664d963eef4287ff173b5f000000e5696873f084734992ec06879ce3da0b260000004d592d4c"
	  "554b532d50415353504852415345e5696873aaaa734992ec06879ce3da0b25000000534f4d45204f54484552"
	  "2053454352455400" },
	{ "SB1-files",
	  { { "736869e5-84f0-4973-92ec-06879ce3da0b", NULL, SECRET_DIR "secret1.txt", 0 } },
	  1,
	  SG_SECRET_PAD_ALIGN16,
	  58,
	  64,
	  "42f5741edd71664d963eef4287ff173b3a000000e5696873f084734992ec06879ce3da0b260000004d592d4c5"
	  "54b532d50415353504852415345000000000000" },
	{ "SB3",
	  { { "23058844-597b-42fb-8259-a0f5d9d495af", NULL, SECRET_DIR "secret3.txt", 0 } },
	  1,
	  SG_SECRET_PAD_ALIGN16,
	  16383,
	  16384,
	  NULL },
	{ "SB4",
	  { { "23058844-597b-42fb-8259-a0f5d9d495af", NULL, SECRET_DIR "secret4.txt", 0 } },
	  1,
	  SG_SECRET_PAD_ALIGN16,
	  16384,
	  16384,
	  NULL },
	{ "SB4-libvirt-pad",
	  { { "23058844-597b-42fb-8259-a0f5d9d495af", NULL, SECRET_DIR "secret4.txt", 0 } },
	  1,
	  SG_SECRET_PAD_LIBVIRT,
	  16384,
	  16400,
	  NULL },
	/* Spec 13 secret vector: luks-key alias, "hunter2", libvirt's padding. */
	{ "spec13-luks-key-hunter2",
	  { { "luks-key", "hunter2", NULL, 0 } },
	  1,
	  SG_SECRET_PAD_LIBVIRT,
	  47,
	  48,
	  "42f5741edd71664d963eef4287ff173b2f000000e5696873f084734992ec06879ce3da0b1b00000068756e74"
	  "65723200" },
	/* Spec 13 two-secret check: header length 0x4c, 80 bytes padded. */
	{ "spec13-two-secrets",
	  { { "luks-key", "hunter2", NULL, 0 },
	    { "0123abcd-0000-1111-2222-333344445555", "xxxxxxxxx", NULL, 0 } },
	  2,
	  SG_SECRET_PAD_LIBVIRT,
	  76,
	  80,
	  NULL },
	/* Padding rules: 47 -> 48 both ways; 48 -> 64 under LIBVIRT, 48 under ALIGN16. */
	{ "pad-47-libvirt",
	  { { "luks-key", NULL, NULL, 7 } },
	  1,
	  SG_SECRET_PAD_LIBVIRT,
	  47,
	  48,
	  NULL },
	{ "pad-47-align16",
	  { { "luks-key", NULL, NULL, 7 } },
	  1,
	  SG_SECRET_PAD_ALIGN16,
	  47,
	  48,
	  NULL },
	{ "pad-48-libvirt",
	  { { "luks-key", NULL, NULL, 8 } },
	  1,
	  SG_SECRET_PAD_LIBVIRT,
	  48,
	  64,
	  NULL },
	{ "pad-48-align16",
	  { { "luks-key", NULL, NULL, 8 } },
	  1,
	  SG_SECRET_PAD_ALIGN16,
	  48,
	  48,
	  NULL },
	{ "pad-49-align16",
	  { { "luks-key", NULL, NULL, 9 } },
	  1,
	  SG_SECRET_PAD_ALIGN16,
	  49,
	  64,
	  NULL },
	{ "empty-data", { { "luks-key", "", NULL, 0 } }, 1, SG_SECRET_PAD_ALIGN16, 40, 48, NULL },
	/* Any size: a 1 MiB table. */
	{ "one-mib",
	  { { "luks-key", NULL, NULL, ((size_t)1 << 20) - 40 } },
	  1,
	  SG_SECRET_PAD_ALIGN16,
	  (size_t)1 << 20,
	  (size_t)1 << 20,
	  NULL },
	{ "one-mib-libvirt",
	  { { "luks-key", NULL, NULL, ((size_t)1 << 20) - 40 } },
	  1,
	  SG_SECRET_PAD_LIBVIRT,
	  (size_t)1 << 20,
	  ((size_t)1 << 20) + 16,
	  NULL },
};

/* Resolve the row's items into sg_secret, reading files and filling buffers. */
static size_t
load_items(const struct item *items, size_t n, struct sg_secret *s, uint8_t **bufs)
{
	struct sg_error err = { 0 };

	for (size_t i = 0; i < n; i++) {
		bufs[i] = NULL;
		TV_ASSERT_OK(sg_secret_guid_parse(items[i].guid, &s[i].guid, &err), &err);
		if (items[i].text) {
			s[i].data = (const uint8_t *)items[i].text;
			s[i].len = strlen(items[i].text);
		} else if (items[i].file) {
			char *p = tv_path(items[i].file);

			bufs[i] = tv_read(p, &s[i].len);
			s[i].data = bufs[i];
			free(p);
		} else {
			bufs[i] = malloc(items[i].fill + 1);
			memset(bufs[i], 'x', items[i].fill);
			s[i].data = bufs[i];
			s[i].len = items[i].fill;
		}
	}
	return n;
}

static void
test_table(void **state)
{
	const struct case_table *t = *state;
	struct sg_secret s[3];
	uint8_t *bufs[3];
	struct sg_error err = { 0 };
	struct sg_secmem *m = NULL;
	struct sg_cur c;
	size_t unpadded = 0;
	uint32_t u;

	load_items(t->items, t->n, s, bufs);
	TV_ASSERT_OK(sg_secret_table_build(s, t->n, t->pad, &m, &unpadded, &err), &err);
	assert_int_equal(unpadded, t->unpadded);
	assert_int_equal(m->len, t->padded);
	assert_int_equal(m->len % 16, 0);
	if (t->hex) {
		size_t hl;
		uint8_t *want = tv_unhex_alloc(t->hex, &hl);

		assert_int_equal(hl, t->padded);
		assert_memory_equal(m->data, want, hl);
		free(want);
	}
	/* Structure: header GUID and unpadded length, entries in order, zero padding. */
	sg_cur_init(&c, m->data, m->len);
	{
		uint8_t g[16];
		const uint8_t *p;

		assert_int_equal(sg_cur_guid(&c, g), 0);
		assert_memory_equal(g, SG_GUID_SECRET_TABLE.b, 16);
		assert_int_equal(sg_cur_u32le(&c, &u), 0);
		assert_int_equal(u, t->unpadded);
		for (size_t i = 0; i < t->n; i++) {
			assert_int_equal(sg_cur_guid(&c, g), 0);
			assert_memory_equal(g, s[i].guid.b, 16);
			assert_int_equal(sg_cur_u32le(&c, &u), 0);
			assert_int_equal(u, 20 + s[i].len);
			assert_int_equal(sg_cur_bytes(&c, s[i].len, &p), 0);
			if (s[i].len)
				assert_memory_equal(p, s[i].data, s[i].len);
		}
		assert_int_equal(c.pos, t->unpadded);
		for (size_t i = c.pos; i < m->len; i++)
			assert_int_equal(m->data[i], 0);
	}
	sg_secmem_free(m);
	for (size_t i = 0; i < t->n; i++)
		free(bufs[i]);
}

struct case_bad {
	const char *id;
	struct item items[3];
	size_t n;
	size_t big; /* non-zero: one secret of this many bytes instead of the items */
	int rc;
	const char *msg;
};

static const struct case_bad bad_cases[] = {
	{ "duplicate-guid",
	  { { "luks-key", "a", NULL, 0 },
	    { "736869e5-84f0-4973-92ec-06879ce3da0b", "b", NULL, 0 } },
	  2,
	  0,
	  SG_E_USAGE,
	  "Secret for GUID 736869e5-84f0-4973-92ec-06879ce3da0b already loaded" },
	{ "duplicate-guid-upper",
	  { { "0123abcd-0000-1111-2222-333344445555", "a", NULL, 0 },
	    { "luks-key", "b", NULL, 0 },
	    { "0123ABCD-0000-1111-2222-333344445555", "c", NULL, 0 } },
	  3,
	  0,
	  SG_E_USAGE,
	  "Secret for GUID 0123abcd-0000-1111-2222-333344445555 already loaded" },
	{ "no-secrets", { { 0 } }, 0, 0, SG_E_USAGE, NULL },
	{ "over-table-max", { { 0 } }, 0, SG_SECRET_TABLE_MAX - 39, SG_E_LIMIT, NULL },
};

static void
test_bad(void **state)
{
	const struct case_bad *t = *state;
	struct sg_secret s[3];
	uint8_t *bufs[3] = { 0 }, *big = NULL;
	struct sg_error err = { 0 };
	struct sg_secmem *m = (struct sg_secmem *)0x1;
	size_t unpadded = 777, n = t->n;

	load_items(t->items, t->n, s, bufs);
	if (t->big) {
		big = calloc(1, t->big);
		s[0] = (struct sg_secret){ SG_GUID_LUKS_KEY, big, t->big };
		n = 1;
	}
	TV_ASSERT_ERR(sg_secret_table_build(s, n, SG_SECRET_PAD_ALIGN16, &m, &unpadded, &err), &err,
		      t->rc);
	if (t->msg)
		assert_string_equal(err.msg, t->msg);
	assert_ptr_equal(m, (struct sg_secmem *)0x1);
	assert_int_equal(unpadded, 777);
	free(big);
	for (size_t i = 0; i < t->n; i++)
		free(bufs[i]);
}

/* The largest table allowed is exactly SG_SECRET_TABLE_MAX. */
static void
test_table_max(void **state)
{
	size_t len = SG_SECRET_TABLE_MAX - 40;
	uint8_t *big = calloc(1, len);
	struct sg_secret s = { SG_GUID_LUKS_KEY, big, len };
	struct sg_error err = { 0 };
	struct sg_secmem *m = NULL;
	size_t unpadded = 0;

	(void)state;
	TV_ASSERT_OK(sg_secret_table_build(&s, 1, SG_SECRET_PAD_ALIGN16, &m, &unpadded, &err),
		     &err);
	assert_int_equal(unpadded, SG_SECRET_TABLE_MAX);
	assert_int_equal(m->len, SG_SECRET_TABLE_MAX);
	sg_secmem_free(m);
	free(big);
}

struct case_guid {
	const char *id;
	const char *text;
	int rc;
	const char *guid; /* canonical form expected */
	const char *msg;
};

static const struct case_guid guid_cases[] = {
	{ "alias-luks-key", "luks-key", 0, "736869e5-84f0-4973-92ec-06879ce3da0b", NULL },
	{ "guid-lower", "23058844-597b-42fb-8259-a0f5d9d495af", 0,
	  "23058844-597b-42fb-8259-a0f5d9d495af", NULL },
	{ "guid-upper", "23058844-597B-42FB-8259-A0F5D9D495AF", 0,
	  "23058844-597b-42fb-8259-a0f5d9d495af", NULL },
	{ "alias-upper", "LUKS-KEY", SG_E_USAGE, NULL, "Secret alias 'LUKS-KEY' is not known" },
	{ "alias-unknown", "root-password", SG_E_USAGE, NULL,
	  "Secret alias 'root-password' is not known" },
	{ "alias-empty", "", SG_E_USAGE, NULL, "Secret alias '' is not known" },
	{ "guid-braced", "{23058844-597b-42fb-8259-a0f5d9d495af}", SG_E_USAGE, NULL,
	  "Secret alias '{23058844-597b-42fb-8259-a0f5d9d495af}' is not known" },
};

static void
test_guid(void **state)
{
	const struct case_guid *t = *state;
	struct sg_error err = { 0 };
	struct sg_guid g, before;
	char text[SG_GUID_STR_LEN + 1];
	int rc;

	memset(&g, 0xee, sizeof(g));
	before = g;
	rc = sg_secret_guid_parse(t->text, &g, &err);
	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		sg_guid_format(&g, text);
		assert_string_equal(text, t->guid);
		return;
	}
	TV_ASSERT_ERR(rc, &err, t->rc);
	assert_string_equal(err.msg, t->msg);
	assert_memory_equal(&g, &before, sizeof(g));
}

int
main(int argc, char **argv)
{
	struct CMUnitTest unit[SG_ELEMENTSOF(table_cases) + SG_ELEMENTSOF(bad_cases) +
			       SG_ELEMENTSOF(guid_cases) + 1];
	struct CMUnitTest vec[SG_ELEMENTSOF(table_cases)];
	size_t n = 0, nv = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(table_cases); i++) {
		unit[n++] = ROW(test_table, table_cases, i);
		if (table_cases[i].items[0].file)
			vec[nv++] = ROW(test_table, table_cases, i);
	}
	for (size_t i = 0; i < SG_ELEMENTSOF(bad_cases); i++)
		unit[n++] = ROW(test_bad, bad_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(guid_cases); i++)
		unit[n++] = ROW(test_guid, guid_cases, i);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_table_max);
	return tv_main(argc, argv, "secret", unit, n, vec, nv);
}
