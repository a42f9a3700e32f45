/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * EFI GUIDs. sg_guid holds the 16 bytes as they sit in firmware and tables
 * (the EFI mixed-endian form, Python's UUID.bytes_le).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

#define SG_GUID_STR_LEN 36

struct sg_guid {
	uint8_t b[16];
};

/*
 * Parse the canonical 8-4-4-4-12 form (either case) into *@ret; nothing
 * else. Returns 0, or SG_E_FORMAT (no message: callers word it) with *@ret
 * untouched.
 */
SG_NODISCARD int sg_guid_parse(const char *s, struct sg_guid *ret);
/* Write the lowercase canonical form and a NUL (37 bytes). */
void sg_guid_format(const struct sg_guid *g, char out[SG_GUID_STR_LEN + 1]);
/* Whether @a and @b are the same 16 bytes. */
bool sg_guid_equal(const struct sg_guid *a, const struct sg_guid *b);

/* Well-known GUIDs (spec 3.1, 3.2, 5.2). */
extern const struct sg_guid SG_GUID_OVMF_FOOTER;
extern const struct sg_guid SG_GUID_SEV_ES_RESET_BLOCK;
extern const struct sg_guid SG_GUID_SEV_HASH_TABLE_AREA;
extern const struct sg_guid SG_GUID_SEV_SECRET_AREA;
extern const struct sg_guid SG_GUID_SEV_METADATA;
extern const struct sg_guid SG_GUID_HASHES_TABLE;
extern const struct sg_guid SG_GUID_HASHES_CMDLINE;
extern const struct sg_guid SG_GUID_HASHES_INITRD;
extern const struct sg_guid SG_GUID_HASHES_KERNEL;
extern const struct sg_guid SG_GUID_SECRET_TABLE;
extern const struct sg_guid SG_GUID_LUKS_KEY;
