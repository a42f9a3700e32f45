/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sevgate secret build|open: the LAUNCH_SECRET packet on its own.
 * build makes a packet for a measurement checked elsewhere (sevctl's
 * "secret build"); open checks a packet's MAC and decrypts it, as the PSP
 * will, and prints each entry's GUID and length, never its bytes nor a
 * hash of them (an unsalted hash of a passphrase is guessable offline),
 * so an operator can confirm a packet before it is sent.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmdtab.h"
#include "cli/commands.h"
#include "cli/exitcode.h"
#include "cli/secret-arg.h"
#include "protocol/packet.h"
#include "core/secret.h"
#include "key/key.h"
#include "util/encode.h"
#include "util/fileio.h"
#include "validate/validate.h"

struct packet_args {
	bool build;
	const char *tik, *tek, *tk, *measurement, *header, *payload, *config;
	const char *secrets[SG_MAX_SECRETS];
	size_t nsecrets;
	bool have_iv;
	uint8_t iv[SG_PACKET_IV_LEN];
	enum sg_secret_pad pad;
	struct sg_key_options kopts;
	uint8_t blob[SG_MEASURE_BLOB_LEN];
};

/* secret build's options are every option of secret (open has fewer). */
static const struct sg_command *
command(bool build)
{
	return sg_command_find("sevgate", build ? "secret build" : "secret open");
}

/* 1: --help shown; 0: parsed; negative: usage error (message in @err). */
static int
parse(int argc, char **argv, struct packet_args *a, struct sg_error *err)
{
	struct sg_command_getopt g;
	size_t blob_len = 0;
	int c, r;

	if ((r = sg_command_getopt_init(command(true), &g, err)) < 0)
		return r;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
		if (!a->build && (c == SG_COPT_SECRET || c == SG_COPT_IV || c == SG_COPT_PADDING))
			c = '?';
		switch (c) {
		case 'h': sg_command_usage(command(a->build), stdout); return 1;
		case SG_GOPT_TIK: a->tik = optarg; break;
		case SG_GOPT_TEK: a->tek = optarg; break;
		case SG_GOPT_TK: a->tk = optarg; break;
		case 'm': a->measurement = optarg; break;
		case SG_COPT_HEADER: a->header = optarg; break;
		case SG_COPT_PAYLOAD: a->payload = optarg; break;
		case SG_GOPT_PIN_FILE: a->kopts.pin_file = optarg; break;
		case SG_GOPT_CONFIG: a->config = optarg; break;
		case SG_COPT_SECRET:
			if (a->nsecrets == SG_MAX_SECRETS)
				return sg_error_set(err, SG_E_USAGE,
						    "more than %d --secret options",
						    SG_MAX_SECRETS);
			a->secrets[a->nsecrets++] = optarg;
			break;
		case SG_COPT_IV:
			if (sg_hex_decode(optarg, a->iv, sizeof(a->iv), NULL) < 0)
				return sg_error_set(err, SG_E_USAGE, "--iv must be 32 hex digits");
			a->have_iv = true;
			break;
		case SG_COPT_PADDING:
			if (!strcmp(optarg, "align16"))
				a->pad = SG_SECRET_PAD_ALIGN16;
			else if (!strcmp(optarg, "libvirt"))
				a->pad = SG_SECRET_PAD_LIBVIRT;
			else
				return sg_error_set(err, SG_E_USAGE,
						    "--padding must be align16 or libvirt");
			break;
		default:
			return sg_error_set(err, SG_E_USAGE, "unrecognized option '%s'",
					    argv[optind - 1]);
		}
	}
	if (optind != argc || !a->measurement || !a->header || !a->payload ||
	    (a->build && a->nsecrets == 0) || (a->tk ? (a->tik || a->tek) : (!a->tik || !a->tek)))
		return sg_error_set(err, SG_E_USAGE,
				    "need --tk or --tik and --tek, --measurement, --header, "
				    "--payload%s",
				    a->build ? " and --secret" : "");
	if (sg_base64_decode(a->measurement, a->blob, sizeof(a->blob), &blob_len, "--measurement",
			     NULL) < 0 ||
	    blob_len != SG_MEASURE_BLOB_LEN)
		return sg_error_set(err, SG_E_USAGE, "--measurement must be base64 of 48 bytes");
	return 0;
}

static int
open_keys(struct sg_crypto *c, const struct packet_args *a, struct sg_key **tik,
	  struct sg_key **tek, struct sg_error *err)
{
	int r;

	if (a->tk)
		return sg_key_open_pair_ex(c, a->tk, &a->kopts, tik, tek, err);
	if ((r = sg_key_open_ex(c, a->tik, SG_KEY_TIK, &a->kopts, tik, err)) < 0)
		return r;
	return sg_key_open_ex(c, a->tek, SG_KEY_TEK, &a->kopts, tek, err);
}

/* Read a base64 file (a trailing newline is allowed) and decode it. */
static int
read_b64(const char *path, const char *what, uint8_t **ret, size_t *ret_len, struct sg_error *err)
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
print_entries(const struct sg_secmem *table, struct sg_error *err)
{
	struct sg_secret entries[256];
	struct json_object *j, *arr;
	size_t n;
	int r;

	if ((r = sg_secret_table_parse(table->data, table->len, entries, SG_ELEMENTSOF(entries), &n,
				       err)) < 0)
		return r;
	j = json_object_new_object();
	arr = json_object_new_array();
	sg_json_add(j, "table_length", json_object_new_int64((int64_t)table->len));
	sg_json_add(j, "entries", arr);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_new_object();
		char g[SG_GUID_STR_LEN + 1];

		json_object_array_add(arr, e);
		sg_guid_format(&entries[i].guid, g);
		sg_json_add(e, "guid", json_object_new_string(g));
		sg_json_add(e, "length", json_object_new_int64((int64_t)entries[i].len));
	}
	sg_json_print(j);
	return 0;
}

static int
secret_open(struct sg_crypto *c, const struct packet_args *a, struct sg_error *err)
{
	_cleanup_(sg_key_freep) struct sg_key *tik = NULL, *tek = NULL;
	_cleanup_(sg_secmem_freep) struct sg_secmem *table = NULL;
	_cleanup_(sg_freep) uint8_t *header = NULL, *payload = NULL;
	size_t header_len, payload_len;
	int r;

	if ((r = open_keys(c, a, &tik, &tek, err)) < 0 ||
	    (r = read_b64(a->header, "secret header", &header, &header_len, err)) < 0 ||
	    (r = read_b64(a->payload, "secret payload", &payload, &payload_len, err)) < 0 ||
	    (r = sg_packet_open(tik, tek, header, header_len, payload, payload_len, a->blob, &table,
				err)) < 0)
		return r;
	return print_entries(table, err);
}

static int
secret_build(struct sg_crypto *c, struct packet_args *a, struct sg_error *err)
{
	_cleanup_(sg_key_freep) struct sg_key *tik = NULL, *tek = NULL;
	_cleanup_(sg_secmem_freep) struct sg_secmem *table = NULL;
	_cleanup_(sg_packet_freep) struct sg_packet *pkt = NULL;
	_cleanup_(sg_freep) char *payload64 = NULL;
	struct sg_secmem *files[SG_MAX_SECRETS] = { 0 };
	struct sg_secret secrets[SG_MAX_SECRETS];
	char header64[SG_B64_ENCODED_LEN(SG_PACKET_HEADER_LEN) + 1];
	size_t unpadded;
	int r;

	r = open_keys(c, a, &tik, &tek, err);
	for (size_t i = 0; r == 0 && i < a->nsecrets; i++) {
		struct sg_secret_spec spec;

		if ((r = sg_cli_secret_arg_parse(a->secrets[i], &spec, err)) < 0)
			break;
		secrets[i].guid = spec.guid;
		if ((r = sg_file_read_secret(spec.path, SG_SECRET_FILE_MAX, "secret", &files[i],
					     err)) == 0) {
			if (files[i]->len == 0)
				r = sg_error_set(err, SG_E_USAGE, "secret file '%s' is empty",
						 spec.path);
			secrets[i].data = files[i]->data;
			secrets[i].len = files[i]->len;
		}
	}
	if (r == 0 && !a->have_iv)
		r = sg_random_bytes(a->iv, sizeof(a->iv), err);
	if (r == 0)
		r = sg_secret_table_build(secrets, a->nsecrets, a->pad, &table, &unpadded, err);
	if (r == 0)
		r = sg_packet_build(tik, tek, a->iv, table->data, table->len, a->blob, &pkt, err);
	for (size_t i = 0; i < a->nsecrets; i++)
		sg_secmem_free(files[i]);
	if (r < 0)
		return r;
	payload64 = malloc(SG_B64_ENCODED_LEN(pkt->payload_len) + 1);
	if (!payload64)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	sg_base64_encode(pkt->header, SG_PACKET_HEADER_LEN, header64);
	sg_base64_encode(pkt->payload, pkt->payload_len, payload64);

	struct sg_out_file outs[] = {
		{ a->header, header64, strlen(header64), "secret header" },
		{ a->payload, payload64, strlen(payload64), "secret payload" },
	};
	return sg_file_write_all(outs, SG_ELEMENTSOF(outs), 0600, 0, err);
}

int
sg_cmd_secret(int argc, char **argv)
{
	_cleanup_(sg_crypto_freep) struct sg_crypto *crypto = NULL;
	struct packet_args a = { .pad = SG_SECRET_PAD_ALIGN16 };
	struct sg_error err = { 0 };
	int r;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		sg_command_synopsis(command(true), stdout);
		sg_command_synopsis(command(false), stdout);
		return SG_EXIT_OK;
	}
	if (argc < 2 || (strcmp(argv[1], "build") && strcmp(argv[1], "open")))
		return sg_cmd_fail("usage: sevgate secret build|open ...", SG_E_USAGE);
	a.build = !strcmp(argv[1], "build");
	if ((r = parse(argc - 1, argv + 1, &a, &err)) != 0)
		return r > 0 ? SG_EXIT_OK : sg_cmd_fail(err.msg, r);
	if ((r = sg_key_set_config(a.config, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if ((r = sg_crypto_new(&crypto, &err)) < 0 ||
	    (r = a.build ? secret_build(crypto, &a, &err) : secret_open(crypto, &a, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	return SG_EXIT_OK;
}
