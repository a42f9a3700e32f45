/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared test helpers: where the vectors are, file/hex/base64 helpers that
 * do not use the library under test (OpenSSL directly), a per-process
 * temporary directory, and the launch-digests.tsv parser.
 *
 * Every test executable runs one of two groups, chosen by argv[1]:
 *   unit     small fixtures from tests/data (byte-identical copies), the
 *            build-time synthetic fixtures and in-test data; never needs
 *            ../shared.
 *   vectors  the same file-based rows plus the large ones, read in place
 *            from SEVGATE_VECTORS_DIR. A missing directory exits 77 (CTest
 *            skip) unless CI=true, where it is a failure.
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "util/cleanup.h"
#include "util/error.h"

enum tv_group {
	TV_GROUP_UNIT,
	TV_GROUP_VECTORS
};

/*
 * Run @unit or @vec (by argv[1], default unit) as a cmocka group named
 * after @name. Returns the process exit code.
 */
/* A CMUnitTest for row @i of a case table: named by the row's id, the row as its state. */
#define ROW(fn, arr, i)                                                              \
	(struct CMUnitTest)                                                          \
	{                                                                            \
		.name = arr[i].id, .test_func = fn, .initial_state = (void *)&arr[i] \
	}

int tv_main(int argc, char **argv, const char *name, const struct CMUnitTest *unit, size_t nunit,
	    const struct CMUnitTest *vec, size_t nvec);
/* Pick the group from argv without running anything (for tests building rows at run time). */
enum tv_group tv_group_select(int argc, char **argv);
enum tv_group tv_group(void);
/* For the vectors group: 0 if SEVGATE_VECTORS_DIR is usable, else the exit code (77 or 1). */
int tv_require_vectors(void);
/* Run a group built at run time (used by tv_main). */
int tv_run(const char *name, const struct CMUnitTest *tests, size_t n);

const char *tv_vectors_dir(void);
const char *tv_data_dir(void);
const char *tv_fixtures_dir(void);
/* The directory small fixtures are read from in the current group. */
const char *tv_base(void);

/* Paths (malloc'd; abort on OOM). tv_path: absolute @rel as is, else tv_base()/rel. */
char *tv_path(const char *rel);
char *tv_fixture(const char *name);
char *tv_join(const char *dir, const char *name);
bool tv_exists(const char *path);

/* Whole-file read/write; cmocka-fail on error. */
uint8_t *tv_read(const char *path, size_t *ret_len);
void tv_write(const char *path, const void *data, size_t len);

/* A temporary directory for this process, removed at exit; and a path in it. */
const char *tv_tmpdir(void);
char *tv_tmp(const char *name);
/* Write @len bytes to a new file in the temp dir; returns its path. */
char *tv_tmp_write(const char *name, const void *data, size_t len);

/* Hex and base64 (independent of src/util/encode.c); cmocka-fail on bad input. */
size_t tv_unhex(const char *hex, uint8_t *out, size_t cap);
uint8_t *tv_unhex_alloc(const char *hex, size_t *ret_len);
void tv_tohex(const uint8_t *in, size_t len, char *out);
size_t tv_unb64(const char *b64, uint8_t *out, size_t cap);
char *tv_b64(const uint8_t *in, size_t len);

/* OpenSSL one-shots, for expected values computed in-test. */
void tv_sha256(const void *data, size_t len, uint8_t out[32]);
void
tv_hmac_sha256(const uint8_t *key, size_t keylen, const void *data, size_t len, uint8_t out[32]);

/* Assert a failure: exact code in both the return value and @err, and a non-empty message. */
#define TV_ASSERT_ERR(rc, err, want)                                                             \
	do {                                                                                     \
		int tv_rc_ = (rc);                                                               \
		if (tv_rc_ != (want) || (err)->code != (want))                                   \
			print_error("got %s (%s), want %s\n", sg_error_name(tv_rc_), (err)->msg, \
				    sg_error_name(want));                                        \
		assert_int_equal(tv_rc_, (want));                                                \
		assert_int_equal((err)->code, (want));                                           \
		assert_true((err)->msg[0] != '\0');                                              \
	} while (0)

/* Assert success, printing the message if not. */
#define TV_ASSERT_OK(rc, err)                                                       \
	do {                                                                        \
		int tv_rc_ = (rc);                                                  \
		if (tv_rc_ != 0)                                                    \
			print_error("%s: %s\n", sg_error_name(tv_rc_), (err)->msg); \
		assert_int_equal(tv_rc_, 0);                                        \
	} while (0)

/* One row of launch-digests.tsv. Strings point into the row's own storage. */
struct tv_digest_row {
	char *id, *origin, *mode, *variant, *ovmf, *expected, *notes;
	/* NULL for <none>; "" for <empty>; otherwise the column as written. */
	char *kernel, *initrd, *append;
	unsigned vcpus;
	uint32_t vcpu_sig; /* 0 for n/a */
	bool seves, fpu, is_err;
	char *line; /* owns the strings above */
};

/* Parse @path; -1 with a message on stderr if it is malformed. */
int tv_digest_rows_load(const char *path, struct tv_digest_row **ret, size_t *ret_n);
void tv_digest_rows_free(struct tv_digest_row *rows, size_t n);
