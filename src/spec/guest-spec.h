/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One guest, as the guest owner describes it: what was measured and what
 * the host reports (the validation request), the keys, the secrets, the
 * release policy, the audit identity, the online target and what to do on
 * failure. The command line and the manifest loader both produce it; the
 * engine below the front ends sees nothing else (no getopt, no output
 * format, no exit code).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"
#include "validate/release-policy.h"
#include "validate/validate.h"

/* Which programs a guest description comes from: their defaults differ. */
enum sg_guest_origin {
	SG_ORIGIN_COMPAT,   /* virt-qemu-sev-validate: the reference's padding and hints */
	SG_ORIGIN_VALIDATE, /* sevgate validate, batch and manifests */
	SG_ORIGIN_DIGEST,   /* sevgate digest: the launch digest only */
};

#define SG_FROM(origin) (1u << (origin))
#define SG_FROM_COMPAT SG_FROM(SG_ORIGIN_COMPAT)
#define SG_FROM_VALIDATE SG_FROM(SG_ORIGIN_VALIDATE)
#define SG_FROM_DIGEST SG_FROM(SG_ORIGIN_DIGEST)

enum sg_guest_option_id {
	/* Options with a short form use its letter; the others count from 256. */
	SG_GOPT_API_MAJOR = 256,
	SG_GOPT_API_MINOR,
	SG_GOPT_BUILD_ID,
	SG_GOPT_POLICY,
	SG_GOPT_CPU_FAMILY,
	SG_GOPT_CPU_MODEL,
	SG_GOPT_CPU_STEPPING,
	SG_GOPT_TIK,
	SG_GOPT_TEK,
	SG_GOPT_TK,
	SG_GOPT_SECRET_PAYLOAD,
	SG_GOPT_SECRET_HEADER,
	SG_GOPT_VMSA_PROFILE,
	SG_GOPT_SEV_FEATURES,
	SG_GOPT_VCPU_TYPE,
	SG_GOPT_SECRET_IV,
	SG_GOPT_JSON,
	SG_GOPT_GUEST,
	SG_GOPT_SEV,
	SG_GOPT_SEV_ES,
	SG_GOPT_FORMAT,
	SG_GOPT_PIN_FILE,
	SG_GOPT_CONFIG,
	SG_GOPT_ON_FAILURE,
	SG_GOPT_ASSUME_REMOTE,
	SG_GOPT_ASSUME_LOCAL,
	SG_GOPT_FIRMWARE_SHA256,
	SG_GOPT_KERNEL_SHA256,
	SG_GOPT_INITRD_SHA256,
	SG_GOPT_MANIFEST,
	SG_GOPT_ALLOW_EXPORTABLE,
	SG_GOPT_REQUIRE_POLICY,
	SG_GOPT_MIN_API,
	SG_GOPT_MIN_BUILD,
	SG_GOPT_ALLOW_DEBUG,
	SG_GOPT_ALLOWED_FIRMWARE,
	SG_GOPT_ALLOWED_DIGEST,
	SG_GOPT_DESTROY_KEYS,
	SG_GOPT_AUDIT_LOG,
	SG_GOPT_AUDIT_KEY,
};

/*
 * The groups --help shows the options in, in its order. The release policy
 * options are also the keys of a manifest's release mapping (not top-level
 * keys).
 */
enum sg_option_section {
	SG_SECTION_GENERAL, /* help, debug, quiet and the front end's own */
	SG_SECTION_STATE,   /* the launch state the host reports */
	SG_SECTION_KEYS,
	SG_SECTION_LIBVIRT,
	SG_SECTION_SECRETS,
	SG_SECTION_INPUTS, /* what was measured: firmware, kernel, vCPUs, pins */
	SG_SECTION_RELEASE,
	SG_SECTION_AUDIT,
	SG_SECTION_COUNT,
};

/* What a manifest key holds (docs/manifest.md): the option's value, written down. */
enum sg_manifest_type {
	SG_MANIFEST_NONE,   /* not a manifest key */
	SG_MANIFEST_INT,    /* an unquoted integer, decimal or 0x hex */
	SG_MANIFEST_U8,	    /* the same, at most 255 */
	SG_MANIFEST_STRING, /* a string */
	SG_MANIFEST_PATH,   /* a path, relative to the manifest's directory */
	SG_MANIFEST_KEY,    /* a key: a path as PATH, or a pkcs11: URI */
	SG_MANIFEST_BOOL,   /* true or false: true gives the flag */
	SG_MANIFEST_LIST,   /* a string or a list of strings, each one --NAME VALUE */
};

/*
 * One option, as the command line spells it, and the manifest key it is
 * (written the same way unless @manifest_key says otherwise). The guest
 * table holds every option of the programs that describe a guest; a
 * front-end option (help, output format) is the front end's to handle, the
 * others set the spec. The other commands' own options use the same row
 * (src/cli/cmdtab.c), with no origin.
 */
struct sg_guest_option {
	const char *name;
	int id; /* its short option letter, or an SG_GOPT_* */
	bool takes_value;
	unsigned origins; /* SG_FROM_* of the programs that offer it */
	bool frontend;
	const char *metavar; /* the value in --help ("PATH", "keep|destroy"); NULL: a flag */
	const char *help;    /* one line for --help */
	enum sg_option_section section;
	enum sg_manifest_type manifest;
	const char *manifest_key; /* NULL: the option's name */
};

struct sg_guest_spec {
	/* Inputs, pins, keys, secrets and the launch state (strings borrowed). */
	struct sg_validate_req req;
	/* The guest CPU when the VMSAs are built, not read: a SKU or a QEMU model. */
	bool have_family, have_model, have_stepping;
	uint32_t family, model, stepping;
	const char *vcpu_type;
	/* Online target: the libvirt connection and domain, and how far to trust the host. */
	const char *connect, *domain;
	bool insecure, ignore_config, assume_remote, assume_local;
	bool destroy_on_failure; /* on-failure: destroy (else keep) a guest that fails */
	/* Audit identity and where verdicts and releases are recorded. */
	const char *guest;
	const char *audit_log, *audit_key;
	const char *config; /* the configuration file, NULL: the default */
	/* What must hold before a secret leaves. */
	struct sg_release_policy release;
};

/* Set @g to the defaults of @origin. */
void sg_guest_spec_init(enum sg_guest_origin origin, struct sg_guest_spec *g);

/* Every option (*@ret_n of them), in the order --help lists them. */
const struct sg_guest_option *sg_guest_options(size_t *ret_n);
/* The option --@name of @origin's programs, or NULL. */
const struct sg_guest_option *sg_guest_option_find(enum sg_guest_origin origin, const char *name);
/* The option with @id (a short letter or SG_GOPT_*), or NULL. */
const struct sg_guest_option *sg_guest_option_by_id(int id);
/*
 * The option whose manifest key is @key: a top-level key (@in_release
 * false) or one of the release mapping's. NULL for a key no option has
 * (the manifest's own keys, version, guest, secrets and release, are the
 * manifest loader's).
 */
const struct sg_guest_option *sg_guest_option_by_manifest_key(const char *key, bool in_release);

/*
 * Apply @opt with @value (NULL for a flag) to @g, as "--name value" on a
 * command line. Returns 0, or SG_E_USAGE with the message naming the
 * option for a value it cannot take. @value is borrowed: it must outlive @g.
 */
SG_NODISCARD int sg_guest_spec_set(struct sg_guest_spec *g, const struct sg_guest_option *opt,
				   const char *value, struct sg_error *err);
/*
 * The same by name, as a manifest applies its keys. Returns 0; else reports
 * SG_E_USAGE "unknown option --NAME" for a name @origin does not have or that
 * is a front end's, SG_E_INTERNAL for a flag given a value (or an option
 * none), or what sg_guest_spec_set reports; @g is left as it was when the
 * name is refused.
 */
SG_NODISCARD int sg_guest_spec_set_named(struct sg_guest_spec *g, enum sg_guest_origin origin,
					 const char *name, const char *value, struct sg_error *err);

/*
 * Whether @g describes a guest that can be validated (@origin COMPAT or
 * VALIDATE: keys, launch state or a domain, secret outputs; the reference's
 * pre-flight checks, in its order) and the checks every origin shares (CPU
 * SKU, VMSA files, outputs); then the CPU signature is resolved. Returns 0
 * or SG_E_USAGE with the first problem. With a domain, the secret output
 * files are dropped (the packet is injected).
 */
SG_NODISCARD int
sg_guest_spec_check(struct sg_guest_spec *g, enum sg_guest_origin origin, struct sg_error *err);
/*
 * The CPU signature from the SKU or --vcpu-type into g->req.cpu_sig. Returns
 * 0, or reports SG_E_USAGE (an unknown type, a conflict); after a failure
 * the signature is not to be used (the spec is refused).
 */
SG_NODISCARD int sg_guest_spec_resolve_cpu(struct sg_guest_spec *g, struct sg_error *err);
