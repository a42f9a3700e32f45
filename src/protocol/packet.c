/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "packet.h"

#include <stdlib.h>
#include <string.h>

#include "util/cursor.h"

static int
packet_mac(struct sg_key *tik, const uint8_t flags_iv[20], const uint8_t *ct, size_t len,
	   const uint8_t measurement[SG_MEASURE_LEN], uint8_t out[SG_SHA256_LEN], int verify,
	   struct sg_error *err)
{
	static const uint8_t ctx_byte = 0x01; /* LAUNCH_SECRET context */
	uint8_t lens[8];
	struct sg_iov iov[] = {
		{ &ctx_byte, 1 },
		{ flags_iv, 20 },
		{ lens, 8 },
		{ ct, len },
		{ measurement, SG_MEASURE_LEN },
	};

	/* guest_len and trans_len: both the padded length, no compression. */
	sg_put_u32le(lens, (uint32_t)len);
	sg_put_u32le(lens + 4, (uint32_t)len);
	if (verify)
		return sg_key_hmac_verify(tik, iov, SG_ELEMENTSOF(iov), out, err);
	return sg_key_hmac_sha256(tik, iov, SG_ELEMENTSOF(iov), out, err);
}

int
sg_packet_build(struct sg_key *tik, struct sg_key *tek, const uint8_t iv[SG_PACKET_IV_LEN],
		const uint8_t *table, size_t table_len, const uint8_t measurement[SG_MEASURE_LEN],
		struct sg_packet **ret, struct sg_error *err)
{
	_cleanup_(sg_packet_freep) struct sg_packet *p = NULL;
	int r;

	if (table_len == 0 || table_len % 16 != 0 || table_len > UINT32_MAX)
		return sg_error_set(err, SG_E_INTERNAL, "secret table length %zu is not padded",
				    table_len);
	p = calloc(1, sizeof(*p));
	if (!p || !(p->payload = malloc(table_len)))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	p->payload_len = table_len;
	sg_put_u32le(p->header, 0); /* flags: no compression */
	memcpy(p->header + 4, iv, SG_PACKET_IV_LEN);
	if ((r = sg_key_aes128ctr(tek, iv, table, table_len, p->payload, err)) < 0 ||
	    (r = packet_mac(tik, p->header, p->payload, table_len, measurement, p->header + 20, 0,
			    err)) < 0)
		return r;
	*ret = SG_TAKE_PTR(p);
	return 0;
}

int
sg_packet_open(struct sg_key *tik, struct sg_key *tek, const uint8_t *header, size_t header_len,
	       const uint8_t *payload, size_t payload_len,
	       const uint8_t measurement[SG_MEASURE_LEN], struct sg_secmem **ret_table,
	       struct sg_error *err)
{
	_cleanup_(sg_secmem_freep) struct sg_secmem *table = NULL;
	uint8_t mac[SG_SHA256_LEN];
	int r;

	if (header_len != SG_PACKET_HEADER_LEN)
		return sg_error_set(err, SG_E_FORMAT, "secret header is %zu bytes, expected %d",
				    header_len, SG_PACKET_HEADER_LEN);
	if (payload_len == 0 || payload_len > UINT32_MAX)
		return sg_error_set(err, SG_E_FORMAT, "secret payload length %zu is invalid",
				    payload_len);
	if (sg_get_u32le(header) != 0)
		return sg_error_set(err, SG_E_FORMAT, "secret header flags 0x%x are not supported",
				    sg_get_u32le(header));
	memcpy(mac, header + 20, SG_SHA256_LEN);
	r = packet_mac(tik, header, payload, payload_len, measurement, mac, 1, err);
	if (r == SG_E_MISMATCH)
		return sg_error_set(err, SG_E_MISMATCH, "secret packet MAC does not verify");
	if (r < 0)
		return r;
	table = sg_secmem_new(payload_len);
	if (!table)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	if ((r = sg_key_aes128ctr(tek, header + 4, payload, payload_len, table->data, err)) < 0)
		return r;
	*ret_table = SG_TAKE_PTR(table);
	return 0;
}

void
sg_packet_free(struct sg_packet *p)
{
	if (!p)
		return;
	free(p->payload);
	free(p);
}
