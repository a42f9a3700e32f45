/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * LD_PRELOAD shim for the PIN memory scan: every block that libyaml itself
 * frees is zeroed first. libyaml copies each scalar into buffers of its own
 * and frees them unwiped (docs/hsm.md: the one copy sevgate cannot wipe);
 * with this shim the scan sees only the copies sevgate is answerable for,
 * so a parsed manifest string that sevgate frees unwiped still fails it.
 */
#include <dlfcn.h>
#include <malloc.h>
#include <string.h>

static void (*real_free)(void *);

void
free(void *p)
{
	Dl_info info;

	if (!real_free)
		real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	if (p && dladdr(__builtin_return_address(0), &info) && info.dli_fname &&
	    strstr(info.dli_fname, "libyaml"))
		memset(p, 0, malloc_usable_size(p));
	real_free(p);
}
