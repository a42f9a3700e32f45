/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sevgate keys import|list|delete|prune: move the guest owner's TIK/TEK
 * from the files `sevctl session` writes into a PKCS#11 token, as
 * sensitive, non-extractable token objects, and keep the token tidy (SEV
 * launch keys are single-use, so tokens fill up).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/exitcode.h"
#include "core/crypto.h"
#include "key/key.h"
#include "key/p11.h"
#include "util/encode.h"
#include "util/fileio.h"
#include "util/secmem.h"

#define LABEL_MAX 128
#define HMAC_BLOCK 64

enum {
	O_TIK = 256,
	O_TEK,
	O_TK,
	O_TOKEN,
	O_LABEL,
	O_SHRED,
	O_PIN_FILE,
	O_PREFIX,
	O_ALLOW,
	O_CONFIG,
	O_PUBOUT
};

struct keys_args {
	const char *tik, *tek, *tk, *token, *label, *prefix, *config, *pubout;
	bool shred, allow_exportable, help;
	struct sg_key_options kopts;
	int first_arg;
};

static int
parse(int argc, char **argv, struct keys_args *a, struct sg_error *err)
{
	static const struct option longopts[] = {
		{ "tik", required_argument, NULL, O_TIK },
		{ "tek", required_argument, NULL, O_TEK },
		{ "tk", required_argument, NULL, O_TK },
		{ "token", required_argument, NULL, O_TOKEN },
		{ "label", required_argument, NULL, O_LABEL },
		{ "shred", no_argument, NULL, O_SHRED },
		{ "pin-file", required_argument, NULL, O_PIN_FILE },
		{ "label-prefix", required_argument, NULL, O_PREFIX },
		{ "allow-exportable-keys", no_argument, NULL, O_ALLOW },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "pubout", required_argument, NULL, O_PUBOUT },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': a->help = true; break;
		case O_TIK: a->tik = optarg; break;
		case O_TEK: a->tek = optarg; break;
		case O_TK: a->tk = optarg; break;
		case O_TOKEN: a->token = optarg; break;
		case O_LABEL: a->label = optarg; break;
		case O_SHRED: a->shred = true; break;
		case O_PIN_FILE: a->kopts.pin_file = optarg; break;
		case O_PREFIX: a->prefix = optarg; break;
		case O_ALLOW: a->kopts.allow_exportable_keys = true; break;
		case O_CONFIG: a->config = optarg; break;
		case O_PUBOUT: a->pubout = optarg; break;
		default:
			return sg_error_set(err, SG_E_USAGE, "unrecognized option '%s'",
					    argv[optind - 1]);
		}
	}
	a->first_arg = optind;
	return 0;
}

static int
load_config(const struct keys_args *a, struct sg_error *err)
{
	return sg_p11_set_config(a->config, err);
}

/* One token, opened read-write, from a URI naming it. */
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

/* A label that goes into a pkcs11: URI unescaped. */
static bool
label_ok(const char *label)
{
	return strlen(label) <= LABEL_MAX && !strpbrk(label, ";?%/ ") &&
	       printable_utf8((const unsigned char *)label);
}

static int
one_token(const char *spec, const struct sg_key_options *o, bool rw, struct sg_p11_token **ret,
	  P11KitUri **ret_uri, struct sg_error *err)
{
	_cleanup_(sg_freep) struct sg_p11_token **toks = NULL;
	P11KitUri *uri = NULL;
	int n, r;

	if ((r = sg_p11_uri_parse(spec, false, &uri, err)) < 0)
		return r;
	n = sg_p11_tokens(uri, spec, o, rw, &toks, err);
	if (n < 0) {
		p11_kit_uri_free(uri);
		return n;
	}
	if (n != 1) {
		_cleanup_(sg_freep) char *shown = sg_p11_uri_redact(spec);

		p11_kit_uri_free(uri);
		return sg_error_set(err, SG_E_USAGE, "--token '%s' matches %d tokens, expected 1",
				    shown, n);
	}
	*ret = toks[0];
	if (ret_uri)
		*ret_uri = uri;
	else
		p11_kit_uri_free(uri);
	return 0;
}

static void
uri_escape(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 3 * i, "%%%02x", p[i]);
	out[3 * n] = '\0';
}

/* Bytes of the TIK value to store: the token's minimum HMAC key size, zero-padded (HMAC pads the same way). */
static size_t
tik_store_len(struct sg_p11_token *t)
{
	CK_MECHANISM_INFO mi;

	if (t->fl->C_GetMechanismInfo(t->slot, CKM_SHA256_HMAC, &mi) != CKR_OK)
		return SG_KEY_LEN;
	if (mi.ulMinKeySize <= SG_KEY_LEN)
		return SG_KEY_LEN;
	return mi.ulMinKeySize > HMAC_BLOCK ? HMAC_BLOCK : mi.ulMinKeySize;
}

static int
create_key(struct sg_p11_token *t, CK_KEY_TYPE type, const uint8_t *value, size_t len,
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
	CK_RV rv = t->fl->C_CreateObject(t->session, tmpl, SG_ELEMENTSOF(tmpl), ret);

	sg_p11_index_invalidate(t);

	if (rv != CKR_OK)
		return sg_error_set(err, SG_E_TOKEN, "token '%s': creating key '%s' failed: %s",
				    t->label, label, sg_p11_rv_name(rv));
	return 0;
}

/* Overwrite a key file, flush it and remove it. */
static void
destroy(struct sg_p11_token *t, CK_OBJECT_HANDLE h)
{
	t->fl->C_DestroyObject(t->session, h);
	sg_p11_index_invalidate(t);
}

static bool
label_present(struct sg_p11_token *t, const char *label)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE q[] = { { CKA_LABEL, (void *)label, strlen(label) },
			     { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE h;
	CK_ULONG n = 0;

	if (t->fl->C_FindObjectsInit(t->session, q, SG_ELEMENTSOF(q)) != CKR_OK)
		return false;
	t->fl->C_FindObjects(t->session, &h, 1, &n);
	t->fl->C_FindObjectsFinal(t->session);
	return n == 1;
}

static void
destroy_label(struct sg_p11_token *t, const char *label)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE q[] = { { CKA_LABEL, (void *)label, strlen(label) },
			     { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE h[8];
	CK_ULONG n = 0;

	if (t->fl->C_FindObjectsInit(t->session, q, SG_ELEMENTSOF(q)) != CKR_OK)
		return;
	t->fl->C_FindObjects(t->session, h, SG_ELEMENTSOF(h), &n);
	t->fl->C_FindObjectsFinal(t->session);
	for (CK_ULONG i = 0; i < n; i++)
		destroy(t, h[i]);
}

/*
 * Create the TIK and the TEK with one shared CKA_ID, so one URI names the
 * pair. Some tokens (NSS softoken) keep one secret key per CKA_ID and
 * silently replace the first; then give the TEK its own ID and say so.
 */
static int
create_pair(struct sg_p11_token *t, const uint8_t *tikval, size_t tiklen, const uint8_t *tek,
	    uint8_t id[16], const char *label_tik, const char *label_tek, bool *ret_shared,
	    CK_OBJECT_HANDLE *ret_tik, CK_OBJECT_HANDLE *ret_tek, struct sg_error *err)
{
	uint8_t tek_id[16];
	int r;

	if ((r = create_key(t, CKK_GENERIC_SECRET, tikval, tiklen, id, label_tik, ret_tik, err)) <
	    0)
		return r;
	if ((r = create_key(t, CKK_AES, tek, SG_KEY_LEN, id, label_tek, ret_tek, err)) < 0) {
		destroy(t, *ret_tik);
		return r;
	}
	if (label_present(t, label_tik) && label_present(t, label_tek)) {
		*ret_shared = true;
		return 0;
	}
	destroy_label(t, label_tik);
	destroy_label(t, label_tek);
	memcpy(tek_id, id, sizeof(tek_id));
	tek_id[15] ^= 0x01;
	if ((r = create_key(t, CKK_GENERIC_SECRET, tikval, tiklen, id, label_tik, ret_tik, err)) <
	    0)
		return r;
	if ((r = create_key(t, CKK_AES, tek, SG_KEY_LEN, tek_id, label_tek, ret_tek, err)) < 0) {
		destroy(t, *ret_tik);
		return r;
	}
	if (!label_present(t, label_tik) || !label_present(t, label_tek)) {
		destroy_label(t, label_tik);
		destroy_label(t, label_tek);
		return sg_error_set(err, SG_E_TOKEN, "token '%s' did not keep the imported keys",
				    t->label);
	}
	*ret_shared = false;
	return 0;
}

static int
shred_file(const char *path, struct sg_error *err)
{
	/* Only a regular file: never through a link, never blocking on a FIFO or zeroing a device. */
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	uint8_t zero[4096] = { 0 };

	if (fd < 0 && errno == ELOOP)
		return sg_error_set(err, SG_E_IO,
				    "cannot shred '%s': a symbolic link (not followed)", path);
	if (fd < 0 && errno == ENXIO)
		return sg_error_set(err, SG_E_IO, "cannot shred '%s': not a regular file", path);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return sg_error_set(err, SG_E_IO, "cannot shred '%s': %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return sg_error_set(err, SG_E_IO, "cannot shred '%s': not a regular file", path);
	}
	for (off_t off = 0; off < st.st_size; off += (off_t)sizeof(zero)) {
		size_t n = (size_t)(st.st_size - off) < sizeof(zero) ? (size_t)(st.st_size - off) :
								       sizeof(zero);
		if (pwrite(fd, zero, n, off) != (ssize_t)n) {
			close(fd);
			return sg_error_set(err, SG_E_IO, "cannot shred '%s'", path);
		}
	}
	fsync(fd);
	close(fd);
	if (unlink(path) < 0)
		return sg_error_set(err, SG_E_IO, "cannot remove '%s' after shredding", path);
	return 0;
}

/* Prove the token keys compute what the files do: one HMAC and one AES-CTR block. */
static int
read_back(struct sg_crypto *c, const char *uri_tik, const char *uri_tek,
	  const struct sg_key_options *o, const uint8_t *tik, const uint8_t *tek,
	  struct sg_error *err)
{
	_cleanup_(sg_key_freep) struct sg_key *ktik = NULL, *ktek = NULL;
	static const uint8_t msg[32] = "sevgate import read-back check";
	uint8_t iv[16] = { 0 }, a[SG_SHA256_LEN], b[SG_SHA256_LEN], ea[32], eb[32];
	struct sg_iov iov = { msg, sizeof(msg) };
	int r;

	if ((r = sg_key_open_ex(c, uri_tik, SG_KEY_TIK, o, &ktik, err)) < 0 ||
	    (r = sg_key_open_ex(c, uri_tek, SG_KEY_TEK, o, &ktek, err)) < 0 ||
	    (r = sg_key_hmac_sha256(ktik, &iov, 1, a, err)) < 0 ||
	    (r = sg_crypto_hmac_sha256(c, tik, SG_KEY_LEN, &iov, 1, b, err)) < 0 ||
	    (r = sg_key_aes128ctr(ktek, iv, msg, sizeof(ea), ea, err)) < 0 ||
	    (r = sg_crypto_aes128ctr(c, tek, iv, msg, sizeof(eb), eb, err)) < 0)
		return r;
	if (!sg_memeq_consttime(a, b, sizeof(a)) || memcmp(ea, eb, sizeof(ea)))
		return sg_error_set(err, SG_E_TOKEN,
				    "read-back check failed: the token's keys do not compute what "
				    "the files do");
	return 0;
}

static int
keys_import(int argc, char **argv)
{
	_cleanup_(sg_crypto_freep) struct sg_crypto *crypto = NULL;
	_cleanup_(sg_secmem_freep) struct sg_secmem *a = NULL, *b = NULL, *tikval = NULL;
	struct sg_error err = { 0 };
	struct keys_args k;
	struct sg_p11_token *t = NULL;
	const uint8_t *tik, *tek;
	uint8_t id[16];
	char label_tik[LABEL_MAX + 8], label_tek[LABEL_MAX + 8], idesc[3 * 16 + 1];
	_cleanup_(sg_freep) char *uri_tik = NULL, *uri_tek = NULL, *uri_tk = NULL;
	char attrs_tik[LABEL_MAX + 40], attrs_tek[LABEL_MAX + 40], attrs_tk[3 * 16 + 40];
	CK_OBJECT_HANDLE otik, otek;
	bool shared = true;
	size_t storelen;
	int r;

	if ((r = parse(argc, argv, &k, &err)) < 0 || (r = load_config(&k, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (!k.token || !k.label || k.first_arg != argc ||
	    (k.tk ? (k.tik || k.tek) : (!k.tik || !k.tek)))
		return sg_cmd_fail("usage: sevgate keys import --tik FILE --tek FILE | --tk FILE "
				   "--token URI --label NAME [--shred] [--pin-file FILE]",
				   SG_E_USAGE);
	if (!label_ok(k.label))
		return sg_cmd_fail(
			"--label must be printable UTF-8 of at most 128 bytes, without ; ? "
			"% / or spaces",
			SG_E_USAGE);
	if ((r = sg_crypto_new(&crypto, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (k.tk) {
		if ((r = sg_file_read_secret(k.tk, 64, "TIK/TEK", &a, &err)) < 0)
			return sg_cmd_fail(err.msg, r);
		if (a->len != 2 * SG_KEY_LEN)
			return sg_cmd_fail("Expected 32 bytes in TIK/TEK file", SG_E_USAGE);
		tek = a->data;
		tik = a->data + SG_KEY_LEN;
	} else {
		if ((r = sg_file_read_secret(k.tik, 64, "TIK", &a, &err)) < 0 ||
		    (r = sg_file_read_secret(k.tek, 64, "TEK", &b, &err)) < 0)
			return sg_cmd_fail(err.msg, r);
		if (a->len != SG_KEY_LEN || b->len != SG_KEY_LEN)
			return sg_cmd_fail(a->len != SG_KEY_LEN ? "Expected 16 bytes in TIK file" :
								  "Expected 16 bytes in TEK file",
					   SG_E_USAGE);
		tik = a->data;
		tek = b->data;
	}
	if ((r = one_token(k.token, &k.kopts, true, &t, NULL, &err)) < 0)
		return sg_cmd_fail(err.msg, r);

	storelen = tik_store_len(t);
	tikval = sg_secmem_new(storelen);
	if (!tikval)
		return sg_cmd_fail("out of memory", SG_E_NOMEM);
	memcpy(tikval->data, tik, SG_KEY_LEN); /* the rest stays zero: HMAC's own key padding */
	if ((r = sg_random_bytes(id, sizeof(id), &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	snprintf(label_tik, sizeof(label_tik), "%s-tik", k.label);
	snprintf(label_tek, sizeof(label_tek), "%s-tek", k.label);
	if ((r = create_pair(t, tikval->data, storelen, tek, id, label_tik, label_tek, &shared,
			     &otik, &otek, &err)) < 0)
		return sg_cmd_fail(err.msg, r);

	uri_escape(id, sizeof(id), idesc);
	snprintf(attrs_tik, sizeof(attrs_tik), "object=%s;type=secret-key", label_tik);
	snprintf(attrs_tek, sizeof(attrs_tek), "object=%s;type=secret-key", label_tek);
	snprintf(attrs_tk, sizeof(attrs_tk), "id=%s;type=secret-key", idesc);
	uri_tik = sg_p11_uri_extend(k.token, attrs_tik);
	uri_tek = sg_p11_uri_extend(k.token, attrs_tek);
	uri_tk = sg_p11_uri_extend(k.token, attrs_tk);
	if (!uri_tik || !uri_tek || !uri_tk)
		return sg_cmd_fail("out of memory", SG_E_NOMEM);
	if ((r = read_back(crypto, uri_tik, uri_tek, &k.kopts, tik, tek, &err)) < 0) {
		destroy(t, otik);
		destroy(t, otek);
		return sg_cmd_fail(err.msg, r);
	}
	if (k.shred) {
		if ((r = shred_file(k.tk ? k.tk : k.tik, &err)) < 0 ||
		    (!k.tk && (r = shred_file(k.tek, &err)) < 0))
			return sg_cmd_fail(err.msg, r);
	}
	fputs("tik: ", stdout);
	sg_fputs_escaped(uri_tik, stdout);
	fputs("\ntek: ", stdout);
	sg_fputs_escaped(uri_tek, stdout);
	fputc('\n', stdout);
	if (shared) {
		fputs("tk: ", stdout);
		sg_fputs_escaped(uri_tk, stdout);
		fputc('\n', stdout);
	} else {
		fputs("note: token '", stderr);
		sg_fputs_escaped(t->label, stderr);
		fputs("' cannot hold two keys with one CKA_ID, so the pair has no single --tk "
		      "URI: use --tik and --tek\n",
		      stderr);
	}
	return SG_EXIT_OK;
}

/* RFC 7512 path values: percent-encode everything but unreserved characters. */
static void
pct_encode(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	for (; *in && o + 4 < cap; in++) {
		unsigned char ch = (unsigned char)*in;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch))
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02x", ch);
	}
	out[o] = '\0';
}

/*
 * keys store-secret FILE: a secret (a disk passphrase) as a private token data
 * object, so manifests can release it by URI without it ever being on disk.
 */
static int
keys_store_secret(int argc, char **argv)
{
	_cleanup_(sg_secmem_freep) struct sg_secmem *data = NULL;
	_cleanup_(sg_freep) char *uri = NULL;
	struct sg_error err = { 0 };
	struct keys_args k;
	struct sg_p11_token *t = NULL;
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_HANDLE h;
	char attrs[LABEL_MAX + 40];
	int r;

	if ((r = parse(argc, argv, &k, &err)) < 0 || (r = load_config(&k, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (!k.token || !k.label || k.first_arg != argc - 1)
		return sg_cmd_fail("usage: sevgate keys store-secret FILE --token URI --label NAME "
				   "[--shred] [--pin-file FILE]",
				   SG_E_USAGE);
	if (!label_ok(k.label))
		return sg_cmd_fail(
			"--label must be printable UTF-8 of at most 128 bytes, without ; ? "
			"% / or spaces",
			SG_E_USAGE);
	if ((r = sg_file_read_secret(argv[k.first_arg], 1 << 20, "secret", &data, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	/* As an empty --inject-secret file is: a data object with no bytes releases nothing. */
	if (data->len == 0) {
		sg_error_set(&err, SG_E_USAGE, "secret file '%s' is empty", argv[k.first_arg]);
		return sg_cmd_fail(err.msg, SG_E_USAGE);
	}
	if ((r = one_token(k.token, &k.kopts, true, &t, NULL, &err)) < 0)
		return sg_cmd_fail(err.msg, r);

	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_MODIFIABLE, &no, sizeof(no) },
		{ CKA_LABEL, (void *)k.label, strlen(k.label) },
		{ CKA_APPLICATION, (void *)"sevgate", 7 },
		{ CKA_VALUE, data->data, data->len },
	};
	CK_RV rv = t->fl->C_CreateObject(t->session, tmpl, SG_ELEMENTSOF(tmpl), &h);

	if (rv != CKR_OK)
		return sg_cmd_fail(sg_p11_rv_name(rv), SG_E_TOKEN);
	snprintf(attrs, sizeof(attrs), "object=%s;type=data", k.label);
	uri = sg_p11_uri_extend(k.token, attrs);
	if (!uri)
		return sg_cmd_fail("out of memory", SG_E_NOMEM);
	if (k.shred && (r = shred_file(argv[k.first_arg], &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	fputs("secret: ", stdout);
	sg_fputs_escaped(uri, stdout);
	fputc('\n', stdout);
	return SG_EXIT_OK;
}

/* The uncompressed P-256 point inside CKA_EC_POINT (a DER OCTET STRING, or bare). */
static int
ec_point(const uint8_t *p, size_t n, const uint8_t **ret)
{
	if (n == 65 && p[0] == 0x04) {
		*ret = p;
		return 0;
	}
	if (n == 67 && p[0] == 0x04 && p[1] == 65 && p[2] == 0x04) {
		*ret = p + 2;
		return 0;
	}
	return -1;
}

/* Write the public half of a P-256 key as a PEM SubjectPublicKeyInfo, for audit verify. */
static int
write_pubkey_pem(const char *path, const uint8_t point[65], struct sg_error *err)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1",
						 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, 65),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;
	FILE *f = NULL;
	struct stat st;
	int fd, r = 0;

	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		r = sg_error_set(err, SG_E_CRYPTO, "the token's public key is not a P-256 point");
		goto out;
	}
	if ((fd = sg_out_open(path, 0644, SG_OUT_DASH, "public key", err)) < 0) {
		r = fd;
		goto out;
	}
	if (!(f = fdopen(fd, "w"))) {
		close(fd);
		r = sg_error_set(err, SG_E_IO, "cannot write '%s'", path);
		goto out;
	}
	/*
	 * Only a regular file is fsync'ed: a pipe (--pubout -) or a device
	 * the policy allows (/dev/null) cannot be.
	 */
	if (PEM_write_PUBKEY(f, pk) != 1 || fflush(f) != 0 || fstat(fileno(f), &st) != 0 ||
	    (S_ISREG(st.st_mode) && fsync(fileno(f)) != 0))
		r = sg_error_set(err, SG_E_IO, "cannot write '%s'", path);
out:
	if (f && fclose(f) != 0 && r == 0)
		r = sg_error_set(err, SG_E_IO, "cannot write '%s'", path);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* An EC P-256 signing key pair generated in the token: the audit log's signer. */
static int
keys_generate_audit_key(int argc, char **argv)
{
	/* DER of the prime256v1 OID, CKA_EC_PARAMS's namedCurve form. */
	static const uint8_t p256[] = {
		0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
	};
	struct sg_error err = { 0 };
	struct keys_args k;
	struct sg_p11_token *t = NULL;
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_HANDLE pub, priv;
	uint8_t id[16], point_buf[80];
	const uint8_t *point;
	char attrs[LABEL_MAX + 40];
	_cleanup_(sg_freep) char *uri = NULL;
	CK_RV rv;
	int r;

	if ((r = parse(argc, argv, &k, &err)) < 0 || (r = load_config(&k, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (!k.token || !k.label || !k.pubout || k.first_arg != argc)
		return sg_cmd_fail(
			"usage: sevgate keys generate-audit-key --token URI --label NAME "
			"--pubout FILE.pem [--pin-file FILE]",
			SG_E_USAGE);
	if (!label_ok(k.label))
		return sg_cmd_fail(
			"--label must be printable UTF-8 of at most 128 bytes, without ; ? "
			"% / or spaces",
			SG_E_USAGE);
	if ((r = sg_random_bytes(id, sizeof(id), &err)) < 0 ||
	    (r = one_token(k.token, &k.kopts, true, &t, NULL, &err)) < 0)
		return sg_cmd_fail(err.msg, r);

	CK_ATTRIBUTE pub_tmpl[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_EC_PARAMS, (void *)p256, sizeof(p256) },
		{ CKA_LABEL, (void *)k.label, strlen(k.label) },
		{ CKA_ID, id, sizeof(id) },
	};
	CK_ATTRIBUTE priv_tmpl[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)k.label, strlen(k.label) },
		{ CKA_ID, id, sizeof(id) },
	};
	rv = t->fl->C_GenerateKeyPair(t->session, &mech, pub_tmpl, SG_ELEMENTSOF(pub_tmpl),
				      priv_tmpl, SG_ELEMENTSOF(priv_tmpl), &pub, &priv);
	if (rv != CKR_OK) {
		snprintf(err.msg, sizeof(err.msg), "token '%s': generating a P-256 key failed: %s",
			 t->label, sg_p11_rv_name(rv));
		return sg_cmd_fail(err.msg, SG_E_TOKEN);
	}
	CK_ATTRIBUTE get = { CKA_EC_POINT, point_buf, sizeof(point_buf) };

	if (t->fl->C_GetAttributeValue(t->session, pub, &get, 1) != CKR_OK ||
	    ec_point(point_buf, get.ulValueLen, &point) < 0) {
		t->fl->C_DestroyObject(t->session, priv);
		t->fl->C_DestroyObject(t->session, pub);
		return sg_cmd_fail("the token returned no usable EC public point", SG_E_TOKEN);
	}
	if ((r = write_pubkey_pem(k.pubout, point, &err)) < 0) {
		t->fl->C_DestroyObject(t->session, priv);
		t->fl->C_DestroyObject(t->session, pub);
		return sg_cmd_fail(err.msg, r);
	}
	snprintf(attrs, sizeof(attrs), "object=%s;type=private", k.label);
	if (!(uri = sg_p11_uri_extend(k.token, attrs)))
		return sg_cmd_fail("out of memory", SG_E_NOMEM);
	fputs("audit-key: ", stdout);
	sg_fputs_escaped(uri, stdout);
	/* --pubout -: the PEM is already on standard output, above this line. */
	if (strcmp(k.pubout, "-")) {
		fputs("\npublic key: ", stdout);
		sg_fputs_escaped(k.pubout, stdout);
	}
	fputc('\n', stdout);
	return SG_EXIT_OK;
}

static const char *
key_type_name(CK_ULONG t)
{
	switch (t) {
	case CKK_GENERIC_SECRET: return "generic-secret";
	case CKK_AES: return "aes";
	case CKK_SHA256_HMAC: return "sha256-hmac";
	default: return "other";
	}
}

/*
 * Visit every secret key on the token(s) @spec names (only those whose label
 * starts with @prefix, if given): list them, count them (@count_only), or
 * delete them (@del).
 */
static int
walk(const char *spec, const struct keys_args *k, bool del, bool count_only, const char *prefix,
     size_t *ret_n, struct sg_error *err)
{
	_cleanup_(sg_freep) struct sg_p11_token **toks = NULL;
	P11KitUri *uri = NULL;
	size_t count = 0;
	int n, r = 0;

	if ((r = sg_p11_uri_parse(spec, false, &uri, err)) < 0)
		return r;
	n = sg_p11_tokens(uri, spec, &k->kopts, del, &toks, err);
	for (int i = 0; i < n && r == 0; i++) {
		_cleanup_(sg_freep) const struct sg_p11_keyent **ents = NULL;
		_cleanup_(sg_freep) struct sg_p11_keyent *keys = NULL;
		CK_ULONG nobj = 0;

		if ((r = sg_p11_find_keys(toks[i], uri, &ents, &nobj, err)) < 0)
			break;
		/* Copies: deleting a key drops the token's index the entries live in. */
		keys = calloc(nobj ? nobj : 1, sizeof(*keys));
		if (!keys) {
			r = sg_error_set(err, SG_E_NOMEM, "out of memory");
			break;
		}
		for (CK_ULONG j = 0; j < nobj; j++)
			keys[j] = *ents[j];
		for (CK_ULONG j = 0; j < nobj; j++) {
			const struct sg_p11_keyent *e = &keys[j];
			char label[LABEL_MAX + 1], idhex[2 * 64 + 1];
			bool priv = false;

			memcpy(label, e->label, e->label_len);
			label[e->label_len] = '\0';
			sg_hex_encode(e->id, e->id_len, idhex);
			if (prefix && strncmp(label, prefix, strlen(prefix)))
				continue;
			count++;
			if (count_only)
				continue;
			if (del) {
				CK_RV rv =
					toks[i]->fl->C_DestroyObject(toks[i]->session, e->handle);

				sg_p11_index_invalidate(toks[i]);

				if (rv != CKR_OK) {
					r = sg_error_set(err, SG_E_TOKEN,
							 "token '%s': deleting '%s' failed: %s",
							 toks[i]->label, label, sg_p11_rv_name(rv));
					break;
				}
				fputs("deleted: token=", stdout);
				sg_fputs_escaped(toks[i]->label, stdout);
				fputs(" object=", stdout);
				sg_fputs_escaped(label, stdout);
				printf(" id=%s\n", idhex);
				continue;
			}
			sg_p11_get_bool(toks[i], e->handle, CKA_PRIVATE, &priv);
			char etok[3 * 32 + 1], elab[3 * LABEL_MAX + 1];

			pct_encode(toks[i]->label, etok, sizeof(etok));
			pct_encode(label, elab, sizeof(elab));
			sg_fputs_escaped(label, stdout);
			printf("\tid=%s\t%s\t%lu bytes\t%s,%s,%s\tpkcs11:token=%s;object=%s;"
			       "type=secret-key\n",
			       idhex, key_type_name(e->type), (unsigned long)e->value_len,
			       e->sensitive == CK_TRUE ? "sensitive" : "NOT-sensitive",
			       e->extractable != CK_FALSE ? "EXTRACTABLE" : "non-extractable",
			       priv ? "private" : "public", etok, elab);
		}
	}
	p11_kit_uri_free(uri);
	if (n < 0)
		return n;
	*ret_n = count;
	return r;
}

int
sg_cmd_keys(int argc, char **argv)
{
	struct sg_error err = { 0 };
	struct keys_args k;
	size_t n = 0;
	int r;

	if (argc < 2)
		return sg_cmd_fail("usage: sevgate keys import|store-secret|list|delete|prune ...",
				   SG_E_USAGE);
	if ((argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) ||
	    (argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")))) {
		printf("usage: sevgate keys import --tik FILE --tek FILE | --tk FILE --token URI "
		       "--label NAME [--shred]\n"
		       "       sevgate keys store-secret FILE --token URI --label NAME [--shred]\n"
		       "       sevgate keys generate-audit-key --token URI --label NAME --pubout "
		       "FILE.pem\n"
		       "       sevgate keys list [--token URI]\n"
		       "       sevgate keys delete URI...\n"
		       "       sevgate keys prune --label-prefix PREFIX [--token URI]\n"
		       "common: [--pin-file FILE] [--config FILE] [--allow-exportable-keys]\n");
		return SG_EXIT_OK;
	}
	if (!strcmp(argv[1], "import"))
		return keys_import(argc - 1, argv + 1);
	if (!strcmp(argv[1], "store-secret"))
		return keys_store_secret(argc - 1, argv + 1);
	if (!strcmp(argv[1], "generate-audit-key"))
		return keys_generate_audit_key(argc - 1, argv + 1);
	if ((r = parse(argc - 1, argv + 1, &k, &err)) < 0 || (r = load_config(&k, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (!strcmp(argv[1], "list")) {
		r = walk(k.token ? k.token : "pkcs11:", &k, false, false, NULL, &n, &err);
	} else if (!strcmp(argv[1], "prune")) {
		if (!k.prefix || !*k.prefix)
			return sg_cmd_fail("prune needs a non-empty --label-prefix", SG_E_USAGE);
		r = walk(k.token ? k.token : "pkcs11:", &k, true, false, k.prefix, &n, &err);
	} else if (!strcmp(argv[1], "delete")) {
		if (k.first_arg + 1 >= argc)
			return sg_cmd_fail("usage: sevgate keys delete URI...", SG_E_USAGE);
		/* Every URI is checked before anything is deleted: a URI too broad deletes nothing. */
		for (int i = k.first_arg + 1; i < argc && r == 0; i++) {
			r = walk(argv[i], &k, false, true, NULL, &n, &err);
			if (r == 0 && (n == 0 || n > 2)) {
				_cleanup_(sg_freep) char *shown = sg_p11_uri_redact(argv[i]);

				r = sg_error_set(&err, SG_E_KEY,
						 "key URI '%s' matched %zu keys, expected 1 or a "
						 "pair",
						 shown, n);
			}
		}
		for (int i = k.first_arg + 1; i < argc && r == 0; i++)
			r = walk(argv[i], &k, true, false, NULL, &n, &err);
	} else {
		return sg_cmd_fail("usage: sevgate keys import|store-secret|list|delete|prune ...",
				   SG_E_USAGE);
	}
	if (r < 0)
		return sg_cmd_fail(err.msg, r);
	return SG_EXIT_OK;
}
