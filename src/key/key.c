/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "key/key-internal.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/module.h"
#include "util/secmem.h"

/* "file:PATH" or a bare path; anything else with a scheme is not ours yet. */
static const char *
file_path(const char *spec)
{
	if (!strncmp(spec, "file:", 5))
		return spec + 5;
	return spec;
}

static int
is_pkcs11(const char *spec)
{
	return !strncmp(spec, "pkcs11:", 7);
}

/*
 * Which PKCS#11 back end is loaded, and the configuration path to give it. load_lock guards
 * only these; the back end locks its own tokens, so key operations take no lock here.
 */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct sg_pkcs11_api *_Atomic pkcs11;
static char *pkcs11_config;

void
sg_key_pkcs11_register(const struct sg_pkcs11_api *api)
{
	pkcs11 = api;
}

/* Under load_lock. */
static int
load_locked(struct sg_error *err)
{
	const void *api;
	int r;

	if (pkcs11)
		return 0;
	if ((r = sg_module_load("sevgate-pkcs11.so", "sg_pkcs11_backend", "PKCS#11 keys", SG_E_KEY,
				&api, err)) < 0)
		return r;
	if (pkcs11_config &&
	    (r = ((const struct sg_pkcs11_api *)api)->set_config(pkcs11_config, err)) < 0)
		return r;
	pkcs11 = api;
	return 0;
}

/* The back end, loaded on first use. */
static int
load_pkcs11(struct sg_error *err)
{
	int r;

	if (pkcs11)
		return 0;
	pthread_mutex_lock(&load_lock);
	r = load_locked(err);
	pthread_mutex_unlock(&load_lock);
	return r;
}

static int
set_config_locked(const char *path, struct sg_error *err)
{
	int r;

	free(pkcs11_config);
	pkcs11_config = NULL;
	if (!path)
		return pkcs11 ? pkcs11->set_config(NULL, err) : 0;
	pkcs11_config = strdup(path);
	if (!pkcs11_config)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	/* A file named explicitly is checked now, so a typo fails before any key is used. */
	if (!pkcs11)
		return load_locked(err);
	if ((r = pkcs11->set_config(path, err)) < 0)
		return r;
	return 0;
}

int
sg_key_set_config(const char *path, struct sg_error *err)
{
	int r;

	pthread_mutex_lock(&load_lock);
	r = set_config_locked(path, err);
	pthread_mutex_unlock(&load_lock);
	return r;
}

int
sg_key_ecdsa_check(const char *spec, const struct sg_key_options *opts, struct sg_error *err)
{
	int r;

	if (!is_pkcs11(spec))
		return sg_error_set(err, SG_E_USAGE, "'%s' is not a pkcs11: URI", spec);
	r = load_pkcs11(err);
	if (r == 0)
		r = pkcs11->ecdsa_check(spec, opts, err);
	return r;
}

int
sg_key_ecdsa_sign(const char *spec, const struct sg_key_options *opts, const uint8_t digest[32],
		  uint8_t *der, size_t *der_len, struct sg_error *err)
{
	uint8_t rs[64];
	ECDSA_SIG *sig = NULL;
	BIGNUM *br, *bs;
	unsigned char *p = der;
	int r, n;

	if (!is_pkcs11(spec))
		return sg_error_set(err, SG_E_USAGE, "'%s' is not a pkcs11: URI", spec);
	r = load_pkcs11(err);
	if (r == 0)
		r = pkcs11->ecdsa_sign(spec, opts, digest, rs, err);
	if (r < 0)
		return r;
	/* PKCS#11 gives r||s; the audit log (and OpenSSL) want DER. */
	sig = ECDSA_SIG_new();
	br = BN_bin2bn(rs, 32, NULL);
	bs = BN_bin2bn(rs + 32, 32, NULL);
	if (!sig || !br || !bs || !ECDSA_SIG_set0(sig, br, bs)) {
		ECDSA_SIG_free(sig);
		BN_free(br);
		BN_free(bs);
		return sg_error_set(err, SG_E_CRYPTO, "cannot encode the ECDSA signature");
	}
	n = i2d_ECDSA_SIG(sig, NULL);
	if (n <= 0 || (size_t)n > *der_len) {
		ECDSA_SIG_free(sig);
		return sg_error_set(err, SG_E_CRYPTO, "cannot encode the ECDSA signature");
	}
	*der_len = (size_t)i2d_ECDSA_SIG(sig, &p);
	ECDSA_SIG_free(sig);
	return 0;
}

int
sg_key_destroy(const char *spec, const struct sg_key_options *opts, struct sg_error *err)
{
	int r;

	if (!is_pkcs11(spec))
		return sg_error_set(err, SG_E_USAGE, "destroy-keys needs token keys, not '%s'",
				    spec);
	r = load_pkcs11(err);
	if (r == 0)
		r = pkcs11->destroy_key(spec, opts, err);
	return r;
}

int
sg_key_read_data(const char *spec, const struct sg_key_options *opts, struct sg_secmem **ret,
		 struct sg_error *err)
{
	int r;

	if (!is_pkcs11(spec))
		return sg_error_set(err, SG_E_USAGE, "'%s' is not a pkcs11: URI", spec);
	r = load_pkcs11(err);
	if (r == 0)
		r = pkcs11->read_data(spec, opts, ret, err);
	return r;
}

void
sg_key_shutdown(void)
{
	pthread_mutex_lock(&load_lock);
	if (pkcs11)
		pkcs11->shutdown();
	free(pkcs11_config);
	pkcs11_config = NULL;
	pthread_mutex_unlock(&load_lock);
	/* The module stays mapped: p11-kit may have registered exit handlers in it. */
}

void
sg_key_token_stats(struct sg_key_token_stats *ret)
{
	const struct sg_pkcs11_api *api = pkcs11;

	memset(ret, 0, sizeof(*ret));
	if (api && api->stats)
		api->stats(ret);
}

int
sg_key_open_ex(struct sg_crypto *c, const char *spec, enum sg_key_role role,
	       const struct sg_key_options *opts, struct sg_key **ret, struct sg_error *err)
{
	int r;

	if (is_pkcs11(spec)) {
		r = load_pkcs11(err);
		if (r == 0)
			r = pkcs11->open(spec, role, opts, ret, err);
		return r;
	}
	return sg_key_file_open(c, file_path(spec), role, ret, err);
}

int
sg_key_open_pair_ex(struct sg_crypto *c, const char *spec, const struct sg_key_options *opts,
		    struct sg_key **ret_tik, struct sg_key **ret_tek, struct sg_error *err)
{
	int r;

	if (is_pkcs11(spec)) {
		r = load_pkcs11(err);
		if (r == 0)
			r = pkcs11->open_pair(spec, opts, ret_tik, ret_tek, err);
		return r;
	}
	return sg_key_file_open_pair(c, file_path(spec), ret_tik, ret_tek, err);
}

int
sg_key_open(struct sg_crypto *c, const char *spec, enum sg_key_role role, struct sg_key **ret,
	    struct sg_error *err)
{
	return sg_key_open_ex(c, spec, role, NULL, ret, err);
}

int
sg_key_open_pair(struct sg_crypto *c, const char *spec, struct sg_key **ret_tik,
		 struct sg_key **ret_tek, struct sg_error *err)
{
	return sg_key_open_pair_ex(c, spec, NULL, ret_tik, ret_tek, err);
}

struct sg_key *
sg_key_alloc(const struct sg_key_ops *ops, enum sg_key_role role, const char *desc)
{
	struct sg_key *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->desc = strdup(desc);
	if (!k->desc) {
		free(k);
		return NULL;
	}
	k->ops = ops;
	k->role = role;
	return k;
}

int
sg_key_hmac_sha256(struct sg_key *k, const struct sg_iov *iov, size_t niov,
		   uint8_t out[SG_SHA256_LEN], struct sg_error *err)
{
	if (k->role != SG_KEY_TIK)
		return sg_error_set(err, SG_E_INTERNAL, "HMAC requested with a TEK");
	return k->ops->hmac_sha256(k, iov, niov, out, err);
}

int
sg_key_hmac_verify(struct sg_key *k, const struct sg_iov *iov, size_t niov,
		   const uint8_t mac[SG_SHA256_LEN], struct sg_error *err)
{
	uint8_t computed[SG_SHA256_LEN];
	int r;

	if (k->role != SG_KEY_TIK)
		return sg_error_set(err, SG_E_INTERNAL, "HMAC requested with a TEK");
	if (k->ops->hmac_verify)
		return k->ops->hmac_verify(k, iov, niov, mac, err);
	if ((r = k->ops->hmac_sha256(k, iov, niov, computed, err)) < 0)
		return r;
	r = sg_memeq_consttime(computed, mac, SG_SHA256_LEN) ? 0 : SG_E_MISMATCH;
	sg_wipe(computed, sizeof(computed));
	return r;
}

int
sg_key_aes128ctr(struct sg_key *k, const uint8_t iv[16], const uint8_t *in, size_t len,
		 uint8_t *out, struct sg_error *err)
{
	if (k->role != SG_KEY_TEK)
		return sg_error_set(err, SG_E_INTERNAL, "encryption requested with a TIK");
	return k->ops->aes128ctr(k, iv, in, len, out, err);
}

const char *
sg_key_describe(const struct sg_key *k)
{
	return k->desc;
}

const char *
sg_key_backend(const struct sg_key *k)
{
	return k->ops->name;
}

const char *
sg_key_fingerprint(const struct sg_key *k)
{
	return k->fingerprint[0] ? k->fingerprint : NULL;
}

bool
sg_key_exportable(const struct sg_key *k)
{
	return k->exportable;
}

void
sg_key_free(struct sg_key *k)
{
	if (!k)
		return;
	if (k->ops && k->ops->free_priv)
		k->ops->free_priv(k->priv);
	free(k->desc);
	free(k);
}
