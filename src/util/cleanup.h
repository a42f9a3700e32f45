/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Scope-bound cleanup, in the shape of systemd's cleanup-fundamental.h.
 * This header has the machinery and the helpers for libc types; the helpers
 * for a third-party library's types sit in a header that only its users
 * include, next to the layer that uses it, so nothing here pulls in
 * p11-kit, libxml2 or json-c:
 *   core/openssl-util.h  EVP_MD_CTX, EVP_MAC_CTX, EVP_CIPHER_CTX, EVP_PKEY,
 *                        EVP_PKEY_CTX, ECDSA_SIG
 *   key/p11.h            P11KitUri
 *   util/json-util.h     json_object (audit and the front ends)
 *   virt/virt.c          xmlDoc, xmlXPathContext, xmlXPathObject (the one
 *                        libxml2 user)
 */
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

/* Hand ownership out of a cleanup-scoped local. */
#define SG_TAKE_PTR(p)                        \
	({                                    \
		__typeof__(p) _sg_tmp_ = (p); \
		(p) = NULL;                   \
		_sg_tmp_;                     \
	})

#define SG_DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
	static inline void func##p(type *p)        \
	{                                          \
		if (*p)                            \
			func(*p);                  \
	}

/*
 * The same for a foreign free function, under a name of our own
 * (sg_evp_md_ctx_freep for EVP_MD_CTX_free): no name in the library's
 * namespace is defined here.
 */
#define SG_DEFINE_CLEANUP_FUNC_NAMED(name, type, func) \
	static inline void name(type *p)               \
	{                                              \
		if (*p)                                \
			func(*p);                      \
	}

static inline void
sg_freep(void *p)
{
	free(*(void **)p);
}

static inline void
sg_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void
sg_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void
sg_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define SG_ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
