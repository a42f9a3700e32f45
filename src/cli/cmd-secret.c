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
#include "validate/validate.h"
#include "key/key.h"
#include "util/encode.h"
#include "util/fileio.h"

enum { O_TIK = 256, O_TEK, O_TK, O_MEASUREMENT, O_HEADER, O_PAYLOAD, O_SECRET, O_IV, O_PAD,
       O_PIN_FILE };

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

static int
secret_open(int argc, char **argv)
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

/*
 * sevgate secret build: a packet for a measurement already checked
 * elsewhere (sevctl's "secret build"), from GUID:FILE secrets.
 */
static int
secret_build(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "tik", required_argument, NULL, O_TIK },
		{ "tek", required_argument, NULL, O_TEK },
		{ "tk", required_argument, NULL, O_TK },
		{ "measurement", required_argument, NULL, O_MEASUREMENT },
		{ "header", required_argument, NULL, O_HEADER },
		{ "payload", required_argument, NULL, O_PAYLOAD },
		{ "secret", required_argument, NULL, O_SECRET },
		{ "iv", required_argument, NULL, O_IV },
		{ "padding", required_argument, NULL, O_PAD },
		{ "pin-file", required_argument, NULL, O_PIN_FILE },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_(sg_crypto_freep) struct sg_crypto *crypto = NULL;
	_cleanup_(sg_key_freep) struct sg_key *tik = NULL, *tek = NULL;
	_cleanup_(sg_secmem_freep) struct sg_secmem *table = NULL;
	_cleanup_(sg_packet_freep) struct sg_packet *pkt = NULL;
	struct sg_secmem *files[SG_MAX_SECRETS] = { 0 };
	struct sg_secret secrets[SG_MAX_SECRETS];
	const char *tik_spec = NULL, *tek_spec = NULL, *tk_spec = NULL, *measurement = NULL;
	const char *header_path = NULL, *payload_path = NULL, *args[SG_MAX_SECRETS];
	enum sg_secret_pad pad = SG_SECRET_PAD_ALIGN16;
	struct sg_key_options kopts = { 0 };
	struct sg_error err = { 0 };
	uint8_t blob[SG_MEASURE_BLOB_LEN], iv[SG_PACKET_IV_LEN];
	bool have_iv = false;
	size_t nargs = 0, blob_len, unpadded;
	char *b64 = NULL;
	int c, r = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("usage: sevgate secret build --tik K --tek K | --tk K --measurement B64\n"
			       "       --secret GUID-OR-ALIAS:FILE... --header FILE --payload FILE\n"
			       "       [--iv HEX] [--padding align16|libvirt] [--pin-file FILE]\n");
			return SG_EXIT_OK;
		case O_TIK: tik_spec = optarg; break;
		case O_TEK: tek_spec = optarg; break;
		case O_TK: tk_spec = optarg; break;
		case O_MEASUREMENT: measurement = optarg; break;
		case O_HEADER: header_path = optarg; break;
		case O_PAYLOAD: payload_path = optarg; break;
		case O_PIN_FILE: kopts.pin_file = optarg; break;
		case O_SECRET:
			if (nargs == SG_MAX_SECRETS)
				return sg_cmd_fail("too many --secret options", SG_E_USAGE);
			args[nargs++] = optarg;
			break;
		case O_IV:
			if (sg_hex_decode(optarg, iv, sizeof(iv), NULL) < 0)
				return sg_cmd_fail("--iv must be 32 hex digits", SG_E_USAGE);
			have_iv = true;
			break;
		case O_PAD:
			if (!strcmp(optarg, "align16"))
				pad = SG_SECRET_PAD_ALIGN16;
			else if (!strcmp(optarg, "libvirt"))
				pad = SG_SECRET_PAD_LIBVIRT;
			else
				return sg_cmd_fail("--padding must be align16 or libvirt", SG_E_USAGE);
			break;
		default:
			return sg_cmd_fail("unrecognized option (sevgate secret build --help)",
					   SG_E_USAGE);
		}
	}
	if (optind != argc || !measurement || !header_path || !payload_path || nargs == 0 ||
	    (tk_spec ? (tik_spec || tek_spec) : (!tik_spec || !tek_spec)))
		return sg_cmd_fail("need --tk or --tik and --tek, --measurement, --secret, --header "
				   "and --payload",
				   SG_E_USAGE);
	if (sg_base64_decode(measurement, blob, sizeof(blob), &blob_len, "--measurement", &err) <
		    0 ||
	    blob_len != SG_MEASURE_BLOB_LEN)
		return sg_cmd_fail("--measurement must be base64 of 48 bytes", SG_E_USAGE);
	if ((r = sg_crypto_new(&crypto, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (tk_spec)
		r = sg_key_open_pair_ex(crypto, tk_spec, &kopts, &tik, &tek, &err);
	else if ((r = sg_key_open_ex(crypto, tik_spec, SG_KEY_TIK, &kopts, &tik, &err)) == 0)
		r = sg_key_open_ex(crypto, tek_spec, SG_KEY_TEK, &kopts, &tek, &err);
	for (size_t i = 0; r == 0 && i < nargs; i++) {
		const char *path;

		if ((r = sg_secret_arg_parse(args[i], &secrets[i].guid, &path, &err)) == 0 &&
		    (r = sg_file_read_secret(path, SG_SECRET_FILE_MAX, "secret", &files[i],
					     &err)) == 0) {
			secrets[i].data = files[i]->data;
			secrets[i].len = files[i]->len;
		}
	}
	if (r == 0 && !have_iv)
		r = sg_random_bytes(iv, sizeof(iv), &err);
	if (r == 0)
		r = sg_secret_table_build(secrets, nargs, pad, &table, &unpadded, &err);
	if (r == 0)
		r = sg_packet_build(tik, tek, iv, table->data, table->len, blob, &pkt, &err);
	for (size_t i = 0; i < nargs; i++)
		sg_secmem_free(files[i]);
	if (r < 0)
		return sg_cmd_fail(err.msg, r);

	b64 = malloc(SG_B64_ENCODED_LEN(pkt->payload_len) + 1);
	if (!b64)
		return sg_cmd_fail("out of memory", SG_E_NOMEM);
	char header64[SG_B64_ENCODED_LEN(SG_PACKET_HEADER_LEN) + 1];
	sg_base64_encode(pkt->header, SG_PACKET_HEADER_LEN, header64);
	sg_base64_encode(pkt->payload, pkt->payload_len, b64);
	struct sg_out_file outs[] = {
		{ header_path, header64, strlen(header64), "secret header" },
		{ payload_path, b64, strlen(b64), "secret payload" },
	};
	r = sg_file_write_all(outs, SG_ELEMENTSOF(outs), 0600, &err);
	free(b64);
	if (r < 0)
		return sg_cmd_fail(err.msg, r);
	return SG_EXIT_OK;
}

int
sg_cmd_secret(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "open"))
		return secret_open(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "build"))
		return secret_build(argc - 1, argv + 1);
	return sg_cmd_fail("usage: sevgate secret build|open ...", SG_E_USAGE);
}
