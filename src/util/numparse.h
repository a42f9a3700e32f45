/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "error.h"

/*
 * Parse all of @s as an unsigned integer: decimal digits, or "0x"/"0X"
 * followed by hex digits. No sign, space, '_' or empty string. The value
 * must be <= @max. Returns 0 and sets *@ret, or SG_E_USAGE with *@ret
 * untouched; sg_parse_uint reports no message, sg_parse_uint_err reports
 * one in @err naming @what (the option).
 */
SG_NODISCARD int sg_parse_uint(const char *s, uint64_t max, const char *what, uint64_t *ret);
SG_NODISCARD int sg_parse_uint_err(const char *s, uint64_t max, const char *what, uint64_t *ret,
				   struct sg_error *err);
/*
 * sg_parse_uint_err, reporting @code (a negative SG_E_*) instead of
 * SG_E_USAGE, with the same messages: for a caller whose malformed number
 * is another class of failure (a YAML document's SG_E_FORMAT). Returns 0 and
 * sets *@ret, or @code with *@ret untouched.
 */
SG_NODISCARD int sg_parse_uint_code(const char *s, uint64_t max, const char *what, int code,
				    uint64_t *ret, struct sg_error *err);
