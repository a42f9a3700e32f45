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
#include "spec/guest-spec.h"

enum sg_frontend {
	SG_FE_COMPAT = SG_ORIGIN_COMPAT,     /* virt-qemu-sev-validate */
	SG_FE_VALIDATE = SG_ORIGIN_VALIDATE, /* sevgate validate */
	SG_FE_DIGEST = SG_ORIGIN_DIGEST,     /* sevgate digest */
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

/* A command line: the guest it describes, and how the front end reports on it. */
struct sg_cli_opts {
	enum sg_frontend fe;
	struct sg_guest_spec g;
	/* Why each --inject-secret that does not parse is unusable (g.req.secrets[i].invalid). */
	struct sg_error secret_errs[SG_MAX_SECRETS];
	bool debug, quiet, help, json;
	const char *manifest;
	enum sg_digest_mode mode;
	enum sg_digest_format format;
};

/* Defaults for @fe (what parse starts from). */
void sg_cli_init(enum sg_frontend fe, struct sg_cli_opts *o);

/* Parse argv into @o (argv[0] is the program or subcommand name). Errors are SG_E_USAGE. */
int sg_cli_parse(enum sg_frontend fe, int argc, char **argv, struct sg_cli_opts *o,
		 struct sg_error *err);

/* The reference's pre-flight checks (spec 7.2), in its order, then ours. */
int sg_cli_check_usage(struct sg_cli_opts *o, struct sg_error *err);

/*
 * Print --help text for @fe to stdout, generated from the option table
 * (cli/cmdtab.h), whose synopsis names the program (@prog is unused).
 */
void sg_cli_usage(enum sg_frontend fe, const char *prog);

/* True when argv asks for quiet output (so even a parse error can honour -q). */
bool sg_cli_argv_quiet(int argc, char **argv);
