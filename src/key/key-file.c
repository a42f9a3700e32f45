/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * File back end: raw 16-byte TIK/TEK files as `sevctl session` writes
 * them, held in locked memory and used through OpenSSL.
 */
#include <stdlib.h>
#include <string.h>

#include "key/key-internal.h"
#include "util/encode.h"
#include "util/fileio.h"
#include "util/secmem.h"

/* Key files are tiny; read a little more so a wrong size is reported exactly. */
#define KEY_FILE_MAX 65536

struct file_key {
	struct sg_crypto *crypto; /* borrowed */
	struct sg_secmem *bytes;
	struct sg_hmac_key *hmac; /* the TIK's keyed template, made on first use */
};

static int
file_hmac(struct sg_key *k, const struct sg_iov *iov, size_t niov, uint8_t out[SG_SHA256_LEN],
	  struct sg_error *err)
{
	struct file_key *fk = k->priv;
	int r;

	if (!fk->hmac &&
	    (r = sg_hmac_key_new(fk->crypto, fk->bytes->data, fk->bytes->len, &fk->hmac, err)) < 0)
		return r;
	return sg_hmac_key_mac(fk->hmac, iov, niov, out, err);
}

static int
file_aes(struct sg_key *k, const uint8_t iv[16], const uint8_t *in, size_t len, uint8_t *out,
	 struct sg_error *err)
{
	struct file_key *fk = k->priv;

	return sg_crypto_aes128ctr(fk->crypto, fk->bytes->data, iv, in, len, out, err);
}

static void
file_free(void *priv)
{
	struct file_key *fk = priv;

	if (!fk)
		return;
	sg_hmac_key_free(fk->hmac);
	sg_secmem_free(fk->bytes);
	free(fk);
}

static const struct sg_key_ops file_ops = {
	.name = "file",
	.hmac_sha256 = file_hmac,
	.hmac_verify = NULL,
	.aes128ctr = file_aes,
	.free_priv = file_free,
};

static int
make_key(struct sg_crypto *c, const char *path, enum sg_key_role role, const uint8_t *bytes,
	 struct sg_key **ret, struct sg_error *err)
{
	_cleanup_(sg_key_freep) struct sg_key *k = NULL;
	_cleanup_(sg_freep) char *desc = NULL;
	struct file_key *fk;
	uint8_t fp[SG_SHA256_LEN];
	int r;

	if (asprintf(&desc, "file:%s", path) < 0) {
		desc = NULL;
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	}
	k = sg_key_alloc(&file_ops, role, desc);
	fk = calloc(1, sizeof(*fk));
	if (!k || !fk) {
		free(fk);
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	}
	k->priv = fk;
	fk->crypto = c;
	fk->bytes = sg_secmem_new(SG_KEY_LEN);
	if (!fk->bytes)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	memcpy(fk->bytes->data, bytes, SG_KEY_LEN);
	r = sg_sha256(c, bytes, SG_KEY_LEN, fp, err);
	if (r < 0)
		return r;
	sg_hex_encode(fp, sizeof(fp), k->fingerprint);
	*ret = SG_TAKE_PTR(k);
	return 0;
}

int
sg_key_file_open(struct sg_crypto *c, const char *path, enum sg_key_role role, struct sg_key **ret,
		 struct sg_error *err)
{
	_cleanup_(sg_secmem_freep) struct sg_secmem *m = NULL;
	const char *name = role == SG_KEY_TIK ? "TIK" : "TEK";
	int r;

	if ((r = sg_file_read_secret_upto(path, KEY_FILE_MAX, name, &m, err)) < 0)
		return r;
	if (m->len > KEY_FILE_MAX)
		return sg_error_set(err, SG_E_USAGE,
				    "Expected 16 bytes in %s file, but got more than %d", name,
				    KEY_FILE_MAX);
	if (m->len != SG_KEY_LEN)
		return sg_error_set(err, SG_E_USAGE, "Expected 16 bytes in %s file, but got %zu",
				    name, m->len);
	return make_key(c, path, role, m->data, ret, err);
}

int
sg_key_file_open_pair(struct sg_crypto *c, const char *path, struct sg_key **ret_tik,
		      struct sg_key **ret_tek, struct sg_error *err)
{
	_cleanup_(sg_secmem_freep) struct sg_secmem *m = NULL;
	_cleanup_(sg_key_freep) struct sg_key *tik = NULL, *tek = NULL;
	int r;

	if ((r = sg_file_read_secret_upto(path, KEY_FILE_MAX, "TIK/TEK", &m, err)) < 0)
		return r;
	if (m->len > KEY_FILE_MAX)
		return sg_error_set(err, SG_E_USAGE,
				    "Expected 32 bytes in TIK/TEK file, but got more than %d",
				    KEY_FILE_MAX);
	if (m->len != 2 * SG_KEY_LEN)
		return sg_error_set(err, SG_E_USAGE,
				    "Expected 32 bytes in TIK/TEK file, but got %zu", m->len);
	/* sevctl's layout: TEK first, then TIK. */
	if ((r = make_key(c, path, SG_KEY_TEK, m->data, &tek, err)) < 0 ||
	    (r = make_key(c, path, SG_KEY_TIK, m->data + SG_KEY_LEN, &tik, err)) < 0)
		return r;
	*ret_tik = SG_TAKE_PTR(tik);
	*ret_tek = SG_TAKE_PTR(tek);
	return 0;
}
