/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "virt/virt.h"

#include "util/module.h"

int
sg_virt_api(const struct sg_virt_api **ret, struct sg_error *err)
{
	static const struct sg_virt_api *api;
	const void *sym;
	struct sg_error tmp = { 0 };
	int r;

	if (!api) {
		if ((r = sg_module_load("sevgate-virt.so", "sg_virt_backend", "libvirt guests",
					&sym, &tmp)) < 0)
			return sg_error_set(err, SG_E_VIRT, "%s", tmp.msg);
		api = sym;
	}
	*ret = api;
	return 0;
}
