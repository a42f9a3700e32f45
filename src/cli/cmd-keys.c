/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sevgate keys import|store-secret|generate-audit-key|list|delete|prune: the
 * front end of key/admin.h (options, output, exit codes). It moves the guest
 * owner's TIK/TEK from the files `sevctl session` writes into a PKCS#11 token,
 * as sensitive, non-extractable token objects, and keeps the token tidy (SEV
 * launch keys are single-use, so tokens fill up).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmdtab.h"
#include "cli/commands.h"
#include "cli/exitcode.h"
#include "core/crypto.h"
#include "key/admin.h"
#include "key/key.h"
#include "util/encode.h"
#include "util/fileio.h"
#include "util/secmem.h"

struct keys_args {
	const char *tik, *tek, *tk, *token, *label, *prefix, *config, *pubout;
	bool shred;
	struct sg_key_options kopts;
	int first_arg;
};

/* The options of every keys subcommand (an option a subcommand ignores is no error). */
static const struct sg_command *
keys_command(void)
{
	return sg_command_find("sevgate", "keys");
}

static int
parse(int argc, char **argv, struct keys_args *a, struct sg_error *err)
{
	struct sg_command_getopt g;
	int c, r, longindex = -1;

	memset(a, 0, sizeof(*a));
	if ((r = sg_command_getopt_init(keys_command(), &g, err)) < 0)
		return r;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, &longindex)) != -1) {
		switch (c) {
		case 'h':
			/*
			 * keys [SUB] --help is answered before parsing; past that, -h
			 * is ignored and --help is no option, as always.
			 */
			if (longindex >= 0)
				return sg_error_set(err, SG_E_USAGE, "unrecognized option '%s'",
						    argv[optind - 1]);
			break;
		case SG_GOPT_TIK: a->tik = optarg; break;
		case SG_GOPT_TEK: a->tek = optarg; break;
		case SG_GOPT_TK: a->tk = optarg; break;
		case SG_COPT_TOKEN: a->token = optarg; break;
		case SG_COPT_LABEL: a->label = optarg; break;
		case SG_COPT_SHRED: a->shred = true; break;
		case SG_GOPT_PIN_FILE: a->kopts.pin_file = optarg; break;
		case SG_COPT_LABEL_PREFIX: a->prefix = optarg; break;
		case SG_GOPT_ALLOW_EXPORTABLE: a->kopts.allow_exportable_keys = true; break;
		case SG_GOPT_CONFIG: a->config = optarg; break;
		case SG_COPT_PUBOUT: a->pubout = optarg; break;
		default:
			return sg_error_set(err, SG_E_USAGE, "unrecognized option '%s'",
					    argv[optind - 1]);
		}
		longindex = -1;
	}
	a->first_arg = optind;
	return 0;
}

static int
load_config(const struct keys_args *a, struct sg_error *err)
{
	return sg_key_set_config(a->config, err);
}

static const char label_usage[] = "--label must be printable UTF-8 of at most 128 bytes, without "
				  "; ? % / or spaces";

static int
shred_file(const char *path, struct sg_error *err)
{
	/* Only a regular file: never through a link, never blocking on a FIFO or zeroing a device. */
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	uint8_t zero[4096] = { 0 };

	if (fd < 0 && errno == ELOOP)
		return sg_error_set(err, SG_E_IO,
				    "cannot shred '%s': a symbolic link (not followed)", path);
	if (fd < 0 && errno == ENXIO)
		return sg_error_set(err, SG_E_IO, "cannot shred '%s': not a regular file", path);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return sg_error_set(err, SG_E_IO, "cannot shred '%s': %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return sg_error_set(err, SG_E_IO, "cannot shred '%s': not a regular file", path);
	}
	for (off_t off = 0; off < st.st_size; off += (off_t)sizeof(zero)) {
		size_t n = (size_t)(st.st_size - off) < sizeof(zero) ? (size_t)(st.st_size - off) :
								       sizeof(zero);
		if (pwrite(fd, zero, n, off) != (ssize_t)n) {
			close(fd);
			return sg_error_set(err, SG_E_IO, "cannot shred '%s'", path);
		}
	}
	fsync(fd);
	close(fd);
	if (unlink(path) < 0)
		return sg_error_set(err, SG_E_IO, "cannot remove '%s' after shredding", path);
	return 0;
}

static int
keys_import(int argc, char **argv)
{
	_cleanup_(sg_crypto_freep) struct sg_crypto *crypto = NULL;
	_cleanup_(sg_secmem_freep) struct sg_secmem *a = NULL, *b = NULL;
	_cleanup_(sg_key_admin_freep) struct sg_key_admin *t = NULL;
	_cleanup_(sg_key_pair_done) struct sg_key_pair pair = { 0 };
	struct sg_error err = { 0 };
	struct keys_args k;
	const uint8_t *tik, *tek;
	int r;

	if ((r = parse(argc, argv, &k, &err)) < 0 || (r = load_config(&k, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (!k.token || !k.label || k.first_arg != argc ||
	    (k.tk ? (k.tik || k.tek) : (!k.tik || !k.tek)))
		return sg_cmd_fail("usage: sevgate keys import --tik FILE --tek FILE | --tk FILE "
				   "--token URI --label NAME [--shred] [--pin-file FILE]",
				   SG_E_USAGE);
	if (!sg_key_label_valid(k.label))
		return sg_cmd_fail(label_usage, SG_E_USAGE);
	if ((r = sg_crypto_new(&crypto, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (k.tk) {
		if ((r = sg_file_read_secret(k.tk, 64, "TIK/TEK", &a, &err)) < 0)
			return sg_cmd_fail(err.msg, r);
		if (a->len != 2 * SG_KEY_LEN)
			return sg_cmd_fail("Expected 32 bytes in TIK/TEK file", SG_E_USAGE);
		tek = a->data;
		tik = a->data + SG_KEY_LEN;
	} else {
		if ((r = sg_file_read_secret(k.tik, 64, "TIK", &a, &err)) < 0 ||
		    (r = sg_file_read_secret(k.tek, 64, "TEK", &b, &err)) < 0)
			return sg_cmd_fail(err.msg, r);
		if (a->len != SG_KEY_LEN || b->len != SG_KEY_LEN)
			return sg_cmd_fail(a->len != SG_KEY_LEN ? "Expected 16 bytes in TIK file" :
								  "Expected 16 bytes in TEK file",
					   SG_E_USAGE);
		tik = a->data;
		tek = b->data;
	}
	if ((r = sg_key_admin_open(k.token, &k.kopts, true, &t, &err)) < 0 ||
	    (r = sg_key_admin_create_pair(t, k.label, tik, tek, &pair, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if ((r = sg_key_admin_verify_pair(crypto, pair.uri_tik, pair.uri_tek, &k.kopts, tik, tek,
					  &err)) < 0) {
		sg_key_admin_destroy_pair(t, &pair);
		return sg_cmd_fail(err.msg, r);
	}
	if (k.shred) {
		if ((r = shred_file(k.tk ? k.tk : k.tik, &err)) < 0 ||
		    (!k.tk && (r = shred_file(k.tek, &err)) < 0))
			return sg_cmd_fail(err.msg, r);
	}
	fputs("tik: ", stdout);
	sg_fputs_escaped(pair.uri_tik, stdout);
	fputs("\ntek: ", stdout);
	sg_fputs_escaped(pair.uri_tek, stdout);
	fputc('\n', stdout);
	if (pair.shared_id) {
		fputs("tk: ", stdout);
		sg_fputs_escaped(pair.uri_tk, stdout);
		fputc('\n', stdout);
	} else {
		fputs("note: token '", stderr);
		sg_fputs_escaped(sg_key_admin_token_label(t), stderr);
		fputs("' cannot hold two keys with one CKA_ID, so the pair has no single --tk "
		      "URI: use --tik and --tek\n",
		      stderr);
	}
	return SG_EXIT_OK;
}

/* RFC 7512 path values: percent-encode everything but unreserved characters. */
static void
pct_encode(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	for (; *in && o + 4 < cap; in++) {
		unsigned char ch = (unsigned char)*in;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch))
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02x", ch);
	}
	out[o] = '\0';
}

/*
 * keys store-secret FILE: a secret (a disk passphrase) as a private token data
 * object, so manifests can release it by URI without it ever being on disk.
 */
static int
keys_store_secret(int argc, char **argv)
{
	_cleanup_(sg_secmem_freep) struct sg_secmem *data = NULL;
	_cleanup_(sg_key_admin_freep) struct sg_key_admin *t = NULL;
	_cleanup_(sg_freep) char *uri = NULL;
	struct sg_error err = { 0 };
	struct keys_args k;
	int r;

	if ((r = parse(argc, argv, &k, &err)) < 0 || (r = load_config(&k, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (!k.token || !k.label || k.first_arg != argc - 1)
		return sg_cmd_fail("usage: sevgate keys store-secret FILE --token URI --label NAME "
				   "[--shred] [--pin-file FILE]",
				   SG_E_USAGE);
	if (!sg_key_label_valid(k.label))
		return sg_cmd_fail(label_usage, SG_E_USAGE);
	if ((r = sg_file_read_secret(argv[k.first_arg], SG_KEY_DATA_MAX, "secret", &data, &err)) <
	    0)
		return sg_cmd_fail(err.msg, r);
	/* As an empty --inject-secret file is: a data object with no bytes releases nothing. */
	if (data->len == 0) {
		sg_error_set(&err, SG_E_USAGE, "secret file '%s' is empty", argv[k.first_arg]);
		return sg_cmd_fail(err.msg, SG_E_USAGE);
	}
	if ((r = sg_key_admin_open(k.token, &k.kopts, true, &t, &err)) < 0 ||
	    (r = sg_key_admin_store_data(t, k.label, data->data, data->len, &uri, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (k.shred && (r = shred_file(argv[k.first_arg], &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	fputs("secret: ", stdout);
	sg_fputs_escaped(uri, stdout);
	fputc('\n', stdout);
	return SG_EXIT_OK;
}

/* An EC P-256 signing key pair generated in the token: the audit log's signer. */
static int
keys_generate_audit_key(int argc, char **argv)
{
	_cleanup_(sg_key_admin_freep) struct sg_key_admin *t = NULL;
	_cleanup_(sg_key_ec_done) struct sg_key_ec ec = { 0 };
	struct sg_error err = { 0 };
	struct keys_args k;
	int r;

	if ((r = parse(argc, argv, &k, &err)) < 0 || (r = load_config(&k, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (!k.token || !k.label || !k.pubout || k.first_arg != argc)
		return sg_cmd_fail(
			"usage: sevgate keys generate-audit-key --token URI --label NAME "
			"--pubout FILE.pem [--pin-file FILE]",
			SG_E_USAGE);
	if (!sg_key_label_valid(k.label))
		return sg_cmd_fail(label_usage, SG_E_USAGE);
	if ((r = sg_key_admin_open(k.token, &k.kopts, true, &t, &err)) < 0 ||
	    (r = sg_key_admin_generate_ec(t, k.label, &ec, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if ((r = sg_key_write_pubkey_pem(k.pubout, ec.point, &err)) < 0) {
		sg_key_admin_destroy_ec(t, &ec);
		return sg_cmd_fail(err.msg, r);
	}
	fputs("audit-key: ", stdout);
	sg_fputs_escaped(ec.uri, stdout);
	/* --pubout -: the PEM is already on standard output, above this line. */
	if (strcmp(k.pubout, "-")) {
		fputs("\npublic key: ", stdout);
		sg_fputs_escaped(k.pubout, stdout);
	}
	fputc('\n', stdout);
	return SG_EXIT_OK;
}

static int
print_key(void *ctx, const struct sg_key_object *o, struct sg_error *err)
{
	char idhex[2 * SG_KEY_ID_MAX + 1], etok[3 * 32 + 1], elab[3 * SG_KEY_LABEL_MAX + 1];

	(void)ctx;
	(void)err;
	sg_hex_encode(o->id, o->id_len, idhex);
	pct_encode(o->token, etok, sizeof(etok));
	pct_encode(o->label, elab, sizeof(elab));
	sg_fputs_escaped(o->label, stdout);
	printf("\tid=%s\t%s\t%lu bytes\t%s,%s,%s\tpkcs11:token=%s;object=%s;type=secret-key\n",
	       idhex, sg_key_object_type_name(o->type), o->value_len,
	       o->sensitive ? "sensitive" : "NOT-sensitive",
	       o->extractable ? "EXTRACTABLE" : "non-extractable",
	       o->private_obj ? "private" : "public", etok, elab);
	return 0;
}

static int
delete_key(void *ctx, const struct sg_key_object *o, struct sg_error *err)
{
	char idhex[2 * SG_KEY_ID_MAX + 1];
	int r;

	(void)ctx;
	if ((r = sg_key_admin_delete_object(o, err)) < 0)
		return r;
	sg_hex_encode(o->id, o->id_len, idhex);
	fputs("deleted: token=", stdout);
	sg_fputs_escaped(o->token, stdout);
	fputs(" object=", stdout);
	sg_fputs_escaped(o->label, stdout);
	printf(" id=%s\n", idhex);
	return 0;
}

int
sg_cmd_keys(int argc, char **argv)
{
	struct sg_error err = { 0 };
	struct keys_args k;
	int r;

	if (argc < 2)
		return sg_cmd_fail("usage: sevgate keys import|store-secret|list|delete|prune ...",
				   SG_E_USAGE);
	if ((argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) ||
	    (argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")))) {
		sg_command_synopsis(keys_command(), stdout);
		return SG_EXIT_OK;
	}
	if (!strcmp(argv[1], "import"))
		return keys_import(argc - 1, argv + 1);
	if (!strcmp(argv[1], "store-secret"))
		return keys_store_secret(argc - 1, argv + 1);
	if (!strcmp(argv[1], "generate-audit-key"))
		return keys_generate_audit_key(argc - 1, argv + 1);
	if ((r = parse(argc - 1, argv + 1, &k, &err)) < 0 || (r = load_config(&k, &err)) < 0)
		return sg_cmd_fail(err.msg, r);
	if (!strcmp(argv[1], "list")) {
		r = sg_key_admin_walk(k.token ? k.token : "pkcs11:", &k.kopts, SG_KEY_WALK_PRIVATE,
				      NULL, print_key, NULL, &err);
	} else if (!strcmp(argv[1], "prune")) {
		if (!k.prefix || !*k.prefix)
			return sg_cmd_fail("prune needs a non-empty --label-prefix", SG_E_USAGE);
		r = sg_key_admin_walk(k.token ? k.token : "pkcs11:", &k.kopts, SG_KEY_WALK_RW,
				      k.prefix, delete_key, NULL, &err);
	} else if (!strcmp(argv[1], "delete")) {
		if (k.first_arg + 1 >= argc)
			return sg_cmd_fail("usage: sevgate keys delete URI...", SG_E_USAGE);
		/* Every URI is checked before anything is deleted: a URI too broad deletes nothing. */
		for (int i = k.first_arg + 1; i < argc && r >= 0; i++) {
			r = sg_key_admin_walk(argv[i], &k.kopts, 0, NULL, NULL, NULL, &err);
			if (r == 0 || r > 2) {
				_cleanup_(sg_freep) char *shown = sg_key_uri_redact(argv[i]);

				r = sg_error_set(&err, SG_E_KEY,
						 "key URI '%s' matched %d keys, expected 1 or a "
						 "pair",
						 shown, r);
			}
		}
		for (int i = k.first_arg + 1; i < argc && r >= 0; i++)
			r = sg_key_admin_walk(argv[i], &k.kopts, SG_KEY_WALK_RW, NULL, delete_key,
					      NULL, &err);
	} else {
		return sg_cmd_fail("usage: sevgate keys import|store-secret|list|delete|prune ...",
				   SG_E_USAGE);
	}
	if (r < 0)
		return sg_cmd_fail(err.msg, r);
	return SG_EXIT_OK;
}
