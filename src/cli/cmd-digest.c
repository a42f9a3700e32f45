/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sevgate digest: the launch digest alone, as sev-snp-measure --mode sev|seves prints it. */
#include <stdio.h>

#include "cli/commands.h"
#include "cli/exitcode.h"
#include "cli/opts.h"
#include "core/crypto.h"
#include "util/debug.h"
#include "util/encode.h"
#include "validate/validate.h"

int
sg_cmd_digest(int argc, char **argv)
{
	_cleanup_(sg_crypto_freep) struct sg_crypto *crypto = NULL;
	_cleanup_(sg_validation_freep) struct sg_validation *v = NULL;
	const struct sg_validate_result *res;
	struct sg_error err = { 0 };
	struct sg_cli_opts o;
	char out[SG_B64_ENCODED_LEN(SG_SHA256_LEN) + 2 * SG_SHA256_LEN + 1];
	int r;

	if ((r = sg_cli_parse(SG_FE_DIGEST, argc, argv, &o, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (o.help) {
		sg_cli_usage(SG_FE_DIGEST, "sevgate");
		return SG_EXIT_OK;
	}
	if (o.debug)
		sg_debug_enable(true);
	if ((r = sg_cli_check_usage(&o, &err)) < 0 || (r = sg_crypto_new(&crypto, &err)) < 0 ||
	    (r = sg_validation_new(crypto, &o.g.req, &v, &err)) < 0 ||
	    (r = sg_validation_attest(v, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	res = sg_validation_result(v);
	if (o.format == SG_FORMAT_BASE64)
		sg_base64_encode(res->launch_digest, SG_SHA256_LEN, out);
	else
		sg_hex_encode(res->launch_digest, SG_SHA256_LEN, out);
	printf("%s\n", out);
	return SG_EXIT_OK;
}
