/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hashes.h"

#include <string.h>

#include "core/guid.h"
#include "util/cursor.h"

#define ENTRY_LEN (16 + 2 + SG_SHA256_LEN)

const uint8_t SG_SHA256_EMPTY[SG_SHA256_LEN] = {
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
	0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
	0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

int
sg_hashes_cmdline_sha256(struct sg_crypto *c, const char *cmdline, uint8_t out[SG_SHA256_LEN],
			 struct sg_error *err)
{
	/* Hash the string together with its terminating NUL, which QEMU measures. */
	const char *s = cmdline ? cmdline : "";

	return sg_sha256(c, s, strlen(s) + 1, out, err);
}

static uint8_t *
put_entry(uint8_t *p, const struct sg_guid *g, const uint8_t hash[SG_SHA256_LEN])
{
	memcpy(p, g->b, 16);
	sg_put_u16le(p + 16, ENTRY_LEN);
	memcpy(p + 18, hash, SG_SHA256_LEN);
	return p + ENTRY_LEN;
}

void
sg_hashes_table_build(const struct sg_hashes *h, uint8_t out[SG_HASHES_TABLE_PADDED_LEN])
{
	uint8_t *p = out;

	memset(out, 0, SG_HASHES_TABLE_PADDED_LEN);
	memcpy(p, SG_GUID_HASHES_TABLE.b, 16);
	sg_put_u16le(p + 16, SG_HASHES_TABLE_LEN);
	p += 18;
	/* QEMU's fixed order: cmdline, initrd, kernel. */
	p = put_entry(p, &SG_GUID_HASHES_CMDLINE, h->cmdline);
	p = put_entry(p, &SG_GUID_HASHES_INITRD, h->initrd);
	put_entry(p, &SG_GUID_HASHES_KERNEL, h->kernel);
}
