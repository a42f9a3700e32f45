/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The OVMF secret table (spec 5.2): GUID 1e74f542 || u32 length, then
 * entries GUID || u32 (20 + len) || data, zero-padded. The library builds
 * tables of any size; front ends check them against the firmware's area.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/guid.h"
#include "util/error.h"
#include "util/secmem.h"

#define SG_SECRET_HEADER_LEN 20
#define SG_SECRET_ENTRY_HEADER_LEN 20
/*
 * The library's own bound on a table (sevctl tests 16 KiB tables); the
 * front ends also check it against the firmware's secret area.
 */
#define SG_SECRET_TABLE_MAX ((size_t)1 << 24)

enum sg_secret_pad {
	/* Pad to the next multiple of 16, nothing when aligned (sevctl; SB1-SB4). */
	SG_SECRET_PAD_ALIGN16,
	/* Always pad 1..16 bytes: 16 when already aligned (libvirt's tool). */
	SG_SECRET_PAD_LIBVIRT,
};

struct sg_secret {
	struct sg_guid guid;
	const uint8_t *data;
	size_t len;
};

/*
 * Resolve "luks-key" or a canonical GUID into *@ret: 0, or reports SG_E_USAGE
 * in @err with the reference's messages.
 */
SG_NODISCARD int
sg_secret_guid_parse(const char *alias_or_guid, struct sg_guid *ret, struct sg_error *err);

/*
 * Parse a plaintext table (as the guest's firmware does): entries point
 * into @data. Checks the table GUID, that the header length fits, and
 * every entry length; padding after the header's length must be zero.
 * Returns 0 and sets *@ret_n, or reports in @err SG_E_FORMAT (what does not
 * fit, and where) or SG_E_LIMIT (more than @max_entries entries).
 */
SG_NODISCARD int sg_secret_table_parse(const uint8_t *data, size_t len, struct sg_secret *entries,
				       size_t max_entries, size_t *ret_n, struct sg_error *err);

/*
 * Build the padded plaintext table into locked memory (*@ret). @ret_len is
 * the unpadded length (the header's field); the secmem's len is padded.
 * Returns 0, or reports in @err SG_E_USAGE (a GUID given twice),
 * SG_E_LIMIT (larger than SG_SECRET_TABLE_MAX) or SG_E_NOMEM.
 */
SG_NODISCARD int
sg_secret_table_build(const struct sg_secret *s, size_t n, enum sg_secret_pad pad,
		      struct sg_secmem **ret, size_t *ret_len, struct sg_error *err);
