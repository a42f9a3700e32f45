/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ovmf.h"

#include <string.h>

#include "core/hashes.h"
#include "util/cursor.h"

/* Footer GUID (16) + total length (2), which the length field counts. */
#define FOOTER_LEN 18
/* Per-entry trailer: u16 length + GUID. */
#define ENTRY_TRAILER 18

int
sg_ovmf_parse(const uint8_t *fw, size_t len, struct sg_ovmf *ret, struct sg_error *err)
{
	struct sg_ovmf o = { 0 };
	struct sg_cur whole, c;
	struct sg_guid footer;
	uint16_t table_len;
	size_t area_off, end;

	/* The footer: the table's length (u16), then its GUID. */
	sg_cur_init(&whole, fw, len);
	if (len < SG_OVMF_FOOTER_TAIL + FOOTER_LEN ||
	    sg_cur_sub(&whole, len - SG_OVMF_FOOTER_TAIL - FOOTER_LEN, FOOTER_LEN, &c) != 0 ||
	    sg_cur_u16le(&c, &table_len) != 0 || sg_cur_guid(&c, footer.b) != 0 ||
	    !sg_guid_equal(&footer, &SG_GUID_OVMF_FOOTER))
		return sg_error_set(err, SG_E_FORMAT, "OVMF footer GUID not found");

	if (table_len == 0)
		return sg_error_set(err, SG_E_FORMAT, "OVMF tables zero length");
	if (table_len < FOOTER_LEN)
		return sg_error_set(err, SG_E_FORMAT,
				    "OVMF table length %u is shorter than its %d-byte footer",
				    table_len, FOOTER_LEN);
	if (table_len > len - SG_OVMF_FOOTER_TAIL)
		return sg_error_set(err, SG_E_FORMAT,
				    "OVMF table length %u exceeds the firmware size %zu", table_len,
				    len);

	o.table_len = table_len;
	o.table_offset = len - SG_OVMF_FOOTER_TAIL - table_len;
	area_off = o.table_offset;
	end = table_len - FOOTER_LEN; /* bytes of entries, walked from the end */

	while (end > 0) {
		struct sg_ovmf_entry *e;
		struct sg_cur t;
		uint16_t elen;

		/* (A remainder too short for an entry is stray bytes, below.) */
		if (o.n == SG_OVMF_MAX_ENTRIES && end >= ENTRY_TRAILER)
			return sg_error_set(err, SG_E_LIMIT, "OVMF table has more than %d entries",
					    SG_OVMF_MAX_ENTRIES);
		e = &o.entries[o.n];
		/* The entry's trailer (length, GUID) ends where the entries left end. */
		if (end < ENTRY_TRAILER ||
		    sg_cur_sub(&whole, area_off + end - ENTRY_TRAILER, ENTRY_TRAILER, &t) != 0 ||
		    sg_cur_u16le(&t, &elen) != 0 || sg_cur_guid(&t, e->guid.b) != 0)
			return sg_error_set(err, SG_E_FORMAT,
					    "OVMF table: %zu stray bytes before entry %zu", end,
					    o.n);
		if (elen < ENTRY_TRAILER || elen > end) {
			char g[SG_GUID_STR_LEN + 1];

			sg_guid_format(&e->guid, g);
			return sg_error_set(err, SG_E_FORMAT,
					    "OVMF table entry %s: length %u does not fit the %zu "
					    "bytes left",
					    g, elen, end);
		}
		e->offset = area_off + end - elen;
		e->len = elen - ENTRY_TRAILER;
		e->data = fw + e->offset;
		o.n++;
		end -= elen;
	}
	*ret = o;
	return 0;
}

const struct sg_ovmf_entry *
sg_ovmf_find(const struct sg_ovmf *o, const struct sg_guid *guid)
{
	const struct sg_ovmf_entry *found = NULL;

	for (size_t i = 0; i < o->n; i++)
		if (sg_guid_equal(&o->entries[i].guid, guid))
			found = &o->entries[i];
	return found;
}

int
sg_ovmf_reset_addr(const struct sg_ovmf *o, uint32_t *ret, struct sg_error *err)
{
	const struct sg_ovmf_entry *e = sg_ovmf_find(o, &SG_GUID_SEV_ES_RESET_BLOCK);

	if (!e)
		return sg_error_set(err, SG_E_FORMAT, "SEV info block GUID not found");
	uint32_t v = 0;

	/*
	 * The entry is a u32, but the reference reads whatever is there as one
	 * little-endian integer and uses its low 32 bits; so do we, byte-exact.
	 */
	for (size_t i = 0; i < e->len && i < 4; i++)
		v |= (uint32_t)e->data[i] << (8 * i);
	*ret = v;
	return 0;
}

int
sg_ovmf_area(const struct sg_ovmf *o, const struct sg_guid *guid, uint32_t *ret_base,
	     uint32_t *ret_size, struct sg_error *err)
{
	const struct sg_ovmf_entry *e = sg_ovmf_find(o, guid);

	if (!e)
		return 0;
	if (e->len != 8) {
		char g[SG_GUID_STR_LEN + 1];

		sg_guid_format(guid, g);
		return sg_error_set(err, SG_E_FORMAT,
				    "OVMF area entry %s holds %zu bytes, expected 8", g, e->len);
	}
	*ret_base = sg_get_u32le(e->data);
	*ret_size = sg_get_u32le(e->data + 4);
	return 1;
}

bool
sg_ovmf_has_kernel_hashes(const struct sg_ovmf *o)
{
	uint32_t base, size;

	return sg_ovmf_area(o, &SG_GUID_SEV_HASH_TABLE_AREA, &base, &size, NULL) == 1 &&
	       base != 0 && size >= SG_HASHES_TABLE_PADDED_LEN;
}

const char *
sg_ovmf_entry_name(const struct sg_guid *guid)
{
	static const struct {
		const struct sg_guid *guid;
		const char *name;
	} names[] = {
		{ &SG_GUID_SEV_ES_RESET_BLOCK, "sev-es-reset-block" },
		{ &SG_GUID_SEV_HASH_TABLE_AREA, "sev-hash-table-area" },
		{ &SG_GUID_SEV_SECRET_AREA, "sev-secret-area" },
		{ &SG_GUID_SEV_METADATA, "sev-metadata" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (sg_guid_equal(names[i].guid, guid))
			return names[i].name;
	return NULL;
}
