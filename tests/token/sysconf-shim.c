/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * LD_PRELOAD shim: sysconf(_SC_NPROCESSORS_ONLN) answers $SEVGATE_SHIM_NCPUS,
 * so a test can show a machine with more CPUs than the batch has threads for.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

long
sysconf(int name)
{
	static long (*real)(int);
	const char *n = getenv("SEVGATE_SHIM_NCPUS");

	if (n && (name == _SC_NPROCESSORS_ONLN || name == _SC_NPROCESSORS_CONF))
		return strtol(n, NULL, 10);
	if (!real)
		real = (long (*)(int))dlsym(RTLD_NEXT, "sysconf");
	return real(name);
}
