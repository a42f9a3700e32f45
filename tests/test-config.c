/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * src/config/config.c: one table of configuration texts and what each
 * loads (modules, audit-log, audit-key, secret-dirs) or the exact code and
 * message it is refused with; one of path choices (explicit, $SEVGATE_CONFIG,
 * the default); the missing-file rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vectors.h"
#include "config/config.h"

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

int
main(int argc, char **argv)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_missing_file),
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
