/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One guest through the engine's pipeline (src/engine/guest.c and
 * release.c), with no front end: the structured outcome (verdict, code,
 * secrets released, audit records written) and what is on disk after it.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vectors.h"
#include "audit/audit.h"
#include "core/secret.h"
#include "core/policy.h"
#include "engine/guest.h"
#include "engine/release.h"

/* Test vector 1 of the spec (section 13): fw_synth.bin, policy 3, these keys. */
#define TV1_BLOB "Jtkm6DPHOLtKnVthiMCUs4dyWKB2Kb5yGoM6nUd3nvqgoaKjpKWmp6ipqqusra6v"
static const uint8_t TIK[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t TEK[16] = { 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 };

static char *p_fw, *p_tik, *p_tek, *p_secret, *p_key;

static const struct {
	int rc;
	enum sg_verdict v;
	const char *name;
} verdicts[] = {
	{ 0, SG_VERDICT_TRUSTED, "trusted" },
	{ SG_E_MISMATCH, SG_VERDICT_MISMATCH, "mismatch" },
	{ SG_E_POLICY, SG_VERDICT_REFUSED, "refused" },
	{ SG_E_USAGE, SG_VERDICT_ERROR, "error" },
	{ SG_E_TOKEN, SG_VERDICT_ERROR, "error" },
	{ SG_E_IO, SG_VERDICT_ERROR, "error" },
};

static void
test_verdicts(void **state)
{
	(void)state;
	for (size_t i = 0; i < SG_ELEMENTSOF(verdicts); i++) {
		assert_int_equal(sg_verdict_of(verdicts[i].rc), verdicts[i].v);
		assert_string_equal(sg_verdict_name(verdicts[i].v), verdicts[i].name);
	}
	assert_string_equal(sg_verdict_name((enum sg_verdict)99), "error");
}

struct row {
	const char *name;
	bool secret, audit, flip, require_es, no_tek, unwritable;
	int rc;
	enum sg_verdict verdict;
	size_t released, records;
	bool files; /* the packet files exist afterwards */
	const char *msg;
};

static const struct row rows[] = {
	{ "trusted-no-secret", false, false, false, false, false, false, 0, SG_VERDICT_TRUSTED, 0,
	  0, false, NULL },
	{ "trusted-no-secret-audited", false, true, false, false, false, false, 0,
	  SG_VERDICT_TRUSTED, 0, 1, false, NULL },
	{ "released", true, false, false, false, false, false, 0, SG_VERDICT_TRUSTED, 1, 0, true,
	  NULL },
	{ "released-audited", true, true, false, false, false, false, 0, SG_VERDICT_TRUSTED, 1, 2,
	  true, NULL },
	{ "mismatch-audited", true, true, true, false, false, false, SG_E_MISMATCH,
	  SG_VERDICT_MISMATCH, 0, 1, false, "Measurement does not match, VM is not trustworthy" },
	{ "refused-audited", true, true, false, true, false, false, SG_E_POLICY, SG_VERDICT_REFUSED,
	  0, 1, false, "release refused: guest policy 0x3 lacks required bit es" },
	{ "never-attested", true, true, false, false, true, false, SG_E_USAGE, SG_VERDICT_ERROR, 0,
	  0, false, "Either --tk or both of --tek/--tik are required" },
	/* The real release step failing after its intent record: nothing released, one record. */
	{ "write-fails-audited", true, true, false, false, false, true, SG_E_IO, SG_VERDICT_ERROR,
	  0, 1, false, NULL },
};

static size_t
lines_of(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void
test_row(void **state)
{
	const struct row *t = *state;
	struct sg_crypto *crypto = NULL;
	struct sg_audit *audit = NULL;
	struct sg_guest_spec g;
	struct sg_guest *gu;
	struct sg_error err = { 0 };
	char *hdr = tv_tmp(t->unwritable ? "missing/hdr.b64" : "hdr.b64"),
	     *pay = tv_tmp(t->unwritable ? "missing/pay.b64" : "pay.b64"),
	     *log = tv_tmp("audit.log");
	struct stat st;

	unlink(hdr);
	unlink(pay);
	unlink(log);
	TV_ASSERT_OK(sg_crypto_new(&crypto, &err), &err);
	sg_guest_spec_init(SG_ORIGIN_VALIDATE, &g);
	g.guest = t->name;
	g.req.firmware = p_fw;
	g.req.tik = p_tik;
	g.req.tek = t->no_tek ? NULL : p_tek;
	assert_int_equal(tv_unb64(TV1_BLOB, g.req.measurement, 48), 48);
	if (t->flip)
		g.req.measurement[0] ^= 1;
	g.req.have_measurement = g.req.have_api_major = g.req.have_api_minor = g.req.have_build_id =
		g.req.have_policy = true;
	g.req.platform = (struct sg_platform){ 0, 24, 15, 3 };
	if (t->secret) {
		g.req.secrets[0].path = p_secret;
		TV_ASSERT_OK(sg_secret_guid_parse("luks-key", &g.req.secrets[0].guid, &err), &err);
		g.req.nsecrets = 1;
		g.req.secret_header = hdr;
		g.req.secret_payload = pay;
	}
	if (t->require_es)
		g.release.require_bits = SG_POLICY_ES;
	if (t->audit)
		TV_ASSERT_OK(sg_release_audit_open(crypto, log, p_key, NULL, &g.req.key_opts,
						   &audit, &err),
			     &err);
	assert_non_null(gu = sg_guest_new(&g, NULL));
	assert_int_equal(sg_guest_run(crypto, gu, audit), t->rc);
	assert_int_equal(gu->out.rc, t->rc);
	assert_int_equal(gu->out.verdict, t->verdict);
	assert_int_equal(gu->out.released, t->released);
	assert_int_equal(gu->out.records, t->records);
	if (t->msg)
		assert_string_equal(gu->out.err.msg, t->msg);
	if (t->unwritable)
		assert_non_null(strstr(gu->out.err.msg, "cannot write secret header"));
	if (t->rc != SG_E_USAGE)
		assert_int_equal(strlen(gu->out.digest), 64);
	assert_int_equal(stat(hdr, &st) == 0, t->files);
	if (t->files)
		assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(pay, &st) == 0, t->files);
	sg_audit_close(audit);
	assert_int_equal(lines_of(log), t->records);
	sg_guest_free(gu);
	sg_crypto_free(crypto);
	free(hdr);
	free(pay);
	free(log);
}

static void
make_audit_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	FILE *fp;

	assert_non_null(k);
	p_key = tv_tmp("audit-key.pem");
	assert_non_null(fp = fopen(p_key, "w"));
	assert_int_equal(PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(fp);
	assert_int_equal(chmod(p_key, 0600), 0);
	EVP_PKEY_free(k);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(rows) + 1];
	size_t n = 0;
	int rc;

	p_fw = tv_fixture("fw_synth.bin");
	p_tik = tv_tmp_write("tik.bin", TIK, 16);
	p_tek = tv_tmp_write("tek.bin", TEK, 16);
	p_secret = tv_tmp_write("secret.bin", "disk key", 8);
	make_audit_key();
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_verdicts);
	for (size_t i = 0; i < SG_ELEMENTSOF(rows); i++)
		tests[n++] =
			(struct CMUnitTest){ rows[i].name, test_row, NULL, NULL, (void *)&rows[i] };
	rc = tv_main(argc, argv, "guest", tests, n, NULL, 0);
	free(p_fw);
	free(p_tik);
	free(p_tek);
	free(p_secret);
	free(p_key);
	return rc;
}
