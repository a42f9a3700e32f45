/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * src/core/digest.c: the launch digest. Every row of launch-digests.tsv
 * (through the engine in digest-only mode, as `sevgate digest` runs it),
 * and spec 13 TV1-TV3k through the core API on the synthetic firmware.
 */
#include <string.h>

#include "vectors.h"
#include "core/cpuid.h"
#include "core/digest.h"
#include "core/hashes.h"
#include "core/ovmf.h"
#include "core/vmsa.h"
#include "validate/validate.h"

/* ---- launch-digests.tsv ---- */

#define TSV_ROWS 19

static char *
resolve(const char *col)
{
	return col ? tv_path(col) : NULL; /* "/dev/null" stays as is */
}

static int
run_row(const struct tv_digest_row *t, bool vmsa_files, enum sg_kernel_check check, uint8_t out[32],
	bool *lacks, struct sg_error *err)
{
	struct sg_crypto *c = NULL;
	struct sg_validation *v = NULL;
	struct sg_validate_req q = { 0 };
	char *fw = tv_path(t->ovmf), *k = resolve(t->kernel), *i = resolve(t->initrd);
	char *v0 = tv_path("sevctl/tests/data/vmsa0.bin");
	char *v1 = tv_path("sevctl/tests/data/vmsa1.bin");
	const struct sg_validate_result *res;
	int rc;

	TV_ASSERT_OK(sg_crypto_new(&c, err), err);
	q.firmware = fw;
	q.kernel = k;
	q.initrd = i;
	q.cmdline = t->append;
	q.digest_only = true;
	q.kernel_check = check;
	q.platform.policy = t->seves ? 0x05 : 0x01;
	if (t->seves) {
		q.num_cpus = t->vcpus;
		if (vmsa_files) {
			q.vmsa_cpu0 = v0;
			q.vmsa_cpu1 = t->vcpus > 1 ? v1 : NULL;
		} else {
			q.have_cpu_sig = true;
			q.cpu_sig = t->vcpu_sig;
			q.vmsa_profile = t->fpu ? SG_VMSA_PROFILE_INIT2 : SG_VMSA_PROFILE_LEGACY;
		}
	}
	TV_ASSERT_OK(sg_validation_new(c, &q, &v, err), err);
	rc = sg_validation_attest(v, err);
	res = sg_validation_result(v);
	*lacks = res->firmware_lacks_kernel_hashes;
	if (rc == 0) {
		uint8_t fw_sha[32];
		size_t len;
		uint8_t *data = tv_read(fw, &len);

		assert_true(res->have_launch_digest);
		memcpy(out, res->launch_digest, 32);
		tv_sha256(data, len, fw_sha);
		assert_memory_equal(res->firmware.sha256, fw_sha, 32);
		assert_int_equal(res->vcpus, t->seves ? t->vcpus : 0);
		assert_int_equal(res->kernel.present, t->kernel != NULL);
		assert_int_equal(res->initrd.present, t->initrd != NULL);
		free(data);
	} else {
		assert_false(res->have_launch_digest);
	}
	sg_validation_free(v);
	sg_crypto_free(c);
	free(fw);
	free(k);
	free(i);
	free(v0);
	free(v1);
	return rc;
}

static void
test_tsv_row(void **state)
{
	const struct tv_digest_row *t = *state;
	struct sg_error err = { 0 };
	uint8_t got[32], want[32];
	bool lacks = false;

	if (t->is_err) {
		/* The firmware has a hash-table entry with GPA 0: no kernel-hashes table. */
		struct sg_ovmf *o = malloc(sizeof(*o));
		char *fw = tv_path(t->ovmf);
		size_t len;
		uint8_t *data = tv_read(fw, &len);

		assert_non_null(t->kernel);
		assert_non_null(strstr(t->expected, "doesn't support kernel"));
		TV_ASSERT_OK(sg_ovmf_parse(data, len, o, &err), &err);
		assert_false(sg_ovmf_has_kernel_hashes(o));
		free(o);
		free(data);
		free(fw);

		/* sevgate refuses it up front ... */
		memset(got, 0xee, sizeof(got));
		TV_ASSERT_ERR(run_row(t, false, SG_KERNEL_CHECK_STRICT, got, &lacks, &err), &err,
			      SG_E_USAGE);
		assert_non_null(strstr(err.msg, "no kernel-hashes table"));
		assert_true(lacks);
		for (size_t i = 0; i < 32; i++)
			assert_int_equal(got[i], 0xee);
		/* ... and the compatible mode computes but flags it for the mismatch hint. */
		sg_error_clear(&err);
		TV_ASSERT_OK(run_row(t, false, SG_KERNEL_CHECK_HINT, got, &lacks, &err), &err);
		assert_true(lacks);
		return;
	}

	tv_unhex(t->expected, want, sizeof(want));
	TV_ASSERT_OK(run_row(t, false, SG_KERNEL_CHECK_STRICT, got, &lacks, &err), &err);
	assert_false(lacks);
	if (memcmp(got, want, 32) != 0) {
		char hex[65];

		tv_tohex(got, 32, hex);
		fail_msg("%s: launch digest %s, expected %s", t->id, hex, t->expected);
	}
	/* sevctl's own VMSA files give the same digest (C03: vmsa0.bin + 3x vmsa1.bin). */
	if (t->seves && strstr(t->notes, "vmsa0.bin")) {
		memset(got, 0, sizeof(got));
		TV_ASSERT_OK(run_row(t, true, SG_KERNEL_CHECK_STRICT, got, &lacks, &err), &err);
		assert_memory_equal(got, want, 32);
	}
}

/* ---- spec 13 TV1..TV3k on the synthetic firmware, through the core API ---- */

struct case_tv {
	const char *id;
	bool kernel, initrd, cmdline;
	unsigned vcpus; /* 0: plain SEV */
	const char *ld;
};

static const struct case_tv tv_cases[] = {
	{ "TV1", false, false, false, 0,
	  "f2e01b2a910bf940bc877e47e66b7c3e0879a5bc3ee3c6263f8c1191f59f089e" },
	{ "TV2", true, true, true, 0,
	  "7f3e845ec8892052c54eb2e8700bf63f9e827cfab6c636f789ebe1968cda44f6" },
	{ "TV2b", true, false, false, 0,
	  "b7009d16edda59830af26786c2182178a581b56d5b1d17d75fabd2a4de321916" },
	{ "TV3", false, false, false, 2,
	  "39edb06ce17127480f982b15f76eeef4af4c56ff42cf95fabf476709981cb239" },
	{ "TV3k", true, true, true, 4,
	  "60c2a9ac1c902143335113f4f68f4257f610ae4c6991eeccf27050f329833812" },
};

static void
test_tv(void **state)
{
	const struct case_tv *t = *state;
	struct sg_crypto *c = NULL;
	struct sg_error err = { 0 };
	struct sg_ovmf *o = malloc(sizeof(*o));
	char *pfw = tv_fixture("fw_synth.bin"), *pk = tv_fixture("kernel.bin"),
	     *pi = tv_fixture("initrd.bin");
	size_t fwlen, klen, ilen;
	uint8_t *fw = tv_read(pfw, &fwlen), *k = tv_read(pk, &klen), *in = tv_read(pi, &ilen);
	uint8_t table[SG_HASHES_TABLE_PADDED_LEN], bsp[SG_VMSA_SIZE], ap[SG_VMSA_SIZE];
	uint8_t ld[32], fwsha[32], want[32], want_fw[32];
	struct sg_vmsa_params p = { .cpu_sig = sg_cpuid_signature(23, 49, 0) };
	struct sg_launch l = { .firmware = fw, .firmware_len = fwlen };
	struct sg_hashes h;
	uint32_t reset = 0;

	assert_int_equal(fwlen, 8192);
	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	if (t->kernel) {
		tv_sha256(k, klen, h.kernel);
		if (t->initrd)
			tv_sha256(in, ilen, h.initrd);
		else
			memcpy(h.initrd, SG_SHA256_EMPTY, 32);
		TV_ASSERT_OK(sg_hashes_cmdline_sha256(
				     c, t->cmdline ? "console=ttyS0 root=/dev/vda1" : NULL,
				     h.cmdline, &err),
			     &err);
		sg_hashes_table_build(&h, table);
		l.hashes_table = table;
	}
	if (t->vcpus) {
		TV_ASSERT_OK(sg_ovmf_parse(fw, fwlen, o, &err), &err);
		TV_ASSERT_OK(sg_ovmf_reset_addr(o, &reset, &err), &err);
		assert_int_equal(reset, 0x0080b004);
		sg_vmsa_build_bsp(&p, bsp);
		sg_vmsa_build_ap(&p, reset, ap);
		l.vcpus = t->vcpus;
		l.vmsa_bsp = bsp;
		l.vmsa_ap = ap;
	}
	TV_ASSERT_OK(sg_launch_digest(c, &l, ld, fwsha, &err), &err);
	tv_unhex(t->ld, want, sizeof(want));
	assert_memory_equal(ld, want, 32);
	tv_unhex("f2e01b2a910bf940bc877e47e66b7c3e0879a5bc3ee3c6263f8c1191f59f089e", want_fw, 32);
	assert_memory_equal(fwsha, want_fw, 32);
	/* Without the firmware-only output it gives the same digest. */
	memset(ld, 0, sizeof(ld));
	TV_ASSERT_OK(sg_launch_digest(c, &l, ld, NULL, &err), &err);
	assert_memory_equal(ld, want, 32);
	sg_crypto_free(c);
	free(o);
	free(fw);
	free(k);
	free(in);
	free(pfw);
	free(pk);
	free(pi);
}

/* ---- sg_launch_digest argument errors ---- */

struct case_bad {
	const char *id;
	unsigned vcpus;
	bool bsp, ap;
	int rc;
};

static const struct case_bad bad_cases[] = {
	{ "digest-too-many-vcpus", SG_MAX_VCPUS + 1, true, true, SG_E_USAGE },
	{ "digest-bsp-missing", 1, false, true, SG_E_INTERNAL },
	{ "digest-ap-missing", 2, true, false, SG_E_INTERNAL },
	{ "digest-one-vcpu-no-ap-ok", 1, true, false, 0 },
	{ "digest-max-vcpus-ok", SG_MAX_VCPUS, true, true, 0 },
};

static void
test_bad(void **state)
{
	const struct case_bad *t = *state;
	static uint8_t fw[100], page[SG_VMSA_SIZE];
	struct sg_crypto *c = NULL;
	struct sg_error err = { 0 };
	struct sg_launch l = { .firmware = fw,
			       .firmware_len = sizeof(fw),
			       .vcpus = t->vcpus,
			       .vmsa_bsp = t->bsp ? page : NULL,
			       .vmsa_ap = t->ap ? page : NULL };
	uint8_t out[32], fwsha[32];
	int rc;

	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	memset(out, 0xee, sizeof(out));
	memset(fwsha, 0xee, sizeof(fwsha));
	rc = sg_launch_digest(c, &l, out, fwsha, &err);
	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
	} else {
		TV_ASSERT_ERR(rc, &err, t->rc);
		for (size_t i = 0; i < 32; i++) {
			assert_int_equal(out[i], 0xee);
			assert_int_equal(fwsha[i], 0xee);
		}
	}
	sg_crypto_free(c);
}

/* One vCPU: only the BSP page is measured, and equals SHA-256(fw || bsp). */
static void
test_one_vcpu(void **state)
{
	static uint8_t fw[3000], page[SG_VMSA_SIZE], cat[3000 + SG_VMSA_SIZE];
	struct sg_crypto *c = NULL;
	struct sg_error err = { 0 };
	struct sg_vmsa_params p = { .cpu_sig = 0x830f10 };
	struct sg_launch l = {
		.firmware = fw, .firmware_len = sizeof(fw), .vcpus = 1, .vmsa_bsp = page
	};
	uint8_t out[32], want[32];

	(void)state;
	for (size_t i = 0; i < sizeof(fw); i++)
		fw[i] = (uint8_t)(i ^ 0x5a);
	sg_vmsa_build_bsp(&p, page);
	memcpy(cat, fw, sizeof(fw));
	memcpy(cat + sizeof(fw), page, sizeof(page));
	tv_sha256(cat, sizeof(cat), want);
	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	TV_ASSERT_OK(sg_launch_digest(c, &l, out, NULL, &err), &err);
	assert_memory_equal(out, want, 32);
	sg_crypto_free(c);
}

int
main(int argc, char **argv)
{
	struct tv_digest_row *rows = NULL;
	struct CMUnitTest *tests;
	size_t nrows = 0, n = 0;
	char *tsv;
	int r;

	if (tv_group_select(argc, argv) == TV_GROUP_VECTORS && (r = tv_require_vectors()) != 0)
		return r;
	tsv = tv_path("launch-digests.tsv");
	if (tv_digest_rows_load(tsv, &rows, &nrows) < 0)
		return 1;
	free(tsv);
	if (nrows != TSV_ROWS) {
		fprintf(stderr, "launch-digests.tsv has %zu rows, expected %d\n", nrows, TSV_ROWS);
		return 1;
	}
	tests = calloc(nrows + SG_ELEMENTSOF(tv_cases) + SG_ELEMENTSOF(bad_cases) + 1,
		       sizeof(*tests));
	for (size_t i = 0; i < nrows; i++)
		tests[n++] = (struct CMUnitTest){ .name = rows[i].id,
						  .test_func = test_tsv_row,
						  .initial_state = &rows[i] };
	if (tv_group() == TV_GROUP_UNIT) {
		for (size_t i = 0; i < SG_ELEMENTSOF(tv_cases); i++)
			tests[n++] = ROW(test_tv, tv_cases, i);
		for (size_t i = 0; i < SG_ELEMENTSOF(bad_cases); i++)
			tests[n++] = ROW(test_bad, bad_cases, i);
		tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_one_vcpu);
	}
	r = tv_run(tv_group() == TV_GROUP_UNIT ? "digest" : "digest-vectors", tests, n);
	free(tests);
	tv_digest_rows_free(rows, nrows);
	return r;
}
