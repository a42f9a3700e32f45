/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PKCS#11 back end: the TIK and TEK stay in the token. The measurement is
 * checked with C_Verify (CKM_SHA256_HMAC), the packet MAC is C_Sign and
 * the payload is C_Encrypt (CKM_AES_CTR); no key byte leaves the token.
 */
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <pthread.h>
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
	struct sg_p11_keyent ent; /* the key, and its handle in generation gen */
	uint64_t gen;
};

static int
fail_rv(struct sg_key *k, const char *call, CK_MECHANISM_TYPE mech, CK_RV rv, CK_RV *ret_rv,
	struct sg_error *err)
{
	const char *label = sg_p11_token_label(((struct p11_key *)k->priv)->tok);

	*ret_rv = rv;
	if (rv == CKR_MECHANISM_INVALID)
		return sg_error_set(err, SG_E_TOKEN, "token '%s' does not support %s", label,
				    sg_p11_mech_name(mech));
	if (rv == CKR_KEY_SIZE_RANGE && mech == CKM_SHA256_HMAC)
		return sg_error_set(
			err, SG_E_TOKEN,
			"token '%s' refuses this TIK for %s (CKR_KEY_SIZE_RANGE): it is "
			"shorter than the token's minimum; sevgate keys import pads it",
			label, sg_p11_mech_name(mech));
	return sg_error_set(err, SG_E_TOKEN, "token '%s': %s failed: %s", label, call,
			    sg_p11_rv_name(rv));
}

/* One attempt of a key operation under @op, the key's handle current. */
typedef int (*key_call)(struct sg_key *k, struct sg_p11_op *op, CK_OBJECT_HANDLE h, void *ctx,
			CK_RV *ret_rv, struct sg_error *err);

/*
 * Run @fn under one token operation: the key's handle looked up again after a reset, and the
 * attempt made once more when the token layer recovered from what failed it.
 */
static int
run(struct sg_key *k, key_call fn, void *ctx, struct sg_error *err)
{
	struct p11_key *pk = k->priv;
	struct sg_p11_op op;
	struct sg_error e;
	CK_RV rv;
	int r;

	if ((r = sg_p11_begin(pk->tok, SG_P11_CRYPTO, &op, err)) < 0)
		return r;
	do {
		sg_error_clear(&e); /* a retry reports its own failure */
		rv = CKR_OK;
		r = sg_p11_resolve(&op, &pk->ent, &pk->gen, &rv, &e);
		if (r == 0)
			r = fn(k, &op, pk->ent.handle, ctx, &rv, &e);
	} while (r < 0 && rv != CKR_OK && sg_p11_again(&op, rv));
	return sg_p11_finish(&op, r, &e, err);
}

struct mac_args {
	const struct sg_iov *iov;
	size_t niov;
	uint8_t *out;
	const uint8_t *mac;
};

static int
hmac_once(struct sg_key *k, struct sg_p11_op *op, CK_OBJECT_HANDLE h, void *ctx, CK_RV *ret_rv,
	  struct sg_error *err)
{
	struct mac_args *a = ctx;
	CK_MECHANISM mech = { CKM_SHA256_HMAC, NULL, 0 };
	CK_ULONG len = SG_SHA256_LEN;
	CK_RV rv;

	rv = op->fl->C_SignInit(op->session, &mech, h);
	if (rv != CKR_OK)
		return fail_rv(k, "C_SignInit", mech.mechanism, rv, ret_rv, err);
	for (size_t i = 0; i < a->niov; i++) {
		if (!a->iov[i].len)
			continue;
		rv = op->fl->C_SignUpdate(op->session, (CK_BYTE_PTR)a->iov[i].data, a->iov[i].len);
		if (rv != CKR_OK) {
			/* Finish the operation so the session stays usable. */
			uint8_t junk[SG_SHA256_LEN];
			CK_ULONG jl = sizeof(junk);
			op->fl->C_SignFinal(op->session, junk, &jl);
			return fail_rv(k, "C_SignUpdate", mech.mechanism, rv, ret_rv, err);
		}
	}
	rv = op->fl->C_SignFinal(op->session, a->out, &len);
	if (rv != CKR_OK)
		return fail_rv(k, "C_SignFinal", mech.mechanism, rv, ret_rv, err);
	if (len != SG_SHA256_LEN)
		return sg_error_set(err, SG_E_TOKEN, "token '%s' returned a %lu-byte HMAC",
				    sg_p11_token_label(op->t), (unsigned long)len);
	return 0;
}

static int
p11_hmac(struct sg_key *k, const struct sg_iov *iov, size_t niov, uint8_t out[SG_SHA256_LEN],
	 struct sg_error *err)
{
	struct mac_args a = { .iov = iov, .niov = niov, .out = out };

	return run(k, hmac_once, &a, err);
}

static int
verify_once(struct sg_key *k, struct sg_p11_op *op, CK_OBJECT_HANDLE h, void *ctx, CK_RV *ret_rv,
	    struct sg_error *err)
{
	struct mac_args *a = ctx;
	CK_MECHANISM mech = { CKM_SHA256_HMAC, NULL, 0 };
	CK_RV rv;

	rv = op->fl->C_VerifyInit(op->session, &mech, h);
	if (rv != CKR_OK)
		return fail_rv(k, "C_VerifyInit", mech.mechanism, rv, ret_rv, err);
	if (a->niov == 1) {
		rv = op->fl->C_Verify(op->session, (CK_BYTE_PTR)a->iov[0].data, a->iov[0].len,
				      (CK_BYTE_PTR)a->mac, SG_SHA256_LEN);
	} else {
		for (size_t i = 0; i < a->niov; i++) {
			if (!a->iov[i].len)
				continue;
			rv = op->fl->C_VerifyUpdate(op->session, (CK_BYTE_PTR)a->iov[i].data,
						    a->iov[i].len);
			if (rv != CKR_OK)
				break;
		}
		if (rv == CKR_OK)
			rv = op->fl->C_VerifyFinal(op->session, (CK_BYTE_PTR)a->mac, SG_SHA256_LEN);
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
		struct mac_args m = { .iov = a->iov, .niov = a->niov, .out = computed };
		CK_RV ignored;
		int r;

		sg_debug("PKCS#11: C_Verify returned %s; checking with C_Sign", sg_p11_rv_name(rv));
		if (hmac_once(k, op, h, &m, &ignored, NULL) < 0)
			return fail_rv(k, "C_Verify", mech.mechanism, rv, ret_rv, err);
		r = sg_memeq_consttime(computed, a->mac, SG_SHA256_LEN) ? 0 : SG_E_MISMATCH;
		sg_wipe(computed, sizeof(computed));
		return r;
	}
	return 0;
}

static int
p11_verify(struct sg_key *k, const struct sg_iov *iov, size_t niov,
	   const uint8_t mac[SG_SHA256_LEN], struct sg_error *err)
{
	struct mac_args a = { .iov = iov, .niov = niov, .mac = mac };

	return run(k, verify_once, &a, err);
}

struct aes_args {
	const uint8_t *iv, *in;
	size_t len;
	uint8_t *out;
};

static int
aes_once(struct sg_key *k, struct sg_p11_op *op, CK_OBJECT_HANDLE h, void *ctx, CK_RV *ret_rv,
	 struct sg_error *err)
{
	struct aes_args *a = ctx;
	CK_AES_CTR_PARAMS params;
	CK_MECHANISM mech = { CKM_AES_CTR, &params, sizeof(params) };
	CK_ULONG outlen = a->len;
	CK_RV rv;

	/* The whole 16-byte IV is the initial counter block, with a 128-bit counter. */
	params.ulCounterBits = 128;
	memcpy(params.cb, a->iv, 16);
	rv = op->fl->C_EncryptInit(op->session, &mech, h);
	if (rv != CKR_OK)
		return fail_rv(k, "C_EncryptInit", mech.mechanism, rv, ret_rv, err);
	rv = op->fl->C_Encrypt(op->session, (CK_BYTE_PTR)a->in, a->len, a->out, &outlen);
	if (rv != CKR_OK)
		return fail_rv(k, "C_Encrypt", mech.mechanism, rv, ret_rv, err);
	if (outlen != a->len)
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s': AES-CTR returned %lu bytes for %zu",
				    sg_p11_token_label(op->t), (unsigned long)outlen, a->len);
	return 0;
}

static int
p11_aes(struct sg_key *k, const uint8_t iv[16], const uint8_t *in, size_t len, uint8_t *out,
	struct sg_error *err)
{
	struct aes_args a = { .iv = iv, .in = in, .len = len, .out = out };

	return run(k, aes_once, &a, err);
}

static const struct sg_key_ops p11_ops = {
	.name = "pkcs11",
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
make_key(const struct sg_p11_token *t, const struct sg_p11_keyent *e, uint64_t gen,
	 enum sg_key_role role, const char *shown, struct sg_key **ret, struct sg_error *err)
{
	struct sg_key *k = sg_key_alloc(&p11_ops, role, shown);
	struct p11_key *pk = calloc(1, sizeof(*pk));

	if (!k || !pk) {
		free(pk);
		sg_key_free(k);
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	}
	pk->tok = (struct sg_p11_token *)t;
	pk->ent = *e;
	pk->gen = gen;
	k->priv = pk;
	*ret = k;
	return 0;
}

struct found {
	struct sg_p11_token *tok;
	struct sg_p11_keyent ent; /* a copy: the index may change later */
	uint64_t gen;
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
	ntok = sg_p11_tokens(uri, spec, opts, &toks, err);
	for (int i = 0; i < ntok; i++) {
		_cleanup_(sg_freep) struct sg_p11_keyent *ents = NULL;
		CK_ULONG nobj = 0;
		uint64_t gen = 0;

		if ((r = sg_p11_find_keys(toks[i], uri, &ents, &nobj, &gen, err)) < 0) {
			ntok = r;
			break;
		}
		for (CK_ULONG j = 0; j < nobj; j++) {
			if (n < max)
				out[n] = (struct found){ toks[i], ents[j], gen };
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
		 sg_p11_token_label(f[0].tok));
	if ((r = make_key(f[0].tok, &f[0].ent, f[0].gen, role, shown, ret, err)) < 0)
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
	if ((r = make_key(f[itik].tok, &f[itik].ent, f[itik].gen, SG_KEY_TIK, shown, &tik, err)) <
		    0 ||
	    (r = make_key(f[itek].tok, &f[itek].ent, f[itek].gen, SG_KEY_TEK, shown, &tek, err)) <
		    0)
		return r;
	tik->exportable = xtik == 1;
	tek->exportable = xtek == 1;
	*ret_tik = SG_TAKE_PTR(tik);
	*ret_tek = SG_TAKE_PTR(tek);
	return 0;
}

/* The object template a URI names: its attributes, with @cls as the class. */
struct object_query {
	CK_OBJECT_CLASS cls;
	CK_ATTRIBUTE tmpl[8];
	CK_ULONG n;
};

static void
object_query(P11KitUri *uri, CK_OBJECT_CLASS cls, struct object_query *q)
{
	CK_ULONG nattrs = 0;
	CK_ATTRIBUTE *attrs = p11_kit_uri_get_attributes(uri, &nattrs);

	q->cls = cls;
	q->n = 0;
	for (CK_ULONG i = 0; i < nattrs && q->n < SG_ELEMENTSOF(q->tmpl) - 1; i++)
		if (attrs[i].type != CKA_CLASS)
			q->tmpl[q->n++] = attrs[i];
	q->tmpl[q->n].type = CKA_CLASS;
	q->tmpl[q->n].pValue = &q->cls;
	q->tmpl[q->n++].ulValueLen = sizeof(q->cls);
}

/* Under @op: up to two objects @q matches, in @found; the number in *@ret_n. */
static CK_RV
search_objects(struct sg_p11_op *op, struct object_query *q, CK_OBJECT_HANDLE found[2],
	       CK_ULONG *ret_n)
{
	CK_RV rv = op->fl->C_FindObjectsInit(op->session, q->tmpl, q->n);

	*ret_n = 0;
	if (rv != CKR_OK)
		return rv;
	rv = op->fl->C_FindObjects(op->session, found, 2, ret_n);
	op->fl->C_FindObjectsFinal(op->session);
	return rv;
}

/* What to do with the one object a URI names, under the operation that found it. */
typedef int (*object_call)(struct sg_p11_op *op, CK_OBJECT_HANDLE h, void *ctx, CK_RV *ret_rv,
			   struct sg_error *err);

/*
 * The one object of @cls the URI names, across the tokens it matches; then @fn on it in one
 * operation, found again and made once more when the token layer recovers from what failed.
 */
static int
with_one(const char *spec, const struct sg_key_options *opts, CK_OBJECT_CLASS cls, unsigned flags,
	 const char *what, object_call fn, void *ctx, struct sg_error *err)
{
	_cleanup_(sg_freep) char *shown = sg_p11_uri_redact(spec);
	_cleanup_(sg_freep) struct sg_p11_token **toks = NULL;
	_cleanup_(sg_p11_kit_uri_freep) P11KitUri *uri = NULL;
	struct sg_p11_token *tok = NULL;
	struct object_query q;
	CK_OBJECT_HANDLE found[2];
	struct sg_p11_op op;
	struct sg_error e, first = { 0 };
	size_t total = 0;
	CK_ULONG got = 0;
	CK_RV rv;
	int ntok, r;

	if (!shown)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	if ((r = sg_p11_uri_parse(spec, opts && opts->allow_pin_value, &uri, err)) < 0)
		return r;
	if ((ntok = sg_p11_tokens(uri, spec, opts, &toks, err)) < 0)
		return ntok;
	object_query(uri, cls, &q);
	for (int i = 0; i < ntok; i++) {
		got = 0;
		/* A token that cannot be used says why, when no other has the object. */
		if (sg_p11_begin(toks[i], flags & SG_P11_RW, &op, &first) < 0)
			continue;
		while ((rv = search_objects(&op, &q, found, &got)) != CKR_OK &&
		       sg_p11_again(&op, rv))
			;
		sg_error_clear(&e);
		if (rv != CKR_OK) /* a search that failed is not "no such object" */
			sg_error_set(&e, SG_E_TOKEN, "token '%s': C_FindObjects failed: %s",
				     sg_p11_token_label(toks[i]), sg_p11_rv_name(rv));
		(void)sg_p11_finish(&op, rv != CKR_OK ? SG_E_TOKEN : 0, &e, &first);
		if (got >= 1 && total == 0)
			tok = toks[i];
		total += got;
	}
	if (total == 0 && first.code) {
		if (err && !err->code)
			*err = first;
		return first.code;
	}
	if (total != 1)
		return sg_error_set(err, SG_E_KEY, "%s URI '%s' matches %zu %s, expected 1", what,
				    shown, total, cls == CKO_DATA ? "data objects" : "objects");
	if ((r = sg_p11_begin(tok, flags, &op, err)) < 0)
		return r;
	do {
		sg_error_clear(&e); /* a retry reports its own failure */
		rv = search_objects(&op, &q, found, &got);
		if (rv == CKR_OK && got != 1)
			r = sg_error_set(&e, SG_E_KEY, "%s URI '%s' matches %lu %s, expected 1",
					 what, shown, (unsigned long)got,
					 cls == CKO_DATA ? "data objects" : "objects");
		else if (rv != CKR_OK)
			r = sg_error_set(&e, SG_E_TOKEN, "token '%s': C_FindObjects failed: %s",
					 sg_p11_token_label(tok), sg_p11_rv_name(rv));
		else
			r = fn(&op, found[0], ctx, &rv, &e);
	} while (r < 0 && rv != CKR_OK && sg_p11_again(&op, rv));
	return sg_p11_finish(&op, r, &e, err);
}

/*
 * The audit key, looked up once: a batch signs every record with it, and a C_FindObjects per
 * record would cost more than the signature. Its own lock: the threads of a batch sign.
 */
static pthread_mutex_t signer_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct sg_secmem *spec; /* the URI may hold a pin-value: locked memory, wiped */
	P11KitUri *uri;		/* parsed, without the PIN: finds the key again after a reset */
	struct sg_p11_token *tok;
	CK_OBJECT_HANDLE obj;
	uint64_t gen;
	bool copied; /* obj is our session copy of the key */
} signer;

static void
signer_forget(void)
{
	struct sg_p11_op op;

	if (signer.copied && signer.tok &&
	    sg_p11_begin(signer.tok, SG_P11_IF_OPEN, &op, NULL) == 0) {
		if (sg_p11_generation(&op) == signer.gen)
			(void)op.fl->C_DestroyObject(op.session, signer.obj);
		sg_p11_end(&op);
	}
	signer.copied = false;
	sg_secmem_free(signer.spec);
	p11_kit_uri_free(signer.uri);
	signer.spec = NULL;
	signer.uri = NULL;
	signer.tok = NULL;
	signer.obj = 0;
}

/*
 * The audit log is signed with P-256 only (docs/audit.md): a private key on
 * another curve is refused when it is looked up, naming the curve, rather
 * than failing at its first signature.
 */
static int
check_p256(struct sg_p11_op *op, CK_OBJECT_HANDLE o, CK_RV *ret_rv, struct sg_error *err)
{
	static const uint8_t p256_oid[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
					    0xce, 0x3d, 0x03, 0x01, 0x07 };
	const char *label = sg_p11_token_label(op->t);
	uint8_t params[64];
	CK_ATTRIBUTE a = { CKA_EC_PARAMS, params, sizeof(params) };
	const unsigned char *p = params;
	ASN1_OBJECT *oid;
	const char *curve = NULL;
	CK_RV rv;

	rv = op->fl->C_GetAttributeValue(op->session, o, &a, 1);
	if (rv == CKR_OK && a.ulValueLen == sizeof(p256_oid) &&
	    !memcmp(params, p256_oid, sizeof(p256_oid)))
		return 0;
	if (rv == CKR_OK && (oid = d2i_ASN1_OBJECT(NULL, &p, (long)a.ulValueLen))) {
		curve = OBJ_nid2sn(OBJ_obj2nid(oid));
		ASN1_OBJECT_free(oid);
	}
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL) {
		*ret_rv = rv;
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s': cannot read the audit key's curve: %s", label,
				    sg_p11_rv_name(rv));
	}
	return sg_error_set(err, SG_E_USAGE,
			    "token '%s': the audit key is an EC key on %s: the audit log is signed "
			    "with P-256 (prime256v1) only",
			    label, curve && strcmp(curve, "UNDEF") ? curve : "another curve");
}

/* A private key the token will not sign with is refused where it is looked up. */
static int
check_sign(struct sg_p11_op *op, CK_OBJECT_HANDLE o, CK_RV *ret_rv, struct sg_error *err)
{
	const char *label = sg_p11_token_label(op->t);
	bool can = false;
	CK_RV rv = sg_p11_get_bool(op, o, CKA_SIGN, &can);

	if (rv != CKR_OK) {
		*ret_rv = rv;
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s': cannot read the audit key's CKA_SIGN: %s", label,
				    sg_p11_rv_name(rv));
	}
	if (!can)
		return sg_error_set(err, SG_E_USAGE,
				    "token '%s': the audit key cannot sign (CKA_SIGN is false)",
				    label);
	return 0;
}

/*
 * Under @op: keep @o as the signer, checked (P-256, CKA_SIGN), as a session copy where the
 * token allows one (CKA_COPYABLE): the key stays inside the token, but a file-backed token
 * such as SoftHSM no longer rereads its object from disk for every record.
 */
static int
adopt_signer(struct sg_p11_op *op, CK_OBJECT_HANDLE o, void *ctx, CK_RV *ret_rv,
	     struct sg_error *err)
{
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE session_copy = { CKA_TOKEN, &no, sizeof(no) };
	CK_OBJECT_HANDLE copy = 0;
	int r;

	(void)ctx;
	if ((r = check_p256(op, o, ret_rv, err)) < 0 || (r = check_sign(op, o, ret_rv, err)) < 0)
		return r;
	signer.copied = false;
	if (op->fl->C_CopyObject(op->session, o, &session_copy, 1, &copy) == CKR_OK) {
		o = copy;
		signer.copied = true;
	}
	signer.tok = op->t;
	signer.obj = o;
	signer.gen = sg_p11_generation(op);
	return 0;
}

/* Under signer_lock: the signer for @spec, looked up and checked on first use, then reused. */
static int
get_signer(const char *spec, const struct sg_key_options *opts, struct sg_error *err)
{
	size_t speclen = strlen(spec);
	int r;

	if (signer.spec && signer.spec->len == speclen + 1 &&
	    !memcmp(signer.spec->data, spec, speclen + 1))
		return 0;
	signer_forget();
	if ((r = with_one(spec, opts, CKO_PRIVATE_KEY, 0, "audit key", adopt_signer, NULL, err)) <
	    0)
		return r;
	if ((r = sg_p11_uri_parse(spec, opts && opts->allow_pin_value, &signer.uri, err)) < 0 ||
	    !(signer.spec = sg_secmem_new(speclen + 1))) {
		signer_forget();
		return r < 0 ? r : sg_error_set(err, SG_E_NOMEM, "out of memory");
	}
	memcpy(signer.spec->data, spec, speclen + 1);
	return 0;
}

/* Under @op, after a reset lost the session copy: the audit key found and adopted again. */
static int
signer_again(struct sg_p11_op *op, CK_RV *ret_rv, struct sg_error *err)
{
	struct object_query q;
	CK_OBJECT_HANDLE found[2];
	CK_ULONG got = 0;
	CK_RV rv;

	object_query(signer.uri, CKO_PRIVATE_KEY, &q);
	if ((rv = search_objects(op, &q, found, &got)) != CKR_OK) {
		*ret_rv = rv;
		return sg_error_set(err, SG_E_TOKEN, "token '%s': C_FindObjects failed: %s",
				    sg_p11_token_label(op->t), sg_p11_rv_name(rv));
	}
	if (got != 1)
		return sg_error_set(err, SG_E_KEY, "the audit key is no longer on token '%s'",
				    sg_p11_token_label(op->t));
	return adopt_signer(op, found[0], NULL, ret_rv, err);
}

static int
ecdsa_check(const char *spec, const struct sg_key_options *opts, struct sg_error *err)
{
	int r;

	pthread_mutex_lock(&signer_lock);
	r = get_signer(spec, opts, err);
	pthread_mutex_unlock(&signer_lock);
	return r;
}

static int
sign_locked(const char *spec, const struct sg_key_options *opts, const uint8_t digest[32],
	    uint8_t rs[64], struct sg_error *err)
{
	CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
	struct sg_p11_op op;
	struct sg_error e;
	CK_ULONG len;
	CK_RV rv;
	int r;

	if ((r = get_signer(spec, opts, err)) < 0 ||
	    (r = sg_p11_begin(signer.tok, SG_P11_CRYPTO, &op, err)) < 0)
		return r;
	do {
		sg_error_clear(&e);
		r = 0;
		rv = CKR_OK;
		len = 64;
		if ((op.stale || sg_p11_generation(&op) != signer.gen) &&
		    (r = signer_again(&op, &rv, &e)) < 0)
			continue;
		op.stale = false;
		rv = op.fl->C_SignInit(op.session, &mech, signer.obj);
		if (rv == CKR_OK)
			rv = op.fl->C_Sign(op.session, (CK_BYTE_PTR)digest, 32, rs, &len);
		if (rv == CKR_MECHANISM_INVALID)
			r = sg_error_set(&e, SG_E_TOKEN, "token '%s' does not support CKM_ECDSA",
					 sg_p11_token_label(op.t));
		else if (rv != CKR_OK)
			r = sg_error_set(&e, SG_E_TOKEN, "token '%s': ECDSA signing failed: %s",
					 sg_p11_token_label(op.t), sg_p11_rv_name(rv));
		else if (len != 64)
			r = sg_error_set(&e, SG_E_TOKEN, "token '%s': the audit key is not P-256",
					 sg_p11_token_label(op.t));
	} while (r < 0 && rv != CKR_OK && sg_p11_again(&op, rv));
	return sg_p11_finish(&op, r, &e, err);
}

static int
ecdsa_sign(const char *spec, const struct sg_key_options *opts, const uint8_t digest[32],
	   uint8_t rs[64], struct sg_error *err)
{
	int r;

	pthread_mutex_lock(&signer_lock);
	r = sign_locked(spec, opts, digest, rs, err);
	pthread_mutex_unlock(&signer_lock);
	return r;
}

static int
destroy_one(struct sg_p11_op *op, CK_OBJECT_HANDLE h, void *ctx, CK_RV *ret_rv,
	    struct sg_error *err)
{
	CK_RV rv = op->fl->C_DestroyObject(op->session, h);

	(void)ctx;
	if (rv != CKR_OK) {
		*ret_rv = rv;
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s': deleting a released key failed: %s",
				    sg_p11_token_label(op->t), sg_p11_rv_name(rv));
	}
	sg_p11_index_removed(op, h);
	return 0;
}

/* Single-use keys: the one secret key @spec names is deleted from its token. */
static int
destroy_key(const char *spec, const struct sg_key_options *opts, struct sg_error *err)
{
	return with_one(spec, opts, CKO_SECRET_KEY, SG_P11_RW, "key", destroy_one, NULL, err);
}

struct read_args {
	const char *shown;
	struct sg_secmem *m;
};

static int
read_one(struct sg_p11_op *op, CK_OBJECT_HANDLE obj, void *ctx, CK_RV *ret_rv, struct sg_error *err)
{
	struct read_args *a = ctx;
	CK_ATTRIBUTE at = { CKA_VALUE, NULL, 0 };
	CK_RV rv = op->fl->C_GetAttributeValue(op->session, obj, &at, 1);

	if (rv != CKR_OK || at.ulValueLen == (CK_ULONG)-1) {
		*ret_rv = rv;
		return sg_error_set(err, SG_E_TOKEN, "secret '%s': cannot read its value: %s",
				    a->shown, sg_p11_rv_name(rv));
	}
	if (at.ulValueLen > SG_SECRET_OBJECT_MAX)
		return sg_error_set(err, SG_E_LIMIT, "secret '%s' is larger than %d bytes",
				    a->shown, SG_SECRET_OBJECT_MAX);
	sg_secmem_free(a->m);
	if (!(a->m = sg_secmem_new(at.ulValueLen)))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	at.pValue = a->m->data;
	rv = op->fl->C_GetAttributeValue(op->session, obj, &at, 1);
	if (rv != CKR_OK) {
		*ret_rv = rv;
		return sg_error_set(err, SG_E_TOKEN, "secret '%s': cannot read its value: %s",
				    a->shown, sg_p11_rv_name(rv));
	}
	a->m->len = at.ulValueLen;
	return 0;
}

/* A secret stored as a private data object: found by the URI, copied into locked memory. */
static int
read_data(const char *spec, const struct sg_key_options *opts, struct sg_secmem **ret,
	  struct sg_error *err)
{
	_cleanup_(sg_freep) char *shown = sg_p11_uri_redact(spec);
	struct read_args a = { 0 };
	int r;

	if (!shown)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	a.shown = shown;
	if ((r = with_one(spec, opts, CKO_DATA, 0, "secret", read_one, &a, err)) < 0) {
		sg_secmem_free(a.m);
		return r;
	}
	*ret = a.m;
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
	pthread_mutex_lock(&signer_lock);
	signer_forget();
	pthread_mutex_unlock(&signer_lock);
	sg_p11_shutdown();
}

static void
token_stats(struct sg_key_token_stats *ret)
{
	struct sg_p11_stats s;

	sg_p11_stats(&s);
	*ret = (struct sg_key_token_stats){ .tokens = s.tokens,
					    .logins = s.logins,
					    .index_builds = s.index_builds,
					    .find_calls = s.find_calls,
					    .operations = s.operations,
					    .recoveries = s.recoveries,
					    .misses_limited = s.misses_limited,
					    .sessions_opened = s.sessions_opened };
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
	.stats = token_stats,
};
