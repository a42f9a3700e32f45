/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/module.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * PATH = the directory of the modules, "/", NAME. $SEVGATE_MODULE_DIR (ignored with
 * AT_SECURE) or the directory SEVGATE_MODULE_RELDIR away from the running program's:
 * the installed layout (${bindir} to ${libdir}/sevgate), which the build tree copies,
 * so a relocated installation finds its modules and no build path is compiled in.
 * The installed directory when /proc/self/exe cannot be read. False when PATH is too short.
 */
static bool
module_path(char *path, size_t size, const char *name)
{
	const char *dir = secure_getenv("SEVGATE_MODULE_DIR");
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (dir && *dir)
		return (size_t)snprintf(path, size, "%s/%s", dir, name) < size;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/'))) {
			*slash = '\0';
			return (size_t)snprintf(path, size, "%s/%s/%s", exe, SEVGATE_MODULE_RELDIR,
						name) < size;
		}
	}
	return (size_t)snprintf(path, size, "%s/%s", SEVGATE_MODULE_DIR, name) < size;
}

int
sg_module_load(const char *name, const char *symbol, const char *what, int code, const void **ret,
	       struct sg_error *err)
{
	char path[PATH_MAX];
	void *handle, *sym;

	if (!module_path(path, sizeof(path), name))
		return sg_error_set(err, code, "%s need %s: its path is too long", what, name);
	/* Never unloaded: libraries it pulls in may have registered exit handlers. */
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle)
		return sg_error_set(err, code, "%s need %s: %s", what, path, dlerror());
	sym = dlsym(handle, symbol);
	if (!sym) {
		dlclose(handle);
		return sg_error_set(err, code, "%s is not a sevgate module (no %s)", path, symbol);
	}
	*ret = sym;
	return 0;
}
