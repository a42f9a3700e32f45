/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "manifest/manifest.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "core/crypto.h"
#include "key/admin.h"
#include "yaml/yaml.h"
#include "util/encode.h"
#include "util/escape.h"
#include "util/fileio.h"
#include "util/secmem.h"

enum ktype {
	K_INT,
	K_STRING,
	K_PATH,
	K_KEY,
	K_BOOL,
	K_SECRETS,
	K_RELEASE,
	K_VERSION,
	K_GUEST
};

/*
 * The manifest's own keys; every other key is an option of sevgate validate,
 * as the guest option table (spec/guest-spec.c) declares it.
 */
static const struct {
	const char *key;
	enum ktype type;
} own_keys[] = {
	{ "version", K_VERSION },
	{ "guest", K_GUEST },
	{ "secrets", K_SECRETS },
	{ "release", K_RELEASE },
};

/* The type of top-level key @key and the option it sets (NULL for the manifest's own); -1: unknown. */
static int
key_type(const char *key, enum ktype *ret, const struct sg_guest_option **ret_opt)
{
	const struct sg_guest_option *opt;

	*ret_opt = NULL;
	for (size_t i = 0; i < SG_ELEMENTSOF(own_keys); i++)
		if (!strcmp(own_keys[i].key, key)) {
			*ret = own_keys[i].type;
			return 0;
		}
	if (!(opt = sg_guest_option_by_manifest_key(key, false)))
		return -1;
	switch (opt->manifest) {
	case SG_MANIFEST_INT: *ret = K_INT; break;
	case SG_MANIFEST_PATH: *ret = K_PATH; break;
	case SG_MANIFEST_KEY: *ret = K_KEY; break;
	case SG_MANIFEST_BOOL: *ret = K_BOOL; break;
	case SG_MANIFEST_STRING: *ret = K_STRING; break;
	default: return -1; /* the other types are the release mapping's */
	}
	*ret_opt = opt;
	return 0;
}

struct ctx {
	struct sg_manifest *m;
	struct sg_guest_spec *g;
	const struct sg_yaml_doc *doc;
	const char *dir;
	/* The file being applied, from its open fd: may it hold a pin-value? */
	const struct stat *st;
	bool have_version, have_guest, pin_value;
	/* The URIs with a pin-value this manifest's own files vouched for (nothing else). */
	const char *pin_uris[SG_MAX_SECRETS + 3];
	size_t npin_uris;
	/* The trust model's inputs, loaded at the first secret file. */
	const struct sg_config *conf;
	bool have_own;
	struct stat *own; /* audit log and key, configuration, PIN files */
	size_t nown, capown;
	/* Secret files, checked once every key is applied (a PIN file may come later). */
	struct {
		const struct sg_yaml_doc *doc;
		const struct sg_yaml_node *entry;
		const char *path;
	} files[SG_MAX_SECRETS];
	size_t nfiles;
	struct sg_error *err;
};

static char *
keep(struct sg_manifest *m, char *s)
{
	if (!s)
		return NULL;
	if (m->nstrings == m->capstrings) {
		size_t cap = m->capstrings ? 2 * m->capstrings : 16;
		char **n = realloc(m->strings, cap * sizeof(*n));

		if (!n) {
			sg_str_wipe_free(s);
			return NULL;
		}
		m->strings = n;
		m->capstrings = cap;
	}
	m->strings[m->nstrings++] = s;
	return s;
}

/* Whether @s is one of the strings @m keeps (the last ones first: just kept). */
static bool
is_kept(const struct sg_manifest *m, const char *s)
{
	for (size_t i = m->nstrings; i-- > 0;)
		if (m->strings[i] == s)
			return true;
	return false;
}

/*
 * Report @code at LINE:COL of the manifest: "FILE:LINE:COL: " then @fmt, a
 * string literal. A macro, so the message is formatted once, by sg_error_set.
 */
#define at(c, line, col, code, fmt, ...)                                                   \
	sg_error_set((c)->err, (code), "%s:%u:%u: " fmt, (c)->doc->file, (unsigned)(line), \
		     (unsigned)(col), ##__VA_ARGS__)

/* Put LINE:COL of the manifest in front of the failure a callee reported in c->err. */
static int
at_prefix(struct ctx *c, unsigned line, unsigned col, int code)
{
	return sg_error_prefix(c->err, code, "%s:%u:%u: ", c->doc->file, line, col);
}

/* A path relative to the manifest's directory; URIs and absolute paths as they are. */
static char *
resolve(struct ctx *c, const char *p)
{
	char *out = NULL;

	if (p[0] == '/' || !strncmp(p, "pkcs11:", 7) || !strcmp(c->dir, "."))
		return keep(c->m, strdup(p));
	if (asprintf(&out, "%s/%s", c->dir, p) < 0)
		return NULL;
	return keep(c->m, out);
}

/*
 * A pin-value only in a file others can neither read nor replace (OpenSSH's
 * rule for keys): no group or other permission, owned by the caller or root.
 * It covers the URIs of that file only.
 */
static int
allow_pin_value(struct ctx *c, const struct sg_yaml_node *n, const char *uri)
{
	if (c->st->st_mode & 077)
		return at(c, n->line, n->column, SG_E_INSECURE,
			  "a pin-value is allowed only in a file that group and others cannot "
			  "read (chmod go-rwx %s)",
			  c->doc->file);
	if (c->st->st_uid != geteuid() && c->st->st_uid != 0)
		return at(c, n->line, n->column, SG_E_INSECURE,
			  "a pin-value is allowed only in a file owned by you or root (%s is owned "
			  "by uid %u)",
			  c->doc->file, (unsigned)c->st->st_uid);
	if (c->npin_uris == SG_ELEMENTSOF(c->pin_uris))
		return at(c, n->line, n->column, SG_E_LIMIT, "too many URIs with a pin-value");
	c->pin_uris[c->npin_uris++] = uri;
	c->pin_value = true;
	return 0;
}

static int
apply_option(struct ctx *c, const struct sg_yaml_node *n, const char *name, const char *value)
{
	int r;

	/* The spec borrows @value; the YAML document it may come from is freed after the load. */
	if (value && !is_kept(c->m, value) && !(value = keep(c->m, strdup(value))))
		return sg_error_set(c->err, SG_E_NOMEM, "out of memory");
	r = sg_guest_spec_set_named(c->g, SG_ORIGIN_VALIDATE, name, value, c->err);
	return r < 0 ? at_prefix(c, n->line, n->column, r) : 0;
}

/*
 * A libvirt URI in a manifest must not make sevgate run a local program of
 * the manifest's choosing (docs/manifest.md, trust model): the ext transport
 * runs its command=, the ssh, libssh2 and libssh transports run command= as
 * their ssh binary, and an embedded driver (/embed) runs in-process from a
 * root= directory's configuration. libvirt compares transport and parameter
 * names without case and percent-decodes names, splitting the query at & and
 * ;: so does this strict parse, and anything it cannot read is refused.
 */
static const char *
connect_problem(const char *uri)
{
	static const char *const transports[] = {
		"unix", "ssh", "tcp", "tls", "libssh2", "libssh"
	};
	const char *p, *scheme_end, *plus, *q;
	bool known = false;

	for (p = uri; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#' ||
		    *p == '\\')
			return "not a URI this check can read (a space, control, non-ASCII, # or "
			       "backslash)";
	/* A libvirt.conf alias (letters, digits, _ and -): the administrator's, not the manifest's. */
	if (!strchr(uri, ':'))
		return strspn(uri,
			      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
					       strlen(uri) &&
				       *uri ?
			       NULL :
			       "not a URI this check can read";
	scheme_end = strchr(uri, ':');
	if (scheme_end == uri || strspn(uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					     "0123456789+.-") != (size_t)(scheme_end - uri))
		return "not a URI this check can read (its scheme)";
	plus = memchr(uri, '+', (size_t)(scheme_end - uri));
	if (plus) {
		size_t tlen = (size_t)(scheme_end - plus - 1);

		if (memchr(plus + 1, '+', tlen))
			return "more than one transport in the scheme";
		if (tlen == 3 && !strncasecmp(plus + 1, "ext", 3))
			return "the ext transport runs a local command";
		for (size_t i = 0; i < SG_ELEMENTSOF(transports); i++)
			known |= strlen(transports[i]) == tlen &&
				 !strncasecmp(plus + 1, transports[i], tlen);
		if (!known)
			return "an unknown transport";
	}
	q = strchr(scheme_end, '?');
	/* The path, after "//authority" when there is one. */
	p = scheme_end + 1;
	if (!strncmp(p, "//", 2))
		p += 2 + strcspn(p + 2, "/?");
	if ((size_t)(q ? q - p : (ptrdiff_t)strlen(p)) == 6 && !strncasecmp(p, "/embed", 6))
		return "an embedded driver (/embed) runs in sevgate from its root= configuration";
	if (!q)
		return NULL;
	for (q++; *q;) {
		size_t n = strcspn(q, "&;"), nlen = strcspn(q, "=");
		char name[64];
		size_t o = 0;

		if (nlen > n)
			nlen = n;
		for (size_t i = 0; i < nlen; i++) {
			char ch = q[i];

			if (ch == '%') {
				if (i + 2 >= nlen || sg_hex_digit(q[i + 1]) < 0 ||
				    sg_hex_digit(q[i + 2]) < 0)
					return "a bad percent-escape in a parameter name";
				ch = (char)(sg_hex_digit(q[i + 1]) * 16 + sg_hex_digit(q[i + 2]));
				i += 2;
			} else if (ch == '+') {
				ch = ' ';
			}
			if (o + 1 >= sizeof(name))
				break; /* longer than any parameter libvirt knows: not command */
			name[o++] = ch;
		}
		name[o] = '\0';
		if (memchr(name, '=', o) || strlen(name) != o)
			return "a parameter name with an encoded = or NUL";
		if (!strcasecmp(name, "command"))
			return "the command= parameter runs a local program";
		q += n;
		if (*q)
			q++;
	}
	return NULL;
}

static int
check_connect(struct ctx *c, const struct sg_yaml_node *n, const char *uri)
{
	const char *why = connect_problem(uri);

	if (why)
		return at(c, n->line, n->column, SG_E_FORMAT,
			  "connect: %s: refused in a manifest, which must not choose a program "
			  "for sevgate to run (give --connect on the command line)",
			  why);
	return 0;
}

/*
 * What p11-kit would act on in a key URI of the manifest, parsed as the key layer parses it (no
 * text search: p11-kit drops whitespace inside names). Not a pkcs11: URI: nothing.
 */
static int
inspect(struct ctx *c, const struct sg_yaml_node *n, const char *uri, struct sg_key_uri_facts *f)
{
	int r;

	memset(f, 0, sizeof(*f));
	if (!uri || strncmp(uri, "pkcs11:", 7))
		return 0;
	if ((r = sg_key_uri_inspect(uri, f, c->err)) < 0)
		return n ? at_prefix(c, n->line, n->column, r) : r;
	return 0;
}

/*
 * A manifest's key URI: its module by module-name=, never by a path to load (docs/manifest.md);
 * a pin-value only in a file that may hold one.
 */
static int
check_uri(struct ctx *c, const struct sg_yaml_node *n, const char *uri, const char *vouch)
{
	struct sg_key_uri_facts f;
	int r;

	if ((r = inspect(c, n, uri, &f)) < 0)
		return r;
	if (f.module_path)
		r = at(c, n->line, n->column, SG_E_FORMAT,
		       "a key URI in a manifest names its module by module-name= (a module of "
		       "sevgate.conf or p11-kit), not module-path=");
	else if (f.has_pin_value)
		r = allow_pin_value(c, n, vouch);
	sg_key_uri_facts_done(&f);
	return r;
}

static int
add_own(struct ctx *c, const char *path)
{
	if (!path || !*path || !strncmp(path, "pkcs11:", 7))
		return 0;
	if (c->nown == c->capown) {
		size_t cap = c->capown ? 2 * c->capown : 16;
		struct stat *n = realloc(c->own, cap * sizeof(*n));

		if (!n)
			return sg_error_set(c->err, SG_E_NOMEM, "out of memory");
		c->own = n;
		c->capown = cap;
	}
	if (stat(path, &c->own[c->nown]) == 0)
		c->nown++;
	return 0;
}

/* The PIN file a URI names (pin-source=file:PATH, as p11-kit decodes it). */
static int
add_pin_source(struct ctx *c, const char *uri)
{
	struct sg_key_uri_facts f;
	int r;

	if ((r = inspect(c, NULL, uri, &f)) < 0)
		return r;
	if (f.pin_source)
		r = add_own(c,
			    !strncmp(f.pin_source, "file:", 5) ? f.pin_source + 5 : f.pin_source);
	sg_key_uri_facts_done(&f);
	return r;
}

/* A key spec (a file or a pkcs11: URI) and the PIN file it names. */
static int
add_key(struct ctx *c, const char *spec)
{
	int r = add_own(c, spec);

	return r < 0 ? r : add_pin_source(c, spec);
}

/* sevgate's own files, by device and inode: never a secret source. */
static int
load_own(struct ctx *c)
{
	const struct sg_validate_req *q = &c->g->req;
	int r;

	if (c->have_own)
		return 0;
	if ((r = sg_config_get(c->g->config, &c->conf, c->err)) < 0)
		return r;
	if ((r = add_own(c, c->g->audit_log ? c->g->audit_log : c->conf->audit_log)) < 0 ||
	    (r = add_key(c, c->g->audit_key ? c->g->audit_key : c->conf->audit_key)) < 0 ||
	    (r = add_own(c, c->conf->path)) < 0 || (r = add_own(c, q->key_opts.pin_file)) < 0 ||
	    (r = add_pin_source(c, q->tik)) < 0 || (r = add_pin_source(c, q->tek)) < 0 ||
	    (r = add_pin_source(c, q->tk)) < 0)
		return r;
	/* A secret from a token data object: its URI may name a PIN file. */
	for (size_t i = 0; i < q->nsecrets; i++)
		if ((r = add_pin_source(c, q->secrets[i].path)) < 0)
			return r;
	c->have_own = true;
	return 0;
}

static bool
under_dir(const char *dir, const char *real)
{
	size_t n = dir ? strlen(dir) : 0;

	return dir && !strncmp(real, dir, n) && (real[n] == '/' || (n == 1 && dir[0] == '/'));
}

/* Whether @real (a resolved path) lies under one of secret-dirs. */
static bool
under_secret_dirs(const struct sg_config *conf, const char *real)
{
	for (size_t i = 0; i < conf->nsecret_dirs; i++) {
		_cleanup_(sg_freep) char *dir = realpath(conf->secret_dirs[i], NULL);

		if (under_dir(dir, real))
			return true;
	}
	return false;
}

static const char own_msg[] = "a secret file must not be one of sevgate's own files (the audit "
			      "log, its key, the configuration or a PIN file)";

int
sg_manifest_check_secret_fd(void *ctx, int fd, const struct stat *st, const char *path,
			    struct sg_error *err)
{
	const struct sg_manifest *m = ctx;
	_cleanup_(sg_freep) char *real = NULL;
	char link[64];
	bool mine = false, under = false;
	struct stat rst;

	for (size_t i = 0; i < m->nown; i++)
		if (st->st_dev == m->own[i].st_dev && st->st_ino == m->own[i].st_ino)
			return sg_error_set(err, SG_E_USAGE, "%s: %s", own_msg, path);
	for (size_t i = 0; i < m->nfiles; i++)
		mine |= !strcmp(m->files[i], path);
	if (!m->have_secret_dirs || !mine)
		return 0;
	/* Where the open file is (symlinks and .. resolved by the kernel), and that it is it. */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	real = realpath(link, NULL);
	if (real && stat(real, &rst) == 0 && rst.st_dev == st->st_dev && rst.st_ino == st->st_ino)
		for (size_t i = 0; i < m->nsecret_dirs; i++)
			under |= under_dir(m->secret_dirs[i], real);
	if (!under)
		return sg_error_set(err, SG_E_USAGE,
				    "secret file %s is not under a secret-dirs directory of %s",
				    path, m->conf_path);
	return 0;
}

/* Keep in @m what sg_manifest_check_secret_fd needs at release time. */
static int
keep_trust(struct ctx *c)
{
	struct sg_manifest *m = c->m;

	m->own = SG_TAKE_PTR(c->own);
	m->nown = c->nown;
	if (!(m->files = calloc(c->nfiles, sizeof(*m->files))))
		return sg_error_set(c->err, SG_E_NOMEM, "out of memory");
	for (size_t i = 0; i < c->nfiles; i++)
		m->files[i] = c->files[i].path;
	m->nfiles = c->nfiles;
	m->have_secret_dirs = c->conf->have_secret_dirs;
	if (c->conf->nsecret_dirs &&
	    !(m->secret_dirs = calloc(c->conf->nsecret_dirs, sizeof(*m->secret_dirs))))
		return sg_error_set(c->err, SG_E_NOMEM, "out of memory");
	for (size_t i = 0; i < c->conf->nsecret_dirs; i++)
		m->secret_dirs[m->nsecret_dirs++] = realpath(c->conf->secret_dirs[i], NULL);
	if (c->conf->path && !(m->conf_path = strdup(c->conf->path)))
		return sg_error_set(c->err, SG_E_NOMEM, "out of memory");
	c->g->req.secret_check = sg_manifest_check_secret_fd;
	c->g->req.secret_check_ctx = m;
	return 0;
}

/* The trust model for a manifest's secret file (docs/manifest.md). */
static int
check_secret_file(struct ctx *c, const struct sg_yaml_node *e, const char *path)
{
	_cleanup_(sg_freep) char *real = NULL;
	struct stat st;
	int r;

	if ((r = load_own(c)) < 0)
		return r;
	if (stat(path, &st) == 0)
		for (size_t i = 0; i < c->nown; i++)
			if (st.st_dev == c->own[i].st_dev && st.st_ino == c->own[i].st_ino)
				return at(c, e->line, e->column, SG_E_FORMAT, "%s: %s", own_msg,
					  path);
	if (!c->conf->have_secret_dirs)
		return 0;
	/* Symlinks and .. resolved: the file itself must lie under a directory. */
	real = realpath(path, NULL);
	if (!real || !under_secret_dirs(c->conf, real))
		return at(c, e->line, e->column, SG_E_FORMAT,
			  "secret file %s is not under a secret-dirs directory of %s", path,
			  c->conf->path);
	return 0;
}

/* A secrets entry's guid: a GUID or the alias luks-key, refused where the entry is. */
static int
secret_guid(struct ctx *c, const struct sg_yaml_node *e, const char *text, struct sg_guid *ret)
{
	int r = sg_secret_guid_parse(text, ret, c->err);

	return r < 0 ? sg_error_prefix(c->err, r, "%s:%u:%u: guid: ", c->doc->file, e->line,
				       e->column) :
		       0;
}

static int
apply_secrets(struct ctx *c, const struct sg_yaml_node *n)
{
	if (n->kind != SG_YAML_SEQ)
		return at(c, n->line, n->column, SG_E_FORMAT,
			  "secrets must be a list of {guid, file} or {guid, uri}");
	for (size_t i = 0; i < n->n; i++) {
		const struct sg_yaml_node *e = n->items[i];
		const char *guid = NULL, *file = NULL, *uri = NULL;
		int r;

		if (e->kind != SG_YAML_MAP)
			return at(c, e->line, e->column, SG_E_FORMAT,
				  "a secrets entry must be a mapping {guid, file} or {guid, uri}");
		for (size_t k = 0; k < e->n; k++) {
			const struct sg_yaml_node *v = e->items[k];
			const char **slot = !strcmp(e->keys[k], "guid") ? &guid :
					    !strcmp(e->keys[k], "file") ? &file :
					    !strcmp(e->keys[k], "uri")	? &uri :
									  NULL;

			if (!slot)
				return at(c, e->key_lines[k], e->key_columns[k], SG_E_FORMAT,
					  "unknown key '%s' in a secrets entry (guid, file, uri)",
					  e->keys[k]);
			if (v->kind != SG_YAML_SCALAR)
				return at(c, v->line, v->column, SG_E_FORMAT, "%s must be a string",
					  e->keys[k]);
			*slot = v->value;
		}
		if (!guid || (!file == !uri))
			return at(c, e->line, e->column, SG_E_FORMAT,
				  "a secrets entry needs guid and one of file or uri");
		if (uri && strncmp(uri, "pkcs11:", 7))
			return at(c, e->line, e->column, SG_E_FORMAT,
				  "a secret's uri must be a pkcs11: URI of a data object");
		struct sg_validate_req *q = &c->g->req;
		const char *target = uri ? keep(c->m, strdup(uri)) : resolve(c, file);

		if (!target)
			return sg_error_set(c->err, SG_E_NOMEM, "out of memory");
		if (uri && (r = check_uri(c, e, uri, target)) < 0)
			return r;
		if (!uri && c->nfiles < SG_ELEMENTSOF(c->files)) {
			c->files[c->nfiles].doc = c->doc;
			c->files[c->nfiles].entry = e;
			c->files[c->nfiles++].path = target;
		}
		if (q->nsecrets == SG_MAX_SECRETS)
			return at(c, e->line, e->column, SG_E_USAGE, "more than %d secrets",
				  SG_MAX_SECRETS);
		q->secrets[q->nsecrets] = (struct sg_secret_spec){ .path = target };
		if ((r = secret_guid(c, e, guid, &q->secrets[q->nsecrets].guid)) < 0)
			return r;
		q->nsecrets++;
	}
	return 0;
}

/* One scalar or a list of scalars, each applied as --@option. */
static int
apply_list(struct ctx *c, const struct sg_yaml_node *n, const char *key, const char *option)
{
	const struct sg_yaml_node *one = n;
	size_t count = n->kind == SG_YAML_SEQ ? n->n : 1;

	if (n->kind != SG_YAML_SEQ && n->kind != SG_YAML_SCALAR)
		return at(c, n->line, n->column, SG_E_FORMAT, "%s must be a list of strings", key);
	for (size_t i = 0; i < count; i++) {
		int r;

		if (n->kind == SG_YAML_SEQ)
			one = n->items[i];
		if (one->kind != SG_YAML_SCALAR)
			return at(c, one->line, one->column, SG_E_FORMAT,
				  "%s must be a list of strings", key);
		if ((r = apply_option(c, one, option, one->value)) < 0)
			return r;
	}
	return 0;
}

/* "unknown key 'KEY' in release (the keys, in the table's order)". */
static int
unknown_release_key(struct ctx *c, unsigned line, unsigned col, const char *key)
{
	char list[512] = "";
	size_t n, len = 0;
	const struct sg_guest_option *t = sg_guest_options(&n);

	for (size_t i = 0; i < n; i++) {
		const char *k = t[i].manifest_key ? t[i].manifest_key : t[i].name;

		if (t[i].section != SG_SECTION_RELEASE || t[i].manifest == SG_MANIFEST_NONE)
			continue;
		if (len < sizeof(list))
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
						len ? ", " : "", k);
	}
	return at(c, line, col, SG_E_FORMAT, "unknown key '%s' in release (%s)", key, list);
}

/* release: the guest owner's release policy (docs/manifest.md). */
static int
apply_release(struct ctx *c, const struct sg_yaml_node *n)
{
	if (n->kind != SG_YAML_MAP)
		return at(c, n->line, n->column, SG_E_FORMAT, "release must be a mapping");
	for (size_t k = 0; k < n->n; k++) {
		const struct sg_yaml_node *v = n->items[k];
		const char *key = n->keys[k];
		const struct sg_guest_option *opt = sg_guest_option_by_manifest_key(key, true);
		uint64_t u;
		bool b;
		int r;

		switch (opt ? opt->manifest : SG_MANIFEST_NONE) {
		case SG_MANIFEST_LIST: r = apply_list(c, v, key, opt->name); break;
		case SG_MANIFEST_STRING:
			if (v->kind != SG_YAML_SCALAR)
				return at(c, v->line, v->column, SG_E_FORMAT,
					  "%s must be a string \"%s\"", key, opt->metavar);
			r = apply_option(c, v, opt->name, v->value);
			break;
		case SG_MANIFEST_U8:
			if ((r = sg_yaml_uint(c->doc, v, key, 0xff, &u, c->err)) == 0)
				r = apply_option(c, v, opt->name, v->value);
			break;
		case SG_MANIFEST_BOOL:
			if ((r = sg_yaml_bool(c->doc, v, key, &b, c->err)) == 0 && b)
				r = apply_option(c, v, opt->name, NULL);
			break;
		default: return unknown_release_key(c, n->key_lines[k], n->key_columns[k], key);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int
apply_key(struct ctx *c, const char *key, unsigned kl, unsigned kc, const struct sg_yaml_node *n)
{
	const struct sg_guest_option *opt;
	enum ktype type;
	uint64_t u;
	bool b;
	int r;

	if (key_type(key, &type, &opt) < 0)
		return at(c, kl, kc, SG_E_FORMAT, "unknown key '%s'", key);

	switch (type) {
	case K_SECRETS: return apply_secrets(c, n);
	case K_RELEASE: return apply_release(c, n);
	case K_BOOL:
		if ((r = sg_yaml_bool(c->doc, n, key, &b, c->err)) < 0)
			return r;
		return b ? apply_option(c, n, opt->name, NULL) : 0;
	case K_INT:
	case K_VERSION:
		/* 0x hex or decimal, unquoted: a quoted "3" is a string, a type error here. */
		if ((r = sg_yaml_uint(c->doc, n, key, UINT64_MAX, &u, c->err)) < 0)
			return r;
		if (type == K_VERSION) {
			if (u != SG_MANIFEST_VERSION)
				return at(
					c, n->line, n->column, SG_E_FORMAT,
					"version %s is not supported (this sevgate reads version 1)",
					n->value);
			c->have_version = true;
			return 0;
		}
		return apply_option(c, n, opt->name, n->value);
	default: break;
	}
	if (n->kind != SG_YAML_SCALAR)
		return at(c, n->line, n->column, SG_E_FORMAT, "%s must be a string", key);
	switch (type) {
	case K_GUEST:
		if (!*n->value)
			return at(c, n->line, n->column, SG_E_FORMAT, "guest must not be empty");
		if (sg_name_check(n->value, "guest", c->err) < 0)
			return at_prefix(c, n->line, n->column, SG_E_FORMAT);
		free(c->m->guest);
		c->m->guest = strdup(n->value);
		c->have_guest = true;
		return c->m->guest ? 0 : sg_error_set(c->err, SG_E_NOMEM, "out of memory");
	case K_PATH:
	case K_KEY: {
		const char *v = resolve(c, n->value);

		if (!v)
			return sg_error_set(c->err, SG_E_NOMEM, "out of memory");
		if (type == K_KEY && (r = check_uri(c, n, v, v)) < 0)
			return r;
		if (!strcmp(key, "secret-header") || !strcmp(key, "secret-payload")) {
			struct sg_manifest_loc *loc =
				key[7] == 'h' ? &c->m->header_loc : &c->m->payload_loc;

			if (!(loc->file = keep(c->m, strdup(c->doc->file))))
				return sg_error_set(c->err, SG_E_NOMEM, "out of memory");
			loc->line = kl;
			loc->col = kc;
		}
		return apply_option(c, n, opt->name, v);
	}
	default: {
		const char *v;

		if (!strcmp(key, "connect") && (r = check_connect(c, n, n->value)) < 0)
			return r;
		v = keep(c->m, strdup(n->value));

		return v ? apply_option(c, n, opt->name, v) :
			   sg_error_set(c->err, SG_E_NOMEM, "out of memory");
	}
	}
}

static int
apply_doc(struct ctx *c, const struct sg_yaml_doc *doc, const struct sg_yaml_node *skip_from)
{
	const struct sg_yaml_node *root = doc->root;
	int r;

	c->doc = doc;
	if (!root)
		return 0;
	if (root->kind != SG_YAML_MAP)
		return at(c, root->line, root->column, SG_E_FORMAT,
			  "a manifest must be a mapping of option names to values");
	for (size_t i = 0; i < root->n; i++) {
		/* defaults.yaml: a key the manifest sets itself is the manifest's (lists too). */
		if (skip_from && sg_yaml_map_get(skip_from, root->keys[i]))
			continue;
		if ((r = apply_key(c, root->keys[i], root->key_lines[i], root->key_columns[i],
				   root->items[i])) < 0)
			return r;
	}
	return 0;
}

/*
 * After the manifest: a pin-value its files did not vouch for came from the
 * command line, where it would show in ps. Refused as the key layer refuses
 * one without a manifest.
 */
static int
check_pin_uris(struct ctx *c)
{
	const struct sg_validate_req *q = &c->g->req;
	const char *uris[SG_MAX_SECRETS + 3] = { q->tik, q->tek, q->tk };
	size_t n = 3;

	for (size_t i = 0; i < q->nsecrets; i++)
		uris[n++] = q->secrets[i].path;
	for (size_t i = 0; i < n; i++) {
		const char *u = uris[i];
		struct sg_key_uri_facts f;
		bool vouched = false, has_pin;
		int r;

		if ((r = inspect(c, NULL, u, &f)) < 0)
			return r;
		has_pin = f.has_pin_value;
		sg_key_uri_facts_done(&f);
		if (!has_pin)
			continue;
		for (size_t k = 0; k < c->npin_uris; k++)
			vouched |= c->pin_uris[k] == uris[i];
		if (!vouched)
			return sg_key_pin_value_refused(c->err);
	}
	return 0;
}

bool
sg_manifest_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (!strcmp(name, "defaults.yaml") || !strcmp(name, "defaults.yml") || name[0] == '.')
		return false;
	return (n > 5 && !strcmp(name + n - 5, ".yaml")) ||
	       (n > 4 && !strcmp(name + n - 4, ".yml"));
}

static void
ctx_done(struct ctx *c)
{
	free(c->own);
}

static int apply(struct sg_crypto *crypto, const char *path, struct sg_guest_spec *g,
		 struct sg_manifest **ret, struct sg_error *err);

int
sg_manifest_apply(struct sg_crypto *crypto, const char *path, struct sg_guest_spec *g,
		  struct sg_manifest **ret, struct sg_error *err)
{
	int r = apply(crypto, path, g, ret, err);

	/* A malformed manifest is a usage error (exit 2), like a malformed command line. */
	if (r == SG_E_FORMAT || r == SG_E_LIMIT)
		return sg_error_recode(err, SG_E_USAGE);
	return r;
}

static int
apply(struct sg_crypto *crypto, const char *path, struct sg_guest_spec *g, struct sg_manifest **ret,
      struct sg_error *err)
{
	_cleanup_(sg_manifest_freep) struct sg_manifest *m = calloc(1, sizeof(*m));
	_cleanup_(sg_yaml_freep) struct sg_yaml_doc *doc = NULL, *defaults = NULL;
	_cleanup_(sg_file_wipe_freep) struct sg_file *f = NULL, *df = NULL;
	_cleanup_(sg_freep) char *dircopy = NULL, *dpath = NULL;
	_cleanup_(ctx_done) struct ctx c = { .m = m, .g = g, .err = err };
	int r;

	if (!m || !(m->path = strdup(path)) || !(dircopy = strdup(path)))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	{
		const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

		if (!strcmp(base, "defaults.yaml") || !strcmp(base, "defaults.yml"))
			return sg_error_set(err, SG_E_USAGE,
					    "%s: defaults are merged under the manifests beside "
					    "them; they are not a guest",
					    path);
	}
	c.dir = dirname(dircopy);
	if ((r = sg_file_map(path, SG_YAML_MAX_BYTES, "manifest", &f, err)) < 0 ||
	    (r = sg_yaml_parse(path, f->data, f->len, &doc, err)) < 0)
		return r;
	if ((r = sg_sha256(crypto, f->data, f->len, m->sha256, err)) < 0)
		return r;

	/* defaults.yaml first, so the manifest's own keys are applied last and win. */
	if (asprintf(&dpath, "%s/defaults.yaml", c.dir) < 0) {
		dpath = NULL;
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	}
	if (access(dpath, F_OK) == 0) {
		/* Its permission from the fd it is read from, not another look at the path. */
		if ((r = sg_file_map(dpath, SG_YAML_MAX_BYTES, "YAML file", &df, err)) < 0 ||
		    (r = sg_yaml_parse(dpath, df->data, df->len, &defaults, err)) < 0)
			return r;
		c.st = &df->st;
		if ((r = apply_doc(&c, defaults,
				   doc->root && doc->root->kind == SG_YAML_MAP ? doc->root :
										 NULL)) < 0)
			return r;
	}
	c.st = &f->st;
	if ((r = apply_doc(&c, doc, NULL)) < 0)
		return r;
	c.doc = doc;
	if (!c.have_version)
		return at(&c, 1, 1, SG_E_USAGE, "missing required key 'version'");
	if (!c.have_guest)
		return at(&c, 1, 1, SG_E_USAGE, "missing required key 'guest'");
	for (size_t i = 0; i < c.nfiles; i++) {
		c.doc = c.files[i].doc;
		if ((r = check_secret_file(&c, c.files[i].entry, c.files[i].path)) < 0)
			return r;
	}
	/* The load-time check gives early, located errors; the one on the fd is what counts. */
	if (c.nfiles && (r = keep_trust(&c)) < 0)
		return r;
	c.doc = doc;
	/* A pin-value from a file group and others cannot read is no worse than --pin-file. */
	if ((r = check_pin_uris(&c)) < 0)
		return r;
	if (c.pin_value)
		g->req.key_opts.allow_pin_value = true;
	g->guest = m->guest;
	*ret = SG_TAKE_PTR(m);
	return 0;
}

void
sg_manifest_free(struct sg_manifest *m)
{
	if (!m)
		return;
	/* Key URIs may hold a pin-value: every kept string is wiped (manifests are small). */
	for (size_t i = 0; i < m->nstrings; i++)
		sg_str_wipe_free(m->strings[i]);
	free(m->strings);
	free(m->own);
	free(m->files);
	for (size_t i = 0; i < m->nsecret_dirs; i++)
		free(m->secret_dirs[i]);
	free(m->secret_dirs);
	free(m->conf_path);
	sg_str_wipe_free(m->path);
	sg_str_wipe_free(m->guest);
	free(m);
}
