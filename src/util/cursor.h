/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bounded little-endian reader for untrusted bytes (our sshbuf). Every read
 * checks the remaining length first; a failed read returns SG_E_TRUNCATED
 * and leaves the cursor where it was. Length checks are subtractions, so
 * they cannot overflow.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct sg_cur {
	const uint8_t *base;
	size_t len;
	size_t pos;
};

/* Start a cursor over the @len bytes at @data (borrowed, not copied). */
void sg_cur_init(struct sg_cur *c, const void *data, size_t len);
/* Bytes left between the position and the end. */
size_t sg_cur_remaining(const struct sg_cur *c);

/*
 * Read one little-endian integer into *@ret and advance: 0, or SG_E_TRUNCATED
 * (no message: the caller knows what it was reading) with nothing moved or
 * written.
 */
SG_NODISCARD int sg_cur_u8(struct sg_cur *c, uint8_t *ret);
SG_NODISCARD int sg_cur_u16le(struct sg_cur *c, uint16_t *ret);
SG_NODISCARD int sg_cur_u32le(struct sg_cur *c, uint32_t *ret);
SG_NODISCARD int sg_cur_u64le(struct sg_cur *c, uint64_t *ret);
/*
 * Point *@ret at the next @n bytes and advance past them (no copy): 0, or
 * SG_E_TRUNCATED with nothing moved or written.
 */
SG_NODISCARD int sg_cur_bytes(struct sg_cur *c, size_t n, const uint8_t **ret);
/*
 * Copy the next 16 bytes (a GUID in its on-disk, mixed-endian form): 0, or
 * SG_E_TRUNCATED with nothing moved or written.
 */
SG_NODISCARD int sg_cur_guid(struct sg_cur *c, uint8_t ret[16]);
/*
 * A new cursor in *@ret over [off, off+len) of @c's whole buffer; @c is not
 * moved. 0, or SG_E_TRUNCATED when the range is not inside the buffer.
 */
SG_NODISCARD int sg_cur_sub(const struct sg_cur *c, size_t off, size_t len, struct sg_cur *ret);
/* Move to absolute offset @off: 0, or SG_E_TRUNCATED (@off > len, not moved). */
SG_NODISCARD int sg_cur_seek(struct sg_cur *c, size_t off);

/* Little-endian stores into a caller-owned buffer of known size. */
void sg_put_u16le(uint8_t *p, uint16_t v);
void sg_put_u32le(uint8_t *p, uint32_t v);
void sg_put_u64le(uint8_t *p, uint64_t v);
uint16_t sg_get_u16le(const uint8_t *p);
uint32_t sg_get_u32le(const uint8_t *p);
uint64_t sg_get_u64le(const uint8_t *p);
