/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * src/core/ovmf.c: the OVMF footer GUID table (spec 3.1). Real firmware
 * fixtures (tests/data copies, or the vectors in place, incl. Debian's
 * OVMF_CODE*.fd) and synthetic malformed tables built here.
 */
#include <string.h>

#include "vectors.h"
#include "core/hashes.h"
#include "core/ovmf.h"
#include "util/cursor.h"

/* ---- real firmware ---- */

struct case_fw {
	const char *id;
	const char *path; /* relative to tv_base(), or "@name" for a build fixture */
	size_t size;
	size_t nentries;
	size_t table_len;
	uint32_t reset;
	int hash_rc; /* sg_ovmf_area: 1 present, 0 absent */
	uint32_t hash_base, hash_size;
	int secret_rc;
	uint32_t secret_base, secret_size;
	bool kernel_hashes;
	bool metadata;
};

#define AMDSEV_HEAD "sev-snp-measure/tests/fixtures/ovmf_AmdSev_suffix.bin"
#define OVMFX64_HEAD "sev-snp-measure/tests/fixtures/ovmf_OvmfX64_suffix.bin"
#define AMDSEV_6082413 "sev-snp-measure/history/6082413/tests/fixtures/ovmf_AmdSev_suffix.bin"
#define OVMFX64_6082413 "sev-snp-measure/history/6082413/tests/fixtures/ovmf_OvmfX64_suffix.bin"
#define SUFFIX_21F7D41 "sev-snp-measure/history/21f7d41/tests/fixtures/ovmf_suffix.bin"
#define SEVCTL_EL9 "sevctl/tests/data/OVMF.amdsev.fd_trimmed_edk2-ovmf-20220126gitbb1bba3d77-4.el9"
#define DEBIAN_4M "debian-ovmf/usr/share/OVMF/OVMF_CODE_4M.fd"
#define DEBIAN_2M "debian-ovmf/usr/share/OVMF/OVMF_CODE.fd"

/* Files that exist both in tests/data and in the vectors. */
static const struct case_fw fw_small[] = {
	{ "amdsev-head", AMDSEV_HEAD, 4096, 5, 0x88, 0x80b004, 1, 0x810c00, 0x400, 1, 0x810000,
	  0xc00, true, true },
	{ "ovmfx64-head", OVMFX64_HEAD, 4096, 5, 0x88, 0x80b004, 1, 0, 0, 1, 0, 0, false, true },
	{ "amdsev-6082413", AMDSEV_6082413, 4096, 5, 0x88, 0x80b004, 1, 0x80fc00, 0x400, 1,
	  0x80f000, 0xc00, true, true },
	{ "ovmfx64-6082413", OVMFX64_6082413, 4096, 5, 0x88, 0x80b004, 1, 0, 0, 1, 0, 0, false,
	  true },
	{ "suffix-21f7d41", SUFFIX_21F7D41, 4096, 5, 0x88, 0x80b004, 1, 0x80fc00, 0x400, 1,
	  0x80f000, 0xc00, true, true },
	{ "sevctl-el9-trimmed", SEVCTL_EL9, 4096, 4, 0x72, 0x80b004, 1, 0x80cc00, 0x400, 1,
	  0x80c000, 0xc00, true, false },
};

/* Only in the vectors (never copied), plus the build-time synthetic firmware. */
static const struct case_fw fw_large[] = {
	{ "debian-ovmf-code-4m", DEBIAN_4M, 3653632, 3, 0x5c, 0x808004, 1, 0, 0, 1, 0, 0, false,
	  false },
	{ "debian-ovmf-code-2m", DEBIAN_2M, 1966080, 5, 0x88, 0x80b004, 1, 0, 0, 1, 0, 0, false,
	  true },
};

static const struct case_fw fw_synth[] = {
	{ "fw-synth", "@fw_synth.bin", 8192, 2, 66, 0x80b004, 1, 0x80c000, 0x400, 0, 0, 0, true,
	  false },
};

static void
test_fw(void **state)
{
	const struct case_fw *t = *state;
	struct sg_error err = { 0 };
	struct sg_ovmf o;
	uint32_t reset = 0, base = 0xeeeeeeee, size = 0xeeeeeeee;
	char *path = t->path[0] == '@' ? tv_fixture(t->path + 1) : tv_path(t->path);
	size_t len;
	uint8_t *fw = tv_read(path, &len);
	const struct sg_ovmf_entry *e;

	assert_int_equal(len, t->size);
	TV_ASSERT_OK(sg_ovmf_parse(fw, len, &o, &err), &err);
	assert_int_equal(o.n, t->nentries);
	assert_int_equal(o.table_len, t->table_len);
	assert_int_equal(o.table_offset, len - 32 - t->table_len);
	/* The entry nearest the footer comes first: the SEV-ES reset block in all of these. */
	assert_true(sg_guid_equal(&o.entries[0].guid, &SG_GUID_SEV_ES_RESET_BLOCK));
	assert_int_equal(o.entries[0].offset, len - 32 - 18 - 22 + 0);
	for (size_t i = 0; i < o.n; i++) {
		assert_ptr_equal(o.entries[i].data, fw + o.entries[i].offset);
		assert_true(o.entries[i].offset >= o.table_offset);
		assert_true(o.entries[i].offset + o.entries[i].len + 18 <= len - 32 - 18);
	}

	TV_ASSERT_OK(sg_ovmf_reset_addr(&o, &reset, &err), &err);
	assert_int_equal(reset, t->reset);

	assert_int_equal(sg_ovmf_area(&o, &SG_GUID_SEV_HASH_TABLE_AREA, &base, &size, &err),
			 t->hash_rc);
	if (t->hash_rc == 1) {
		assert_int_equal(base, t->hash_base);
		assert_int_equal(size, t->hash_size);
	}
	base = size = 0xeeeeeeee;
	assert_int_equal(sg_ovmf_area(&o, &SG_GUID_SEV_SECRET_AREA, &base, &size, &err),
			 t->secret_rc);
	if (t->secret_rc == 1) {
		assert_int_equal(base, t->secret_base);
		assert_int_equal(size, t->secret_size);
	} else {
		assert_int_equal(base, 0xeeeeeeee);
		assert_int_equal(size, 0xeeeeeeee);
	}
	assert_int_equal(err.code, 0);
	assert_int_equal(sg_ovmf_has_kernel_hashes(&o), t->kernel_hashes);

	e = sg_ovmf_find(&o, &SG_GUID_SEV_METADATA);
	assert_int_equal(e != NULL, t->metadata);
	if (e)
		assert_int_equal(e->len, 4);
	e = sg_ovmf_find(&o, &SG_GUID_SEV_ES_RESET_BLOCK);
	assert_non_null(e);
	assert_int_equal(e->len, 4);
	assert_string_equal(sg_ovmf_entry_name(&e->guid), "sev-es-reset-block");
	assert_null(sg_ovmf_find(&o, &SG_GUID_LUKS_KEY));
	free(fw);
	free(path);
}

/* ---- synthetic tables ---- */

#define SYN_MAX 4096

struct ent {
	const struct sg_guid *guid;
	size_t datalen;
	uint32_t v0, v1;  /* data as up to two u32s */
	int len_override; /* >= 0: written instead of the true entry length */
};

struct syn {
	size_t prefix; /* filler bytes before the table */
	size_t stray;  /* bytes between the filler and the first entry */
	struct ent e[70];
	size_t n;
	int total_override; /* >= 0: written instead of the true total length */
	bool bad_footer;
};

static size_t
syn_build(const struct syn *s, uint8_t *out)
{
	size_t off = 0, total = 18 + s->stray;

	memset(out, 0xcc, s->prefix);
	off = s->prefix;
	memset(out + off, 0x5a, s->stray);
	off += s->stray;
	for (size_t i = 0; i < s->n; i++) {
		const struct ent *e = &s->e[i];
		size_t elen = e->datalen + 18;

		memset(out + off, 0, e->datalen);
		if (e->datalen >= 4)
			sg_put_u32le(out + off, e->v0);
		if (e->datalen >= 8)
			sg_put_u32le(out + off + 4, e->v1);
		off += e->datalen;
		sg_put_u16le(out + off,
			     e->len_override >= 0 ? (uint16_t)e->len_override : (uint16_t)elen);
		memcpy(out + off + 2, e->guid->b, 16);
		off += 18;
		total += elen;
	}
	sg_put_u16le(out + off,
		     s->total_override >= 0 ? (uint16_t)s->total_override : (uint16_t)total);
	memcpy(out + off + 2, SG_GUID_OVMF_FOOTER.b, 16);
	if (s->bad_footer)
		out[off + 2 + 15] ^= 0x01;
	off += 18;
	memset(out + off, 0x90, 16);
	memset(out + off + 16, 0, 16);
	return off + 32;
}

#define RESET(addr)                                           \
	{                                                     \
		&SG_GUID_SEV_ES_RESET_BLOCK, 4, (addr), 0, -1 \
	}
#define HASHES(b, s)                                          \
	{                                                     \
		&SG_GUID_SEV_HASH_TABLE_AREA, 8, (b), (s), -1 \
	}
#define SECRET(b, s)                                      \
	{                                                 \
		&SG_GUID_SEV_SECRET_AREA, 8, (b), (s), -1 \
	}

enum stage {
	ST_PARSE,
	ST_RESET,
	ST_HASH_AREA
};

struct case_syn {
	const char *id;
	struct syn s;
	size_t truncate_to; /* non-zero: pass only the first truncate_to - 1 bytes */
	enum stage stage;
	int rc;
	const char *msg; /* substring of the message */
};

static const struct case_syn syn_cases[] = {
	{ "syn-ok-minimal", { 0, 0, { RESET(0x80b004) }, 1, -1, false }, 0, ST_RESET, 0, NULL },
	{ "syn-ok-empty-table", { 0, 0, { { 0 } }, 0, -1, false }, 0, ST_PARSE, 0, NULL },
	{ "syn-ok-table-fills-file",
	  { 0, 0, { RESET(0x80b004), HASHES(0x80c000, 0x400) }, 2, -1, false },
	  0,
	  ST_HASH_AREA,
	  1,
	  NULL },
	{ "syn-too-short-empty",
	  { 0, 0, { { 0 } }, 0, -1, false },
	  1,
	  ST_PARSE,
	  SG_E_FORMAT,
	  "footer GUID not found" },
	{ "syn-too-short-49",
	  { 0, 0, { { 0 } }, 0, -1, false },
	  50,
	  ST_PARSE,
	  SG_E_FORMAT,
	  "footer GUID not found" },
	{ "syn-no-footer-guid",
	  { 64, 0, { RESET(0x80b004) }, 1, -1, true },
	  0,
	  ST_PARSE,
	  SG_E_FORMAT,
	  "footer GUID not found" },
	{ "syn-zero-length",
	  { 64, 0, { RESET(0x80b004) }, 1, 0, false },
	  0,
	  ST_PARSE,
	  SG_E_FORMAT,
	  "zero length" },
	{ "syn-length-1",
	  { 64, 0, { RESET(0x80b004) }, 1, 1, false },
	  0,
	  ST_PARSE,
	  SG_E_FORMAT,
	  "shorter than" },
	{ "syn-length-17",
	  { 64, 0, { RESET(0x80b004) }, 1, 17, false },
	  0,
	  ST_PARSE,
	  SG_E_FORMAT,
	  "shorter than" },
	{ "syn-length-larger-than-file",
	  { 0, 0, { RESET(0x80b004) }, 1, 41, false },
	  0,
	  ST_PARSE,
	  SG_E_FORMAT,
	  "exceeds" },
	{ "syn-length-0xffff",
	  { 64, 0, { RESET(0x80b004) }, 1, 0xffff, false },
	  0,
	  ST_PARSE,
	  SG_E_FORMAT,
	  "exceeds" },
	{ "syn-entry-length-0",
	  { 64, 0, { { &SG_GUID_SEV_ES_RESET_BLOCK, 4, 0x80b004, 0, 0 } }, 1, -1, false },
	  0,
	  ST_PARSE,
	  SG_E_FORMAT,
	  "length 0 does not fit" },
	{ "syn-entry-length-17",
	  { 64, 0, { { &SG_GUID_SEV_ES_RESET_BLOCK, 4, 0x80b004, 0, 17 } }, 1, -1, false },
	  0,
	  ST_PARSE,
	  SG_E_FORMAT,
	  "length 17 does not fit" },
	{ "syn-entry-length-overflows",
	  { 64, 0, { { &SG_GUID_SEV_ES_RESET_BLOCK, 4, 0x80b004, 0, 23 } }, 1, -1, false },
	  0,
	  ST_PARSE,
	  SG_E_FORMAT,
	  "00f771de-1a7e-4fcb-890e-68c77e2fb44e: length 23" },
	{ "syn-entry-length-0xffff",
	  { 64, 0, { { &SG_GUID_SEV_ES_RESET_BLOCK, 4, 0x80b004, 0, 0xffff } }, 1, -1, false },
	  0,
	  ST_PARSE,
	  SG_E_FORMAT,
	  "does not fit" },
	{ "syn-second-entry-overflows",
	  { 64,
	    0,
	    { { &SG_GUID_SEV_HASH_TABLE_AREA, 8, 1, 2, 27 }, RESET(0x80b004) },
	    2,
	    -1,
	    false },
	  0,
	  ST_PARSE,
	  SG_E_FORMAT,
	  "7255371f-3a3b-4b04-927b-1da6efa8d454" },
	{ "syn-stray-byte",
	  { 64, 1, { RESET(0x80b004) }, 1, -1, false },
	  0,
	  ST_PARSE,
	  SG_E_FORMAT,
	  "1 stray bytes" },
	{ "syn-stray-17-bytes",
	  { 64, 17, { RESET(0x80b004) }, 1, -1, false },
	  0,
	  ST_PARSE,
	  SG_E_FORMAT,
	  "17 stray bytes" },
	{ "syn-reset-block-missing",
	  { 64, 0, { HASHES(0x80c000, 0x400) }, 1, -1, false },
	  0,
	  ST_RESET,
	  SG_E_FORMAT,
	  "SEV info block GUID not found" },
	/* The reference reads any size as one little-endian integer: so do we. */
	{ "syn-reset-block-2-bytes",
	  { 64, 0, { { &SG_GUID_SEV_ES_RESET_BLOCK, 2, 0, 0, -1 } }, 1, -1, false },
	  0,
	  ST_RESET,
	  0,
	  NULL },
	{ "syn-reset-block-8-bytes",
	  { 64, 0, { { &SG_GUID_SEV_ES_RESET_BLOCK, 8, 0x80b004, 0, -1 } }, 1, -1, false },
	  0,
	  ST_RESET,
	  0,
	  NULL },
	{ "syn-reset-block-empty",
	  { 64, 0, { { &SG_GUID_SEV_ES_RESET_BLOCK, 0, 0, 0, -1 } }, 1, -1, false },
	  0,
	  ST_RESET,
	  0,
	  NULL },
	{ "syn-hash-area-4-bytes",
	  { 64, 0, { { &SG_GUID_SEV_HASH_TABLE_AREA, 4, 0x80c000, 0, -1 } }, 1, -1, false },
	  0,
	  ST_HASH_AREA,
	  SG_E_FORMAT,
	  "7255371f-3a3b-4b04-927b-1da6efa8d454 holds 4 bytes" },
	{ "syn-hash-area-absent",
	  { 64, 0, { RESET(0x80b004) }, 1, -1, false },
	  0,
	  ST_HASH_AREA,
	  0,
	  NULL },
};

static void
test_syn(void **state)
{
	const struct case_syn *t = *state;
	static uint8_t buf[SYN_MAX];
	struct sg_error err = { 0 };
	struct sg_ovmf o, before;
	size_t len = syn_build(&t->s, buf);
	uint32_t reset = 0xeeeeeeee, base = 0xeeeeeeee, size = 0xeeeeeeee;
	int rc;

	if (t->truncate_to)
		len = t->truncate_to - 1; /* truncate_to 1 means an empty buffer */
	memset(&o, 0xab, sizeof(o));
	memcpy(&before, &o, sizeof(o));
	rc = sg_ovmf_parse(len ? buf : NULL, len, &o, &err);
	if (t->stage == ST_PARSE && t->rc != 0) {
		TV_ASSERT_ERR(rc, &err, t->rc);
		assert_non_null(strstr(err.msg, t->msg));
		assert_memory_equal(&o, &before, sizeof(o)); /* output not written */
		return;
	}
	TV_ASSERT_OK(rc, &err);
	assert_int_equal(o.n, t->s.n);
	if (t->stage == ST_RESET) {
		rc = sg_ovmf_reset_addr(&o, &reset, &err);
		if (t->rc == 0) {
			TV_ASSERT_OK(rc, &err);
			assert_int_equal(reset, t->s.e[0].v0);
		} else {
			TV_ASSERT_ERR(rc, &err, t->rc);
			assert_non_null(strstr(err.msg, t->msg));
			assert_int_equal(reset, 0xeeeeeeee);
		}
	} else if (t->stage == ST_HASH_AREA) {
		rc = sg_ovmf_area(&o, &SG_GUID_SEV_HASH_TABLE_AREA, &base, &size, &err);
		if (t->rc >= 0) {
			assert_int_equal(rc, t->rc);
			assert_int_equal(err.code, 0);
			if (rc == 1) {
				assert_int_equal(base, 0x80c000);
				assert_int_equal(size, 0x400);
				assert_true(sg_ovmf_has_kernel_hashes(&o));
			} else {
				assert_int_equal(base, 0xeeeeeeee);
				assert_false(sg_ovmf_has_kernel_hashes(&o));
			}
		} else {
			TV_ASSERT_ERR(rc, &err, t->rc);
			assert_non_null(strstr(err.msg, t->msg));
			assert_int_equal(base, 0xeeeeeeee);
			assert_int_equal(size, 0xeeeeeeee);
			assert_false(sg_ovmf_has_kernel_hashes(&o));
		}
	}
}

/* More than SG_OVMF_MAX_ENTRIES entries is refused; exactly that many is fine. */
static void
many_entries(size_t n, int want)
{
	static struct syn s;
	static uint8_t buf[SYN_MAX];
	struct sg_error err = { 0 };
	struct sg_ovmf o, before;
	size_t len;
	int rc;

	memset(&s, 0, sizeof(s));
	s.prefix = 16;
	s.total_override = -1;
	s.n = n;
	for (size_t i = 0; i < n; i++)
		s.e[i] = (struct ent){ &SG_GUID_SEV_METADATA, 0, 0, 0, -1 };
	len = syn_build(&s, buf);
	memset(&o, 0xab, sizeof(o));
	memcpy(&before, &o, sizeof(o));
	rc = sg_ovmf_parse(buf, len, &o, &err);
	if (want == 0) {
		TV_ASSERT_OK(rc, &err);
		assert_int_equal(o.n, n);
	} else {
		TV_ASSERT_ERR(rc, &err, want);
		assert_non_null(strstr(err.msg, "more than 64 entries"));
		assert_memory_equal(&o, &before, sizeof(o));
	}
}

static void
test_64_entries(void **state)
{
	(void)state;
	many_entries(SG_OVMF_MAX_ENTRIES, 0);
}

static void
test_65_entries(void **state)
{
	(void)state;
	many_entries(SG_OVMF_MAX_ENTRIES + 1, SG_E_LIMIT);
}

/* With duplicates, the entry furthest from the footer wins (the reference's dict). */
static void
test_duplicates(void **state)
{
	static uint8_t buf[SYN_MAX];
	const struct syn s = { 16, 0, { RESET(0x111111), RESET(0x222222) }, 2, -1, false };
	struct sg_error err = { 0 };
	struct sg_ovmf o;
	uint32_t reset = 0;

	(void)state;
	TV_ASSERT_OK(sg_ovmf_parse(buf, syn_build(&s, buf), &o, &err), &err);
	assert_int_equal(o.n, 2);
	TV_ASSERT_OK(sg_ovmf_reset_addr(&o, &reset, &err), &err);
	assert_int_equal(reset, 0x111111);
}

struct case_kh {
	const char *id;
	uint32_t base, size;
	bool want;
};

static const struct case_kh kh_cases[] = {
	{ "kernel-hashes-ok", 0x80c000, 0x400, true },
	{ "kernel-hashes-exact-176", 0x80c000, SG_HASHES_TABLE_PADDED_LEN, true },
	{ "kernel-hashes-size-175", 0x80c000, SG_HASHES_TABLE_PADDED_LEN - 1, false },
	{ "kernel-hashes-gpa-0", 0, 0x400, false },
	{ "kernel-hashes-debian-0-0", 0, 0, false },
};

static void
test_kernel_hashes(void **state)
{
	const struct case_kh *t = *state;
	static uint8_t buf[SYN_MAX];
	const struct syn s = { 16, 0, { RESET(0x80b004), HASHES(t->base, t->size) }, 2, -1, false };
	struct sg_error err = { 0 };
	struct sg_ovmf o;

	TV_ASSERT_OK(sg_ovmf_parse(buf, syn_build(&s, buf), &o, &err), &err);
	assert_int_equal(sg_ovmf_has_kernel_hashes(&o), t->want);
}

static void
test_entry_names(void **state)
{
	(void)state;
	assert_string_equal(sg_ovmf_entry_name(&SG_GUID_SEV_ES_RESET_BLOCK), "sev-es-reset-block");
	assert_string_equal(sg_ovmf_entry_name(&SG_GUID_SEV_HASH_TABLE_AREA),
			    "sev-hash-table-area");
	assert_string_equal(sg_ovmf_entry_name(&SG_GUID_SEV_SECRET_AREA), "sev-secret-area");
	assert_string_equal(sg_ovmf_entry_name(&SG_GUID_SEV_METADATA), "sev-metadata");
	assert_null(sg_ovmf_entry_name(&SG_GUID_OVMF_FOOTER));
}

#define N_UNIT                                                                          \
	(SG_ELEMENTSOF(fw_small) + SG_ELEMENTSOF(fw_synth) + SG_ELEMENTSOF(syn_cases) + \
	 SG_ELEMENTSOF(kh_cases) + 4)

int
main(int argc, char **argv)
{
	struct CMUnitTest unit[N_UNIT], vec[SG_ELEMENTSOF(fw_small) + SG_ELEMENTSOF(fw_large)];
	size_t n = 0, nv = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(fw_small); i++) {
		unit[n++] = ROW(test_fw, fw_small, i);
		vec[nv++] = ROW(test_fw, fw_small, i);
	}
	for (size_t i = 0; i < SG_ELEMENTSOF(fw_large); i++)
		vec[nv++] = ROW(test_fw, fw_large, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(fw_synth); i++)
		unit[n++] = ROW(test_fw, fw_synth, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(syn_cases); i++)
		unit[n++] = ROW(test_syn, syn_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(kh_cases); i++)
		unit[n++] = ROW(test_kernel_hashes, kh_cases, i);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_64_entries);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_65_entries);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_duplicates);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_entry_names);
	return tv_main(argc, argv, "ovmf", unit, n, vec, nv);
}
