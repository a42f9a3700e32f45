/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sevgate secret open: check a launch-secret packet's MAC and decrypt it,
 * as the PSP will. Prints each entry's GUID, length and SHA-256, never
 * its bytes, so an operator can confirm a packet before it is sent.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/exitcode.h"
#include "core/packet.h"
#include "core/secret.h"
#include "key/key.h"
#include "util/encode.h"
#include "util/fileio.h"

enum { O_TIK = 256, O_TEK, O_TK, O_MEASUREMENT, O_HEADER, O_PAYLOAD };

/* Read a base64 file (a trailing newline is allowed) and decode it. */
static int
read_b64(const char *path, const char *what, uint8_t **ret, size_t *ret_len,
	 struct sg_error *err)
{
	_cleanup_(sg_file_freep) struct sg_file *f = NULL;
	_cleanup_(sg_freep) char *text = NULL;
	_cleanup_(sg_freep) uint8_t *buf = NULL;
	size_t n;
	int r;

	if ((r = sg_file_map(path, SG_FILE_MAX / 4, what, &f, err)) < 0)
		return r;
	n = f->len;
	while (n > 0 && (f->data[n - 1] == '\n' || f->data[n - 1] == '\r'))
		n--;
	text = malloc(n + 1);
	buf = malloc(n / 4 * 3 + 1);
	if (!text || !buf)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	memcpy(text, f->data, n);
	text[n] = '\0';
	if (strlen(text) != n)
		return sg_error_set(err, SG_E_FORMAT, "%s '%s' contains a NUL byte", what, path);
	if ((r = sg_base64_decode(text, buf, n / 4 * 3 + 1, ret_len, what, err)) < 0)
		return r;
	*ret = SG_TAKE_PTR(buf);
	return 0;
}

int
sg_cmd_secret(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "tik", required_argument, NULL, O_TIK },
		{ "tek", required_argument, NULL, O_TEK },
		{ "tk", required_argument, NULL, O_TK },
		{ "measurement", required_argument, NULL, O_MEASUREMENT },
		{ "header", required_argument, NULL, O_HEADER },
		{ "payload", required_argument, NULL, O_PAYLOAD },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_(sg_crypto_freep) struct sg_crypto *crypto = NULL;
	_cleanup_(sg_key_freep) struct sg_key *tik = NULL, *tek = NULL;
	_cleanup_(sg_secmem_freep) struct sg_secmem *table = NULL;
	_cleanup_(sg_freep) uint8_t *header = NULL, *payload = NULL;
	const char *tik_spec = NULL, *tek_spec = NULL, *tk_spec = NULL, *measurement = NULL;
	const char *header_path = NULL, *payload_path = NULL;
	struct sg_secret entries[256];
	struct sg_error err = { 0 };
	uint8_t blob[SG_MEASURE_BLOB_LEN];
	size_t header_len, payload_len, blob_len, n;
	struct json_object *j, *arr;
	int c, r;

	if (argc < 2 || strcmp(argv[1], "open"))
		return sg_cmd_fail("usage: sevgate secret open --tik K --tek K | --tk K "
				   "--measurement B64 --header FILE --payload FILE",
				   SG_E_USAGE);
	argc--;
	argv++;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("usage: sevgate secret open --tik K --tek K | --tk K --measurement B64\n"
			       "                          --header FILE --payload FILE\n");
			return SG_EXIT_OK;
		case O_TIK: tik_spec = optarg; break;
		case O_TEK: tek_spec = optarg; break;
		case O_TK: tk_spec = optarg; break;
		case O_MEASUREMENT: measurement = optarg; break;
		case O_HEADER: header_path = optarg; break;
		case O_PAYLOAD: payload_path = optarg; break;
		default:
			return sg_cmd_fail("unrecognized option (sevgate secret open --help)",
					   SG_E_USAGE);
		}
	}
	if (optind != argc || !measurement || !header_path || !payload_path ||
	    (tk_spec ? (tik_spec || tek_spec) : (!tik_spec || !tek_spec)))
		return sg_cmd_fail("need --tk or --tik and --tek, --measurement, --header and "
				   "--payload",
				   SG_E_USAGE);
	if (sg_base64_decode(measurement, blob, sizeof(blob), &blob_len, "--measurement", &err) <
		    0 ||
	    blob_len != SG_MEASURE_BLOB_LEN)
		return sg_cmd_fail("--measurement must be base64 of 48 bytes", SG_E_USAGE);

	if ((r = sg_crypto_new(&crypto, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (tk_spec)
		r = sg_key_open_pair(crypto, tk_spec, &tik, &tek, &err);
	else if ((r = sg_key_open(crypto, tik_spec, SG_KEY_TIK, &tik, &err)) == 0)
		r = sg_key_open(crypto, tek_spec, SG_KEY_TEK, &tek, &err);
	if (r < 0 ||
	    (r = read_b64(header_path, "secret header", &header, &header_len, &err)) < 0 ||
	    (r = read_b64(payload_path, "secret payload", &payload, &payload_len, &err)) < 0 ||
	    (r = sg_packet_open(tik, tek, header, header_len, payload, payload_len, blob, &table,
				&err)) < 0 ||
	    (r = sg_secret_table_parse(table->data, table->len, entries, SG_ELEMENTSOF(entries),
				       &n, &err)) < 0)
		return sg_cmd_fail(err.msg, r);

	j = json_object_new_object();
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_new_object();
		uint8_t sha[SG_SHA256_LEN];
		char g[SG_GUID_STR_LEN + 1];

		if ((r = sg_sha256(crypto, entries[i].data, entries[i].len, sha, &err)) < 0) {
			json_object_put(e);
			json_object_put(arr);
			json_object_put(j);
			return sg_cmd_fail(err.msg, r);
		}
		sg_guid_format(&entries[i].guid, g);
		sg_json_add(e, "guid", json_object_new_string(g));
		sg_json_add(e, "length", json_object_new_int64((int64_t)entries[i].len));
		sg_json_add(e, "sha256", sg_json_hex(sha, sizeof(sha)));
		json_object_array_add(arr, e);
	}
	sg_json_add(j, "table_length", json_object_new_int64((int64_t)table->len));
	sg_json_add(j, "entries", arr);
	sg_json_print(j);
	return SG_EXIT_OK;
}
