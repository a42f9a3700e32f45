/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/outputs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "manifest/manifest.h"
#include "key/admin.h"
#include "util/fileio.h"

struct protected
{
	dev_t dev;
	ino_t ino;
	const char *what;
};

/*
 * The process's protected files: noted as a run (a batch, the service) opens
 * its log and reads its manifests, looked up by every guest's check. Notes
 * take the lock for writing, lookups for reading; once sealed (sorted), a
 * lookup is a binary search, and a later note unseals it.
 */
static pthread_rwlock_t prot_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct protected *prot;
static size_t nprot, capprot;
static bool sealed;

static int
cmp_prot(const void *pa, const void *pb)
{
	const struct protected *a = pa, *b = pb;

	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	return a->ino < b->ino ? -1 : a->ino > b->ino;
}

int
sg_output_protect(const char *path, const char *what, struct sg_error *err)
{
	struct stat st;

	if (!path || stat(path, &st) < 0)
		return 0;
	pthread_rwlock_wrlock(&prot_lock);
	if (nprot == capprot) {
		size_t ncap = capprot ? capprot * 2 : 8;
		struct protected *n = realloc(prot, ncap * sizeof(*n));

		if (!n) {
			pthread_rwlock_unlock(&prot_lock);
			return sg_error_set(err, SG_E_NOMEM, "out of memory");
		}
		prot = n;
		capprot = ncap;
	}
	prot[nprot++] = (struct protected){ st.st_dev, st.st_ino, what };
	sealed = false;
	pthread_rwlock_unlock(&prot_lock);
	return 0;
}

void
sg_output_protect_seal(void)
{
	pthread_rwlock_wrlock(&prot_lock);
	if (nprot > 1)
		qsort(prot, nprot, sizeof(*prot), cmp_prot);
	sealed = true;
	pthread_rwlock_unlock(&prot_lock);
}

/* What @st is of the protected files, or NULL; the name is static text. */
static const char *
protected_as(const struct stat *st)
{
	struct protected key = { st->st_dev, st->st_ino, NULL }, *hit = NULL;
	const char *what = NULL;

	pthread_rwlock_rdlock(&prot_lock);
	if (sealed) {
		hit = bsearch(&key, prot, nprot, sizeof(*prot), cmp_prot);
	} else {
		for (size_t i = 0; i < nprot && !hit; i++)
			if (!cmp_prot(&key, &prot[i]))
				hit = &prot[i];
	}
	if (hit)
		what = hit->what;
	pthread_rwlock_unlock(&prot_lock);
	return what;
}

static bool
same_inode(const struct stat *st, const char *path)
{
	struct stat o;

	return path && stat(path, &o) == 0 && o.st_dev == st->st_dev && o.st_ino == st->st_ino;
}

/* What @path is of the machine's own files (or @m's), NULL when none. */
static const char *
collides(const char *path, const struct sg_manifest *m)
{
	_cleanup_(sg_freep) char *defaults = NULL;
	const char *slash = NULL;
	struct stat st;

	/* One that does not exist yet cannot be any of them: they all exist by now. */
	if (stat(path, &st) < 0)
		return NULL;
	if (m && same_inode(&st, m->path))
		return "the manifest itself";
	if (m && (slash = strrchr(m->path, '/')) &&
	    asprintf(&defaults, "%.*s/defaults.yaml", (int)(slash - m->path), m->path) > 0 &&
	    same_inode(&st, defaults))
		return "the manifest's defaults.yaml";
	if (m && !slash && same_inode(&st, "defaults.yaml"))
		return "the manifest's defaults.yaml";
	return protected_as(&st);
}

int
sg_output_check(const char *path, const char *what, struct sg_error *err)
{
	struct stat st;
	const char *is;

	if (!path || stat(path, &st) < 0 || !(is = protected_as(&st)))
		return 0;
	return sg_error_set(err, SG_E_USAGE,
			    "%s '%s' is %s: an output never overwrites the audit log, its key, "
			    "the configuration or a manifest",
			    what, path, is);
}

/* A PIN file a key URI names (pin-source=file:PATH), as p11-kit parses the URI. */
static bool
is_pin_source(const struct stat *st, const char *spec)
{
	struct sg_key_uri_facts f;
	bool hit;

	if (!spec || strncmp(spec, "pkcs11:", 7) || sg_key_uri_inspect(spec, &f, NULL) < 0)
		return false;
	hit = f.pin_source &&
	      same_inode(st, !strncmp(f.pin_source, "file:", 5) ? f.pin_source + 5 : f.pin_source);
	sg_key_uri_facts_done(&f);
	return hit;
}

/* What @path is of this guest's key and PIN files, NULL when none. */
static const char *
guest_file(const char *path, const struct sg_guest_spec *g)
{
	const struct sg_validate_req *q = &g->req;
	const char *keys[] = { q->tik, q->tek, q->tk };
	struct stat st;

	if (stat(path, &st) < 0)
		return NULL;
	for (size_t i = 0; i < SG_ELEMENTSOF(keys); i++)
		if (keys[i] && strncmp(keys[i], "pkcs11:", 7) && same_inode(&st, keys[i]))
			return "a key file of this guest";
	if (same_inode(&st, q->key_opts.pin_file))
		return "a PIN file of this guest";
	for (size_t i = 0; i < SG_ELEMENTSOF(keys); i++)
		if (is_pin_source(&st, keys[i]))
			return "a PIN file of this guest";
	for (size_t i = 0; i < q->nsecrets; i++)
		if (is_pin_source(&st, q->secrets[i].path))
			return "a PIN file of this guest";
	return NULL;
}

static int
refuse(const struct sg_manifest_loc *loc, const char *key, const char *path, const char *why,
       struct sg_error *err)
{
	if (loc && loc->file)
		return sg_error_set(err, SG_E_USAGE, "%s:%u:%u: %s '%s' is %s", loc->file,
				    loc->line, loc->col, key, path, why);
	return sg_error_set(err, SG_E_USAGE, "--%s '%s' is %s", key, path, why);
}

int
sg_output_check_guest(const struct sg_guest_spec *g, const struct sg_manifest *m,
		      struct sg_error *err)
{
	static const char rule[] = "a packet output never overwrites the audit log, its key, the "
				   "configuration, a manifest, or a key or PIN file";
	const char *h = g->req.secret_header, *p = g->req.secret_payload, *what;
	const struct sg_manifest_loc *hloc = m ? &m->header_loc : NULL;
	const struct sg_manifest_loc *ploc = m ? &m->payload_loc : NULL;
	char why[256];

	/* Online the packet is injected: these files are not written. */
	if (g->domain || (!h && !p))
		return 0;
	if (h && ((what = collides(h, m)) || (what = guest_file(h, g)))) {
		snprintf(why, sizeof(why), "%s: %s", what, rule);
		return refuse(hloc, "secret-header", h, why, err);
	}
	if (p && ((what = collides(p, m)) || (what = guest_file(p, g)))) {
		snprintf(why, sizeof(why), "%s: %s", what, rule);
		return refuse(ploc, "secret-payload", p, why, err);
	}
	if (h && p && sg_path_same_file(h, p)) {
		if (hloc && hloc->file && !(ploc && ploc->file))
			return refuse(hloc, "secret-header", h,
				      "also the secret payload: the header and the payload need "
				      "two files",
				      err);
		return refuse(ploc, "secret-payload", p,
			      "also the secret header: the header and the payload need two files",
			      err);
	}
	return 0;
}
