/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/online.h"

int
sg_online_prepare(struct sg_guest_spec *g, struct sg_validation *v, struct sg_online *on,
		  struct sg_error *err)
{
	struct sg_virt_opts vo = {
		.uri = g->connect,
		.domain = g->domain,
		.insecure = g->insecure,
		.ignore_config = g->ignore_config,
		.locality = g->assume_remote ? SG_LOCALITY_REMOTE :
			    g->assume_local  ? SG_LOCALITY_LOCAL :
					       SG_LOCALITY_AUTO,
		.destroy_on_failure = g->destroy_on_failure,
	};
	int r;

	/* The reference loads the command line's files before it talks to libvirt. */
	if ((r = sg_validation_load(v, err)) < 0 || (r = sg_virt_api(&on->api, err)) < 0 ||
	    (r = on->api->open(&vo, &on->guest, err)) < 0)
		return r;
	return on->api->fill(on->guest, &g->req, err);
}

int
sg_online_inject(struct sg_online *on, const struct sg_validate_result *res, struct sg_error *err)
{
	if (!res->secret_header_b64)
		return 0;
	return on->api->inject(on->guest, res->secret_header_b64, res->secret_payload_b64, err);
}

void
sg_online_failed(struct sg_online *on)
{
	if (on->guest)
		on->api->failed(on->guest);
}

void
sg_online_close(struct sg_online *on)
{
	if (on->guest)
		on->api->close(on->guest);
	on->guest = NULL;
}
