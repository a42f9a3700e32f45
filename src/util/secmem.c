/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "secmem.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <sys/mman.h>

struct sg_secmem *
sg_secmem_new(size_t len)
{
	struct sg_secmem *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->cap = len ? len : 1;
	m->data = calloc(1, m->cap);
	if (!m->data) {
		free(m);
		return NULL;
	}
	m->len = len;
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
