/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The option table (src/engine/guest-spec.c): one row per option, its
 * --help line and the manifest key it is.
 */
#include <string.h>

#include "vectors.h"
#include "engine/guest-spec.h"

struct case_mkey {
	const char *id;
	const char *key;
	bool in_release;
	int want_id; /* 0: not a manifest key there */
	enum sg_manifest_type want_type;
};

static const struct case_mkey mkeys[] = {
	{ "policy", "policy", false, SG_GOPT_POLICY, SG_MANIFEST_INT },
	{ "measurement", "measurement", false, 'm', SG_MANIFEST_STRING },
	{ "firmware", "firmware", false, 'f', SG_MANIFEST_PATH },
	{ "tk", "tk", false, SG_GOPT_TK, SG_MANIFEST_KEY },
	{ "insecure", "insecure", false, 'i', SG_MANIFEST_BOOL },
	{ "secret-header", "secret-header", false, SG_GOPT_SECRET_HEADER, SG_MANIFEST_PATH },
	{ "digests-plural", "allowed-launch-digests", true, SG_GOPT_ALLOWED_DIGEST,
	  SG_MANIFEST_LIST },
	{ "digest-singular", "allowed-launch-digest", true, 0, SG_MANIFEST_NONE },
	{ "min-build-u8", "min-build", true, SG_GOPT_MIN_BUILD, SG_MANIFEST_U8 },
	{ "min-api", "min-api", true, SG_GOPT_MIN_API, SG_MANIFEST_STRING },
	{ "allow-debug", "allow-debug", true, SG_GOPT_ALLOW_DEBUG, SG_MANIFEST_BOOL },
	/* Release keys are the release mapping's, not top-level keys, and the reverse. */
	{ "release-key-at-top", "require-policy", false, 0, SG_MANIFEST_NONE },
	{ "top-key-in-release", "policy", true, 0, SG_MANIFEST_NONE },
	/* Command-line only: the machine's own files and options, the front end's. */
	{ "inject-secret", "inject-secret", false, 0, SG_MANIFEST_NONE },
	{ "audit-log", "audit-log", false, 0, SG_MANIFEST_NONE },
	{ "pin-file", "pin-file", false, 0, SG_MANIFEST_NONE },
	{ "manifest", "manifest", false, 0, SG_MANIFEST_NONE },
	{ "json", "json", false, 0, SG_MANIFEST_NONE },
	/* The manifest's own keys are the loader's. */
	{ "version", "version", false, 0, SG_MANIFEST_NONE },
	{ "guest", "guest", false, 0, SG_MANIFEST_NONE },
	{ "unknown", "polcy", false, 0, SG_MANIFEST_NONE },
};

static void
test_manifest_key(void **state)
{
	const struct case_mkey *c = *state;
	const struct sg_guest_option *o = sg_guest_option_by_manifest_key(c->key, c->in_release);

	if (!c->want_id) {
		assert_null(o);
		return;
	}
	assert_non_null(o);
	assert_int_equal(o->id, c->want_id);
	assert_int_equal(o->manifest, c->want_type);
}

/* Every row: a name, help, a metavar exactly when it takes a value, one id, one name. */
static void
test_rows(void **state)
{
	size_t n, nmanifest = 0;
	const struct sg_guest_option *t = sg_guest_options(&n);

	(void)state;
	assert_true(n > 50);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(t[i].name);
		assert_non_null(t[i].help);
		assert_true(strlen(t[i].help) > 0 && strlen(t[i].help) <= 52);
		assert_int_equal(t[i].takes_value, t[i].metavar != NULL);
		assert_true(t[i].origins != 0);
		assert_true(t[i].section < SG_SECTION_COUNT);
		assert_ptr_equal(sg_guest_option_by_id(t[i].id), &t[i]);
		/* A front end's own option is never a manifest key. */
		if (t[i].frontend)
			assert_int_equal(t[i].manifest, SG_MANIFEST_NONE);
		/* A flag is a BOOL key; a value never is. */
		if (t[i].manifest != SG_MANIFEST_NONE) {
			nmanifest++;
			assert_int_equal(t[i].manifest == SG_MANIFEST_BOOL, !t[i].takes_value);
			assert_true(t[i].origins & SG_FROM_VALIDATE);
		}
		for (size_t j = 0; j < i; j++)
			assert_true(strcmp(t[i].name, t[j].name) != 0);
	}
	/* The 32 top-level keys of manifest version 1 and the 7 of its release mapping. */
	assert_int_equal(nmanifest, 39);
}

static void
test_find(void **state)
{
	(void)state;
	assert_int_equal(sg_guest_option_find(SG_ORIGIN_COMPAT, "tik")->id, SG_GOPT_TIK);
	/* The drop-in has no release policy, digest no keys. */
	assert_null(sg_guest_option_find(SG_ORIGIN_COMPAT, "require-policy"));
	assert_null(sg_guest_option_find(SG_ORIGIN_DIGEST, "tik"));
	assert_int_equal(sg_guest_option_find(SG_ORIGIN_DIGEST, "format")->id, SG_GOPT_FORMAT);
	assert_null(sg_guest_option_by_id(4242));
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(mkeys) + 8];
	size_t n = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(mkeys); i++)
		tests[n++] = (struct CMUnitTest){ .name = mkeys[i].id,
						  .test_func = test_manifest_key,
						  .initial_state = (void *)&mkeys[i] };
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_rows);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_find);
	return tv_main(argc, argv, "options", tests, n, NULL, 0);
}
