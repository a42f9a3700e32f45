/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "digest.h"

/*
 * Feed the firmware in large slices: one EVP call per MiB keeps the call
 * overhead invisible while the source pages stream through the cache.
 */
#define FEED_CHUNK ((size_t)1 << 20)

int
sg_launch_digest(struct sg_crypto *c, const struct sg_launch *l, uint8_t out[SG_SHA256_LEN],
		 uint8_t *ret_fw_sha256, struct sg_error *err)
{
	_cleanup_(sg_sha256_freep) struct sg_sha256 *h = NULL;
	int r;

	if (l->vcpus > SG_MAX_VCPUS)
		return sg_error_set(err, SG_E_USAGE, "%u vCPUs is more than the limit of %d",
				    l->vcpus, SG_MAX_VCPUS);
	if ((l->vcpus >= 1 && !l->vmsa_bsp) || (l->vcpus >= 2 && !l->vmsa_ap))
		return sg_error_set(err, SG_E_INTERNAL, "launch digest: VMSA page missing");
	if (l->firmware_state) {
		/* The caller hashed this firmware before: continue from its state. */
		if ((r = sg_sha256_dup(l->firmware_state, &h, err)) < 0)
			return r;
	} else if ((r = sg_sha256_new(c, &h, err)) < 0) {
		return r;
	}
	for (size_t off = 0; !l->firmware_state && off < l->firmware_len; off += FEED_CHUNK) {
		size_t n = l->firmware_len - off < FEED_CHUNK ? l->firmware_len - off : FEED_CHUNK;

		if ((r = sg_sha256_update(h, l->firmware + off, n, err)) < 0)
			return r;
	}
	if (ret_fw_sha256) {
		_cleanup_(sg_sha256_freep) struct sg_sha256 *fw = NULL;

		if ((r = sg_sha256_dup(h, &fw, err)) < 0 ||
		    (r = sg_sha256_final(fw, ret_fw_sha256, err)) < 0)
			return r;
	}
	if (l->hashes_table &&
	    (r = sg_sha256_update(h, l->hashes_table, SG_HASHES_TABLE_PADDED_LEN, err)) < 0)
		return r;
	if (l->vcpus >= 1 && (r = sg_sha256_update(h, l->vmsa_bsp, SG_VMSA_SIZE, err)) < 0)
		return r;
	for (unsigned i = 1; i < l->vcpus; i++)
		if ((r = sg_sha256_update(h, l->vmsa_ap, SG_VMSA_SIZE, err)) < 0)
			return r;
	return sg_sha256_final(h, out, err);
}
