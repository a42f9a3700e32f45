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
#include "spec/guest-spec.h"
#include "validate/validate.h"

struct sg_guest;

/*
 * For an attested guest with secrets: the release policy, then the packet.
 * Sets gu->step to SG_STEP_RELEASE (ready) and returns 0, or SG_STEP_REFUSED
 * and returns SG_E_POLICY with the policy's reason in gu->out.err; a failed
 * packet build is its error. A guest with no secrets is left as it is (0).
 */
SG_NODISCARD int sg_release_prepare(struct sg_guest *gu);

/*
 * The release step for @n attested guests at once: their release-intent,
 * refused and verdict records (one fdatasync), then each secret out (files,
 * injection), then one sync of all the files, then their released records
 * (one fdatasync), then single-use keys destroyed. @audit may be NULL.
 * Each guest's r and out.err say how it ended; a failure before its intent
 * record is durable releases nothing; a record that cannot be written is
 * an error of the guest it records, never silent.
 */
void sg_release_group(struct sg_guest **guests, size_t n, struct sg_audit *audit);

/*
 * Open the audit log @log (else the configuration file's audit-log; none:
 * *@ret = NULL) signed with @key (else the configuration's audit-key), and
 * note the log, its key and the configuration file as outputs no packet may
 * name (engine/outputs.h). Returns 0, or SG_E_USAGE for a log without a key,
 * or the error of opening either.
 */
SG_NODISCARD int sg_release_audit_open(struct sg_crypto *crypto, const char *log, const char *key,
				       const char *config, const struct sg_key_options *kopts,
				       struct sg_audit **ret, struct sg_error *err);

/*
 * destroy-keys needs token TIK and TEK URIs: 0, or SG_E_USAGE reported in
 * @err, before anything runs.
 */
SG_NODISCARD int sg_release_check_usage(const struct sg_guest_spec *g, struct sg_error *err);
