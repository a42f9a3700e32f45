/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli/opts.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/cpuid.h"
#include "core/digest.h"
#include "core/policy.h"
#include "util/encode.h"
#include "util/escape.h"
#include "util/numparse.h"

enum {
	OPT_API_MAJOR = 256,
	OPT_API_MINOR,
	OPT_BUILD_ID,
	OPT_POLICY,
	OPT_CPU_FAMILY,
	OPT_CPU_MODEL,
	OPT_CPU_STEPPING,
	OPT_TIK,
	OPT_TEK,
	OPT_TK,
	OPT_SECRET_PAYLOAD,
	OPT_SECRET_HEADER,
	OPT_VMSA_PROFILE,
	OPT_SEV_FEATURES,
	OPT_VCPU_TYPE,
	OPT_SECRET_IV,
	OPT_JSON,
	OPT_GUEST,
	OPT_SEV,
	OPT_SEV_ES,
	OPT_FORMAT,
	OPT_PIN_FILE,
	OPT_CONFIG,
	OPT_ON_FAILURE,
	OPT_ASSUME_REMOTE,
	OPT_ASSUME_LOCAL,
	OPT_FIRMWARE_SHA256,
	OPT_KERNEL_SHA256,
	OPT_INITRD_SHA256,
	OPT_MANIFEST,
	OPT_ALLOW_EXPORTABLE,
	OPT_REQUIRE_POLICY,
	OPT_MIN_API,
	OPT_MIN_BUILD,
	OPT_ALLOW_DEBUG,
	OPT_ALLOWED_FIRMWARE,
	OPT_ALLOWED_DIGEST,
	OPT_DESTROY_KEYS,
	OPT_AUDIT_LOG,
	OPT_AUDIT_KEY,
};

/* Which front ends accept an option. */
#define C (1u << SG_FE_COMPAT)
#define V (1u << SG_FE_VALIDATE)
#define D (1u << SG_FE_DIGEST)

static const struct {
	struct option opt;
	unsigned where;
} table[] = {
	{ { "help", no_argument, NULL, 'h' }, C | V | D },
	{ { "debug", no_argument, NULL, 'd' }, C | V | D },
	{ { "quiet", no_argument, NULL, 'q' }, C | V },
	{ { "measurement", required_argument, NULL, 'm' }, C | V },
	{ { "api-major", required_argument, NULL, OPT_API_MAJOR }, C | V },
	{ { "api-minor", required_argument, NULL, OPT_API_MINOR }, C | V },
	{ { "build-id", required_argument, NULL, OPT_BUILD_ID }, C | V },
	{ { "policy", required_argument, NULL, OPT_POLICY }, C | V },
	{ { "firmware", required_argument, NULL, 'f' }, C | V | D },
	{ { "kernel", required_argument, NULL, 'k' }, C | V | D },
	{ { "initrd", required_argument, NULL, 'r' }, C | V | D },
	{ { "cmdline", required_argument, NULL, 'e' }, C | V | D },
	{ { "num-cpus", required_argument, NULL, 'n' }, C | V | D },
	{ { "vmsa-cpu0", required_argument, NULL, '0' }, C | V | D },
	{ { "vmsa-cpu1", required_argument, NULL, '1' }, C | V | D },
	{ { "cpu-family", required_argument, NULL, OPT_CPU_FAMILY }, C | V | D },
	{ { "cpu-model", required_argument, NULL, OPT_CPU_MODEL }, C | V | D },
	{ { "cpu-stepping", required_argument, NULL, OPT_CPU_STEPPING }, C | V | D },
	{ { "tik", required_argument, NULL, OPT_TIK }, C | V },
	{ { "tek", required_argument, NULL, OPT_TEK }, C | V },
	{ { "tk", required_argument, NULL, OPT_TK }, C | V },
	{ { "connect", required_argument, NULL, 'c' }, C | V },
	{ { "domain", required_argument, NULL, 'o' }, C | V },
	{ { "insecure", no_argument, NULL, 'i' }, C | V },
	{ { "ignore-config", no_argument, NULL, 'g' }, C | V },
	{ { "inject-secret", required_argument, NULL, 's' }, C | V },
	{ { "secret-payload", required_argument, NULL, OPT_SECRET_PAYLOAD }, C | V },
	{ { "secret-header", required_argument, NULL, OPT_SECRET_HEADER }, C | V },
	{ { "vmsa-profile", required_argument, NULL, OPT_VMSA_PROFILE }, C | V | D },
	{ { "sev-features", required_argument, NULL, OPT_SEV_FEATURES }, C | V | D },
	{ { "vcpu-type", required_argument, NULL, OPT_VCPU_TYPE }, C | V | D },
	{ { "secret-iv", required_argument, NULL, OPT_SECRET_IV }, C | V },
	{ { "pin-file", required_argument, NULL, OPT_PIN_FILE }, C | V },
	{ { "config", required_argument, NULL, OPT_CONFIG }, C | V },
	{ { "on-failure", required_argument, NULL, OPT_ON_FAILURE }, C | V },
	{ { "assume-remote", no_argument, NULL, OPT_ASSUME_REMOTE }, C | V },
	{ { "assume-local", no_argument, NULL, OPT_ASSUME_LOCAL }, C | V },
	{ { "allow-exportable-keys", no_argument, NULL, OPT_ALLOW_EXPORTABLE }, C | V },
	{ { "firmware-sha256", required_argument, NULL, OPT_FIRMWARE_SHA256 }, V | D },
	{ { "kernel-sha256", required_argument, NULL, OPT_KERNEL_SHA256 }, V | D },
	{ { "initrd-sha256", required_argument, NULL, OPT_INITRD_SHA256 }, V | D },
	{ { "manifest", required_argument, NULL, OPT_MANIFEST }, V },
	{ { "require-policy", required_argument, NULL, OPT_REQUIRE_POLICY }, V },
	{ { "min-api", required_argument, NULL, OPT_MIN_API }, V },
	{ { "min-build", required_argument, NULL, OPT_MIN_BUILD }, V },
	{ { "allow-debug", no_argument, NULL, OPT_ALLOW_DEBUG }, V },
	{ { "allowed-firmware-sha256", required_argument, NULL, OPT_ALLOWED_FIRMWARE }, V },
	{ { "allowed-launch-digest", required_argument, NULL, OPT_ALLOWED_DIGEST }, V },
	{ { "destroy-keys", no_argument, NULL, OPT_DESTROY_KEYS }, V },
	{ { "audit-log", required_argument, NULL, OPT_AUDIT_LOG }, V },
	{ { "audit-key", required_argument, NULL, OPT_AUDIT_KEY }, V },
	{ { "json", no_argument, NULL, OPT_JSON }, V },
	{ { "guest", required_argument, NULL, OPT_GUEST }, V },
	{ { "sev", no_argument, NULL, OPT_SEV }, D },
	{ { "sev-es", no_argument, NULL, OPT_SEV_ES }, D },
	{ { "format", required_argument, NULL, OPT_FORMAT }, D },
};

#define NOPTS (sizeof(table) / sizeof(table[0]))

static int
parse_u32(const char *arg, uint64_t max, const char *name, uint32_t *ret, struct sg_error *err)
{
	uint64_t v;
	int r = sg_parse_uint_err(arg, max, name, &v, err);

	if (r == 0)
		*ret = (uint32_t)v;
	return r;
}

static int
parse_u8(const char *arg, const char *name, uint8_t *ret, struct sg_error *err)
{
	uint32_t v;
	int r = parse_u32(arg, 0xff, name, &v, err);

	if (r == 0)
		*ret = (uint8_t)v;
	return r;
}

static int
parse_measurement(const char *arg, uint8_t out[SG_MEASURE_BLOB_LEN], struct sg_error *err)
{
	uint8_t buf[SG_MEASURE_BLOB_LEN];
	size_t n = 0;
	int r = sg_base64_decode(arg, buf, sizeof(buf), &n, "--measurement", err);

	if (r < 0)
		return sg_error_set(err, SG_E_USAGE, "--measurement is not valid base64");
	if (n != SG_MEASURE_BLOB_LEN)
		return sg_error_set(err, SG_E_USAGE,
				    "--measurement must decode to %d bytes, got %zu",
				    SG_MEASURE_BLOB_LEN, n);
	memcpy(out, buf, sizeof(buf));
	return 0;
}

static int
handle(struct sg_cli_opts *o, int c, const char *arg, struct sg_error *err)
{
	struct sg_validate_req *q = &o->req;
	uint32_t v32;
	uint64_t v64;
	int r = 0;

	switch (c) {
	case 'h': o->help = true; break;
	case 'd': o->debug = true; break;
	case 'q': o->quiet = true; break;
	case 'm':
		if ((r = parse_measurement(arg, q->measurement, err)) == 0)
			q->have_measurement = true;
		break;
	case OPT_API_MAJOR:
		if ((r = parse_u8(arg, "--api-major", &q->platform.api_major, err)) == 0)
			q->have_api_major = true;
		break;
	case OPT_API_MINOR:
		if ((r = parse_u8(arg, "--api-minor", &q->platform.api_minor, err)) == 0)
			q->have_api_minor = true;
		break;
	case OPT_BUILD_ID:
		if ((r = parse_u8(arg, "--build-id", &q->platform.build_id, err)) == 0)
			q->have_build_id = true;
		break;
	case OPT_POLICY:
		if ((r = parse_u32(arg, UINT32_MAX, "--policy", &q->platform.policy, err)) == 0)
			q->have_policy = true;
		break;
	case 'f': q->firmware = arg; break;
	case 'k': q->kernel = arg; break;
	case 'r': q->initrd = arg; break;
	case 'e': q->cmdline = arg; break;
	case 'n':
		if ((r = parse_u32(arg, SG_MAX_VCPUS, "--num-cpus", &v32, err)) == 0) {
			if (v32 == 0)
				return sg_error_set(err, SG_E_USAGE,
						    "--num-cpus must be at least 1");
			q->num_cpus = v32;
		}
		break;
	case '0': q->vmsa_cpu0 = arg; break;
	case '1': q->vmsa_cpu1 = arg; break;
	case OPT_CPU_FAMILY:
		/* Largest family the CPUID encoding can carry: 0xf + 0xff. */
		if ((r = parse_u32(arg, 0x10e, "--cpu-family", &o->family, err)) == 0)
			o->have_family = true;
		break;
	case OPT_CPU_MODEL:
		if ((r = parse_u32(arg, 0xff, "--cpu-model", &o->model, err)) == 0)
			o->have_model = true;
		break;
	case OPT_CPU_STEPPING:
		if ((r = parse_u32(arg, 0xf, "--cpu-stepping", &o->stepping, err)) == 0)
			o->have_stepping = true;
		break;
	case OPT_TIK: q->tik = arg; break;
	case OPT_TEK: q->tek = arg; break;
	case OPT_TK: q->tk = arg; break;
	case 'c': o->connect = arg; break;
	case 'o': o->domain = arg; break;
	case 'i': o->insecure = true; break;
	case 'g': o->ignore_config = true; break;
	case 's':
		if (q->nsecret_args == SG_MAX_SECRETS)
			return sg_error_set(err, SG_E_USAGE, "more than %d --inject-secret options",
					    SG_MAX_SECRETS);
		q->secret_args[q->nsecret_args++] = arg;
		break;
	case OPT_SECRET_PAYLOAD: q->secret_payload = arg; break;
	case OPT_SECRET_HEADER: q->secret_header = arg; break;
	case OPT_VMSA_PROFILE: r = sg_vmsa_profile_parse(arg, &q->vmsa_profile, err); break;
	case OPT_SEV_FEATURES:
		if ((r = sg_parse_uint_err(arg, UINT64_MAX, "--sev-features", &v64, err)) == 0)
			q->sev_features = v64;
		break;
	case OPT_VCPU_TYPE: o->vcpu_type = arg; break;
	case OPT_SECRET_IV:
		if (sg_hex_decode(arg, q->secret_iv, SG_PACKET_IV_LEN, NULL) < 0)
			return sg_error_set(err, SG_E_USAGE,
					    "--secret-iv must be 32 hex digits (16 bytes)");
		q->have_secret_iv = true;
		break;
	case OPT_PIN_FILE: q->key_opts.pin_file = arg; break;
	case OPT_CONFIG: o->config = arg; break;
	case OPT_ON_FAILURE:
		if (!strcmp(arg, "keep"))
			o->destroy_on_failure = false;
		else if (!strcmp(arg, "destroy"))
			o->destroy_on_failure = true;
		else
			return sg_error_set(err, SG_E_USAGE,
					    "--on-failure must be keep or destroy");
		break;
	case OPT_FIRMWARE_SHA256:
	case OPT_KERNEL_SHA256:
	case OPT_INITRD_SHA256: {
		struct sg_pin *pin = c == OPT_FIRMWARE_SHA256 ? &q->firmware_pin :
				     c == OPT_KERNEL_SHA256   ? &q->kernel_pin :
								&q->initrd_pin;

		if (sg_hex_decode(arg, pin->sha256, sizeof(pin->sha256), NULL) < 0)
			return sg_error_set(err, SG_E_USAGE, "--%s must be 64 hex digits",
					    c == OPT_FIRMWARE_SHA256 ? "firmware-sha256" :
					    c == OPT_KERNEL_SHA256   ? "kernel-sha256" :
								       "initrd-sha256");
		pin->set = true;
		break;
	}
	case OPT_MANIFEST: o->manifest = arg; break;
	case OPT_ASSUME_REMOTE: o->assume_remote = true; break;
	case OPT_ASSUME_LOCAL: o->assume_local = true; break;
	case OPT_ALLOW_EXPORTABLE: q->key_opts.allow_exportable_keys = true; break;
	case OPT_REQUIRE_POLICY:
		/* Repeatable (a manifest's list arrives one word at a time): the bits add up. */
		if ((r = sg_release_require_parse(arg, &v32, err)) == 0)
			o->release.require_bits |= v32;
		break;
	case OPT_MIN_API:
		if ((r = sg_release_min_api_parse(arg, &o->release.min_api_major,
						  &o->release.min_api_minor, err)) == 0)
			o->release.have_min_api = true;
		break;
	case OPT_MIN_BUILD:
		if ((r = parse_u8(arg, "--min-build", &o->release.min_build, err)) == 0)
			o->release.have_min_build = true;
		break;
	case OPT_ALLOW_DEBUG: o->release.allow_debug = true; break;
	case OPT_ALLOWED_FIRMWARE:
		r = sg_release_allow_add(o->release.allowed_firmware, &o->release.nallowed_firmware,
					 arg, "--allowed-firmware-sha256", err);
		break;
	case OPT_ALLOWED_DIGEST:
		r = sg_release_allow_add(o->release.allowed_digests, &o->release.nallowed_digests,
					 arg, "--allowed-launch-digest", err);
		break;
	case OPT_DESTROY_KEYS: o->release.destroy_keys = true; break;
	case OPT_AUDIT_LOG: o->audit_log = arg; break;
	case OPT_AUDIT_KEY: o->audit_key = arg; break;
	case OPT_JSON: o->json = true; break;
	case OPT_GUEST:
		/* Recorded in the audit log: the name rule before anything is written. */
		if ((r = sg_name_check(arg, "--guest", err)) == 0)
			o->guest = arg;
		break;
	case OPT_SEV: o->mode = SG_MODE_SEV; break;
	case OPT_SEV_ES: o->mode = SG_MODE_SEV_ES; break;
	case OPT_FORMAT:
		if (!strcmp(arg, "hex"))
			o->format = SG_FORMAT_HEX;
		else if (!strcmp(arg, "base64"))
			o->format = SG_FORMAT_BASE64;
		else
			return sg_error_set(err, SG_E_USAGE, "--format must be hex or base64");
		break;
	default: return sg_error_set(err, SG_E_INTERNAL, "unhandled option %d", c);
	}
	return r;
}

void
sg_cli_init(enum sg_frontend fe, struct sg_cli_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->fe = fe;
	o->connect = "qemu:///system";
	o->req.secret_pad = fe == SG_FE_COMPAT ? SG_SECRET_PAD_LIBVIRT : SG_SECRET_PAD_ALIGN16;
	o->req.kernel_check = fe == SG_FE_COMPAT ? SG_KERNEL_CHECK_HINT : SG_KERNEL_CHECK_STRICT;
	o->req.digest_only = fe == SG_FE_DIGEST;
}

int
sg_cli_set_option(struct sg_cli_opts *o, const char *name, const char *value, struct sg_error *err)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct option *op = &table[i].opt;

		if (strcmp(op->name, name) || !(table[i].where & (1u << o->fe)))
			continue;
		if ((op->has_arg == required_argument) != (value != NULL))
			return sg_error_set(err, SG_E_INTERNAL, "option --%s: argument mismatch",
					    name);
		return handle(o, op->val, value, err);
	}
	return sg_error_set(err, SG_E_USAGE, "unknown option --%s", name);
}

bool
sg_cli_option_takes_value(enum sg_frontend fe, const char *name, bool *ret_takes)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (!strcmp(table[i].opt.name, name) && (table[i].where & (1u << fe))) {
			*ret_takes = table[i].opt.has_arg == required_argument;
			return true;
		}
	return false;
}

int
sg_cli_parse(enum sg_frontend fe, int argc, char **argv, struct sg_cli_opts *o,
	     struct sg_error *err)
{
	struct option longopts[NOPTS + 1];
	char shortopts[3 * NOPTS + 2];
	size_t nl = 0, ns = 0;
	int c, r;

	sg_cli_init(fe, o);
	shortopts[ns++] = ':'; /* report a missing argument distinctly */
	for (size_t i = 0; i < NOPTS; i++) {
		const struct option *op = &table[i].opt;

		if (!(table[i].where & (1u << fe)))
			continue;
		longopts[nl++] = *op;
		/* sevgate keeps the drop-in's short options, but not for its own additions. */
		if (op->val < 256) {
			shortopts[ns++] = (char)op->val;
			if (op->has_arg == required_argument)
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
		if ((r = handle(o, c, optarg, err)) < 0)
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
resolve_cpu(struct sg_cli_opts *o, struct sg_error *err)
{
	bool any_sku = o->have_family || o->have_model || o->have_stepping;

	if (o->vcpu_type) {
		if (any_sku)
			return sg_error_set(err, SG_E_USAGE,
					    "--vcpu-type is mutually exclusive with "
					    "--cpu-family/--cpu-model/--cpu-stepping");
		if (o->req.vmsa_cpu0 || o->req.vmsa_cpu1)
			return sg_error_set(err, SG_E_USAGE,
					    "VMSA files are mutually exclusive with --vcpu-type");
		o->req.have_cpu_sig = true;
		return sg_cpuid_lookup(o->vcpu_type, &o->req.cpu_sig, err);
	}
	if (any_sku) {
		o->req.have_cpu_sig = true;
		o->req.cpu_sig = sg_cpuid_signature(o->family, o->model, o->stepping);
	}
	return 0;
}

static int
check_digest_usage(struct sg_cli_opts *o, struct sg_error *err)
{
	struct sg_validate_req *q = &o->req;
	bool es = o->mode == SG_MODE_SEV_ES || (o->mode == SG_MODE_AUTO && q->num_cpus > 0);

	if (!q->firmware)
		return sg_error_set(err, SG_E_USAGE, "--firmware is required");
	if (!q->kernel && !q->kernel_pin.set && (q->initrd || q->cmdline || q->initrd_pin.set))
		return sg_error_set(err, SG_E_USAGE, "--initrd/--cmdline require --kernel");
	/* The digest has no policy of its own: the mode stands in for the ES bit. */
	q->platform.policy = es ? SG_POLICY_ES : 0;
	if (es && q->num_cpus == 0)
		return sg_error_set(err, SG_E_USAGE, "--sev-es requires --num-cpus");
	if (!es && (q->num_cpus || q->vmsa_cpu0 || q->vmsa_cpu1 || o->vcpu_type || o->have_family ||
		    o->have_model || o->have_stepping))
		return sg_error_set(err, SG_E_USAGE,
				    "vCPU and VMSA options need --sev-es (plain SEV measures no "
				    "VMSA)");
	return 0;
}

int
sg_cli_check_usage(struct sg_cli_opts *o, struct sg_error *err)
{
	struct sg_validate_req *q = &o->req;
	bool any_sku = o->have_family || o->have_model || o->have_stepping;

	if (o->fe == SG_FE_DIGEST) {
		int r = check_digest_usage(o, err);

		if (r < 0)
			return r;
	} else {
		if (q->tk) {
			if (q->tik || q->tek)
				return sg_error_set(err, SG_E_USAGE,
						    "--tk is mutually exclusive with --tek/--tik");
		} else if (!q->tik || !q->tek) {
			return sg_error_set(err, SG_E_USAGE,
					    "Either --tk or both of --tek/--tik are required");
		}
		if (!o->domain) {
			static const char *const names[] = { "measurement", "api-major",
							     "api-minor", "build-id", "policy" };
			const bool have[] = { q->have_measurement, q->have_api_major,
					      q->have_api_minor, q->have_build_id, q->have_policy };

			for (size_t i = 0; i < sizeof(have) / sizeof(have[0]); i++)
				if (!have[i])
					return sg_error_set(err, SG_E_USAGE,
							    "Either --%s or --domain is required",
							    names[i]);
			if (!q->firmware)
				return sg_error_set(err, SG_E_USAGE,
						    "Either --firmware or --domain is required");
			if (q->nsecret_args > 0 && !q->secret_header)
				return sg_error_set(
					err, SG_E_USAGE,
					"Either --secret-header or --domain is required");
			if (q->nsecret_args > 0 && !q->secret_payload)
				return sg_error_set(
					err, SG_E_USAGE,
					"Either --secret-payload or --domain is required");
		}
		if (!q->kernel && !q->kernel_pin.set &&
		    (q->initrd || q->cmdline || q->initrd_pin.set))
			return sg_error_set(err, SG_E_USAGE, "--initrd/--cmdline require --kernel");
	}

	if (!any_sku) {
		if (q->vmsa_cpu1 && !q->vmsa_cpu0)
			return sg_error_set(
				err, SG_E_USAGE,
				"VMSA for additional CPU also requires VMSA for boot CPU");
	} else {
		if (q->vmsa_cpu0 || q->vmsa_cpu1)
			return sg_error_set(err, SG_E_USAGE,
					    "VMSA files are mutually exclusive with CPU SKU");
		if (!(o->have_family && o->have_model && o->have_stepping))
			return sg_error_set(err, SG_E_USAGE,
					    "CPU SKU needs family, model and stepping for SEV-ES "
					    "domain");
	}
	if (!q->secret_payload != !q->secret_header)
		return sg_error_set(err, SG_E_USAGE,
				    "Both --secret-payload and --secret-header are required");
	if (o->assume_remote && o->assume_local)
		return sg_error_set(err, SG_E_USAGE,
				    "--assume-remote is mutually exclusive with --assume-local");
	/* With a domain the packet is injected; the reference ignores these then. */
	if (o->domain)
		q->secret_header = q->secret_payload = NULL;
	return resolve_cpu(o, err);
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
