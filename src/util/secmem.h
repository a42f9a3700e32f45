/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Memory for key material and secret payloads: whole zeroed pages, locked
 * out of swap where the system allows it, marked MADV_DONTDUMP so they stay
 * out of core dumps, and wiped with OPENSSL_cleanse before they are freed.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"

struct sg_secmem {
	uint8_t *data;
	size_t len;
	size_t cap;
	int locked;
};

/*
 * A zeroed buffer of @len bytes (at least one byte is allocated). NULL on OOM,
 * and for a @len that cannot be rounded up to whole pages (near SIZE_MAX).
 */
struct sg_secmem *sg_secmem_new(size_t len);
/* Wipe and free @m; NULL is a no-op. */
void sg_secmem_free(struct sg_secmem *m);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_secmem *, sg_secmem_free)

/* Wipe @len bytes at @p (a stack copy of a secret, say). */
void sg_wipe(void *p, size_t len);
/* Wipe the string @s (strlen + 1 bytes) and free it; NULL is a no-op. */
void sg_str_wipe_free(char *s);
