/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * LAUNCH_SECRET packet (spec 5.3): header = flags u32 || IV || MAC, the
 * payload is AES-128-CTR(TEK, IV) of the padded table, and the MAC is
 * HMAC-SHA256(TIK, 0x01 || flags || IV || guest_len || trans_len ||
 * ciphertext || measurement), binding the secret to this launch.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "protocol/measure.h"
#include "key/key.h"
#include "util/cleanup.h"
#include "util/secmem.h"

#define SG_PACKET_HEADER_LEN 52
#define SG_PACKET_IV_LEN 16

struct sg_packet {
	uint8_t header[SG_PACKET_HEADER_LEN];
	uint8_t *payload; /* ciphertext; not secret */
	size_t payload_len;
};

/*
 * Build the packet for the padded @table (a multiple of 16 bytes) into
 * *@ret. Returns 0, or reports in @err SG_E_INTERNAL (@table_len not
 * padded), SG_E_NOMEM or the keys' failure (SG_E_KEY, SG_E_TOKEN,
 * SG_E_CRYPTO); *@ret is written only on success.
 */
SG_NODISCARD int
sg_packet_build(struct sg_key *tik, struct sg_key *tek, const uint8_t iv[SG_PACKET_IV_LEN],
		const uint8_t *table, size_t table_len, const uint8_t measurement[SG_MEASURE_LEN],
		struct sg_packet **ret, struct sg_error *err);

/*
 * Check a packet's MAC and decrypt it: what the PSP does. Returns 0 with
 * the plaintext table in *@ret_table, or reports in @err SG_E_FORMAT (a
 * header or payload of the wrong size, unknown flags), SG_E_MISMATCH (the
 * MAC does not verify), SG_E_NOMEM or the keys' failure.
 */
SG_NODISCARD int sg_packet_open(struct sg_key *tik, struct sg_key *tek, const uint8_t *header,
				size_t header_len, const uint8_t *payload, size_t payload_len,
				const uint8_t measurement[SG_MEASURE_LEN],
				struct sg_secmem **ret_table, struct sg_error *err);

/* Free @p; NULL is a no-op. */
void sg_packet_free(struct sg_packet *p);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_packet *, sg_packet_free)
