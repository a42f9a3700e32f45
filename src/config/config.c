/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config/config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "yaml/yaml.h"
#include "util/secmem.h"

static int
load_module(const struct sg_yaml_doc *d, const struct sg_yaml_node *m,
	    struct sg_p11_module_conf *out, struct sg_error *err)
{
	const char *v;
	int r;

	if (m->kind != SG_YAML_MAP)
		return sg_error_set(err, SG_E_FORMAT,
				    "%s:%u:%u: a pkcs11-modules entry must be a mapping", d->file,
				    m->line, m->column);
	for (size_t i = 0; i < m->n; i++) {
		char **slot;

		if (!strcmp(m->keys[i], "name"))
			slot = &out->name;
		else if (!strcmp(m->keys[i], "path"))
			slot = &out->path;
		else if (!strcmp(m->keys[i], "init-args"))
			slot = &out->init_args;
		else
			return sg_error_set(err, SG_E_FORMAT,
					    "%s:%u:%u: unknown key '%s' in a pkcs11-modules entry",
					    d->file, m->key_lines[i], m->key_columns[i],
					    m->keys[i]);
		if ((r = sg_yaml_string(d, m->items[i], m->keys[i], &v, err)) < 0)
			return r;
		if (!(*slot = strdup(v)))
			return sg_error_set(err, SG_E_NOMEM, "out of memory");
	}
	if (!out->name || !out->path)
		return sg_error_set(err, SG_E_FORMAT,
				    "%s:%u:%u: a pkcs11-modules entry needs name and path", d->file,
				    m->line, m->column);
	return 0;
}

const char *
sg_config_path(const char *path, bool *ret_explicit)
{
	const char *env;

	if (!path && (env = secure_getenv("SEVGATE_CONFIG")) && *env)
		path = env;
	if (ret_explicit)
		*ret_explicit = path != NULL;
	return path && *path ? path : SG_CONFIG_DEFAULT_PATH;
}

/* secret-dirs: a list of absolute directories (docs/manifest.md, trust model). */
static int
load_secret_dirs(const struct sg_yaml_doc *d, const struct sg_yaml_node *v, struct sg_config *c,
		 struct sg_error *err)
{
	if (v->kind != SG_YAML_SEQ)
		return sg_error_set(err, SG_E_FORMAT,
				    "%s:%u:%u: secret-dirs must be a list of absolute directories",
				    d->file, v->line, v->column);
	for (size_t i = 0; i < v->n; i++) {
		const struct sg_yaml_node *e = v->items[i];

		if (e->kind != SG_YAML_SCALAR || e->value[0] != '/')
			return sg_error_set(err, SG_E_FORMAT,
					    "%s:%u:%u: secret-dirs must be a list of absolute "
					    "directories",
					    d->file, e->line, e->column);
		if (c->nsecret_dirs == SG_CONFIG_MAX_SECRET_DIRS)
			return sg_error_set(err, SG_E_LIMIT, "%s:%u:%u: more than %d secret-dirs",
					    d->file, e->line, e->column, SG_CONFIG_MAX_SECRET_DIRS);
		if (!(c->secret_dirs[c->nsecret_dirs] = strdup(e->value)))
			return sg_error_set(err, SG_E_NOMEM, "out of memory");
		c->nsecret_dirs++;
	}
	c->have_secret_dirs = true;
	return 0;
}

/* Read @path, which sg_config_path chose (@explicit: it was named). */
static int
load_file(const char *path, bool explicit, struct sg_config **ret, struct sg_error *err)
{
	_cleanup_(sg_config_freep) struct sg_config *c = calloc(1, sizeof(*c));
	_cleanup_(sg_yaml_freep) struct sg_yaml_doc *d = NULL;
	const struct sg_yaml_node *root;
	int r;

	if (!c)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	if (!explicit && access(path, F_OK) < 0 && errno == ENOENT) {
		*ret = SG_TAKE_PTR(c);
		return 0;
	}
	if ((r = sg_yaml_load(path, &d, err)) < 0)
		return r;
	if (!(c->path = strdup(path)))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	root = d->root;
	if (root && root->kind != SG_YAML_MAP)
		return sg_error_set(err, SG_E_FORMAT,
				    "%s:%u:%u: the configuration must be a mapping", path,
				    root->line, root->column);
	for (size_t i = 0; root && i < root->n; i++) {
		const struct sg_yaml_node *v = root->items[i];

		if (!strcmp(root->keys[i], "audit-log") || !strcmp(root->keys[i], "audit-key")) {
			char **dst = root->keys[i][6] == 'l' ? &c->audit_log : &c->audit_key;
			const char *val;

			if ((r = sg_yaml_string(d, v, root->keys[i], &val, err)) < 0)
				return r;
			sg_str_wipe_free(*dst);
			if (!(*dst = strdup(val)))
				return sg_error_set(err, SG_E_NOMEM, "out of memory");
			continue;
		}
		if (!strcmp(root->keys[i], "secret-dirs")) {
			if ((r = load_secret_dirs(d, v, c, err)) < 0)
				return r;
			continue;
		}
		if (strcmp(root->keys[i], "pkcs11-modules"))
			return sg_error_set(err, SG_E_FORMAT, "%s:%u:%u: unknown key '%s'", path,
					    root->key_lines[i], root->key_columns[i],
					    root->keys[i]);
		if (v->kind != SG_YAML_SEQ)
			return sg_error_set(err, SG_E_FORMAT,
					    "%s:%u:%u: pkcs11-modules must be a list", path,
					    v->line, v->column);
		for (size_t j = 0; j < v->n; j++) {
			if (c->nmodules == SG_CONFIG_MAX_MODULES)
				return sg_error_set(err, SG_E_LIMIT,
						    "%s: more than %d pkcs11-modules", path,
						    SG_CONFIG_MAX_MODULES);
			if ((r = load_module(d, v->items[j], &c->modules[c->nmodules++], err)) < 0)
				return r;
		}
	}
	*ret = SG_TAKE_PTR(c);
	return 0;
}

int
sg_config_load(const char *path, struct sg_config **ret, struct sg_error *err)
{
	bool explicit;

	path = sg_config_path(path, &explicit);
	return load_file(path, explicit, ret, err);
}

void
sg_config_free(struct sg_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nmodules; i++) {
		sg_str_wipe_free(c->modules[i].name);
		sg_str_wipe_free(c->modules[i].path);
		sg_str_wipe_free(c->modules[i].init_args);
	}
	for (size_t i = 0; i < c->nsecret_dirs; i++)
		sg_str_wipe_free(c->secret_dirs[i]);
	sg_str_wipe_free(c->audit_log);
	sg_str_wipe_free(c->audit_key);
	sg_str_wipe_free(c->path);
	free(c);
}

/*
 * The process's configurations, one per file sg_config_path chose (and
 * whether it was named: a missing default file is an empty configuration, a
 * missing named one an error). Entries are only added, under the lock, and
 * stay until sg_config_reset; a pointer handed out is never written again.
 */
struct loaded {
	struct loaded *next;
	bool explicit;
	struct sg_config *config;
	char path[]; /* as sg_config_path chose it */
};

static struct {
	pthread_mutex_t lock;
	struct loaded *loaded;
} owner = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int
get_locked(const char *path, const struct sg_config **ret, struct sg_error *err)
{
	_cleanup_(sg_freep) struct loaded *l = NULL;
	bool explicit;
	size_t len;
	int r;

	path = sg_config_path(path, &explicit);
	for (const struct loaded *e = owner.loaded; e; e = e->next)
		if (e->explicit == explicit && !strcmp(e->path, path)) {
			*ret = e->config;
			return 0;
		}
	len = strlen(path);
	if (!(l = calloc(1, sizeof(*l) + len + 1)))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	memcpy(l->path, path, len + 1);
	l->explicit = explicit;
	if ((r = load_file(path, explicit, &l->config, err)) < 0)
		return r;
	l->next = owner.loaded;
	owner.loaded = l;
	*ret = SG_TAKE_PTR(l)->config;
	return 0;
}

int
sg_config_get(const char *path, const struct sg_config **ret, struct sg_error *err)
{
	int r;

	pthread_mutex_lock(&owner.lock);
	r = get_locked(path, ret, err);
	pthread_mutex_unlock(&owner.lock);
	return r;
}

int
sg_config_module(const char *path, const char *name, const struct sg_p11_module_conf **ret,
		 struct sg_error *err)
{
	const struct sg_config *c;
	int r;

	if ((r = sg_config_get(path, &c, err)) < 0)
		return r;
	/* The first entry of that name, as before: a later one is never used. */
	for (size_t i = 0; i < c->nmodules; i++)
		if (!strcmp(c->modules[i].name, name)) {
			*ret = &c->modules[i];
			return 1;
		}
	*ret = NULL;
	return 0;
}

void
sg_config_reset(void)
{
	struct loaded *l;

	pthread_mutex_lock(&owner.lock);
	while ((l = owner.loaded)) {
		owner.loaded = l->next;
		sg_config_free(l->config);
		free(l);
	}
	pthread_mutex_unlock(&owner.lock);
}

/* At exit the configurations are wiped and freed, as the PKCS#11 back end's shutdown did. */
__attribute__((destructor)) static void
reset_at_exit(void)
{
	sg_config_reset();
}
