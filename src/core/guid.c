/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "guid.h"

#include <string.h>

#include "util/encode.h"

/* Build the bytes_le form from the canonical fields, so the tables read like the spec. */
/* clang-format off */
#define GUID(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                                  \
	{                                                                               \
		{                                                                       \
			(a) & 0xff, ((a) >> 8) & 0xff, ((a) >> 16) & 0xff, (a) >> 24,   \
			(b) & 0xff, (b) >> 8, (c) & 0xff, (c) >> 8, d0, d1, d2, d3, d4, \
			d5, d6, d7                                                      \
		}                                                                       \
	}
/* clang-format on */

const struct sg_guid SG_GUID_OVMF_FOOTER =
	GUID(0x96b582deu, 0x1fb2, 0x45f7, 0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d);
const struct sg_guid SG_GUID_SEV_ES_RESET_BLOCK =
	GUID(0x00f771deu, 0x1a7e, 0x4fcb, 0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e);
const struct sg_guid SG_GUID_SEV_HASH_TABLE_AREA =
	GUID(0x7255371fu, 0x3a3b, 0x4b04, 0x92, 0x7b, 0x1d, 0xa6, 0xef, 0xa8, 0xd4, 0x54);
const struct sg_guid SG_GUID_SEV_SECRET_AREA =
	GUID(0x4c2eb361u, 0x7d9b, 0x4cc3, 0x80, 0x81, 0x12, 0x7c, 0x90, 0xd3, 0xd2, 0x94);
const struct sg_guid SG_GUID_SEV_METADATA =
	GUID(0xdc886566u, 0x984a, 0x4798, 0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc);
const struct sg_guid SG_GUID_HASHES_TABLE =
	GUID(0x9438d606u, 0x4f22, 0x4cc9, 0xb4, 0x79, 0xa7, 0x93, 0xd4, 0x11, 0xfd, 0x21);
const struct sg_guid SG_GUID_HASHES_CMDLINE =
	GUID(0x97d02dd8u, 0xbd20, 0x4c94, 0xaa, 0x78, 0xe7, 0x71, 0x4d, 0x36, 0xab, 0x2a);
const struct sg_guid SG_GUID_HASHES_INITRD =
	GUID(0x44baf731u, 0x3a2f, 0x4bd7, 0x9a, 0xf1, 0x41, 0xe2, 0x91, 0x69, 0x78, 0x1d);
const struct sg_guid SG_GUID_HASHES_KERNEL =
	GUID(0x4de79437u, 0xabd2, 0x427f, 0xb8, 0x35, 0xd5, 0xb1, 0x72, 0xd2, 0x04, 0x5b);
const struct sg_guid SG_GUID_SECRET_TABLE =
	GUID(0x1e74f542u, 0x71dd, 0x4d66, 0x96, 0x3e, 0xef, 0x42, 0x87, 0xff, 0x17, 0x3b);
const struct sg_guid SG_GUID_LUKS_KEY =
	GUID(0x736869e5u, 0x84f0, 0x4973, 0x92, 0xec, 0x06, 0x87, 0x9c, 0xe3, 0xda, 0x0b);

int
sg_guid_parse(const char *s, struct sg_guid *ret)
{
	/* Canonical byte i comes from text position pos[i]; bytes_le swaps the first three fields. */
	static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	uint8_t canon[16];
	size_t i, k = 0;

	if (strlen(s) != SG_GUID_STR_LEN)
		return SG_E_FORMAT;
	for (i = 0; i < SG_GUID_STR_LEN;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return SG_E_FORMAT;
			i++;
			continue;
		}
		int hi = sg_hex_digit(s[i]), lo = sg_hex_digit(s[i + 1]);
		if (hi < 0 || lo < 0)
			return SG_E_FORMAT;
		canon[k++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	for (i = 0; i < 16; i++)
		ret->b[i] = canon[order[i]];
	return 0;
}

void
sg_guid_format(const struct sg_guid *g, char out[SG_GUID_STR_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	size_t o = 0;

	for (size_t i = 0; i < 16; i++) {
		uint8_t v = g->b[order[i]];

		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = digits[v >> 4];
		out[o++] = digits[v & 0xf];
	}
	out[o] = '\0';
}

bool
sg_guid_equal(const struct sg_guid *a, const struct sg_guid *b)
{
	return memcmp(a->b, b->b, 16) == 0;
}
