/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sevgate ovmf show: every footer-table entry of a firmware image, decoded where known. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/exitcode.h"
#include "core/crypto.h"
#include "core/ovmf.h"
#include "util/cursor.h"
#include "util/fileio.h"

static struct json_object *
entry_json(const struct sg_ovmf_entry *e)
{
	struct json_object *j = json_object_new_object();
	const char *name = sg_ovmf_entry_name(&e->guid);
	char g[SG_GUID_STR_LEN + 1];

	sg_guid_format(&e->guid, g);
	sg_json_add(j, "guid", json_object_new_string(g));
	sg_json_add(j, "name", name ? json_object_new_string(name) : NULL);
	sg_json_add(j, "offset", json_object_new_int64((int64_t)e->offset));
	sg_json_add(j, "length", json_object_new_int64((int64_t)e->len));
	sg_json_add(j, "data", sg_json_hex(e->data, e->len));
	if (name && e->len == 4)
		sg_json_add(j, !strcmp(name, "sev-metadata") ? "offset_from_end" : "value",
			    json_object_new_int64(sg_get_u32le(e->data)));
	if (name && e->len == 8) {
		sg_json_add(j, "base", json_object_new_int64(sg_get_u32le(e->data)));
		sg_json_add(j, "size", json_object_new_int64(sg_get_u32le(e->data + 4)));
	}
	return j;
}

int
sg_cmd_ovmf(int argc, char **argv)
{
	_cleanup_(sg_crypto_freep) struct sg_crypto *crypto = NULL;
	_cleanup_(sg_file_freep) struct sg_file *f = NULL;
	struct sg_error err = { 0 };
	struct json_object *j, *entries;
	uint8_t sha[SG_SHA256_LEN];
	struct sg_ovmf o;
	uint32_t reset;
	int r;

	if (argc != 3 || strcmp(argv[1], "show"))
		return sg_cmd_fail("usage: sevgate ovmf show FILE", SG_E_USAGE);
	if ((r = sg_file_map(argv[2], SG_FILE_MAX, "firmware", &f, &err)) < 0 ||
	    (r = sg_crypto_new(&crypto, &err)) < 0 ||
	    (r = sg_sha256(crypto, f->data, f->len, sha, &err)) < 0 ||
	    (r = sg_ovmf_parse(f->data, f->len, &o, &err)) < 0)
		return sg_cmd_fail(err.msg, r);

	j = json_object_new_object();
	sg_json_add(j, "path", sg_json_str(argv[2]));
	sg_json_add(j, "size", json_object_new_int64((int64_t)f->len));
	sg_json_add(j, "sha256", sg_json_hex(sha, sizeof(sha)));
	sg_json_add(j, "table_offset", json_object_new_int64((int64_t)o.table_offset));
	sg_json_add(j, "table_length", json_object_new_int64((int64_t)o.table_len));
	sg_json_add(j, "kernel_hashes", json_object_new_boolean(sg_ovmf_has_kernel_hashes(&o)));
	sg_json_add(j, "sev_es_reset_addr",
		    sg_ovmf_reset_addr(&o, &reset, NULL) == 0 ? json_object_new_int64(reset) :
								NULL);
	entries = json_object_new_array();
	for (size_t i = 0; i < o.n; i++)
		json_object_array_add(entries, entry_json(&o.entries[i]));
	sg_json_add(j, "entries", entries);
	sg_json_print(j);
	return SG_EXIT_OK;
}
