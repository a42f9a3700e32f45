/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sevgate's release step, after a good attestation: the guest owner's
 * release policy, then the audit log's release-intent record (durable
 * before anything leaves), then the secret out (files, injection), then
 * the released record, then single-use keys deleted. Fails closed.
 */
#pragma once

#include "audit/audit.h"
#include "cli/online.h"
#include "cli/opts.h"
#include "validate/validate.h"

struct sg_manifest;

/*
 * Release @v's secrets as @o asks. @audit may be NULL (no log). On return
 * *@ret_recorded says whether a record for this guest went to the log (so
 * the caller need not write a verdict record).
 */
int sg_cli_release(struct sg_validation *v, const struct sg_cli_opts *o,
		   const struct sg_manifest *m, struct sg_cli_online *on, struct sg_audit *audit,
		   bool *ret_recorded, struct sg_error *err);

/* The verdict record of a guest whose run ended without a release (trusted, mismatch, error). */
int sg_cli_audit_verdict(struct sg_audit *audit, const struct sg_cli_opts *o,
			 const struct sg_manifest *m, const struct sg_validate_result *res,
			 const char *verdict, const char *reason, struct sg_error *err);

/*
 * Open the audit log @log (else the configuration file's audit-log; none:
 * *@ret = NULL) signed with @key (else the configuration's audit-key).
 */
int sg_cli_audit_open(struct sg_crypto *crypto, const char *log, const char *key,
		      const char *config, const struct sg_key_options *kopts,
		      struct sg_audit **ret, struct sg_error *err);

/* destroy-keys needs token TIK and TEK URIs: checked before anything runs. */
int sg_cli_release_check_usage(const struct sg_cli_opts *o, struct sg_error *err);
