/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli/guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/exitcode.h"
#include "manifest/manifest.h"
#include "engine/outputs.h"
#include "cli/release.h"
#include "util/encode.h"
#include "util/escape.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char *
verdict_name(int exit_code)
{
	switch (exit_code) {
	case SG_EXIT_OK: return "trusted";
	case SG_EXIT_MISMATCH: return "mismatch";
	case SG_EXIT_REFUSED: return "refused";
	default: return "error";
	}
}

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
sg_guest_json(const struct sg_cli_opts *o, const struct sg_validate_result *res, int exit_code,
	      const char *message, double elapsed)
{
	const struct sg_validate_req *q = &o->g.req;
	struct json_object *j = json_object_new_object(), *in = json_object_new_object();
	struct json_object *secrets = json_object_new_array();

	sg_json_add(j, "guest", sg_json_str(o->g.guest));
	sg_json_add(j, "verdict", json_object_new_string(verdict_name(exit_code)));
	sg_json_add(j, "exit", json_object_new_int(exit_code));
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
	for (size_t i = 0; res && i < res->nsecrets; i++) {
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

struct sg_guest_job *
sg_guest_job_new(const struct sg_cli_opts *o)
{
	struct sg_guest_job *j = calloc(1, sizeof(*j));

	if (j) {
		j->o = *o;
		j->t0 = now_ms();
	}
	return j;
}

void
sg_guest_job_free(struct sg_guest_job *j)
{
	if (!j)
		return;
	sg_online_close(&j->on);
	sg_validation_free(j->v);
	sg_manifest_free(j->m);
	json_object_put(j->out.json);
	free(j);
}

void
sg_guest_attest(struct sg_crypto *crypto, struct sg_guest_job *j)
{
	struct sg_cli_opts *o = &j->o;
	struct sg_error *err = &j->out.err;
	int r = 0;

	/* A manifest is the command line written down: its keys are applied over the options. */
	if (o->manifest && !j->m) { /* a batch may have applied it already */
		struct sg_cli_opts before = *o;

		r = sg_manifest_apply(crypto, o->manifest, &o->g, &j->m, err);
		/* A failed manifest is freed: none of its strings may stay in the options. */
		if (r < 0)
			*o = before;
	}
	if (r == 0)
		r = sg_cli_check_usage(o, err);
	if (r == 0)
		r = sg_cli_release_check_usage(o, err);
	if (r == 0)
		r = sg_output_check_guest(&o->g, j->m, err);
	if (r == 0 && j->check_claims && !o->g.domain)
		r = j->check_claims(j->claims_arg, j->idx, o, j->m, err);
	if (r == 0 && (r = sg_validation_new(crypto, &o->g.req, &j->v, err)) == 0) {
		if (o->g.domain)
			r = sg_online_prepare(&o->g, j->v, &j->on, err);
		if (j->on.guest && !o->g.guest) {
			/*
			 * Named before any record is written; copied, the domain goes away at the
			 * end. A remote host's name: at most 255 bytes, cut between characters.
			 */
			const char *dn = j->on.api->name(j->on.guest);

			snprintf(j->out.guest_name, sizeof(j->out.guest_name), "%.*s",
				 (int)sg_utf8_cut(dn, sizeof(j->out.guest_name) - 1), dn);
			o->g.guest = j->out.guest_name;
		}
		if (r == 0)
			r = sg_validation_attest(j->v, err);
		/* Every attested guest leaves a record, even one with nothing to release. */
		if (r == 0 || r == SG_E_MISMATCH)
			j->step = SG_STEP_VERDICT;
		if (r == 0)
			r = sg_cli_release_prepare(j);
	}
	/* Online, a guest is named by its domain even when it was never found. */
	if (!o->g.guest && o->g.domain)
		o->g.guest = o->g.domain;
	j->r = r;
}

void
sg_guest_finish(struct sg_guest_job *j)
{
	const struct sg_validate_result *res = j->v ? sg_validation_result(j->v) : NULL;
	struct sg_guest_outcome *out = &j->out;
	int r = j->r;

	/* A guest that failed is never resumed; destroyed if asked to. */
	if (r < 0)
		sg_online_failed(&j->on);
	out->rc = r;
	out->exit = sg_exit_sevgate(r);
	out->digest[0] = '\0';
	if (res && res->have_launch_digest)
		sg_hex_encode(res->launch_digest, SG_SHA256_LEN, out->digest);
	out->exportable_key = res && res->exportable_key;
	json_object_put(out->json);
	out->json = sg_guest_json(&j->o, res, out->exit,
				  r == 0 ? "Looks good to me" :
					   (out->err.msg[0] ? out->err.msg : sg_error_name(r)),
				  now_ms() - j->t0);
	if (out->exportable_key)
		snprintf(out->exportable_desc, sizeof(out->exportable_desc), "%s",
			 res->exportable_key);
	sg_online_close(&j->on);
}

int
sg_guest_run(struct sg_crypto *crypto, struct sg_guest_job *j, struct sg_audit *audit)
{
	sg_guest_attest(crypto, j);
	sg_cli_release_group(&j, 1, audit);
	sg_guest_finish(j);
	return j->out.exit;
}

/*
 * The one-line human verdict of a guest. An unnamed guest (offline, no --guest) has no name.
 * The name and the message come from outside (--guest, a manifest, a libvirt host): escaped.
 */
void
sg_guest_print(const struct sg_cli_opts *o, const struct sg_guest_outcome *out)
{
	const char *name = o->g.guest ? o->g.guest : o->manifest;
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
	else if (!o->g.guest && o->manifest &&
		 !strncmp(out->err.msg, o->manifest, strlen(o->manifest)))
		/* A manifest error already starts with the manifest's file:line:column. */
		fprintf(stderr, "error: %s\n", text);
	else
		fprintf(stderr, "error: %s%s%s\n", who, colon, text);
}
