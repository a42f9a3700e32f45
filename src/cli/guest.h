/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One guest through sevgate: load its manifest, attest it, then the
 * release step (cli/release.h), then its outcome. `sevgate validate` runs
 * one guest straight through; `sevgate batch` attests many and hands them
 * to the release step as a group, so the durable writes are shared.
 */
#pragma once

#include <json-c/json.h>

#include "audit/audit.h"
#include "engine/online.h"
#include "cli/opts.h"
#include "core/crypto.h"
#include "core/digest.h"
#include "validate/validate.h"

struct sg_manifest;

/* What became of one guest. */
struct sg_guest_outcome {
	int rc;	  /* SG_E_* (0: trusted) */
	int exit; /* sevgate exit code */
	char digest[2 * SG_SHA256_LEN + 1];
	struct sg_error err;
	struct json_object *json; /* the `validate --json` object; the caller owns it */
	bool exportable_key;
	char exportable_desc[512];
	char guest_name[256]; /* the domain's name, when online (o.guest may point here) */
};

/* What the release step still owes a guest once it is attested. */
enum sg_guest_step {
	SG_STEP_NONE,	 /* never attested: no record */
	SG_STEP_VERDICT, /* a verdict record (trusted with nothing to release, mismatch, error) */
	SG_STEP_REFUSED, /* the release policy said no: a refused record */
	SG_STEP_RELEASE, /* release-intent, the secret out, released, keys destroyed */
};

struct sg_guest_job {
	struct sg_cli_opts o;
	struct sg_manifest *m;
	struct sg_validation *v;
	struct sg_online on;
	struct sg_guest_outcome out;
	enum sg_guest_step step;
	int r; /* the guest's result so far (0, SG_E_*) */
	double t0;
	/*
	 * A batch's check of the guest's outputs against the other guests' (after its
	 * manifest is applied, before anything runs), or NULL; its @arg and the guest's index.
	 */
	int (*check_claims)(void *arg, size_t idx, const struct sg_cli_opts *o,
			    const struct sg_manifest *m, struct sg_error *err);
	void *claims_arg;
	size_t idx;
};

/* A job for the guest @o describes (o->manifest, or the command line). */
struct sg_guest_job *sg_guest_job_new(const struct sg_cli_opts *o);
void sg_guest_job_free(struct sg_guest_job *j);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_guest_job *, sg_guest_job_free)

/*
 * Everything before the release step: apply the manifest, check usage,
 * (online: find the domain), attest, check the release policy and build
 * the packet. Sets j->r and j->step; no record is written and nothing leaves.
 */
void sg_guest_attest(struct sg_crypto *crypto, struct sg_guest_job *j);
/*
 * After the release step: fill j->out (rc, exit, JSON) and close the
 * domain; a failed online guest is never resumed.
 */
void sg_guest_finish(struct sg_guest_job *j);
/* The three for one guest. Returns the exit code. */
int sg_guest_run(struct sg_crypto *crypto, struct sg_guest_job *j, struct sg_audit *audit);

void sg_guest_print(const struct sg_cli_opts *o, const struct sg_guest_outcome *out);
struct json_object *sg_guest_json(const struct sg_cli_opts *o, const struct sg_validate_result *res,
				  int exit_code, const char *message, double elapsed);
