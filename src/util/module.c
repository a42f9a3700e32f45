/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/module.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *
module_dir(void)
{
	const char *dir = secure_getenv("SEVGATE_MODULE_DIR");
	static char exe[PATH_MAX];
	ssize_t n;

	if (dir && *dir)
		return dir;
	/* A program in the build tree loads the modules built beside it. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if (!strncmp(exe, SEVGATE_BUILD_DIR "/", strlen(SEVGATE_BUILD_DIR) + 1))
			return SEVGATE_BUILD_MODULE_DIR;
	}
	return SEVGATE_MODULE_DIR;
}

int
sg_module_load(const char *name, const char *symbol, const char *what, const void **ret,
	       struct sg_error *err)
{
	char path[PATH_MAX];
	void *handle, *sym;

	snprintf(path, sizeof(path), "%s/%s", module_dir(), name);
	/* Never unloaded: libraries it pulls in may have registered exit handlers. */
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle)
		return sg_error_set(err, SG_E_INTERNAL, "%s need %s: %s", what, path, dlerror());
	sym = dlsym(handle, symbol);
	if (!sym) {
		dlclose(handle);
		return sg_error_set(err, SG_E_INTERNAL, "%s is not a sevgate module (no %s)", path,
				    symbol);
	}
	*ret = sym;
	return 0;
}
