/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The firmware cache: hits, a changed file read again, digests equal with and without it. */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/digest.h"
#include "validate/fwcache.h"
#include "vectors.h"

static void
test_hit_and_change(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_fwcache *fc = NULL;
	struct sg_error err = { 0 };
	const struct sg_fw_entry *a = NULL, *b = NULL, *d = NULL;
	uint8_t want[32];
	char *path = tv_tmp_write("fw-cache.bin", "first firmware", 14);

	(void)state;
	assert_int_equal(sg_crypto_new(&c, &err), 0);
	assert_int_equal(sg_fwcache_new(c, &fc, &err), 0);
	assert_int_equal(sg_fwcache_get(fc, path, &a, &err), 0);
	tv_sha256("first firmware", 14, want);
	assert_memory_equal(a->sha256, want, 32);
	assert_int_equal(sg_fwcache_get(fc, path, &b, &err), 0);
	assert_ptr_equal(a, b);

	/* A rewritten file (new content, new mtime/ctime) is read again. */
	usleep(20000);
	unlink(path);
	tv_write(path, "second firmware", 15);
	assert_int_equal(sg_fwcache_get(fc, path, &d, &err), 0);
	assert_ptr_not_equal(a, d);
	tv_sha256("second firmware", 15, want);
	assert_memory_equal(d->sha256, want, 32);
	sg_fwcache_free(fc);
	sg_crypto_free(c);
	free(path);
}

static void
test_digest_from_state(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_fwcache *fc = NULL;
	struct sg_error err = { 0 };
	const struct sg_fw_entry *e = NULL;
	static uint8_t fw[70000], page[SG_VMSA_SIZE];
	uint8_t direct[32], cached[32];
	char *path;

	(void)state;
	for (size_t i = 0; i < sizeof(fw); i++)
		fw[i] = (uint8_t)(i * 7);
	memset(page, 0x5a, sizeof(page));
	path = tv_tmp_write("fw-state.bin", fw, sizeof(fw));
	assert_int_equal(sg_crypto_new(&c, &err), 0);
	assert_int_equal(sg_fwcache_new(c, &fc, &err), 0);
	assert_int_equal(sg_fwcache_get(fc, path, &e, &err), 0);

	struct sg_launch l = { .firmware = fw,
			       .firmware_len = sizeof(fw),
			       .vcpus = 3,
			       .vmsa_bsp = page,
			       .vmsa_ap = page };
	assert_int_equal(sg_launch_digest(c, &l, direct, NULL, &err), 0);
	l.firmware_state = e->state;
	/* The firmware bytes are not read when a state is given. */
	l.firmware = NULL;
	assert_int_equal(sg_launch_digest(c, &l, cached, NULL, &err), 0);
	assert_memory_equal(direct, cached, 32);
	/* The cached state is reusable: a second digest gives the same answer. */
	assert_int_equal(sg_launch_digest(c, &l, cached, NULL, &err), 0);
	assert_memory_equal(direct, cached, 32);
	sg_fwcache_free(fc);
	sg_crypto_free(c);
	free(path);
}

/* The digest chain: every vCPU count, in any order, with and without a table, equals a direct digest. */
static void
test_digest_chain(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_fwcache *fc = NULL;
	struct sg_error err = { 0 };
	const struct sg_fw_entry *e = NULL;
	static uint8_t fw[5000], bsp[SG_VMSA_SIZE], ap[SG_VMSA_SIZE], ap2[SG_VMSA_SIZE];
	uint8_t table[SG_HASHES_TABLE_PADDED_LEN], direct[32], cached[32];
	static const unsigned order[] = { 3, 1, 7, 2, 7, 64, 5, 1 };
	char *path;

	(void)state;
	memset(fw, 0x11, sizeof(fw));
	memset(bsp, 0x22, sizeof(bsp));
	memset(ap, 0x33, sizeof(ap));
	memset(ap2, 0x44, sizeof(ap2));
	memset(table, 0x55, sizeof(table));
	path = tv_tmp_write("fw-chain.bin", fw, sizeof(fw));
	assert_int_equal(sg_crypto_new(&c, &err), 0);
	assert_int_equal(sg_fwcache_new(c, &fc, &err), 0);
	assert_int_equal(sg_fwcache_get(fc, path, &e, &err), 0);
	for (int with_table = 0; with_table < 2; with_table++)
		for (size_t i = 0; i < SG_ELEMENTSOF(order); i++)
			for (int which = 0; which < 2; which++) {
				const uint8_t *tp = with_table ? table : NULL;
				const uint8_t *app = which ? ap2 : ap;
				struct sg_launch l = { .firmware = fw,
						       .firmware_len = sizeof(fw),
						       .hashes_table = tp,
						       .vcpus = order[i],
						       .vmsa_bsp = bsp,
						       .vmsa_ap = app };

				TV_ASSERT_OK(sg_launch_digest(c, &l, direct, NULL, &err), &err);
				TV_ASSERT_OK(sg_fwcache_digest(fc, e, tp, order[i], bsp, app,
							       cached, &err),
					     &err);
				assert_memory_equal(direct, cached, 32);
			}
	/* Plain SEV: the firmware and the table only. */
	struct sg_launch l = { .firmware = fw, .firmware_len = sizeof(fw), .hashes_table = table };
	TV_ASSERT_OK(sg_launch_digest(c, &l, direct, NULL, &err), &err);
	TV_ASSERT_OK(sg_fwcache_digest(fc, e, table, 0, NULL, NULL, cached, &err), &err);
	assert_memory_equal(direct, cached, 32);
	sg_fwcache_free(fc);
	sg_crypto_free(c);
	free(path);
}

/* A firmware image of FW_LEN bytes, distinct for each @seed. */
#define FW_LEN 65536
static void
fw_bytes(uint8_t *fw, unsigned seed)
{
	for (size_t i = 0; i < FW_LEN; i++)
		fw[i] = (uint8_t)(i * 13 + seed);
	memcpy(fw, &seed, sizeof(seed));
}

/* The direct launch digest of @fw with 2 vCPUs, to compare the cache's with. */
static void
direct_digest(struct sg_crypto *c, const uint8_t *fw, size_t len, const uint8_t *bsp,
	      const uint8_t *ap, unsigned vcpus, uint8_t out[32])
{
	struct sg_error err = { 0 };
	struct sg_launch l = {
		.firmware = fw, .firmware_len = len, .vcpus = vcpus, .vmsa_bsp = bsp, .vmsa_ap = ap
	};

	TV_ASSERT_OK(sg_launch_digest(c, &l, out, NULL, &err), &err);
}

/* A run that meets more firmware identities than a fleet boots (upgrades, copies) keeps going. */
static void
test_many_identities(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_fwcache *fc = NULL;
	struct sg_error err = { 0 };
	static uint8_t fw[FW_LEN], bsp[SG_VMSA_SIZE], ap[SG_VMSA_SIZE];
	uint8_t direct[32], cached[32], want[32];

	(void)state;
	memset(bsp, 0x22, sizeof(bsp));
	memset(ap, 0x33, sizeof(ap));
	assert_int_equal(sg_crypto_new(&c, &err), 0);
	assert_int_equal(sg_fwcache_new(c, &fc, &err), 0);
	for (unsigned i = 0; i < 200; i++) {
		const struct sg_fw_entry *e = NULL;
		char name[32];
		char *path;

		snprintf(name, sizeof(name), "fw-many-%03u.bin", i);
		fw_bytes(fw, i);
		path = tv_tmp_write(name, fw, sizeof(fw));
		TV_ASSERT_OK(sg_fwcache_get(fc, path, &e, &err), &err);
		tv_sha256(fw, sizeof(fw), want);
		assert_memory_equal(e->sha256, want, 32);
		direct_digest(c, fw, sizeof(fw), bsp, ap, 2, direct);
		TV_ASSERT_OK(sg_fwcache_digest(fc, e, NULL, 2, bsp, ap, cached, &err), &err);
		assert_memory_equal(direct, cached, 32);
		unlink(path);
		free(path);
	}
	sg_fwcache_free(fc);
	sg_crypto_free(c);
}

/* Set @path's mtime to @sec (its ctime moves too): a new identity for the same bytes. */
static void
touch_at(const char *path, time_t sec)
{
	struct timespec ts[2] = { { .tv_sec = sec }, { .tv_sec = sec } };

	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* `touch` in a loop on one firmware file: every use is served, nothing fails. */
static void
test_touch_loop(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_fwcache *fc = NULL;
	struct sg_error err = { 0 };
	static uint8_t fw[FW_LEN], bsp[SG_VMSA_SIZE], ap[SG_VMSA_SIZE];
	uint8_t direct[32], cached[32], want[32];
	char *path;

	(void)state;
	memset(bsp, 0x44, sizeof(bsp));
	memset(ap, 0x55, sizeof(ap));
	fw_bytes(fw, 7);
	path = tv_tmp_write("fw-touch.bin", fw, sizeof(fw));
	tv_sha256(fw, sizeof(fw), want);
	assert_int_equal(sg_crypto_new(&c, &err), 0);
	direct_digest(c, fw, sizeof(fw), bsp, ap, 4, direct);
	assert_int_equal(sg_fwcache_new(c, &fc, &err), 0);
	for (unsigned i = 0; i < 1000; i++) {
		const struct sg_fw_entry *e = NULL;

		touch_at(path, 1000000000 + (time_t)i);
		TV_ASSERT_OK(sg_fwcache_get(fc, path, &e, &err), &err);
		assert_memory_equal(e->sha256, want, 32);
		TV_ASSERT_OK(sg_fwcache_digest(fc, e, NULL, 4, bsp, ap, cached, &err), &err);
		assert_memory_equal(direct, cached, 32);
	}
	sg_fwcache_free(fc);
	sg_crypto_free(c);
	free(path);
}

static void
test_missing_file(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_fwcache *fc = NULL;
	struct sg_error err = { 0 };
	const struct sg_fw_entry *e = NULL;

	(void)state;
	assert_int_equal(sg_crypto_new(&c, &err), 0);
	assert_int_equal(sg_fwcache_new(c, &fc, &err), 0);
	TV_ASSERT_ERR(sg_fwcache_get(fc, "/nonexistent/fw.bin", &e, &err), &err, SG_E_IO);
	assert_null(e);
	sg_fwcache_free(fc);
	sg_crypto_free(c);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_and_change), cmocka_unit_test(test_digest_from_state),
		cmocka_unit_test(test_digest_chain),   cmocka_unit_test(test_many_identities),
		cmocka_unit_test(test_touch_loop),     cmocka_unit_test(test_missing_file),
	};

	return tv_main(argc, argv, "fwcache", tests, SG_ELEMENTSOF(tests), NULL, 0);
}
