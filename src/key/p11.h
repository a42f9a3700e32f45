/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PKCS#11 plumbing shared by the token key back end and `sevgate keys`:
 * module loading through p11-kit, token lookup from an RFC 7512 URI, one
 * entry and one login per token per process (a read-only session, and a
 * read-write one opened on demand), recovery from resets, and CKR_* names.
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

/*
 * What the token layer counts, per token and (sg_p11_stats) over the process: a batch or a
 * daemon shows "one login per token per process" with these.
 */
struct sg_p11_stats {
	uint64_t tokens;	  /* token entries (sg_p11_stats only) */
	uint64_t logins;	  /* C_Login calls that succeeded */
	uint64_t index_builds;	  /* full reads of a token's secret keys */
	uint64_t find_calls;	  /* C_FindObjectsInit searches, index builds included */
	uint64_t operations;	  /* key operations (MAC, verify, encrypt, sign) begun */
	uint64_t recoveries;	  /* sessions re-established after a reset */
	uint64_t misses_limited;  /* lookups of a missing key answered without a search */
	uint64_t sessions_opened; /* C_OpenSession calls that succeeded */
};

/*
 * One entry per token slot, made once per process and never freed before sg_p11_shutdown, so
 * a key may keep a pointer to it. The fields above the lock never change once the entry is
 * made; everything else (but home, under state.lock) belongs to whoever holds *lock: the
 * token's own mutex, or its module's when the module cannot lock for itself (it refused
 * CKF_OS_LOCKING_OK). The definition is in p11-internal.h; the key back end and key
 * administration reach a session through sg_p11_begin.
 */
struct sg_p11_token;

/* The token's label as its token info gives it, trailing spaces dropped. */
const char *sg_p11_token_label(const struct sg_p11_token *t);

/*
 * One operation on a token: sg_p11_begin takes the token's lock and a session, the caller
 * makes its C_* calls on op->fl and op->session, sg_p11_again says whether to make them once
 * more, sg_p11_end drops the lock. Between begin and end no other thread uses the
 * token, except while sg_p11_again re-establishes its sessions (it drops the locks to take
 * the module's alone).
 */
struct sg_p11_op {
	struct sg_p11_token *t;
	CK_FUNCTION_LIST *fl;
	CK_SESSION_HANDLE session;
	CK_SLOT_ID slot;
	unsigned flags;
	bool retried;	   /* the one retry after a recovery is spent */
	bool looked_again; /* the one retry after a stale handle is spent */
	bool stale;	   /* a key handle went stale: sg_p11_resolve looks the key up again */
	/* Why a recovery failed (sg_p11_again returned false): the error to report, if set. */
	struct sg_error why;
};

enum {
	SG_P11_RW = 1 << 0,	 /* a read-write session (create, destroy), opened on demand */
	SG_P11_CRYPTO = 1 << 1,	 /* a key operation: counted in operations */
	SG_P11_IF_OPEN = 1 << 2, /* only if the session is open: never opens one (or logs in) */
};

/*
 * Begin an operation on @t (locks it). A session that a failed recovery closed is opened
 * again here, logging in; with SG_P11_IF_OPEN none is opened. Returns 0 and fills @op; else
 * reports the PIN file's SG_E_INSECURE or SG_E_USAGE, SG_E_TOKEN (the session or
 * login failed, the PIN source failed) or SG_E_NOMEM, and @t is unlocked again.
 */
SG_NODISCARD int
sg_p11_begin(struct sg_p11_token *t, unsigned flags, struct sg_p11_op *op, struct sg_error *err);
/*
 * After a call of the operation returned @rv: true when the caller should run the operation
 * once more. That is once per operation and cause: when @rv says the session or login is gone
 * (CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT,
 * CKR_USER_NOT_LOGGED_IN: the session is reopened, logged in with the PIN from its source and
 * the key index reset, to be read again at its next use) or a key handle is no longer valid (CKR_KEY_HANDLE_INVALID,
 * CKR_OBJECT_HANDLE_INVALID: op->stale is set). A recovery that fails returns false and
 * says why in op->why, which the caller reports instead of its own failure; else the caller
 * reports @rv.
 */
bool sg_p11_again(struct sg_p11_op *op, CK_RV rv);
/* End the operation: the token is unlocked. */
void sg_p11_end(struct sg_p11_op *op);
/*
 * End the operation that came to @r with its last attempt's failure in @e: on a failure, the
 * reason a recovery failed (op->why) or else @e goes into @err, unless @err holds one already.
 * Returns @r.
 */
int sg_p11_finish(struct sg_p11_op *op, int r, const struct sg_error *e, struct sg_error *err);

/*
 * Under an operation: @e's handle, valid for the session op holds. *@gen is the token
 * generation @e was found in; after a recovery (a new generation) or with op->stale, the key
 * is looked up again by its ID, label and type, and @e and *@gen updated; what is found must
 * be the key that was opened (same length, no weaker custody), once. After a refused handle
 * the old handle and a search are tried again for up to 0.63 s, under the token's locks.
 * Returns 0; else reports SG_E_KEY (the key is gone, changed, or matches more than once), the
 * search's SG_E_TOKEN (its CK_RV in *@ret_rv, for sg_p11_again), or SG_E_NOMEM.
 */
SG_NODISCARD int sg_p11_resolve(struct sg_p11_op *op, struct sg_p11_keyent *e, uint64_t *gen,
				CK_RV *ret_rv, struct sg_error *err);
/* The generation of @t's sessions (under an operation, or for a key just found). */
uint64_t sg_p11_generation(const struct sg_p11_op *op);

/* Under an operation: the index learns of a secret key created, or forgets one destroyed. */
void sg_p11_index_added(struct sg_p11_op *op, CK_OBJECT_HANDLE h);
void sg_p11_index_removed(struct sg_p11_op *op, CK_OBJECT_HANDLE h);

/* @t's counters, read under its lock. */
void sg_p11_token_stats(struct sg_p11_token *t, struct sg_p11_stats *ret);
/* The totals over every token of the process (all zero before the first). */
void sg_p11_stats(struct sg_p11_stats *ret);

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
 * The entries of every token the URI matches, made (a session opened, logged in when the
 * token needs it, the PIN's source kept for a login after a reset) on first use. A token
 * has one entry however it is named (two slots holding tokens alike are two); its read-write session is opened when an operation asks
 * for one (SG_P11_RW). Returns the number of tokens (>= 1) and
 * *@ret (an array the caller frees; the tokens are the process's, closed by
 * sg_p11_shutdown); else reports SG_E_TOKEN (no module or token matches, a session or login
 * failed), SG_E_USAGE, the PIN file's or the configuration's failure (SG_E_IO, SG_E_LIMIT,
 * ...) or SG_E_NOMEM, and *@ret is not written.
 */
SG_NODISCARD int sg_p11_tokens(P11KitUri *uri, const char *spec, const struct sg_key_options *opts,
			       struct sg_p11_token ***ret, struct sg_error *err);

/*
 * Secret keys on @t matching the URI's object attributes, as copies in *@ret (caller frees;
 * handles valid in generation *@ret_gen). The first lookup on a token asks the token directly
 * (one C_FindObjects), the next reads every secret key once into the index; a key the full
 * index lacks (imported since) is searched for once and added, and a key still missing is
 * not searched for again for a second. Takes @t's locks, and may open its session. Returns 0, *@ret and *@ret_n (0 for
 * no match: not an error); else reports SG_E_USAGE (an attribute keys cannot be found by),
 * the token's SG_E_TOKEN or SG_E_NOMEM, and none of *@ret, *@ret_n, *@ret_gen is written.
 */
SG_NODISCARD int
sg_p11_find_keys(struct sg_p11_token *t, P11KitUri *uri, struct sg_p11_keyent **ret,
		 CK_ULONG *ret_n, uint64_t *ret_gen, struct sg_error *err);

/* Under an operation: read a CK_BBOOL attribute; the CK_RV (CKR_OK on success). */
CK_RV sg_p11_get_bool(struct sg_p11_op *op, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE a, bool *ret);

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
