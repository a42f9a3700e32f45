/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sevgate's own loadable modules (sevgate-pkcs11.so, sevgate-virt.so):
 * dependencies only some runs need (p11-kit, libvirt) stay out of the
 * others. A module exports one table of functions under a known symbol.
 */
#pragma once

#include "util/error.h"

/*
 * dlopen the module @name ("sevgate-virt.so") from $SEVGATE_MODULE_DIR,
 * else beside the program when it runs from the build tree, else the
 * installed module directory; return the address of @symbol in it.
 * @what names the feature in the error ("PKCS#11 keys").
 *
 * Returns 0 and sets *@ret, or reports in @err, as @code (the caller's
 * class: SG_E_KEY, SG_E_VIRT), a path too long, a module that does not load
 * (with dlerror's reason) or one without @symbol, and returns @code.
 */
SG_NODISCARD int sg_module_load(const char *name, const char *symbol, const char *what, int code,
				const void **ret, struct sg_error *err);
