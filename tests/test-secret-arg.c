/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The command line's ALIAS-OR-GUID:PATH (src/cli/secret-arg.c). */
#include <string.h>

#include "vectors.h"
#include "cli/secret-arg.h"

struct case_arg {
	const char *id;
	const char *arg;
	int rc;
	const char *guid, *path, *msg;
};

static const struct case_arg arg_cases[] = {
	{ "arg-alias", "luks-key:/tmp/s", 0, "736869e5-84f0-4973-92ec-06879ce3da0b", "/tmp/s",
	  NULL },
	{ "arg-first-colon-only", "luks-key:/a:b:c", 0, "736869e5-84f0-4973-92ec-06879ce3da0b",
	  "/a:b:c", NULL },
	{ "arg-guid", "0123abcd-0000-1111-2222-333344445555:x", 0,
	  "0123abcd-0000-1111-2222-333344445555", "x", NULL },
	{ "arg-empty-path", "luks-key:", 0, "736869e5-84f0-4973-92ec-06879ce3da0b", "", NULL },
	{ "arg-no-colon", "luks-key", SG_E_USAGE, NULL, NULL,
	  "Expecting ALIAS-OR-GUID:PATH for injected secret" },
	{ "arg-unknown-alias", "foo:/x", SG_E_USAGE, NULL, NULL,
	  "Secret alias 'foo' is not known" },
	{ "arg-empty-alias", ":/x", SG_E_USAGE, NULL, NULL, "Secret alias '' is not known" },
	{ "arg-upper-guid", "736869E5-84F0-4973-92EC-06879CE3DA0B:p", 0,
	  "736869e5-84f0-4973-92ec-06879ce3da0b", "p", NULL },
	{ "arg-braced-guid", "{736869e5-84f0-4973-92ec-06879ce3da0b}:p", SG_E_USAGE, NULL, NULL,
	  "Secret alias '{736869e5-84f0-4973-92ec-06879ce3da0b}' is not known" },
	{ "arg-long-alias",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:p",
	  SG_E_USAGE, NULL, NULL,
	  "Secret alias 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is not known" },
};

static void
test_arg(void **state)
{
	const struct case_arg *t = *state;
	struct sg_error err = { 0 };
	struct sg_secret_spec s, before;
	char text[SG_GUID_STR_LEN + 1];
	int rc;

	memset(&s, 0xee, sizeof(s));
	before = s;
	rc = sg_cli_secret_arg_parse(t->arg, &s, &err);
	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		sg_guid_format(&s.guid, text);
		assert_string_equal(text, t->guid);
		assert_string_equal(s.path, t->path);
		assert_ptr_equal(s.path, strchr(t->arg, ':') + 1); /* points into the argument */
		assert_null(s.invalid);
		return;
	}
	TV_ASSERT_ERR(rc, &err, t->rc);
	assert_string_equal(err.msg, t->msg);
	assert_memory_equal(&s, &before, sizeof(s));
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(arg_cases)];
	size_t n = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(arg_cases); i++)
		tests[n++] = ROW(test_arg, arg_cases, i);
	return tv_main(argc, argv, "secret-arg", tests, n, NULL, 0);
}
