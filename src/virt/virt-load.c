/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "virt/virt.h"

#include <pthread.h>

#include "util/module.h"

int
sg_virt_api(const struct sg_virt_api **ret, struct sg_error *err)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static const struct sg_virt_api *api;
	const void *sym;
	int r = 0;

	/* Batch workers may reach here together. */
	pthread_mutex_lock(&lock);
	if (!api) {
		if ((r = sg_module_load("sevgate-virt.so", "sg_virt_backend", "libvirt guests",
					SG_E_VIRT, &sym, err)) == 0)
			api = sym;
	}
	pthread_mutex_unlock(&lock);
	if (r < 0)
		return r;
	*ret = api;
	return 0;
}
