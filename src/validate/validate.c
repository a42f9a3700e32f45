/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "validate.h"

#include <stdlib.h>
#include <string.h>

#include "core/digest.h"
#include "core/hashes.h"
#include "core/ovmf.h"
#include "core/policy.h"
#include "key/key.h"
#include "util/debug.h"
#include "util/encode.h"
#include "util/fileio.h"
#include "validate/fwcache.h"

struct sg_validation {
	struct sg_crypto *crypto; /* borrowed */
	const struct sg_validate_req *req;
	struct sg_file *firmware;     /* owned, unless it came from the cache */
	const struct sg_fw_entry *fw; /* cache entry (a reference), or NULL */
	struct sg_key *tik, *tek;
	struct sg_hashes hashes;
	bool have_kernel;
	uint8_t vmsa_bsp[SG_VMSA_SIZE], vmsa_ap[SG_VMSA_SIZE];
	bool have_vmsa_bsp, have_vmsa_ap;
	bool attested;
	/* The footer table, once it parsed (a failure is not kept: the next caller parses again). */
	bool ovmf_parsed;
	struct sg_ovmf ovmf;
	struct sg_validate_result res;
};

static void
debug_hex(const char *label, const uint8_t *p, size_t len)
{
	char hex[2 * 256 + 1];

	if (!sg_debug_enabled() || len > 256)
		return;
	sg_hex_encode(p, len, hex);
	sg_debug("%s: %s", label, hex);
}

int
sg_validation_new(struct sg_crypto *c, const struct sg_validate_req *req,
		  struct sg_validation **ret, struct sg_error *err)
{
	struct sg_validation *v = calloc(1, sizeof(*v));

	if (!v)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	v->crypto = c;
	v->req = req;
	*ret = v;
	return 0;
}

void
sg_validation_free(struct sg_validation *v)
{
	if (!v)
		return;
	if (v->fw)
		sg_fwcache_put(v->req->fwcache, v->fw);
	else
		sg_file_free(v->firmware);
	sg_key_free(v->tik);
	sg_key_free(v->tek);
	free(v->res.secret_header_b64);
	free(v->res.secret_payload_b64);
	free(v);
}

const struct sg_validate_result *
sg_validation_result(const struct sg_validation *v)
{
	return &v->res;
}

/*
 * Parse the firmware's footer table once it parses; a table that does not
 * is parsed (and reported in @err) again by each caller, which costs a
 * failed scan and gives every caller the same answer, without keeping a
 * copy of the error.
 */
static int
ovmf_table(struct sg_validation *v, const struct sg_ovmf **ret, struct sg_error *err)
{
	int r;

	if (!v->ovmf_parsed) {
		if ((r = sg_ovmf_parse(v->firmware->data, v->firmware->len, &v->ovmf, err)) < 0)
			return r;
		v->ovmf_parsed = true;
	}
	*ret = &v->ovmf;
	return 0;
}

static int
hash_file(struct sg_validation *v, const char *path, const char *what, struct sg_input_digest *ret,
	  struct sg_error *err)
{
	_cleanup_(sg_file_freep) struct sg_file *f = NULL;
	int r;

	if (v->req->fwcache)
		r = sg_fwcache_file_sha256(v->req->fwcache, path, what, ret->sha256, err);
	else if ((r = sg_file_map(path, SG_FILE_MAX, what, &f, err)) == 0)
		r = sg_sha256(v->crypto, f->data, f->len, ret->sha256, err);
	if (r < 0)
		return r;
	ret->present = true;
	ret->hashed = true;
	ret->path = path;
	return 0;
}

/*
 * A kernel or initrd: hash the file, and check it against its pin when it
 * has one; a pin alone stands for the file (the hashes table needs only
 * the hash).
 */
static int
load_pinned(struct sg_validation *v, const char *path, const struct sg_pin *pin, const char *what,
	    struct sg_input_digest *ret, struct sg_error *err)
{
	int r;

	if (!path) {
		memcpy(ret->sha256, pin->sha256, SG_SHA256_LEN);
		ret->present = true;
		ret->hashed = true;
		ret->path = NULL;
		return 0;
	}
	if ((r = hash_file(v, path, what, ret, err)) < 0)
		return r;
	if (pin->set && !sg_memeq_consttime(pin->sha256, ret->sha256, SG_SHA256_LEN))
		return sg_error_set(err, SG_E_USAGE, "%s '%s' does not match its pinned sha256",
				    what, path);
	return 0;
}

static int
load_vmsa_file(const char *path, uint8_t page[SG_VMSA_SIZE], struct sg_error *err)
{
	_cleanup_(sg_file_freep) struct sg_file *f = NULL;
	int r;

	if ((r = sg_file_map(path, SG_FILE_MAX, "VMSA", &f, err)) < 0)
		return r;
	if (f->len != SG_VMSA_SIZE)
		return sg_error_set(err, SG_E_USAGE, "VMSA must be 4096 bytes in length");
	memcpy(page, f->data, SG_VMSA_SIZE);
	return 0;
}

/*
 * Load whatever the request names that is not loaded yet: called once for
 * what the command line gave, and again after the online step has filled
 * in values from libvirt. Each input is loaded once.
 */
static int
load_inputs(struct sg_validation *v, struct sg_error *err)
{
	const struct sg_validate_req *q = v->req;
	struct sg_validate_result *res = &v->res;
	int r = 0;

	/* The reference's order (firmware, keys, kernel, initrd, cmdline, VMSAs), so the same bad input fails the same way. */
	if (q->firmware && !v->firmware) {
		if (q->fwcache) {
			if ((r = sg_fwcache_get(q->fwcache, q->firmware, &v->fw, err)) < 0)
				return r;
			v->firmware = v->fw->file;
		} else if ((r = sg_file_map(q->firmware, SG_FILE_MAX, "firmware", &v->firmware,
					    err)) < 0) {
			return r;
		}
		res->firmware.present = true;
		res->firmware.path = q->firmware;
	}

	if (!q->digest_only && !v->tik) {
		if (q->tk)
			r = sg_key_open_pair_ex(v->crypto, q->tk, &q->key_opts, &v->tik, &v->tek,
						err);
		else if ((r = sg_key_open_ex(v->crypto, q->tik, SG_KEY_TIK, &q->key_opts, &v->tik,
					     err)) == 0)
			r = sg_key_open_ex(v->crypto, q->tek, SG_KEY_TEK, &q->key_opts, &v->tek,
					   err);
		if (r < 0)
			return r;
		if (sg_key_exportable(v->tik) || sg_key_exportable(v->tek)) {
			snprintf(res->exportable_key_buf, sizeof(res->exportable_key_buf), "%s",
				 sg_key_describe(sg_key_exportable(v->tik) ? v->tik : v->tek));
			res->exportable_key = res->exportable_key_buf;
		}
		const char *ftik = sg_key_fingerprint(v->tik), *ftek = sg_key_fingerprint(v->tek);

		sg_debug("TIK: %s (%s key, sha256 %s)", sg_key_describe(v->tik),
			 sg_key_backend(v->tik), ftik ? ftik : "n/a");
		sg_debug("TEK: %s (%s key, sha256 %s)", sg_key_describe(v->tek),
			 sg_key_backend(v->tek), ftek ? ftek : "n/a");
	}

	if ((q->kernel || q->kernel_pin.set) && !v->have_kernel) {
		if ((r = load_pinned(v, q->kernel, &q->kernel_pin, "kernel", &res->kernel, err)) <
		    0)
			return r;
		memcpy(v->hashes.kernel, res->kernel.sha256, SG_SHA256_LEN);
		v->have_kernel = true;
	}
	if ((q->initrd || q->initrd_pin.set) && !res->initrd.present) {
		if ((r = load_pinned(v, q->initrd, &q->initrd_pin, "initrd", &res->initrd, err)) <
		    0)
			return r;
		memcpy(v->hashes.initrd, res->initrd.sha256, SG_SHA256_LEN);
	}
	if (q->cmdline && strlen(q->cmdline) > SG_CMDLINE_MAX)
		return sg_error_set(err, SG_E_USAGE, "--cmdline is longer than %zu bytes",
				    SG_CMDLINE_MAX);

	if (q->vmsa_cpu0 && !v->have_vmsa_bsp) {
		if ((r = load_vmsa_file(q->vmsa_cpu0, v->vmsa_bsp, err)) < 0)
			return r;
		v->have_vmsa_bsp = true;
	}
	if (q->vmsa_cpu1 && !v->have_vmsa_ap) {
		if ((r = load_vmsa_file(q->vmsa_cpu1, v->vmsa_ap, err)) < 0)
			return r;
		v->have_vmsa_ap = true;
	}
	return 0;
}

int
sg_validation_load(struct sg_validation *v, struct sg_error *err)
{
	return load_inputs(v, err);
}

/* The initrd and cmdline entries, as QEMU fills them when they are absent. */
static int
finish_hashes(struct sg_validation *v, struct sg_error *err)
{
	const struct sg_validate_req *q = v->req;
	int r;

	if (!v->res.initrd.present)
		memcpy(v->hashes.initrd, SG_SHA256_EMPTY, SG_SHA256_LEN);
	if ((r = sg_hashes_cmdline_sha256(v->crypto, q->cmdline, v->hashes.cmdline, err)) < 0)
		return r;
	if (v->have_kernel) {
		v->res.have_cmdline = true;
		memcpy(v->res.cmdline_sha256, v->hashes.cmdline, SG_SHA256_LEN);
	}
	return 0;
}

/* SEV-ES pages from a CPU signature: the BSP needs nothing else, the APs the reset block. */
static int
build_vmsas(struct sg_validation *v, struct sg_error *err)
{
	const struct sg_validate_req *q = v->req;
	struct sg_vmsa_params p = {
		.cpu_sig = q->cpu_sig,
		.profile = q->vmsa_profile,
		.sev_features = q->sev_features,
	};
	const struct sg_ovmf *o;
	uint32_t reset;
	int r;

	sg_vmsa_build_bsp(&p, v->vmsa_bsp);
	v->have_vmsa_bsp = true;
	if (q->num_cpus >= 2 || q->num_cpus == 0) {
		if ((r = ovmf_table(v, &o, err)) < 0 ||
		    (r = sg_ovmf_reset_addr(o, &reset, err)) < 0)
			return r;
		sg_vmsa_build_ap(&p, reset, v->vmsa_ap);
		v->have_vmsa_ap = true;
	}
	return 0;
}

static int
check_kernel_hashes(struct sg_validation *v, struct sg_error *err)
{
	const struct sg_ovmf *o = NULL;

	if (!v->have_kernel)
		return 0;
	if (ovmf_table(v, &o, NULL) == 0 && sg_ovmf_has_kernel_hashes(o))
		return 0;
	v->res.firmware_lacks_kernel_hashes = true;
	if (v->req->kernel_check == SG_KERNEL_CHECK_STRICT)
		return sg_error_set(err, SG_E_USAGE,
				    "firmware has no kernel-hashes table: it cannot measure "
				    "--kernel/--initrd/--cmdline");
	return 0;
}

int
sg_validation_attest(struct sg_validation *v, struct sg_error *err)
{
	const struct sg_validate_req *q = v->req;
	struct sg_validate_result *res = &v->res;
	bool es = sg_policy_is_es(q->platform.policy);
	uint8_t table[SG_HASHES_TABLE_PADDED_LEN], msg[SG_MEASURE_MSG_LEN];
	struct sg_launch l = { 0 };
	int r;

	if ((r = load_inputs(v, err)) < 0 || (r = finish_hashes(v, err)) < 0)
		return r;
	if (!v->firmware)
		return sg_error_set(err, SG_E_USAGE, "no firmware to measure");
	if (q->have_cpu_sig && es && !v->have_vmsa_bsp && (r = build_vmsas(v, err)) < 0)
		return r;
	if ((r = check_kernel_hashes(v, err)) < 0)
		return r;

	l.firmware = v->firmware->data;
	l.firmware_len = v->firmware->len;
	if (v->fw)
		l.firmware_state = v->fw->state;
	if (v->have_kernel) {
		sg_hashes_table_build(&v->hashes, table);
		debug_hex("Kernel(sha256)", v->hashes.kernel, SG_SHA256_LEN);
		debug_hex("Initrd(sha256)", v->hashes.initrd, SG_SHA256_LEN);
		debug_hex("Cmdline(sha256)", v->hashes.cmdline, SG_SHA256_LEN);
		debug_hex("Table(hex)", table, sizeof(table));
		l.hashes_table = table;
	}
	if (es) {
		if (q->num_cpus == 0)
			return sg_error_set(err, SG_E_USAGE,
					    "Number of virtual CPUs must be specified for SEV-ES "
					    "domain");
		if (!v->have_vmsa_bsp)
			return sg_error_set(err, SG_E_USAGE,
					    "VMSA for boot CPU required for SEV-ES domain");
		if (q->num_cpus > 1 && !v->have_vmsa_ap)
			return sg_error_set(err, SG_E_USAGE,
					    "VMSA for additional CPUs required for SEV-ES domain "
					    "with SMP");
		l.vcpus = q->num_cpus;
		l.vmsa_bsp = v->vmsa_bsp;
		l.vmsa_ap = v->have_vmsa_ap ? v->vmsa_ap : NULL;
		res->vcpus = q->num_cpus;
	}
	if (v->fw)
		r = sg_fwcache_digest(q->fwcache, v->fw, l.hashes_table, l.vcpus, l.vmsa_bsp,
				      l.vmsa_ap, res->launch_digest, err);
	else
		r = sg_launch_digest(v->crypto, &l, res->launch_digest, res->firmware.sha256, err);
	if (r < 0)
		return r;
	if (v->fw)
		memcpy(res->firmware.sha256, v->fw->sha256, SG_SHA256_LEN);
	res->firmware.hashed = true;
	if (q->firmware_pin.set &&
	    !sg_memeq_consttime(q->firmware_pin.sha256, res->firmware.sha256, SG_SHA256_LEN))
		return sg_error_set(err, SG_E_USAGE,
				    "firmware '%s' does not match its pinned sha256", q->firmware);
	res->have_launch_digest = true;
	debug_hex("Firmware(sha256)", res->firmware.sha256, SG_SHA256_LEN);
	debug_hex("Measured-data(sha256)", res->launch_digest, SG_SHA256_LEN);
	if (q->digest_only)
		return 0;

	sg_measure_msg(&q->platform, res->launch_digest, q->measurement + SG_MEASURE_LEN, msg);
	debug_hex("Measured-msg(hex)", msg, sizeof(msg));
	debug_hex("Measurement reported(hex)", q->measurement, SG_MEASURE_LEN);
	r = sg_measure_verify(v->tik, msg, q->measurement, err);
	if (r == SG_E_MISMATCH)
		return sg_error_set(err, SG_E_MISMATCH,
				    "Measurement does not match, VM is not trustworthy");
	if (r < 0)
		return r;
	v->attested = true;
	return 0;
}

/* Refuse a table the firmware's secret area cannot hold, when the firmware says how big it is. */
static int
check_secret_area(struct sg_validation *v, size_t table_len, struct sg_error *err)
{
	const struct sg_ovmf *o;
	uint32_t base, size;
	int r;

	if (ovmf_table(v, &o, NULL) < 0)
		return 0;
	r = sg_ovmf_area(o, &SG_GUID_SEV_SECRET_AREA, &base, &size, NULL);
	if (r != 1 || size == 0)
		return 0;
	if (table_len > size)
		return sg_error_set(err, SG_E_USAGE,
				    "secret table of %zu bytes does not fit the firmware's %u-byte "
				    "secret area",
				    table_len, size);
	return 0;
}

int
sg_validation_write_packet(struct sg_validation *v, unsigned flags, struct sg_error *err)
{
	const struct sg_validate_req *q = v->req;
	const struct sg_validate_result *res = &v->res;

	if (!q->secret_header || !res->secret_header_b64)
		return 0;
	struct sg_out_file outs[] = {
		{ q->secret_header, res->secret_header_b64, strlen(res->secret_header_b64),
		  "secret header" },
		{ q->secret_payload, res->secret_payload_b64, strlen(res->secret_payload_b64),
		  "secret payload" },
	};

	return sg_file_write_all(outs, SG_ELEMENTSOF(outs), 0600, flags, err);
}

int
sg_validation_release(struct sg_validation *v, struct sg_error *err)
{
	int r = sg_validation_build_packet(v, err);

	return r < 0 ? r : sg_validation_write_packet(v, 0, err);
}

int
sg_validation_build_packet(struct sg_validation *v, struct sg_error *err)
{
	const struct sg_validate_req *q = v->req;
	struct sg_validate_result *res = &v->res;
	struct sg_secmem *files[SG_MAX_SECRETS] = { 0 };
	struct sg_secret secrets[SG_MAX_SECRETS];
	_cleanup_(sg_secmem_freep) struct sg_secmem *table = NULL;
	_cleanup_(sg_packet_freep) struct sg_packet *pkt = NULL;
	char header64[SG_B64_ENCODED_LEN(SG_PACKET_HEADER_LEN) + 1];
	uint8_t iv[SG_PACKET_IV_LEN];
	size_t n = 0, unpadded;
	int r = 0;

	if (!v->attested)
		return sg_error_set(err, SG_E_INTERNAL, "secret release before attestation");
	if (q->nsecrets == 0)
		return 0;
	if (!v->tik || !v->tek)
		return sg_error_set(err, SG_E_INTERNAL, "secret packet built twice");

	for (n = 0; n < q->nsecrets; n++) {
		const char *path = q->secrets[n].path;

		if (q->secrets[n].invalid) {
			r = sg_error_set(err, SG_E_USAGE, "%s", q->secrets[n].invalid);
			goto out;
		}
		secrets[n].guid = q->secrets[n].guid;
		for (size_t j = 0; j < n; j++)
			if (sg_guid_equal(&secrets[j].guid, &secrets[n].guid)) {
				char g[SG_GUID_STR_LEN + 1];

				sg_guid_format(&secrets[n].guid, g);
				r = sg_error_set(err, SG_E_USAGE,
						 "Secret for GUID %s already loaded", g);
				goto out;
			}
		/* A pkcs11: URI names a token data object: the secret never touches disk. */
		if (!strncmp(path, "pkcs11:", 7))
			r = sg_key_read_data(path, &q->key_opts, &files[n], err);
		else if ((r = sg_file_read_secret_checked(path, SG_SECRET_FILE_MAX, "secret",
							  q->secret_check, q->secret_check_ctx,
							  &files[n], err)) == 0 &&
			 files[n]->len == 0)
			/* An empty file is a mistake (a failed copy, a truncation), not a secret. */
			r = sg_error_set(err, SG_E_USAGE, "secret file '%s' is empty", path);
		if (r < 0)
			goto out;
		secrets[n].data = files[n]->data;
		secrets[n].len = files[n]->len;
	}

	if ((r = sg_secret_table_build(secrets, n, q->secret_pad, &table, &unpadded, err)) < 0 ||
	    (r = check_secret_area(v, table->len, err)) < 0)
		goto out;
	sg_debug("Secret table: %zu entries, %zu bytes (%zu padded)", n, unpadded, table->len);

	if (q->have_secret_iv)
		memcpy(iv, q->secret_iv, sizeof(iv));
	else if ((r = sg_random_bytes(iv, sizeof(iv), err)) < 0)
		goto out;
	if ((r = sg_packet_build(v->tik, v->tek, iv, table->data, table->len, q->measurement, &pkt,
				 err)) < 0)
		goto out;

	sg_base64_encode(pkt->header, SG_PACKET_HEADER_LEN, header64);
	res->secret_header_b64 = strdup(header64);
	res->secret_payload_b64 = malloc(SG_B64_ENCODED_LEN(pkt->payload_len) + 1);
	if (!res->secret_header_b64 || !res->secret_payload_b64) {
		r = sg_error_set(err, SG_E_NOMEM, "out of memory");
		goto out;
	}
	sg_base64_encode(pkt->payload, pkt->payload_len, res->secret_payload_b64);
	sg_debug("Header: %s (%d bytes)", header64, SG_PACKET_HEADER_LEN);
	sg_debug("Secret: %zu bytes of ciphertext", pkt->payload_len);

	for (size_t i = 0; i < n; i++) {
		res->secrets[i].guid = secrets[i].guid;
		res->secrets[i].length = secrets[i].len;
	}
	res->nsecrets = n;
	/*
	 * The keys have done their work: dropped now, so a guest whose release
	 * waits for its batch group holds no key material meanwhile.
	 */
	sg_key_free(v->tik);
	sg_key_free(v->tek);
	v->tik = v->tek = NULL;
out:
	for (size_t i = 0; i < SG_MAX_SECRETS; i++)
		sg_secmem_free(files[i]);
	return r;
}
