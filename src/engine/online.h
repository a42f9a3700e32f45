/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A guest on a libvirt host: its domain found and checked, the launch state
 * read from it, the packet injected. libvirt is loaded here, only for a
 * guest with a domain (virt/virt.h).
 */
#pragma once

#include "spec/guest-spec.h"
#include "validate/validate.h"
#include "virt/virt.h"

struct sg_online {
	const struct sg_virt_api *api;
	struct sg_virt_guest *guest;
};

/*
 * Load the inputs @g names, then connect, find and check the domain and
 * fill the rest of @g's request from it (spec 6.4, 7.3). Returns 0, or the
 * first failure (SG_E_VIRT, SG_E_STATE, SG_E_INSECURE, ...) as reported.
 */
SG_NODISCARD int sg_online_prepare(struct sg_guest_spec *g, struct sg_validation *v,
				   struct sg_online *on, struct sg_error *err);
/* Inject the built packet (none: nothing) and resume the domain. Returns 0 or SG_E_VIRT. */
SG_NODISCARD int
sg_online_inject(struct sg_online *on, const struct sg_validate_result *res, struct sg_error *err);
/* A failure after the domain was found: never resume; destroy it if asked to. */
void sg_online_failed(struct sg_online *on);
/* Drop @on's handle on the domain (the domain itself left as it is); a zeroed struct is fine. */
void sg_online_close(struct sg_online *on);
