/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/key: the key interface and the file back end. */
#include <string.h>

#include "vectors.h"
#include "key/key.h"

#define BOGUS ((struct sg_key *)0x1)

/* ---- sg_key_open ---- */

enum src {
	SRC_BYTES,
	SRC_MISSING,
	SRC_DIR,
	SRC_PKCS11,
	SRC_FILE_PREFIX,
	SRC_VECTOR
};

struct case_open {
	const char *id;
	enum src src;
	size_t size; /* SRC_BYTES / SRC_FILE_PREFIX: file size */
	enum sg_key_role role;
	int rc;
	const char *msg;    /* exact message, or a substring if it starts with '~' */
	const char *vector; /* SRC_VECTOR: vectors-relative path */
	const char *hex;    /* SRC_VECTOR: expected key bytes */
};

static const struct case_open open_cases[] = {
	{ "tik-16", SRC_BYTES, 16, SG_KEY_TIK, 0, NULL, NULL, NULL },
	{ "tek-16", SRC_BYTES, 16, SG_KEY_TEK, 0, NULL, NULL, NULL },
	{ "tik-file-prefix", SRC_FILE_PREFIX, 16, SG_KEY_TIK, 0, NULL, NULL, NULL },
	{ "tik-15", SRC_BYTES, 15, SG_KEY_TIK, SG_E_USAGE,
	  "Expected 16 bytes in TIK file, but got 15", NULL, NULL },
	{ "tik-17", SRC_BYTES, 17, SG_KEY_TIK, SG_E_USAGE,
	  "Expected 16 bytes in TIK file, but got 17", NULL, NULL },
	{ "tik-0", SRC_BYTES, 0, SG_KEY_TIK, SG_E_USAGE, "Expected 16 bytes in TIK file, but got 0",
	  NULL, NULL },
	{ "tek-15", SRC_BYTES, 15, SG_KEY_TEK, SG_E_USAGE,
	  "Expected 16 bytes in TEK file, but got 15", NULL, NULL },
	{ "tek-17", SRC_BYTES, 17, SG_KEY_TEK, SG_E_USAGE,
	  "Expected 16 bytes in TEK file, but got 17", NULL, NULL },
	{ "tik-32", SRC_BYTES, 32, SG_KEY_TIK, SG_E_USAGE,
	  "Expected 16 bytes in TIK file, but got 32", NULL, NULL },
	{ "tik-huge", SRC_BYTES, 100000, SG_KEY_TIK, SG_E_USAGE,
	  "~Expected 16 bytes in TIK file, but got more than", NULL, NULL },
	{ "tik-missing", SRC_MISSING, 0, SG_KEY_TIK, SG_E_IO, "~no-such-key", NULL, NULL },
	{ "tek-missing", SRC_MISSING, 0, SG_KEY_TEK, SG_E_IO, "~TEK", NULL, NULL },
	{ "tik-directory", SRC_DIR, 0, SG_KEY_TIK, SG_E_IO, "~Is a directory", NULL, NULL },
	{ "tik-pkcs11-uri-no-token", SRC_PKCS11, 0, SG_KEY_TIK, SG_E_TOKEN, "~PKCS#11", NULL,
	  NULL },
	{ "sevctl-measurement-tik1", SRC_VECTOR, 16, SG_KEY_TIK, 0, NULL,
	  "sevctl/tests/data/measurement/tik1.bin", "3569cf61a32a602b87185ac6e0f55913" },
	{ "sevctl-secret-tik1", SRC_VECTOR, 16, SG_KEY_TIK, 0, NULL,
	  "sevctl/tests/data/secret/tik1.bin", "c6d5a9956133050912b24bbe5c372686" },
	{ "sevctl-secret-tek1", SRC_VECTOR, 16, SG_KEY_TEK, 0, NULL,
	  "sevctl/tests/data/secret/tek1.bin", "52a869b79ab9c13bb6a92b0561619cb3" },
};

static void
key_bytes(uint8_t *b, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 13);
}

static void
assert_msg(const struct sg_error *err, const char *want)
{
	if (want[0] == '~')
		assert_non_null(strstr(err->msg, want + 1));
	else
		assert_string_equal(err->msg, want);
}

/* HMAC (TIK) or AES-CTR (TEK) through the key, checked against OpenSSL with @key. */
static void
check_key_use(struct sg_key *k, enum sg_key_role role, const uint8_t key[16])
{
	static const char data[] = "the quick brown fox";
	struct sg_iov iov[2] = { { data, 4 }, { data + 4, sizeof(data) - 5 } };
	struct sg_error err = { 0 };
	uint8_t out[32], ref[32];

	if (role == SG_KEY_TIK) {
		TV_ASSERT_OK(sg_key_hmac_sha256(k, iov, 2, out, &err), &err);
		tv_hmac_sha256(key, 16, data, sizeof(data) - 1, ref);
		assert_memory_equal(out, ref, 32);
		TV_ASSERT_OK(sg_key_hmac_verify(k, iov, 2, ref, &err), &err);
		ref[0] ^= 1;
		assert_int_equal(sg_key_hmac_verify(k, iov, 2, ref, &err), SG_E_MISMATCH);
	} else {
		static const uint8_t iv[16] = { 0 };
		uint8_t back[sizeof(data)];

		TV_ASSERT_OK(
			sg_key_aes128ctr(k, iv, (const uint8_t *)data, sizeof(data), back, &err),
			&err);
		assert_memory_not_equal(back, data, sizeof(data));
		TV_ASSERT_OK(sg_key_aes128ctr(k, iv, back, sizeof(back), out, &err), &err);
		assert_memory_equal(out, data, sizeof(data));
		(void)key; /* byte-exact AES-CTR vectors are in test-packet */
	}
}

static void
test_open(void **state)
{
	const struct case_open *t = *state;
	struct sg_crypto *c = NULL;
	struct sg_key *k = BOGUS;
	struct sg_error err = { 0 };
	uint8_t *bytes = malloc(t->size + 1), key[16], fp[32];
	char *path = NULL, *spec = NULL, hex[65];
	int rc;

	key_bytes(bytes, t->size, 0x21);
	switch (t->src) {
	case SRC_BYTES:
		path = tv_tmp_write(t->id, bytes, t->size);
		spec = strdup(path);
		break;
	case SRC_FILE_PREFIX:
		path = tv_tmp_write(t->id, bytes, t->size);
		spec = malloc(strlen(path) + 6);
		sprintf(spec, "file:%s", path);
		break;
	case SRC_MISSING: spec = tv_tmp("no-such-key"); break;
	case SRC_DIR: spec = strdup(tv_tmpdir()); break;
	case SRC_PKCS11: spec = strdup("pkcs11:token=sevgate;object=tik"); break;
	case SRC_VECTOR:
		spec = tv_path(t->vector);
		tv_unhex(t->hex, bytes, 16);
		break;
	}
	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	rc = sg_key_open(c, spec, t->role, &k, &err);
	if (t->src == SRC_PKCS11) {
		/* No token in this test: "not supported" (SG_E_KEY) or "no token" (SG_E_TOKEN). */
		assert_true(rc == SG_E_KEY || rc == SG_E_TOKEN);
		assert_int_equal(err.code, rc);
		assert_true(err.msg[0] != '\0');
		assert_ptr_equal(k, BOGUS);
		goto out;
	}
	if (t->rc != 0) {
		TV_ASSERT_ERR(rc, &err, t->rc);
		assert_msg(&err, t->msg);
		assert_ptr_equal(k, BOGUS);
		goto out;
	}
	TV_ASSERT_OK(rc, &err);
	memcpy(key, bytes, 16);
	assert_string_equal(sg_key_backend(k), "file");
	if (t->src == SRC_FILE_PREFIX || t->src == SRC_BYTES) {
		char want[4200];

		snprintf(want, sizeof(want), "file:%s", path);
		assert_string_equal(sg_key_describe(k), want);
	}
	/* The fingerprint is the SHA-256 of the key, never the key itself. */
	tv_sha256(key, 16, fp);
	tv_tohex(fp, 32, hex);
	assert_non_null(sg_key_fingerprint(k));
	assert_string_equal(sg_key_fingerprint(k), hex);
	check_key_use(k, t->role, key);
	sg_key_free(k);
out:
	sg_crypto_free(c);
	free(bytes);
	free(path);
	free(spec);
}

/* ---- sg_key_open_pair (--tk: TEK || TIK) ---- */

struct case_pair {
	const char *id;
	size_t size;
	int rc;
	const char *msg;
};

static const struct case_pair pair_cases[] = {
	{ "tk-32", 32, 0, NULL },
	{ "tk-31", 31, SG_E_USAGE, "Expected 32 bytes in TIK/TEK file, but got 31" },
	{ "tk-33", 33, SG_E_USAGE, "Expected 32 bytes in TIK/TEK file, but got 33" },
	{ "tk-16", 16, SG_E_USAGE, "Expected 32 bytes in TIK/TEK file, but got 16" },
	{ "tk-0", 0, SG_E_USAGE, "Expected 32 bytes in TIK/TEK file, but got 0" },
	{ "tk-huge", 70000, SG_E_USAGE, "~Expected 32 bytes in TIK/TEK file, but got more than" },
	{ "tk-missing", (size_t)-1, SG_E_IO, "~no-such-tk" },
};

static void
test_pair(void **state)
{
	const struct case_pair *t = *state;
	struct sg_crypto *c = NULL;
	struct sg_key *tik = BOGUS, *tek = BOGUS;
	struct sg_error err = { 0 };
	char *path;
	uint8_t *bytes = NULL;
	int rc;

	if (t->size == (size_t)-1) {
		path = tv_tmp("no-such-tk");
	} else {
		bytes = malloc(t->size + 1);
		key_bytes(bytes, t->size, 0x40);
		path = tv_tmp_write(t->id, bytes, t->size);
	}
	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	rc = sg_key_open_pair(c, path, &tik, &tek, &err);
	if (t->rc != 0) {
		TV_ASSERT_ERR(rc, &err, t->rc);
		assert_msg(&err, t->msg);
		assert_ptr_equal(tik, BOGUS);
		assert_ptr_equal(tek, BOGUS);
	} else {
		TV_ASSERT_OK(rc, &err);
		/* sevctl's layout: the first 16 bytes are the TEK, the last 16 the TIK. */
		check_key_use(tik, SG_KEY_TIK, bytes + 16);
		check_key_use(tek, SG_KEY_TEK, bytes);
		{
			uint8_t fp[32];
			char hex[65];

			tv_sha256(bytes + 16, 16, fp);
			tv_tohex(fp, 32, hex);
			assert_string_equal(sg_key_fingerprint(tik), hex);
			tv_sha256(bytes, 16, fp);
			tv_tohex(fp, 32, hex);
			assert_string_equal(sg_key_fingerprint(tek), hex);
		}
		sg_key_free(tik);
		sg_key_free(tek);
	}
	sg_crypto_free(c);
	free(bytes);
	free(path);
}

/* The pair's TEK encrypts exactly as a TEK opened from the first half alone. */
static void
test_pair_matches_singles(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_key *tik = NULL, *tek = NULL, *tek1 = NULL;
	struct sg_error err = { 0 };
	uint8_t tk[32], iv[16] = { 1 }, a[40], b[40], in[40] = { 0 };
	char *ptk, *ptek;

	(void)state;
	key_bytes(tk, 32, 0x77);
	ptk = tv_tmp_write("pair.tk", tk, 32);
	ptek = tv_tmp_write("pair.tek", tk, 16);
	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	TV_ASSERT_OK(sg_key_open_pair(c, ptk, &tik, &tek, &err), &err);
	TV_ASSERT_OK(sg_key_open(c, ptek, SG_KEY_TEK, &tek1, &err), &err);
	TV_ASSERT_OK(sg_key_aes128ctr(tek, iv, in, sizeof(in), a, &err), &err);
	TV_ASSERT_OK(sg_key_aes128ctr(tek1, iv, in, sizeof(in), b, &err), &err);
	assert_memory_equal(a, b, sizeof(a));
	sg_key_free(tik);
	sg_key_free(tek);
	sg_key_free(tek1);
	sg_crypto_free(c);
	free(ptk);
	free(ptek);
}

/* ---- role misuse: a TIK never encrypts, a TEK never MACs ---- */

struct case_role {
	const char *id;
	enum sg_key_role role;
	int op; /* 0 hmac, 1 verify, 2 aes */
};

static const struct case_role role_cases[] = {
	{ "role-tek-hmac", SG_KEY_TEK, 0 },
	{ "role-tek-verify", SG_KEY_TEK, 1 },
	{ "role-tik-aes", SG_KEY_TIK, 2 },
};

static void
test_role(void **state)
{
	const struct case_role *t = *state;
	struct sg_crypto *c = NULL;
	struct sg_key *k = NULL;
	struct sg_error err = { 0 };
	uint8_t key[16], out[32], iv[16] = { 0 };
	struct sg_iov iov = { "x", 1 };
	char *path;
	int rc;

	key_bytes(key, 16, 3);
	path = tv_tmp_write(t->id, key, 16);
	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	TV_ASSERT_OK(sg_key_open(c, path, t->role, &k, &err), &err);
	memset(out, 0xee, sizeof(out));
	if (t->op == 0)
		rc = sg_key_hmac_sha256(k, &iov, 1, out, &err);
	else if (t->op == 1)
		rc = sg_key_hmac_verify(k, &iov, 1, out, &err);
	else
		rc = sg_key_aes128ctr(k, iv, (const uint8_t *)"0123456789abcdef", 16, out, &err);
	TV_ASSERT_ERR(rc, &err, SG_E_INTERNAL);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0xee);
	sg_key_free(k);
	sg_crypto_free(c);
	free(path);
}

static void
test_free_null(void **state)
{
	(void)state;
	sg_key_free(NULL);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest unit[SG_ELEMENTSOF(open_cases) + SG_ELEMENTSOF(pair_cases) +
			       SG_ELEMENTSOF(role_cases) + 2];
	struct CMUnitTest vec[SG_ELEMENTSOF(open_cases)];
	size_t n = 0, nv = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(open_cases); i++) {
		unit[n++] = ROW(test_open, open_cases, i);
		if (open_cases[i].src == SRC_VECTOR)
			vec[nv++] = ROW(test_open, open_cases, i);
	}
	for (size_t i = 0; i < SG_ELEMENTSOF(pair_cases); i++)
		unit[n++] = ROW(test_pair, pair_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(role_cases); i++)
		unit[n++] = ROW(test_role, role_cases, i);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_pair_matches_singles);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_free_null);
	return tv_main(argc, argv, "key", unit, n, vec, nv);
}
