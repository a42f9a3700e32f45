/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli/verdict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/exitcode.h"
#include "util/encode.h"
#include "util/escape.h"

static struct json_object *
json_input(const struct sg_input_digest *d)
{
	struct json_object *o;

	if (!d->present)
		return NULL;
	o = json_object_new_object();
	sg_json_add(o, "path", sg_json_str(d->path));
	/* An input named but never hashed (the run failed first) has no hash to show. */
	sg_json_add(o, "sha256", d->hashed ? sg_json_hex(d->sha256, sizeof(d->sha256)) : NULL);
	return o;
}

static struct json_object *
json_u64_or_null(bool have, uint64_t v)
{
	return have ? json_object_new_int64((int64_t)v) : NULL;
}

struct json_object *
sg_cli_guest_json(const struct sg_guest_spec *spec, const struct sg_validate_result *res, int rc,
		  const char *message, double elapsed)
{
	const struct sg_validate_req *q = &spec->req;
	struct json_object *j = json_object_new_object(), *in = json_object_new_object();
	struct json_object *secrets = json_object_new_array();

	sg_json_add(j, "guest", sg_json_str(spec->guest));
	sg_json_add(j, "verdict", json_object_new_string(sg_verdict_name(sg_verdict_of(rc))));
	sg_json_add(j, "exit", json_object_new_int(sg_exit_sevgate(rc)));
	sg_json_add(j, "message", sg_json_str(message));
	sg_json_add(j, "launch_digest",
		    res && res->have_launch_digest ?
			    sg_json_hex(res->launch_digest, sizeof(res->launch_digest)) :
			    NULL);
	sg_json_add(j, "policy", json_u64_or_null(q->have_policy, q->platform.policy));
	sg_json_add(j, "api_major", json_u64_or_null(q->have_api_major, q->platform.api_major));
	sg_json_add(j, "api_minor", json_u64_or_null(q->have_api_minor, q->platform.api_minor));
	sg_json_add(j, "build_id", json_u64_or_null(q->have_build_id, q->platform.build_id));
	sg_json_add(j, "num_cpus", json_u64_or_null(q->num_cpus > 0, q->num_cpus));
	sg_json_add(j, "vmsa_profile",
		    json_object_new_string(sg_vmsa_profile_name(q->vmsa_profile)));
	sg_json_add(j, "sev_features", json_object_new_uint64(q->sev_features));
	sg_json_add(in, "firmware", res ? json_input(&res->firmware) : NULL);
	sg_json_add(in, "kernel", res ? json_input(&res->kernel) : NULL);
	sg_json_add(in, "initrd", res ? json_input(&res->initrd) : NULL);
	sg_json_add(in, "cmdline_sha256",
		    res && res->have_cmdline ?
			    sg_json_hex(res->cmdline_sha256, sizeof(res->cmdline_sha256)) :
			    NULL);
	sg_json_add(j, "inputs", in);
	for (size_t i = 0; res && rc == 0 && i < res->nsecrets; i++) {
		struct json_object *s = json_object_new_object();
		char g[SG_GUID_STR_LEN + 1];

		sg_guid_format(&res->secrets[i].guid, g);
		sg_json_add(s, "guid", json_object_new_string(g));
		sg_json_add(s, "length", json_object_new_int64((int64_t)res->secrets[i].length));
		json_object_array_add(secrets, s);
	}
	sg_json_add(j, "secrets_released", secrets);
	sg_json_add(j, "elapsed_ms", json_object_new_double(elapsed));
	return j;
}

/*
 * The one-line human verdict of a guest. An unnamed guest (offline, no --guest) has no name.
 * The name and the message come from outside (--guest, a manifest, a libvirt host): escaped.
 */
struct json_object *
sg_cli_guest_outcome_json(const struct sg_guest *gu)
{
	const struct sg_guest_outcome *out = &gu->out;

	return sg_cli_guest_json(&gu->spec, gu->v ? sg_validation_result(gu->v) : NULL, out->rc,
				 out->rc == 0	 ? "Looks good to me" :
				 out->err.msg[0] ? out->err.msg :
						   sg_error_name(out->rc),
				 out->elapsed_ms);
}

void
sg_cli_guest_print(const struct sg_guest *gu)
{
	const struct sg_guest_outcome *out = &gu->out;
	const char *name = sg_guest_name(gu);
	const char *msg = out->err.msg[0] ? out->err.msg : sg_error_name(out->rc);
	_cleanup_(sg_freep) char *who = sg_str_escape_dup(name ? name : "");
	_cleanup_(sg_freep) char *text = sg_str_escape_dup(msg);
	const char *sep = name ? " " : "", *colon = name ? ": " : "";

	if (!who || !text) {
		fprintf(stderr, "error: out of memory\n");
		return;
	}
	if (out->rc == 0)
		printf("trusted: %s%slaunch digest %s\n", who, sep, out->digest);
	else if (out->rc == SG_E_MISMATCH)
		fprintf(stderr, "mismatch: %s%slaunch digest %s: %s\n", who, sep, out->digest,
			text);
	else if (out->rc == SG_E_POLICY)
		fprintf(stderr, "refused: %s%s%s\n", who, colon, text);
	else if (!gu->spec.guest && gu->manifest &&
		 !strncmp(out->err.msg, gu->manifest, strlen(gu->manifest)))
		/* A manifest error already starts with the manifest's file:line:column. */
		fprintf(stderr, "error: %s\n", text);
	else
		fprintf(stderr, "error: %s%s%s\n", who, colon, text);
}
