/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "spec/guest-spec.h"

#include <string.h>

#include "core/cpuid.h"
#include "core/digest.h"
#include "core/policy.h"
#include "util/encode.h"
#include "util/escape.h"
#include "util/numparse.h"

#define CVD (SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST)
#define CV (SG_FROM_COMPAT | SG_FROM_VALIDATE)
#define VD (SG_FROM_VALIDATE | SG_FROM_DIGEST)
#define V SG_FROM_VALIDATE
#define D SG_FROM_DIGEST
/* --NAME METAVAR: sets the spec; @mt: the manifest key it is (or SG_MANIFEST_NONE). */
#define ARG(name, id, metavar, from, sec, mt, help)                                             \
	{                                                                                       \
		name, id, true, from, false, metavar, help, SG_SECTION_##sec, SG_MANIFEST_##mt, \
			NULL                                                                    \
	}
#define FLAG(name, id, from, sec, mt, help)                                                        \
	{                                                                                          \
		name, id, false, from, false, NULL, help, SG_SECTION_##sec, SG_MANIFEST_##mt, NULL \
	}
/* The front end's own: never a manifest key. */
#define FE_ARG(name, id, metavar, from, help)                                                    \
	{                                                                                        \
		name, id, true, from, true, metavar, help, SG_SECTION_GENERAL, SG_MANIFEST_NONE, \
			NULL                                                                     \
	}
#define FE_FLAG(name, id, from, help)                                                          \
	{                                                                                      \
		name, id, false, from, true, NULL, help, SG_SECTION_GENERAL, SG_MANIFEST_NONE, \
			NULL                                                                   \
	}

/*
 * Every option of the programs that describe a guest: the one place an
 * option, its --help line and its manifest key are declared. --help lists a
 * section's rows in this order (the release rows also name the keys of a
 * manifest's release mapping, in its error message's order).
 */
static const struct sg_guest_option table[] = {
	FE_FLAG("help", 'h', CVD, "show this help"),
	FE_FLAG("debug", 'd', CVD, "show debug information"),
	FE_FLAG("quiet", 'q', CV, "do not display status"),
	FE_FLAG("json", SG_GOPT_JSON, V, "one JSON object on stdout"),
	ARG("guest", SG_GOPT_GUEST, "NAME", V, GENERAL, NONE, "name for reports and the audit log"),
	FE_ARG("manifest", SG_GOPT_MANIFEST, "FILE", V,
	       "a YAML manifest (the options written down)"),
	FE_FLAG("sev", SG_GOPT_SEV, D, "plain SEV (default without --num-cpus)"),
	FE_FLAG("sev-es", SG_GOPT_SEV_ES, D, "SEV-ES (default with --num-cpus)"),
	FE_ARG("format", SG_GOPT_FORMAT, "hex|base64", D, "output form (default hex)"),

	ARG("measurement", 'm', "BASE64", CV, STATE, STRING, "48-byte launch measurement"),
	ARG("api-major", SG_GOPT_API_MAJOR, "N", CV, STATE, INT, "SEV API major version (0-255)"),
	ARG("api-minor", SG_GOPT_API_MINOR, "N", CV, STATE, INT, "SEV API minor version (0-255)"),
	ARG("build-id", SG_GOPT_BUILD_ID, "N", CV, STATE, INT, "SEV firmware build ID (0-255)"),
	ARG("policy", SG_GOPT_POLICY, "N", CV, STATE, INT, "guest policy (bit 0x4: SEV-ES)"),

	ARG("tik", SG_GOPT_TIK, "KEY", CV, KEYS, KEY, "16-byte TIK file or a pkcs11: URI"),
	ARG("tek", SG_GOPT_TEK, "KEY", CV, KEYS, KEY, "16-byte TEK file or a pkcs11: URI"),
	ARG("tk", SG_GOPT_TK, "KEY", CV, KEYS, KEY,
	    "32-byte TEK||TIK file, or a pkcs11: URI of the pair"),
	ARG("pin-file", SG_GOPT_PIN_FILE, "PATH", CV, KEYS, NONE,
	    "token PIN (or pin-source=file:PATH in the URI)"),
	FLAG("allow-exportable-keys", SG_GOPT_ALLOW_EXPORTABLE, CV, KEYS, NONE,
	     "accept token keys that are extractable"),
	ARG("config", SG_GOPT_CONFIG, "FILE", CV, KEYS, NONE,
	    "sevgate.conf (default /etc/sevgate/sevgate.conf)"),

	ARG("connect", 'c', "URI", CV, LIBVIRT, STRING, "libvirt URI (default qemu:///system)"),
	ARG("domain", 'o', "ID|NAME|UUID", CV, LIBVIRT, STRING,
	    "online mode: the paused domain to validate"),
	FLAG("insecure", 'i', CV, LIBVIRT, BOOL, "allow insecure use"),
	FLAG("ignore-config", 'g', CV, LIBVIRT, BOOL, "skip the guest XML checks"),
	ARG("on-failure", SG_GOPT_ON_FAILURE, "keep|destroy", CV, LIBVIRT, STRING,
	    "what happens to a guest that fails (keep)"),
	FLAG("assume-remote", SG_GOPT_ASSUME_REMOTE, CV, LIBVIRT, NONE,
	     "treat libvirt as remote (override the heuristic)"),
	FLAG("assume-local", SG_GOPT_ASSUME_LOCAL, CV, LIBVIRT, NONE,
	     "treat libvirt as local (override the heuristic)"),

	/* The front end's: ALIAS-OR-GUID:PATH is command-line syntax (cli/secret-arg.h). */
	{ "inject-secret", 's', true, CV, true, "ALIAS-OR-GUID:PATH",
	  "a secret to release (alias: luks-key; repeatable)", SG_SECTION_SECRETS, SG_MANIFEST_NONE,
	  NULL },
	ARG("secret-header", SG_GOPT_SECRET_HEADER, "PATH", CV, SECRETS, PATH,
	    "where to write the packet header (base64)"),
	ARG("secret-payload", SG_GOPT_SECRET_PAYLOAD, "PATH", CV, SECRETS, PATH,
	    "where to write the packet payload (base64)"),
	ARG("secret-iv", SG_GOPT_SECRET_IV, "HEX", CV, SECRETS, STRING, "fixed IV (testing only)"),

	ARG("firmware", 'f', "PATH", CVD, INPUTS, PATH, "firmware image (pflash unit 0 / -bios)"),
	ARG("kernel", 'k', "PATH", CVD, INPUTS, PATH,
	    "kernel, for direct kernel boot (kernel-hashes)"),
	ARG("initrd", 'r', "PATH", CVD, INPUTS, PATH, "initrd (default: empty)"),
	ARG("cmdline", 'e', "STRING", CVD, INPUTS, STRING, "kernel command line (default: empty)"),
	ARG("num-cpus", 'n', "COUNT", CVD, INPUTS, INT, "vCPUs (SEV-ES)"),
	ARG("vmsa-cpu0", '0', "PATH", CVD, INPUTS, PATH, "VMSA page of the boot CPU (4096 bytes)"),
	ARG("vmsa-cpu1", '1', "PATH", CVD, INPUTS, PATH,
	    "VMSA page of the other CPUs (4096 bytes)"),
	ARG("cpu-family", SG_GOPT_CPU_FAMILY, "N", CVD, INPUTS, INT,
	    "guest CPU family, to build the VMSAs"),
	ARG("cpu-model", SG_GOPT_CPU_MODEL, "N", CVD, INPUTS, INT, "guest CPU model"),
	ARG("cpu-stepping", SG_GOPT_CPU_STEPPING, "N", CVD, INPUTS, INT, "guest CPU stepping"),
	ARG("vcpu-type", SG_GOPT_VCPU_TYPE, "NAME", CVD, INPUTS, STRING,
	    "QEMU CPU model instead of the SKU (EPYC-Milan...)"),
	ARG("vmsa-profile", SG_GOPT_VMSA_PROFILE, "PROFILE", CVD, INPUTS, STRING,
	    "legacy (KVM_SEV_ES_INIT, default) or init2"),
	ARG("sev-features", SG_GOPT_SEV_FEATURES, "N", CVD, INPUTS, INT,
	    "VMSA SEV features (0x20: DebugSwap)"),
	ARG("firmware-sha256", SG_GOPT_FIRMWARE_SHA256, "HEX", VD, INPUTS, STRING,
	    "the firmware's SHA-256 (a pin; alone: no file)"),
	ARG("kernel-sha256", SG_GOPT_KERNEL_SHA256, "HEX", VD, INPUTS, STRING,
	    "the kernel's SHA-256 (a pin; alone: no file)"),
	ARG("initrd-sha256", SG_GOPT_INITRD_SHA256, "HEX", VD, INPUTS, STRING,
	    "the initrd's SHA-256 (a pin; alone: no file)"),

	ARG("require-policy", SG_GOPT_REQUIRE_POLICY, "LIST", V, RELEASE, LIST,
	    "must be set: nodbg,noks,es,nosend,domain,sev"),
	ARG("min-api", SG_GOPT_MIN_API, "MAJOR.MINOR", V, RELEASE, STRING,
	    "oldest SEV API version accepted"),
	ARG("min-build", SG_GOPT_MIN_BUILD, "N", V, RELEASE, U8,
	    "oldest SEV firmware build accepted"),
	ARG("allowed-firmware-sha256", SG_GOPT_ALLOWED_FIRMWARE, "HEX", V, RELEASE, LIST,
	    "firmware SHA-256 accepted (repeatable)"),
	{ "allowed-launch-digest", SG_GOPT_ALLOWED_DIGEST, true, V, false, "HEX",
	  "launch digest accepted (repeatable)", SG_SECTION_RELEASE, SG_MANIFEST_LIST,
	  "allowed-launch-digests" },
	FLAG("allow-debug", SG_GOPT_ALLOW_DEBUG, V, RELEASE, BOOL,
	     "release to a guest whose policy allows debugging"),
	FLAG("destroy-keys", SG_GOPT_DESTROY_KEYS, V, RELEASE, BOOL,
	     "delete the guest's token TIK/TEK once released"),

	ARG("audit-log", SG_GOPT_AUDIT_LOG, "FILE", V, AUDIT, NONE,
	    "signed, hash-chained log of verdicts and releases"),
	ARG("audit-key", SG_GOPT_AUDIT_KEY, "KEY", V, AUDIT, NONE,
	    "its EC P-256 signing key: PEM file or pkcs11: URI"),
};

#undef CVD
#undef CV
#undef VD
#undef V
#undef D

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
	int r = sg_base64_decode_arg(arg, buf, sizeof(buf), &n, "--measurement", err);

	if (r < 0)
		return r;
	if (n != SG_MEASURE_BLOB_LEN)
		return sg_error_set(err, SG_E_USAGE,
				    "--measurement must decode to %d bytes, got %zu",
				    SG_MEASURE_BLOB_LEN, n);
	memcpy(out, buf, sizeof(buf));
	return 0;
}

int
sg_guest_spec_set(struct sg_guest_spec *g, const struct sg_guest_option *opt, const char *arg,
		  struct sg_error *err)
{
	struct sg_validate_req *q = &g->req;
	int c = opt->id;
	uint32_t v32;
	uint64_t v64;
	int r = 0;

	switch (c) {
	case 'm':
		if ((r = parse_measurement(arg, q->measurement, err)) == 0)
			q->have_measurement = true;
		break;
	case SG_GOPT_API_MAJOR:
		if ((r = parse_u8(arg, "--api-major", &q->platform.api_major, err)) == 0)
			q->have_api_major = true;
		break;
	case SG_GOPT_API_MINOR:
		if ((r = parse_u8(arg, "--api-minor", &q->platform.api_minor, err)) == 0)
			q->have_api_minor = true;
		break;
	case SG_GOPT_BUILD_ID:
		if ((r = parse_u8(arg, "--build-id", &q->platform.build_id, err)) == 0)
			q->have_build_id = true;
		break;
	case SG_GOPT_POLICY:
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
	case SG_GOPT_CPU_FAMILY:
		/* Largest family the CPUID encoding can carry: 0xf + 0xff. */
		if ((r = parse_u32(arg, 0x10e, "--cpu-family", &g->family, err)) == 0)
			g->have_family = true;
		break;
	case SG_GOPT_CPU_MODEL:
		if ((r = parse_u32(arg, 0xff, "--cpu-model", &g->model, err)) == 0)
			g->have_model = true;
		break;
	case SG_GOPT_CPU_STEPPING:
		if ((r = parse_u32(arg, 0xf, "--cpu-stepping", &g->stepping, err)) == 0)
			g->have_stepping = true;
		break;
	case SG_GOPT_TIK: q->tik = arg; break;
	case SG_GOPT_TEK: q->tek = arg; break;
	case SG_GOPT_TK: q->tk = arg; break;
	case 'c': g->connect = arg; break;
	case 'o': g->domain = arg; break;
	case 'i': g->insecure = true; break;
	case 'g': g->ignore_config = true; break;
	case SG_GOPT_SECRET_PAYLOAD: q->secret_payload = arg; break;
	case SG_GOPT_SECRET_HEADER: q->secret_header = arg; break;
	case SG_GOPT_VMSA_PROFILE: r = sg_vmsa_profile_parse(arg, &q->vmsa_profile, err); break;
	case SG_GOPT_SEV_FEATURES:
		if ((r = sg_parse_uint_err(arg, UINT64_MAX, "--sev-features", &v64, err)) == 0)
			q->sev_features = v64;
		break;
	case SG_GOPT_VCPU_TYPE: g->vcpu_type = arg; break;
	case SG_GOPT_SECRET_IV:
		if (sg_hex_decode(arg, q->secret_iv, SG_PACKET_IV_LEN, NULL) < 0)
			return sg_error_set(err, SG_E_USAGE,
					    "--secret-iv must be 32 hex digits (16 bytes)");
		q->have_secret_iv = true;
		break;
	case SG_GOPT_PIN_FILE: q->key_opts.pin_file = arg; break;
	case SG_GOPT_CONFIG: g->config = arg; break;
	case SG_GOPT_ON_FAILURE:
		if (!strcmp(arg, "keep"))
			g->destroy_on_failure = false;
		else if (!strcmp(arg, "destroy"))
			g->destroy_on_failure = true;
		else
			return sg_error_set(err, SG_E_USAGE,
					    "--on-failure must be keep or destroy");
		break;
	case SG_GOPT_FIRMWARE_SHA256:
	case SG_GOPT_KERNEL_SHA256:
	case SG_GOPT_INITRD_SHA256: {
		struct sg_pin *pin = c == SG_GOPT_FIRMWARE_SHA256 ? &q->firmware_pin :
				     c == SG_GOPT_KERNEL_SHA256	  ? &q->kernel_pin :
								    &q->initrd_pin;

		if (sg_hex_decode(arg, pin->sha256, sizeof(pin->sha256), NULL) < 0)
			return sg_error_set(err, SG_E_USAGE, "--%s must be 64 hex digits",
					    c == SG_GOPT_FIRMWARE_SHA256 ? "firmware-sha256" :
					    c == SG_GOPT_KERNEL_SHA256	 ? "kernel-sha256" :
									   "initrd-sha256");
		pin->set = true;
		break;
	}
	case SG_GOPT_ASSUME_REMOTE: g->assume_remote = true; break;
	case SG_GOPT_ASSUME_LOCAL: g->assume_local = true; break;
	case SG_GOPT_ALLOW_EXPORTABLE: q->key_opts.allow_exportable_keys = true; break;
	case SG_GOPT_REQUIRE_POLICY:
		/* Repeatable (a manifest's list arrives one word at a time): the bits add up. */
		if ((r = sg_release_require_parse(arg, &v32, err)) == 0)
			g->release.require_bits |= v32;
		break;
	case SG_GOPT_MIN_API:
		if ((r = sg_release_min_api_parse(arg, &g->release.min_api_major,
						  &g->release.min_api_minor, err)) == 0)
			g->release.have_min_api = true;
		break;
	case SG_GOPT_MIN_BUILD:
		if ((r = parse_u8(arg, "--min-build", &g->release.min_build, err)) == 0)
			g->release.have_min_build = true;
		break;
	case SG_GOPT_ALLOW_DEBUG: g->release.allow_debug = true; break;
	case SG_GOPT_ALLOWED_FIRMWARE:
		r = sg_release_allow_add(g->release.allowed_firmware, &g->release.nallowed_firmware,
					 arg, "--allowed-firmware-sha256", err);
		break;
	case SG_GOPT_ALLOWED_DIGEST:
		r = sg_release_allow_add(g->release.allowed_digests, &g->release.nallowed_digests,
					 arg, "--allowed-launch-digest", err);
		break;
	case SG_GOPT_DESTROY_KEYS: g->release.destroy_keys = true; break;
	case SG_GOPT_AUDIT_LOG: g->audit_log = arg; break;
	case SG_GOPT_AUDIT_KEY: g->audit_key = arg; break;
	case SG_GOPT_GUEST:
		/* Recorded in the audit log: the name rule before anything is written. */
		if ((r = sg_name_check(arg, "--guest", err)) == 0)
			g->guest = arg;
		break;
	default: return sg_error_set(err, SG_E_INTERNAL, "--%s is not a guest option", opt->name);
	}
	return r;
}

int
sg_guest_spec_resolve_cpu(struct sg_guest_spec *g, struct sg_error *err)
{
	bool any_sku = g->have_family || g->have_model || g->have_stepping;

	if (g->vcpu_type) {
		if (any_sku)
			return sg_error_set(err, SG_E_USAGE,
					    "--vcpu-type is mutually exclusive with "
					    "--cpu-family/--cpu-model/--cpu-stepping");
		if (g->req.vmsa_cpu0 || g->req.vmsa_cpu1)
			return sg_error_set(err, SG_E_USAGE,
					    "VMSA files are mutually exclusive with --vcpu-type");
		g->req.have_cpu_sig = true;
		return sg_cpuid_lookup(g->vcpu_type, &g->req.cpu_sig, err);
	}
	if (any_sku) {
		g->req.have_cpu_sig = true;
		g->req.cpu_sig = sg_cpuid_signature(g->family, g->model, g->stepping);
	}
	return 0;
}

int
sg_guest_spec_check(struct sg_guest_spec *g, enum sg_guest_origin origin, struct sg_error *err)
{
	struct sg_validate_req *q = &g->req;
	bool any_sku = g->have_family || g->have_model || g->have_stepping;

	if (origin != SG_ORIGIN_DIGEST) {
		if (q->tk) {
			if (q->tik || q->tek)
				return sg_error_set(err, SG_E_USAGE,
						    "--tk is mutually exclusive with --tek/--tik");
		} else if (!q->tik || !q->tek) {
			return sg_error_set(err, SG_E_USAGE,
					    "Either --tk or both of --tek/--tik are required");
		}
		if (!g->domain) {
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
			if (q->nsecrets > 0 && !q->secret_header)
				return sg_error_set(
					err, SG_E_USAGE,
					"Either --secret-header or --domain is required");
			if (q->nsecrets > 0 && !q->secret_payload)
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
		if (!(g->have_family && g->have_model && g->have_stepping))
			return sg_error_set(err, SG_E_USAGE,
					    "CPU SKU needs family, model and stepping for SEV-ES "
					    "domain");
	}
	if (!q->secret_payload != !q->secret_header)
		return sg_error_set(err, SG_E_USAGE,
				    "Both --secret-payload and --secret-header are required");
	if (g->assume_remote && g->assume_local)
		return sg_error_set(err, SG_E_USAGE,
				    "--assume-remote is mutually exclusive with --assume-local");
	/* With a domain the packet is injected; the reference ignores these then. */
	if (g->domain)
		q->secret_header = q->secret_payload = NULL;
	return sg_guest_spec_resolve_cpu(g, err);
}

void
sg_guest_spec_init(enum sg_guest_origin origin, struct sg_guest_spec *g)
{
	memset(g, 0, sizeof(*g));
	g->connect = "qemu:///system";
	g->req.secret_pad =
		origin == SG_ORIGIN_COMPAT ? SG_SECRET_PAD_LIBVIRT : SG_SECRET_PAD_ALIGN16;
	g->req.kernel_check =
		origin == SG_ORIGIN_COMPAT ? SG_KERNEL_CHECK_HINT : SG_KERNEL_CHECK_STRICT;
	g->req.digest_only = origin == SG_ORIGIN_DIGEST;
}

const struct sg_guest_option *
sg_guest_options(size_t *ret_n)
{
	*ret_n = SG_ELEMENTSOF(table);
	return table;
}

const struct sg_guest_option *
sg_guest_option_find(enum sg_guest_origin origin, const char *name)
{
	for (size_t i = 0; i < SG_ELEMENTSOF(table); i++)
		if (!strcmp(table[i].name, name) && (table[i].origins & SG_FROM(origin)))
			return &table[i];
	return NULL;
}

const struct sg_guest_option *
sg_guest_option_by_id(int id)
{
	for (size_t i = 0; i < SG_ELEMENTSOF(table); i++)
		if (table[i].id == id)
			return &table[i];
	return NULL;
}

const struct sg_guest_option *
sg_guest_option_by_manifest_key(const char *key, bool in_release)
{
	for (size_t i = 0; i < SG_ELEMENTSOF(table); i++) {
		const struct sg_guest_option *o = &table[i];

		if (o->manifest != SG_MANIFEST_NONE &&
		    (o->section == SG_SECTION_RELEASE) == in_release &&
		    !strcmp(o->manifest_key ? o->manifest_key : o->name, key))
			return o;
	}
	return NULL;
}

int
sg_guest_spec_set_named(struct sg_guest_spec *g, enum sg_guest_origin origin, const char *name,
			const char *value, struct sg_error *err)
{
	const struct sg_guest_option *opt = sg_guest_option_find(origin, name);

	if (!opt || opt->frontend)
		return sg_error_set(err, SG_E_USAGE, "unknown option --%s", name);
	if (opt->takes_value != (value != NULL))
		return sg_error_set(err, SG_E_INTERNAL, "option --%s: argument mismatch", name);
	return sg_guest_spec_set(g, opt, value, err);
}
