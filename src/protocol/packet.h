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

SG_NODISCARD int
sg_packet_build(struct sg_key *tik, struct sg_key *tek, const uint8_t iv[SG_PACKET_IV_LEN],
		const uint8_t *table, size_t table_len, const uint8_t measurement[SG_MEASURE_LEN],
		struct sg_packet **ret, struct sg_error *err);

/*
 * Check a packet's MAC and decrypt it: what the PSP does. SG_E_MISMATCH
 * when the MAC does not verify; the plaintext table otherwise.
 */
SG_NODISCARD int sg_packet_open(struct sg_key *tik, struct sg_key *tek, const uint8_t *header,
				size_t header_len, const uint8_t *payload, size_t payload_len,
				const uint8_t measurement[SG_MEASURE_LEN],
				struct sg_secmem **ret_table, struct sg_error *err);

void sg_packet_free(struct sg_packet *p);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_packet *, sg_packet_free)
