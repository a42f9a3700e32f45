/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * src/config/config.c: one table of configuration texts and what each
 * loads (modules, audit-log, audit-key, secret-dirs) or the exact code and
 * message it is refused with; one of path choices (explicit, $SEVGATE_CONFIG,
 * the default); the missing-file rules; and the owner (sg_config_get): each
 * file loaded once, the same object for every caller and thread, failures not
 * kept, and the PKCS#11 back end asking it instead of holding a copy.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vectors.h"
#include "config/config.h"
#include "key/p11.h"

#define UNTOUCHED ((struct sg_config *)0x5a5a)

/* A growing string. */
struct buf {
	char *s;
	size_t len, cap;
};

static void
put(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->cap - b->len <= n) {
		b->cap = 2 * (b->cap + n + 64);
		b->s = realloc(b->s, b->cap);
		assert_non_null(b->s);
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

/* @fmt with every FILE replaced by @path. */
static char *
with_file(const char *fmt, const char *path)
{
	struct buf b = { 0 };
	const char *p;

	put(&b, "");
	while ((p = strstr(fmt, "FILE"))) {
		char head[1024];

		assert_true((size_t)(p - fmt) < sizeof(head));
		memcpy(head, fmt, (size_t)(p - fmt));
		head[p - fmt] = '\0';
		put(&b, head);
		put(&b, path);
		fmt = p + 4;
	}
	put(&b, fmt);
	return b.s;
}

static const char *
or_dash(const char *s)
{
	return s ? s : "-";
}

/*
 * What a configuration holds, in one line:
 *   modules=[name|path|init-args,...] log=L key=K dirs=[d,...]
 * with - for NULL and dirs=unset when secret-dirs is not given.
 */
static char *
dump(const struct sg_config *c)
{
	struct buf b = { 0 };

	put(&b, "modules=[");
	for (size_t i = 0; i < c->nmodules; i++) {
		put(&b, i ? "," : "");
		put(&b, or_dash(c->modules[i].name));
		put(&b, "|");
		put(&b, or_dash(c->modules[i].path));
		put(&b, "|");
		put(&b, or_dash(c->modules[i].init_args));
	}
	put(&b, "] log=");
	put(&b, or_dash(c->audit_log));
	put(&b, " key=");
	put(&b, or_dash(c->audit_key));
	if (!c->have_secret_dirs) {
		assert_int_equal(c->nsecret_dirs, 0);
		put(&b, " dirs=unset");
	} else {
		put(&b, " dirs=[");
		for (size_t i = 0; i < c->nsecret_dirs; i++) {
			put(&b, i ? "," : "");
			put(&b, c->secret_dirs[i]);
		}
		put(&b, "]");
	}
	return b.s;
}

/* Generated texts: @n entries of a list. */
static char *
modules(size_t n)
{
	struct buf b = { 0 };
	char line[128];

	put(&b, "pkcs11-modules:\n");
	for (size_t i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "  - {name: m%zu, path: /lib/m%zu.so}\n", i, i);
		put(&b, line);
	}
	return b.s;
}

static char *
gen_modules_16(void)
{
	return modules(SG_CONFIG_MAX_MODULES);
}

static char *
gen_modules_17(void)
{
	return modules(SG_CONFIG_MAX_MODULES + 1);
}

static char *
dirs(size_t n)
{
	struct buf b = { 0 };
	char line[64];

	put(&b, "secret-dirs:\n");
	for (size_t i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "  - /s/%zu\n", i);
		put(&b, line);
	}
	return b.s;
}

static char *
gen_dirs_16(void)
{
	return dirs(SG_CONFIG_MAX_SECRET_DIRS);
}

static char *
gen_dirs_17(void)
{
	return dirs(SG_CONFIG_MAX_SECRET_DIRS + 1);
}

struct case_conf {
	const char *id;
	const char *text;
	char *(*gen)(void);
	/* Loaded: dump()'s line; refused: the code and the message (FILE: the path). */
	const char *want;
	int rc;
	const char *msg;
};

#define NSS_ARGS "configdir='sql:/var/lib/sevgate/nssdb' certPrefix='' keyPrefix='' flags="

static const struct case_conf confs[] = {
	/* What a file sets. */
	{ "empty-file", "", NULL, "modules=[] log=- key=- dirs=unset", 0, NULL },
	{ "only-comments", "# nothing here\n# still nothing\n", NULL,
	  "modules=[] log=- key=- dirs=unset", 0, NULL },
	{ "one-module", "pkcs11-modules:\n  - name: soft\n    path: /lib/softhsm2.so\n", NULL,
	  "modules=[soft|/lib/softhsm2.so|-] log=- key=- dirs=unset", 0, NULL },
	{ "module-init-args",
	  "pkcs11-modules:\n  - name: nss\n    path: /lib/libsoftokn3.so\n    init-args: \"" NSS_ARGS
	  "\"\n",
	  NULL, "modules=[nss|/lib/libsoftokn3.so|" NSS_ARGS "] log=- key=- dirs=unset", 0, NULL },
	{ "modules-in-order",
	  "pkcs11-modules:\n  - {name: b, path: /b.so}\n  - {path: /a.so, name: a}\n", NULL,
	  "modules=[b|/b.so|-,a|/a.so|-] log=- key=- dirs=unset", 0, NULL },
	/* Two entries of one name are both kept; a module-name= lookup uses the first. */
	{ "module-name-twice",
	  "pkcs11-modules:\n  - {name: x, path: /1.so}\n  - {name: x, path: /2.so}\n", NULL,
	  "modules=[x|/1.so|-,x|/2.so|-] log=- key=- dirs=unset", 0, NULL },
	{ "modules-empty-list", "pkcs11-modules: []\n", NULL, "modules=[] log=- key=- dirs=unset",
	  0, NULL },
	{ "modules-16", NULL, gen_modules_16, NULL, 0, NULL },
	{ "audit", "audit-log: /var/lib/sevgate/audit.log\naudit-key: /etc/sevgate/audit.pem\n",
	  NULL, "modules=[] log=/var/lib/sevgate/audit.log key=/etc/sevgate/audit.pem dirs=unset",
	  0, NULL },
	{ "audit-key-uri",
	  "audit-key: \"pkcs11:token=prod;object=audit;type=private?module-name=hsm&pin-source=file:/etc/"
	  "sevgate/pin\"\n",
	  NULL,
	  "modules=[] log=- "
	  "key=pkcs11:token=prod;object=audit;type=private?module-name=hsm&pin-source=file:/etc/"
	  "sevgate/pin dirs=unset",
	  0, NULL },
	/* No configuration rule refuses a pin-value (the audit layer decides what a key may hold). */
	{ "audit-key-pin-value", "audit-key: \"pkcs11:token=t;object=a?pin-value=1234\"\n", NULL,
	  "modules=[] log=- key=pkcs11:token=t;object=a?pin-value=1234 dirs=unset", 0, NULL },
	{ "audit-quoted-number", "audit-log: '7'\n", NULL, "modules=[] log=7 key=- dirs=unset", 0,
	  NULL },
	{ "secret-dirs", "secret-dirs:\n  - /var/lib/sevgate/secrets\n  - /srv/s\n", NULL,
	  "modules=[] log=- key=- dirs=[/var/lib/sevgate/secrets,/srv/s]", 0, NULL },
	/* An empty list is set: no secret file is allowed anywhere. */
	{ "secret-dirs-empty", "secret-dirs: []\n", NULL, "modules=[] log=- key=- dirs=[]", 0,
	  NULL },
	{ "secret-dirs-16", NULL, gen_dirs_16, NULL, 0, NULL },
	{ "everything",
	  "secret-dirs: [/s]\naudit-key: /k.pem\npkcs11-modules:\n  - {name: n, path: /n.so, init-args: "
	  "a=b}\naudit-log: /l\n",
	  NULL, "modules=[n|/n.so|a=b] log=/l key=/k.pem dirs=[/s]", 0, NULL },

	/* Refused: unknown keys, wrong types, too many, duplicates. */
	{ "unknown-key", "audit-log: /l\naudit-logs: /m\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:2:1: unknown key 'audit-logs'" },
	{ "unknown-module-key", "pkcs11-modules:\n  - {name: n, path: /n.so, args: x}\n", NULL,
	  NULL, SG_E_FORMAT, "FILE:2:28: unknown key 'args' in a pkcs11-modules entry" },
	{ "root-list", "- audit-log\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:1:1: the configuration must be a mapping" },
	{ "root-scalar", "audit-log\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:1:1: the configuration must be a mapping" },
	{ "modules-not-list", "pkcs11-modules: {name: n, path: /n.so}\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:1:17: pkcs11-modules must be a list" },
	{ "modules-scalar", "pkcs11-modules: nss\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:1:17: pkcs11-modules must be a list" },
	{ "module-not-map", "pkcs11-modules:\n  - nss\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:2:5: a pkcs11-modules entry must be a mapping" },
	{ "module-no-path", "pkcs11-modules:\n  - name: n\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:2:5: a pkcs11-modules entry needs name and path" },
	{ "module-no-name", "pkcs11-modules:\n  - {path: /n.so}\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:2:5: a pkcs11-modules entry needs name and path" },
	{ "module-empty", "pkcs11-modules:\n  - {}\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:2:5: a pkcs11-modules entry needs name and path" },
	{ "module-name-list", "pkcs11-modules:\n  - {name: [n], path: /n.so}\n", NULL, NULL,
	  SG_E_FORMAT, "FILE:2:12: name must be a string" },
	{ "module-init-args-map",
	  "pkcs11-modules:\n  - {name: n, path: /n.so, init-args: {a: b}}\n", NULL, NULL,
	  SG_E_FORMAT, "FILE:2:39: init-args must be a string" },
	{ "modules-17", NULL, gen_modules_17, NULL, SG_E_LIMIT,
	  "FILE: more than 16 pkcs11-modules" },
	{ "audit-log-list", "audit-log: [/a, /b]\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:1:12: audit-log must be a string" },
	{ "audit-key-map", "audit-key:\n  file: /k\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:2:3: audit-key must be a string" },
	{ "secret-dirs-scalar", "secret-dirs: /s\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:1:14: secret-dirs must be a list of absolute directories" },
	{ "secret-dirs-relative", "secret-dirs:\n  - /ok\n  - rel/dir\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:3:5: secret-dirs must be a list of absolute directories" },
	{ "secret-dirs-empty-string", "secret-dirs: ['']\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:1:15: secret-dirs must be a list of absolute directories" },
	{ "secret-dirs-nested", "secret-dirs: [[/s]]\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:1:15: secret-dirs must be a list of absolute directories" },
	{ "secret-dirs-17", NULL, gen_dirs_17, NULL, SG_E_LIMIT,
	  "FILE:18:5: more than 16 secret-dirs" },
	/* The YAML tree's own refusals, with the file's position. */
	{ "duplicate-key", "audit-log: /a\naudit-log: /b\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:2:1: duplicate key: audit-log" },
	{ "duplicate-module-key", "pkcs11-modules:\n  - {name: a, path: /a.so, name: b}\n", NULL,
	  NULL, SG_E_FORMAT, "FILE:2:28: duplicate key: name" },
	{ "syntax-error", "audit-log: [/a\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:2:1: YAML syntax error: did not find expected ',' or ']'" },
	{ "two-documents", "audit-log: /a\n---\naudit-key: /k\n", NULL, NULL, SG_E_FORMAT,
	  "FILE:2:1: only one YAML document is allowed" },
	{ "merge-key", "m: &m {name: a, path: /a.so}\npkcs11-modules:\n  - {<<: *m}\n", NULL, NULL,
	  SG_E_FORMAT, "FILE:3:6: merge keys (<<) are not supported" },
};

static void
test_conf(void **state)
{
	const struct case_conf *t = *state;
	struct sg_config *c = UNTOUCHED;
	struct sg_error err = { 0 };
	char *gen = t->gen ? t->gen() : NULL;
	const char *text = gen ? gen : t->text;
	char *path = tv_tmp_write("sevgate.conf", text, strlen(text));
	int rc = sg_config_load(path, &c, &err);

	if (t->msg) {
		char *want = with_file(t->msg, path);

		TV_ASSERT_ERR(rc, &err, t->rc);
		assert_string_equal(err.msg, want);
		assert_ptr_equal(c, UNTOUCHED);
		free(want);
	} else {
		char *got;

		TV_ASSERT_OK(rc, &err);
		assert_string_equal(c->path, path);
		got = dump(c);
		if (t->want)
			assert_string_equal(got, t->want);
		free(got);
		if (t->gen == gen_modules_16) {
			assert_int_equal(c->nmodules, SG_CONFIG_MAX_MODULES);
			assert_string_equal(c->modules[15].name, "m15");
			assert_string_equal(c->modules[15].path, "/lib/m15.so");
		}
		if (t->gen == gen_dirs_16) {
			assert_int_equal(c->nsecret_dirs, SG_CONFIG_MAX_SECRET_DIRS);
			assert_string_equal(c->secret_dirs[15], "/s/15");
		}
		sg_config_free(c);
	}
	unlink(path);
	free(path);
	free(gen);
}

/* sg_config_path: the argument, else a non-empty $SEVGATE_CONFIG, else the default. */
struct case_path {
	const char *id;
	const char *arg, *env; /* env NULL: unset */
	const char *want;
	bool explicit;
};

static const struct case_path paths[] = {
	{ "path-default", NULL, NULL, SG_CONFIG_DEFAULT_PATH, false },
	{ "path-explicit", "/etc/x.conf", NULL, "/etc/x.conf", true },
	{ "path-explicit-empty-names-default", "", NULL, SG_CONFIG_DEFAULT_PATH, true },
	{ "path-env", NULL, "/run/e.conf", "/run/e.conf", true },
	{ "path-env-empty-ignored", NULL, "", SG_CONFIG_DEFAULT_PATH, false },
	{ "path-explicit-beats-env", "/etc/x.conf", "/run/e.conf", "/etc/x.conf", true },
	{ "path-explicit-empty-beats-env", "", "/run/e.conf", SG_CONFIG_DEFAULT_PATH, true },
	{ "path-relative-kept", "rel.conf", NULL, "rel.conf", true },
};

static void
test_path(void **state)
{
	const struct case_path *t = *state;
	bool explicit = !t->explicit;
	const char *got;

	if (t->env)
		assert_int_equal(setenv("SEVGATE_CONFIG", t->env, 1), 0);
	else
		assert_int_equal(unsetenv("SEVGATE_CONFIG"), 0);
	got = sg_config_path(t->arg, &explicit);
	assert_string_equal(got, t->want);
	assert_int_equal(explicit, t->explicit);
	/* The argument itself when it names a file; ret_explicit may be NULL. */
	if (t->arg && *t->arg)
		assert_ptr_equal(got, t->arg);
	assert_string_equal(sg_config_path(t->arg, NULL), t->want);
	unsetenv("SEVGATE_CONFIG");
}

/* A missing file is an error only when it was named (argument, "" or $SEVGATE_CONFIG). */
static void
test_missing_file(void **state)
{
	struct sg_config *c = UNTOUCHED;
	struct sg_error err = { 0 };
	char *missing = tv_tmp("no-such.conf"), want[1024];

	(void)state;
	unsetenv("SEVGATE_CONFIG");
	snprintf(want, sizeof(want), "cannot open YAML file '%s': No such file or directory",
		 missing);
	TV_ASSERT_ERR(sg_config_load(missing, &c, &err), &err, SG_E_IO);
	assert_string_equal(err.msg, want);
	assert_ptr_equal(c, UNTOUCHED);

	sg_error_clear(&err);
	assert_int_equal(setenv("SEVGATE_CONFIG", missing, 1), 0);
	TV_ASSERT_ERR(sg_config_load(NULL, &c, &err), &err, SG_E_IO);
	assert_string_equal(err.msg, want);
	assert_ptr_equal(c, UNTOUCHED);
	unsetenv("SEVGATE_CONFIG");

	/* A directory named is an error too. */
	sg_error_clear(&err);
	snprintf(want, sizeof(want), "cannot read YAML file '%s': Is a directory", tv_tmpdir());
	TV_ASSERT_ERR(sg_config_load(tv_tmpdir(), &c, &err), &err, SG_E_IO);
	assert_string_equal(err.msg, want);
	assert_ptr_equal(c, UNTOUCHED);
	free(missing);

	/* The default file, when this machine has none: an empty configuration, no path. */
	if (access(SG_CONFIG_DEFAULT_PATH, F_OK) == 0) {
		print_message("%s exists: the missing-default rows are skipped\n",
			      SG_CONFIG_DEFAULT_PATH);
		return;
	}
	sg_error_clear(&err);
	TV_ASSERT_OK(sg_config_load(NULL, &c, &err), &err);
	assert_null(c->path);
	assert_int_equal(c->nmodules, 0);
	assert_false(c->have_secret_dirs);
	sg_config_free(c);
	/* An empty $SEVGATE_CONFIG is unset. */
	assert_int_equal(setenv("SEVGATE_CONFIG", "", 1), 0);
	TV_ASSERT_OK(sg_config_load(NULL, &c, &err), &err);
	assert_null(c->path);
	sg_config_free(c);
	unsetenv("SEVGATE_CONFIG");
	/* The default named by an empty --config must exist. */
	c = UNTOUCHED;
	snprintf(want, sizeof(want), "cannot open YAML file '%s': No such file or directory",
		 SG_CONFIG_DEFAULT_PATH);
	TV_ASSERT_ERR(sg_config_load("", &c, &err), &err, SG_E_IO);
	assert_string_equal(err.msg, want);
	assert_ptr_equal(c, UNTOUCHED);
	sg_config_free(NULL);
}

/* Replace @path's contents (the owner must not notice until sg_config_reset). */
static void
rewrite(const char *path, const char *text)
{
	tv_write(path, text, strlen(text));
}

/* The owner reads a file once: later calls get the same object, even after the file changes. */
static void
test_owner_loads_once(void **state)
{
	const struct sg_config *c1 = NULL, *c2 = NULL, *c3 = NULL;
	struct sg_error err = { 0 };
	char *path = tv_tmp("once.conf");

	(void)state;
	sg_config_reset();
	rewrite(path, "audit-log: /first\n");
	TV_ASSERT_OK(sg_config_get(path, &c1, &err), &err);
	assert_string_equal(c1->audit_log, "/first");
	assert_string_equal(c1->path, path);
	rewrite(path, "audit-log: /second\n");
	TV_ASSERT_OK(sg_config_get(path, &c2, &err), &err);
	assert_ptr_equal(c2, c1);
	assert_string_equal(c2->audit_log, "/first");
	/* Even a file gone is not read again. */
	assert_int_equal(unlink(path), 0);
	TV_ASSERT_OK(sg_config_get(path, &c2, &err), &err);
	assert_ptr_equal(c2, c1);
	/* After a reset it is. */
	rewrite(path, "audit-log: /second\n");
	sg_config_reset();
	TV_ASSERT_OK(sg_config_get(path, &c3, &err), &err);
	assert_string_equal(c3->audit_log, "/second");
	sg_config_reset();
	free(path);
}

/* A failed load is reported each time and kept nowhere: once the file is fixed, it loads. */
static void
test_owner_failure_not_kept(void **state)
{
	const struct sg_config *c = (const struct sg_config *)UNTOUCHED;
	struct sg_error err = { 0 };
	char *path = tv_tmp("bad.conf"), want[1024];

	(void)state;
	sg_config_reset();
	rewrite(path, "audit-log: /a\nbogus: 1\n");
	snprintf(want, sizeof(want), "%s:2:1: unknown key 'bogus'", path);
	for (int i = 0; i < 2; i++) {
		sg_error_clear(&err);
		TV_ASSERT_ERR(sg_config_get(path, &c, &err), &err, SG_E_FORMAT);
		assert_string_equal(err.msg, want);
		assert_ptr_equal(c, UNTOUCHED);
	}
	rewrite(path, "audit-log: /a\n");
	sg_error_clear(&err);
	TV_ASSERT_OK(sg_config_get(path, &c, &err), &err);
	assert_string_equal(c->audit_log, "/a");
	sg_config_reset();
	free(path);
}

/* One object per file chosen: the same file however it is named; named or not apart. */
static void
test_owner_per_path(void **state)
{
	const struct sg_config *a = NULL, *b = NULL, *e = NULL, *dflt = NULL;
	struct sg_error err = { 0 };
	char *pa = tv_tmp("a.conf"), *pb = tv_tmp("b.conf"), want[1024];

	(void)state;
	sg_config_reset();
	unsetenv("SEVGATE_CONFIG");
	rewrite(pa, "audit-log: /a\n");
	rewrite(pb, "audit-log: /b\n");
	TV_ASSERT_OK(sg_config_get(pa, &a, &err), &err);
	TV_ASSERT_OK(sg_config_get(pb, &b, &err), &err);
	assert_ptr_not_equal(a, b);
	assert_string_equal(a->audit_log, "/a");
	assert_string_equal(b->audit_log, "/b");
	/* $SEVGATE_CONFIG naming a.conf is a.conf. */
	assert_int_equal(setenv("SEVGATE_CONFIG", pa, 1), 0);
	TV_ASSERT_OK(sg_config_get(NULL, &e, &err), &err);
	assert_ptr_equal(e, a);
	unsetenv("SEVGATE_CONFIG");
	if (access(SG_CONFIG_DEFAULT_PATH, F_OK) == 0) {
		print_message("%s exists: the missing-default rows are skipped\n",
			      SG_CONFIG_DEFAULT_PATH);
	} else {
		/* The missing default is the empty configuration, kept like any other... */
		TV_ASSERT_OK(sg_config_get(NULL, &dflt, &err), &err);
		assert_null(dflt->path);
		assert_int_equal(dflt->nmodules, 0);
		TV_ASSERT_OK(sg_config_get(NULL, &e, &err), &err);
		assert_ptr_equal(e, dflt);
		/* ...but named (an empty --config), the same file must exist. */
		e = NULL;
		snprintf(want, sizeof(want),
			 "cannot open YAML file '%s': No such file or directory",
			 SG_CONFIG_DEFAULT_PATH);
		TV_ASSERT_ERR(sg_config_get("", &e, &err), &err, SG_E_IO);
		assert_string_equal(err.msg, want);
		assert_null(e);
	}
	sg_config_reset();
	free(pa);
	free(pb);
}

/* sg_config_module: the first entry of a name, none, or the load's error. */
static void
test_owner_module(void **state)
{
	const struct sg_p11_module_conf *m = (const struct sg_p11_module_conf *)0x5a5a;
	const struct sg_config *c = NULL;
	struct sg_error err = { 0 };
	char *path = tv_tmp("mods.conf"), *missing = tv_tmp("mods-missing.conf"), want[1024];

	(void)state;
	sg_config_reset();
	rewrite(path, "pkcs11-modules:\n  - {name: soft, path: /s.so}\n"
		      "  - {name: nss, path: /n.so, init-args: \"configdir=x\"}\n"
		      "  - {name: soft, path: /s2.so}\n");
	assert_int_equal(sg_config_module(path, "nss", &m, &err), 1);
	assert_string_equal(m->path, "/n.so");
	assert_string_equal(m->init_args, "configdir=x");
	TV_ASSERT_OK(sg_config_get(path, &c, &err), &err);
	assert_ptr_equal(m, &c->modules[1]);
	assert_int_equal(sg_config_module(path, "soft", &m, &err), 1);
	assert_ptr_equal(m, &c->modules[0]);
	assert_null(m->init_args);
	assert_int_equal(sg_config_module(path, "hsm", &m, &err), 0);
	assert_null(m);
	assert_int_equal(sg_config_module(path, "", &m, &err), 0);
	assert_int_equal(err.code, 0);

	m = (const struct sg_p11_module_conf *)0x5a5a;
	snprintf(want, sizeof(want), "cannot open YAML file '%s': No such file or directory",
		 missing);
	TV_ASSERT_ERR(sg_config_module(missing, "nss", &m, &err), &err, SG_E_IO);
	assert_string_equal(err.msg, want);
	assert_ptr_equal(m, (const struct sg_p11_module_conf *)0x5a5a);
	sg_config_reset();
	free(path);
	free(missing);
}

#define NTHREADS 8

static struct {
	pthread_barrier_t start;
	const char *path;
	const struct sg_config *got[NTHREADS];
	const struct sg_p11_module_conf *mod[NTHREADS];
	int rc[NTHREADS], mrc[NTHREADS];
} race;

static void *
asker(void *arg)
{
	size_t i = (size_t)arg;
	struct sg_error err = { 0 };

	pthread_barrier_wait(&race.start);
	if (i % 2)
		race.rc[i] = sg_config_get(race.path, &race.got[i], &err);
	race.mrc[i] = sg_config_module(race.path, "m15", &race.mod[i], &err);
	if (!(i % 2))
		race.rc[i] = sg_config_get(race.path, &race.got[i], &err);
	return NULL;
}

/* Threads asking at once, before anything is loaded, all get the one object. */
static void
test_owner_threads(void **state)
{
	char *text = gen_modules_16();
	pthread_t t[NTHREADS];

	(void)state;
	race.path = tv_tmp_write("race.conf", text, strlen(text));
	for (int round = 0; round < 20; round++) {
		sg_config_reset();
		memset(race.got, 0, sizeof(race.got));
		assert_int_equal(pthread_barrier_init(&race.start, NULL, NTHREADS), 0);
		for (size_t i = 0; i < NTHREADS; i++)
			assert_int_equal(pthread_create(&t[i], NULL, asker, (void *)i), 0);
		for (size_t i = 0; i < NTHREADS; i++)
			assert_int_equal(pthread_join(t[i], NULL), 0);
		pthread_barrier_destroy(&race.start);
		for (size_t i = 0; i < NTHREADS; i++) {
			assert_int_equal(race.rc[i], 0);
			assert_int_equal(race.mrc[i], 1);
			assert_ptr_equal(race.got[i], race.got[0]);
			assert_ptr_equal(race.mod[i], &race.got[0]->modules[15]);
		}
		assert_string_equal(race.got[0]->modules[15].path, "/lib/m15.so");
	}
	sg_config_reset();
	free((char *)race.path);
	free(text);
}

/*
 * The PKCS#11 back end keeps no copy: the file --config names is loaded
 * through the owner (checked at once, the message unchanged), and its
 * shutdown leaves the owner's object alone.
 */
static void
test_p11_asks_owner(void **state)
{
	const struct sg_config *c = NULL, *again = NULL;
	struct sg_error err = { 0 };
	char *path = tv_tmp("p11.conf"), *missing = tv_tmp("p11-missing.conf"), want[1024];

	(void)state;
	sg_config_reset();
	rewrite(path, "pkcs11-modules:\n  - {name: nss, path: /n.so}\n");
	TV_ASSERT_OK(sg_p11_set_config(path, &err), &err);
	rewrite(path, "pkcs11-modules:\n  - {name: other, path: /o.so}\n");
	TV_ASSERT_OK(sg_config_get(path, &c, &err), &err);
	assert_string_equal(c->modules[0].name, "nss");
	sg_p11_shutdown();
	TV_ASSERT_OK(sg_config_get(path, &again, &err), &err);
	assert_ptr_equal(again, c);

	snprintf(want, sizeof(want), "cannot open YAML file '%s': No such file or directory",
		 missing);
	TV_ASSERT_ERR(sg_p11_set_config(missing, &err), &err, SG_E_IO);
	assert_string_equal(err.msg, want);
	sg_error_clear(&err);
	TV_ASSERT_OK(sg_p11_set_config(NULL, &err), &err);
	sg_p11_shutdown();
	sg_config_reset();
	free(path);
	free(missing);
}

/* sg_p11_tokens on @spec: its code, with the message in @err. */
static int
tokens(const char *spec, struct sg_error *err)
{
	P11KitUri *uri = NULL;
	struct sg_p11_token **toks = NULL;
	int r;

	sg_error_clear(err);
	if ((r = sg_p11_uri_parse(spec, false, &uri, err)) < 0)
		return r;
	r = sg_p11_tokens(uri, spec, NULL, &toks, err);
	free(toks);
	p11_kit_uri_free(uri);
	return r;
}

/*
 * A module-name= URI finds its module in the configuration the owner holds:
 * the file given to sg_p11_set_config, else $SEVGATE_CONFIG or the default,
 * read only when such a URI comes (a module-path= URI never reads it).
 */
static void
test_p11_module_name_from_config(void **state)
{
	struct sg_error err = { 0 };
	char *path = tv_tmp("names.conf"), *bad = tv_tmp("names-bad.conf"), want[1024];
	static const char nope[] = "/nonexistent/libnope-pkcs11.so";

	(void)state;
	sg_config_reset();
	unsetenv("SEVGATE_CONFIG");
	rewrite(path,
		"pkcs11-modules:\n  - {name: cfgmod, path: /nonexistent/libnope-pkcs11.so}\n");
	rewrite(bad, "pkcs11-modules: 7\n");
	TV_ASSERT_OK(sg_p11_set_config(path, &err), &err);
	/* The entry's path is the one loaded. */
	TV_ASSERT_ERR(tokens("pkcs11:token=t?module-name=cfgmod", &err), &err, SG_E_TOKEN);
	snprintf(want, sizeof(want), "cannot load PKCS#11 module '%s': ", nope);
	assert_memory_equal(err.msg, want, strlen(want));

	/* No explicit file: $SEVGATE_CONFIG, read at the first module-name= URI. */
	TV_ASSERT_OK(sg_p11_set_config(NULL, &err), &err);
	assert_int_equal(setenv("SEVGATE_CONFIG", bad, 1), 0);
	TV_ASSERT_ERR(tokens("pkcs11:token=t?module-path=/nonexistent/libother.so", &err), &err,
		      SG_E_TOKEN);
	assert_non_null(strstr(err.msg, "cannot load PKCS#11 module '/nonexistent/libother.so'"));
	snprintf(want, sizeof(want), "%s:1:17: pkcs11-modules must be a list", bad);
	for (int i = 0; i < 2; i++) {
		TV_ASSERT_ERR(tokens("pkcs11:token=t?module-name=cfgmod", &err), &err, SG_E_FORMAT);
		assert_string_equal(err.msg, want);
	}
	assert_int_equal(setenv("SEVGATE_CONFIG", path, 1), 0);
	TV_ASSERT_ERR(tokens("pkcs11:token=t?module-name=cfgmod", &err), &err, SG_E_TOKEN);
	snprintf(want, sizeof(want), "cannot load PKCS#11 module '%s': ", nope);
	assert_memory_equal(err.msg, want, strlen(want));
	unsetenv("SEVGATE_CONFIG");

	/* A name the file does not have is looked for among p11-kit's modules. */
	TV_ASSERT_OK(sg_p11_set_config(path, &err), &err);
	TV_ASSERT_ERR(tokens("pkcs11:token=t?module-name=cfg-none", &err), &err, SG_E_TOKEN);
	assert_string_equal(err.msg, "no PKCS#11 module named 'cfg-none' is configured (p11-kit or "
				     "sevgate.conf pkcs11-modules)");
	sg_p11_shutdown();
	sg_config_reset();
	free(path);
	free(bad);
}

int
main(int argc, char **argv)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_owner_loads_once),
		cmocka_unit_test(test_owner_failure_not_kept),
		cmocka_unit_test(test_owner_per_path),
		cmocka_unit_test(test_owner_module),
		cmocka_unit_test(test_owner_threads),
		cmocka_unit_test(test_p11_asks_owner),
		cmocka_unit_test(test_p11_module_name_from_config),
	};
	struct CMUnitTest tests[SG_ELEMENTSOF(confs) + SG_ELEMENTSOF(paths) + SG_ELEMENTSOF(fixed)];
	size_t n = 0;

	unsetenv("SEVGATE_CONFIG");
	for (size_t i = 0; i < SG_ELEMENTSOF(confs); i++)
		tests[n++] = ROW(test_conf, confs, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(paths); i++)
		tests[n++] = ROW(test_path, paths, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(fixed); i++)
		tests[n++] = fixed[i];
	return tv_main(argc, argv, "config", tests, n, NULL, 0);
}
