/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The validation engine shared by both front ends (and later by manifests
 * and batch): load what the guest owner supplied, compute the expected
 * launch measurement, compare it with the reported one, and on success
 * build the launch-secret packet. Two steps, because the drop-in prints
 * "OK: Looks good to me" between attestation and secret release.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/guid.h"
#include "protocol/measure.h"
#include "protocol/packet.h"
#include "core/secret.h"
#include "core/vmsa.h"
#include "key/key.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileio.h"

#define SG_MAX_SECRETS 64
/* Largest secret file we read; the firmware's secret area (3 KiB in OVMF) is the real bound. */
#define SG_SECRET_FILE_MAX ((size_t)1 << 20)
/* Longest kernel command line we hash (Linux's COMMAND_LINE_SIZE is 2 KiB to 256 KiB). */
#define SG_CMDLINE_MAX ((size_t)1 << 20)

enum sg_kernel_check {
	/* Compute as the reference does; on a mismatch, hint that the firmware cannot measure a kernel. */
	SG_KERNEL_CHECK_HINT,
	/* Refuse a kernel up front when the firmware has no kernel-hashes table (sevgate). */
	SG_KERNEL_CHECK_STRICT,
};

/* A pinned SHA-256: the file must hash to it; for a kernel or initrd it can stand alone. */
struct sg_pin {
	bool set;
	uint8_t sha256[SG_SHA256_LEN];
};

/*
 * One secret to release: its GUID and where its bytes are, a file or the
 * pkcs11: URI of a token data object (borrowed).
 */
struct sg_secret_spec {
	struct sg_guid guid;
	const char *path;
	/*
	 * Set by a front end for an entry it could not read (its message, borrowed):
	 * the release fails with it when it gets to this entry, after the ones before
	 * it were read, as the reference tool does.
	 */
	const char *invalid;
};

/* What the guest owner supplied. Strings are borrowed. */
struct sg_validate_req {
	/* Launch state reported by the host. */
	bool have_measurement, have_api_major, have_api_minor, have_build_id, have_policy;
	uint8_t measurement[SG_MEASURE_BLOB_LEN];
	struct sg_platform platform;

	/* What was measured. */
	const char *firmware, *kernel, *initrd, *cmdline;
	struct sg_pin firmware_pin, kernel_pin, initrd_pin;
	unsigned num_cpus; /* 0: not given */
	const char *vmsa_cpu0, *vmsa_cpu1;
	bool have_cpu_sig; /* from --cpu-family/model/stepping or --vcpu-type */
	uint32_t cpu_sig;
	enum sg_vmsa_profile vmsa_profile;
	uint64_t sev_features;

	/* Keys: tk, or tik and tek (paths or pkcs11: URIs), and how to open token keys. */
	const char *tik, *tek, *tk;
	struct sg_key_options key_opts;

	/* Secrets to release after a good attestation, in order. */
	struct sg_secret_spec secrets[SG_MAX_SECRETS];
	size_t nsecrets;
	const char *secret_header, *secret_payload;
	/* Called on each secret file's open fd before it is read (a manifest's trust model). */
	sg_file_check_fn secret_check;
	void *secret_check_ctx;
	bool have_secret_iv;
	uint8_t secret_iv[SG_PACKET_IV_LEN];
	enum sg_secret_pad secret_pad;

	enum sg_kernel_check kernel_check;
	/* Optional firmware cache shared by the guests of one run (borrowed). */
	struct sg_fwcache *fwcache;
	/* Compute the launch digest only: no keys, no measurement (sevgate digest). */
	bool digest_only;
};

struct sg_input_digest {
	bool present;
	/* @sha256 holds the input's hash (a validation that failed early may not have one). */
	bool hashed;
	const char *path;
	uint8_t sha256[SG_SHA256_LEN];
};

struct sg_released_secret {
	struct sg_guid guid;
	size_t length;
};

struct sg_validate_result {
	bool have_launch_digest;
	uint8_t launch_digest[SG_SHA256_LEN];
	struct sg_input_digest firmware, kernel, initrd;
	bool have_cmdline;
	uint8_t cmdline_sha256[SG_SHA256_LEN];
	unsigned vcpus; /* VMSA pages measured (0 for plain SEV) */
	/* Set when a kernel was given but the firmware cannot measure one. */
	bool firmware_lacks_kernel_hashes;
	struct sg_released_secret secrets[SG_MAX_SECRETS];
	size_t nsecrets;
	/* A key accepted with allow_exportable_keys although it can leave its token, or NULL. */
	const char *exportable_key;
	char exportable_key_buf[512]; /* where exportable_key points: it outlives the keys */
	/* The packet, base64, once built (for online injection). */
	char *secret_header_b64, *secret_payload_b64;
};

struct sg_fwcache;
struct sg_validation;

/*
 * A validation of @req (borrowed, with @c: both outlive it) in *@ret; nothing
 * is loaded yet. Returns 0, or reports SG_E_NOMEM in @err.
 */
SG_NODISCARD int sg_validation_new(struct sg_crypto *c, const struct sg_validate_req *req,
				   struct sg_validation **ret, struct sg_error *err);
/* Free @v, its keys and its packet; NULL is a no-op. */
void sg_validation_free(struct sg_validation *v);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_validation *, sg_validation_free)

/*
 * Load the inputs the request names now (firmware, keys, kernel, initrd,
 * VMSA files), in the reference's order, so a bad file fails before any
 * libvirt call. Optional: attest loads whatever is still missing, so an
 * online run loads the command line's inputs, fills the rest from
 * libvirt into the request, then attests. Returns 0, or reports the first
 * failure in @err: a file's (SG_E_IO, SG_E_LIMIT, SG_E_NOMEM), a key's
 * (SG_E_KEY, SG_E_TOKEN, SG_E_INSECURE), or SG_E_USAGE (a pin that does not
 * match, a VMSA that is not 4096 bytes, a command line too long).
 */
SG_NODISCARD int sg_validation_load(struct sg_validation *v, struct sg_error *err);

/*
 * Load the inputs and compare measurements. Returns 0: trusted.
 * SG_E_MISMATCH, reported as "Measurement does not match, VM is not
 * trustworthy". Otherwise the first failure, reported in @err: a load's (as
 * sg_validation_load), SG_E_USAGE (no firmware, SEV-ES without vCPUs or
 * VMSAs, a kernel the firmware cannot measure, a firmware pin), SG_E_FORMAT
 * (the footer table, when the VMSAs are built from it) or SG_E_CRYPTO.
 */
SG_NODISCARD int sg_validation_attest(struct sg_validation *v, struct sg_error *err);

/*
 * After a successful attest: build the secret table and packet and, if the
 * request names output files, write them (0600). Fails closed.
 * = sg_validation_build_packet, then sg_validation_write_packet: a caller
 * that must record the release first (the audit log) calls the two itself.
 * Returns 0, or the failure either reports in @err.
 */
SG_NODISCARD int sg_validation_release(struct sg_validation *v, struct sg_error *err);
/*
 * Build the table and packet into the result (base64); no side effects, and
 * the keys are dropped once it is built. Returns 0 (also when the request
 * has no secrets), or reports in @err SG_E_INTERNAL (not attested, or built
 * twice), SG_E_USAGE (a bad or repeated secret argument, an empty secret
 * file, a table larger than the firmware's secret area), a secret file's
 * or data object's failure (SG_E_IO, SG_E_LIMIT, SG_E_TOKEN...), SG_E_NOMEM
 * or the keys' failure.
 */
SG_NODISCARD int sg_validation_build_packet(struct sg_validation *v, struct sg_error *err);
/*
 * Write the built packet to the request's header and payload files, both or
 * neither, durable on return; with SG_WRITE_NOSYNC the caller syncs them
 * (a batch makes a whole group of releases durable with one sg_fs_sync).
 * Returns 0 (also when there is nothing to write), or reports as
 * sg_file_write_all does (SG_E_IO).
 */
SG_NODISCARD int
sg_validation_write_packet(struct sg_validation *v, unsigned flags, struct sg_error *err);

/* What has been found so far: valid until sg_validation_free; never NULL. */
const struct sg_validate_result *sg_validation_result(const struct sg_validation *v);
