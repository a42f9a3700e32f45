/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "validate/fwcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct slot {
	struct sg_fw_entry e;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct sg_fwcache {
	struct sg_crypto *crypto;
	pthread_mutex_t lock;
	struct slot slots[SG_FWCACHE_MAX];
	size_t n;
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
	pthread_mutex_destroy(&fc->lock);
	free(fc);
}

static bool
same(const struct slot *s, const struct stat *st)
{
	return s->dev == st->st_dev && s->ino == st->st_ino && s->size == st->st_size &&
	       s->mtime.tv_sec == st->st_mtim.tv_sec && s->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       s->ctime.tv_sec == st->st_ctim.tv_sec && s->ctime.tv_nsec == st->st_ctim.tv_nsec;
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
	s->dev = f->st.st_dev;
	s->ino = f->st.st_ino;
	s->size = f->st.st_size;
	s->mtime = f->st.st_mtim;
	s->ctime = f->st.st_ctim;
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
