/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "crypto.h"

#include "core/openssl-util.h"
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct sg_crypto {
	OSSL_LIB_CTX *libctx;
	OSSL_PROVIDER *provider;
	EVP_MD *sha256;
	EVP_MAC *hmac;
	EVP_CIPHER *aes128ctr;
};

struct sg_sha256 {
	EVP_MD_CTX *ctx;
};

struct sg_hmac_key {
	EVP_MAC_CTX *pristine; /* keyed, never updated */
};

/* Translate the OpenSSL error queue into one message, then clear it. */
static int
ossl_error(struct sg_error *err, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown error";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return sg_error_set(err, SG_E_CRYPTO, "%s failed: %s", what, buf);
}

int
sg_crypto_new(struct sg_crypto **ret, struct sg_error *err)
{
	struct sg_crypto *c;

	/* No openssl.cnf: the result must not depend on the host's configuration. */
	if (!OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL))
		return ossl_error(err, "OpenSSL initialisation");
	c = calloc(1, sizeof(*c));
	if (!c)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	c->libctx = OSSL_LIB_CTX_new();
	if (!c->libctx)
		goto fail;
	c->provider = OSSL_PROVIDER_load(c->libctx, "default");
	if (!c->provider)
		goto fail;
	/*
	 * SHA-256 now; HMAC and AES-128-CTR on first use (each still fetched
	 * once): building OpenSSL's cipher table costs about as much as hashing
	 * 0.7 MB, and a validation without secrets never encrypts.
	 */
	c->sha256 = EVP_MD_fetch(c->libctx, "SHA2-256", NULL);
	if (!c->sha256)
		goto fail;
	*ret = c;
	return 0;
fail:
	sg_crypto_free(c);
	return ossl_error(err, "OpenSSL algorithm fetch");
}

OSSL_LIB_CTX *
sg_crypto_libctx(struct sg_crypto *c)
{
	return c->libctx;
}

void
sg_crypto_free(struct sg_crypto *c)
{
	if (!c)
		return;
	EVP_CIPHER_free(c->aes128ctr);
	EVP_MAC_free(c->hmac);
	EVP_MD_free(c->sha256);
	if (c->provider)
		OSSL_PROVIDER_unload(c->provider);
	OSSL_LIB_CTX_free(c->libctx);
	free(c);
}

int
sg_sha256_new(struct sg_crypto *c, struct sg_sha256 **ret, struct sg_error *err)
{
	struct sg_sha256 *h = calloc(1, sizeof(*h));

	if (!h)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !EVP_DigestInit_ex2(h->ctx, c->sha256, NULL)) {
		sg_sha256_free(h);
		return ossl_error(err, "SHA-256 init");
	}
	*ret = h;
	return 0;
}

int
sg_sha256_update(struct sg_sha256 *h, const void *data, size_t len, struct sg_error *err)
{
	if (len && !EVP_DigestUpdate(h->ctx, data, len))
		return ossl_error(err, "SHA-256 update");
	return 0;
}

int
sg_sha256_final(struct sg_sha256 *h, uint8_t out[SG_SHA256_LEN], struct sg_error *err)
{
	unsigned int n = 0;

	if (!EVP_DigestFinal_ex(h->ctx, out, &n) || n != SG_SHA256_LEN)
		return ossl_error(err, "SHA-256 final");
	return 0;
}

int
sg_sha256_dup(const struct sg_sha256 *h, struct sg_sha256 **ret, struct sg_error *err)
{
	struct sg_sha256 *d = calloc(1, sizeof(*d));

	if (!d)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	d->ctx = EVP_MD_CTX_new();
	if (!d->ctx || !EVP_MD_CTX_copy_ex(d->ctx, h->ctx)) {
		sg_sha256_free(d);
		return ossl_error(err, "SHA-256 copy");
	}
	*ret = d;
	return 0;
}

void
sg_sha256_free(struct sg_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int
sg_sha256(struct sg_crypto *c, const void *data, size_t len, uint8_t out[SG_SHA256_LEN],
	  struct sg_error *err)
{
	unsigned int n = 0;

	if (!EVP_Digest(data, len, out, &n, c->sha256, NULL) || n != SG_SHA256_LEN)
		return ossl_error(err, "SHA-256");
	return 0;
}

static int
hmac_feed(EVP_MAC_CTX *ctx, const struct sg_iov *iov, size_t niov, uint8_t out[SG_SHA256_LEN],
	  struct sg_error *err)
{
	size_t n = 0;

	for (size_t i = 0; i < niov; i++)
		if (iov[i].len && !EVP_MAC_update(ctx, iov[i].data, iov[i].len))
			return ossl_error(err, "HMAC update");
	if (!EVP_MAC_final(ctx, out, &n, SG_SHA256_LEN) || n != SG_SHA256_LEN)
		return ossl_error(err, "HMAC final");
	return 0;
}

int
sg_crypto_hmac_sha256(struct sg_crypto *c, const uint8_t *key, size_t keylen,
		      const struct sg_iov *iov, size_t niov, uint8_t out[SG_SHA256_LEN],
		      struct sg_error *err)
{
	/* The MAC context holds the key schedule; free clears it. */
	_cleanup_(sg_evp_mac_ctx_freep) EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA2-256", 0),
		OSSL_PARAM_construct_end(),
	};

	if (!c->hmac && !(c->hmac = EVP_MAC_fetch(c->libctx, "HMAC", NULL)))
		return ossl_error(err, "OpenSSL HMAC fetch");
	ctx = EVP_MAC_CTX_new(c->hmac);
	if (!ctx || !EVP_MAC_init(ctx, key, keylen, params))
		return ossl_error(err, "HMAC init");
	return hmac_feed(ctx, iov, niov, out, err);
}

int
sg_hmac_key_new(struct sg_crypto *c, const uint8_t *key, size_t keylen, struct sg_hmac_key **ret,
		struct sg_error *err)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA2-256", 0),
		OSSL_PARAM_construct_end(),
	};
	struct sg_hmac_key *k;

	if (!c->hmac && !(c->hmac = EVP_MAC_fetch(c->libctx, "HMAC", NULL)))
		return ossl_error(err, "OpenSSL HMAC fetch");
	k = calloc(1, sizeof(*k));
	if (!k)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	k->pristine = EVP_MAC_CTX_new(c->hmac);
	if (!k->pristine || !EVP_MAC_init(k->pristine, key, keylen, params)) {
		sg_hmac_key_free(k);
		return ossl_error(err, "HMAC init");
	}
	*ret = k;
	return 0;
}

int
sg_hmac_key_mac(struct sg_hmac_key *k, const struct sg_iov *iov, size_t niov,
		uint8_t out[SG_SHA256_LEN], struct sg_error *err)
{
	_cleanup_(sg_evp_mac_ctx_freep) EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(k->pristine);

	if (!ctx)
		return ossl_error(err, "HMAC copy");
	return hmac_feed(ctx, iov, niov, out, err);
}

void
sg_hmac_key_free(struct sg_hmac_key *k)
{
	if (!k)
		return;
	/* Freeing the context clears the key schedule it holds. */
	EVP_MAC_CTX_free(k->pristine);
	free(k);
}

int
sg_crypto_aes128ctr(struct sg_crypto *c, const uint8_t key[16], const uint8_t iv[16],
		    const uint8_t *in, size_t len, uint8_t *out, struct sg_error *err)
{
	_cleanup_(sg_evp_cipher_ctx_freep) EVP_CIPHER_CTX *ctx = NULL;
	int outl = 0, tail = 0;

	if (len > INT32_MAX)
		return sg_error_set(err, SG_E_LIMIT, "AES-CTR input too large");
	if (!c->aes128ctr && !(c->aes128ctr = EVP_CIPHER_fetch(c->libctx, "AES-128-CTR", NULL)))
		return ossl_error(err, "OpenSSL AES-128-CTR fetch");
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || !EVP_EncryptInit_ex2(ctx, c->aes128ctr, key, iv, NULL) ||
	    !EVP_EncryptUpdate(ctx, out, &outl, in, (int)len) ||
	    !EVP_EncryptFinal_ex(ctx, out + outl, &tail) || (size_t)(outl + tail) != len)
		return ossl_error(err, "AES-128-CTR");
	return 0;
}

int
sg_random_bytes(void *buf, size_t len, struct sg_error *err)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sg_error_set(err, SG_E_CRYPTO, "getrandom failed: %s",
					    strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
sg_memeq_consttime(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
