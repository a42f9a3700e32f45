/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The OpenSSL 3 back end: one OSSL_LIB_CTX with only the default provider
 * (no configuration file is read, so a system openssl.cnf cannot pull in
 * other providers), and SHA2-256, HMAC and AES-128-CTR each fetched once,
 * HMAC and AES on first use.
 *
 * Threads: the SHA-256 functions (sg_sha256_new, sg_sha256, and what is
 * built on them: sg_launch_digest) only read the context once it is made,
 * so several threads may use one context for them at once (the run cache,
 * validate/fwcache.h, hashes firmware on the workers with its own). The
 * HMAC and AES functions fetch on first use and so write the context: a
 * context they are called on belongs to one thread at a time. A SHA-256
 * state (struct sg_sha256) is updated, finalised and freed by one thread
 * at a time; sg_sha256_dup only reads its source (EVP_MD_CTX_copy_ex takes
 * it const and counts a reference on the fetched digest atomically), so
 * several threads may copy a state that no one updates: the run cache
 * hands its firmware states to every worker that way.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "util/cleanup.h"
#include "util/error.h"

#define SG_SHA256_LEN 32

struct sg_crypto;
struct sg_sha256;

/* A gather list for MACs over several pieces (the PKCS#11 back end feeds them as parts). */
struct sg_iov {
	const void *data;
	size_t len;
};

/*
 * A new context in *@ret: its own OSSL_LIB_CTX with the default provider and
 * SHA2-256 fetched. Returns 0, or reports SG_E_CRYPTO (OpenSSL's reason) or
 * SG_E_NOMEM in @err.
 */
SG_NODISCARD int sg_crypto_new(struct sg_crypto **ret, struct sg_error *err);
/* Free @c and what it fetched; NULL is a no-op. */
void sg_crypto_free(struct sg_crypto *c);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_crypto *, sg_crypto_free)

/* The OSSL_LIB_CTX, for OpenSSL calls outside this module (PEM keys, signatures). */
struct ossl_lib_ctx_st *sg_crypto_libctx(struct sg_crypto *c);

/*
 * One-shot SHA-256 of @len bytes into @out: 0, or SG_E_CRYPTO (OpenSSL's
 * reason) in @err.
 */
SG_NODISCARD int sg_sha256(struct sg_crypto *c, const void *data, size_t len,
			   uint8_t out[SG_SHA256_LEN], struct sg_error *err);

/*
 * Streaming SHA-256 (the launch digest): new, update, final. Each returns 0,
 * or reports SG_E_CRYPTO (OpenSSL's reason, queue cleared) in @err; new also
 * SG_E_NOMEM. *@ret is written only on success; after a failed update the
 * state is not to be finalised.
 */
SG_NODISCARD int sg_sha256_new(struct sg_crypto *c, struct sg_sha256 **ret, struct sg_error *err);
SG_NODISCARD int
sg_sha256_update(struct sg_sha256 *h, const void *data, size_t len, struct sg_error *err);
SG_NODISCARD int
sg_sha256_final(struct sg_sha256 *h, uint8_t out[SG_SHA256_LEN], struct sg_error *err);
/*
 * A copy in *@ret of the running state (the firmware-only digest, taken
 * mid-stream): 0, or SG_E_CRYPTO or SG_E_NOMEM in @err.
 */
SG_NODISCARD int
sg_sha256_dup(const struct sg_sha256 *h, struct sg_sha256 **ret, struct sg_error *err);
/* Free @h; NULL is a no-op. */
void sg_sha256_free(struct sg_sha256 *h);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_sha256 *, sg_sha256_free)

/*
 * HMAC-SHA256 over the pieces of @iov with a raw key held in memory (the
 * file key back end): 0, or SG_E_CRYPTO (OpenSSL's reason) in @err. The
 * MAC context, which holds the key schedule, is freed (cleared) either way.
 */
SG_NODISCARD int sg_crypto_hmac_sha256(struct sg_crypto *c, const uint8_t *key, size_t keylen,
				       const struct sg_iov *iov, size_t niov,
				       uint8_t out[SG_SHA256_LEN], struct sg_error *err);

/*
 * A keyed HMAC-SHA256 template: the key schedule is computed once and each
 * MAC starts from a copy of it (what repeated validations with one key need).
 * sg_hmac_key_new returns 0 and sets *@ret, or reports SG_E_CRYPTO or
 * SG_E_NOMEM in @err; sg_hmac_key_mac returns 0 and writes @out, or reports
 * SG_E_CRYPTO; sg_hmac_key_free clears and frees, NULL is a no-op.
 */
struct sg_hmac_key;
SG_NODISCARD int sg_hmac_key_new(struct sg_crypto *c, const uint8_t *key, size_t keylen,
				 struct sg_hmac_key **ret, struct sg_error *err);
SG_NODISCARD int sg_hmac_key_mac(struct sg_hmac_key *k, const struct sg_iov *iov, size_t niov,
				 uint8_t out[SG_SHA256_LEN], struct sg_error *err);
void sg_hmac_key_free(struct sg_hmac_key *k);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_hmac_key *, sg_hmac_key_free)

/*
 * AES-128-CTR of @len bytes from @in to @out; the 16-byte IV is the
 * initial counter block (128-bit BE increment). Returns 0, or reports
 * SG_E_LIMIT (more than INT32_MAX bytes) or SG_E_CRYPTO in @err.
 */
SG_NODISCARD int
sg_crypto_aes128ctr(struct sg_crypto *c, const uint8_t key[16], const uint8_t iv[16],
		    const uint8_t *in, size_t len, uint8_t *out, struct sg_error *err);

/*
 * Fill @buf from getrandom(2), retrying EINTR: 0, or SG_E_CRYPTO (with
 * strerror) in @err.
 */
SG_NODISCARD int sg_random_bytes(void *buf, size_t len, struct sg_error *err);

/* Constant-time equality of two @len-byte buffers (1 if equal). */
int sg_memeq_consttime(const void *a, const void *b, size_t len);
