/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The online steps both front ends share: libvirt is loaded here, only for --domain. */
#pragma once

#include "cli/opts.h"
#include "validate/validate.h"
#include "virt/virt.h"

struct sg_cli_online {
	const struct sg_virt_api *api;
	struct sg_virt_guest *guest;
};

/*
 * Load the command line's inputs, then connect, find and check the domain
 * and fill the rest of the request from it (spec 6.4, 7.3).
 */
int sg_cli_online_prepare(struct sg_cli_opts *o, struct sg_validation *v, struct sg_cli_online *on,
			  struct sg_error *err);
/* Inject the built packet and resume the domain. */
int sg_cli_online_inject(struct sg_cli_online *on, const struct sg_validate_result *res,
			 struct sg_error *err);
/* A failure after the domain was found: never resume; destroy it if asked to. */
void sg_cli_online_failed(struct sg_cli_online *on);
void sg_cli_online_close(struct sg_cli_online *on);
