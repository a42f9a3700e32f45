/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "measure.h"

#include <string.h>

#include "util/cursor.h"

void
sg_measure_msg(const struct sg_platform *p, const uint8_t ld[SG_SHA256_LEN],
	       const uint8_t mnonce[SG_MNONCE_LEN], uint8_t out[SG_MEASURE_MSG_LEN])
{
	out[0] = 0x04; /* LAUNCH_MEASURE context byte */
	out[1] = p->api_major;
	out[2] = p->api_minor;
	out[3] = p->build_id;
	sg_put_u32le(out + 4, p->policy);
	memcpy(out + 8, ld, SG_SHA256_LEN);
	memcpy(out + 40, mnonce, SG_MNONCE_LEN);
}

int
sg_measure_verify(struct sg_key *tik, const uint8_t msg[SG_MEASURE_MSG_LEN],
		  const uint8_t reported[SG_MEASURE_LEN], struct sg_error *err)
{
	struct sg_iov iov = { msg, SG_MEASURE_MSG_LEN };

	return sg_key_hmac_verify(tik, &iov, 1, reported, err);
}

int
sg_measure_compute(struct sg_key *tik, const uint8_t msg[SG_MEASURE_MSG_LEN],
		   uint8_t out[SG_MEASURE_LEN], struct sg_error *err)
{
	struct sg_iov iov = { msg, SG_MEASURE_MSG_LEN };

	return sg_key_hmac_sha256(tik, &iov, 1, out, err);
}
