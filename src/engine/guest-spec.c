/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/guest-spec.h"

#include <string.h>

#include "core/cpuid.h"
#include "core/digest.h"
#include "core/policy.h"
#include "util/encode.h"
#include "util/escape.h"
#include "util/numparse.h"

static const struct sg_guest_option table[] = {

	{ "help", 'h', false, SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST, true },
	{ "debug", 'd', false, SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST, true },
	{ "quiet", 'q', false, SG_FROM_COMPAT | SG_FROM_VALIDATE, true },
	{ "measurement", 'm', true, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "api-major", SG_GOPT_API_MAJOR, true, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "api-minor", SG_GOPT_API_MINOR, true, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "build-id", SG_GOPT_BUILD_ID, true, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "policy", SG_GOPT_POLICY, true, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "firmware", 'f', true, SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST, false },
	{ "kernel", 'k', true, SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST, false },
	{ "initrd", 'r', true, SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST, false },
	{ "cmdline", 'e', true, SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST, false },
	{ "num-cpus", 'n', true, SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST, false },
	{ "vmsa-cpu0", '0', true, SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST, false },
	{ "vmsa-cpu1", '1', true, SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST, false },
	{ "cpu-family", SG_GOPT_CPU_FAMILY, true,
	  SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST, false },
	{ "cpu-model", SG_GOPT_CPU_MODEL, true, SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST,
	  false },
	{ "cpu-stepping", SG_GOPT_CPU_STEPPING, true,
	  SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST, false },
	{ "tik", SG_GOPT_TIK, true, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "tek", SG_GOPT_TEK, true, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "tk", SG_GOPT_TK, true, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "connect", 'c', true, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "domain", 'o', true, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "insecure", 'i', false, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "ignore-config", 'g', false, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "inject-secret", 's', true, SG_FROM_COMPAT | SG_FROM_VALIDATE, true },
	{ "secret-payload", SG_GOPT_SECRET_PAYLOAD, true, SG_FROM_COMPAT | SG_FROM_VALIDATE,
	  false },
	{ "secret-header", SG_GOPT_SECRET_HEADER, true, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "vmsa-profile", SG_GOPT_VMSA_PROFILE, true,
	  SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST, false },
	{ "sev-features", SG_GOPT_SEV_FEATURES, true,
	  SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST, false },
	{ "vcpu-type", SG_GOPT_VCPU_TYPE, true, SG_FROM_COMPAT | SG_FROM_VALIDATE | SG_FROM_DIGEST,
	  false },
	{ "secret-iv", SG_GOPT_SECRET_IV, true, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "pin-file", SG_GOPT_PIN_FILE, true, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "config", SG_GOPT_CONFIG, true, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "on-failure", SG_GOPT_ON_FAILURE, true, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "assume-remote", SG_GOPT_ASSUME_REMOTE, false, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "assume-local", SG_GOPT_ASSUME_LOCAL, false, SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "allow-exportable-keys", SG_GOPT_ALLOW_EXPORTABLE, false,
	  SG_FROM_COMPAT | SG_FROM_VALIDATE, false },
	{ "firmware-sha256", SG_GOPT_FIRMWARE_SHA256, true, SG_FROM_VALIDATE | SG_FROM_DIGEST,
	  false },
	{ "kernel-sha256", SG_GOPT_KERNEL_SHA256, true, SG_FROM_VALIDATE | SG_FROM_DIGEST, false },
	{ "initrd-sha256", SG_GOPT_INITRD_SHA256, true, SG_FROM_VALIDATE | SG_FROM_DIGEST, false },
	{ "manifest", SG_GOPT_MANIFEST, true, SG_FROM_VALIDATE, true },
	{ "require-policy", SG_GOPT_REQUIRE_POLICY, true, SG_FROM_VALIDATE, false },
	{ "min-api", SG_GOPT_MIN_API, true, SG_FROM_VALIDATE, false },
	{ "min-build", SG_GOPT_MIN_BUILD, true, SG_FROM_VALIDATE, false },
	{ "allow-debug", SG_GOPT_ALLOW_DEBUG, false, SG_FROM_VALIDATE, false },
	{ "allowed-firmware-sha256", SG_GOPT_ALLOWED_FIRMWARE, true, SG_FROM_VALIDATE, false },
	{ "allowed-launch-digest", SG_GOPT_ALLOWED_DIGEST, true, SG_FROM_VALIDATE, false },
	{ "destroy-keys", SG_GOPT_DESTROY_KEYS, false, SG_FROM_VALIDATE, false },
	{ "audit-log", SG_GOPT_AUDIT_LOG, true, SG_FROM_VALIDATE, false },
	{ "audit-key", SG_GOPT_AUDIT_KEY, true, SG_FROM_VALIDATE, false },
	{ "json", SG_GOPT_JSON, false, SG_FROM_VALIDATE, true },
	{ "guest", SG_GOPT_GUEST, true, SG_FROM_VALIDATE, false },
	{ "sev", SG_GOPT_SEV, false, SG_FROM_DIGEST, true },
	{ "sev-es", SG_GOPT_SEV_ES, false, SG_FROM_DIGEST, true },
	{ "format", SG_GOPT_FORMAT, true, SG_FROM_DIGEST, true },
};

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
