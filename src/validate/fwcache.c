/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "validate/fwcache.h"

#include "core/digest.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What says a file is still the one read: changed content moves mtime or ctime. */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct slot {
	struct sg_fw_entry e;
	struct file_id id;
};

/* A kernel or initrd: only its SHA-256 goes into the hashes table. */
struct file_hash {
	struct file_id id;
	uint8_t sha256[SG_SHA256_LEN];
};

/* SHA-256 states along one launch: after the firmware and table, the BSP, and k AP pages. */
struct chain {
	const struct sg_fw_entry *fw;
	bool have_table;
	uint8_t table[SG_HASHES_TABLE_PADDED_LEN];
	bool have_bsp, have_ap;
	uint8_t bsp[SG_VMSA_SIZE], ap[SG_VMSA_SIZE];
	struct sg_sha256 *head;	   /* after firmware and table */
	struct sg_sha256 **states; /* states[k]: after the BSP and k AP pages */
	size_t nstates, capstates;
};

struct sg_fwcache {
	struct sg_crypto *crypto;
	pthread_mutex_t lock;
	struct slot slots[SG_FWCACHE_MAX];
	size_t n;
	struct chain *chains[SG_FWCACHE_MAX_CHAINS];
	size_t nchains;
	struct file_hash *hashes;
	size_t nhashes;
};

int
sg_fwcache_new(struct sg_crypto *c, struct sg_fwcache **ret, struct sg_error *err)
{
	struct sg_fwcache *fc = calloc(1, sizeof(*fc));

	if (!fc)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	fc->crypto = c;
	pthread_mutex_init(&fc->lock, NULL);
	*ret = fc;
	return 0;
}

void
sg_fwcache_free(struct sg_fwcache *fc)
{
	if (!fc)
		return;
	for (size_t i = 0; i < fc->n; i++) {
		sg_file_free(fc->slots[i].e.file);
		sg_sha256_free(fc->slots[i].e.state);
	}
	for (size_t i = 0; i < fc->nchains; i++) {
		struct chain *ch = fc->chains[i];

		sg_sha256_free(ch->head);
		for (size_t k = 0; k < ch->nstates; k++)
			sg_sha256_free(ch->states[k]);
		free(ch->states);
		free(ch);
	}
	free(fc->hashes);
	pthread_mutex_destroy(&fc->lock);
	free(fc);
}

static bool
same_id(const struct file_id *s, const struct stat *st)
{
	return s->dev == st->st_dev && s->ino == st->st_ino && s->size == st->st_size &&
	       s->mtime.tv_sec == st->st_mtim.tv_sec && s->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       s->ctime.tv_sec == st->st_ctim.tv_sec && s->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static bool
same(const struct slot *s, const struct stat *st)
{
	return same_id(&s->id, st);
}

static void
set_id(struct file_id *id, const struct stat *st)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
	id->ctime = st->st_ctim;
}

static int
fill(struct sg_fwcache *fc, const char *path, struct slot *s, struct sg_error *err)
{
	_cleanup_(sg_file_freep) struct sg_file *f = NULL;
	_cleanup_(sg_sha256_freep) struct sg_sha256 *h = NULL, *fin = NULL;
	int r;

	if ((r = sg_file_map(path, SG_FILE_MAX, "firmware", &f, err)) < 0 ||
	    (r = sg_sha256_new(fc->crypto, &h, err)) < 0 ||
	    (r = sg_sha256_update(h, f->data, f->len, err)) < 0 ||
	    (r = sg_sha256_dup(h, &fin, err)) < 0 ||
	    (r = sg_sha256_final(fin, s->e.sha256, err)) < 0)
		return r;
	set_id(&s->id, &f->st);
	s->e.file = SG_TAKE_PTR(f);
	s->e.state = SG_TAKE_PTR(h);
	return 0;
}

int
sg_fwcache_get(struct sg_fwcache *fc, const char *path, const struct sg_fw_entry **ret,
	       struct sg_error *err)
{
	struct slot fresh = { 0 };
	struct stat st;
	int r = 0;

	/* stat() failing is reported by the read below, with the usual message. */
	if (stat(path, &st) == 0) {
		pthread_mutex_lock(&fc->lock);
		for (size_t i = 0; i < fc->n; i++)
			if (same(&fc->slots[i], &st)) {
				*ret = &fc->slots[i].e;
				pthread_mutex_unlock(&fc->lock);
				return 0;
			}
		pthread_mutex_unlock(&fc->lock);
	}
	if ((r = fill(fc, path, &fresh, err)) < 0)
		return r;
	pthread_mutex_lock(&fc->lock);
	for (size_t i = 0; i < fc->n; i++)
		if (same(&fc->slots[i], &fresh.e.file->st)) {
			/* Another thread filled it meanwhile. */
			*ret = &fc->slots[i].e;
			pthread_mutex_unlock(&fc->lock);
			sg_file_free(fresh.e.file);
			sg_sha256_free(fresh.e.state);
			return 0;
		}
	if (fc->n == SG_FWCACHE_MAX) {
		pthread_mutex_unlock(&fc->lock);
		sg_file_free(fresh.e.file);
		sg_sha256_free(fresh.e.state);
		return sg_error_set(err, SG_E_LIMIT, "more than %d distinct firmware images",
				    SG_FWCACHE_MAX);
	}
	fc->slots[fc->n] = fresh;
	*ret = &fc->slots[fc->n++].e;
	pthread_mutex_unlock(&fc->lock);
	return 0;
}

static bool
chain_matches(const struct chain *ch, const struct sg_fw_entry *fw, const uint8_t *table,
	      const uint8_t *bsp, const uint8_t *ap)
{
	return ch->fw == fw && ch->have_table == !!table &&
	       (!table || !memcmp(ch->table, table, sizeof(ch->table))) && ch->have_bsp == !!bsp &&
	       (!bsp || !memcmp(ch->bsp, bsp, SG_VMSA_SIZE)) && ch->have_ap == !!ap &&
	       (!ap || !memcmp(ch->ap, ap, SG_VMSA_SIZE));
}

/* *@ret: the chain for these inputs, a new one, or NULL when the cache is full. */
static int
chain_get(struct sg_fwcache *fc, const struct sg_fw_entry *fw, const uint8_t *table,
	  const uint8_t *bsp, const uint8_t *ap, struct chain **ret, struct sg_error *err)
{
	struct chain *ch;
	int r;

	*ret = NULL;
	for (size_t i = 0; i < fc->nchains; i++)
		if (chain_matches(fc->chains[i], fw, table, bsp, ap)) {
			*ret = fc->chains[i];
			return 0;
		}
	if (fc->nchains == SG_FWCACHE_MAX_CHAINS)
		return 0; /* full: the caller hashes without the cache */
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	ch->fw = fw;
	if ((ch->have_table = table != NULL))
		memcpy(ch->table, table, sizeof(ch->table));
	if ((ch->have_bsp = bsp != NULL))
		memcpy(ch->bsp, bsp, SG_VMSA_SIZE);
	if ((ch->have_ap = ap != NULL))
		memcpy(ch->ap, ap, SG_VMSA_SIZE);
	if ((r = sg_sha256_dup(fw->state, &ch->head, err)) < 0 ||
	    (table &&
	     (r = sg_sha256_update(ch->head, table, SG_HASHES_TABLE_PADDED_LEN, err)) < 0)) {
		sg_sha256_free(ch->head);
		free(ch);
		return r;
	}
	fc->chains[fc->nchains++] = ch;
	*ret = ch;
	return 0;
}

/* Extend @ch until states[k] exists. */
static int
chain_extend(struct chain *ch, size_t k, struct sg_error *err)
{
	int r;

	while (ch->nstates <= k) {
		struct sg_sha256 *next = NULL;

		if (ch->nstates == ch->capstates) {
			size_t cap = ch->capstates ? 2 * ch->capstates : 8;
			struct sg_sha256 **n = realloc(ch->states, cap * sizeof(*n));

			if (!n)
				return sg_error_set(err, SG_E_NOMEM, "out of memory");
			ch->states = n;
			ch->capstates = cap;
		}
		if (ch->nstates == 0)
			r = sg_sha256_dup(ch->head, &next, err);
		else
			r = sg_sha256_dup(ch->states[ch->nstates - 1], &next, err);
		if (r == 0)
			r = sg_sha256_update(next, ch->nstates == 0 ? ch->bsp : ch->ap,
					     SG_VMSA_SIZE, err);
		if (r < 0) {
			sg_sha256_free(next);
			return r;
		}
		ch->states[ch->nstates++] = next;
	}
	return 0;
}

int
sg_fwcache_digest(struct sg_fwcache *fc, const struct sg_fw_entry *fw, const uint8_t *table,
		  unsigned vcpus, const uint8_t *bsp, const uint8_t *ap, uint8_t out[SG_SHA256_LEN],
		  struct sg_error *err)
{
	_cleanup_(sg_sha256_freep) struct sg_sha256 *h = NULL;
	struct chain *ch;
	int r = 0;

	if (vcpus > SG_MAX_VCPUS || (vcpus >= 1 && !bsp) || (vcpus >= 2 && !ap))
		return sg_error_set(err, SG_E_INTERNAL, "launch digest: bad VMSA arguments");
	pthread_mutex_lock(&fc->lock);
	r = chain_get(fc, fw, table, vcpus ? bsp : NULL, vcpus >= 2 ? ap : NULL, &ch, err);
	if (ch && vcpus)
		r = chain_extend(ch, vcpus - 1, err);
	if (ch && r == 0)
		r = sg_sha256_dup(vcpus ? ch->states[vcpus - 1] : ch->head, &h, err);
	pthread_mutex_unlock(&fc->lock);
	if (r < 0)
		return r;
	if (!ch) {
		/* Full: hash this one directly. */
		struct sg_launch l = { .firmware_state = fw->state,
				       .hashes_table = table,
				       .vcpus = vcpus,
				       .vmsa_bsp = bsp,
				       .vmsa_ap = ap };

		return sg_launch_digest(fc->crypto, &l, out, NULL, err);
	}
	return sg_sha256_final(h, out, err);
}

int
sg_fwcache_file_sha256(struct sg_fwcache *fc, const char *path, const char *what,
		       uint8_t out[SG_SHA256_LEN], struct sg_error *err)
{
	_cleanup_(sg_file_freep) struct sg_file *f = NULL;
	_cleanup_(sg_sha256_freep) struct sg_sha256 *h = NULL;
	struct stat st;
	int r;

	if (stat(path, &st) == 0) {
		pthread_mutex_lock(&fc->lock);
		for (size_t i = 0; i < fc->nhashes; i++)
			if (same_id(&fc->hashes[i].id, &st)) {
				memcpy(out, fc->hashes[i].sha256, SG_SHA256_LEN);
				pthread_mutex_unlock(&fc->lock);
				return 0;
			}
		pthread_mutex_unlock(&fc->lock);
	}
	/* A fresh context: sg_sha256() shares one per crypto, and workers share @fc. */
	if ((r = sg_file_map(path, SG_FILE_MAX, what, &f, err)) < 0 ||
	    (r = sg_sha256_new(fc->crypto, &h, err)) < 0 ||
	    (r = sg_sha256_update(h, f->data, f->len, err)) < 0 ||
	    (r = sg_sha256_final(h, out, err)) < 0)
		return r;
	pthread_mutex_lock(&fc->lock);
	if (fc->nhashes < SG_FWCACHE_MAX_FILES) {
		struct file_hash *n = fc->nhashes % 64 ?
					      fc->hashes :
					      realloc(fc->hashes, (fc->nhashes + 64) * sizeof(*n));

		if (n) {
			fc->hashes = n;
			/* Keyed by what was read, not by the earlier stat(): no race with a rewrite. */
			set_id(&n[fc->nhashes].id, &f->st);
			memcpy(n[fc->nhashes++].sha256, out, SG_SHA256_LEN);
		}
	}
	pthread_mutex_unlock(&fc->lock);
	return 0;
}
