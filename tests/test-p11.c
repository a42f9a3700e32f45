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

/* ---- sg_p11_uri_inspect: what p11-kit would act on, as it parses it ---- */

struct case_inspect {
	const char *id;
	const char *spec;
	int rc;
	bool pin_value, unknown;
	const char *module_path, *module_name, *pin_source;
};

static const struct case_inspect inspect_cases[] = {
	{ "plain", "pkcs11:token=t;object=k", 0, false, false, NULL, NULL, NULL },
	{ "space-in-module-path", "pkcs11:token=t;object=k?mod ule-path=/tmp/evil.so", 0, false,
	  false, "/tmp/evil.so", NULL, NULL },
	{ "space-before-equals", "pkcs11:token=t?module-path =/tmp/evil.so", 0, false, false,
	  "/tmp/evil.so", NULL, NULL },
	{ "newline-in-name", "pkcs11:token=t?module-\npath=/tmp/evil.so", 0, false, false,
	  "/tmp/evil.so", NULL, NULL },
	{ "encoded-value", "pkcs11:token=t?module-path=%2Ftmp%2Fevil.so", 0, false, false,
	  "/tmp/evil.so", NULL, NULL },
	{ "encoded-name-is-invalid", "pkcs11:token=t?module%2Dpath=/tmp/evil.so", SG_E_USAGE, false,
	  false, NULL, NULL, NULL },
	{ "duplicate-module-path", "pkcs11:token=t?module-path=/a.so&module-path=/b.so", 0, false,
	  false, "/b.so", NULL, NULL },
	{ "vendor-query-is-unknown", "pkcs11:token=t?x-vendor=1", 0, false, true, NULL, NULL,
	  NULL },
	{ "module-name", "pkcs11:token=t?module-name=softhsm2", 0, false, false, NULL, "softhsm2",
	  NULL },
	{ "space-in-pin-value", "pkcs11:token=t?pin -value=1234", 0, true, false, NULL, NULL,
	  NULL },
	{ "pin-value-in-path", "pkcs11:token=t;pin-value=1234", 0, true, false, NULL, NULL, NULL },
	{ "duplicate-pin-value", "pkcs11:token=t?pin-value=1&pin-value=2", 0, true, false, NULL,
	  NULL, NULL },
	{ "space-in-pin-source", "pkcs11:token=t?pin -source=file:%2Fetc%2Fp.pin", 0, false, false,
	  NULL, NULL, "file:/etc/p.pin" },
	{ "pinfile-alias", "pkcs11:token=t;pinfile=file:/etc/q.pin", 0, false, false, NULL, NULL,
	  "file:/etc/q.pin" },
	{ "invalid", "pkcs11:token=t;object=%zz", SG_E_USAGE, false, false, NULL, NULL, NULL },
};

static void
assert_str_or_null(const char *want, const char *got)
{
	if (!want)
		assert_null(got);
	else
		assert_string_equal(want, got);
}

static void
test_inspect(void **state)
{
	const struct case_inspect *t = *state;
	struct sg_error err = { 0 };
	struct sg_p11_uri_facts f;
	int rc = sg_p11_uri_inspect(t->spec, &f, &err);

	if (t->rc) {
		TV_ASSERT_ERR(rc, &err, t->rc);
		assert_null(strstr(err.msg, "1234"));
		return;
	}
	TV_ASSERT_OK(rc, &err);
	assert_int_equal(f.has_pin_value, t->pin_value);
	assert_int_equal(f.any_unknown, t->unknown);
	assert_str_or_null(t->module_path, f.module_path);
	assert_str_or_null(t->module_name, f.module_name);
	assert_str_or_null(t->pin_source, f.pin_source);
	sg_p11_uri_facts_done(&f);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest unit[SG_ELEMENTSOF(redact_cases) + SG_ELEMENTSOF(parse_cases) +
			       SG_ELEMENTSOF(inspect_cases)];
	size_t n = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(redact_cases); i++)
		unit[n++] = ROW(test_redact, redact_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(parse_cases); i++)
		unit[n++] = ROW(test_parse, parse_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(inspect_cases); i++)
		unit[n++] = ROW(test_inspect, inspect_cases, i);
	return tv_main(argc, argv, "p11", unit, n, NULL, 0);
}
