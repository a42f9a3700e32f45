/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli/opts.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/secret-arg.h"
#include "core/policy.h"

/* Room for every option of the guest table (checked at parse time). */
#define SG_CLI_MAX_OPTS 96

/*
 * One --inject-secret: parsed now, but a bad one fails the release only when
 * it gets there, after the secrets before it are read (the reference's order).
 */
static int
add_secret(struct sg_cli_opts *o, const char *arg, struct sg_error *err)
{
	struct sg_validate_req *q = &o->g.req;
	struct sg_secret_spec *s;
	struct sg_error why = { 0 };

	if (q->nsecrets == SG_MAX_SECRETS)
		return sg_error_set(err, SG_E_USAGE, "more than %d --inject-secret options",
				    SG_MAX_SECRETS);
	s = &q->secrets[q->nsecrets];
	*s = (struct sg_secret_spec){ .path = NULL };
	if (sg_cli_secret_arg_parse(arg, s, &why) < 0) {
		snprintf(o->secret_msgs[q->nsecrets], sizeof(o->secret_msgs[0]), "%s", why.msg);
		s->invalid = o->secret_msgs[q->nsecrets];
	}
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
	size_t nopts;
	const struct sg_guest_option *table = sg_guest_options(&nopts);
	struct option longopts[SG_CLI_MAX_OPTS + 1];
	char shortopts[3 * SG_CLI_MAX_OPTS + 2];
	size_t nl = 0, ns = 0;
	int c, r;

	sg_cli_init(fe, o);
	if (nopts > SG_CLI_MAX_OPTS)
		return sg_error_set(err, SG_E_INTERNAL, "too many options");
	shortopts[ns++] = ':'; /* report a missing argument distinctly */
	for (size_t i = 0; i < nopts; i++) {
		const struct sg_guest_option *op = &table[i];

		if (!(op->origins & SG_FROM((enum sg_guest_origin)fe)))
			continue;
		longopts[nl++] = (struct option){ op->name,
						  op->takes_value ? required_argument : no_argument,
						  NULL, op->id };
		/* sevgate keeps the drop-in's short options, but not for its own additions. */
		if (op->id < 256) {
			shortopts[ns++] = (char)op->id;
			if (op->takes_value)
				shortopts[ns++] = ':';
		}
	}
	memset(&longopts[nl], 0, sizeof(longopts[nl]));
	shortopts[ns] = '\0';

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
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
	static const char inputs[] =
		"Guest config:\n"
		"  -f, --firmware PATH       firmware image (pflash unit 0 / -bios)\n"
		"  -k, --kernel PATH         kernel, for direct kernel boot (kernel-hashes)\n"
		"  -r, --initrd PATH         initrd (default: empty)\n"
		"  -e, --cmdline STRING      kernel command line (default: empty)\n"
		"  -n, --num-cpus COUNT      vCPUs (SEV-ES)\n"
		"  -0, --vmsa-cpu0 PATH      VMSA page of the boot CPU (4096 bytes)\n"
		"  -1, --vmsa-cpu1 PATH      VMSA page of the other CPUs (4096 bytes)\n"
		"      --cpu-family N, --cpu-model N, --cpu-stepping N\n"
		"                            guest CPU SKU, to build the VMSAs\n"
		"      --vcpu-type NAME      QEMU CPU model instead of the SKU (EPYC-Milan...)\n"
		"      --vmsa-profile P      legacy (KVM_SEV_ES_INIT, default) or init2\n"
		"      --sev-features N      VMSA SEV features (0x20: DebugSwap)\n";
	static const char state[] =
		"Guest launch state (reported by the host):\n"
		"  -m, --measurement BASE64  48-byte launch measurement\n"
		"      --api-major N, --api-minor N, --build-id N, --policy N\n"
		"Keys:\n"
		"      --tik KEY, --tek KEY  16-byte key files or pkcs11: URIs\n"
		"      --tk KEY              32-byte TEK||TIK file, or a pkcs11: URI of the pair\n"
		"      --pin-file PATH       token PIN (or pin-source=file:PATH in the URI)\n"
		"      --allow-exportable-keys  accept token keys that are extractable\n"
		"      --config FILE         sevgate.conf (default /etc/sevgate/sevgate.conf)\n"
		"libvirt:\n"
		"  -c, --connect URI         (default qemu:///system)\n"
		"  -o, --domain ID|NAME|UUID\n"
		"  -i, --insecure            allow insecure use\n"
		"  -g, --ignore-config       skip the guest XML checks\n"
		"      --on-failure keep|destroy  what happens to a guest that fails (keep)\n"
		"      --assume-remote, --assume-local  override the local/remote heuristic\n"
		"Secrets:\n"
		"  -s, --inject-secret ALIAS-OR-GUID:PATH   (alias: luks-key; repeatable)\n"
		"      --secret-header PATH, --secret-payload PATH   base64 outputs\n"
		"      --secret-iv HEX       fixed IV (testing only)\n";

	switch (fe) {
	case SG_FE_COMPAT:
		printf("usage: %s [OPTIONS]\n\nValidate guest AMD SEV launch measurement\n\n"
		       "  -h, --help                show this help\n"
		       "  -d, --debug               show debug information\n"
		       "  -q, --quiet               do not display status\n%s%s",
		       prog, state, inputs);
		break;
	case SG_FE_VALIDATE:
		printf("usage: %s validate [OPTIONS]\n\nValidate a guest's launch measurement "
		       "and release its secrets.\n\n"
		       "  -h, --help, -d, --debug, -q, --quiet\n"
		       "      --json                one JSON object on stdout\n"
		       "      --guest NAME          name for reports\n"
		       "      --manifest FILE       a YAML manifest (the options written down)\n%s%s"
		       "Release policy (a secret is released only if all hold; else exit 7):\n"
		       "      --require-policy LIST policy bits that must be set "
		       "(nodbg,noks,es,nosend,domain,sev)\n"
		       "      --min-api MAJOR.MINOR, --min-build N  oldest SEV firmware accepted\n"
		       "      --allow-debug         release to a guest whose policy allows "
		       "debugging\n"
		       "      --allowed-firmware-sha256 HEX, --allowed-launch-digest HEX  "
		       "(repeatable)\n"
		       "      --destroy-keys        delete the guest's token TIK/TEK once released\n"
		       "Audit:\n"
		       "      --audit-log FILE      signed, hash-chained record of every verdict "
		       "and release\n"
		       "      --audit-key KEY       pkcs11: URI or PEM file of the EC P-256 "
		       "signing key\n",
		       prog, state, inputs);
		break;
	case SG_FE_DIGEST:
		printf("usage: %s digest [OPTIONS]\n\nPrint the launch digest (GCTX.LD).\n\n"
		       "      --sev | --sev-es      mode (default: --sev-es with --num-cpus)\n"
		       "      --format hex|base64   output form (default hex)\n%s",
		       prog, inputs);
		break;
	}
}
