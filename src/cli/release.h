/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sevgate's release step, after a good attestation: the guest owner's
 * release policy, then the audit log's release-intent record (durable
 * before anything leaves), then the secret out (files, injection), then
 * the released record, then single-use keys deleted. Fails closed.
 */
#pragma once

#include "audit/audit.h"
#include "engine/online.h"
#include "cli/opts.h"
#include "validate/validate.h"

struct sg_manifest;

struct sg_guest_job;

/*
 * For an attested guest with secrets: the release policy, then the packet.
 * Sets j->step to SG_STEP_RELEASE (ready), or SG_STEP_REFUSED with the
 * policy's error. A guest with no secrets is left as it is.
 */
int sg_cli_release_prepare(struct sg_guest_job *j);

/*
 * The release step for @n attested guests at once: their release-intent,
 * refused and verdict records (one fdatasync), then each secret out (files,
 * injection), then one sync of all the files, then their released records
 * (one fdatasync), then single-use keys destroyed. @audit may be NULL.
 * Each job's r and error say how it ended; a failure before its intent
 * record is durable releases nothing.
 */
void sg_cli_release_group(struct sg_guest_job **jobs, size_t n, struct sg_audit *audit);

/*
 * Open the audit log @log (else the configuration file's audit-log; none:
 * *@ret = NULL) signed with @key (else the configuration's audit-key).
 */
int
sg_cli_audit_open(struct sg_crypto *crypto, const char *log, const char *key, const char *config,
		  const struct sg_key_options *kopts, struct sg_audit **ret, struct sg_error *err);

/* destroy-keys needs token TIK and TEK URIs: checked before anything runs. */
int sg_cli_release_check_usage(const struct sg_cli_opts *o, struct sg_error *err);
