/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QEMU's kernel-hashes table (spec 3.2): cmdline, initrd and kernel
 * SHA-256 entries in a u16-length GUID table, padded to 176 bytes.
 */
#pragma once

#include <stdint.h>

#include "core/crypto.h"
#include "util/error.h"

#define SG_HASHES_TABLE_LEN 168
#define SG_HASHES_TABLE_PADDED_LEN 176

struct sg_hashes {
	uint8_t cmdline[SG_SHA256_LEN]; /* SHA-256 of the cmdline bytes plus one NUL */
	uint8_t initrd[SG_SHA256_LEN];	/* SHA-256 of the initrd file (empty if none) */
	uint8_t kernel[SG_SHA256_LEN];	/* SHA-256 of the kernel file */
};

/*
 * SHA-256 of @cmdline (may be NULL: the empty string) followed by one NUL,
 * as QEMU hashes it: 0, or SG_E_CRYPTO in @err.
 */
SG_NODISCARD int sg_hashes_cmdline_sha256(struct sg_crypto *c, const char *cmdline,
					  uint8_t out[SG_SHA256_LEN], struct sg_error *err);

/* The SHA-256 of empty data: the initrd entry when there is no initrd. */
extern const uint8_t SG_SHA256_EMPTY[SG_SHA256_LEN];

/* Serialise the padded table. */
void sg_hashes_table_build(const struct sg_hashes *h, uint8_t out[SG_HASHES_TABLE_PADDED_LEN]);
