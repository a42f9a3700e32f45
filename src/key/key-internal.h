/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a key back end provides; only key.c and the back ends include this. */
#pragma once

#include "key/key.h"

struct sg_key_ops {
	/*
	 * Operations may be called from several threads at once on different keys; a back end
	 * that shares state between keys (a token's session) locks it itself.
	 */
	const char *name;
	int (*hmac_sha256)(struct sg_key *k, const struct sg_iov *iov, size_t niov,
			   uint8_t out[SG_SHA256_LEN], struct sg_error *err);
	/* May be NULL: key.c then computes the HMAC and compares in constant time. */
	int (*hmac_verify)(struct sg_key *k, const struct sg_iov *iov, size_t niov,
			   const uint8_t mac[SG_SHA256_LEN], struct sg_error *err);
	int (*aes128ctr)(struct sg_key *k, const uint8_t iv[16], const uint8_t *in, size_t len,
			 uint8_t *out, struct sg_error *err);
	void (*free_priv)(void *priv);
};

struct sg_key {
	const struct sg_key_ops *ops;
	enum sg_key_role role;
	char *desc;
	char fingerprint[2 * SG_SHA256_LEN + 1]; /* empty when unknown */
	bool exportable;
	void *priv;
};

/* Allocate a key shell; the back end fills priv and fingerprint. */
struct sg_key *sg_key_alloc(const struct sg_key_ops *ops, enum sg_key_role role, const char *desc);

/*
 * File back end (key-file.c): a key file of exactly 16 bytes (a pair: 32,
 * TEK then TIK). Returns 0 and *@ret (*@ret_tik, *@ret_tek); else reports
 * SG_E_USAGE "Expected 16 bytes in TIK file, but got N" (or "more than
 * 65536"), the file's SG_E_IO, SG_E_CRYPTO or SG_E_NOMEM, and writes nothing.
 */
SG_NODISCARD int sg_key_file_open(struct sg_crypto *c, const char *path, enum sg_key_role role,
				  struct sg_key **ret, struct sg_error *err);
SG_NODISCARD int
sg_key_file_open_pair(struct sg_crypto *c, const char *path, struct sg_key **ret_tik,
		      struct sg_key **ret_tek, struct sg_error *err);

/*
 * PKCS#11 back end (key-pkcs11.c): the one secret key (a pair: the TIK and
 * TEK) the URI names. Returns 0 and the keys; else reports as sg_key_open_ex
 * does and writes nothing.
 */
SG_NODISCARD int
sg_key_pkcs11_open(const char *spec, enum sg_key_role role, const struct sg_key_options *opts,
		   struct sg_key **ret, struct sg_error *err);
SG_NODISCARD int
sg_key_pkcs11_open_pair(const char *spec, const struct sg_key_options *opts,
			struct sg_key **ret_tik, struct sg_key **ret_tek, struct sg_error *err);
