/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/util/cursor.c: bounded little-endian reads; a failed read leaves the cursor unmoved. */
#include <string.h>

#include "vectors.h"
#include "util/cursor.h"

/* An output value that a failed read must leave alone. */
#define SENTINEL 0xdeadbeefdeadbeefull

/* 0x00 0x01 ... 0x1f */
static uint8_t buf[32];

enum op {
	OP_U8,
	OP_U16,
	OP_U32,
	OP_U64,
	OP_BYTES,
	OP_GUID,
	OP_SEEK
};

struct case_read {
	const char *id;
	size_t len;   /* cursor length over buf */
	size_t start; /* position before the read */
	enum op op;
	size_t n; /* OP_BYTES length, OP_SEEK offset */
	int rc;
	uint64_t value; /* scalar result, or first byte for bytes/guid */
	size_t pos_after;
};

static const struct case_read read_cases[] = {
	{ "u8-ok", 32, 0, OP_U8, 0, 0, 0x00, 1 },
	{ "u8-last", 32, 31, OP_U8, 0, 0, 0x1f, 32 },
	{ "u8-empty", 0, 0, OP_U8, 0, SG_E_TRUNCATED, 0, 0 },
	{ "u8-at-end", 32, 32, OP_U8, 0, SG_E_TRUNCATED, 0, 32 },
	{ "u16-ok", 32, 2, OP_U16, 0, 0, 0x0302, 4 },
	{ "u16-exact", 4, 2, OP_U16, 0, 0, 0x0302, 4 },
	{ "u16-one-short", 3, 2, OP_U16, 0, SG_E_TRUNCATED, 0, 2 },
	{ "u32-ok", 32, 4, OP_U32, 0, 0, 0x07060504, 8 },
	{ "u32-three-left", 7, 4, OP_U32, 0, SG_E_TRUNCATED, 0, 4 },
	{ "u64-ok", 32, 8, OP_U64, 0, 0, 0x0f0e0d0c0b0a0908ull, 16 },
	{ "u64-seven-left", 15, 8, OP_U64, 0, SG_E_TRUNCATED, 0, 8 },
	{ "bytes-ok", 32, 5, OP_BYTES, 10, 0, 0x05, 15 },
	{ "bytes-zero", 32, 32, OP_BYTES, 0, 0, 0, 32 },
	{ "bytes-all", 32, 0, OP_BYTES, 32, 0, 0x00, 32 },
	{ "bytes-one-too-many", 32, 0, OP_BYTES, 33, SG_E_TRUNCATED, 0, 0 },
	{ "bytes-huge", 32, 1, OP_BYTES, SIZE_MAX, SG_E_TRUNCATED, 0, 1 },
	{ "guid-ok", 32, 16, OP_GUID, 0, 0, 0x10, 32 },
	{ "guid-15-left", 31, 16, OP_GUID, 0, SG_E_TRUNCATED, 0, 16 },
	{ "seek-end", 32, 3, OP_SEEK, 32, 0, 0, 32 },
	{ "seek-start", 32, 3, OP_SEEK, 0, 0, 0, 0 },
	{ "seek-past-end", 32, 3, OP_SEEK, 33, SG_E_TRUNCATED, 0, 3 },
};

static void
test_read(void **state)
{
	const struct case_read *t = *state;
	struct sg_cur c;
	uint64_t got = SENTINEL;
	const uint8_t *p = NULL;
	uint8_t g[16];
	int rc = 0;

	sg_cur_init(&c, buf, t->len);
	c.pos = t->start;
	switch (t->op) {
	case OP_U8: {
		uint8_t v = 0xaa;
		rc = sg_cur_u8(&c, &v);
		got = rc ? (v == 0xaa ? SENTINEL : v) : v;
		break;
	}
	case OP_U16: {
		uint16_t v = 0xaaaa;
		rc = sg_cur_u16le(&c, &v);
		got = rc ? (v == 0xaaaa ? SENTINEL : v) : v;
		break;
	}
	case OP_U32: {
		uint32_t v = 0xaaaaaaaa;
		rc = sg_cur_u32le(&c, &v);
		got = rc ? (v == 0xaaaaaaaa ? SENTINEL : v) : v;
		break;
	}
	case OP_U64: {
		uint64_t v = SENTINEL;
		rc = sg_cur_u64le(&c, &v);
		got = v;
		break;
	}
	case OP_BYTES:
		rc = sg_cur_bytes(&c, t->n, &p);
		if (rc == 0 && t->n > 0) {
			assert_ptr_equal(p, buf + t->start);
			got = p[0];
		} else if (rc == 0) {
			got = 0;
		} else {
			assert_null(p);
		}
		break;
	case OP_GUID:
		memset(g, 0xee, sizeof(g));
		rc = sg_cur_guid(&c, g);
		if (rc == 0) {
			assert_memory_equal(g, buf + t->start, 16);
			got = g[0];
		} else {
			for (size_t i = 0; i < 16; i++)
				assert_int_equal(g[i], 0xee);
		}
		break;
	case OP_SEEK:
		rc = sg_cur_seek(&c, t->n);
		got = 0;
		break;
	}
	assert_int_equal(rc, t->rc);
	assert_int_equal(c.pos, t->pos_after);
	assert_int_equal(sg_cur_remaining(&c), t->len - t->pos_after);
	if (rc == 0)
		assert_int_equal(got, t->value);
	else if (t->op != OP_BYTES && t->op != OP_GUID && t->op != OP_SEEK)
		assert_int_equal(got, SENTINEL); /* output untouched */
}

struct case_sub {
	const char *id;
	size_t off, len;
	int rc;
};

static const struct case_sub sub_cases[] = {
	{ "sub-whole", 0, 32, 0 },
	{ "sub-middle", 8, 8, 0 },
	{ "sub-empty-at-end", 32, 0, 0 },
	{ "sub-off-past-end", 33, 0, SG_E_TRUNCATED },
	{ "sub-len-past-end", 30, 3, SG_E_TRUNCATED },
	{ "sub-overflow", 16, SIZE_MAX, SG_E_TRUNCATED },
	{ "sub-off-overflow", SIZE_MAX, 2, SG_E_TRUNCATED },
};

static void
test_sub(void **state)
{
	const struct case_sub *t = *state;
	struct sg_cur c, s = { (const uint8_t *)"x", 99, 7 };
	uint8_t v;
	int rc;

	sg_cur_init(&c, buf, sizeof(buf));
	c.pos = 5;
	rc = sg_cur_sub(&c, t->off, t->len, &s);
	assert_int_equal(rc, t->rc);
	assert_int_equal(c.pos, 5); /* the parent never moves */
	if (rc == 0) {
		assert_ptr_equal(s.base, buf + t->off);
		assert_int_equal(s.len, t->len);
		assert_int_equal(s.pos, 0);
		if (t->len > 0) {
			assert_int_equal(sg_cur_u8(&s, &v), 0);
			assert_int_equal(v, buf[t->off]);
		}
		/* The sub-cursor is bounded by its own length. */
		assert_int_equal(sg_cur_bytes(&s, t->len + 1 - s.pos, NULL), SG_E_TRUNCATED);
	} else {
		assert_int_equal(s.len, 99);
		assert_int_equal(s.pos, 7);
	}
}

static void
test_null_init(void **state)
{
	struct sg_cur c;
	uint8_t v;

	(void)state;
	sg_cur_init(&c, NULL, 10);
	assert_int_equal(c.len, 0);
	assert_int_equal(sg_cur_remaining(&c), 0);
	assert_int_equal(sg_cur_u8(&c, &v), SG_E_TRUNCATED);
}

static void
test_put_get(void **state)
{
	uint8_t b[8];

	(void)state;
	memset(b, 0, sizeof(b));
	sg_put_u16le(b, 0xa1b2);
	assert_int_equal(b[0], 0xb2);
	assert_int_equal(b[1], 0xa1);
	assert_int_equal(sg_get_u16le(b), 0xa1b2);
	sg_put_u32le(b, 0x80c00004u);
	assert_int_equal(b[0], 0x04);
	assert_int_equal(b[3], 0x80);
	assert_int_equal(sg_get_u32le(b), 0x80c00004u);
	sg_put_u64le(b, 0x0007040600070406ull);
	assert_memory_equal(b, "\x06\x04\x07\x00\x06\x04\x07\x00", 8);
	assert_int_equal(sg_get_u64le(b), 0x0007040600070406ull);
	sg_put_u64le(b, UINT64_MAX);
	assert_int_equal(sg_get_u64le(b), UINT64_MAX);
	assert_int_equal(sg_get_u32le(b), UINT32_MAX);
}

/* Walk a small table the way the parsers do, then fail once at the end. */
static void
test_sequence(void **state)
{
	static const uint8_t t[] = { 0x01, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 0xff };
	struct sg_cur c;
	uint8_t a;
	uint16_t b;
	uint32_t d;
	const uint8_t *p;

	(void)state;
	sg_cur_init(&c, t, sizeof(t));
	assert_int_equal(sg_cur_u8(&c, &a), 0);
	assert_int_equal(sg_cur_u16le(&c, &b), 0);
	assert_int_equal(sg_cur_u32le(&c, &d), 0);
	assert_int_equal(a, 1);
	assert_int_equal(b, 0x1234);
	assert_int_equal(d, 0x12345678);
	assert_int_equal(sg_cur_remaining(&c), 1);
	assert_int_equal(sg_cur_u16le(&c, &b), SG_E_TRUNCATED);
	assert_int_equal(b, 0x1234);
	assert_int_equal(sg_cur_bytes(&c, 1, &p), 0);
	assert_int_equal(*p, 0xff);
	assert_int_equal(sg_cur_remaining(&c), 0);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(read_cases) + SG_ELEMENTSOF(sub_cases) + 3];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	for (size_t i = 0; i < SG_ELEMENTSOF(read_cases); i++)
		tests[n++] = (struct CMUnitTest)ROW(test_read, read_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(sub_cases); i++)
		tests[n++] = (struct CMUnitTest)ROW(test_sub, sub_cases, i);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_null_init);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_put_get);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_sequence);
	return tv_main(argc, argv, "cursor", tests, n, NULL, 0);
}
