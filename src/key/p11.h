/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PKCS#11 plumbing shared by the token key back end and `sevgate keys`:
 * module loading through p11-kit, token lookup from an RFC 7512 URI, one
 * logged-in session per token per process, and CKR_* names for messages.
 */
#pragma once

#include <p11-kit/p11-kit.h>
#include <p11-kit/pin.h>
#include <p11-kit/uri.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/cleanup.h"
#include "util/error.h"

/* For the files that hold a parsed pkcs11: URI (only they include p11-kit). */
SG_DEFINE_CLEANUP_FUNC_NAMED(sg_p11_kit_uri_freep, P11KitUri *, p11_kit_uri_free)

struct sg_key_options;

/*
 * The configuration file naming PKCS#11 modules (NULL: $SEVGATE_CONFIG or
 * /etc/sevgate/sevgate.conf). The back end only remembers the path: the
 * configuration belongs to src/config (sg_config_get), which the back end
 * asks for a module-name= entry. A file given here is read at once; the
 * default one only when a URI names a module by module-name=.
 * Returns 0, or a negative SG_E_* code: SG_E_NOMEM, or what sg_config_get
 * reports in @err for a file given here that cannot be loaded (the path is
 * kept; the next module-name= lookup tries the file again).
 */
SG_NODISCARD int sg_p11_set_config(const char *path, struct sg_error *err);

/* One secret key as the in-memory index holds it. */
struct sg_p11_keyent {
	CK_OBJECT_HANDLE handle;
	CK_KEY_TYPE type;
	CK_ULONG value_len; /* (CK_ULONG)-1 when the token does not say */
	CK_BBOOL sensitive, extractable;
	CK_ULONG label_len, id_len;
	char label[128];
	uint8_t id[64];
};

struct sg_p11_token {
	CK_FUNCTION_LIST *fl;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session;
	bool logged_in, rw;
	char label[33];
	/*
	 * Every secret key on the token, read once: finding a key by label with
	 * C_FindObjects costs tens of milliseconds once a token holds thousands
	 * of one-time launch keys, so URIs are resolved against this instead.
	 */
	struct sg_p11_keyent *keys;	 /* sorted by ID */
	struct sg_p11_keyent **by_label; /* the same, sorted by label */
	size_t nkeys;
	bool indexed;	  /* keys holds every secret key of the token */
	unsigned lookups; /* the first lookup searches the token directly */
};

/*
 * Log out, close sessions and finalise every module this process loaded.
 * Front ends call it before exit: module destructors may run before atexit
 * handlers, so it cannot be left to them.
 */
void sg_p11_shutdown(void);

/* Name of a CKR_* value ("CKR_PIN_INCORRECT"). */
const char *sg_p11_rv_name(CK_RV rv);
/* Name of a CKM_* value we use. */
const char *sg_p11_mech_name(CK_MECHANISM_TYPE m);

/*
 * Parse @spec (a "pkcs11:" URI). Refuses unknown attributes, path or query (fail closed)
 * and, unless @allow_pin_value, a pin-value (it would show in `ps`). The pin-value is taken
 * out before p11-kit parses the rest: *ret never holds it (get_pin reads it from @spec into
 * locked memory when the token needs a login). Returns 0 and *@ret (free with
 * p11_kit_uri_free); else reports SG_E_USAGE (an invalid URI, an unknown attribute),
 * SG_E_INSECURE (a pin-value not allowed) or SG_E_NOMEM, and *@ret is not written.
 */
SG_NODISCARD int
sg_p11_uri_parse(const char *spec, bool allow_pin_value, P11KitUri **ret, struct sg_error *err);

/*
 * @base (a token URI, pin-value removed) with @attrs ("object=x;type=secret-key")
 * added to its path part, before any query. Caller frees; NULL on OOM.
 */
char *sg_p11_uri_extend(const char *base, const char *attrs);

/*
 * @spec for messages and logs, never holding any part of a PIN: as written when p11-kit
 * would find no pin-value and no unknown attribute in it; else parsed (the PIN taken out
 * first) and formatted again by p11-kit with only what sevgate knows; an invalid URI that
 * holds a PIN is not shown at all. Caller frees; NULL on OOM.
 */
char *sg_p11_uri_redact(const char *spec);

/*
 * Open (or reuse) sessions on every token the URI matches, logging in
 * when the token needs it. @rw asks for read-write sessions (import,
 * delete). Returns the number of tokens (>= 1) and *@ret (an array the caller
 * frees; the tokens are the process's, closed by sg_p11_shutdown); else reports
 * SG_E_TOKEN (no module or token matches, a session or login failed), SG_E_USAGE,
 * the PIN file's or the configuration's failure (SG_E_IO, SG_E_LIMIT, ...) or
 * SG_E_NOMEM, and *@ret is not written.
 */
SG_NODISCARD int sg_p11_tokens(P11KitUri *uri, const char *spec, const struct sg_key_options *opts,
			       bool rw, struct sg_p11_token ***ret, struct sg_error *err);

/*
 * Secret keys on @t matching the URI's object attributes. Caller frees
 * *ret (the array; the entries belong to the token's index and stay valid
 * until it is invalidated). A process that looks up one key searches the
 * token directly; the second lookup on a token reads the whole index once.
 * Returns 0, *@ret and *@ret_n (0 for no match: not an error); else reports the
 * token's SG_E_TOKEN or SG_E_NOMEM, and neither is written.
 */
SG_NODISCARD int
sg_p11_find_keys(struct sg_p11_token *t, P11KitUri *uri, const struct sg_p11_keyent ***ret,
		 CK_ULONG *ret_n, struct sg_error *err);

/* Forget @t's key index after creating or destroying keys. */
void sg_p11_index_invalidate(struct sg_p11_token *t);

/* Read a CK_ULONG / CK_BBOOL attribute; the CK_RV (CKR_OK on success). */
CK_RV
sg_p11_get_ulong(struct sg_p11_token *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE a, CK_ULONG *ret);
CK_RV sg_p11_get_bool(struct sg_p11_token *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE a, bool *ret);

/*
 * What p11-kit would act on in @uri (a "pkcs11:" URI), read as sevgate's key layer and p11-kit
 * read it (whitespace dropped anywhere, the last of duplicates, values percent-decoded), never by
 * searching its text: whether it holds a pin-value, the module path and name, the PIN source,
 * and whether it has an attribute sevgate does not know. Free with sg_p11_uri_facts_done.
 */
struct sg_p11_uri_facts {
	bool has_pin_value;
	bool any_unknown;
	char *module_path; /* NULL when none */
	char *module_name;
	char *pin_source; /* as given: "file:PATH" */
};
/*
 * Inspect @uri. Returns 0 and fills *@ret; else reports SG_E_USAGE ("invalid PKCS#11
 * URI '<uri without PIN>': <p11-kit's reason>") or SG_E_NOMEM, and leaves *@ret zeroed.
 */
SG_NODISCARD int
sg_p11_uri_inspect(const char *uri, struct sg_p11_uri_facts *ret, struct sg_error *err);
/* Free what sg_p11_uri_inspect put in @f and zero it; accepts a zeroed struct. */
void sg_p11_uri_facts_done(struct sg_p11_uri_facts *f);

/* The one refusal of a pin-value no private file vouched for (SG_E_INSECURE, exit 3). */
SG_NODISCARD int sg_p11_pin_value_refused(struct sg_error *err);
