/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The launch digest GCTX.LD (spec 3): SHA-256 over the firmware, the
 * kernel-hashes table if any, and for SEV-ES the BSP VMSA page then
 * (vcpus - 1) AP pages. Streamed: nothing is concatenated in memory.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/crypto.h"
#include "core/hashes.h"
#include "core/vmsa.h"

/* Most vCPUs a SEV-ES guest can have (KVM_MAX_VCPUS on x86 is far higher; QEMU's SEV-ES limit is 255+). */
#define SG_MAX_VCPUS 4096

struct sg_launch {
	const uint8_t *firmware;
	size_t firmware_len;
	const uint8_t *hashes_table; /* SG_HASHES_TABLE_PADDED_LEN bytes, or NULL */
	unsigned vcpus;		     /* 0: plain SEV, no VMSAs */
	const uint8_t *vmsa_bsp;     /* SG_VMSA_SIZE bytes; required when vcpus >= 1 */
	const uint8_t *vmsa_ap;	     /* SG_VMSA_SIZE bytes; required when vcpus >= 2 */
	/* Optional: SHA-256 state after the firmware (from a cache); then firmware is not read. */
	const struct sg_sha256 *firmware_state;
};

/*
 * Compute LD into @out. If @ret_fw_sha256 is not NULL it also receives the
 * SHA-256 of the firmware alone, from the same single pass over it.
 * Returns 0, or reports in @err SG_E_USAGE (more than SG_MAX_VCPUS vCPUs),
 * SG_E_INTERNAL (a VMSA page missing for @l->vcpus), SG_E_CRYPTO or
 * SG_E_NOMEM; @out is written only on success.
 */
SG_NODISCARD int
sg_launch_digest(struct sg_crypto *c, const struct sg_launch *l, uint8_t out[SG_SHA256_LEN],
		 uint8_t *ret_fw_sha256, struct sg_error *err);
