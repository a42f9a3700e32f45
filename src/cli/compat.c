/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * virt-qemu-sev-validate: a drop-in for libvirt's tool of that name. Same
 * options, messages and exit codes (0-6), with its defects fixed (spec 10).
 */
#include <stdio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>

#include "cli/exitcode.h"
#include "engine/online.h"
#include "core/policy.h"
#include "cli/opts.h"
#include "core/crypto.h"
#include "key/key.h"
#include "util/debug.h"
#include "util/escape.h"
#include "validate/validate.h"

static int
fail(const struct sg_cli_opts *o, const struct sg_error *err, int code)
{
	if (!o->quiet) {
		_cleanup_(sg_freep) char *msg =
			sg_str_escape_dup(err->msg[0] ? err->msg : sg_error_name(code));

		fprintf(stderr, "ERROR: %s\n", msg ? msg : "out of memory");
		sg_exit_error_reported();
	}
	return sg_exit_compat(code);
}

static int
run(int argc, char **argv, struct sg_online *on)
{
	_cleanup_(sg_crypto_freep) struct sg_crypto *crypto = NULL;
	_cleanup_(sg_validation_freep) struct sg_validation *v = NULL;
	struct sg_error err = { 0 };
	struct sg_cli_opts o;
	int r;

	r = sg_cli_parse(SG_FE_COMPAT, argc, argv, &o, &err);
	if (r < 0) {
		o.quiet = sg_cli_argv_quiet(argc, argv);
		return fail(&o, &err, r);
	}
	if (o.help) {
		sg_cli_usage(SG_FE_COMPAT, "virt-qemu-sev-validate");
		return SG_EXIT_OK;
	}
	if (o.debug)
		sg_debug_enable(true);
	if ((r = sg_cli_check_usage(&o, &err)) < 0)
		return fail(&o, &err, r);
	if ((r = sg_key_set_config(o.g.config, &err)) < 0)
		return fail(&o, &err, r);
	if ((r = sg_crypto_new(&crypto, &err)) < 0 ||
	    (r = sg_validation_new(crypto, &o.g.req, &v, &err)) < 0)
		return fail(&o, &err, r);
	if (o.g.domain && (r = sg_online_prepare(&o.g, v, on, &err)) < 0)
		return fail(&o, &err, r);

	r = sg_validation_attest(v, &err);
	if (r < 0) {
		int code = fail(&o, &err, r);

		if (r == SG_E_MISMATCH && sg_validation_result(v)->firmware_lacks_kernel_hashes &&
		    !o.quiet)
			fprintf(stderr,
				"HINT: the firmware has no kernel-hashes table, so it cannot "
				"measure --kernel/--initrd/--cmdline\n");
		return code;
	}
	if (sg_validation_result(v)->exportable_key && !o.quiet) {
		_cleanup_(sg_freep) char *desc =
			sg_str_escape_dup(sg_validation_result(v)->exportable_key);

		fprintf(stderr,
			"WARNING: key '%s' is extractable or not sensitive: its bytes can leave "
			"the token\n",
			desc ? desc : "(out of memory)");
	}
	if (!o.quiet)
		printf("OK: Looks good to me\n");
	sg_stdout_flush();

	if ((r = sg_validation_release(v, &err)) < 0 ||
	    (o.g.domain && (r = sg_online_inject(on, sg_validation_result(v), &err)) < 0))
		return fail(&o, &err, r);
	if (o.g.req.nsecrets > 0 && !o.quiet)
		printf("OK: Injected %zu secrets\n", o.g.req.nsecrets);
	/* The reference releases to a guest whose owner can debug it: so do we, but say so. */
	if (o.g.req.nsecrets > 0 && !(o.g.req.platform.policy & SG_POLICY_NODBG) && !o.quiet)
		fprintf(stderr,
			"WARNING: guest policy 0x%x allows debugging (NODBG clear): its secrets "
			"can be read from outside; sevgate validate would refuse them\n",
			o.g.req.platform.policy);
	return SG_EXIT_OK;
}

int
main(int argc, char **argv)
{
	int code;

	struct sg_online on = { 0 };

	/* Keys and secrets live in this process: no core dumps, no ptrace by peers. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* A libvirt connection that drops is an error to report, not a signal to die of. */
	signal(SIGPIPE, SIG_IGN);
	code = run(argc, argv, &on);
	/* A guest that failed is never resumed; destroyed if asked to. */
	if (code != SG_EXIT_OK)
		sg_online_failed(&on);
	sg_online_close(&on);
	code = sg_exit_stdout(code, "ERROR: ");

	/* Close token sessions while every module is still loaded. */
	sg_key_shutdown();
	return code;
}
