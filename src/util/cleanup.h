/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Scope-bound cleanup, in the shape of systemd's cleanup-fundamental.h.
 * One header declares the cleanup helpers for every third-party type we
 * hold, so callers never open-code a free on an error path.
 */
#pragma once

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

#define SG_ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
