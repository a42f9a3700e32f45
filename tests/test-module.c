/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/util/module.c: a failed load is reported once, as the caller's code. */
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "vectors.h"
#include "util/module.h"

enum dir {
	DIR_TMP,  /* an empty directory */
	DIR_LIBC, /* the directory libc was loaded from */
	DIR_LONG, /* longer than PATH_MAX */
};

struct case_load {
	const char *id;
	enum dir dir;
	const char *name; /* NULL: libc's file name */
	const char *symbol;
	const char *what;
	int code;
	/* expected */
	int rc;
	const char *msg_start, *msg_has;
};

static const struct case_load cases[] = {
	{ "found", DIR_LIBC, NULL, "gnu_get_libc_version", "libc", SG_E_KEY, 0, NULL, NULL },
	{ "missing-virt", DIR_TMP, "sevgate-virt.so", "sg_virt_backend", "libvirt guests",
	  SG_E_VIRT, SG_E_VIRT, "libvirt guests need ", "/sevgate-virt.so: " },
	{ "missing-key", DIR_TMP, "sevgate-pkcs11.so", "sg_pkcs11_backend", "PKCS#11 keys",
	  SG_E_KEY, SG_E_KEY, "PKCS#11 keys need ", "/sevgate-pkcs11.so: " },
	{ "no-symbol", DIR_LIBC, NULL, "sg_no_such_backend", "PKCS#11 keys", SG_E_KEY, SG_E_KEY,
	  NULL, " is not a sevgate module (no sg_no_such_backend)" },
	{ "path-too-long", DIR_LONG, "sevgate-virt.so", "sg_virt_backend", "libvirt guests",
	  SG_E_VIRT, SG_E_VIRT, "libvirt guests need sevgate-virt.so: its path is too long", NULL },
};

static char libc_dir[PATH_MAX], libc_name[PATH_MAX], long_dir[PATH_MAX + 16];

static void
find_libc(void)
{
	Dl_info info;
	char a[PATH_MAX], b[PATH_MAX];

	/* A libc function nothing intercepts (not strlen: ASan has its own). */
	assert_true(dladdr((void *)gnu_get_libc_version, &info) != 0 && info.dli_fname);
	snprintf(a, sizeof(a), "%s", info.dli_fname);
	snprintf(b, sizeof(b), "%s", info.dli_fname);
	snprintf(libc_dir, sizeof(libc_dir), "%s", dirname(a));
	snprintf(libc_name, sizeof(libc_name), "%s", basename(b));
	memset(long_dir, 'd', sizeof(long_dir) - 1);
	long_dir[0] = '/';
	long_dir[sizeof(long_dir) - 1] = '\0';
}

static void
test_load(void **state)
{
	const struct case_load *t = *state;
	struct sg_error err = { 0 };
	const void *sentinel = &err, *sym = sentinel;
	const char *dir = t->dir == DIR_TMP  ? tv_tmpdir() :
			  t->dir == DIR_LIBC ? libc_dir :
					       long_dir;
	int rc;

	assert_int_equal(setenv("SEVGATE_MODULE_DIR", dir, 1), 0);
	rc = sg_module_load(t->name ? t->name : libc_name, t->symbol, t->what, t->code, &sym, &err);
	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		assert_ptr_equal(sym, (const void *)gnu_get_libc_version);
		assert_int_equal(err.code, 0);
		return;
	}
	TV_ASSERT_ERR(rc, &err, t->rc);
	assert_ptr_equal(sym, sentinel);
	if (t->msg_start)
		assert_true(!strncmp(err.msg, t->msg_start, strlen(t->msg_start)));
	if (t->msg_has)
		assert_non_null(strstr(err.msg, t->msg_has));
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(cases)];

	find_libc();
	for (size_t i = 0; i < SG_ELEMENTSOF(cases); i++)
		tests[i] = ROW(test_load, cases, i);
	return tv_main(argc, argv, "module", tests, SG_ELEMENTSOF(cases), NULL, 0);
}
