/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/util/fileio.c: mapping inputs, reading secrets, writing 0600 outputs. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vectors.h"
#include "util/fileio.h"

#define BOGUS ((struct sg_file *)0x1)

enum kind {
	K_REGULAR,
	K_EMPTY,
	K_DEVNULL,
	K_DEVZERO,
	K_DIR,
	K_MISSING,
	K_FIXTURE
};

struct case_map {
	const char *id;
	enum kind kind;
	size_t size; /* regular file size */
	size_t max;
	int rc;
	const char *msg_part; /* substring of the message on failure */
};

static const struct case_map map_cases[] = {
	{ "map-regular", K_REGULAR, 5000, SG_FILE_MAX, 0, NULL },
	{ "map-regular-at-limit", K_REGULAR, 4096, 4096, 0, NULL },
	{ "map-regular-over-limit", K_REGULAR, 4097, 4096, SG_E_LIMIT, "larger than 4096" },
	{ "map-empty-file", K_EMPTY, 0, SG_FILE_MAX, 0, NULL },
	{ "map-dev-null", K_DEVNULL, 0, SG_FILE_MAX, 0, NULL },
	{ "map-dev-zero-over-limit", K_DEVZERO, 0, 200000, SG_E_LIMIT, "larger than 200000" },
	{ "map-directory", K_DIR, 0, SG_FILE_MAX, SG_E_IO, "Is a directory" },
	{ "map-missing", K_MISSING, 0, SG_FILE_MAX, SG_E_IO, "does-not-exist" },
	{ "map-fixture-fw", K_FIXTURE, 8192, SG_FILE_MAX, 0, NULL },
};

static uint8_t *
pattern(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	return p;
}

static void
test_map(void **state)
{
	const struct case_map *t = *state;
	struct sg_error err = { 0 };
	struct sg_file *f = BOGUS;
	uint8_t *want = NULL;
	char *path = NULL;
	int rc;

	switch (t->kind) {
	case K_REGULAR:
	case K_EMPTY:
		want = pattern(t->size);
		path = tv_tmp_write(t->id, want, t->size);
		break;
	case K_DEVNULL: path = strdup("/dev/null"); break;
	case K_DEVZERO: path = strdup("/dev/zero"); break;
	case K_DIR: path = strdup(tv_tmpdir()); break;
	case K_MISSING: path = tv_tmp("does-not-exist"); break;
	case K_FIXTURE: path = tv_fixture("fw_synth.bin"); break;
	}
	rc = sg_file_map(path, t->max, "firmware", &f, &err);
	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		assert_non_null(f);
		assert_int_equal(f->len, t->size);
		assert_non_null(f->data);
		if (want && t->size)
			assert_memory_equal(f->data, want, t->size);
		if (t->kind == K_FIXTURE) {
			assert_int_equal(f->data[0], 0);
			assert_int_equal(f->data[250], 250);
			assert_int_equal(f->data[251], 0);
		}
		sg_file_free(f);
	} else {
		TV_ASSERT_ERR(rc, &err, t->rc);
		assert_ptr_equal(f, BOGUS);
		assert_non_null(strstr(err.msg, "firmware"));
		assert_non_null(strstr(err.msg, t->msg_part));
	}
	free(want);
	free(path);
}

static void
test_free_null(void **state)
{
	(void)state;
	sg_file_free(NULL);
}

struct case_secret {
	const char *id;
	size_t size, max;
	int rc;
};

static const struct case_secret secret_cases[] = {
	{ "secret-16", 16, 65536, 0 },
	{ "secret-empty", 0, 64, 0 },
	{ "secret-at-max", 64, 64, 0 },
	{ "secret-over-max", 65, 64, SG_E_LIMIT },
	{ "secret-missing", (size_t)-1, 64, SG_E_IO },
};

static void
test_read_secret(void **state)
{
	const struct case_secret *t = *state;
	struct sg_error err = { 0 };
	struct sg_secmem *m = (struct sg_secmem *)0x1;
	uint8_t *want = NULL;
	char *path;
	int rc;

	if (t->size == (size_t)-1) {
		path = tv_tmp("no-such-secret");
	} else {
		want = pattern(t->size);
		path = tv_tmp_write(t->id, want, t->size);
	}
	rc = sg_file_read_secret(path, t->max, "TIK", &m, &err);
	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		assert_int_equal(m->len, t->size);
		if (t->size)
			assert_memory_equal(m->data, want, t->size);
		sg_secmem_free(m);
	} else {
		TV_ASSERT_ERR(rc, &err, t->rc);
		assert_ptr_equal(m, (struct sg_secmem *)0x1);
		assert_non_null(strstr(err.msg, "TIK"));
	}
	free(want);
	free(path);
}

static mode_t
file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void
check_contents(const char *path, const char *want)
{
	size_t len;
	uint8_t *got = tv_read(path, &len);

	assert_int_equal(len, strlen(want));
	if (len)
		assert_memory_equal(got, want, len);
	free(got);
}

static void
test_write_creates_0600(void **state)
{
	struct sg_error err = { 0 };
	char *path = tv_tmp("new-header");
	mode_t old = umask(0);

	(void)state;
	/* Even with a permissive umask the file is created 0600. */
	TV_ASSERT_OK(sg_file_write(path, "AAAA", 4, 0600, "secret header", &err), &err);
	umask(old);
	assert_int_equal(file_mode(path), 0600);
	check_contents(path, "AAAA"); /* no trailing newline */
	free(path);
}

static void
test_write_tightens_0644(void **state)
{
	struct sg_error err = { 0 };
	char *path = tv_tmp_write("old-0644", "a much longer previous content\n", 31);

	(void)state;
	assert_int_equal(chmod(path, 0644), 0);
	TV_ASSERT_OK(sg_file_write(path, "xyz", 3, 0600, "secret payload", &err), &err);
	assert_int_equal(file_mode(path), 0600);
	check_contents(path, "xyz"); /* truncated */
	free(path);
}

static void
test_write_empty(void **state)
{
	struct sg_error err = { 0 };
	char *path = tv_tmp("empty-out");

	(void)state;
	TV_ASSERT_OK(sg_file_write(path, "", 0, 0600, "secret payload", &err), &err);
	assert_int_equal(file_mode(path), 0600);
	check_contents(path, "");
	free(path);
}

static void
test_write_no_dir(void **state)
{
	struct sg_error err = { 0 };
	char *path = tv_tmp("missing-dir/header");

	(void)state;
	TV_ASSERT_ERR(sg_file_write(path, "x", 1, 0600, "secret header", &err), &err, SG_E_IO);
	assert_non_null(strstr(err.msg, "secret header"));
	assert_false(tv_exists(path));
	free(path);
}

static void
test_write_to_directory(void **state)
{
	struct sg_error err = { 0 };

	(void)state;
	TV_ASSERT_ERR(sg_file_write(tv_tmpdir(), "x", 1, 0600, "secret header", &err), &err,
		      SG_E_IO);
}


int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(map_cases) + SG_ELEMENTSOF(secret_cases) + 6];
	size_t n = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(map_cases); i++)
		tests[n++] = ROW(test_map, map_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(secret_cases); i++)
		tests[n++] = ROW(test_read_secret, secret_cases, i);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_free_null);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_creates_0600);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_tightens_0644);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_empty);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_no_dir);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_to_directory);
	return tv_main(argc, argv, "fileio", tests, n, NULL, 0);
}
