/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Token administration (what `sevgate keys` does) and the URI helpers front ends and the
 * manifest loader need, at the key layer: nothing here prints, and no caller needs
 * key/p11.h or p11-kit's types. Part of the PKCS#11 library (sevgate_p11), which programs
 * that administer tokens link in; virt-qemu-sev-validate does not.
 *
 * The administration calls use the process's token sessions directly, under the key layer's
 * token lock, so other threads may use token keys meanwhile. A walk's callback runs with
 * the lock released and may call any function here.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "key/key.h"
#include "util/cleanup.h"
#include "util/error.h"

/* A status result must be looked at. */
#define SG_KEY_NODISCARD __attribute__((warn_unused_result))

/* Longest object label sevgate creates or lists (bytes, without the -tik/-tek suffix). */
#define SG_KEY_LABEL_MAX 128
/* Largest CKA_ID a listed object may have. */
#define SG_KEY_ID_MAX 64
/* Largest secret `keys store-secret` stores (1 MiB). */
#define SG_KEY_DATA_MAX (1 << 20)

/*
 * True if @label may name a token object: printable UTF-8 (well-formed, no C0/C1 control,
 * DEL or bidirectional override/isolate) of at most SG_KEY_LABEL_MAX bytes, without any of
 * "; ? % /" or a space, so it goes into a pkcs11: URI unescaped and prints as it is.
 */
bool sg_key_label_valid(const char *label);

/* ---- URIs -------------------------------------------------------------------------- */

/*
 * What p11-kit would act on in a "pkcs11:" URI, read as the key layer reads it (whitespace
 * dropped anywhere, the last of duplicates, values percent-decoded), never by searching its
 * text. Free the strings with sg_key_uri_facts_done.
 */
struct sg_key_uri_facts {
	bool has_pin_value; /* a pin-value attribute (in the path or the query) */
	bool any_unknown;   /* an attribute sevgate does not know */
	char *module_path;  /* NULL when none */
	char *module_name;
	char *pin_source; /* as given: "file:PATH" */
};

/*
 * Inspect @uri. Returns 0 and fills *@ret; on failure returns SG_E_USAGE ("invalid PKCS#11
 * URI '<uri without PIN>': <p11-kit's reason>") or SG_E_NOMEM, reports it in @err (may be
 * NULL) and leaves *@ret zeroed (sg_key_uri_facts_done is still safe on it).
 */
SG_KEY_NODISCARD int
sg_key_uri_inspect(const char *uri, struct sg_key_uri_facts *ret, struct sg_error *err);
/* Free what sg_key_uri_inspect put in @f and zero it; accepts a zeroed struct (and serves
 * as _cleanup_(sg_key_uri_facts_done) on a struct). */
void sg_key_uri_facts_done(struct sg_key_uri_facts *f);

/*
 * @spec made safe for messages, logs and JSON: never any part of a PIN (as written when
 * p11-kit would find no pin-value and no unknown attribute, else formatted again with only
 * what sevgate knows; an invalid URI that holds a PIN is not shown at all). Returns a
 * string the caller frees, NULL only on out-of-memory. Reports nothing.
 */
char *sg_key_uri_redact(const char *spec);

/*
 * Refuse a pin-value no private file vouched for (one on the command line shows in ps).
 * Returns SG_E_INSECURE (exit 3) and reports the one message for it in @err.
 */
SG_KEY_NODISCARD int sg_key_pin_value_refused(struct sg_error *err);

/* ---- One token, opened for administration ----------------------------------------- */

struct sg_key_admin;

/*
 * Open the one token @token_uri ("pkcs11:token=...", no object attributes needed) names,
 * logging in as the URI and @opts say, with a read-write session if @rw. Returns 0 and
 * *@ret (free with sg_key_admin_free); else the URI's parse error (SG_E_USAGE, SG_E_INSECURE
 * for a pin-value), the module's or login's error (SG_E_TOKEN, SG_E_KEY, SG_E_IO), or
 * SG_E_USAGE "--token '<uri>' matches N tokens, expected 1", reported in @err; *@ret untouched.
 */
SG_KEY_NODISCARD int sg_key_admin_open(const char *token_uri, const struct sg_key_options *opts,
				       bool rw, struct sg_key_admin **ret, struct sg_error *err);
/* Forget @a (the token's session stays open until sg_key_shutdown). Accepts NULL. */
void sg_key_admin_free(struct sg_key_admin *a);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_key_admin *, sg_key_admin_free)
/* The token's label (CKA token info, trailing blanks dropped); valid while @a is. */
const char *sg_key_admin_token_label(const struct sg_key_admin *a);

/* ---- TIK/TEK pairs ------------------------------------------------------------------- */

/* A pair sg_key_admin_create_pair made. Free with sg_key_pair_done. */
struct sg_key_pair {
	char *uri_tik;	       /* <token URI>;object=LABEL-tik;type=secret-key */
	char *uri_tek;	       /* <token URI>;object=LABEL-tek;type=secret-key */
	char *uri_tk;	       /* <token URI>;id=%xx..;type=secret-key; NULL unless shared_id */
	bool shared_id;	       /* both keys carry one CKA_ID (some tokens keep one key per ID) */
	uint8_t id[16];	       /* the TIK's CKA_ID (the TEK's too when shared_id) */
	size_t tik_stored_len; /* bytes of CKA_VALUE for the TIK: >= 16, zero-padded */
	unsigned long obj_tik, obj_tek; /* token handles, for sg_key_admin_destroy_pair */
};
/* Free @p's URIs and zero it (accepts a zeroed struct; a _cleanup_ function). */
void sg_key_pair_done(struct sg_key_pair *p);

/*
 * Create the TIK (CKK_GENERIC_SECRET, CKA_SIGN/CKA_VERIFY, value zero-padded to the
 * token's minimum CKM_SHA256_HMAC key size, at most 64 bytes) labelled "@label-tik" and the
 * TEK (CKK_AES, CKA_ENCRYPT/CKA_DECRYPT) labelled "@label-tek": token, private, sensitive,
 * non-extractable objects with one random 16-byte CKA_ID. A token that keeps one secret
 * key per CKA_ID gets the pair again with the TEK's ID differing in its last bit
 * (shared_id false). @a must be open read-write. Returns 0 and *@ret (URIs built on the URI
 * @a was opened with); else SG_E_USAGE (an invalid @label), SG_E_TOKEN "token 'T': creating
 * key 'L' failed: CKR_..." or "token 'T' did not keep the imported keys", SG_E_CRYPTO (no
 * random bytes) or SG_E_NOMEM, reported in @err, with nothing left on the token.
 */
SG_KEY_NODISCARD int
sg_key_admin_create_pair(struct sg_key_admin *a, const char *label, const uint8_t tik[SG_KEY_LEN],
			 const uint8_t tek[SG_KEY_LEN], struct sg_key_pair *ret,
			 struct sg_error *err);

/*
 * Read back: open the token keys @uri_tik and @uri_tek name (with @opts) and check that they
 * compute what @tik and @tek do (one HMAC-SHA256 and one AES-128-CTR over a fixed message).
 * Returns 0; else the error opening or using a key, or SG_E_TOKEN "read-back check failed:
 * the token's keys do not compute what the files do", reported in @err.
 */
SG_KEY_NODISCARD int
sg_key_admin_verify_pair(struct sg_crypto *c, const char *uri_tik, const char *uri_tek,
			 const struct sg_key_options *opts, const uint8_t tik[SG_KEY_LEN],
			 const uint8_t tek[SG_KEY_LEN], struct sg_error *err);

/* Delete both keys of @p from @a's token (undoing create_pair); failures are ignored. */
void sg_key_admin_destroy_pair(struct sg_key_admin *a, const struct sg_key_pair *p);

/* ---- Data objects ---------------------------------------------------------------------- */

/*
 * Store @len (1..SG_KEY_DATA_MAX) bytes at @data as a token, private, non-modifiable data
 * object (CKO_DATA, CKA_APPLICATION "sevgate") labelled @label. @a must be open read-write.
 * Returns 0 and *@ret_uri ("<token URI>;object=LABEL;type=data", caller frees); else
 * SG_E_USAGE (an invalid label or length), SG_E_TOKEN with the bare CKR_* name as message,
 * or SG_E_NOMEM, reported in @err; *@ret_uri untouched.
 */
SG_KEY_NODISCARD int
sg_key_admin_store_data(struct sg_key_admin *a, const char *label, const uint8_t *data, size_t len,
			char **ret_uri, struct sg_error *err);

/* ---- EC signing keys (the audit log's signer) --------------------------------------- */

/* A key pair sg_key_admin_generate_ec made. Free with sg_key_ec_done. */
struct sg_key_ec {
	char *uri;	   /* <token URI>;object=LABEL;type=private */
	uint8_t point[65]; /* the public point, uncompressed (0x04 || X || Y) */
	uint8_t id[16];
	unsigned long obj_pub, obj_priv;
};
/* Free @k's URI and zero it (accepts a zeroed struct; a _cleanup_ function). */
void sg_key_ec_done(struct sg_key_ec *k);

/*
 * Generate a P-256 key pair in @a's token (open read-write), both halves labelled @label
 * with one random 16-byte CKA_ID: a token public key with CKA_VERIFY, and a token, private,
 * sensitive, non-extractable private key with CKA_SIGN. Returns 0 and *@ret; else
 * SG_E_USAGE (invalid label), SG_E_TOKEN "token 'T': generating a P-256 key failed: CKR_..."
 * or "the token returned no usable EC public point" (the pair is deleted again),
 * SG_E_CRYPTO or SG_E_NOMEM, reported in @err.
 */
SG_KEY_NODISCARD int sg_key_admin_generate_ec(struct sg_key_admin *a, const char *label,
					      struct sg_key_ec *ret, struct sg_error *err);

/* Delete both halves of @k from @a's token (undoing generate_ec); failures are ignored. */
void sg_key_admin_destroy_ec(struct sg_key_admin *a, const struct sg_key_ec *k);

/*
 * Write the P-256 point @point as a PEM SubjectPublicKeyInfo to @path ("-": standard output)
 * under the output file policy, fsync'ed when it is a regular file. Returns 0; else
 * SG_E_CRYPTO "the token's public key is not a P-256 point", the output policy's refusal, or
 * SG_E_IO "cannot write 'PATH'", reported in @err.
 */
SG_KEY_NODISCARD int
sg_key_write_pubkey_pem(const char *path, const uint8_t point[65], struct sg_error *err);

/* ---- Listing and deleting secret keys ----------------------------------------------- */

enum sg_key_object_type {
	SG_KEY_OBJ_OTHER,
	SG_KEY_OBJ_GENERIC_SECRET,
	SG_KEY_OBJ_AES,
	SG_KEY_OBJ_SHA256_HMAC,
};

/* "generic-secret", "aes", "sha256-hmac" or "other". */
const char *sg_key_object_type_name(enum sg_key_object_type t);

struct sg_p11_token;

/* One secret key on a token, as sg_key_admin_walk reports it. */
struct sg_key_object {
	const char *token; /* the token's label */
	char label[SG_KEY_LABEL_MAX + 1];
	uint8_t id[SG_KEY_ID_MAX];
	size_t id_len;
	enum sg_key_object_type type;
	unsigned long value_len; /* (unsigned long)-1 when the token does not say */
	bool sensitive;		 /* false when the token does not say */
	bool extractable;	 /* true when the token does not say */
	bool private_obj;	 /* CKA_PRIVATE; read only with SG_KEY_WALK_PRIVATE */
	/* Where it is, for sg_key_admin_delete_object. */
	struct sg_p11_token *tok;
	uint64_t gen; /* the token's session generation @handle belongs to */
	unsigned long handle;
};

enum {
	SG_KEY_WALK_RW = 1 << 0,      /* read-write sessions (to delete what is visited) */
	SG_KEY_WALK_PRIVATE = 1 << 1, /* read CKA_PRIVATE of each key */
};

/*
 * Called for each key a walk visits; a negative return (reported in @err) stops the walk
 * and is its result.
 */
typedef int (*sg_key_object_fn)(void *ctx, const struct sg_key_object *o, struct sg_error *err);

/*
 * Visit every secret key on every token @spec ("pkcs11:" alone: all tokens) matches that
 * matches @spec's object attributes and, if @prefix is not NULL, whose label starts with
 * @prefix: token by token, keys in the token's ID order. @fn may delete the key it is
 * given. Returns the number of keys visited (>= 0); else the URI's parse error, the token
 * or login error (SG_E_TOKEN "no PKCS#11 token matches 'U'"...), a search error or @fn's,
 * reported in @err (keys visited before it stay visited).
 */
SG_KEY_NODISCARD int
sg_key_admin_walk(const char *spec, const struct sg_key_options *opts, unsigned flags,
		  const char *prefix, sg_key_object_fn fn, void *ctx, struct sg_error *err);

/* What sg_key_admin_list collects. Free with sg_key_object_list_done. */
struct sg_key_object_list {
	struct sg_key_object *obj;
	size_t n;
};
/* Free @l's array and zero it (accepts a zeroed struct; a _cleanup_ function). */
void sg_key_object_list_done(struct sg_key_object_list *l);

/*
 * sg_key_admin_walk collecting what it visits (CKA_PRIVATE read). Returns 0 and *@ret;
 * else the walk's error, reported in @err, and *@ret untouched.
 */
SG_KEY_NODISCARD int
sg_key_admin_list(const char *spec, const struct sg_key_options *opts, const char *prefix,
		  struct sg_key_object_list *ret, struct sg_error *err);

/*
 * Delete the key @o (from a walk opened with SG_KEY_WALK_RW). Returns 0; else SG_E_TOKEN
 * "token 'T': deleting 'L' failed: CKR_...", reported in @err.
 */
SG_KEY_NODISCARD int
sg_key_admin_delete_object(const struct sg_key_object *o, struct sg_error *err);
