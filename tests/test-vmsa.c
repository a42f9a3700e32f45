/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/core/vmsa.c: SEV-ES initial VMSA pages, byte for byte against peer tools and spec 13. */
#include <string.h>

#include "vectors.h"
#include "core/cpuid.h"
#include "core/ovmf.h"
#include "core/vmsa.h"
#include "util/cursor.h"

/* ---- pages from peer tools ---- */

struct case_file {
	const char *id;
	const char *vmsa;     /* relative to tv_base() */
	const char *firmware; /* the firmware the AP reset address comes from */
	bool ap;
	uint32_t sig;
	enum sg_vmsa_profile profile;
	uint32_t reset;
};

#define SEVCTL "sevctl/tests/data/"
#define SEVCTL_FW SEVCTL "OVMF.amdsev.fd_trimmed_edk2-ovmf-20220126gitbb1bba3d77-4.el9"
#define GEN "generated/vmsa-seves-EPYC-v4-OVMF_CODE_4M/"
#define DEBIAN_4M "debian-ovmf/usr/share/OVMF/OVMF_CODE_4M.fd"

static const struct case_file file_small[] = {
	{ "sevctl-vmsa0", SEVCTL "vmsa0.bin", SEVCTL_FW, false, 0xa00f11, SG_VMSA_PROFILE_LEGACY,
	  0x80b004 },
	{ "sevctl-vmsa1", SEVCTL "vmsa1.bin", SEVCTL_FW, true, 0xa00f11, SG_VMSA_PROFILE_LEGACY,
	  0x80b004 },
};

static const struct case_file file_large[] = {
	{ "epyc-v4-fpu-vmsa0", GEN "fpu/vmsa0.bin", DEBIAN_4M, false, 0x800f12,
	  SG_VMSA_PROFILE_INIT2, 0x808004 },
	{ "epyc-v4-fpu-vmsa1", GEN "fpu/vmsa1.bin", DEBIAN_4M, true, 0x800f12,
	  SG_VMSA_PROFILE_INIT2, 0x808004 },
	{ "epyc-v4-nofpu-vmsa0", GEN "nofpu/vmsa0.bin", DEBIAN_4M, false, 0x800f12,
	  SG_VMSA_PROFILE_LEGACY, 0x808004 },
	{ "epyc-v4-nofpu-vmsa1", GEN "nofpu/vmsa1.bin", DEBIAN_4M, true, 0x800f12,
	  SG_VMSA_PROFILE_LEGACY, 0x808004 },
};

static void
test_file(void **state)
{
	const struct case_file *t = *state;
	struct sg_vmsa_params p = { .cpu_sig = t->sig, .profile = t->profile };
	struct sg_error err = { 0 };
	char *vpath = tv_path(t->vmsa), *fpath = tv_path(t->firmware);
	size_t vlen, flen;
	uint8_t *want = tv_read(vpath, &vlen), *fw = tv_read(fpath, &flen);
	uint8_t page[SG_VMSA_SIZE];
	struct sg_ovmf *o = malloc(sizeof(*o));
	uint32_t reset = 0;

	assert_int_equal(vlen, SG_VMSA_SIZE);
	/* The AP entry point is the firmware's SEV-ES reset block. */
	TV_ASSERT_OK(sg_ovmf_parse(fw, flen, o, &err), &err);
	TV_ASSERT_OK(sg_ovmf_reset_addr(o, &reset, &err), &err);
	assert_int_equal(reset, t->reset);
	memset(page, 0xee, sizeof(page));
	if (t->ap)
		sg_vmsa_build_ap(&p, reset, page);
	else
		sg_vmsa_build_bsp(&p, page);
	for (size_t i = 0; i < SG_VMSA_SIZE; i++)
		if (page[i] != want[i])
			fail_msg("byte 0x%03zx: built %02x, %s has %02x", i, page[i], t->vmsa,
				 want[i]);
	free(o);
	free(want);
	free(fw);
	free(vpath);
	free(fpath);
}

/* ---- spec 13 page hashes (SKU 23/49/0, legacy, reset 0x80b004) ---- */

struct case_hash {
	const char *id;
	bool ap;
	const char *sha256;
};

static const struct case_hash hash_cases[] = {
	{ "spec13-bsp-sha256", false,
	  "c0ad5dc8305470b14945bf19c79b6b25ef0aeb1cbbda8318902f731078e2641b" },
	{ "spec13-ap-sha256", true,
	  "e66281015adf6958a619ec00d5b96ce5cbbca43b48d76b0778467bff07dd0118" },
};

static void
test_hash(void **state)
{
	const struct case_hash *t = *state;
	struct sg_vmsa_params p = { .cpu_sig = sg_cpuid_signature(23, 49, 0) };
	uint8_t page[SG_VMSA_SIZE], got[32], want[32];

	assert_int_equal(p.cpu_sig, 0x830f10);
	if (t->ap)
		sg_vmsa_build_ap(&p, 0x0080b004, page);
	else
		sg_vmsa_build_bsp(&p, page);
	tv_sha256(page, sizeof(page), got);
	tv_unhex(t->sha256, want, sizeof(want));
	assert_memory_equal(got, want, 32);
}

/* Spec 4.3: every non-zero 8-byte word of the BSP page for SKU 23/49/0. */
static void
test_bsp_words(void **state)
{
	static const struct {
		uint16_t off;
		uint64_t v;
	} words[] = {
		{ 0x000, 0x0000ffff00930000ull },
		{ 0x010, 0x0000ffff009bf000ull },
		{ 0x018, 0x00000000ffff0000ull },
		{ 0x020, 0x0000ffff00930000ull },
		{ 0x030, 0x0000ffff00930000ull },
		{ 0x040, 0x0000ffff00930000ull },
		{ 0x050, 0x0000ffff00930000ull },
		{ 0x060, 0x0000ffff00000000ull },
		{ 0x070, 0x0000ffff00820000ull },
		{ 0x080, 0x0000ffff00000000ull },
		{ 0x090, 0x0000ffff008b0000ull },
		{ 0x0d0, 0x1000 },
		{ 0x148, 0x40 },
		{ 0x158, 0x10 },
		{ 0x160, 0x400 },
		{ 0x168, 0xffff0ff0 },
		{ 0x170, 0x2 },
		{ 0x178, 0xfff0 },
		{ 0x268, 0x0007040600070406ull },
		{ 0x310, 0x830f10 },
		{ 0x3e8, 0x1 },
	};
	struct sg_vmsa_params p = { .cpu_sig = 0x830f10 };
	uint8_t page[SG_VMSA_SIZE];
	size_t k = 0;

	(void)state;
	sg_vmsa_build_bsp(&p, page);
	for (size_t off = 0; off < SG_VMSA_SIZE; off += 8) {
		uint64_t v = sg_get_u64le(page + off);

		if (k < SG_ELEMENTSOF(words) && words[k].off == off) {
			if (v != words[k].v)
				fail_msg("word 0x%03zx is %016llx, spec says %016llx", off,
					 (unsigned long long)v, (unsigned long long)words[k].v);
			k++;
		} else if (v != 0) {
			fail_msg("word 0x%03zx is %016llx, spec says zero", off,
				 (unsigned long long)v);
		}
	}
	assert_int_equal(k, SG_ELEMENTSOF(words));
}

/* Byte ranges where two pages may differ; everything else must be equal. */
static void
assert_diff_only(const uint8_t *a, const uint8_t *b, const uint16_t (*ranges)[2], size_t n)
{
	for (size_t i = 0; i < SG_VMSA_SIZE; i++) {
		bool allowed = false;

		for (size_t r = 0; r < n; r++)
			if (i >= ranges[r][0] && i < ranges[r][1])
				allowed = true;
		if (!allowed && a[i] != b[i])
			fail_msg("pages differ at 0x%03zx", i);
	}
}

/* The AP page differs from the BSP only in CS.base (0x018) and RIP (0x178). */
static void
test_ap_vs_bsp(void **state)
{
	static const uint16_t ranges[][2] = { { 0x018, 0x020 }, { 0x178, 0x180 } };
	struct sg_vmsa_params p = { .cpu_sig = 0x830f10 };
	uint8_t bsp[SG_VMSA_SIZE], ap[SG_VMSA_SIZE];

	(void)state;
	sg_vmsa_build_bsp(&p, bsp);
	sg_vmsa_build_ap(&p, 0x0080b004, ap);
	assert_diff_only(bsp, ap, ranges, SG_ELEMENTSOF(ranges));
	assert_int_equal(sg_get_u64le(ap + 0x018), 0x00800000);
	assert_int_equal(sg_get_u64le(ap + SG_VMSA_OFF_RIP), 0xb004);
	assert_int_equal(sg_get_u16le(ap + SG_VMSA_OFF_CS), 0xf000); /* selector stays */
	/* Debian OVMF_CODE_4M's reset block. */
	sg_vmsa_build_ap(&p, 0x00808004, ap);
	assert_int_equal(sg_get_u64le(ap + 0x018), 0x00800000);
	assert_int_equal(sg_get_u64le(ap + SG_VMSA_OFF_RIP), 0x8004);
}

/* DebugSwap: sev_features 0x20 lands at 0x3b0 and nowhere else. */
static void
test_sev_features(void **state)
{
	static const uint16_t ranges[][2] = { { 0x3b0, 0x3b8 } };
	struct sg_vmsa_params p = { .cpu_sig = 0x800f12 };
	uint8_t base[SG_VMSA_SIZE], ds[SG_VMSA_SIZE];

	(void)state;
	sg_vmsa_build_bsp(&p, base);
	p.sev_features = 0x20;
	sg_vmsa_build_bsp(&p, ds);
	assert_diff_only(base, ds, ranges, SG_ELEMENTSOF(ranges));
	assert_int_equal(ds[0x3b0], 0x20);
	assert_int_equal(sg_get_u64le(ds + SG_VMSA_OFF_SEV_FEATURES), 0x20);
	assert_int_equal(sg_get_u64le(base + SG_VMSA_OFF_SEV_FEATURES), 0);
	sg_vmsa_build_ap(&p, 0x808004, ds);
	assert_int_equal(sg_get_u64le(ds + 0x3b0), 0x20);
}

/* INIT2: MXCSR 0x1f80 at 0x408 and x87 FCW 0x37f at 0x410, nothing else. */
static void
test_init2(void **state)
{
	static const uint16_t ranges[][2] = { { 0x408, 0x40c }, { 0x410, 0x412 } };
	struct sg_vmsa_params p = { .cpu_sig = 0x800f12 };
	uint8_t legacy[SG_VMSA_SIZE], init2[SG_VMSA_SIZE];

	(void)state;
	sg_vmsa_build_ap(&p, 0x808004, legacy);
	p.profile = SG_VMSA_PROFILE_INIT2;
	sg_vmsa_build_ap(&p, 0x808004, init2);
	assert_diff_only(legacy, init2, ranges, SG_ELEMENTSOF(ranges));
	assert_int_equal(sg_get_u32le(init2 + SG_VMSA_OFF_MXCSR), 0x1f80);
	assert_int_equal(sg_get_u16le(init2 + SG_VMSA_OFF_X87_FCW), 0x37f);
	assert_int_equal(sg_get_u32le(legacy + SG_VMSA_OFF_MXCSR), 0);
	assert_int_equal(sg_get_u16le(legacy + SG_VMSA_OFF_X87_FCW), 0);
}

struct case_profile {
	const char *id;
	const char *text;
	int rc;
	enum sg_vmsa_profile profile;
};

static const struct case_profile profile_cases[] = {
	{ "profile-legacy", "legacy", 0, SG_VMSA_PROFILE_LEGACY },
	{ "profile-nofpu", "nofpu", 0, SG_VMSA_PROFILE_LEGACY },
	{ "profile-init2", "init2", 0, SG_VMSA_PROFILE_INIT2 },
	{ "profile-fpu", "fpu", 0, SG_VMSA_PROFILE_INIT2 },
	{ "profile-empty", "", SG_E_USAGE, 0 },
	{ "profile-upper", "LEGACY", SG_E_USAGE, 0 },
	{ "profile-unknown", "snp", SG_E_USAGE, 0 },
	{ "profile-trailing-space", "init2 ", SG_E_USAGE, 0 },
};

static void
test_profile(void **state)
{
	const struct case_profile *t = *state;
	struct sg_error err = { 0 };
	enum sg_vmsa_profile p = (enum sg_vmsa_profile)77;
	int rc = sg_vmsa_profile_parse(t->text, &p, &err);

	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		assert_int_equal(p, t->profile);
		return;
	}
	TV_ASSERT_ERR(rc, &err, t->rc);
	assert_int_equal(p, 77);
}

static void
test_profile_names(void **state)
{
	(void)state;
	assert_string_equal(sg_vmsa_profile_name(SG_VMSA_PROFILE_LEGACY), "legacy");
	assert_string_equal(sg_vmsa_profile_name(SG_VMSA_PROFILE_INIT2), "init2");
}

/* The decode table: in offset order, inside the page, named uniquely, key fields present. */
static void
test_field_table(void **state)
{
	static const struct {
		const char *name;
		uint16_t off;
	} must[] = { { "cs", 0x010 },	{ "efer", 0x0d0 },  { "rip", 0x178 },
		     { "rdx", 0x310 },	{ "g_pat", 0x268 }, { "sev_features", 0x3b0 },
		     { "xcr0", 0x3e8 }, { "mxcsr", 0x408 }, { "x87_fcw", 0x410 } };

	(void)state;
	assert_true(sg_vmsa_nfields > 0);
	for (unsigned i = 0; i < sg_vmsa_nfields; i++) {
		assert_true(sg_vmsa_fields[i].offset < SG_VMSA_SIZE);
		if (i > 0)
			assert_true(sg_vmsa_fields[i].offset > sg_vmsa_fields[i - 1].offset);
		for (unsigned j = 0; j < i; j++)
			assert_string_not_equal(sg_vmsa_fields[i].name, sg_vmsa_fields[j].name);
	}
	for (size_t k = 0; k < SG_ELEMENTSOF(must); k++) {
		bool found = false;

		for (unsigned i = 0; i < sg_vmsa_nfields; i++)
			if (!strcmp(sg_vmsa_fields[i].name, must[k].name)) {
				assert_int_equal(sg_vmsa_fields[i].offset, must[k].off);
				found = true;
			}
		if (!found)
			fail_msg("field %s missing", must[k].name);
	}
}

int
main(int argc, char **argv)
{
	struct CMUnitTest unit[SG_ELEMENTSOF(file_small) + SG_ELEMENTSOF(hash_cases) +
			       SG_ELEMENTSOF(profile_cases) + 7];
	struct CMUnitTest vec[SG_ELEMENTSOF(file_small) + SG_ELEMENTSOF(file_large)];
	size_t n = 0, nv = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(file_small); i++) {
		unit[n++] = ROW(test_file, file_small, i);
		vec[nv++] = ROW(test_file, file_small, i);
	}
	for (size_t i = 0; i < SG_ELEMENTSOF(file_large); i++)
		vec[nv++] = ROW(test_file, file_large, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(hash_cases); i++)
		unit[n++] = ROW(test_hash, hash_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(profile_cases); i++)
		unit[n++] = ROW(test_profile, profile_cases, i);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_bsp_words);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_ap_vs_bsp);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_sev_features);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_init2);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_profile_names);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_field_table);
	return tv_main(argc, argv, "vmsa", unit, n, vec, nv);
}
