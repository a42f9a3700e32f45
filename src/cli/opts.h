/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Command-line options shared by virt-qemu-sev-validate, `sevgate
 * validate` and `sevgate digest`: one table, so a long option means the
 * same everywhere (and a later manifest is this command line written
 * down).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"
#include "validate/release-policy.h"
#include "validate/validate.h"

enum sg_frontend {
	SG_FE_COMPAT,	/* virt-qemu-sev-validate */
	SG_FE_VALIDATE, /* sevgate validate */
	SG_FE_DIGEST,	/* sevgate digest */
};

enum sg_digest_mode {
	SG_MODE_AUTO,
	SG_MODE_SEV,
	SG_MODE_SEV_ES
};
enum sg_digest_format {
	SG_FORMAT_HEX,
	SG_FORMAT_BASE64
};

struct sg_cli_opts {
	enum sg_frontend fe;
	struct sg_validate_req req;
	bool debug, quiet, help, json, insecure, ignore_config;
	const char *connect, *domain, *guest, *config, *manifest;
	bool have_family, have_model, have_stepping;
	uint32_t family, model, stepping;
	const char *vcpu_type;
	bool destroy_on_failure, assume_remote, assume_local;
	enum sg_digest_mode mode;
	enum sg_digest_format format;
	/* sevgate only: what must hold before a secret leaves, and where that is recorded. */
	struct sg_release_policy release;
	const char *audit_log, *audit_key;
};

/* Defaults for @fe (what parse starts from). */
void sg_cli_init(enum sg_frontend fe, struct sg_cli_opts *o);

/*
 * Apply one long option by name, as if "--name value" were on the command
 * line (@value NULL for a flag): how a manifest, the command line written
 * down, is read. SG_E_USAGE for an option @o's front end does not have.
 */
int
sg_cli_set_option(struct sg_cli_opts *o, const char *name, const char *value, struct sg_error *err);
/* Whether @fe has --@name, and if it takes a value. */
bool sg_cli_option_takes_value(enum sg_frontend fe, const char *name, bool *ret_takes);

/* Parse argv into @o (argv[0] is the program or subcommand name). Errors are SG_E_USAGE. */
int sg_cli_parse(enum sg_frontend fe, int argc, char **argv, struct sg_cli_opts *o,
		 struct sg_error *err);

/* The reference's pre-flight checks (spec 7.2), in its order, then ours. */
int sg_cli_check_usage(struct sg_cli_opts *o, struct sg_error *err);

/* Print --help text for @fe to stdout. */
void sg_cli_usage(enum sg_frontend fe, const char *prog);

/* True when argv asks for quiet output (so even a parse error can honour -q). */
bool sg_cli_argv_quiet(int argc, char **argv);
