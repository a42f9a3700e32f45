/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Custody probe for the token tests: log in to the token the URI names and
 * try to read CKA_VALUE of every secret key it matches. Prints one line
 * per key with the CK_RV name; exits 0 only if no value could be read.
 *   p11-probe URI [PIN-FILE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key/key.h"
#include "key/p11.h"

int
main(int argc, char **argv)
{
	struct sg_key_options o = { .pin_file = argc > 2 ? argv[2] : NULL };
	struct sg_error err = { 0 };
	struct sg_p11_token **toks = NULL;
	P11KitUri *uri = NULL;
	int n, leaked = 0, seen = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: p11-probe URI [PIN-FILE]\n");
		return 2;
	}
	if (sg_p11_uri_parse(argv[1], false, &uri, &err) < 0 ||
	    (n = sg_p11_tokens(uri, argv[1], &o, false, &toks, &err)) < 0) {
		fprintf(stderr, "p11-probe: %s\n", err.msg);
		return 2;
	}
	for (int i = 0; i < n; i++) {
		const struct sg_p11_keyent **ents = NULL;
		CK_ULONG nobj = 0;

		if (sg_p11_find_keys(toks[i], uri, &ents, &nobj, &err) < 0) {
			fprintf(stderr, "p11-probe: %s\n", err.msg);
			return 2;
		}
		for (CK_ULONG j = 0; j < nobj; j++) {
			unsigned char buf[256];
			CK_ATTRIBUTE at = { CKA_VALUE, buf, sizeof(buf) };
			CK_RV rv = toks[i]->fl->C_GetAttributeValue(toks[i]->session, ents[j]->handle, &at, 1);

			seen++;
			printf("key %lu: CKA_VALUE -> %s\n", (unsigned long)ents[j]->handle, sg_p11_rv_name(rv));
			if (rv == CKR_OK && at.ulValueLen != (CK_ULONG)-1)
				leaked++;
		}
		free(ents);
	}
	free(toks);
	p11_kit_uri_free(uri);
	sg_p11_shutdown();
	printf("%d keys probed, %d values readable\n", seen, leaked);
	return seen > 0 && leaked == 0 ? 0 : 1;
}
