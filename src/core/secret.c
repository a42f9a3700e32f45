/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "secret.h"

#include <string.h>

#include "util/cursor.h"

int
sg_secret_guid_parse(const char *alias_or_guid, struct sg_guid *ret, struct sg_error *err)
{
	if (sg_guid_parse(alias_or_guid, ret) == 0)
		return 0;
	if (!strcmp(alias_or_guid, "luks-key")) {
		*ret = SG_GUID_LUKS_KEY;
		return 0;
	}
	return sg_error_set(err, SG_E_USAGE, "Secret alias '%s' is not known", alias_or_guid);
}

int
sg_secret_table_build(const struct sg_secret *s, size_t n, enum sg_secret_pad pad,
		      struct sg_secmem **ret, size_t *ret_len, struct sg_error *err)
{
	struct sg_secmem *m;
	size_t len = SG_SECRET_HEADER_LEN, padded, off;

	if (n == 0)
		return sg_error_set(err, SG_E_USAGE, "no secrets to put in the table");
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++)
			if (sg_guid_equal(&s[i].guid, &s[j].guid)) {
				char g[SG_GUID_STR_LEN + 1];

				sg_guid_format(&s[i].guid, g);
				return sg_error_set(err, SG_E_USAGE,
						    "Secret for GUID %s already loaded", g);
			}
		if (s[i].len > SG_SECRET_TABLE_MAX - SG_SECRET_ENTRY_HEADER_LEN ||
		    len > SG_SECRET_TABLE_MAX - SG_SECRET_ENTRY_HEADER_LEN - s[i].len)
			return sg_error_set(err, SG_E_LIMIT, "secret table would exceed %zu bytes",
					    SG_SECRET_TABLE_MAX);
		len += SG_SECRET_ENTRY_HEADER_LEN + s[i].len;
	}
	padded = pad == SG_SECRET_PAD_LIBVIRT ? len + (16 - len % 16) : (len + 15) / 16 * 16;

	m = sg_secmem_new(padded);
	if (!m)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	memcpy(m->data, SG_GUID_SECRET_TABLE.b, 16);
	sg_put_u32le(m->data + 16, (uint32_t)len);
	off = SG_SECRET_HEADER_LEN;
	for (size_t i = 0; i < n; i++) {
		memcpy(m->data + off, s[i].guid.b, 16);
		sg_put_u32le(m->data + off + 16, (uint32_t)(SG_SECRET_ENTRY_HEADER_LEN + s[i].len));
		if (s[i].len)
			memcpy(m->data + off + SG_SECRET_ENTRY_HEADER_LEN, s[i].data, s[i].len);
		off += SG_SECRET_ENTRY_HEADER_LEN + s[i].len;
	}
	*ret = m;
	*ret_len = len;
	return 0;
}

int
sg_secret_table_parse(const uint8_t *data, size_t len, struct sg_secret *entries,
		      size_t max_entries, size_t *ret_n, struct sg_error *err)
{
	struct sg_cur c, body;
	struct sg_guid g;
	uint32_t total;
	size_t n = 0;

	sg_cur_init(&c, data, len);
	if (sg_cur_guid(&c, g.b) < 0 || sg_cur_u32le(&c, &total) < 0)
		return sg_error_set(err, SG_E_FORMAT, "secret table shorter than its header");
	if (!sg_guid_equal(&g, &SG_GUID_SECRET_TABLE))
		return sg_error_set(err, SG_E_FORMAT, "secret table GUID not found");
	if (total < SG_SECRET_HEADER_LEN || total > len ||
	    sg_cur_sub(&c, SG_SECRET_HEADER_LEN, total - SG_SECRET_HEADER_LEN, &body) != 0)
		return sg_error_set(err, SG_E_FORMAT,
				    "secret table length %u does not fit its %zu bytes", total,
				    len);
	for (size_t i = total; i < len; i++)
		if (data[i] != 0)
			return sg_error_set(err, SG_E_FORMAT,
					    "secret table padding at offset %zu is not zero", i);
	while (sg_cur_remaining(&body) > 0) {
		uint32_t elen;
		const uint8_t *p;

		if (n == max_entries)
			return sg_error_set(err, SG_E_LIMIT,
					    "secret table has more than %zu entries", max_entries);
		if (sg_cur_guid(&body, entries[n].guid.b) < 0 || sg_cur_u32le(&body, &elen) < 0)
			return sg_error_set(err, SG_E_FORMAT, "secret table entry %zu is truncated",
					    n);
		if (elen < SG_SECRET_ENTRY_HEADER_LEN ||
		    sg_cur_bytes(&body, elen - SG_SECRET_ENTRY_HEADER_LEN, &p) < 0)
			return sg_error_set(err, SG_E_FORMAT,
					    "secret table entry %zu: length %u does not fit", n,
					    elen);
		entries[n].data = p;
		entries[n].len = elen - SG_SECRET_ENTRY_HEADER_LEN;
		n++;
	}
	*ret_n = n;
	return 0;
}
