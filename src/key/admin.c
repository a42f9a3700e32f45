/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Token administration: TIK/TEK pairs moved into a token as sensitive, non-extractable
 * objects, secrets stored as data objects, the audit log's EC key generated in the token,
 * and secret keys listed and deleted (SEV launch keys are single-use, so tokens fill up).
 * Front ends (`sevgate keys`) only parse options and print what these return.
 */
#include "key/admin.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto.h"
#include "key/key-internal.h"
#include "key/p11.h"
#include "util/fileio.h"
#include "util/secmem.h"

#define HMAC_BLOCK 64

struct sg_key_admin {
	struct sg_p11_token *t; /* the process's session on it: not ours to close */
	char *uri;		/* the token URI as given: URIs of new objects extend it */
};

/*
 * Printable UTF-8: well-formed (no overlong forms, surrogates or values past U+10FFFF), and no
 * C0 or C1 control, DEL, or bidirectional override/isolate (U+200E, U+200F, U+202A-U+202E,
 * U+2066-U+2069): a label is shown by keys list and in every URI naming the key.
 */
static bool
printable_utf8(const unsigned char *s)
{
	while (*s) {
		uint32_t c;
		size_t n;

		if (*s < 0x80) {
			c = *s;
			n = 1;
		} else if ((*s & 0xe0) == 0xc0) {
			c = *s & 0x1f;
			n = 2;
		} else if ((*s & 0xf0) == 0xe0) {
			c = *s & 0x0f;
			n = 3;
		} else if ((*s & 0xf8) == 0xf0) {
			c = *s & 0x07;
			n = 4;
		} else {
			return false;
		}
		for (size_t i = 1; i < n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			c = c << 6 | (s[i] & 0x3f);
		}
		if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
		    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x200e || c == 0x200f ||
		    (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
			return false;
		s += n;
	}
	return true;
}

bool
sg_key_label_valid(const char *label)
{
	return strlen(label) <= SG_KEY_LABEL_MAX && !strpbrk(label, ";?%/ ") &&
	       printable_utf8((const unsigned char *)label);
}

static int
label_refused(struct sg_error *err)
{
	return sg_error_set(err, SG_E_USAGE,
			    "label must be printable UTF-8 of at most 128 bytes, without ; ? %% / "
			    "or spaces");
}

/* ---- URIs ---- */

int
sg_key_uri_inspect(const char *uri, struct sg_key_uri_facts *ret, struct sg_error *err)
{
	struct sg_p11_uri_facts f;
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = sg_p11_uri_inspect(uri, &f, err)) < 0)
		return r;
	ret->has_pin_value = f.has_pin_value;
	ret->any_unknown = f.any_unknown;
	ret->module_path = f.module_path;
	ret->module_name = f.module_name;
	ret->pin_source = f.pin_source;
	return 0;
}

void
sg_key_uri_facts_done(struct sg_key_uri_facts *f)
{
	free(f->module_path);
	free(f->module_name);
	free(f->pin_source);
	memset(f, 0, sizeof(*f));
}

char *
sg_key_uri_redact(const char *spec)
{
	return sg_p11_uri_redact(spec);
}

int
sg_key_pin_value_refused(struct sg_error *err)
{
	return sg_p11_pin_value_refused(err);
}

/* ---- One token ---- */

/* @t's read-write session opened now, so a token that cannot be written says so at once. */
static int
writable(struct sg_p11_token *t, struct sg_error *err)
{
	struct sg_p11_op op;
	int r;

	if ((r = sg_p11_begin(t, SG_P11_RW, &op, err)) < 0)
		return r;
	sg_p11_end(&op);
	return 0;
}

int
sg_key_admin_open(const char *token_uri, const struct sg_key_options *opts, bool rw,
		  struct sg_key_admin **ret, struct sg_error *err)
{
	_cleanup_(sg_freep) struct sg_p11_token **toks = NULL;
	_cleanup_(sg_p11_kit_uri_freep) P11KitUri *uri = NULL;
	struct sg_key_admin *a;
	int n, r;

	if ((r = sg_p11_uri_parse(token_uri, false, &uri, err)) < 0)
		return r;
	if ((n = sg_p11_tokens(uri, token_uri, opts, &toks, err)) < 0)
		return n;
	if (n != 1) {
		_cleanup_(sg_freep) char *shown = sg_p11_uri_redact(token_uri);

		return sg_error_set(err, SG_E_USAGE, "--token '%s' matches %d tokens, expected 1",
				    shown, n);
	}
	if (rw && (r = writable(toks[0], err)) < 0)
		return r;
	a = calloc(1, sizeof(*a));
	if (!a || !(a->uri = strdup(token_uri))) {
		free(a);
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	}
	a->t = toks[0];
	*ret = a;
	return 0;
}

void
sg_key_admin_free(struct sg_key_admin *a)
{
	if (!a)
		return;
	free(a->uri);
	free(a);
}

const char *
sg_key_admin_token_label(const struct sg_key_admin *a)
{
	return sg_p11_token_label(a->t);
}

/* @a's token URI with the attributes @name@value@type ("object=" "x" ";type=data") added. */
static char *
extend(const struct sg_key_admin *a, const char *name, const char *value, const char *type)
{
	char attrs[3 * SG_KEY_LABEL_MAX + 64];

	if ((size_t)snprintf(attrs, sizeof(attrs), "%s%s%s", name, value, type) >= sizeof(attrs))
		return NULL;
	return sg_p11_uri_extend(a->uri, attrs);
}

static void
destroy(struct sg_p11_op *op, CK_OBJECT_HANDLE h)
{
	if (op->fl->C_DestroyObject(op->session, h) == CKR_OK)
		sg_p11_index_removed(op, h);
}

/* ---- TIK/TEK pairs ---- */

/* Bytes of the TIK value to store: the token's minimum HMAC key size, zero-padded (HMAC pads the same way). */
static size_t
tik_store_len(struct sg_p11_op *op)
{
	CK_MECHANISM_INFO mi;

	if (op->fl->C_GetMechanismInfo(op->slot, CKM_SHA256_HMAC, &mi) != CKR_OK)
		return SG_KEY_LEN;
	if (mi.ulMinKeySize <= SG_KEY_LEN)
		return SG_KEY_LEN;
	return mi.ulMinKeySize > HMAC_BLOCK ? HMAC_BLOCK : mi.ulMinKeySize;
}

static int
create_key(struct sg_p11_op *op, CK_KEY_TYPE type, const uint8_t *value, size_t len,
	   const uint8_t id[16], const char *label, CK_OBJECT_HANDLE *ret, struct sg_error *err)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	bool tik = type == CKK_GENERIC_SECRET;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_ID, (void *)id, 16 },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_VALUE, (void *)value, len },
		{ tik ? CKA_SIGN : CKA_ENCRYPT, &yes, sizeof(yes) },
		{ tik ? CKA_VERIFY : CKA_DECRYPT, &yes, sizeof(yes) },
	};
	CK_RV rv = op->fl->C_CreateObject(op->session, tmpl, SG_ELEMENTSOF(tmpl), ret);

	if (rv != CKR_OK)
		return sg_error_set(err, SG_E_TOKEN, "token '%s': creating key '%s' failed: %s",
				    sg_p11_token_label(op->t), label, sg_p11_rv_name(rv));
	sg_p11_index_added(op, *ret);
	return 0;
}

static bool
label_present(struct sg_p11_op *op, const char *label)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE q[] = { { CKA_LABEL, (void *)label, strlen(label) },
			     { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE h;
	CK_ULONG n = 0;

	if (op->fl->C_FindObjectsInit(op->session, q, SG_ELEMENTSOF(q)) != CKR_OK)
		return false;
	op->fl->C_FindObjects(op->session, &h, 1, &n);
	op->fl->C_FindObjectsFinal(op->session);
	return n == 1;
}

static void
destroy_label(struct sg_p11_op *op, const char *label)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE q[] = { { CKA_LABEL, (void *)label, strlen(label) },
			     { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE h[8];
	CK_ULONG n = 0;

	if (op->fl->C_FindObjectsInit(op->session, q, SG_ELEMENTSOF(q)) != CKR_OK)
		return;
	op->fl->C_FindObjects(op->session, h, SG_ELEMENTSOF(h), &n);
	op->fl->C_FindObjectsFinal(op->session);
	for (CK_ULONG i = 0; i < n; i++)
		destroy(op, h[i]);
}

/*
 * Create the TIK and the TEK with one shared CKA_ID, so one URI names the
 * pair. Some tokens (NSS softoken) keep one secret key per CKA_ID and
 * silently replace the first; then give the TEK its own ID and say so.
 */
static int
create_both(struct sg_p11_op *op, const uint8_t *tikval, size_t tiklen, const uint8_t *tek,
	    const uint8_t id[16], const char *label_tik, const char *label_tek, bool *ret_shared,
	    CK_OBJECT_HANDLE *ret_tik, CK_OBJECT_HANDLE *ret_tek, struct sg_error *err)
{
	uint8_t tek_id[16];
	int r;

	if ((r = create_key(op, CKK_GENERIC_SECRET, tikval, tiklen, id, label_tik, ret_tik, err)) <
	    0)
		return r;
	if ((r = create_key(op, CKK_AES, tek, SG_KEY_LEN, id, label_tek, ret_tek, err)) < 0) {
		destroy(op, *ret_tik);
		return r;
	}
	if (label_present(op, label_tik) && label_present(op, label_tek)) {
		*ret_shared = true;
		return 0;
	}
	destroy_label(op, label_tik);
	destroy_label(op, label_tek);
	memcpy(tek_id, id, sizeof(tek_id));
	tek_id[15] ^= 0x01;
	if ((r = create_key(op, CKK_GENERIC_SECRET, tikval, tiklen, id, label_tik, ret_tik, err)) <
	    0)
		return r;
	if ((r = create_key(op, CKK_AES, tek, SG_KEY_LEN, tek_id, label_tek, ret_tek, err)) < 0) {
		destroy(op, *ret_tik);
		return r;
	}
	if (!label_present(op, label_tik) || !label_present(op, label_tek)) {
		destroy_label(op, label_tik);
		destroy_label(op, label_tek);
		return sg_error_set(err, SG_E_TOKEN, "token '%s' did not keep the imported keys",
				    sg_p11_token_label(op->t));
	}
	*ret_shared = false;
	return 0;
}

void
sg_key_pair_done(struct sg_key_pair *p)
{
	free(p->uri_tik);
	free(p->uri_tek);
	free(p->uri_tk);
	memset(p, 0, sizeof(*p));
}

int
sg_key_admin_create_pair(struct sg_key_admin *a, const char *label, const uint8_t tik[SG_KEY_LEN],
			 const uint8_t tek[SG_KEY_LEN], struct sg_key_pair *ret,
			 struct sg_error *err)
{
	_cleanup_(sg_secmem_freep) struct sg_secmem *tikval = NULL;
	_cleanup_(sg_key_pair_done) struct sg_key_pair p = { 0 };
	struct sg_p11_op op;
	char label_tik[SG_KEY_LABEL_MAX + 8], label_tek[SG_KEY_LABEL_MAX + 8];
	char idesc[3 * sizeof(p.id) + 1];
	CK_OBJECT_HANDLE otik = 0, otek = 0;
	int r;

	if (!sg_key_label_valid(label))
		return label_refused(err);
	if ((r = sg_p11_begin(a->t, 0, &op, err)) < 0)
		return r;
	p.tik_stored_len = tik_store_len(&op);
	sg_p11_end(&op);
	tikval = sg_secmem_new(p.tik_stored_len);
	if (!tikval)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	memcpy(tikval->data, tik, SG_KEY_LEN); /* the rest stays zero: HMAC's own key padding */
	if ((r = sg_random_bytes(p.id, sizeof(p.id), err)) < 0)
		return r;
	snprintf(label_tik, sizeof(label_tik), "%s-tik", label);
	snprintf(label_tek, sizeof(label_tek), "%s-tek", label);
	if ((r = sg_p11_begin(a->t, SG_P11_RW, &op, err)) < 0)
		return r;
	r = create_both(&op, tikval->data, p.tik_stored_len, tek, p.id, label_tik, label_tek,
			&p.shared_id, &otik, &otek, err);
	sg_p11_end(&op);
	if (r < 0)
		return r;
	p.obj_tik = otik;
	p.obj_tek = otek;
	for (size_t i = 0; i < sizeof(p.id); i++)
		snprintf(idesc + 3 * i, 4, "%%%02x", p.id[i]);
	p.uri_tik = extend(a, "object=", label_tik, ";type=secret-key");
	p.uri_tek = extend(a, "object=", label_tek, ";type=secret-key");
	if (p.shared_id)
		p.uri_tk = extend(a, "id=", idesc, ";type=secret-key");
	if (!p.uri_tik || !p.uri_tek || (p.shared_id && !p.uri_tk)) {
		sg_key_admin_destroy_pair(a, &p);
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	}
	*ret = p;
	memset(&p, 0, sizeof(p));
	return 0;
}

int
sg_key_admin_verify_pair(struct sg_crypto *c, const char *uri_tik, const char *uri_tek,
			 const struct sg_key_options *opts, const uint8_t tik[SG_KEY_LEN],
			 const uint8_t tek[SG_KEY_LEN], struct sg_error *err)
{
	_cleanup_(sg_key_freep) struct sg_key *ktik = NULL, *ktek = NULL;
	static const uint8_t msg[32] = "sevgate import read-back check";
	uint8_t iv[16] = { 0 }, a[SG_SHA256_LEN], b[SG_SHA256_LEN], ea[32], eb[32];
	struct sg_iov iov = { msg, sizeof(msg) };
	int r;

	if ((r = sg_key_open_ex(c, uri_tik, SG_KEY_TIK, opts, &ktik, err)) < 0 ||
	    (r = sg_key_open_ex(c, uri_tek, SG_KEY_TEK, opts, &ktek, err)) < 0 ||
	    (r = sg_key_hmac_sha256(ktik, &iov, 1, a, err)) < 0 ||
	    (r = sg_crypto_hmac_sha256(c, tik, SG_KEY_LEN, &iov, 1, b, err)) < 0 ||
	    (r = sg_key_aes128ctr(ktek, iv, msg, sizeof(ea), ea, err)) < 0 ||
	    (r = sg_crypto_aes128ctr(c, tek, iv, msg, sizeof(eb), eb, err)) < 0)
		goto out;
	if (!sg_memeq_consttime(a, b, sizeof(a)) || memcmp(ea, eb, sizeof(ea)))
		r = sg_error_set(err, SG_E_TOKEN,
				 "read-back check failed: the token's keys do not compute what "
				 "the files do");
out:
	/* MACs and ciphertext under the TIK and TEK, from the token and from the files. */
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	OPENSSL_cleanse(ea, sizeof(ea));
	OPENSSL_cleanse(eb, sizeof(eb));
	return r;
}

void
sg_key_admin_destroy_pair(struct sg_key_admin *a, const struct sg_key_pair *p)
{
	struct sg_p11_op op;

	if (sg_p11_begin(a->t, SG_P11_RW, &op, NULL) < 0)
		return;
	destroy(&op, p->obj_tik);
	destroy(&op, p->obj_tek);
	sg_p11_end(&op);
}

/* ---- Data objects ---- */

int
sg_key_admin_store_data(struct sg_key_admin *a, const char *label, const uint8_t *data, size_t len,
			char **ret_uri, struct sg_error *err)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_HANDLE h;
	char *uri;

	if (!sg_key_label_valid(label))
		return label_refused(err);
	if (len == 0 || len > SG_KEY_DATA_MAX)
		return sg_error_set(err, SG_E_USAGE, "a secret holds 1 to %d bytes, not %zu",
				    SG_KEY_DATA_MAX, len);

	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_MODIFIABLE, &no, sizeof(no) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_APPLICATION, (void *)"sevgate", 7 },
		{ CKA_VALUE, (void *)data, len },
	};
	struct sg_p11_op op;
	CK_RV rv;
	int r;

	if ((r = sg_p11_begin(a->t, SG_P11_RW, &op, err)) < 0)
		return r;
	rv = op.fl->C_CreateObject(op.session, tmpl, SG_ELEMENTSOF(tmpl), &h);
	sg_p11_end(&op);
	if (rv != CKR_OK)
		return sg_error_set(err, SG_E_TOKEN, "%s", sg_p11_rv_name(rv));
	if (!(uri = extend(a, "object=", label, ";type=data")))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	*ret_uri = uri;
	return 0;
}

/* ---- EC signing keys ---- */

/* The uncompressed P-256 point inside CKA_EC_POINT (a DER OCTET STRING, or bare). */
static const uint8_t *
ec_point(const uint8_t *p, size_t n)
{
	if (n == 65 && p[0] == 0x04)
		return p;
	if (n == 67 && p[0] == 0x04 && p[1] == 65 && p[2] == 0x04)
		return p + 2;
	return NULL;
}

void
sg_key_ec_done(struct sg_key_ec *k)
{
	free(k->uri);
	memset(k, 0, sizeof(*k));
}

static void
destroy_ec(struct sg_p11_op *op, const struct sg_key_ec *k)
{
	(void)op->fl->C_DestroyObject(op->session, k->obj_priv);
	(void)op->fl->C_DestroyObject(op->session, k->obj_pub);
}

void
sg_key_admin_destroy_ec(struct sg_key_admin *a, const struct sg_key_ec *k)
{
	struct sg_p11_op op;

	if (sg_p11_begin(a->t, SG_P11_RW, &op, NULL) < 0)
		return;
	destroy_ec(&op, k);
	sg_p11_end(&op);
}

int
sg_key_admin_generate_ec(struct sg_key_admin *a, const char *label, struct sg_key_ec *ret,
			 struct sg_error *err)
{
	/* DER of the prime256v1 OID, CKA_EC_PARAMS's namedCurve form. */
	static const uint8_t p256[] = {
		0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
	};
	_cleanup_(sg_key_ec_done) struct sg_key_ec k = { 0 };
	struct sg_p11_op op;
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_HANDLE pub, priv;
	uint8_t point_buf[80];
	const uint8_t *point;
	CK_RV rv;
	int r;

	if (!sg_key_label_valid(label))
		return label_refused(err);
	if ((r = sg_random_bytes(k.id, sizeof(k.id), err)) < 0)
		return r;

	CK_ATTRIBUTE pub_tmpl[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_EC_PARAMS, (void *)p256, sizeof(p256) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, k.id, sizeof(k.id) },
	};
	CK_ATTRIBUTE priv_tmpl[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },     { CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) }, { CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },      { CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, k.id, sizeof(k.id) },
	};
	CK_ATTRIBUTE get = { CKA_EC_POINT, point_buf, sizeof(point_buf) };

	if ((r = sg_p11_begin(a->t, SG_P11_RW, &op, err)) < 0)
		return r;
	rv = op.fl->C_GenerateKeyPair(op.session, &mech, pub_tmpl, SG_ELEMENTSOF(pub_tmpl),
				      priv_tmpl, SG_ELEMENTSOF(priv_tmpl), &pub, &priv);
	if (rv != CKR_OK) {
		sg_p11_end(&op);
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s': generating a P-256 key failed: %s",
				    sg_p11_token_label(a->t), sg_p11_rv_name(rv));
	}
	k.obj_pub = pub;
	k.obj_priv = priv;
	if (op.fl->C_GetAttributeValue(op.session, pub, &get, 1) != CKR_OK ||
	    !(point = ec_point(point_buf, get.ulValueLen))) {
		destroy_ec(&op, &k);
		sg_p11_end(&op);
		return sg_error_set(err, SG_E_TOKEN,
				    "the token returned no usable EC public point");
	}
	sg_p11_end(&op);
	memcpy(k.point, point, sizeof(k.point));
	if (!(k.uri = extend(a, "object=", label, ";type=private"))) {
		sg_key_admin_destroy_ec(a, &k);
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	}
	*ret = k;
	memset(&k, 0, sizeof(k));
	return 0;
}

static void
pkey_ctx_freep(EVP_PKEY_CTX **p)
{
	EVP_PKEY_CTX_free(*p);
}

static void
pkey_freep(EVP_PKEY **p)
{
	EVP_PKEY_free(*p);
}

int
sg_key_write_pubkey_pem(const char *path, const uint8_t point[65], struct sg_error *err)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1",
						 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, 65),
		OSSL_PARAM_construct_end(),
	};
	_cleanup_(pkey_ctx_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	_cleanup_(pkey_freep) EVP_PKEY *pk = NULL;
	FILE *f;
	struct stat st;
	int fd, r = 0;

	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		return sg_error_set(err, SG_E_CRYPTO,
				    "the token's public key is not a P-256 point");
	if ((fd = sg_out_open(path, 0644, SG_OUT_DASH, "public key", err)) < 0)
		return fd;
	if (!(f = fdopen(fd, "w"))) {
		close(fd);
		return sg_error_set(err, SG_E_IO, "cannot write '%s'", path);
	}
	/*
	 * Only a regular file is fsync'ed: a pipe (--pubout -) or a device
	 * the policy allows (/dev/null) cannot be.
	 */
	if (PEM_write_PUBKEY(f, pk) != 1 || fflush(f) != 0 || fstat(fileno(f), &st) != 0 ||
	    (S_ISREG(st.st_mode) && fsync(fileno(f)) != 0))
		r = sg_error_set(err, SG_E_IO, "cannot write '%s'", path);
	if (fclose(f) != 0 && r == 0)
		r = sg_error_set(err, SG_E_IO, "cannot write '%s'", path);
	return r;
}

/* ---- Listing and deleting ---- */

const char *
sg_key_object_type_name(enum sg_key_object_type t)
{
	switch (t) {
	case SG_KEY_OBJ_GENERIC_SECRET: return "generic-secret";
	case SG_KEY_OBJ_AES: return "aes";
	case SG_KEY_OBJ_SHA256_HMAC: return "sha256-hmac";
	default: return "other";
	}
}

static enum sg_key_object_type
object_type(CK_KEY_TYPE t)
{
	switch (t) {
	case CKK_GENERIC_SECRET: return SG_KEY_OBJ_GENERIC_SECRET;
	case CKK_AES: return SG_KEY_OBJ_AES;
	case CKK_SHA256_HMAC: return SG_KEY_OBJ_SHA256_HMAC;
	default: return SG_KEY_OBJ_OTHER;
	}
}

/*
 * One token's matching keys, read into copies; @fn runs on them after the token's lock is
 * dropped, so it may call the functions here that take it (delete the key it is given).
 */
static int
walk_token(struct sg_p11_token *t, P11KitUri *uri, unsigned flags, const char *prefix,
	   sg_key_object_fn fn, void *ctx, size_t *count, struct sg_error *err)
{
	_cleanup_(sg_freep) struct sg_p11_keyent *ents = NULL;
	_cleanup_(sg_freep) struct sg_key_object *objs = NULL;
	struct sg_p11_op op;
	CK_ULONG nobj = 0;
	uint64_t gen = 0;
	size_t n = 0;
	int r;

	if ((r = sg_p11_find_keys(t, uri, &ents, &nobj, &gen, err)) < 0)
		return r;
	objs = calloc(nobj ? nobj : 1, sizeof(*objs));
	if (!objs)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	if ((flags & SG_KEY_WALK_PRIVATE) && (r = sg_p11_begin(t, 0, &op, err)) < 0)
		return r;
	for (CK_ULONG j = 0; j < nobj; j++) {
		const struct sg_p11_keyent *e = &ents[j];
		struct sg_key_object *o = &objs[n];

		*o = (struct sg_key_object){
			.token = sg_p11_token_label(t),
			.id_len = e->id_len,
			.type = object_type(e->type),
			.value_len = e->value_len,
			.sensitive = e->sensitive == CK_TRUE,
			.extractable = e->extractable != CK_FALSE,
			.tok = t,
			.handle = e->handle,
			.gen = gen,
		};
		memcpy(o->label, e->label, e->label_len);
		o->label[e->label_len] = '\0';
		memcpy(o->id, e->id, e->id_len);
		if (prefix && strncmp(o->label, prefix, strlen(prefix)))
			continue;
		if (flags & SG_KEY_WALK_PRIVATE)
			(void)sg_p11_get_bool(&op, e->handle, CKA_PRIVATE, &o->private_obj);
		n++;
	}
	if (flags & SG_KEY_WALK_PRIVATE)
		sg_p11_end(&op);
	for (size_t j = 0; j < n; j++) {
		(*count)++;
		if (fn && (r = fn(ctx, &objs[j], err)) < 0)
			return r;
	}
	return 0;
}

int
sg_key_admin_walk(const char *spec, const struct sg_key_options *opts, unsigned flags,
		  const char *prefix, sg_key_object_fn fn, void *ctx, struct sg_error *err)
{
	_cleanup_(sg_freep) struct sg_p11_token **toks = NULL;
	_cleanup_(sg_p11_kit_uri_freep) P11KitUri *uri = NULL;
	size_t count = 0;
	int n, r;

	if ((r = sg_p11_uri_parse(spec, false, &uri, err)) < 0)
		return r;
	if ((n = sg_p11_tokens(uri, spec, opts, &toks, err)) < 0)
		return n;
	for (int i = 0; i < n; i++)
		if (((flags & SG_KEY_WALK_RW) && (r = writable(toks[i], err)) < 0) ||
		    (r = walk_token(toks[i], uri, flags, prefix, fn, ctx, &count, err)) < 0)
			return r;
	return count > INT32_MAX ? INT32_MAX : (int)count;
}

struct collect {
	struct sg_key_object_list l;
	size_t cap;
};

static int
collect_one(void *ctx, const struct sg_key_object *o, struct sg_error *err)
{
	struct collect *c = ctx;

	if (c->l.n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct sg_key_object *p = reallocarray(c->l.obj, cap, sizeof(*p));

		if (!p)
			return sg_error_set(err, SG_E_NOMEM, "out of memory");
		c->l.obj = p;
		c->cap = cap;
	}
	c->l.obj[c->l.n++] = *o;
	return 0;
}

void
sg_key_object_list_done(struct sg_key_object_list *l)
{
	free(l->obj);
	memset(l, 0, sizeof(*l));
}

int
sg_key_admin_list(const char *spec, const struct sg_key_options *opts, const char *prefix,
		  struct sg_key_object_list *ret, struct sg_error *err)
{
	struct collect c = { { NULL, 0 }, 0 };
	int r;

	if ((r = sg_key_admin_walk(spec, opts, SG_KEY_WALK_PRIVATE, prefix, collect_one, &c, err)) <
	    0) {
		sg_key_object_list_done(&c.l);
		return r;
	}
	*ret = c.l;
	return 0;
}

int
sg_key_admin_delete_object(const struct sg_key_object *o, struct sg_error *err)
{
	struct sg_p11_op op;
	CK_RV rv;
	int r;

	if ((r = sg_p11_begin(o->tok, SG_P11_RW, &op, err)) < 0)
		return r;
	/* After a reset the handle may name another object: never destroy by it then. */
	if (sg_p11_generation(&op) != o->gen) {
		sg_p11_end(&op);
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s' was reset since '%s' was listed: list it again",
				    sg_p11_token_label(o->tok), o->label);
	}
	rv = op.fl->C_DestroyObject(op.session, o->handle);
	if (rv == CKR_OK)
		sg_p11_index_removed(&op, o->handle);
	sg_p11_end(&op);
	if (rv != CKR_OK)
		return sg_error_set(err, SG_E_TOKEN, "token '%s': deleting '%s' failed: %s",
				    sg_p11_token_label(o->tok), o->label, sg_p11_rv_name(rv));
	return 0;
}
