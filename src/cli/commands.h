/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sevgate subcommands; each returns a sevgate exit code. */
#pragma once

#include <json-c/json.h>

#include "cli/opts.h"
#include "core/crypto.h"
#include "core/digest.h"
#include "validate/validate.h"

struct sg_manifest;
struct sg_audit;

/* What became of one guest. */
struct sg_guest_outcome {
	int rc;   /* SG_E_* (0: trusted) */
	int exit; /* sevgate exit code */
	char digest[2 * SG_SHA256_LEN + 1];
	struct sg_error err;
	struct json_object *json; /* the `validate --json` object; the caller owns it */
	bool exportable_key;
	char exportable_desc[512];
	char guest_name[256]; /* the domain's name, when online (o->guest may point here) */
};

/*
 * Validate one guest from @o (and its manifest, if o->manifest): the whole
 * of `sevgate validate`, shared with batch. Returns the exit code.
 */
int sg_guest_run(struct sg_crypto *crypto, struct sg_cli_opts *o, struct sg_audit *audit,
		 struct sg_manifest **ret_manifest, struct sg_guest_outcome *out);
void sg_guest_print(const struct sg_cli_opts *o, const struct sg_guest_outcome *out);
struct json_object *sg_guest_json(const struct sg_cli_opts *o, const struct sg_validate_result *res,
				  int exit_code, const char *message, double elapsed);

int sg_cmd_validate(int argc, char **argv);
int sg_cmd_digest(int argc, char **argv);
int sg_cmd_vmsa(int argc, char **argv);
int sg_cmd_ovmf(int argc, char **argv);
int sg_cmd_secret(int argc, char **argv);
int sg_cmd_keys(int argc, char **argv);
int sg_cmd_batch(int argc, char **argv);
int sg_cmd_audit(int argc, char **argv);

/* Add @val under @key, consuming @val even when the add fails (json-c keeps it then). */
void sg_json_add(struct json_object *obj, const char *key, struct json_object *val);
/* A lowercase hex string object. */
struct json_object *sg_json_hex(const unsigned char *p, size_t len);
/* Print @obj as one plain line on stdout and release it. */
void sg_json_print(struct json_object *obj);

/* Print "error: <msg>" on stderr and return the sevgate exit code for @code. */
int sg_cmd_fail(const char *msg, int code);
