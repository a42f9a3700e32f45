/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The key interface: every use of the TIK or the TEK goes through here, so
 * core code never sees key bytes and never knows which back end holds
 * them. A key is opened from a spec string: a path (or "file:PATH") for
 * the file back end, a "pkcs11:" URI for a token.
 *
 * Threads: every function but sg_key_shutdown (which ends every token key)
 * may be called from several threads at once, on different keys. A key belongs to one thread at a time, as the sg_crypto
 * it was opened with does (core/crypto.h). Token keys share their token's
 * sessions; the PKCS#11 back end locks each token for one operation (its
 * module, for a module that cannot lock), so keys on one token take turns
 * and keys on different tokens do not wait for each other.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/secmem.h"

#define SG_KEY_LEN 16

enum sg_key_role {
	SG_KEY_TIK, /* Transport Integrity Key: HMAC-SHA256 */
	SG_KEY_TEK, /* Transport Encryption Key: AES-128-CTR */
};

struct sg_key;

/* How token keys are opened; NULL means all defaults. */
struct sg_key_options {
	const char *pin_file;	    /* --pin-file: the token PIN, first line */
	bool allow_pin_value;	    /* a pin-value in the URI (manifest or config files only) */
	bool allow_exportable_keys; /* accept keys that are extractable or not sensitive */
};

/*
 * Open the key @spec names for @role: a "pkcs11:" URI (loading the PKCS#11
 * back end on first use) or a key file ("file:PATH" or PATH, exactly 16
 * bytes). Returns 0 and *@ret (free with sg_key_free); else reports in @err
 * SG_E_USAGE (a file of the wrong size, an invalid URI), SG_E_IO (the file
 * cannot be read), SG_E_INSECURE (a pin-value @opts does not allow), SG_E_KEY
 * or SG_E_TOKEN (no such key, the token or back end failed), SG_E_NOMEM;
 * *@ret is written only on success.
 */
SG_NODISCARD int
sg_key_open_ex(struct sg_crypto *c, const char *spec, enum sg_key_role role,
	       const struct sg_key_options *opts, struct sg_key **ret, struct sg_error *err);
/*
 * Open a --tk pair: a 32-byte file TEK||TIK (sevctl's layout) or a URI naming
 * both token keys. Returns 0, *@ret_tik and *@ret_tek; else reports as
 * sg_key_open_ex does, and neither is written.
 */
SG_NODISCARD int
sg_key_open_pair_ex(struct sg_crypto *c, const char *spec, const struct sg_key_options *opts,
		    struct sg_key **ret_tik, struct sg_key **ret_tek, struct sg_error *err);

/*
 * What the token layer did in this process, over every token (sg_key_token_stats): a batch
 * report or a daemon shows with it that a run logged in once per token and read each
 * token's key index once.
 */
struct sg_key_token_stats {
	uint64_t tokens;	  /* tokens opened */
	uint64_t logins;	  /* C_Login calls that succeeded */
	uint64_t index_builds;	  /* full reads of a token's secret keys */
	uint64_t find_calls;	  /* object searches (C_FindObjectsInit), index builds included */
	uint64_t operations;	  /* key operations begun (MAC, verify, encrypt, sign) */
	uint64_t recoveries;	  /* sessions re-established after the token reset them */
	uint64_t misses_limited;  /* lookups of a missing key answered without asking again */
	uint64_t sessions_opened; /* C_OpenSession calls that succeeded */
};

/*
 * The PKCS#11 back end lives in a module (sevgate-pkcs11.so) loaded on the
 * first pkcs11: URI, so a run with key files never loads p11-kit. A
 * program that links the back end in registers it instead.
 */
struct sg_pkcs11_api {
	int (*open)(const char *spec, enum sg_key_role role, const struct sg_key_options *opts,
		    struct sg_key **ret, struct sg_error *err);
	int (*open_pair)(const char *spec, const struct sg_key_options *opts,
			 struct sg_key **ret_tik, struct sg_key **ret_tek, struct sg_error *err);
	int (*set_config)(const char *path, struct sg_error *err);
	void (*shutdown)(void);
	/* ECDSA (CKM_ECDSA) over a SHA-256 digest with a token EC private key: raw r||s. */
	int (*ecdsa_sign)(const char *spec, const struct sg_key_options *opts,
			  const uint8_t digest[32], uint8_t rs[64], struct sg_error *err);
	/*
	 * Look up the token EC private key @spec names and check it (P-256, CKA_SIGN)
	 * without signing; it stays looked up for ecdsa_sign.
	 */
	int (*ecdsa_check)(const char *spec, const struct sg_key_options *opts,
			   struct sg_error *err);
	/* Delete the one secret key @spec names (a read-write session). */
	int (*destroy_key)(const char *spec, const struct sg_key_options *opts,
			   struct sg_error *err);
	/* The value of a token data object (CKO_DATA): a secret that never touches disk. */
	int (*read_data)(const char *spec, const struct sg_key_options *opts,
			 struct sg_secmem **ret, struct sg_error *err);
	void (*stats)(struct sg_key_token_stats *ret);
};

/* The table the module exports (and a linked-in back end passes to register). */
extern const struct sg_pkcs11_api sg_pkcs11_backend;
/* Use @api as the PKCS#11 back end instead of loading the module (call before any key opens). */
void sg_key_pkcs11_register(const struct sg_pkcs11_api *api);

/*
 * The configuration file for token modules (--config). An explicit path is
 * checked now, loading the back end; NULL defers to the default, read
 * only if a token key needs it. Returns 0, or reports in @err the back
 * end's load failure (SG_E_KEY) or the file's (SG_E_IO, SG_E_CONFIG,
 * SG_E_INSECURE, ...); the previous configuration is kept on failure.
 */
SG_NODISCARD int sg_key_set_config(const char *path, struct sg_error *err);

/*
 * Sign a SHA-256 digest with the token EC (P-256) key @spec names: a DER
 * ECDSA signature in @der (*@der_len: its room in, its length out). Returns
 * 0; else reports SG_E_USAGE (not a pkcs11: URI), the token's SG_E_KEY or
 * SG_E_TOKEN, or SG_E_CRYPTO (the signature cannot be encoded).
 */
SG_NODISCARD int
sg_key_ecdsa_sign(const char *spec, const struct sg_key_options *opts, const uint8_t digest[32],
		  uint8_t *der, size_t *der_len, struct sg_error *err);

/*
 * Check that the token key @spec names can sign the audit log (an EC P-256
 * private key with CKA_SIGN), without a signature: no token operation and no
 * extra PIN prompt for a CKA_ALWAYS_AUTHENTICATE key. Returns 0; else
 * reports SG_E_USAGE (not a pkcs11: URI, not a P-256 signing key) or the
 * token's SG_E_KEY or SG_E_TOKEN.
 */
SG_NODISCARD int
sg_key_ecdsa_check(const char *spec, const struct sg_key_options *opts, struct sg_error *err);

/*
 * Delete the token secret key @spec names (release policy destroy-keys).
 * Returns 0; else reports SG_E_USAGE (not a token key) or the token's
 * SG_E_KEY or SG_E_TOKEN, and the key is left as it was.
 */
SG_NODISCARD int
sg_key_destroy(const char *spec, const struct sg_key_options *opts, struct sg_error *err);

/*
 * Read the secret a pkcs11: URI names (a data object) into locked memory.
 * Returns 0 and *@ret (free with sg_secmem_free); else reports SG_E_USAGE
 * (not a pkcs11: URI), the token's SG_E_KEY or SG_E_TOKEN, SG_E_LIMIT or
 * SG_E_NOMEM; *@ret is written only on success.
 */
SG_NODISCARD int sg_key_read_data(const char *spec, const struct sg_key_options *opts,
				  struct sg_secmem **ret, struct sg_error *err);

/* Close token sessions and unload modules: call before exit. */
void sg_key_shutdown(void);

/* The counters of the token layer; all zero when no token key was opened. Thread-safe. */
void sg_key_token_stats(struct sg_key_token_stats *ret);

/* sg_key_open_ex with the default options. */
SG_NODISCARD int sg_key_open(struct sg_crypto *c, const char *spec, enum sg_key_role role,
			     struct sg_key **ret, struct sg_error *err);
/* sg_key_open_pair_ex with the default options. */
SG_NODISCARD int sg_key_open_pair(struct sg_crypto *c, const char *spec, struct sg_key **ret_tik,
				  struct sg_key **ret_tek, struct sg_error *err);

/*
 * HMAC-SHA-256 of the concatenated @iov under the TIK @k into @out. Returns
 * 0; else reports SG_E_INTERNAL (@k is a TEK), SG_E_CRYPTO or the token's
 * SG_E_TOKEN, and @out is undefined.
 */
SG_NODISCARD int sg_key_hmac_sha256(struct sg_key *k, const struct sg_iov *iov, size_t niov,
				    uint8_t out[SG_SHA256_LEN], struct sg_error *err);
/*
 * 0 if HMAC(k, iov) equals @mac (compared in constant time or by the token);
 * SG_E_MISMATCH, with nothing reported in @err, if not; else the failure
 * reported as sg_key_hmac_sha256 does.
 */
SG_NODISCARD int sg_key_hmac_verify(struct sg_key *k, const struct sg_iov *iov, size_t niov,
				    const uint8_t mac[SG_SHA256_LEN], struct sg_error *err);
/*
 * AES-128-CTR of @len bytes @in into @out (may be @in) under the TEK @k with
 * the counter block @iv. Returns 0; else reports SG_E_INTERNAL (@k is a
 * TIK), SG_E_CRYPTO or the token's SG_E_TOKEN, and @out is undefined.
 */
SG_NODISCARD int sg_key_aes128ctr(struct sg_key *k, const uint8_t iv[16], const uint8_t *in,
				  size_t len, uint8_t *out, struct sg_error *err);

/* Where the key lives, safe to print ("file:/path", a URI without PIN). */
const char *sg_key_describe(const struct sg_key *k);
/* Name of the back end ("file", "pkcs11"). */
const char *sg_key_backend(const struct sg_key *k);
/*
 * A fingerprint for --debug: SHA-256 of the key bytes where the back end
 * holds them (hex), or NULL for a token key. Never the bytes themselves.
 */
const char *sg_key_fingerprint(const struct sg_key *k);

/* True for a token key accepted with allow_exportable_keys although its bytes could leave the token. */
bool sg_key_exportable(const struct sg_key *k);

/* Free @k (a token key's handle only: the key stays on its token). Accepts NULL. */
void sg_key_free(struct sg_key *k);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_key *, sg_key_free)
