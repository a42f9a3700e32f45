/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sevgate validate: one guest, a one-line verdict or one JSON object. */
#include <stdio.h>

#include "cli/commands.h"
#include "cli/exitcode.h"
#include "cli/opts.h"
#include "cli/verdict.h"
#include "engine/release.h"
#include "core/crypto.h"
#include "key/key.h"
#include "util/debug.h"
#include "util/escape.h"

int
sg_cmd_validate(int argc, char **argv)
{
	_cleanup_(sg_crypto_freep) struct sg_crypto *crypto = NULL;
	_cleanup_(sg_audit_closep) struct sg_audit *audit = NULL;
	_cleanup_(sg_guest_freep) struct sg_guest *gu = NULL;
	struct json_object *json = NULL;
	struct sg_guest_outcome *out;
	int code;
	struct sg_error err = { 0 };
	struct sg_cli_opts o;
	int r;

	r = sg_cli_parse(SG_FE_VALIDATE, argc, argv, &o, &err);
	if (r == 0 && o.help) {
		sg_cli_usage(SG_FE_VALIDATE, "sevgate");
		return SG_EXIT_OK;
	}
	if (o.debug)
		sg_debug_enable(true);
	if (r == 0)
		r = sg_crypto_new(&crypto, &err);
	if (r == 0)
		r = sg_key_set_config(o.g.config, &err);
	if (r == 0)
		r = sg_release_audit_open(crypto, o.g.audit_log, o.g.audit_key, o.g.config,
					  &o.g.req.key_opts, &audit, &err);
	if (!(gu = sg_guest_new(&o.g, o.manifest))) {
		fprintf(stderr, "error: out of memory\n");
		return sg_exit_sevgate(SG_E_NOMEM);
	}
	out = &gu->out;
	if (r == 0) {
		code = sg_exit_sevgate(sg_guest_run(crypto, gu, audit)); /* out->rc */
		if (o.json)
			json = sg_cli_guest_outcome_json(gu);
	} else {
		out->err = err;
		out->rc = r;
		code = sg_exit_sevgate(r);
		if (o.json)
			json = sg_cli_guest_json(&gu->spec, NULL, r, err.msg, 0);
	}
	if (out->exportable_key && !o.quiet) {
		_cleanup_(sg_freep) char *desc = sg_str_escape_dup(out->exportable_desc);

		fprintf(stderr,
			"warning: key '%s' is extractable or not sensitive: its bytes can leave "
			"the token\n",
			desc ? desc : "(out of memory)");
	}
	if (o.json)
		sg_json_print(json);
	if (!o.json && !o.quiet)
		sg_cli_guest_print(gu);
	return code;
}
