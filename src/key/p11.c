/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "key/p11.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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

#define MAX_TOKENS 32
#define PIN_MAX 256

/*
 * Process-wide state: modules are loaded and tokens logged in once per
 * process, however many keys are opened (a batch opens thousands).
 */
static struct {
	CK_FUNCTION_LIST **registered; /* p11-kit's configured modules, loaded on first need */
	bool registered_loaded;
	CK_FUNCTION_LIST *by_path[8];
	char *paths[8];
	size_t npaths;
	struct sg_p11_token tokens[MAX_TOKENS];
	size_t ntokens;
	/* The configuration file to ask src/config for module-name= entries (NULL:
	 * $SEVGATE_CONFIG or the default path); src/config holds what it read. */
	char *config_path;
	/* Slot and token descriptions per module, read once: SoftHSM reads its token
	 * directory on every C_GetTokenInfo. */
	struct slot_cache {
		CK_FUNCTION_LIST *fl;
		CK_INFO info;
		CK_RV rv;
		const char *failed_call;
		CK_ULONG nslots;
		CK_SLOT_ID slots[64];
		CK_SLOT_INFO si[64];
		CK_TOKEN_INFO ti[64];
		CK_RV slot_rv[64];
	} slots[16];
	size_t nslotcaches;
} state;

static struct slot_cache *
slot_cache(CK_FUNCTION_LIST *fl, bool refresh)
{
	struct slot_cache *sc = NULL;

	for (size_t i = 0; i < state.nslotcaches; i++)
		if (state.slots[i].fl == fl)
			sc = &state.slots[i];
	if (sc && !refresh)
		return sc;
	if (!sc) {
		if (state.nslotcaches == SG_ELEMENTSOF(state.slots))
			return NULL;
		sc = &state.slots[state.nslotcaches++];
	}
	memset(sc, 0, sizeof(*sc));
	sc->fl = fl;
	sc->nslots = SG_ELEMENTSOF(sc->slots);
	if ((sc->rv = fl->C_GetInfo(&sc->info)) != CKR_OK) {
		sc->failed_call = "C_GetInfo";
		return sc;
	}
	if ((sc->rv = fl->C_GetSlotList(CK_TRUE, sc->slots, &sc->nslots)) != CKR_OK) {
		sc->failed_call = "C_GetSlotList";
		sc->nslots = 0;
		return sc;
	}
	for (CK_ULONG s = 0; s < sc->nslots; s++) {
		sc->slot_rv[s] = fl->C_GetSlotInfo(sc->slots[s], &sc->si[s]);
		if (sc->slot_rv[s] == CKR_OK)
			sc->slot_rv[s] = fl->C_GetTokenInfo(sc->slots[s], &sc->ti[s]);
	}
	return sc;
}

int
sg_p11_set_config(const char *path, struct sg_error *err)
{
	const struct sg_config *c;

	free(state.config_path);
	state.config_path = NULL;
	if (!path)
		return 0;
	state.config_path = strdup(path);
	if (!state.config_path)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	/* A file named on the command line is checked now, not at first use. */
	return sg_config_get(state.config_path, &c, err);
}

void
sg_p11_shutdown(void)
{
	for (size_t i = 0; i < state.ntokens; i++) {
		sg_p11_index_invalidate(&state.tokens[i]);
		if (state.tokens[i].logged_in)
			state.tokens[i].fl->C_Logout(state.tokens[i].session);
		state.tokens[i].fl->C_CloseSession(state.tokens[i].session);
	}
	state.ntokens = 0;
	for (size_t i = 0; i < state.npaths; i++) {
		state.by_path[i]->C_Finalize(NULL);
		p11_kit_module_release(state.by_path[i]);
		free(state.paths[i]);
	}
	state.npaths = 0;
	state.nslotcaches = 0;
	free(state.config_path);
	state.config_path = NULL;
	state.registered_loaded = false;
	if (state.registered)
		p11_kit_modules_finalize_and_release(state.registered);
	state.registered = NULL;
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
		{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
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

/* Load @path once; with @init_args, initialise it ourselves (p11-kit cannot pass them). */
static int
load_path(const char *path, const char *init_args, CK_FUNCTION_LIST **ret, struct sg_error *err)
{
	CK_FUNCTION_LIST *fl;
	CK_RV rv;

	for (size_t i = 0; i < state.npaths; i++)
		if (!strcmp(state.paths[i], path)) {
			*ret = state.by_path[i];
			return 0;
		}
	if (state.npaths == SG_ELEMENTSOF(state.paths))
		return sg_error_set(err, SG_E_LIMIT, "too many PKCS#11 modules");
	fl = p11_kit_module_load(path, init_args ? P11_KIT_MODULE_UNMANAGED : 0);
	if (!fl)
		return sg_error_set(err, SG_E_TOKEN, "cannot load PKCS#11 module '%s': %s", path,
				    p11_kit_message() ? p11_kit_message() : "failed");
	if (init_args) {
		CK_C_INITIALIZE_ARGS args = { 0 };

		args.flags = CKF_OS_LOCKING_OK;
		args.pReserved = (void *)init_args;
		rv = fl->C_Initialize(&args);
	} else {
		rv = p11_kit_module_initialize(fl);
	}
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		p11_kit_module_release(fl);
		return sg_error_set(err, SG_E_TOKEN, "cannot initialise PKCS#11 module '%s': %s",
				    path, sg_p11_rv_name(rv));
	}
	state.paths[state.npaths] = strdup(path);
	if (!state.paths[state.npaths])
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	state.by_path[state.npaths++] = fl;
	*ret = fl;
	return 0;
}

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
	      struct sg_error *err)
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
static int
get_pin(P11KitUri *uri, const char *spec, const char *token, const struct sg_key_options *o,
	struct sg_secmem **ret, struct sg_error *err)
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
		if (src)
			r = read_pin_file(src + 5, "pin-source", pin, &n, err);
		else if (o && o->pin_file)
			r = read_pin_file(o->pin_file, "--pin-file", pin, &n, err);
		else
			r = prompt_pin(token, pin, &n, err);
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

static int
open_token(CK_FUNCTION_LIST *fl, CK_SLOT_ID slot, const CK_TOKEN_INFO *ti, P11KitUri *uri,
	   const char *spec, const struct sg_key_options *o, bool rw, struct sg_p11_token **ret,
	   struct sg_error *err)
{
	struct sg_p11_token *t = NULL;
	CK_RV rv;

	for (size_t i = 0; i < state.ntokens; i++)
		if (state.tokens[i].fl == fl && state.tokens[i].slot == slot &&
		    (state.tokens[i].rw || !rw)) {
			*ret = &state.tokens[i];
			return 0;
		}
	if (state.ntokens == MAX_TOKENS)
		return sg_error_set(err, SG_E_LIMIT, "more than %d PKCS#11 tokens", MAX_TOKENS);
	t = &state.tokens[state.ntokens];
	memset(t, 0, sizeof(*t));
	t->fl = fl;
	t->slot = slot;
	t->rw = rw;
	copy_label(t->label, ti->label);
	rv = fl->C_OpenSession(slot, CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0), NULL, NULL,
			       &t->session);
	if (rv != CKR_OK)
		return sg_error_set(err, SG_E_TOKEN, "token '%s': C_OpenSession failed: %s",
				    t->label, sg_p11_rv_name(rv));
	if (ti->flags & CKF_LOGIN_REQUIRED) {
		_cleanup_(sg_secmem_freep) struct sg_secmem *pin = NULL;
		int r = get_pin(uri, spec, t->label, o, &pin, err);

		if (r < 0) {
			fl->C_CloseSession(t->session);
			return r;
		}
		rv = fl->C_Login(t->session, CKU_USER, pin->data, pin->len);
		if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
			fl->C_CloseSession(t->session);
			return sg_error_set(err, SG_E_TOKEN, "token '%s': login failed: %s",
					    t->label, sg_p11_rv_name(rv));
		}
		t->logged_in = true;
	}
	sg_debug("PKCS#11: opened token '%s' (slot %lu, %s, %s)", t->label, (unsigned long)slot,
		 rw ? "read-write" : "read-only", t->logged_in ? "logged in" : "no login needed");
	state.ntokens++;
	*ret = t;
	return 0;
}

int
sg_p11_tokens(P11KitUri *uri, const char *spec, const struct sg_key_options *o, bool rw,
	      struct sg_p11_token ***ret, struct sg_error *err)
{
	_cleanup_(sg_freep) char *shown = NULL; /* for messages only: made when needed */
	_cleanup_(sg_freep) struct sg_p11_token **list = NULL;
	CK_FUNCTION_LIST **mods = NULL, *one[1];
	size_t nmods = 0, n = 0;
	const char *failed_call = NULL;
	CK_RV failed_rv = CKR_OK;
	int r;

	if ((r = load_modules(uri, &mods, &nmods, one, err)) < 0)
		return r;
	list = calloc(MAX_TOKENS, sizeof(*list));
	if (!list)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	for (int pass = 0; pass < 2 && n == 0; pass++) {
		/* A second pass re-reads the slots, for a token inserted since the first look. */
		for (size_t m = 0; m < nmods; m++) {
			struct slot_cache *sc = slot_cache(mods[m], pass == 1);

			if (!sc)
				return sg_error_set(err, SG_E_LIMIT, "too many PKCS#11 modules");
			if (sc->rv != CKR_OK) {
				failed_call = sc->failed_call;
				failed_rv = sc->rv;
				continue;
			}
			if (!p11_kit_uri_match_module_info(uri, &sc->info))
				continue;
			for (CK_ULONG s = 0; s < sc->nslots && n < MAX_TOKENS; s++) {
				if (sc->slot_rv[s] != CKR_OK) {
					failed_call = "C_GetSlotInfo/C_GetTokenInfo";
					failed_rv = sc->slot_rv[s];
					continue;
				}
				if (!p11_kit_uri_match_slot_info(uri, &sc->si[s]) ||
				    !p11_kit_uri_match_token_info(uri, &sc->ti[s]) ||
				    !(sc->ti[s].flags & CKF_TOKEN_INITIALIZED))
					continue;
				if ((r = open_token(mods[m], sc->slots[s], &sc->ti[s], uri, spec, o,
						    rw, &list[n], err)) < 0)
					return r;
				n++;
			}
		}
	}
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
