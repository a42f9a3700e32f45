/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * src/validate: the engine end to end (sg_validation_new/attest/release),
 * with every input written to a temporary directory: spec 13 TV1-TV3k, the
 * spec 13 secret vector through release, and the failure paths.
 */
#include <string.h>
#include <sys/stat.h>

#include "vectors.h"
#include "cli/secret-arg.h"
#include "core/cpuid.h"
#include "core/guid.h"
#include "core/vmsa.h"
#include "util/cursor.h"
#include "validate/validate.h"

#define MISMATCH_MSG "Measurement does not match, VM is not trustworthy"
#define TV1_BLOB "Jtkm6DPHOLtKnVthiMCUs4dyWKB2Kb5yGoM6nUd3nvqgoaKjpKWmp6ipqqusra6v"
#define TV2_BLOB "8aqg6GI6ehleI6dN5f8gp5YBR+fpfVgsIpynh1ounnmgoaKjpKWmp6ipqqusra6v"
#define TV2B_BLOB "NVH7tC6Bi98gBuGcTAe5Um0jRQNR3sZYAuyRd7wGi3WgoaKjpKWmp6ipqqusra6v"
#define TV3_BLOB "wwFH+LARKpueawD/K5fckKHatM8S1XZ3eU2u267aqh2goaKjpKWmp6ipqqusra6v"
#define TV3K_BLOB "2Thm6QTDJLFGSHhD3aRoIaMj2smr4mP67YvbeCFLmoagoaKjpKWmp6ipqqusra6v"
#define CMDLINE "console=ttyS0 root=/dev/vda1"

/* Files shared by all rows, created once in main(). */
static char *p_fw, *p_kernel, *p_initrd, *p_tik, *p_tek, *p_tk, *p_tik15, *p_tk31, *p_vmsa_short,
	*p_fw_nohashes;
static const uint8_t TIK[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t TEK[16] = { 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 };

enum keys {
	K_SPLIT,
	K_TK,
	K_TIK15,
	K_TK31
};

struct case_val {
	const char *id;
	const char *blob; /* reported measurement (base64) */
	int flip;	  /* >= 0: flip this bit of the reported value */
	uint32_t policy;
	bool kernel, initrd;
	const char *cmdline;
	unsigned num_cpus;
	bool sku;
	enum sg_vmsa_profile profile;
	enum keys keys;
	int fw; /* 0 synthetic, 1 missing file, 2 a firmware without kernel hashes */
	bool missing_kernel, short_vmsa;
	enum sg_kernel_check check;
	int rc;
	const char *msg; /* exact message */
	const char *ld;	 /* expected launch digest when rc == 0 */
};

#define LD_TV1 "f2e01b2a910bf940bc877e47e66b7c3e0879a5bc3ee3c6263f8c1191f59f089e"
#define LD_TV2 "7f3e845ec8892052c54eb2e8700bf63f9e827cfab6c636f789ebe1968cda44f6"
#define LD_TV2B "b7009d16edda59830af26786c2182178a581b56d5b1d17d75fabd2a4de321916"
#define LD_TV3 "39edb06ce17127480f982b15f76eeef4af4c56ff42cf95fabf476709981cb239"
#define LD_TV3K "60c2a9ac1c902143335113f4f68f4257f610ae4c6991eeccf27050f329833812"

static const struct case_val val_cases[] = {
	{ "TV1", TV1_BLOB, -1, 3, false, false, NULL, 0, false, 0, K_SPLIT, 0, false, false,
	  SG_KERNEL_CHECK_HINT, 0, NULL, LD_TV1 },
	{ "TV1-tk", TV1_BLOB, -1, 3, false, false, NULL, 0, false, 0, K_TK, 0, false, false,
	  SG_KERNEL_CHECK_HINT, 0, NULL, LD_TV1 },
	{ "TV2", TV2_BLOB, -1, 3, true, true, CMDLINE, 0, false, 0, K_SPLIT, 0, false, false,
	  SG_KERNEL_CHECK_STRICT, 0, NULL, LD_TV2 },
	{ "TV2b", TV2B_BLOB, -1, 3, true, false, NULL, 0, false, 0, K_SPLIT, 0, false, false,
	  SG_KERNEL_CHECK_STRICT, 0, NULL, LD_TV2B },
	{ "TV2b-empty-cmdline", TV2B_BLOB, -1, 3, true, false, "", 0, false, 0, K_TK, 0, false,
	  false, SG_KERNEL_CHECK_HINT, 0, NULL, LD_TV2B },
	{ "TV3", TV3_BLOB, -1, 7, false, false, NULL, 2, true, SG_VMSA_PROFILE_LEGACY, K_SPLIT, 0,
	  false, false, SG_KERNEL_CHECK_HINT, 0, NULL, LD_TV3 },
	{ "TV3k", TV3K_BLOB, -1, 7, true, true, CMDLINE, 4, true, SG_VMSA_PROFILE_LEGACY, K_SPLIT,
	  0, false, false, SG_KERNEL_CHECK_STRICT, 0, NULL, LD_TV3K },
	/* Mismatches. */
	{ "TV1-flipped-measurement-bit", TV1_BLOB, 0, 3, false, false, NULL, 0, false, 0, K_SPLIT,
	  0, false, false, SG_KERNEL_CHECK_HINT, SG_E_MISMATCH, MISMATCH_MSG, NULL },
	{ "TV1-flipped-last-bit", TV1_BLOB, 255, 3, false, false, NULL, 0, false, 0, K_SPLIT, 0,
	  false, false, SG_KERNEL_CHECK_HINT, SG_E_MISMATCH, MISMATCH_MSG, NULL },
	{ "TV1-flipped-mnonce-bit", TV1_BLOB, 300, 3, false, false, NULL, 0, false, 0, K_SPLIT, 0,
	  false, false, SG_KERNEL_CHECK_HINT, SG_E_MISMATCH, MISMATCH_MSG, NULL },
	{ "TV1-wrong-policy", TV1_BLOB, -1, 1, false, false, NULL, 0, false, 0, K_SPLIT, 0, false,
	  false, SG_KERNEL_CHECK_HINT, SG_E_MISMATCH, MISMATCH_MSG, NULL },
	{ "TV2-cmdline-whitespace", TV2_BLOB, -1, 3, true, true, CMDLINE " ", 0, false, 0, K_SPLIT,
	  0, false, false, SG_KERNEL_CHECK_HINT, SG_E_MISMATCH, MISMATCH_MSG, NULL },
	{ "TV2-without-kernel", TV2_BLOB, -1, 3, false, false, NULL, 0, false, 0, K_SPLIT, 0, false,
	  false, SG_KERNEL_CHECK_HINT, SG_E_MISMATCH, MISMATCH_MSG, NULL },
	{ "TV3-three-vcpus", TV3_BLOB, -1, 7, false, false, NULL, 3, true, SG_VMSA_PROFILE_LEGACY,
	  K_SPLIT, 0, false, false, SG_KERNEL_CHECK_HINT, SG_E_MISMATCH, MISMATCH_MSG, NULL },
	{ "TV3-init2-profile", TV3_BLOB, -1, 7, false, false, NULL, 2, true, SG_VMSA_PROFILE_INIT2,
	  K_SPLIT, 0, false, false, SG_KERNEL_CHECK_HINT, SG_E_MISMATCH, MISMATCH_MSG, NULL },
	/* Inputs that cannot be used. */
	{ "es-without-num-cpus", TV3_BLOB, -1, 7, false, false, NULL, 0, true, 0, K_SPLIT, 0, false,
	  false, SG_KERNEL_CHECK_HINT, SG_E_USAGE,
	  "Number of virtual CPUs must be specified for SEV-ES domain", NULL },
	{ "es-without-vmsa", TV3_BLOB, -1, 7, false, false, NULL, 2, false, 0, K_SPLIT, 0, false,
	  false, SG_KERNEL_CHECK_HINT, SG_E_USAGE, "VMSA for boot CPU required for SEV-ES domain",
	  NULL },
	{ "vmsa-not-4096", TV3_BLOB, -1, 7, false, false, NULL, 1, false, 0, K_SPLIT, 0, false,
	  true, SG_KERNEL_CHECK_HINT, SG_E_USAGE, "VMSA must be 4096 bytes in length", NULL },
	{ "tik-15-bytes", TV1_BLOB, -1, 3, false, false, NULL, 0, false, 0, K_TIK15, 0, false,
	  false, SG_KERNEL_CHECK_HINT, SG_E_USAGE, "Expected 16 bytes in TIK file, but got 15",
	  NULL },
	{ "tk-31-bytes", TV1_BLOB, -1, 3, false, false, NULL, 0, false, 0, K_TK31, 0, false, false,
	  SG_KERNEL_CHECK_HINT, SG_E_USAGE, "Expected 32 bytes in TIK/TEK file, but got 31", NULL },
	{ "firmware-missing", TV1_BLOB, -1, 3, false, false, NULL, 0, false, 0, K_SPLIT, 1, false,
	  false, SG_KERNEL_CHECK_HINT, SG_E_IO, NULL, NULL },
	{ "kernel-missing", TV2_BLOB, -1, 3, true, false, NULL, 0, false, 0, K_SPLIT, 0, true,
	  false, SG_KERNEL_CHECK_HINT, SG_E_IO, NULL, NULL },
	{ "strict-firmware-without-kernel-hashes", TV2_BLOB, -1, 3, true, true, CMDLINE, 0, false,
	  0, K_SPLIT, 2, false, false, SG_KERNEL_CHECK_STRICT, SG_E_USAGE,
	  "firmware has no kernel-hashes table: it cannot measure --kernel/--initrd/--cmdline",
	  NULL },
	{ "es-sku-firmware-without-table", TV3_BLOB, -1, 7, false, false, NULL, 2, true, 0, K_SPLIT,
	  3, false, false, SG_KERNEL_CHECK_HINT, SG_E_FORMAT, "OVMF footer GUID not found", NULL },
};

static char *p_no_table; /* a firmware file with no footer table (fw value 3) */

static void
fill_req(const struct case_val *t, struct sg_validate_req *q, char **missing)
{
	memset(q, 0, sizeof(*q));
	assert_int_equal(tv_unb64(t->blob, q->measurement, sizeof(q->measurement)), 48);
	if (t->flip >= 0)
		q->measurement[t->flip / 8] ^= (uint8_t)(1u << (t->flip % 8));
	q->have_measurement = q->have_api_major = q->have_api_minor = q->have_build_id =
		q->have_policy = true;
	q->platform = (struct sg_platform){ 0, 24, 15, t->policy };
	*missing = tv_tmp("missing-input");
	q->firmware = t->fw == 1 ? *missing :
		      t->fw == 2 ? p_fw_nohashes :
		      t->fw == 3 ? p_no_table :
				   p_fw;
	q->kernel = t->kernel ? (t->missing_kernel ? *missing : p_kernel) : NULL;
	q->initrd = t->initrd ? p_initrd : NULL;
	q->cmdline = t->cmdline;
	q->num_cpus = t->num_cpus;
	if (t->sku) {
		q->have_cpu_sig = true;
		q->cpu_sig = sg_cpuid_signature(23, 49, 0);
	}
	if (t->short_vmsa)
		q->vmsa_cpu0 = p_vmsa_short;
	q->vmsa_profile = t->profile;
	switch (t->keys) {
	case K_SPLIT:
		q->tik = p_tik;
		q->tek = p_tek;
		break;
	case K_TK: q->tk = p_tk; break;
	case K_TIK15:
		q->tik = p_tik15;
		q->tek = p_tek;
		break;
	case K_TK31: q->tk = p_tk31; break;
	}
	q->kernel_check = t->check;
	q->secret_pad = SG_SECRET_PAD_LIBVIRT;
}

static void
test_attest(void **state)
{
	const struct case_val *t = *state;
	struct sg_crypto *c = NULL;
	struct sg_validation *v = NULL;
	struct sg_validate_req q;
	struct sg_error err = { 0 };
	const struct sg_validate_result *res;
	char *missing;
	int rc;

	fill_req(t, &q, &missing);
	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	TV_ASSERT_OK(sg_validation_new(c, &q, &v, &err), &err);
	rc = sg_validation_attest(v, &err);
	res = sg_validation_result(v);
	if (t->rc == 0) {
		uint8_t want[32];

		TV_ASSERT_OK(rc, &err);
		assert_true(res->have_launch_digest);
		tv_unhex(t->ld, want, 32);
		assert_memory_equal(res->launch_digest, want, 32);
		tv_unhex(LD_TV1, want, 32); /* firmware alone */
		assert_memory_equal(res->firmware.sha256, want, 32);
		assert_int_equal(res->vcpus, (t->policy & 4) ? t->num_cpus : 0);
		assert_int_equal(res->have_cmdline, t->kernel);
		assert_false(res->firmware_lacks_kernel_hashes);
		/* No secrets requested: release is a no-op that writes nothing. */
		TV_ASSERT_OK(sg_validation_release(v, &err), &err);
		assert_int_equal(res->nsecrets, 0);
		assert_null(res->secret_header_b64);
	} else {
		TV_ASSERT_ERR(rc, &err, t->rc);
		if (t->msg)
			assert_string_equal(err.msg, t->msg);
		if (t->rc != SG_E_MISMATCH)
			assert_false(res->have_launch_digest);
		/* Nothing can be released after a failed attestation. */
		sg_error_clear(&err);
		TV_ASSERT_ERR(sg_validation_release(v, &err), &err, SG_E_INTERNAL);
	}
	sg_validation_free(v);
	sg_crypto_free(c);
	free(missing);
}

/* ---- SEV-ES with one vCPU and only --vmsa-cpu0 (the reference crashes: bug B2) ---- */

static void
test_es_one_vcpu_file(void **state)
{
	struct sg_vmsa_params p = { .cpu_sig = 0x830f10 };
	uint8_t page[SG_VMSA_SIZE], ld[32], msg[56], blob[48], sha[32], want_bsp[32];
	size_t fwlen;
	uint8_t *fw = tv_read(p_fw, &fwlen), *cat = malloc(fwlen + SG_VMSA_SIZE);
	struct sg_validate_req q = { 0 };
	struct sg_crypto *c = NULL;
	struct sg_validation *v = NULL;
	struct sg_error err = { 0 };
	char *vpath;

	(void)state;
	sg_vmsa_build_bsp(&p, page);
	tv_sha256(page, sizeof(page), sha);
	tv_unhex("c0ad5dc8305470b14945bf19c79b6b25ef0aeb1cbbda8318902f731078e2641b", want_bsp, 32);
	assert_memory_equal(sha, want_bsp, 32); /* the spec 13 BSP page */
	vpath = tv_tmp_write("vmsa0-only.bin", page, sizeof(page));
	memcpy(cat, fw, fwlen);
	memcpy(cat + fwlen, page, SG_VMSA_SIZE);
	tv_sha256(cat, fwlen + SG_VMSA_SIZE, ld);
	/* The expected host report, built independently. */
	memcpy(msg, "\x04\x00\x18\x0f\x05\x00\x00\x00", 8);
	memcpy(msg + 8, ld, 32);
	for (int i = 0; i < 16; i++)
		msg[40 + i] = blob[32 + i] = (uint8_t)(0xa0 + i);
	tv_hmac_sha256(TIK, 16, msg, sizeof(msg), blob);

	memcpy(q.measurement, blob, 48);
	q.have_measurement = q.have_api_major = q.have_api_minor = q.have_build_id = q.have_policy =
		true;
	q.platform = (struct sg_platform){ 0, 24, 15, 5 };
	q.firmware = p_fw;
	q.num_cpus = 1;
	q.vmsa_cpu0 = vpath;
	q.tik = p_tik;
	q.tek = p_tek;
	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	TV_ASSERT_OK(sg_validation_new(c, &q, &v, &err), &err);
	TV_ASSERT_OK(sg_validation_attest(v, &err), &err);
	assert_int_equal(sg_validation_result(v)->vcpus, 1);
	assert_memory_equal(sg_validation_result(v)->launch_digest, ld, 32);
	sg_validation_free(v);
	sg_crypto_free(c);
	free(fw);
	free(cat);
	free(vpath);
}

/* ---- secret release ---- */

struct case_rel {
	const char *id;
	const char *args[3]; /* "ALIAS-OR-GUID:" + a file name in the temp dir (prefix '@') */
	size_t nargs;
	bool small_area_fw;    /* use a firmware whose secret area is 64 bytes */
	bool preexisting_0644; /* the output files exist with mode 0644 */
	int rc;
	const char *msg;
	const char *header, *payload; /* expected base64, or NULL */
	size_t payload_len;
};

static const struct case_rel rel_cases[] = {
	{ "spec13-secret-release",
	  { "luks-key:@hunter2" },
	  1,
	  false,
	  false,
	  0,
	  NULL,
	  "AAAAAEBBQkNERUZHSElKS0xNTk+XLEg6t73UNReUKG4IViCgCPPl+gb/QzkUgWxVs+/zVQ==",
	  "AL6trjC1iOR6h35gbJgneRBU4zMe7m7B/BTpWCgSGJ4Zhqf3HMjXySfxZqYjSONu",
	  48 },
	{ "spec13-secret-by-guid",
	  { "736869E5-84F0-4973-92EC-06879CE3DA0B:@hunter2" },
	  1,
	  false,
	  false,
	  0,
	  NULL,
	  "AAAAAEBBQkNERUZHSElKS0xNTk+XLEg6t73UNReUKG4IViCgCPPl+gb/QzkUgWxVs+/zVQ==",
	  "AL6trjC1iOR6h35gbJgneRBU4zMe7m7B/BTpWCgSGJ4Zhqf3HMjXySfxZqYjSONu",
	  48 },
	{ "spec13-secret-tightens-0644",
	  { "luks-key:@hunter2" },
	  1,
	  false,
	  true,
	  0,
	  NULL,
	  "AAAAAEBBQkNERUZHSElKS0xNTk+XLEg6t73UNReUKG4IViCgCPPl+gb/QzkUgWxVs+/zVQ==",
	  "AL6trjC1iOR6h35gbJgneRBU4zMe7m7B/BTpWCgSGJ4Zhqf3HMjXySfxZqYjSONu",
	  48 },
	{ "two-secrets",
	  { "luks-key:@hunter2", "0123abcd-0000-1111-2222-333344445555:@nine-x" },
	  2,
	  false,
	  false,
	  0,
	  NULL,
	  NULL,
	  NULL,
	  80 },
	{ "secret-fits-small-area",
	  { "luks-key:@hunter2" },
	  1,
	  true,
	  false,
	  0,
	  NULL,
	  NULL,
	  NULL,
	  48 },
	{ "secret-larger-than-area",
	  { "luks-key:@hundred" },
	  1,
	  true,
	  false,
	  SG_E_USAGE,
	  "secret table of 144 bytes does not fit the firmware's 64-byte secret area",
	  NULL,
	  NULL,
	  0 },
	{ "duplicate-guid",
	  { "luks-key:@hunter2", "736869e5-84f0-4973-92ec-06879ce3da0b:@nine-x" },
	  2,
	  false,
	  false,
	  SG_E_USAGE,
	  "Secret for GUID 736869e5-84f0-4973-92ec-06879ce3da0b already loaded",
	  NULL,
	  NULL,
	  0 },
	{ "unknown-alias",
	  { "root-pw:@hunter2" },
	  1,
	  false,
	  false,
	  SG_E_USAGE,
	  "Secret alias 'root-pw' is not known",
	  NULL,
	  NULL,
	  0 },
	{ "no-colon",
	  { "luks-key" },
	  1,
	  false,
	  false,
	  SG_E_USAGE,
	  "Expecting ALIAS-OR-GUID:PATH for injected secret",
	  NULL,
	  NULL,
	  0 },
	{ "secret-file-missing",
	  { "luks-key:@no-such-secret" },
	  1,
	  false,
	  false,
	  SG_E_IO,
	  NULL,
	  NULL,
	  NULL,
	  0 },
};

static char *p_small_area_fw;

/* A 4 KiB firmware with a reset block and a 64-byte secret area at 0x80c000. */
static char *
make_small_area_fw(void)
{
	uint8_t fw[4096];
	uint8_t *p = fw + sizeof(fw) - 32 - 18 - 22 - 26;

	for (size_t i = 0; i < sizeof(fw); i++)
		fw[i] = (uint8_t)(i * 7);
	sg_put_u32le(p, 0x80c000);
	sg_put_u32le(p + 4, 64);
	sg_put_u16le(p + 8, 26);
	memcpy(p + 10, SG_GUID_SEV_SECRET_AREA.b, 16);
	p += 26;
	sg_put_u32le(p, 0x80b004);
	sg_put_u16le(p + 4, 22);
	memcpy(p + 6, SG_GUID_SEV_ES_RESET_BLOCK.b, 16);
	p += 22;
	sg_put_u16le(p, 66);
	memcpy(p + 2, SG_GUID_OVMF_FOOTER.b, 16);
	memset(p + 18, 0, 32);
	return tv_tmp_write("fw-small-secret-area.bin", fw, sizeof(fw));
}

/* A reported measurement for plain SEV (policy 3) over @fw_path, TV1's platform and MNONCE. */
static void
report_for(const char *fw_path, uint8_t blob[48])
{
	size_t len;
	uint8_t *fw = tv_read(fw_path, &len), msg[56];

	memcpy(msg, "\x04\x00\x18\x0f\x03\x00\x00\x00", 8);
	tv_sha256(fw, len, msg + 8);
	for (int i = 0; i < 16; i++)
		msg[40 + i] = blob[32 + i] = (uint8_t)(0xa0 + i);
	tv_hmac_sha256(TIK, 16, msg, sizeof(msg), blob);
	free(fw);
}

static void
test_release(void **state)
{
	const struct case_rel *t = *state;
	struct sg_validate_req q = { 0 };
	struct sg_crypto *c = NULL;
	struct sg_validation *v = NULL;
	struct sg_error err = { 0 };
	const struct sg_validate_result *res;
	char *args[3] = { 0 }, name[128], *hdr, *pay;
	struct sg_error why[3] = { 0 };
	struct stat st;
	int rc;

	snprintf(name, sizeof(name), "%s.header", t->id);
	hdr = tv_tmp(name);
	snprintf(name, sizeof(name), "%s.payload", t->id);
	pay = tv_tmp(name);
	if (t->preexisting_0644) {
		tv_write(hdr,
			 "old header content that is longer than the new one..........."
			 "..............",
			 76);
		tv_write(pay, "old", 3);
		assert_int_equal(chmod(hdr, 0644), 0);
		assert_int_equal(chmod(pay, 0644), 0);
	}
	for (size_t i = 0; i < t->nargs; i++) {
		const char *at = strchr(t->args[i], '@');

		if (at) {
			char *f = tv_tmp(at + 1);

			args[i] = malloc(strlen(t->args[i]) + strlen(f) + 1);
			sprintf(args[i], "%.*s%s", (int)(at - t->args[i]), t->args[i], f);
			free(f);
		} else {
			args[i] = strdup(t->args[i]);
		}
		/* As the command line does: a spec that does not parse fails when reached. */
		if (sg_cli_secret_arg_parse(args[i], &q.secrets[i], &why[i]) < 0)
			q.secrets[i] = (struct sg_secret_spec){ .invalid = why[i].msg };
	}
	q.nsecrets = t->nargs;
	q.have_measurement = q.have_api_major = q.have_api_minor = q.have_build_id = q.have_policy =
		true;
	q.platform = (struct sg_platform){ 0, 24, 15, 3 };
	q.firmware = t->small_area_fw ? p_small_area_fw : p_fw;
	if (t->small_area_fw)
		report_for(p_small_area_fw, q.measurement);
	else
		assert_int_equal(tv_unb64(TV1_BLOB, q.measurement, 48), 48);
	q.tik = p_tik;
	q.tek = p_tek;
	q.secret_header = hdr;
	q.secret_payload = pay;
	q.have_secret_iv = true;
	for (int i = 0; i < 16; i++)
		q.secret_iv[i] = (uint8_t)(0x40 + i);
	q.secret_pad = SG_SECRET_PAD_LIBVIRT;

	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	TV_ASSERT_OK(sg_validation_new(c, &q, &v, &err), &err);
	TV_ASSERT_OK(sg_validation_attest(v, &err), &err);
	rc = sg_validation_release(v, &err);
	res = sg_validation_result(v);
	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		assert_int_equal(res->nsecrets, t->nargs);
		assert_non_null(res->secret_header_b64);
		assert_non_null(res->secret_payload_b64);
		assert_int_equal(strlen(res->secret_header_b64), 72);
		assert_int_equal(strlen(res->secret_payload_b64), (t->payload_len + 2) / 3 * 4);
		assert_true(sg_guid_equal(&res->secrets[0].guid, &SG_GUID_LUKS_KEY));
		assert_int_equal(res->secrets[0].length, 7);
		/* Files: exactly the base64 text, no newline, mode 0600. */
		{
			size_t len;
			uint8_t *h = tv_read(hdr, &len), *pl;

			assert_int_equal(len, strlen(res->secret_header_b64));
			assert_memory_equal(h, res->secret_header_b64, len);
			if (t->header) {
				assert_int_equal(len, strlen(t->header));
				assert_memory_equal(h, t->header, len);
			}
			free(h);
			pl = tv_read(pay, &len);
			assert_int_equal(len, strlen(res->secret_payload_b64));
			assert_memory_equal(pl, res->secret_payload_b64, len);
			if (t->payload) {
				assert_int_equal(len, strlen(t->payload));
				assert_memory_equal(pl, t->payload, len);
			}
			free(pl);
		}
		assert_int_equal(stat(hdr, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		assert_int_equal(stat(pay, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
	} else {
		TV_ASSERT_ERR(rc, &err, t->rc);
		if (t->msg)
			assert_string_equal(err.msg, t->msg);
		/* Fails closed: nothing written, nothing reported. */
		assert_false(tv_exists(hdr));
		assert_false(tv_exists(pay));
		assert_null(res->secret_header_b64);
		assert_int_equal(res->nsecrets, 0);
	}
	sg_validation_free(v);
	sg_crypto_free(c);
	for (size_t i = 0; i < t->nargs; i++)
		free(args[i]);
	free(hdr);
	free(pay);
}

/* Release before attest is a programming error. */
static void
test_release_before_attest(void **state)
{
	struct sg_validate_req q = { 0 };
	struct sg_crypto *c = NULL;
	struct sg_validation *v = NULL;
	struct sg_error err = { 0 };

	(void)state;
	q.firmware = p_fw;
	q.tik = p_tik;
	q.tek = p_tek;
	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	TV_ASSERT_OK(sg_validation_new(c, &q, &v, &err), &err);
	TV_ASSERT_ERR(sg_validation_release(v, &err), &err, SG_E_INTERNAL);
	sg_validation_free(v);
	sg_crypto_free(c);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(val_cases) + SG_ELEMENTSOF(rel_cases) + 2];
	uint8_t tk[32], x[100], vshort[4095] = { 0 }, fw[256];
	size_t n = 0;

	tv_group_select(argc, argv);
	p_fw = tv_fixture("fw_synth.bin");
	p_kernel = tv_fixture("kernel.bin");
	p_initrd = tv_fixture("initrd.bin");
	p_fw_nohashes = tv_fixture("fw_synth.bin"); /* replaced below */
	memcpy(tk, TEK, 16);
	memcpy(tk + 16, TIK, 16);
	p_tik = tv_tmp_write("tik.bin", TIK, 16);
	p_tek = tv_tmp_write("tek.bin", TEK, 16);
	p_tk = tv_tmp_write("tk.bin", tk, 32);
	p_tik15 = tv_tmp_write("tik15.bin", TIK, 15);
	p_tk31 = tv_tmp_write("tk31.bin", tk, 31);
	p_vmsa_short = tv_tmp_write("vmsa-4095.bin", vshort, sizeof(vshort));
	free(p_fw_nohashes);
	p_small_area_fw = make_small_area_fw();
	p_fw_nohashes = strdup(p_small_area_fw); /* reset block and secret area, no hash area */
	for (size_t i = 0; i < sizeof(fw); i++)
		fw[i] = (uint8_t)i;
	p_no_table = tv_tmp_write("fw-no-table.bin", fw, sizeof(fw));
	free(tv_tmp_write("hunter2", "hunter2", 7));
	free(tv_tmp_write("nine-x", "xxxxxxxxx", 9));
	memset(x, 'h', sizeof(x));
	free(tv_tmp_write("hundred", x, sizeof(x)));

	for (size_t i = 0; i < SG_ELEMENTSOF(val_cases); i++)
		tests[n++] = ROW(test_attest, val_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(rel_cases); i++)
		tests[n++] = ROW(test_release, rel_cases, i);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_es_one_vcpu_file);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_release_before_attest);
	return tv_main(argc, argv, "validate", tests, n, NULL, 0);
}
