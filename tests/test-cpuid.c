/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/core/cpuid.c: the spec 4.4 signature formula and the QEMU model-name table. */
#include <string.h>

#include "vectors.h"
#include "core/cpuid.h"

struct case_sig {
	const char *id;
	uint32_t family, model, stepping;
	uint32_t sig;
};

static const struct case_sig sig_cases[] = {
	/* Spec 4.4 examples. */
	{ "naples-23-1-2", 23, 1, 2, 0x800f12 },
	{ "rome-23-49-0", 23, 49, 0, 0x830f10 },
	{ "milan-25-1-1", 25, 1, 1, 0xa00f11 },
	{ "genoa-25-17-0", 25, 17, 0, 0xa10f10 },
	{ "intel-6-63-2", 6, 63, 2, 0x306f2 },
	/* The vectors README list. */
	{ "turin-26-0-0", 26, 0, 0, 0xb00f00 },
	/* Family 0xf is the boundary: no extended family. */
	{ "family-15", 15, 0, 0, 0xf00 },
	{ "family-16", 16, 0, 0, 0x100f00 },
	{ "family-0", 0, 0, 0, 0x0 },
	/* Inputs are masked as the reference masks them. */
	{ "stepping-masked", 23, 49, 0x10 | 0x3, 0x830f13 },
	{ "model-masked", 23, 0x100 | 49, 0, 0x830f10 },
	{ "family-masked", 0x1000 | 23, 49, 0, 0x830f10 },
	{ "model-0xff", 25, 0xff, 0xf, 0xaf0fff },
	{ "family-max", 0xfff, 0, 0, 0xff000f00 },
};

static void
test_signature(void **state)
{
	const struct case_sig *t = *state;

	assert_int_equal(sg_cpuid_signature(t->family, t->model, t->stepping), t->sig);
}

struct case_name {
	const char *id; /* also the name looked up */
	int rc;
	uint32_t sig;
};

static const struct case_name name_cases[] = {
	{ "EPYC", 0, 0x800f12 },
	{ "EPYC-v1", 0, 0x800f12 },
	{ "EPYC-v2", 0, 0x800f12 },
	{ "EPYC-v3", 0, 0x800f12 },
	{ "EPYC-v4", 0, 0x800f12 },
	{ "EPYC-IBPB", 0, 0x800f12 },
	{ "EPYC-Rome", 0, 0x830f10 },
	{ "EPYC-Rome-v1", 0, 0x830f10 },
	{ "EPYC-Rome-v2", 0, 0x830f10 },
	{ "EPYC-Rome-v3", 0, 0x830f10 },
	{ "EPYC-Rome-v4", 0, 0x830f10 },
	{ "EPYC-Milan", 0, 0xa00f11 },
	{ "EPYC-Milan-v1", 0, 0xa00f11 },
	{ "EPYC-Milan-v2", 0, 0xa00f11 },
	{ "EPYC-Genoa", 0, 0xa10f10 },
	{ "EPYC-Genoa-v1", 0, 0xa10f10 },
	{ "EPYC-Turin", 0, 0xb00f00 },
	/* Unknown names fail with SG_E_USAGE. */
	{ "", SG_E_USAGE, 0 },
	{ "epyc", SG_E_USAGE, 0 },
	{ "EPYC-", SG_E_USAGE, 0 },
	{ "EPYC-v", SG_E_USAGE, 0 },
	{ "EPYC-v0", SG_E_USAGE, 0 },
	{ "EPYC-v10", SG_E_USAGE, 0 },
	{ "EPYC-V4", SG_E_USAGE, 0 },
	{ "EPYC-v4 ", SG_E_USAGE, 0 },
	{ "EPYC-Rome-", SG_E_USAGE, 0 },
	{ "EPYC-Rome-v", SG_E_USAGE, 0 },
	{ "EPYC-Romeo", SG_E_USAGE, 0 },
	{ "EPYC-Milan-v2x", SG_E_USAGE, 0 },
	{ "EPYC-Bergamo", SG_E_USAGE, 0 },
	{ "EPYCRome", SG_E_USAGE, 0 },
	{ "Opteron_G5", SG_E_USAGE, 0 },
	{ "host", SG_E_USAGE, 0 },
};

static void
test_lookup(void **state)
{
	const struct case_name *t = *state;
	struct sg_error err = { 0 };
	uint32_t sig = 0xeeeeeeee;
	int rc = sg_cpuid_lookup(t->id, &sig, &err);

	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		assert_int_equal(sig, t->sig);
		return;
	}
	TV_ASSERT_ERR(rc, &err, t->rc);
	assert_int_equal(sig, 0xeeeeeeee);
	/* The message names the input and lists what is known. */
	assert_non_null(strstr(err.msg, "EPYC-Milan"));
	if (t->id[0]) {
		char quoted[64];

		snprintf(quoted, sizeof(quoted), "'%s'", t->id);
		assert_non_null(strstr(err.msg, quoted));
	}
}

static void
test_names(void **state)
{
	const char *names = sg_cpuid_names();

	(void)state;
	assert_non_null(names);
	assert_non_null(strstr(names, "EPYC-Rome"));
	assert_non_null(strstr(names, "EPYC-Genoa"));
	assert_non_null(strstr(names, "EPYC-Turin"));
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(sig_cases) + SG_ELEMENTSOF(name_cases) + 1];
	size_t n = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(sig_cases); i++)
		tests[n++] = ROW(test_signature, sig_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(name_cases); i++) {
		tests[n] = ROW(test_lookup, name_cases, i);
		if (!name_cases[i].id[0])
			tests[n].name = "empty-name";
		n++;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_names);
	return tv_main(argc, argv, "cpuid", tests, n, NULL, 0);
}
