/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "key/p11-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "config/config.h"
#include "key/key.h"
#include "util/cleanup.h"
#include "util/debug.h"
#include "util/encode.h"
#include "util/secmem.h"

#define PIN_MAX 256
#define MAX_SLOTS 64

/* A loaded module, and whether it may be called from several threads at once. */
struct sg_p11_module {
	CK_FUNCTION_LIST *fl;
	char *path;	      /* loaded by path (ours to finalise), or NULL: one of p11-kit's */
	bool thread_safe;     /* initialised with CKF_OS_LOCKING_OK */
	pthread_mutex_t lock; /* every token's lock when it is not thread-safe */
	/*
	 * Held shared by every operation on the module's tokens, exclusively while one re-opens
	 * its sessions: a module may give a new session the handle of one a reset closed, and
	 * that handle must not reach an operation of another token in the meantime.
	 */
	pthread_rwlock_t reset_lock;
	_Atomic uint64_t resets; /* sessions re-established on any of its tokens */
	/* Slot and token descriptions, read once: SoftHSM reads its token directory on every
	 * C_GetTokenInfo. */
	bool described;
	CK_INFO info;
	CK_RV rv;
	const char *failed_call;
	CK_ULONG nslots;
	CK_SLOT_ID slots[MAX_SLOTS];
	CK_SLOT_INFO si[MAX_SLOTS];
	CK_TOKEN_INFO ti[MAX_SLOTS];
	CK_RV slot_rv[MAX_SLOTS];
	struct sg_p11_module *next;
};

/*
 * Process-wide state: modules are loaded and tokens logged in once per process, however many
 * keys are opened (a batch opens thousands). state.lock guards this struct; each token's own
 * state is under the token's lock. Order: state.lock, then the module's reset_lock, then the
 * token's lock (key-pkcs11.c's signer_lock comes before all).
 */
static struct {
	pthread_mutex_t lock;
	CK_FUNCTION_LIST **registered; /* p11-kit's configured modules, loaded on first need */
	bool registered_loaded;
	struct sg_p11_module *modules;
	struct sg_p11_token *tokens;
	/* The configuration file to ask src/config for module-name= entries (NULL:
	 * $SEVGATE_CONFIG or the default path); src/config holds what it read. */
	char *config_path;
} state = { .lock = PTHREAD_MUTEX_INITIALIZER };

double
sg_p11_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The record of @fl, made on first sight (thread-safe unless we initialised it without). */
static struct sg_p11_module *
module_of(CK_FUNCTION_LIST *fl)
{
	pthread_rwlockattr_t attr;
	struct sg_p11_module *m;

	for (m = state.modules; m; m = m->next)
		if (m->fl == fl)
			return m;
	if (!(m = calloc(1, sizeof(*m))))
		return NULL;
	m->fl = fl;
	/* p11-kit initialises the modules it manages with CKF_OS_LOCKING_OK, or fails. */
	m->thread_safe = true;
	pthread_mutex_init(&m->lock, NULL);
	/* A recovery must not wait behind a steady stream of operations. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&m->reset_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	m->next = state.modules;
	state.modules = m;
	return m;
}

/* Under state.lock: @m's slots and tokens, read again when @refresh. */
static void
describe(struct sg_p11_module *m, bool refresh)
{
	CK_FUNCTION_LIST *fl = m->fl;

	if (m->described && !refresh)
		return;
	m->described = true;
	m->failed_call = NULL;
	m->nslots = MAX_SLOTS;
	if ((m->rv = fl->C_GetInfo(&m->info)) != CKR_OK) {
		m->failed_call = "C_GetInfo";
		m->nslots = 0;
		return;
	}
	if ((m->rv = fl->C_GetSlotList(CK_TRUE, m->slots, &m->nslots)) != CKR_OK) {
		m->failed_call = "C_GetSlotList";
		m->nslots = 0;
		return;
	}
	for (CK_ULONG s = 0; s < m->nslots; s++) {
		m->slot_rv[s] = fl->C_GetSlotInfo(m->slots[s], &m->si[s]);
		if (m->slot_rv[s] == CKR_OK)
			m->slot_rv[s] = fl->C_GetTokenInfo(m->slots[s], &m->ti[s]);
	}
}

int
sg_p11_set_config(const char *path, struct sg_error *err)
{
	const struct sg_config *c;
	char *copy = NULL;

	if (path && !(copy = strdup(path)))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	pthread_mutex_lock(&state.lock);
	free(state.config_path);
	state.config_path = copy;
	pthread_mutex_unlock(&state.lock);
	if (!path)
		return 0;
	/* A file named on the command line is checked now, not at first use. */
	return sg_config_get(path, &c, err);
}

static void
close_sessions(struct sg_p11_token *t)
{
	if (t->have_rw)
		(void)t->fl->C_CloseSession(t->rw);
	if (t->have_ro)
		(void)t->fl->C_CloseSession(t->ro);
	t->have_rw = t->have_ro = false;
	/* Closing an application's last session on a token logs it out. */
	t->logged_in = false;
}

void
sg_p11_shutdown(void)
{
	pthread_mutex_lock(&state.lock);
	while (state.tokens) {
		struct sg_p11_token *t = state.tokens;

		state.tokens = t->next;
		sg_p11_index_clear(t);
		if (t->logged_in)
			(void)t->fl->C_Logout(t->have_ro ? t->ro : t->rw);
		close_sessions(t);
		free(t->pin_path);
		pthread_mutex_destroy(&t->own_lock);
		free(t);
	}
	while (state.modules) {
		struct sg_p11_module *m = state.modules;

		state.modules = m->next;
		if (m->path) {
			m->fl->C_Finalize(NULL);
			p11_kit_module_release(m->fl);
			free(m->path);
		}
		pthread_mutex_destroy(&m->lock);
		pthread_rwlock_destroy(&m->reset_lock);
		free(m);
	}
	free(state.config_path);
	state.config_path = NULL;
	state.registered_loaded = false;
	if (state.registered)
		p11_kit_modules_finalize_and_release(state.registered);
	state.registered = NULL;
	pthread_mutex_unlock(&state.lock);
}

const char *
sg_p11_rv_name(CK_RV rv)
{
	static const struct {
		CK_RV rv;
		const char *name;
	} names[] = {
		{ CKR_OK, "CKR_OK" },
		{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
		{ CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED" },
		{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" },
		{ CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE" },
		{ CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID" },
		{ CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID" },
		{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
		{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
		{ CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID" },
		{ CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE" },
		{ CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT" },
		{ CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED" },
		{ CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID" },
		{ CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID" },
		{ CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID" },
		{ CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE" },
		{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
		{ CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE" },
		{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
		{ CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED" },
		{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
		{ CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED" },
		{ CKR_SESSION_COUNT, "CKR_SESSION_COUNT" },
		{ CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID" },
		{ CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED" },
		{ CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED" },
		{ CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN" },
		{ CKR_CANT_LOCK, "CKR_CANT_LOCK" },
		{ CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED" },
		{ CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY" },
		{ CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID" },
		{ CKR_SIGNATURE_LEN_RANGE, "CKR_SIGNATURE_LEN_RANGE" },
		{ CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE" },
		{ CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT" },
		{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
		{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
		{ CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED" },
		{ CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED" },
		{ CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL" },
		{ CKR_HOST_MEMORY, "CKR_HOST_MEMORY" },
		{ CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE" },
	};

	for (size_t i = 0; i < SG_ELEMENTSOF(names); i++)
		if (names[i].rv == rv)
			return names[i].name;
	return "CKR_(unknown)";
}

const char *
sg_p11_mech_name(CK_MECHANISM_TYPE m)
{
	switch (m) {
	case CKM_SHA256_HMAC: return "CKM_SHA256_HMAC";
	case CKM_AES_CTR: return "CKM_AES_CTR";
	case CKM_ECDSA: return "CKM_ECDSA";
	default: return "CKM_(unknown)";
	}
}

/*
 * @spec taken apart as p11-kit's parser reads it: whitespace dropped, the path up to the first
 * '?' split at ';', the query after it split at '&' (so a query value may hold '?' and ';').
 */
struct uri_parts {
	char *rest;	       /* @spec without its pin-value attributes */
	struct sg_secmem *pin; /* the last pin-value, %-decoded (p11-kit keeps the last) */
	bool had_pin;	       /* a pin-value attribute, whether or not it decodes */
	bool bad_pin;	       /* a pin-value that is not valid %-encoding */
	char unknown[64];      /* the first query attribute sevgate does not know, or "" */
	char unknown_path[64]; /* the same for the path (p11-kit does not know it) */
	bool any_unknown;      /* an attribute (path or query) sevgate does not know */
};

static void
uri_parts_done(struct uri_parts *p)
{
	free(p->rest);
	sg_secmem_free(p->pin);
	memset(p, 0, sizeof(*p));
}

static bool
name_is(const char *name, size_t len, const char *const *names)
{
	for (size_t i = 0; names[i]; i++)
		if (strlen(names[i]) == len && !memcmp(names[i], name, len))
			return true;
	return false;
}

static const char *const known_query[] = { "pin-value",	  "pin-source",	 "pinfile",
					   "module-name", "module-path", NULL };
static const char *const known_path[] = { "id",
					  "object",
					  "type",
					  "token",
					  "manufacturer",
					  "serial",
					  "model",
					  "library-manufacturer",
					  "library-description",
					  "library-version",
					  "slot-description",
					  "slot-manufacturer",
					  "slot-id",
					  "pin-value",
					  "pin-source",
					  "pinfile",
					  NULL };

/* A pin-value's value [v, end) decoded into locked memory, as p11_url_decode would. */
static void
take_pin(struct uri_parts *p, const char *v, const char *end)
{
	struct sg_secmem *m = sg_secmem_new(PIN_MAX);
	size_t n = 0;

	p->had_pin = true;
	sg_secmem_free(p->pin);
	p->pin = NULL;
	p->bad_pin = false;
	if (!m) {
		p->bad_pin = true;
		return;
	}
	while (v < end) {
		int hi, lo;

		if (n == PIN_MAX - 1) {
			n = PIN_MAX; /* too long: get_pin says so */
			break;
		}
		if (*v != '%') {
			m->data[n++] = (uint8_t)*v++;
			continue;
		}
		if (end - v < 3 || (hi = sg_hex_digit(v[1])) < 0 || (lo = sg_hex_digit(v[2])) < 0) {
			p->bad_pin = true;
			break;
		}
		m->data[n++] = (uint8_t)(hi << 4 | lo);
		v += 3;
	}
	m->len = n;
	p->pin = m;
}

static void
note_unknown(char *out, size_t size, const char *name, size_t len)
{
	if (out[0] || len >= size ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz"
			 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") < len)
		return;
	memcpy(out, name, len);
	out[len] = '\0';
}

static bool
is_pin_value(const char *name, const char *eq, const char *end)
{
	return eq && eq > name && eq < end && eq - name == 9 && !memcmp(name, "pin-value", 9);
}

/* Append the attribute [a, b) to @w after @sep (none when @sep is 0). */
static char *
put(char *w, char sep, const char *a, const char *b)
{
	if (sep)
		*w++ = sep;
	memcpy(w, a, (size_t)(b - a));
	return w + (b - a);
}

/*
 * One attribute [s, end) of a path or query: a pin-value is taken into locked memory, any
 * other attribute is copied to @w after @sep, and a name not in @known is noted in @unknown.
 */
static char *
attribute(struct uri_parts *p, char *w, const char *s, const char *end, const char *const *known,
	  char *unknown, size_t unknown_size, char sep, bool *first)
{
	const char *eq = strchr(s, '=');

	if (is_pin_value(s, eq, end)) {
		take_pin(p, eq + 1, end);
		return w;
	}
	if (eq && eq > s && eq < end && !name_is(s, (size_t)(eq - s), known)) {
		p->any_unknown = true;
		note_unknown(unknown, unknown_size, s, (size_t)(eq - s));
	}
	*first = false;
	return put(w, sep, s, end);
}

static int
uri_split(const char *spec, struct uri_parts *p)
{
	size_t len = strlen(spec);
	_cleanup_(sg_secmem_freep) struct sg_secmem *text = NULL;
	const char *s = spec, *spos, *epos;
	char *w;
	bool first = true;

	memset(p, 0, sizeof(*p));
	p->rest = malloc(len + 2);
	if (!p->rest)
		return SG_E_NOMEM;
	/* p11_kit_uri_parse drops " \n\r\v" anywhere; the copy may hold the PIN: locked memory. */
	if (strpbrk(spec, " \n\r\v")) {
		if (!(text = sg_secmem_new(len + 1))) {
			uri_parts_done(p);
			return SG_E_NOMEM;
		}
		text->len = 0;
		for (const char *c = spec; *c; c++)
			if (*c != ' ' && *c != '\n' && *c != '\r' && *c != '\v')
				text->data[text->len++] = (uint8_t)*c;
		s = (const char *)text->data;
	}
	w = p->rest;
	if (!(epos = strchr(s, ':'))) {
		memcpy(w, s, strlen(s) + 1); /* no scheme: p11-kit refuses it, holding no PIN */
		return 0;
	}
	w = put(w, 0, s, epos + 1);
	s = epos + 1;
	/* The path, as p11_kit_uri_parse walks it: attributes up to the first '?', split at ';'. */
	for (;;) {
		spos = s + strcspn(s, ";?");
		if (spos == s)
			break;
		w = attribute(p, w, s, spos, known_path, p->unknown_path, sizeof(p->unknown_path),
			      first ? 0 : ';', &first);
		s = spos;
		if (*s == '\0' || *s == '?')
			break;
		s++;
	}
	/* The query: split at '&' only, so a value may hold '?' and ';'. */
	first = true;
	while (*s) {
		s++;
		spos = strchr(s, '&');
		if (!spos) {
			spos = s + strlen(s);
			if (spos == s)
				break;
		}
		w = attribute(p, w, s, spos, known_query, p->unknown, sizeof(p->unknown),
			      first ? '?' : '&', &first);
		s = spos;
	}
	*w = '\0';
	return 0;
}

/* A new URI holding only what sevgate knows of @uri: no PIN, no vendor query, formatted. */
static char *
format_known(P11KitUri *uri)
{
	_cleanup_(sg_p11_kit_uri_freep) P11KitUri *k = p11_kit_uri_new();
	CK_ATTRIBUTE_PTR attrs;
	CK_ULONG nattrs = 0;
	char *out = NULL;

	if (!k)
		return NULL;
	*p11_kit_uri_get_module_info(k) = *p11_kit_uri_get_module_info(uri);
	*p11_kit_uri_get_slot_info(k) = *p11_kit_uri_get_slot_info(uri);
	*p11_kit_uri_get_token_info(k) = *p11_kit_uri_get_token_info(uri);
	p11_kit_uri_set_slot_id(k, p11_kit_uri_get_slot_id(uri));
	attrs = p11_kit_uri_get_attributes(uri, &nattrs);
	if (nattrs)
		p11_kit_uri_set_attributes(k, attrs, nattrs);
	p11_kit_uri_set_pin_source(k, p11_kit_uri_get_pin_source(uri));
	p11_kit_uri_set_module_name(k, p11_kit_uri_get_module_name(uri));
	p11_kit_uri_set_module_path(k, p11_kit_uri_get_module_path(uri));
	if (p11_kit_uri_format(k, P11_KIT_URI_FOR_ANY, &out) != P11_KIT_URI_OK)
		out = NULL;
	return out;
}

/*
 * Redaction parses: the PIN (as p11-kit would read it) never reaches p11-kit, and what is
 * shown is p11-kit's own formatting of the rest. A URI with no PIN and nothing unknown is
 * shown as written; an invalid one that held a PIN is not shown at all.
 */
char *
sg_p11_uri_redact(const char *spec)
{
	_cleanup_(sg_p11_kit_uri_freep) P11KitUri *uri = NULL;
	struct uri_parts p;
	char *out = NULL;

	if (uri_split(spec, &p) < 0)
		return NULL;
	if (!p.had_pin && !p.any_unknown) {
		/* Nothing p11-kit would take for a PIN and nothing unknown: shown as written. */
		uri_parts_done(&p);
		return strdup(spec);
	}
	uri = p11_kit_uri_new();
	if (!uri) {
		uri_parts_done(&p);
		return NULL;
	}
	if (p11_kit_uri_parse(p.rest, P11_KIT_URI_FOR_ANY, uri) != P11_KIT_URI_OK)
		out = strdup(p.had_pin ? "pkcs11:(an invalid URI holding a PIN, not shown)" : spec);
	else if (!p.had_pin && !p.unknown[0] && !p11_kit_uri_any_unrecognized(uri))
		out = strdup(spec);
	else
		out = format_known(uri);
	uri_parts_done(&p);
	return out;
}

char *
sg_p11_uri_extend(const char *base, const char *attrs)
{
	_cleanup_(sg_freep) char *b = sg_p11_uri_redact(base);
	char *q, *out = NULL;
	const char *query = "";
	size_t plen;

	if (!b)
		return NULL;
	q = strchr(b, '?');
	if (q) {
		query = q + 1;
		*q = '\0';
	}
	plen = strlen(b);
	if (asprintf(&out, "%s%s%s%s%s", b, plen > strlen("pkcs11:") ? ";" : "", attrs,
		     *query ? "?" : "", query) < 0)
		return NULL;
	return out;
}

int
sg_p11_uri_parse(const char *spec, bool allow_pin_value, P11KitUri **ret, struct sg_error *err)
{
	_cleanup_(sg_p11_kit_uri_freep) P11KitUri *uri = p11_kit_uri_new();
	_cleanup_(sg_freep) char *shown = NULL; /* for messages only: made when needed */
	struct uri_parts parts;
	int r;

	if (!uri || uri_split(spec, &parts) < 0)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	/* p11-kit gets the URI without its PIN: its copies could not be wiped. */
	r = p11_kit_uri_parse(parts.rest, P11_KIT_URI_FOR_ANY, uri);
	if ((r != P11_KIT_URI_OK || parts.bad_pin || p11_kit_uri_any_unrecognized(uri) ||
	     parts.unknown[0]) &&
	    !(shown = sg_p11_uri_redact(spec)))
		r = sg_error_set(err, SG_E_NOMEM, "out of memory");
	else if (r != P11_KIT_URI_OK)
		r = sg_error_set(err, SG_E_USAGE, "invalid PKCS#11 URI '%s': %s", shown,
				 p11_kit_uri_message(r));
	else if (parts.bad_pin)
		r = sg_error_set(
			err, SG_E_USAGE,
			"invalid PKCS#11 URI '%s': its pin-value is not valid percent-encoding",
			shown);
	else if (p11_kit_uri_any_unrecognized(uri) && parts.unknown_path[0])
		r = sg_error_set(err, SG_E_USAGE,
				 "PKCS#11 URI '%s' has an attribute sevgate does not know: '%s'",
				 shown, parts.unknown_path);
	else if (p11_kit_uri_any_unrecognized(uri))
		r = sg_error_set(err, SG_E_USAGE,
				 "PKCS#11 URI '%s' has an attribute sevgate does not know", shown);
	else if (parts.unknown[0])
		/* p11-kit keeps any other query attribute as a vendor query: fail closed. */
		r = sg_error_set(
			err, SG_E_USAGE,
			"PKCS#11 URI '%s' has a query attribute '%s' sevgate does not know "
			"(module-name, module-path, pin-source, pin-value)",
			shown, parts.unknown);
	else if (parts.had_pin && !allow_pin_value)
		r = sg_p11_pin_value_refused(err);
	uri_parts_done(&parts);
	if (r < 0)
		return r;
	*ret = SG_TAKE_PTR(uri);
	return 0;
}

/*
 * Under state.lock: load @path once; with @init_args, initialise it ourselves (p11-kit cannot
 * pass them), asking for OS locking and settling for none (the module is then called by one
 * thread at a time) when it cannot lock.
 */
static int
load_path(const char *path, const char *init_args, CK_FUNCTION_LIST **ret, struct sg_error *err)
{
	struct sg_p11_module *m;
	CK_FUNCTION_LIST *fl;
	bool thread_safe = true;
	CK_RV rv;

	for (m = state.modules; m; m = m->next)
		if (m->path && !strcmp(m->path, path)) {
			*ret = m->fl;
			return 0;
		}
	fl = p11_kit_module_load(path, init_args ? P11_KIT_MODULE_UNMANAGED : 0);
	if (!fl)
		return sg_error_set(err, SG_E_TOKEN, "cannot load PKCS#11 module '%s': %s", path,
				    p11_kit_message() ? p11_kit_message() : "failed");
	if (init_args) {
		CK_C_INITIALIZE_ARGS args = { 0 };

		args.flags = CKF_OS_LOCKING_OK;
		args.pReserved = (void *)init_args;
		rv = fl->C_Initialize(&args);
		if (rv == CKR_CANT_LOCK) {
			args.flags = 0;
			thread_safe = false;
			rv = fl->C_Initialize(&args);
		}
	} else {
		rv = p11_kit_module_initialize(fl);
	}
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		p11_kit_module_release(fl);
		return sg_error_set(err, SG_E_TOKEN, "cannot initialise PKCS#11 module '%s': %s",
				    path, sg_p11_rv_name(rv));
	}
	if (!(m = module_of(fl)) || !(m->path = strdup(path))) {
		if (rv == CKR_OK)
			fl->C_Finalize(NULL);
		p11_kit_module_release(fl);
		if (m) {
			state.modules = m->next;
			pthread_mutex_destroy(&m->lock);
			pthread_rwlock_destroy(&m->reset_lock);
			free(m);
		}
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	}
	m->thread_safe = thread_safe;
	if (!thread_safe)
		sg_debug("PKCS#11: module '%s' cannot lock for itself: one call at a time", path);
	*ret = fl;
	return 0;
}

/* Under state.lock: the modules @uri may name, in *@ret (@one when it names one). */
static int
load_modules(P11KitUri *uri, CK_FUNCTION_LIST ***ret, size_t *ret_n, CK_FUNCTION_LIST **one,
	     struct sg_error *err)
{
	const char *path = p11_kit_uri_get_module_path(uri);
	const char *name = p11_kit_uri_get_module_name(uri);
	const struct sg_p11_module_conf *m;
	int r;

	if (!path && name) {
		if ((r = sg_config_module(state.config_path, name, &m, err)) < 0)
			return r;
		if (r > 0) {
			if ((r = load_path(m->path, m->init_args, one, err)) < 0)
				return r;
			goto single;
		}
	}
	if (path) {
		if ((r = load_path(path, NULL, one, err)) < 0)
			return r;
		goto single;
	}
	if (!state.registered_loaded) {
		state.registered = p11_kit_modules_load_and_initialize(0);
		state.registered_loaded = true;
	}
	if (state.registered)
		for (size_t i = 0; state.registered[i]; i++) {
			_cleanup_(sg_freep) char *mname =
				p11_kit_module_get_name(state.registered[i]);

			if (name && (!mname || strcmp(mname, name)))
				continue;
			if (!name) {
				*ret = state.registered;
				for (*ret_n = 0; state.registered[*ret_n]; (*ret_n)++)
					;
				return 0;
			}
			one[0] = state.registered[i];
			goto single;
		}
	if (name)
		return sg_error_set(err, SG_E_TOKEN,
				    "no PKCS#11 module named '%s' is configured (p11-kit or "
				    "sevgate.conf pkcs11-modules)",
				    name);
	return sg_error_set(err, SG_E_TOKEN,
			    "no PKCS#11 modules are configured (give module-path= in the URI)");
single:
	*ret = one;
	*ret_n = 1;
	return 0;
}

/*
 * A PIN file, read by us into locked memory (p11-kit's file callback leaves its copy in freed
 * heap). The whole file but trailing newlines is the PIN.
 */
static int
read_pin_file(const char *path, const char *what, struct sg_secmem *pin, size_t *ret_n,
	      struct stat *ret_st, struct sg_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	size_t n = 0;

	if (fd < 0)
		return sg_error_set(err, SG_E_TOKEN, "cannot read the PIN from %s '%s': %s", what,
				    path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return sg_error_set(err, SG_E_TOKEN, "cannot read the PIN from %s '%s': %s", what,
				    path, "not a regular file");
	}
	/* As ssh refuses a private key file others can read: checked on the open file. */
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		return sg_error_set(err, SG_E_INSECURE,
				    "PIN file '%s' (%s) has mode %04o: group and others must have "
				    "no access (chmod go-rwx)",
				    path, what, (unsigned)(st.st_mode & 07777));
	}
	for (;;) {
		ssize_t got = read(fd, pin->data + n, PIN_MAX - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;

			close(fd);
			return sg_error_set(err, SG_E_TOKEN, "cannot read the PIN from %s '%s': %s",
					    what, path, strerror(e));
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n == PIN_MAX) {
			close(fd);
			return sg_error_set(err, SG_E_USAGE, "PIN is too long");
		}
	}
	close(fd);
	while (n > 0 && (pin->data[n - 1] == '\n' || pin->data[n - 1] == '\r'))
		pin->data[--n] = 0;
	*ret_n = n;
	*ret_st = st;
	return 0;
}

/*
 * Signals at the PIN prompt, as OpenSSH's readpassphrase(3) handles them: the handler only
 * records the signal and returns, so read() fails with EINTR; the prompt then turns echo back
 * on, restores the dispositions it found and only then sends the signal to the process again,
 * which now takes its old effect. After a stop (SIGTSTP, SIGTTIN, SIGTTOU) and a SIGCONT the
 * terminal is set again and the prompt shown again. A signal ignored when the prompt starts
 * (SIGINT and SIGHUP under nohup) gets no handler: it stays ignored.
 */
static volatile sig_atomic_t prompt_signo[NSIG];

static void
prompt_signal(int sig)
{
	prompt_signo[sig] = 1;
}

static const int prompt_signals[] = { SIGALRM, SIGHUP,	SIGINT,	 SIGPIPE, SIGQUIT,
				      SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU };

/*
 * read() of the answer; a signal caught before it starts ends it too: the signals are blocked
 * from the look at prompt_signo until ppoll, which unblocks them atomically (no lost wakeup).
 */
static ssize_t
prompt_read(int fd, void *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	sigset_t block, orig;
	ssize_t got = -1;
	bool caught = false;
	int e = EINTR;

	sigemptyset(&block);
	for (size_t i = 0; i < SG_ELEMENTSOF(prompt_signals); i++)
		sigaddset(&block, prompt_signals[i]);
	pthread_sigmask(SIG_BLOCK, &block, &orig);
	for (size_t i = 0; i < SG_ELEMENTSOF(prompt_signals); i++)
		caught |= prompt_signo[prompt_signals[i]] != 0;
	if (!caught && ppoll(&p, 1, NULL, &orig) > 0) {
		got = read(fd, buf, len);
		e = errno;
	} else if (!caught) {
		e = errno;
	}
	pthread_sigmask(SIG_SETMASK, &orig, NULL);
	errno = e;
	return got;
}

static int
prompt_pin(const char *token, struct sg_secmem *pin, size_t *ret_n, struct sg_error *err)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	struct sigaction sa = { .sa_handler = prompt_signal }, saved[SG_ELEMENTSOF(prompt_signals)];
	struct termios old, quiet;
	char prompt[128];
	bool again;
	ssize_t got;
	size_t n;

	if (fd < 0 || !isatty(STDIN_FILENO)) {
		if (fd >= 0)
			close(fd);
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s' needs a PIN: use pin-source=file:PATH in the "
				    "URI or --pin-file",
				    token);
	}
	snprintf(prompt, sizeof(prompt), "PIN for token '%s': ", token);
	sigemptyset(&sa.sa_mask); /* no SA_RESTART: a signal ends the read with EINTR */
	do {
		bool signalled = false;

		again = false;
		for (size_t i = 0; i < SG_ELEMENTSOF(prompt_signals); i++)
			prompt_signo[prompt_signals[i]] = 0;
		/* Handlers first: a SIGTTOU from tcsetattr in the background is caught. */
		for (size_t i = 0; i < SG_ELEMENTSOF(prompt_signals); i++) {
			sigaction(prompt_signals[i], NULL, &saved[i]);
			if (saved[i].sa_handler != SIG_IGN)
				sigaction(prompt_signals[i], &sa, NULL);
		}
		if (tcgetattr(fd, &old) < 0) {
			got = -1;
		} else {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			/*
			 * Echo off (and stale typeahead flushed) before the prompt shows:
			 * an answer typed or pasted as soon as it appears is never flushed.
			 */
			while (tcsetattr(fd, TCSAFLUSH, &quiet) < 0 && errno == EINTR &&
			       !prompt_signo[SIGTTOU])
				;
			got = -1;
			if (!prompt_signo[SIGTTOU] && write(fd, prompt, strlen(prompt)) >= 0)
				got = prompt_read(fd, pin->data, PIN_MAX - 1);
			while (tcsetattr(fd, TCSANOW, &old) < 0 && errno == EINTR &&
			       !prompt_signo[SIGTTOU])
				;
			if (write(fd, "\n", 1) < 0) {
				/* nothing to do: the prompt's newline is cosmetic */
			}
		}
		for (size_t i = 0; i < SG_ELEMENTSOF(prompt_signals); i++)
			if (saved[i].sa_handler != SIG_IGN)
				sigaction(prompt_signals[i], &saved[i], NULL);
		/* The old dispositions are back: each signal caught now takes its effect. */
		for (size_t i = 0; i < SG_ELEMENTSOF(prompt_signals); i++) {
			int sig = prompt_signals[i];

			if (!prompt_signo[sig])
				continue;
			signalled = true;
			kill(getpid(), sig);
			if (sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
				again = true; /* stopped and continued: ask again */
		}
		if (signalled) {
			sg_wipe(pin->data, PIN_MAX);
			if (!again) {
				close(fd);
				return sg_error_set(err, SG_E_TOKEN,
						    "the PIN prompt was interrupted");
			}
		}
	} while (again);
	close(fd);
	if (got < 0)
		return sg_error_set(err, SG_E_TOKEN, "cannot prompt for the PIN");
	if (got == 0)
		return sg_error_set(err, SG_E_TOKEN, "no PIN entered");
	n = (size_t)got;
	while (n > 0 && (pin->data[n - 1] == '\n' || pin->data[n - 1] == '\r'))
		pin->data[--n] = 0;
	*ret_n = n;
	return 0;
}

/*
 * The PIN, in locked memory: the URI's pin-value (taken from @spec by sevgate itself; p11-kit
 * never had it), the URI's pin-source, --pin-file, then a prompt on the terminal.
 */
struct pin_source {
	const char *path; /* the file it was read from (read again for a later login), or NULL */
	const char *what;
	struct stat st; /* the file as read */
	bool typed;	/* at the prompt: a person is there to type it again */
};

static int
get_pin(P11KitUri *uri, const char *spec, const char *token, const struct sg_key_options *o,
	struct sg_secmem **ret, struct pin_source *from, struct sg_error *err)
{
	_cleanup_(sg_secmem_freep) struct sg_secmem *pin = sg_secmem_new(PIN_MAX);
	const char *src = p11_kit_uri_get_pin_source(uri);
	struct uri_parts parts;
	size_t n = 0;
	int r;

	if (!pin || uri_split(spec, &parts) < 0)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	if (parts.had_pin) {
		r = 0;
		if (!o || !o->allow_pin_value)
			r = sg_p11_pin_value_refused(err);
		else if (!parts.pin || parts.bad_pin)
			r = sg_error_set(err, SG_E_USAGE, "the URI's pin-value is not valid");
		else if ((n = parts.pin->len) >= PIN_MAX)
			r = sg_error_set(err, SG_E_USAGE, "PIN is too long");
		else
			memcpy(pin->data, parts.pin->data, n);
		uri_parts_done(&parts);
		if (r < 0)
			return r;
	} else {
		uri_parts_done(&parts);
		if (src && strncmp(src, "file:", 5))
			return sg_error_set(err, SG_E_USAGE,
					    "pin-source '%s' is not supported: use file:PATH", src);
		if (src) {
			from->path = src + 5;
			from->what = "pin-source";
		} else if (o && o->pin_file) {
			from->path = o->pin_file;
			from->what = "--pin-file";
		}
		if (from->path)
			r = read_pin_file(from->path, from->what, pin, &n, &from->st, err);
		else if ((r = prompt_pin(token, pin, &n, err)) == 0)
			from->typed = true;
		if (r < 0)
			return r;
	}
	pin->len = n;
	*ret = SG_TAKE_PTR(pin);
	return 0;
}

static void
copy_label(char out[33], const unsigned char in[32])
{
	size_t n = 32;

	memcpy(out, in, 32);
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

const char *
sg_p11_token_label(const struct sg_p11_token *t)
{
	return t->label;
}

/* Whether the file @a is still the file @b was (a changed PIN file is tried again). */
static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The PIN for a login after a reset: its file, read again. */
static int
pin_again(struct sg_p11_token *t, struct sg_secmem **ret, struct stat *ret_st, struct sg_error *err)
{
	_cleanup_(sg_secmem_freep) struct sg_secmem *pin = NULL;
	size_t n = 0;
	int r;

	if (!t->pin_path)
		/* Held, it would outlive the login in memory: the next URI naming the token logs in. */
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s' must log in again, and its PIN was given in a URI "
				    "or typed, so it is not kept: use pin-source=file:PATH or "
				    "--pin-file for a token that may reset",
				    t->label);
	if (!(pin = sg_secmem_new(PIN_MAX)))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	if ((r = read_pin_file(t->pin_path, t->pin_what, pin, &n, ret_st, err)) < 0)
		return r;
	pin->len = n;
	*ret = SG_TAKE_PTR(pin);
	return 0;
}

/*
 * Log in with @pin, read from the file @file (its fstat), typed (@typed) or given in a URI. A
 * PIN the token refused is not tried again, since every try counts towards locking the token:
 * a file's until the file changes, a URI's for the rest of the process (it is not kept, so a
 * later one cannot be told apart); a person at the prompt may type again.
 */
static int
login(struct sg_p11_token *t, const struct sg_secmem *pin, const struct stat *file, bool typed,
      struct sg_error *err)
{
	CK_RV rv;

	if (file ? t->pin_refused && same_file(file, &t->refused) : !typed && t->held_refused)
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s' refused this PIN before: it is not tried again%s",
				    t->label, file ? " until its file changes" : "");
	rv = t->fl->C_Login(t->ro, CKU_USER, pin->data, pin->len);
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_EXPIRED ||
	    rv == CKR_PIN_LOCKED) {
		if (file) {
			t->pin_refused = true;
			t->refused = *file;
		} else if (!typed) {
			t->held_refused = true;
		}
	}
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return sg_error_set(err, SG_E_TOKEN, "token '%s': login failed: %s", t->label,
				    sg_p11_rv_name(rv));
	if (rv == CKR_OK)
		t->stats.logins++;
	t->logged_in = true;
	return 0;
}

static bool
same_token(const struct sg_p11_token *t, const CK_TOKEN_INFO *ti)
{
	return !memcmp(ti->label, t->label_raw, 32) &&
	       !memcmp(ti->manufacturerID, t->manufacturer, 32) &&
	       !memcmp(ti->serialNumber, t->serial, 16);
}

/* Under the lock: whether @t's slot holds @t (label, manufacturer and serial). */
static bool
slot_holds_token(struct sg_p11_token *t)
{
	CK_TOKEN_INFO ti;

	return t->fl->C_GetTokenInfo(t->slot, &ti) == CKR_OK && same_token(t, &ti);
}

/*
 * Under the lock: the slot now holding @t, after a reset moved it. Two slots holding tokens
 * alike cannot be told apart: that fails closed (CKR_TOKEN_NOT_RECOGNIZED).
 */
static CK_RV
find_slot_again(struct sg_p11_token *t)
{
	CK_SLOT_ID slots[MAX_SLOTS], found = 0;
	CK_ULONG n = MAX_SLOTS, matches = 0;
	CK_RV rv = t->fl->C_GetSlotList(CK_TRUE, slots, &n);

	if (rv != CKR_OK)
		return rv;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;

		if (t->fl->C_GetTokenInfo(slots[i], &ti) == CKR_OK && same_token(t, &ti) &&
		    matches++ == 0)
			found = slots[i];
	}
	if (matches > 1)
		return CKR_TOKEN_NOT_RECOGNIZED;
	if (matches == 0)
		return CKR_TOKEN_NOT_PRESENT;
	t->slot = found;
	return CKR_OK;
}

static CK_RV
open_session(struct sg_p11_token *t, bool rw, CK_SESSION_HANDLE *ret)
{
	CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
	CK_RV rv = t->fl->C_OpenSession(t->slot, flags, NULL, NULL, ret);

	if (rv == CKR_OK)
		t->stats.sessions_opened++;
	return rv;
}

/*
 * Under both locks, the reset lock exclusive: the read-only session, on the slot that holds
 * this very token (after a reset another token may sit in its old slot: checked before any
 * login, which would spend that token's PIN tries), logged in with @pin (from @file, or NULL:
 * given) or else the PIN from its file.
 */
static int
reopen(struct sg_p11_token *t, const struct sg_secmem *pin, const struct stat *file, bool typed,
       struct sg_error *err)
{
	_cleanup_(sg_secmem_freep) struct sg_secmem *again = NULL;
	struct stat st;
	CK_RV rv;
	int r;

	if (!slot_holds_token(t) && (rv = find_slot_again(t)) != CKR_OK)
		return sg_error_set(err, SG_E_TOKEN, "token '%s' is %s", t->label,
				    rv == CKR_TOKEN_NOT_RECOGNIZED ?
					    "in several slots now, alike: cannot tell which it is" :
					    "in no slot now");
	if ((rv = open_session(t, false, &t->ro)) != CKR_OK)
		return sg_error_set(err, SG_E_TOKEN, "token '%s': C_OpenSession failed: %s",
				    t->label, sg_p11_rv_name(rv));
	t->have_ro = true;
	if (!t->login_required)
		return 0;
	if (!pin && (r = pin_again(t, &again, &st, err)) < 0)
		goto fail;
	if ((r = login(t, pin ? pin : again, pin ? file : &st, pin && typed, err)) < 0)
		goto fail;
	return 0;
fail:
	close_sessions(t);
	return r;
}

static int
open_rw(struct sg_p11_token *t, struct sg_error *err)
{
	CK_RV rv = open_session(t, true, &t->rw);

	if (rv != CKR_OK)
		return sg_error_set(err, SG_E_TOKEN,
				    "token '%s': C_OpenSession (read-write) failed: %s", t->label,
				    sg_p11_rv_name(rv));
	t->have_rw = true;
	return 0;
}

/* An operation's locks: the module's reset lock shared, then the token's. */
static void
lock_token(struct sg_p11_token *t)
{
	pthread_rwlock_rdlock(&t->mod->reset_lock);
	pthread_mutex_lock(t->lock);
}

static void
unlock_token(struct sg_p11_token *t)
{
	pthread_mutex_unlock(t->lock);
	pthread_rwlock_unlock(&t->mod->reset_lock);
}

static bool
needs_open(const struct sg_p11_token *t, unsigned flags)
{
	return !t->have_ro || ((flags & SG_P11_RW) && !t->have_rw);
}

/*
 * Holding neither lock: open what @t lacks for @flags, alone with the module (a new session
 * may get the handle of one a reset closed, still held by another token's operation: the
 * module's other tokens check their sessions before their next one). @pin and @file as for
 * reopen.
 */
static int
open_alone(struct sg_p11_token *t, unsigned flags, const struct sg_secmem *pin,
	   const struct stat *file, bool typed, struct sg_error *err)
{
	struct sg_p11_module *m = t->mod;
	int r = 0;

	pthread_rwlock_wrlock(&m->reset_lock);
	pthread_mutex_lock(t->lock);
	if (needs_open(t, flags)) {
		if (!t->have_ro)
			r = reopen(t, pin, file, typed, err);
		if (r == 0 && (flags & SG_P11_RW) && !t->have_rw)
			r = open_rw(t, err);
		t->seen_resets = atomic_fetch_add(&m->resets, 1) + 1;
	}
	pthread_mutex_unlock(t->lock);
	pthread_rwlock_unlock(&m->reset_lock);
	return r;
}

/*
 * Under state.lock: the entry for @slot of @fl, made on first use (a session opened and
 * logged in, the PIN's source kept for a login after a reset). An entry is @slot's while the
 * slot holds its token; two slots holding tokens alike (a copied SoftHSM token keeps its
 * serial) are two entries; an entry whose slot no longer holds it is found by its token.
 */
static int
open_token(struct sg_p11_module *m, CK_ULONG s, P11KitUri *uri, const char *spec,
	   const struct sg_key_options *o, struct sg_p11_token **ret, struct sg_error *err)
{
	_cleanup_(sg_secmem_freep) struct sg_secmem *pin = NULL;
	const CK_TOKEN_INFO *ti = &m->ti[s];
	CK_SLOT_ID slot = m->slots[s];
	struct sg_p11_token *t;
	struct pin_source src = { 0 };
	int r = 0;

	for (t = state.tokens; t; t = t->next)
		if (t->fl == m->fl && t->home == slot && same_token(t, ti)) {
			*ret = t;
			return 0;
		}
	for (t = state.tokens; t; t = t->next) {
		bool home_holds = false;

		if (t->fl != m->fl || !same_token(t, ti))
			continue;
		for (CK_ULONG i = 0; i < m->nslots; i++)
			home_holds |= m->slots[i] == t->home && m->slot_rv[i] == CKR_OK &&
				      same_token(t, &m->ti[i]);
		if (!home_holds) {
			t->home = slot; /* moved here: reopen finds its new slot */
			*ret = t;
			return 0;
		}
	}
	if (!(t = calloc(1, sizeof(*t))))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	t->fl = m->fl;
	t->slot = t->home = slot;
	copy_label(t->label, ti->label);
	memcpy(t->label_raw, ti->label, 32);
	memcpy(t->serial, ti->serialNumber, 16);
	memcpy(t->manufacturer, ti->manufacturerID, 32);
	t->login_required = (ti->flags & CKF_LOGIN_REQUIRED) != 0;
	pthread_mutex_init(&t->own_lock, NULL);
	t->lock = m->thread_safe ? &t->own_lock : &m->lock;
	t->mod = m;
	t->seen_resets = atomic_load(&m->resets);
	/*
	 * A PIN file is read again for a login after a reset. A PIN given in the URI or typed is
	 * not kept (no copy outlives the login): the next URI naming the token logs in then.
	 */
	if (t->login_required && (r = get_pin(uri, spec, t->label, o, &pin, &src, err)) == 0 &&
	    src.path && !(t->pin_path = strdup(src.path)))
		r = sg_error_set(err, SG_E_NOMEM, "out of memory");
	t->pin_what = src.what;
	if (r == 0)
		r = open_alone(t, 0, pin, src.path ? &src.st : NULL, src.typed, err);
	/*
	 * Kept even when it could not log in: what it learnt (a refused PIN, not to be tried
	 * again) stays, and the next URI naming it logs in (login_with).
	 */
	t->next = state.tokens;
	state.tokens = t;
	if (r < 0)
		return r;
	sg_debug("PKCS#11: opened token '%s' (slot %lu, %s, %s)", t->label, (unsigned long)slot,
		 m->thread_safe ? "its own lock" : "one lock for its module",
		 t->logged_in ? "logged in" : "no login needed");
	*ret = t;
	return 0;
}

/*
 * Holding no lock: @t closed by a reset it could not log in after, with a PIN that is not
 * kept: this URI's PIN logs it in.
 */
static int
login_with(struct sg_p11_token *t, P11KitUri *uri, const char *spec, const struct sg_key_options *o,
	   struct sg_error *err)
{
	_cleanup_(sg_secmem_freep) struct sg_secmem *pin = NULL;
	struct pin_source src = { 0 };
	bool closed;
	int r;

	lock_token(t);
	closed = !t->have_ro && t->login_required;
	unlock_token(t);
	if (!closed)
		return 0;
	if ((r = get_pin(uri, spec, t->label, o, &pin, &src, err)) < 0 ||
	    (r = open_alone(t, 0, pin, src.path ? &src.st : NULL, src.typed, err)) < 0)
		return r;
	/* The file that logged it in is the one to read after the next reset. */
	if (src.path) {
		char *path = strdup(src.path);

		if (!path)
			return sg_error_set(err, SG_E_NOMEM, "out of memory");
		lock_token(t);
		free(t->pin_path);
		t->pin_path = path;
		t->pin_what = src.what;
		unlock_token(t);
	}
	return 0;
}

int
sg_p11_tokens(P11KitUri *uri, const char *spec, const struct sg_key_options *o,
	      struct sg_p11_token ***ret, struct sg_error *err)
{
	_cleanup_(sg_freep) char *shown = NULL; /* for messages only: made when needed */
	_cleanup_(sg_freep) struct sg_p11_token **list = NULL;
	CK_FUNCTION_LIST **mods = NULL, *one[1];
	size_t nmods = 0, n = 0, cap = 0;
	const char *failed_call = NULL;
	CK_RV failed_rv = CKR_OK;
	int r = 0;

	pthread_mutex_lock(&state.lock);
	if ((r = load_modules(uri, &mods, &nmods, one, err)) < 0)
		goto out;
	for (int pass = 0; pass < 2 && n == 0; pass++) {
		/* A second pass re-reads the slots, for a token inserted since the first look. */
		for (size_t i = 0; i < nmods; i++) {
			struct sg_p11_module *m = module_of(mods[i]);

			if (!m) {
				r = sg_error_set(err, SG_E_NOMEM, "out of memory");
				goto out;
			}
			/* A module that cannot lock is called by one thread at a time, here too. */
			if (!m->thread_safe)
				pthread_mutex_lock(&m->lock);
			describe(m, pass == 1);
			if (!m->thread_safe)
				pthread_mutex_unlock(&m->lock);
			if (m->rv != CKR_OK) {
				failed_call = m->failed_call;
				failed_rv = m->rv;
				continue;
			}
			if (!p11_kit_uri_match_module_info(uri, &m->info))
				continue;
			for (CK_ULONG s = 0; s < m->nslots; s++) {
				struct sg_p11_token *t = NULL;
				bool dup = false;

				if (m->slot_rv[s] != CKR_OK) {
					failed_call = "C_GetSlotInfo/C_GetTokenInfo";
					failed_rv = m->slot_rv[s];
					continue;
				}
				if (!p11_kit_uri_match_slot_info(uri, &m->si[s]) ||
				    !p11_kit_uri_match_token_info(uri, &m->ti[s]) ||
				    !(m->ti[s].flags & CKF_TOKEN_INITIALIZED))
					continue;
				if ((r = open_token(m, s, uri, spec, o, &t, err)) < 0)
					goto out;
				for (size_t k = 0; k < n; k++)
					dup |= list[k] == t;
				if (dup)
					continue;
				if (n == cap) {
					size_t c = cap ? 2 * cap : 4;
					struct sg_p11_token **l = reallocarray(list, c, sizeof(*l));

					if (!l) {
						r = sg_error_set(err, SG_E_NOMEM, "out of memory");
						goto out;
					}
					list = l;
					cap = c;
				}
				list[n++] = t;
			}
		}
	}
out:
	pthread_mutex_unlock(&state.lock);
	if (r < 0)
		return r;
	/* Entries are never freed before sg_p11_shutdown: logged in again without state.lock. */
	for (size_t k = 0; k < n; k++)
		if ((r = login_with(list[k], uri, spec, o, err)) < 0)
			return r;
	if (n == 0 && !(shown = sg_p11_uri_redact(spec)))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	if (n == 0 && failed_call)
		return sg_error_set(err, SG_E_TOKEN,
				    "no PKCS#11 token matches '%s' (%s failed: %s)", shown,
				    failed_call, sg_p11_rv_name(failed_rv));
	if (n == 0)
		return sg_error_set(err, SG_E_TOKEN, "no PKCS#11 token matches '%s'", shown);
	*ret = SG_TAKE_PTR(list);
	return (int)n;
}

/* Under the token's lock: whether @h is still a session on @t's slot. */
static bool
session_ours(struct sg_p11_token *t, CK_SESSION_HANDLE h)
{
	CK_SESSION_INFO si;

	return t->fl->C_GetSessionInfo(h, &si) == CKR_OK && si.slotID == t->slot;
}

/*
 * Under the token's lock: the sessions are gone; they are closed only where still ours (after
 * a reset a handle may name another token's new session, which must stay open), and the next
 * operation opens them again. Handles may differ then: the index is read again.
 */
static void
sessions_lost(struct sg_p11_token *t)
{
	/* A slot that holds another token now: its sessions are that token's, not ours. */
	if ((t->have_ro || t->have_rw) && !slot_holds_token(t))
		t->have_ro = t->have_rw = false;
	if (t->have_rw && !session_ours(t, t->rw))
		t->have_rw = false;
	if (t->have_ro && !session_ours(t, t->ro))
		t->have_ro = false;
	close_sessions(t);
	t->gen++;
	t->stats.recoveries++;
	sg_p11_index_reset(t);
}

/*
 * Under both locks: after a reset of one of the module's tokens the others check their
 * sessions before their next operation (they may be gone, or their handles reused).
 */
static void
check_sessions(struct sg_p11_token *t)
{
	uint64_t resets = atomic_load(&t->mod->resets);

	if (t->seen_resets == resets)
		return;
	t->seen_resets = resets;
	if ((t->have_ro && !session_ours(t, t->ro)) || (t->have_rw && !session_ours(t, t->rw)) ||
	    ((t->have_ro || t->have_rw) && !slot_holds_token(t))) {
		sg_debug("PKCS#11: token '%s': its sessions went with a reset", t->label);
		sessions_lost(t);
	}
}

/*
 * Take both locks with @t ready for an operation with @flags: what a reset or a failed
 * recovery closed, or the read-write session asked for the first time, is opened first.
 */
static int
lock_ready(struct sg_p11_token *t, unsigned flags, struct sg_error *err)
{
	int r;

	lock_token(t);
	check_sessions(t);
	if (!needs_open(t, flags))
		return 0;
	unlock_token(t);
	if (flags & SG_P11_IF_OPEN)
		return sg_error_set(err, SG_E_TOKEN, "token '%s' has no session open", t->label);
	if ((r = open_alone(t, flags, NULL, NULL, false, err)) < 0)
		return r;
	lock_token(t);
	check_sessions(t);
	if (needs_open(t, flags)) {
		unlock_token(t);
		return sg_error_set(err, SG_E_TOKEN, "token '%s': its sessions were lost again",
				    t->label);
	}
	return 0;
}

int
sg_p11_begin(struct sg_p11_token *t, unsigned flags, struct sg_p11_op *op, struct sg_error *err)
{
	int r;

	if ((r = lock_ready(t, flags, err)) < 0)
		return r;
	if (flags & SG_P11_CRYPTO)
		t->stats.operations++;
	*op = (struct sg_p11_op){ .t = t,
				  .fl = t->fl,
				  .session = (flags & SG_P11_RW) ? t->rw : t->ro,
				  .slot = t->slot,
				  .flags = flags };
	return 0;
}

static bool
session_lost(CK_RV rv)
{
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
	       rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
	       rv == CKR_USER_NOT_LOGGED_IN;
}

bool
sg_p11_again(struct sg_p11_op *op, CK_RV rv)
{
	struct sg_p11_token *t = op->t;
	struct sg_p11_module *m = t->mod;
	struct sg_error e = { 0 };
	uint64_t gen = t->gen;
	int r = 0;

	if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID) {
		if (op->looked_again)
			return false;
		op->looked_again = op->stale = true;
		return true;
	}
	if (op->retried || !session_lost(rv))
		return false;
	op->retried = true;
	sg_debug("PKCS#11: token '%s': %s: opening the session again", t->label,
		 sg_p11_rv_name(rv));
	/* Alone with the module while the sessions are re-established (reset_lock says why). */
	unlock_token(t);
	pthread_rwlock_wrlock(&m->reset_lock);
	pthread_mutex_lock(t->lock);
	if (t->gen == gen) { /* else another thread of this token did it meanwhile */
		sessions_lost(t);
		t->seen_resets = atomic_fetch_add(&m->resets, 1) + 1;
		/* One login attempt per recovery: a failed one is reported, not made again. */
		r = reopen(t, NULL, NULL, false, &e);
		if (r == 0 && (op->flags & SG_P11_RW))
			r = open_rw(t, &e);
	}
	pthread_mutex_unlock(t->lock);
	pthread_rwlock_unlock(&m->reset_lock);
	/* What another thread's recovery did not open (the read-write session) is opened now. */
	if (r == 0 && (r = lock_ready(t, op->flags, &e)) < 0)
		lock_token(t);
	else if (r < 0)
		lock_token(t);
	if (r < 0) {
		sg_error_set(
			&op->why, e.code ? e.code : SG_E_TOKEN,
			"token '%s': the session was lost (%s) and could not be opened again: %s",
			t->label, sg_p11_rv_name(rv), e.msg);
		return false;
	}
	op->session = (op->flags & SG_P11_RW) ? t->rw : t->ro;
	op->slot = t->slot;
	return true;
}

void
sg_p11_end(struct sg_p11_op *op)
{
	unlock_token(op->t);
	op->t = NULL;
}

int
sg_p11_finish(struct sg_p11_op *op, int r, const struct sg_error *e, struct sg_error *err)
{
	const struct sg_error *why = op->why.code ? &op->why : e;

	sg_p11_end(op);
	if (r < 0 && err && why->code && !err->code)
		*err = *why;
	/* The code of the reason reported: a recovery that failed on an insecure PIN file is 3. */
	return r < 0 && op->why.code ? op->why.code : r;
}

uint64_t
sg_p11_generation(const struct sg_p11_op *op)
{
	return op->t->gen;
}

void
sg_p11_token_stats(struct sg_p11_token *t, struct sg_p11_stats *ret)
{
	pthread_mutex_lock(t->lock);
	*ret = t->stats;
	pthread_mutex_unlock(t->lock);
}

void
sg_p11_stats(struct sg_p11_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	pthread_mutex_lock(&state.lock);
	for (struct sg_p11_token *t = state.tokens; t; t = t->next) {
		struct sg_p11_stats s;

		sg_p11_token_stats(t, &s);
		ret->tokens++;
		ret->logins += s.logins;
		ret->index_builds += s.index_builds;
		ret->find_calls += s.find_calls;
		ret->operations += s.operations;
		ret->recoveries += s.recoveries;
		ret->misses_limited += s.misses_limited;
		ret->sessions_opened += s.sessions_opened;
	}
	pthread_mutex_unlock(&state.lock);
}

static char *
dup_or_null(const char *s, bool *oom)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		*oom = true;
	return d;
}

/* uri_split as the key layer runs it, then p11-kit's own parse of the rest: no text search. */
int
sg_p11_uri_inspect(const char *uri, struct sg_p11_uri_facts *ret, struct sg_error *err)
{
	_cleanup_(sg_p11_kit_uri_freep) P11KitUri *u = p11_kit_uri_new();
	struct uri_parts parts;
	bool oom = false;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!u || uri_split(uri, &parts) < 0)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	r = p11_kit_uri_parse(parts.rest, P11_KIT_URI_FOR_ANY, u);
	if (r != P11_KIT_URI_OK) {
		_cleanup_(sg_freep) char *shown = sg_p11_uri_redact(uri);

		r = shown ? sg_error_set(err, SG_E_USAGE, "invalid PKCS#11 URI '%s': %s", shown,
					 p11_kit_uri_message(r)) :
			    sg_error_set(err, SG_E_NOMEM, "out of memory");
	} else {
		ret->has_pin_value = parts.had_pin;
		ret->any_unknown = parts.any_unknown || p11_kit_uri_any_unrecognized(u);
		ret->module_path = dup_or_null(p11_kit_uri_get_module_path(u), &oom);
		ret->module_name = dup_or_null(p11_kit_uri_get_module_name(u), &oom);
		ret->pin_source = dup_or_null(p11_kit_uri_get_pin_source(u), &oom);
		r = oom ? sg_error_set(err, SG_E_NOMEM, "out of memory") : 0;
	}
	uri_parts_done(&parts);
	if (r < 0)
		sg_p11_uri_facts_done(ret);
	return r;
}

void
sg_p11_uri_facts_done(struct sg_p11_uri_facts *f)
{
	free(f->module_path);
	free(f->module_name);
	free(f->pin_source);
	memset(f, 0, sizeof(*f));
}

int
sg_p11_pin_value_refused(struct sg_error *err)
{
	return sg_error_set(err, SG_E_INSECURE,
			    "pin-value in a URI on the command line would show in ps: use "
			    "pin-source=file:PATH in the URI or --pin-file PATH");
}
