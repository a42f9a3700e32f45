/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/core/guid.c: canonical text <-> EFI mixed-endian bytes (spec 3.1, 3.2, 5.2 tables). */
#include <string.h>

#include "vectors.h"
#include "core/guid.h"

struct case_known {
	const char *id;
	const struct sg_guid *constant;
	const char *text;
	const char *bytes_le; /* as written in the spec tables */
};

static const struct case_known known_cases[] = {
	{ "ovmf-footer", &SG_GUID_OVMF_FOOTER, "96b582de-1fb2-45f7-baea-a366c55a082d",
	  "de82b596b21ff745baeaa366c55a082d" },
	{ "sev-es-reset-block", &SG_GUID_SEV_ES_RESET_BLOCK, "00f771de-1a7e-4fcb-890e-68c77e2fb44e",
	  "de71f7007e1acb4f890e68c77e2fb44e" },
	{ "sev-hash-table-area", &SG_GUID_SEV_HASH_TABLE_AREA,
	  "7255371f-3a3b-4b04-927b-1da6efa8d454", "1f3755723b3a044b927b1da6efa8d454" },
	{ "sev-secret-area", &SG_GUID_SEV_SECRET_AREA, "4c2eb361-7d9b-4cc3-8081-127c90d3d294",
	  "61b32e4c9b7dc34c8081127c90d3d294" },
	{ "sev-metadata", &SG_GUID_SEV_METADATA, "dc886566-984a-4798-a75e-5585a7bf67cc",
	  "666588dc4a989847a75e5585a7bf67cc" },
	{ "hashes-table", &SG_GUID_HASHES_TABLE, "9438d606-4f22-4cc9-b479-a793d411fd21",
	  "06d63894224fc94cb479a793d411fd21" },
	{ "hashes-cmdline", &SG_GUID_HASHES_CMDLINE, "97d02dd8-bd20-4c94-aa78-e7714d36ab2a",
	  "d82dd09720bd944caa78e7714d36ab2a" },
	{ "hashes-initrd", &SG_GUID_HASHES_INITRD, "44baf731-3a2f-4bd7-9af1-41e29169781d",
	  "31f7ba442f3ad74b9af141e29169781d" },
	{ "hashes-kernel", &SG_GUID_HASHES_KERNEL, "4de79437-abd2-427f-b835-d5b172d2045b",
	  "3794e74dd2ab7f42b835d5b172d2045b" },
	{ "secret-table", &SG_GUID_SECRET_TABLE, "1e74f542-71dd-4d66-963e-ef4287ff173b",
	  "42f5741edd71664d963eef4287ff173b" },
	{ "luks-key", &SG_GUID_LUKS_KEY, "736869e5-84f0-4973-92ec-06879ce3da0b",
	  "e5696873f084734992ec06879ce3da0b" },
	{ "sb2-second-secret", NULL, "736869e5-aaaa-4973-92ec-06879ce3da0b",
	  "e5696873aaaa734992ec06879ce3da0b" },
	{ "all-zero", NULL, "00000000-0000-0000-0000-000000000000",
	  "00000000000000000000000000000000" },
	{ "all-ff", NULL, "ffffffff-ffff-ffff-ffff-ffffffffffff",
	  "ffffffffffffffffffffffffffffffff" },
};

static void
test_known(void **state)
{
	const struct case_known *t = *state;
	struct sg_guid g, want;
	char text[SG_GUID_STR_LEN + 1];

	assert_int_equal(tv_unhex(t->bytes_le, want.b, sizeof(want.b)), 16);
	memset(&g, 0xee, sizeof(g));
	assert_int_equal(sg_guid_parse(t->text, &g), 0);
	assert_memory_equal(g.b, want.b, 16);
	if (t->constant) {
		assert_memory_equal(t->constant->b, want.b, 16);
		assert_true(sg_guid_equal(t->constant, &g));
	}
	memset(text, 'X', sizeof(text));
	sg_guid_format(&g, text);
	assert_string_equal(text, t->text);
	assert_int_equal(strlen(text), SG_GUID_STR_LEN);
}

struct case_parse {
	const char *id;
	const char *text;
	int rc;
	const char *bytes_le;
};

static const struct case_parse parse_cases[] = {
	{ "upper-case", "736869E5-84F0-4973-92EC-06879CE3DA0B", 0,
	  "e5696873f084734992ec06879ce3da0b" },
	{ "mixed-case", "736869e5-84F0-4973-92eC-06879ce3Da0b", 0,
	  "e5696873f084734992ec06879ce3da0b" },
	{ "empty", "", SG_E_FORMAT, NULL },
	{ "alias", "luks-key", SG_E_FORMAT, NULL },
	{ "short", "736869e5-84f0-4973-92ec-06879ce3da0", SG_E_FORMAT, NULL },
	{ "long", "736869e5-84f0-4973-92ec-06879ce3da0b0", SG_E_FORMAT, NULL },
	{ "braces", "{736869e5-84f0-4973-92ec-06879ce3da0b}", SG_E_FORMAT, NULL },
	{ "no-dashes", "736869e584f0497392ec06879ce3da0b", SG_E_FORMAT, NULL },
	{ "dash-moved", "736869e58-4f0-4973-92ec-06879ce3da0b", SG_E_FORMAT, NULL },
	{ "underscore-for-dash", "736869e5_84f0-4973-92ec-06879ce3da0b", SG_E_FORMAT, NULL },
	{ "non-hex", "736869g5-84f0-4973-92ec-06879ce3da0b", SG_E_FORMAT, NULL },
	{ "space", "736869e5-84f0-4973-92ec 06879ce3da0b", SG_E_FORMAT, NULL },
	{ "trailing-newline", "736869e5-84f0-4973-92ec-06879ce3da0\n", SG_E_FORMAT, NULL },
	{ "sign-in-field", "+36869e5-84f0-4973-92ec-06879ce3da0b", SG_E_FORMAT, NULL },
};

static void
test_parse(void **state)
{
	const struct case_parse *t = *state;
	struct sg_guid g, want;

	memset(&g, 0xee, sizeof(g));
	assert_int_equal(sg_guid_parse(t->text, &g), t->rc);
	if (t->rc == 0) {
		tv_unhex(t->bytes_le, want.b, 16);
		assert_memory_equal(g.b, want.b, 16);
	} else {
		for (size_t i = 0; i < 16; i++)
			assert_int_equal(g.b[i], 0xee); /* untouched */
	}
}

static void
test_equal(void **state)
{
	struct sg_guid a = SG_GUID_LUKS_KEY, b = SG_GUID_LUKS_KEY;

	(void)state;
	assert_true(sg_guid_equal(&a, &b));
	b.b[15] ^= 1;
	assert_false(sg_guid_equal(&a, &b));
	assert_false(sg_guid_equal(&SG_GUID_HASHES_TABLE, &SG_GUID_SECRET_TABLE));
}

/* Formatting any byte pattern and parsing it back is the identity. */
static void
test_roundtrip_patterns(void **state)
{
	(void)state;
	for (unsigned seed = 0; seed < 256; seed++) {
		struct sg_guid g, back;
		char text[SG_GUID_STR_LEN + 1];

		for (size_t i = 0; i < 16; i++)
			g.b[i] = (uint8_t)(seed * 31 + i * 17);
		sg_guid_format(&g, text);
		assert_int_equal(sg_guid_parse(text, &back), 0);
		assert_true(sg_guid_equal(&g, &back));
	}
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(known_cases) + SG_ELEMENTSOF(parse_cases) + 2];
	size_t n = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(known_cases); i++)
		tests[n++] = ROW(test_known, known_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(parse_cases); i++)
		tests[n++] = ROW(test_parse, parse_cases, i);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_equal);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_roundtrip_patterns);
	return tv_main(argc, argv, "guid", tests, n, NULL, 0);
}
