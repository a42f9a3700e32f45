/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PKCS#11 back end: the TIK and TEK stay in the token. The measurement is
 * checked with C_Verify (CKM_SHA256_HMAC), the packet MAC is C_Sign and
 * the payload is C_Encrypt (CKM_AES_CTR); no key byte leaves the token.
 */
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <stdlib.h>
#include <string.h>

#include "key/key-internal.h"
#include "key/p11.h"
#include "util/debug.h"

/* The largest secret read from a token data object (OVMF's secret area is 3 KiB). */
#define SG_SECRET_OBJECT_MAX (1 << 20)
#include "util/secmem.h"

struct p11_key {
	struct sg_p11_token *tok; /* process-wide, not owned */
	CK_OBJECT_HANDLE obj;
};

static int
fail_rv(struct sg_key *k, const char *call, CK_MECHANISM_TYPE mech, CK_RV rv, struct sg_error *err)
{
	struct p11_key *pk = k->priv;

	if (rv == CKR_MECHANISM_INVALID)
		return sg_error_set(err, SG_E_TOKEN, "token '%s' does not support %s",
				    pk->tok->label, sg_p11_mech_name(mech));
	if (rv == CKR_KEY_SIZE_RANGE && mech == CKM_SHA256_HMAC)
		return sg_error_set(
			err, SG_E_TOKEN,
			"token '%s' refuses this TIK for %s (CKR_KEY_SIZE_RANGE): it is "
			"shorter than the token's minimum; sevgate keys import pads it",
			pk->tok->label, sg_p11_mech_name(mech));
	return sg_error_set(err, SG_E_TOKEN, "token '%s': %s failed: %s", pk->tok->label, call,
			    sg_p11_rv_name(rv));
}

static int
p11_hmac(struct sg_key *k, const struct sg_iov *iov, size_t niov, uint8_t out[SG_SHA256_LEN],
	 struct sg_error *err)
{
	struct p11_key *pk = k->priv;
	CK_FUNCTION_LIST *fl = pk->tok->fl;
	CK_MECHANISM mech = { CKM_SHA256_HMAC, NULL, 0 };
	CK_ULONG len = SG_SHA256_LEN;
	CK_RV rv;

	rv = fl->C_SignInit(pk->tok->session, &mech, pk->obj);
	if (rv != CKR_OK)
		return fail_rv(k, "C_SignInit", mech.mechanism, rv, err);
	for (size_t i = 0; i < niov; i++) {
		if (!iov[i].len)
			continue;
		rv = fl->C_SignUpdate(pk->tok->session, (CK_BYTE_PTR)iov[i].data, iov[i].len);
		if (rv != CKR_OK) {
			/* Finish the operation so the session stays usable. */
			uint8_t junk[SG_SHA256_LEN];
			CK_ULONG jl = sizeof(junk);
			fl->C_SignFinal(pk->tok->session, junk, &jl);
			return fail_rv(k, "C_SignUpdate", mech.mechanism, rv, err);
		}
	}
	rv = fl->C_SignFinal(pk->tok->session, out, &len);
	if (rv != CKR_OK)
		return fail_rv(k, "C_SignFinal", mech.mechanism, rv, err);
	if (len != SG_SHA256_LEN)
		return sg_error_set(err, SG_E_TOKEN, "token '%s' returned a %lu-byte HMAC",
				    pk->tok->label, (unsigned long)len);
	return 0;
}

static int
p11_verify(struct sg_key *k, const struct sg_iov *iov, size_t niov,
	   const uint8_t mac[SG_SHA256_LEN], struct sg_error *err)
{
	struct p11_key *pk = k->priv;
	CK_FUNCTION_LIST *fl = pk->tok->fl;
	CK_MECHANISM mech = { CKM_SHA256_HMAC, NULL, 0 };
	CK_RV rv;

	rv = fl->C_VerifyInit(pk->tok->session, &mech, pk->obj);
	if (rv != CKR_OK)
		return fail_rv(k, "C_VerifyInit", mech.mechanism, rv, err);
	if (niov == 1) {
		rv = fl->C_Verify(pk->tok->session, (CK_BYTE_PTR)iov[0].data, iov[0].len,
				  (CK_BYTE_PTR)mac, SG_SHA256_LEN);
	} else {
		for (size_t i = 0; i < niov; i++) {
			if (!iov[i].len)
				continue;
			rv = fl->C_VerifyUpdate(pk->tok->session, (CK_BYTE_PTR)iov[i].data,
						iov[i].len);
			if (rv != CKR_OK)
				break;
		}
		if (rv == CKR_OK)
			rv = fl->C_VerifyFinal(pk->tok->session, (CK_BYTE_PTR)mac, SG_SHA256_LEN);
	}
	if (rv == CKR_SIGNATURE_INVALID || rv == CKR_SIGNATURE_LEN_RANGE)
		return SG_E_MISMATCH;
	if (rv != CKR_OK) {
		/*
		 * Some tokens report a wrong MAC as a generic failure (NSS softoken:
		 * CKR_DEVICE_ERROR). Tell the two apart by computing the MAC in the
		 * token and comparing in constant time; a real fault fails here too, and
		 * is reported once, as the C_Verify failure (the check reports nothing).
		 */
		uint8_t computed[SG_SHA256_LEN];
		int r;

		sg_debug("PKCS#11: C_Verify returned %s; checking with C_Sign", sg_p11_rv_name(rv));
		if (p11_hmac(k, iov, niov, computed, NULL) < 0)
			return fail_rv(k, "C_Verify", mech.mechanism, rv, err);
		r = sg_memeq_consttime(computed, mac, SG_SHA256_LEN) ? 0 : SG_E_MISMATCH;
		sg_wipe(computed, sizeof(computed));
		return r;
	}
	return 0;
}

static int
p11_aes(struct sg_key *k, const uint8_t iv[16], const uint8_t *in, size_t len, uint8_t *out,
	struct sg_error *err)
{
	struct p11_key *pk = k->priv;
	CK_FUNCTION_LIST *fl = pk->tok->fl;
	CK_AES_CTR_PARAMS params;
	CK_MECHANISM mech = { CKM_AES_CTR, &params, sizeof(params) };
	CK_ULONG outlen = len;
	CK_RV rv;

	/* The whole 16-byte IV is the initial counter block, with a 128-bit counter. */
	params.ulCounterBits = 128;
	memcpy(params.cb, iv, 16);
	rv = fl->C_EncryptInit(pk->tok->session, &mech, pk->obj);
	if (rv != CKR_OK)
		return fail_rv(k, "C_EncryptInit", mech.mechanism, rv, err);
	rv = fl->C_Encrypt(pk->tok->session, (CK_BYTE_PTR)in, len, out, &outlen);
	if (rv != CKR_OK)
		return fail_rv(k, "C_Encrypt", mech.mechanism, rv, err);
	if (outlen != len)
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s': AES-CTR returned %lu bytes for %zu",
				    pk->tok->label, (unsigned long)outlen, len);
	return 0;
}

static const struct sg_key_ops p11_ops = {
	.name = "pkcs11",
	.serialize = true,
	.hmac_sha256 = p11_hmac,
	.hmac_verify = p11_verify,
	.aes128ctr = p11_aes,
	.free_priv = free,
};

/* Check the key fits its role: a generic secret (or HMAC key) for the TIK, a 16-byte AES key for the TEK. */
static int
check_key(const struct sg_p11_keyent *e, enum sg_key_role role, const char *shown,
	  const struct sg_key_options *opts, struct sg_error *err)
{
	bool sensitive, extractable;

	if (role == SG_KEY_TIK && e->type != CKK_GENERIC_SECRET && e->type != CKK_SHA256_HMAC)
		return sg_error_set(err, SG_E_KEY,
				    "key '%s' is not a generic secret: it cannot be the TIK",
				    shown);
	if (role == SG_KEY_TEK) {
		if (e->type != CKK_AES)
			return sg_error_set(err, SG_E_KEY,
					    "key '%s' is not an AES key: it cannot be the TEK",
					    shown);
		if (e->value_len != 16)
			return sg_error_set(err, SG_E_KEY, "key '%s' is not AES-128 (%ld bytes)",
					    shown, (long)e->value_len);
	}
	sensitive = e->sensitive == CK_TRUE;
	extractable = e->extractable != CK_FALSE;
	if ((!sensitive || extractable) && opts && opts->allow_exportable_keys)
		return 1;
	if (!sensitive || extractable)
		return sg_error_set(err, SG_E_KEY,
				    "key '%s' is %s: its bytes could leave the token (use "
				    "--allow-exportable-keys to accept it anyway)",
				    shown, extractable ? "extractable" : "not sensitive");
	return 0;
}

static int
make_key(struct sg_p11_token *t, CK_OBJECT_HANDLE o, enum sg_key_role role, const char *shown,
	 struct sg_key **ret, struct sg_error *err)
{
	struct sg_key *k = sg_key_alloc(&p11_ops, role, shown);
	struct p11_key *pk = calloc(1, sizeof(*pk));

	if (!k || !pk) {
		free(pk);
		sg_key_free(k);
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	}
	pk->tok = t;
	pk->obj = o;
	k->priv = pk;
	*ret = k;
	return 0;
}

struct found {
	struct sg_p11_token *tok;
	struct sg_p11_keyent ent; /* a copy: the index may be rebuilt later */
};

/* Every secret key the URI matches, across all matching tokens. */
static int
find_all(const char *spec, const struct sg_key_options *opts, struct found *out, size_t max,
	 size_t *ret_n, char **ret_shown, struct sg_error *err)
{
	_cleanup_(sg_p11_kit_uri_freep) P11KitUri *uri = NULL;
	_cleanup_(sg_freep) struct sg_p11_token **toks = NULL;
	size_t n = 0;
	int ntok, r;

	*ret_shown = sg_p11_uri_redact(spec);
	if (!*ret_shown)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	if ((r = sg_p11_uri_parse(spec, opts && opts->allow_pin_value, &uri, err)) < 0)
		return r;
	ntok = sg_p11_tokens(uri, spec, opts, false, &toks, err);
	for (int i = 0; i < ntok; i++) {
		_cleanup_(sg_freep) const struct sg_p11_keyent **ents = NULL;
		CK_ULONG nobj = 0;

		if ((r = sg_p11_find_keys(toks[i], uri, &ents, &nobj, err)) < 0) {
			ntok = r;
			break;
		}
		for (CK_ULONG j = 0; j < nobj; j++) {
			if (n < max) {
				out[n].tok = toks[i];
				out[n].ent = *ents[j];
			}
			n++;
		}
	}
	if (ntok < 0)
		return ntok;
	*ret_n = n;
	return 0;
}

int
sg_key_pkcs11_open(const char *spec, enum sg_key_role role, const struct sg_key_options *opts,
		   struct sg_key **ret, struct sg_error *err)
{
	_cleanup_(sg_freep) char *shown = NULL;
	struct found f[4];
	size_t n = 0;
	int r;

	if ((r = find_all(spec, opts, f, SG_ELEMENTSOF(f), &n, &shown, err)) < 0)
		return r;
	if (n != 1)
		return sg_error_set(err, SG_E_KEY, "key URI '%s' matches %zu keys, expected 1",
				    shown, n);
	int exportable;

	if ((exportable = check_key(&f[0].ent, role, shown, opts, err)) < 0)
		return exportable;
	sg_debug("PKCS#11: %s key %s on token '%s'", role == SG_KEY_TIK ? "TIK" : "TEK", shown,
		 f[0].tok->label);
	if ((r = make_key(f[0].tok, f[0].ent.handle, role, shown, ret, err)) < 0)
		return r;
	(*ret)->exportable = exportable == 1;
	return 0;
}

int
sg_key_pkcs11_open_pair(const char *spec, const struct sg_key_options *opts,
			struct sg_key **ret_tik, struct sg_key **ret_tek, struct sg_error *err)
{
	_cleanup_(sg_freep) char *shown = NULL;
	_cleanup_(sg_key_freep) struct sg_key *tik = NULL, *tek = NULL;
	struct found f[4];
	size_t n = 0, itik = 0, itek = 0, ntik = 0, ntek = 0;
	int r;

	if ((r = find_all(spec, opts, f, SG_ELEMENTSOF(f), &n, &shown, err)) < 0)
		return r;
	for (size_t i = 0; i < n && i < SG_ELEMENTSOF(f); i++) {
		if (f[i].ent.type == CKK_AES) {
			itek = i;
			ntek++;
		} else {
			itik = i;
			ntik++;
		}
	}
	if (n != 2 || ntik != 1 || ntek != 1)
		return sg_error_set(err, SG_E_KEY,
				    "--tk URI '%s' matches %zu keys, expected a pair (one generic "
				    "secret TIK, one AES TEK)",
				    shown, n);
	int xtik, xtek;

	if ((xtik = check_key(&f[itik].ent, SG_KEY_TIK, shown, opts, err)) < 0)
		return xtik;
	if ((xtek = check_key(&f[itek].ent, SG_KEY_TEK, shown, opts, err)) < 0)
		return xtek;
	if ((r = make_key(f[itik].tok, f[itik].ent.handle, SG_KEY_TIK, shown, &tik, err)) < 0 ||
	    (r = make_key(f[itek].tok, f[itek].ent.handle, SG_KEY_TEK, shown, &tek, err)) < 0)
		return r;
	tik->exportable = xtik == 1;
	tek->exportable = xtek == 1;
	*ret_tik = SG_TAKE_PTR(tik);
	*ret_tek = SG_TAKE_PTR(tek);
	return 0;
}

/* The one object of @cls the URI names, on the one token it names. */
static int
find_one(const char *spec, const struct sg_key_options *opts, CK_OBJECT_CLASS cls, bool rw,
	 const char *what, struct sg_p11_token **ret_tok, CK_OBJECT_HANDLE *ret_obj,
	 struct sg_error *err)
{
	_cleanup_(sg_freep) char *shown = sg_p11_uri_redact(spec);
	_cleanup_(sg_freep) struct sg_p11_token **toks = NULL;
	_cleanup_(sg_p11_kit_uri_freep) P11KitUri *uri = NULL;
	CK_ATTRIBUTE tmpl[8], *attrs;
	CK_ULONG nattrs = 0, ntmpl = 0;
	CK_OBJECT_HANDLE found[2];
	size_t total = 0;
	int ntok, r;

	if (!shown)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	if ((r = sg_p11_uri_parse(spec, opts && opts->allow_pin_value, &uri, err)) < 0)
		return r;
	ntok = sg_p11_tokens(uri, spec, opts, rw, &toks, err);
	attrs = p11_kit_uri_get_attributes(uri, &nattrs);
	for (CK_ULONG i = 0; i < nattrs && ntmpl < SG_ELEMENTSOF(tmpl) - 1; i++)
		if (attrs[i].type != CKA_CLASS)
			tmpl[ntmpl++] = attrs[i];
	tmpl[ntmpl].type = CKA_CLASS;
	tmpl[ntmpl].pValue = &cls;
	tmpl[ntmpl++].ulValueLen = sizeof(cls);
	for (int i = 0; i < ntok; i++) {
		CK_ULONG got = 0;

		if (toks[i]->fl->C_FindObjectsInit(toks[i]->session, tmpl, ntmpl) != CKR_OK)
			continue;
		toks[i]->fl->C_FindObjects(toks[i]->session, found, SG_ELEMENTSOF(found), &got);
		toks[i]->fl->C_FindObjectsFinal(toks[i]->session);
		if (got >= 1 && total == 0) {
			*ret_tok = toks[i];
			*ret_obj = found[0];
		}
		total += got;
	}
	if (ntok < 0)
		return ntok;
	if (total != 1)
		return sg_error_set(err, SG_E_KEY, "%s URI '%s' matches %zu %s, expected 1", what,
				    shown, total, cls == CKO_DATA ? "data objects" : "objects");
	return 0;
}

/*
 * The audit key, looked up once: a batch signs every record with it, and
 * a C_FindObjects per record would cost more than the signature.
 * Callers hold key.c's token lock.
 */
static struct {
	struct sg_secmem *spec; /* the URI may hold a pin-value: locked memory, wiped */
	struct sg_p11_token *tok;
	CK_OBJECT_HANDLE obj;
	bool copied; /* obj is our session copy of the key */
} signer;

static void
signer_forget(void)
{
	if (signer.copied && signer.tok)
		(void)signer.tok->fl->C_DestroyObject(signer.tok->session, signer.obj);
	signer.copied = false;
	sg_secmem_free(signer.spec);
	signer.spec = NULL;
	signer.tok = NULL;
	signer.obj = 0;
}

/*
 * The audit log is signed with P-256 only (docs/audit.md): a private key on
 * another curve is refused when it is looked up, naming the curve, rather
 * than failing at its first signature.
 */
static int
check_p256(struct sg_p11_token *t, CK_OBJECT_HANDLE o, struct sg_error *err)
{
	static const uint8_t p256_oid[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
					    0xce, 0x3d, 0x03, 0x01, 0x07 };
	uint8_t params[64];
	CK_ATTRIBUTE a = { CKA_EC_PARAMS, params, sizeof(params) };
	const unsigned char *p = params;
	ASN1_OBJECT *oid;
	const char *curve = NULL;
	CK_RV rv;

	rv = t->fl->C_GetAttributeValue(t->session, o, &a, 1);
	if (rv == CKR_OK && a.ulValueLen == sizeof(p256_oid) &&
	    !memcmp(params, p256_oid, sizeof(p256_oid)))
		return 0;
	if (rv == CKR_OK && (oid = d2i_ASN1_OBJECT(NULL, &p, (long)a.ulValueLen))) {
		curve = OBJ_nid2sn(OBJ_obj2nid(oid));
		ASN1_OBJECT_free(oid);
	}
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s': cannot read the audit key's curve: %s", t->label,
				    sg_p11_rv_name(rv));
	return sg_error_set(err, SG_E_USAGE,
			    "token '%s': the audit key is an EC key on %s: the audit log is signed "
			    "with P-256 (prime256v1) only",
			    t->label, curve && strcmp(curve, "UNDEF") ? curve : "another curve");
}

/* A private key the token will not sign with is refused where it is looked up. */
static int
check_sign(struct sg_p11_token *t, CK_OBJECT_HANDLE o, struct sg_error *err)
{
	CK_BBOOL can = CK_FALSE;
	CK_ATTRIBUTE a = { CKA_SIGN, &can, sizeof(can) };
	CK_RV rv = t->fl->C_GetAttributeValue(t->session, o, &a, 1);

	if (rv != CKR_OK)
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s': cannot read the audit key's CKA_SIGN: %s",
				    t->label, sg_p11_rv_name(rv));
	if (can != CK_TRUE)
		return sg_error_set(err, SG_E_USAGE,
				    "token '%s': the audit key cannot sign (CKA_SIGN is false)",
				    t->label);
	return 0;
}

/*
 * The signer for @spec, looked up (find_one), checked (P-256, CKA_SIGN) and
 * cached on first use: later calls with the same URI reuse it.
 */
static int
get_signer(const char *spec, const struct sg_key_options *opts, struct sg_p11_token **ret_t,
	   CK_OBJECT_HANDLE *ret_o, struct sg_error *err)
{
	struct sg_p11_token *t = NULL;
	CK_OBJECT_HANDLE o = 0;
	size_t speclen = strlen(spec);
	int r;

	if (signer.spec && signer.spec->len == speclen + 1 &&
	    !memcmp(signer.spec->data, spec, speclen + 1)) {
		t = signer.tok;
		o = signer.obj;
	} else {
		CK_BBOOL no = CK_FALSE;
		CK_ATTRIBUTE session_copy = { CKA_TOKEN, &no, sizeof(no) };
		CK_OBJECT_HANDLE copy = 0;

		if ((r = find_one(spec, opts, CKO_PRIVATE_KEY, false, "audit key", &t, &o, err)) <
			    0 ||
		    (r = check_p256(t, o, err)) < 0 || (r = check_sign(t, o, err)) < 0)
			return r;
		signer_forget();
		/*
		 * Sign with a session copy where the token allows one (CKA_COPYABLE):
		 * the key stays inside the token, but a file-backed token such as
		 * SoftHSM no longer rereads its object from disk for every record.
		 */
		if (t->fl->C_CopyObject(t->session, o, &session_copy, 1, &copy) == CKR_OK) {
			o = copy;
			signer.copied = true;
		}
		if ((signer.spec = sg_secmem_new(speclen + 1)))
			memcpy(signer.spec->data, spec, speclen + 1);
		signer.tok = t;
		signer.obj = o;
	}
	*ret_t = t;
	*ret_o = o;
	return 0;
}

static int
ecdsa_check(const char *spec, const struct sg_key_options *opts, struct sg_error *err)
{
	struct sg_p11_token *t;
	CK_OBJECT_HANDLE o;

	return get_signer(spec, opts, &t, &o, err);
}

static int
ecdsa_sign(const char *spec, const struct sg_key_options *opts, const uint8_t digest[32],
	   uint8_t rs[64], struct sg_error *err)
{
	struct sg_p11_token *t = NULL;
	CK_OBJECT_HANDLE o = 0;
	CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
	CK_ULONG len = 64;
	CK_RV rv;
	int r;

	if ((r = get_signer(spec, opts, &t, &o, err)) < 0)
		return r;
	rv = t->fl->C_SignInit(t->session, &mech, o);
	if (rv == CKR_OK)
		rv = t->fl->C_Sign(t->session, (CK_BYTE_PTR)digest, 32, rs, &len);
	if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID ||
	    rv == CKR_SESSION_HANDLE_INVALID)
		signer_forget(); /* the key or session went away: look it up afresh next time */
	if (rv == CKR_MECHANISM_INVALID)
		return sg_error_set(err, SG_E_TOKEN, "token '%s' does not support CKM_ECDSA",
				    t->label);
	if (rv != CKR_OK)
		return sg_error_set(err, SG_E_TOKEN, "token '%s': ECDSA signing failed: %s",
				    t->label, sg_p11_rv_name(rv));
	if (len != 64)
		return sg_error_set(err, SG_E_TOKEN, "token '%s': the audit key is not P-256",
				    t->label);
	return 0;
}

/* Single-use keys: the one secret key @spec names is deleted from its token. */
static int
destroy_key(const char *spec, const struct sg_key_options *opts, struct sg_error *err)
{
	struct sg_p11_token *t = NULL;
	CK_OBJECT_HANDLE o = 0;
	CK_RV rv;
	int r;

	if ((r = find_one(spec, opts, CKO_SECRET_KEY, true, "key", &t, &o, err)) < 0)
		return r;
	rv = t->fl->C_DestroyObject(t->session, o);
	sg_p11_index_invalidate(t);
	if (rv != CKR_OK)
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s': deleting a released key failed: %s", t->label,
				    sg_p11_rv_name(rv));
	return 0;
}

/* A secret stored as a private data object: found by the URI, copied into locked memory. */
static int
read_data(const char *spec, const struct sg_key_options *opts, struct sg_secmem **ret,
	  struct sg_error *err)
{
	_cleanup_(sg_freep) char *shown = sg_p11_uri_redact(spec);
	_cleanup_(sg_secmem_freep) struct sg_secmem *m = NULL;
	struct sg_p11_token *tok = NULL;
	CK_OBJECT_HANDLE obj = 0;
	int r;

	if (!shown)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	if ((r = find_one(spec, opts, CKO_DATA, false, "secret", &tok, &obj, err)) < 0)
		return r;

	CK_ATTRIBUTE at = { CKA_VALUE, NULL, 0 };
	CK_RV rv = tok->fl->C_GetAttributeValue(tok->session, obj, &at, 1);

	if (rv != CKR_OK || at.ulValueLen == (CK_ULONG)-1)
		return sg_error_set(err, SG_E_TOKEN, "secret '%s': cannot read its value: %s",
				    shown, sg_p11_rv_name(rv));
	if (at.ulValueLen > SG_SECRET_OBJECT_MAX)
		return sg_error_set(err, SG_E_LIMIT, "secret '%s' is larger than %d bytes", shown,
				    SG_SECRET_OBJECT_MAX);
	m = sg_secmem_new(at.ulValueLen);
	if (!m)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	at.pValue = m->data;
	rv = tok->fl->C_GetAttributeValue(tok->session, obj, &at, 1);
	if (rv != CKR_OK)
		return sg_error_set(err, SG_E_TOKEN, "secret '%s': cannot read its value: %s",
				    shown, sg_p11_rv_name(rv));
	m->len = at.ulValueLen;
	*ret = SG_TAKE_PTR(m);
	return 0;
}

static int
set_config(const char *path, struct sg_error *err)
{
	return sg_p11_set_config(path, err);
}

static void
shutdown_tokens(void)
{
	signer_forget();
	sg_p11_shutdown();
}

const struct sg_pkcs11_api sg_pkcs11_backend = {
	.open = sg_key_pkcs11_open,
	.open_pair = sg_key_pkcs11_open_pair,
	.set_config = set_config,
	.shutdown = shutdown_tokens,
	.read_data = read_data,
	.ecdsa_sign = ecdsa_sign,
	.ecdsa_check = ecdsa_check,
	.destroy_key = destroy_key,
};
