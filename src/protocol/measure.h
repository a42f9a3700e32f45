/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * LAUNCH_MEASURE (spec 2): measurement = HMAC-SHA256(TIK, 0x04 || api
 * major || api minor || build || policy_le32 || LD || MNONCE). The host
 * reports measurement || MNONCE, 48 bytes.
 */
#pragma once

#include <stdint.h>

#include "core/crypto.h"
#include "key/key.h"

#define SG_MEASURE_MSG_LEN 56
#define SG_MEASURE_LEN 32
#define SG_MNONCE_LEN 16
#define SG_MEASURE_BLOB_LEN (SG_MEASURE_LEN + SG_MNONCE_LEN)

struct sg_platform {
	uint8_t api_major, api_minor, build_id;
	uint32_t policy;
};

/* The 56-byte message the TIK's HMAC covers, from the platform, LD and MNONCE. */
void sg_measure_msg(const struct sg_platform *p, const uint8_t ld[SG_SHA256_LEN],
		    const uint8_t mnonce[SG_MNONCE_LEN], uint8_t out[SG_MEASURE_MSG_LEN]);

/*
 * 0 when the TIK's HMAC over @msg equals @reported; SG_E_MISMATCH when it
 * does not (no message: the caller words the verdict); or the key's failure
 * (SG_E_KEY, SG_E_TOKEN, SG_E_CRYPTO) reported in @err.
 */
SG_NODISCARD int sg_measure_verify(struct sg_key *tik, const uint8_t msg[SG_MEASURE_MSG_LEN],
				   const uint8_t reported[SG_MEASURE_LEN], struct sg_error *err);

/*
 * The expected measurement into @out (for building a blob, as a simulated
 * host does): 0, or the key's failure reported in @err.
 */
SG_NODISCARD int sg_measure_compute(struct sg_key *tik, const uint8_t msg[SG_MEASURE_MSG_LEN],
				    uint8_t out[SG_MEASURE_LEN], struct sg_error *err);
