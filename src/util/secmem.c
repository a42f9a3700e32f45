/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "secmem.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct sg_secmem *
sg_secmem_new(size_t len)
{
	struct sg_secmem *m = calloc(1, sizeof(*m));
	long page = sysconf(_SC_PAGESIZE);
	void *p = NULL;

	if (!m)
		return NULL;
	if (page <= 0)
		page = 4096;
	/* Whole pages, so they can be excluded from core dumps on their own. */
	m->cap = ((len ? len : 1) + (size_t)page - 1) / (size_t)page * (size_t)page;
	if (posix_memalign(&p, (size_t)page, m->cap) != 0) {
		free(m);
		return NULL;
	}
	m->data = p;
	memset(m->data, 0, m->cap);
	m->len = len;
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
