/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An LD_PRELOAD shim that swaps a file between the manifest's load-time check and the read
 * of the secret (a manifest author who controls the directory can do it in that window):
 *   SEVGATE_SWAP_PATH=P SEVGATE_SWAP_TO=T  on the first open(2) of exactly P, P is replaced
 *                                          by a symbolic link to T, then opened.
 * Everything else is the real libc.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int swapped;

static void
maybe_swap(const char *path)
{
	const char *p = getenv("SEVGATE_SWAP_PATH"), *to = getenv("SEVGATE_SWAP_TO");

	if (p && to && path && !strcmp(path, p) && !atomic_exchange(&swapped, 1)) {
		unlink(p);
		if (symlink(to, p) < 0)
			abort();
	}
}

#define OPEN_SHIM(name)                                                           \
	int name(const char *path, int flags, ...)                                \
	{                                                                         \
		int (*real)(const char *, int, ...) =                             \
			(int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
		mode_t mode = 0;                                                  \
		if (flags & (O_CREAT | O_TMPFILE)) {                              \
			va_list ap;                                               \
			va_start(ap, flags);                                      \
			mode = (mode_t)va_arg(ap, int);                           \
			va_end(ap);                                               \
		}                                                                 \
		maybe_swap(path);                                                 \
		return real(path, flags, mode);                                   \
	}

OPEN_SHIM(open)
OPEN_SHIM(open64)

int
__open_2(const char *path, int flags)
{
	int (*real)(const char *, int) = (int (*)(const char *, int))dlsym(RTLD_NEXT, "__open_2");

	maybe_swap(path);
	return real(path, flags);
}

int
__open64_2(const char *path, int flags)
{
	int (*real)(const char *, int) = (int (*)(const char *, int))dlsym(RTLD_NEXT, "__open64_2");

	maybe_swap(path);
	return real(path, flags);
}
