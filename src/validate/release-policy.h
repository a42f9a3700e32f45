/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest owner's release policy: what must hold, beyond a matching
 * measurement, before a secret may go to a guest. Pure: it looks at the
 * platform the measurement vouches for and the attested result only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/measure.h"
#include "util/error.h"
#include "validate/validate.h"

#define SG_RELEASE_ALLOWED_MAX 64

struct sg_release_policy {
	uint32_t require_bits; /* policy bits that must be set (SG_POLICY_*) */
	bool have_min_api, have_min_build;
	uint8_t min_api_major, min_api_minor, min_build;
	bool allow_debug;  /* release even when NODBG is clear */
	bool destroy_keys; /* delete the guest's TIK/TEK once released */
	uint8_t allowed_firmware[SG_RELEASE_ALLOWED_MAX][SG_SHA256_LEN];
	size_t nallowed_firmware;
	uint8_t allowed_digests[SG_RELEASE_ALLOWED_MAX][SG_SHA256_LEN];
	size_t nallowed_digests;
};

/*
 * "nodbg,es,..." (commas or spaces) into policy bits (*@ret_bits): 0, or
 * reports SG_E_USAGE in @err naming a bad word.
 */
SG_NODISCARD int
sg_release_require_parse(const char *list, uint32_t *ret_bits, struct sg_error *err);
/*
 * "MAJOR.MINOR", each 0..255, into *@ret_major and *@ret_minor: 0, or
 * reports SG_E_USAGE in @err.
 */
SG_NODISCARD int sg_release_min_api_parse(const char *s, uint8_t *ret_major, uint8_t *ret_minor,
					  struct sg_error *err);
/*
 * Append one 64-hex-digit SHA-256 to @list (of *@n entries, incremented).
 * Returns 0, or reports SG_E_USAGE in @err naming @what (not 64 hex
 * digits, more than SG_RELEASE_ALLOWED_MAX entries) with @list untouched.
 */
SG_NODISCARD int sg_release_allow_add(uint8_t list[][SG_SHA256_LEN], size_t *n, const char *hex,
				      const char *what, struct sg_error *err);

/*
 * 0 when @p allows releasing to the guest described by @plat (the platform
 * the measurement vouched for) and @res (its attested inputs); else
 * reports SG_E_POLICY in @err with the first reason, one line.
 */
SG_NODISCARD int
sg_release_policy_check(const struct sg_release_policy *p, const struct sg_platform *plat,
			const struct sg_validate_result *res, struct sg_error *err);
