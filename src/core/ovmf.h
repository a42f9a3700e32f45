/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The OVMF footer GUID table (spec 3.1): a table of GUIDed entries at the
 * end of the firmware image, walked backwards from the footer. Every
 * length is checked against what is left; nothing is read out of bounds.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guid.h"
#include "util/error.h"

#define SG_OVMF_MAX_ENTRIES 64
/* Bytes after the footer GUID: the reset-vector area. */
#define SG_OVMF_FOOTER_TAIL 32

struct sg_ovmf_entry {
	struct sg_guid guid;
	const uint8_t *data; /* points into the firmware buffer */
	size_t len;
	size_t offset; /* file offset of data */
};

struct sg_ovmf {
	struct sg_ovmf_entry entries[SG_OVMF_MAX_ENTRIES];
	size_t n;	     /* in walk order: the entry nearest the footer first */
	size_t table_len;    /* the footer's total length field */
	size_t table_offset; /* file offset of the first byte of the table */
};

/*
 * Parse the footer table of @fw (entries point into @fw). Returns 0 and
 * writes *@ret, or reports in @err SG_E_FORMAT (no footer GUID, a table
 * or entry length that does not fit) or SG_E_LIMIT (more than
 * SG_OVMF_MAX_ENTRIES entries); *@ret is written only on success.
 */
SG_NODISCARD int
sg_ovmf_parse(const uint8_t *fw, size_t len, struct sg_ovmf *ret, struct sg_error *err);

/*
 * The entry for @guid, or NULL. With duplicates, the one furthest from the
 * footer wins (as in the reference, whose dict the walk overwrites).
 */
const struct sg_ovmf_entry *sg_ovmf_find(const struct sg_ovmf *o, const struct sg_guid *guid);

/*
 * The SEV-ES AP reset address (entry 00f771de): the low 32 bits of its
 * data read as a little-endian integer, as the reference reads it. Returns
 * 0 and sets *@ret, or reports SG_E_FORMAT in @err (no such entry).
 */
SG_NODISCARD int sg_ovmf_reset_addr(const struct sg_ovmf *o, uint32_t *ret, struct sg_error *err);

/*
 * A (base, size) area entry: the kernel-hashes area (7255371f) or the
 * secret area (4c2eb361). Returns 1 and sets the outputs if the entry is
 * present and well formed, 0 if absent (outputs untouched), or reports
 * SG_E_FORMAT in @err if it is malformed.
 */
SG_NODISCARD int sg_ovmf_area(const struct sg_ovmf *o, const struct sg_guid *guid,
			      uint32_t *ret_base, uint32_t *ret_size, struct sg_error *err);

/* True when QEMU can place a kernel-hashes table: the area is present with a non-zero GPA and room. */
bool sg_ovmf_has_kernel_hashes(const struct sg_ovmf *o);

/* Human name of a known entry GUID ("sev-es-reset-block"), or NULL. */
const char *sg_ovmf_entry_name(const struct sg_guid *guid);
