/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "secmem.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * Single pages come back wiped, still locked and out of dumps: a batch
 * allocates several per guest, and the madvise/mlock/munlock calls for
 * each cost more than the cryptography they protect.
 */
#define POOL_MAX 64
static struct {
	pthread_mutex_t mu;
	void *pages[POOL_MAX];
	int locked[POOL_MAX];
	size_t n;
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER };

static size_t
page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 ? (size_t)page : 4096;
}

struct sg_secmem *
sg_secmem_new(size_t len)
{
	struct sg_secmem *m = calloc(1, sizeof(*m));
	size_t page = page_size();
	void *p = NULL;

	if (!m)
		return NULL;
	/* A size that cannot be rounded up to whole pages cannot be had either. */
	if (len > SIZE_MAX - page + 1) {
		free(m);
		return NULL;
	}
	/* Whole pages, so they can be excluded from core dumps on their own. */
	m->cap = ((len ? len : 1) + page - 1) / page * page;
	m->len = len;
	if (m->cap == page) {
		pthread_mutex_lock(&pool.mu);
		if (pool.n > 0) {
			pool.n--;
			m->data = pool.pages[pool.n];
			m->locked = pool.locked[pool.n];
		}
		pthread_mutex_unlock(&pool.mu);
		if (m->data)
			return m; /* wiped when it was freed */
	}
	if (posix_memalign(&p, page, m->cap) != 0) {
		free(m);
		return NULL;
	}
	m->data = p;
	memset(m->data, 0, m->cap);
	(void)madvise(m->data, m->cap, MADV_DONTDUMP);
	/* Best effort: an unprivileged process may be over RLIMIT_MEMLOCK. */
	m->locked = mlock(m->data, m->cap) == 0;
	return m;
}

void
sg_secmem_free(struct sg_secmem *m)
{
	if (!m)
		return;
	OPENSSL_cleanse(m->data, m->cap);
	if (m->cap == page_size()) {
		pthread_mutex_lock(&pool.mu);
		if (pool.n < POOL_MAX) {
			pool.pages[pool.n] = m->data;
			pool.locked[pool.n] = m->locked;
			pool.n++;
			m->data = NULL;
		}
		pthread_mutex_unlock(&pool.mu);
		if (!m->data) {
			free(m);
			return;
		}
	}
	if (m->locked)
		munlock(m->data, m->cap);
	free(m->data);
	free(m);
}

void
sg_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

void
sg_str_wipe_free(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s) + 1);
	free(s);
}
