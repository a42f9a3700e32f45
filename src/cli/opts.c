/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli/opts.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cmdtab.h"
#include "cli/secret-arg.h"
#include "core/policy.h"

/*
 * One --inject-secret: parsed now, but a bad one fails the release only when
 * it gets there, after the secrets before it are read (the reference's order).
 */
static int
add_secret(struct sg_cli_opts *o, const char *arg, struct sg_error *err)
{
	struct sg_validate_req *q = &o->g.req;
	struct sg_error *why;
	struct sg_secret_spec *s;
	const char *colon = strchr(arg, ':'), *uri = strstr(arg, "pkcs11:");

	if (q->nsecrets == SG_MAX_SECRETS)
		return sg_error_set(err, SG_E_USAGE, "more than %d --inject-secret options",
				    SG_MAX_SECRETS);
	s = &q->secrets[q->nsecrets];
	why = &o->secret_errs[q->nsecrets];
	/*
	 * A bad one keeps what it names as its path, the text after its first ':' or a
	 * pkcs11: URI in it (the alias forgotten): a URI is still checked for a pin-value
	 * and its PIN file protected before anything runs.
	 */
	*s = (struct sg_secret_spec){ .path = uri ? uri : colon ? colon + 1 : NULL };
	if (sg_cli_secret_arg_parse(arg, s, why) < 0)
		s->invalid = why->msg;
	q->nsecrets++;
	return 0;
}

/* One option read by getopt: the front end's own, or the guest description's. */
static int
apply(struct sg_cli_opts *o, int c, const char *arg, struct sg_error *err)
{
	const struct sg_guest_option *opt = sg_guest_option_by_id(c);

	if (!opt)
		return sg_error_set(err, SG_E_INTERNAL, "option %d is not in the table", c);
	if (!opt->frontend)
		return sg_guest_spec_set(&o->g, opt, arg, err);
	switch (c) {
	case 'h': o->help = true; break;
	case 'd': o->debug = true; break;
	case 'q': o->quiet = true; break;
	case 's': return add_secret(o, arg, err);
	case SG_GOPT_MANIFEST: o->manifest = arg; break;
	case SG_GOPT_JSON: o->json = true; break;
	case SG_GOPT_SEV: o->mode = SG_MODE_SEV; break;
	case SG_GOPT_SEV_ES: o->mode = SG_MODE_SEV_ES; break;
	case SG_GOPT_FORMAT:
		if (!strcmp(arg, "hex"))
			o->format = SG_FORMAT_HEX;
		else if (!strcmp(arg, "base64"))
			o->format = SG_FORMAT_BASE64;
		else
			return sg_error_set(err, SG_E_USAGE, "--format must be hex or base64");
		break;
	default:
		return sg_error_set(err, SG_E_INTERNAL, "--%s has no front-end handler", opt->name);
	}
	return 0;
}

/* The command table's entry for @fe. */
static const struct sg_command *
front_end(enum sg_frontend fe)
{
	switch (fe) {
	case SG_FE_COMPAT: return sg_command_find("virt-qemu-sev-validate", "");
	case SG_FE_VALIDATE: return sg_command_find("sevgate", "validate");
	default: return sg_command_find("sevgate", "digest");
	}
}

void
sg_cli_init(enum sg_frontend fe, struct sg_cli_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->fe = fe;
	sg_guest_spec_init((enum sg_guest_origin)fe, &o->g);
}

int
sg_cli_parse(enum sg_frontend fe, int argc, char **argv, struct sg_cli_opts *o,
	     struct sg_error *err)
{
	struct sg_command_getopt g;
	int c, r;

	sg_cli_init(fe, o);
	if ((r = sg_command_getopt_init(front_end(fe), &g, err)) < 0)
		return r;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
		if (c == '?') {
			if (optopt)
				return sg_error_set(err, SG_E_USAGE, "unrecognized option '-%c'",
						    optopt);
			return sg_error_set(err, SG_E_USAGE, "unrecognized option '%s'",
					    argv[optind - 1]);
		}
		if (c == ':')
			return sg_error_set(err, SG_E_USAGE, "option '%s' requires an argument",
					    argv[optind - 1]);
		/*
		 * argparse reads "-f=PATH" (and "-fVALUE" whose value starts with '=')
		 * as PATH: a short option's attached argument loses one leading '='.
		 */
		if (optarg && c < 256 && optarg != argv[optind - 1] && optarg[0] == '=' &&
		    argv[optind - 1][0] == '-' && argv[optind - 1][1] != '-')
			optarg++;
		if ((r = apply(o, c, optarg, err)) < 0)
			return r;
		/* Like argparse, --help acts as soon as it is read. */
		if (o->help)
			return 0;
	}
	if (optind < argc)
		return sg_error_set(err, SG_E_USAGE, "unrecognized arguments: %s", argv[optind]);
	return 0;
}

bool
sg_cli_argv_quiet(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			return true;
	return false;
}

static int
check_digest_usage(struct sg_cli_opts *o, struct sg_error *err)
{
	struct sg_validate_req *q = &o->g.req;
	bool es = o->mode == SG_MODE_SEV_ES || (o->mode == SG_MODE_AUTO && q->num_cpus > 0);

	if (!q->firmware)
		return sg_error_set(err, SG_E_USAGE, "--firmware is required");
	if (!q->kernel && !q->kernel_pin.set && (q->initrd || q->cmdline || q->initrd_pin.set))
		return sg_error_set(err, SG_E_USAGE, "--initrd/--cmdline require --kernel");
	/* The digest has no policy of its own: the mode stands in for the ES bit. */
	q->platform.policy = es ? SG_POLICY_ES : 0;
	if (es && q->num_cpus == 0)
		return sg_error_set(err, SG_E_USAGE, "--sev-es requires --num-cpus");
	if (!es && (q->num_cpus || q->vmsa_cpu0 || q->vmsa_cpu1 || o->g.vcpu_type ||
		    o->g.have_family || o->g.have_model || o->g.have_stepping))
		return sg_error_set(err, SG_E_USAGE,
				    "vCPU and VMSA options need --sev-es (plain SEV measures no "
				    "VMSA)");
	return 0;
}

int
sg_cli_check_usage(struct sg_cli_opts *o, struct sg_error *err)
{
	int r;

	if (o->fe == SG_FE_DIGEST && (r = check_digest_usage(o, err)) < 0)
		return r;
	return sg_guest_spec_check(&o->g, (enum sg_guest_origin)o->fe, err);
}

void
sg_cli_usage(enum sg_frontend fe, const char *prog)
{
	/* The table names the program (@prog is what the caller runs as: the same). */
	(void)prog;
	sg_command_usage(front_end(fe), stdout);
}
