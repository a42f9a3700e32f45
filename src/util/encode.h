/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hex and base64 text forms. Decoders are strict and exact-length. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SG_B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Value of one hex digit (either case), or -1. */
int sg_hex_digit(char c);

/* Write 2*len lowercase hex digits and a NUL to @out. */
void sg_hex_encode(const uint8_t *in, size_t len, char *out);
/*
 * Decode exactly @len bytes from @hex (2*len digits, either case). Returns
 * 0, or reports SG_E_FORMAT in @err (wrong length, a non-hex digit) with @out
 * untouched.
 */
SG_NODISCARD int sg_hex_decode(const char *hex, uint8_t *out, size_t len, struct sg_error *err);

/* Write the padded base64 of @in and a NUL; @out holds SG_B64_ENCODED_LEN(len)+1. */
void sg_base64_encode(const uint8_t *in, size_t len, char *out);
/*
 * Strict RFC 4648 decode: the standard alphabet, '=' padding required and
 * only at the end, no whitespace, and zero unused bits. Decodes into @out
 * (room for @cap bytes) and reports the length. @what names the value in
 * the error message.
 *
 * Returns 0 and sets *@ret_len, or reports SG_E_FORMAT in @err (a length
 * not a multiple of 4, more than @cap bytes, a bad character, non-zero
 * trailing bits) with @out untouched.
 */
SG_NODISCARD int sg_base64_decode(const char *in, uint8_t *out, size_t cap, size_t *ret_len,
				  const char *what, struct sg_error *err);
/*
 * sg_base64_decode for a value the user typed (an option's argument): the
 * same messages, reported as SG_E_USAGE.
 */
SG_NODISCARD int sg_base64_decode_arg(const char *in, uint8_t *out, size_t cap, size_t *ret_len,
				      const char *what, struct sg_error *err);
