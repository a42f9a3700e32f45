/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/key/p11.c: URI redaction and unknown query attributes. */
#include <stdlib.h>
#include <string.h>

#include "vectors.h"
#include "key/p11.h"

/* ---- sg_p11_uri_redact: no part of the PIN survives, everything else does ---- */

struct case_redact {
	const char *id;
	const char *spec;
	const char *gone[3]; /* no redacted text may hold these */
	const char *kept[3]; /* ... and must still name these (as p11-kit formats them) */
	bool same;	     /* no PIN: the text comes back unchanged */
};

static const struct case_redact redact_cases[] = {
	{ "query-question-mark",
	  "pkcs11:token=t;object=k?module-name=m&pin-value=PIN4?tail-9x",
	  { "PIN4", "tail-9x", "pin-value" },
	  { "token=t", "object=k", "module-name=m" },
	  false },
	{ "query-question-mark-last",
	  "pkcs11:token=t?pin-value=PIN4?tail-9x",
	  { "PIN4", "tail", "9x" },
	  { "token=t", NULL, NULL },
	  false },
	{ "query-ampersand-escaped",
	  "pkcs11:token=t?pin-value=amp%26ersand&module-name=m",
	  { "amp", "ersand", "%26" },
	  { "token=t", "module-name=m", NULL },
	  false },
	{ "query-semicolon",
	  "pkcs11:token=t?pin-value=semi;colon-77&module-name=m",
	  { "semi", "colon-77", "pin-value" },
	  { "token=t", "module-name=m", NULL },
	  false },
	{ "query-percent-escapes",
	  "pkcs11:token=t?module-name=m&pin-value=%50%49%4e%2d%71",
	  { "%50%49", "PIN-q", "%4e" },
	  { "token=t", "module-name=m", NULL },
	  false },
	{ "query-first",
	  "pkcs11:token=t?pin-value=first-pin-8&module-name=m",
	  { "first-pin-8", "pin-value", NULL },
	  { "token=t", "module-name=m", NULL },
	  false },
	{ "path-pin",
	  "pkcs11:token=t;pin-value=path-pin-3;object=k",
	  { "path-pin-3", "pin-value", NULL },
	  { "token=t", "object=k", NULL },
	  false },
	/* a PIN in the path ends at '?': the rest is no valid query, the URI is not shown */
	{ "path-pin-question-mark",
	  "pkcs11:token=t;pin-value=PIN4?tail-9x",
	  { "PIN4", "tail-9x", "pin-value" },
	  { "pkcs11:", NULL, NULL },
	  false },
	{ "two-pins",
	  "pkcs11:token=t;pin-value=one-pin-1?pin-value=two-pin-2",
	  { "one-pin-1", "two-pin-2", NULL },
	  { "token=t", NULL, NULL },
	  false },
	{ "no-pin",
	  "pkcs11:token=t;object=k?module-path=/usr/lib/m.so&pin-source=file:/etc/p",
	  { "pin-value", NULL, NULL },
	  { NULL, NULL, NULL },
	  true },
};

static void
test_redact(void **state)
{
	const struct case_redact *t = *state;
	char *shown = sg_p11_uri_redact(t->spec);

	assert_non_null(shown);
	print_message("%s -> %s\n", t->spec, shown);
	if (t->same)
		assert_string_equal(shown, t->spec);
	for (size_t i = 0; i < SG_ELEMENTSOF(t->gone) && t->gone[i]; i++)
		assert_null(strstr(shown, t->gone[i]));
	for (size_t i = 0; i < SG_ELEMENTSOF(t->kept) && t->kept[i]; i++)
		assert_non_null(strstr(shown, t->kept[i]));
	free(shown);
}

/* ---- sg_p11_uri_parse: query attributes sevgate does not know are refused ---- */

struct case_parse {
	const char *id;
	const char *spec;
	bool allow_pin_value;
	int rc;
	const char *msg; /* a substring of the message */
};

static const struct case_parse parse_cases[] = {
	{ "known-query", "pkcs11:token=t?module-path=/m.so&pin-source=file:/p", false, 0, NULL },
	{ "module-name", "pkcs11:token=t;object=k?module-name=softhsm2", false, 0, NULL },
	{ "unknown-query", "pkcs11:token=t?foo=bar", false, SG_E_USAGE,
	  "query attribute 'foo' sevgate does not know" },
	{ "unknown-query-after-known", "pkcs11:token=t?module-path=/m.so&modul-name=x", false,
	  SG_E_USAGE, "query attribute 'modul-name' sevgate does not know" },
	{ "unknown-query-pin-kept-out", "pkcs11:token=t?pin-value=secret-55&x-vendor=1", true,
	  SG_E_USAGE, "query attribute 'x-vendor' sevgate does not know" },
	{ "unknown-path", "pkcs11:token=t;colour=red", false, SG_E_USAGE,
	  "has an attribute sevgate does not know" },
	{ "pin-value-refused", "pkcs11:token=t?pin-value=1234", false, SG_E_INSECURE, "pin-value" },
	{ "pin-value-allowed", "pkcs11:token=t?pin-value=PIN4?tail-9x", true, 0, NULL },
	{ "bad-syntax-pin", "pkcs11:token=t;pin-value=PIN4?tail-9x", true, SG_E_USAGE,
	  "invalid PKCS#11 URI" },
};

static void
test_parse(void **state)
{
	const struct case_parse *t = *state;
	struct sg_error err = { 0 };
	P11KitUri *uri = NULL;
	int rc = sg_p11_uri_parse(t->spec, t->allow_pin_value, &uri, &err);

	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		/* issue 11 #8: p11-kit never sees the PIN; sevgate keeps it in locked memory */
		assert_null(p11_kit_uri_get_pin_value(uri));
		p11_kit_uri_free(uri);
		return;
	}
	TV_ASSERT_ERR(rc, &err, t->rc);
	print_message("%s\n", err.msg);
	assert_non_null(strstr(err.msg, t->msg));
	/* no message holds any part of a PIN */
	assert_null(strstr(err.msg, "secret-55"));
	assert_null(strstr(err.msg, "tail-9x"));
	assert_null(strstr(err.msg, "1234"));
}

int
main(int argc, char **argv)
{
	struct CMUnitTest unit[SG_ELEMENTSOF(redact_cases) + SG_ELEMENTSOF(parse_cases)];
	size_t n = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(redact_cases); i++)
		unit[n++] = ROW(test_redact, redact_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(parse_cases); i++)
		unit[n++] = ROW(test_parse, parse_cases, i);
	return tv_main(argc, argv, "p11", unit, n, NULL, 0);
}
