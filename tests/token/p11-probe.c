/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Custody probe for the token tests: log in to the token the URI names and
 * try to read CKA_VALUE of every secret key it matches. Prints one line
 * per key with the CK_RV name; exits 0 only if no value could be read.
 *   p11-probe URI [PIN-FILE]
 * It also makes the odd keys the fault tests need (sevgate keys import
 * never creates them):
 *   p11-probe --create TOKEN-URI LABEL aes|generic BYTES SENSITIVE EXTRACTABLE
 * and looks for copies of the PIN left in its own memory after the login:
 *   p11-probe --pin-scan URI-FILE PIN-XOR-HEX [PIN-FILE]
 * (the URI is read from a file and the PIN given XORed with 0x5a, so neither
 * argv nor the probe's own buffers hold the PIN in clear).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "key/key.h"
#include "key/p11.h"
#include "util/secmem.h"
#include "pinscan.h"

static int
create(char **argv)
{
	struct sg_key_options o = { 0 };
	struct sg_error err = { 0 };
	struct sg_p11_token **toks = NULL;
	P11KitUri *uri = NULL;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = strcmp(argv[4], "aes") ? CKK_GENERIC_SECRET : CKK_AES;
	CK_BBOOL yes = CK_TRUE, sens = atoi(argv[6]) ? CK_TRUE : CK_FALSE;
	CK_BBOOL extr = atoi(argv[7]) ? CK_TRUE : CK_FALSE;
	unsigned char value[64] = { 0x42 };
	CK_ULONG len = strtoul(argv[5], NULL, 0);
	CK_OBJECT_HANDLE h;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &sens, sizeof(sens) },
		{ CKA_EXTRACTABLE, &extr, sizeof(extr) },
		{ CKA_LABEL, argv[3], strlen(argv[3]) },
		{ CKA_VALUE, value, len },
		{ type == CKK_AES ? CKA_ENCRYPT : CKA_SIGN, &yes, sizeof(yes) },
		{ type == CKK_AES ? CKA_DECRYPT : CKA_VERIFY, &yes, sizeof(yes) },
	};
	struct sg_p11_op op;
	CK_RV rv;

	if (len > sizeof(value) || sg_p11_uri_parse(argv[2], false, &uri, &err) < 0 ||
	    sg_p11_tokens(uri, argv[2], &o, &toks, &err) < 1 ||
	    sg_p11_begin(toks[0], SG_P11_RW, &op, &err) < 0) {
		fprintf(stderr, "p11-probe: %s\n", err.msg);
		return 2;
	}
	rv = op.fl->C_CreateObject(op.session, t, sizeof(t) / sizeof(t[0]), &h);
	sg_p11_end(&op);
	free(toks);
	p11_kit_uri_free(uri);
	sg_p11_shutdown();
	if (rv != CKR_OK) {
		fprintf(stderr, "p11-probe: C_CreateObject: %s\n", sg_p11_rv_name(rv));
		return 1;
	}
	return 0;
}

static int
pin_scan(int argc, char **argv)
{
	struct sg_key_options o = { .pin_file = argc > 4 ? argv[4] : NULL,
				    .allow_pin_value = true };
	struct sg_error err = { 0 };
	struct sg_p11_token **toks = NULL;
	P11KitUri *uri = NULL;
	unsigned char xpin[256];
	size_t n = strlen(argv[3]) / 2;
	char *spec = calloc(1, 4096);
	int fd = open(argv[2], O_RDONLY | O_CLOEXEC), found;
	ssize_t got;

	if (!spec || fd < 0 || n > sizeof(xpin) || n < PINSCAN_WINDOW ||
	    (got = read(fd, spec, 4095)) <= 0) {
		fprintf(stderr, "usage: p11-probe --pin-scan URI-FILE PIN-XOR-HEX [PIN-FILE]\n");
		return 2;
	}
	close(fd);
	while (got > 0 && (spec[got - 1] == '\n'))
		spec[--got] = '\0';
	for (size_t i = 0; i < n; i++)
		sscanf(argv[3] + 2 * i, "%2hhx", &xpin[i]);
	if (sg_p11_uri_parse(spec, true, &uri, &err) < 0 ||
	    sg_p11_tokens(uri, spec, &o, &toks, &err) < 1) {
		fprintf(stderr, "p11-probe: %s\n", err.msg);
		return 2;
	}
	struct sg_p11_stats st;

	sg_p11_token_stats(toks[0], &st);
	if (st.logins == 0) {
		fprintf(stderr, "p11-probe: the token needed no login\n");
		return 2;
	}
	free(toks);
	p11_kit_uri_free(uri);
	/* the caller's own copy of the URI is the caller's to wipe */
	sg_wipe(spec, 4096);
	free(spec);
	if ((found = pinscan(xpin, n, 0, 0, stdout)) < 0) {
		fprintf(stderr, "p11-probe: cannot read /proc/self/maps or mem\n");
		return 2;
	}
	printf("logged in; %d mappings hold a piece of the PIN\n", found);
	sg_p11_shutdown();
	return found ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct sg_key_options o = { .pin_file = argc > 2 ? argv[2] : NULL };
	struct sg_error err = { 0 };
	struct sg_p11_token **toks = NULL;
	P11KitUri *uri = NULL;
	int n, leaked = 0, seen = 0;

	if (argc == 8 && !strcmp(argv[1], "--create"))
		return create(argv);
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "--pin-scan"))
		return pin_scan(argc, argv);
	if (argc < 2) {
		fprintf(stderr, "usage: p11-probe URI [PIN-FILE]\n");
		return 2;
	}
	if (sg_p11_uri_parse(argv[1], false, &uri, &err) < 0 ||
	    (n = sg_p11_tokens(uri, argv[1], &o, &toks, &err)) < 0) {
		fprintf(stderr, "p11-probe: %s\n", err.msg);
		return 2;
	}
	for (int i = 0; i < n; i++) {
		struct sg_p11_keyent *ents = NULL;
		struct sg_p11_op op;
		CK_ULONG nobj = 0;
		uint64_t gen;

		if (sg_p11_find_keys(toks[i], uri, &ents, &nobj, &gen, &err) < 0 ||
		    sg_p11_begin(toks[i], 0, &op, &err) < 0) {
			fprintf(stderr, "p11-probe: %s\n", err.msg);
			return 2;
		}
		for (CK_ULONG j = 0; j < nobj; j++) {
			unsigned char buf[256];
			CK_ATTRIBUTE at = { CKA_VALUE, buf, sizeof(buf) };
			CK_RV rv = op.fl->C_GetAttributeValue(op.session, ents[j].handle, &at, 1);

			seen++;
			printf("key %lu: CKA_VALUE -> %s\n", (unsigned long)ents[j].handle,
			       sg_p11_rv_name(rv));
			if (rv == CKR_OK && at.ulValueLen != (CK_ULONG)-1)
				leaked++;
		}
		sg_p11_end(&op);
		free(ents);
	}
	free(toks);
	p11_kit_uri_free(uri);
	sg_p11_shutdown();
	printf("%d keys probed, %d values readable\n", seen, leaked);
	return seen > 0 && leaked == 0 ? 0 : 1;
}
