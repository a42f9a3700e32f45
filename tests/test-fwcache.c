/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The firmware cache: hits, a changed file read again, digests equal with
 * and without it; a byte budget that evicts (entries held survive it) and
 * never fails; several threads on a tiny budget (the TSan build).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
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
	sg_fwcache_put(fc, b);

	/* A rewritten file (new content, new mtime/ctime) is read again. */
	usleep(20000);
	unlink(path);
	tv_write(path, "second firmware", 15);
	assert_int_equal(sg_fwcache_get(fc, path, &d, &err), 0);
	assert_ptr_not_equal(a, d);
	tv_sha256("second firmware", 15, want);
	assert_memory_equal(d->sha256, want, 32);
	sg_fwcache_put(fc, a);
	sg_fwcache_put(fc, d);
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
	sg_fwcache_put(fc, e);
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
	sg_fwcache_put(fc, e);
	sg_fwcache_free(fc);
	sg_crypto_free(c);
	free(path);
}

/* A firmware image of FW_LEN bytes, distinct for each @seed. */
#define FW_LEN 65536
static void
fw_bytes(uint8_t *fw, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		fw[i] = (uint8_t)(i * 13 + seed);
	memcpy(fw, &seed, sizeof(seed));
}

/* The direct launch digest (sg_launch_digest over the bytes), to compare the cache's with. */
static void
direct_digest(struct sg_crypto *c, const uint8_t *fw, size_t len, const uint8_t *table,
	      const uint8_t *bsp, const uint8_t *ap, unsigned vcpus, uint8_t out[32])
{
	struct sg_error err = { 0 };
	struct sg_launch l = { .firmware = fw,
			       .firmware_len = len,
			       .hashes_table = table,
			       .vcpus = vcpus,
			       .vmsa_bsp = bsp,
			       .vmsa_ap = ap };

	TV_ASSERT_OK(sg_launch_digest(c, &l, out, NULL, &err), &err);
}

static struct sg_fwcache_stats
stats(struct sg_fwcache *fc)
{
	struct sg_fwcache_stats st;

	sg_fwcache_stats(fc, &st);
	return st;
}

/* Write the firmware of @seed as @name in the temp dir; its path. */
static char *
fw_file(const char *name, unsigned seed, uint8_t *fw, size_t len)
{
	fw_bytes(fw, len, seed);
	return tv_tmp_write(name, fw, len);
}

/*
 * What one firmware of FW_LEN bytes and one 2-vCPU chain cost, measured on
 * @fc (empty, as the test leaves it).
 */
static void
entry_costs(struct sg_fwcache *fc, size_t *ret_fw, size_t *ret_chain)
{
	static uint8_t fw[FW_LEN], page[SG_VMSA_SIZE];
	struct sg_error err = { 0 };
	const struct sg_fw_entry *e = NULL;
	uint8_t out[32];
	char *path = fw_file("fw-cost.bin", 999, fw, sizeof(fw));
	size_t before = stats(fc).bytes;

	TV_ASSERT_OK(sg_fwcache_get(fc, path, &e, &err), &err);
	*ret_fw = stats(fc).bytes - before;
	TV_ASSERT_OK(sg_fwcache_digest(fc, e, NULL, 2, page, page, out, &err), &err);
	*ret_chain = stats(fc).bytes - before - *ret_fw;
	sg_fwcache_put(fc, e);
	/* A firmware counts its bytes; a chain its two VMSA pages, at least. */
	assert_true(*ret_fw > FW_LEN && *ret_fw < FW_LEN + 4096);
	assert_true(*ret_chain > 2 * SG_VMSA_SIZE && *ret_chain < 4 * SG_VMSA_SIZE);
	sg_fwcache_set_limit(fc, 0);
	assert_int_equal(stats(fc).bytes, 0);
	unlink(path);
	free(path);
}

/*
 * A run that meets more firmware identities than a fleet boots (upgrades,
 * copies) keeps going on a budget of about three: the oldest are evicted.
 */
static void
test_many_identities(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_fwcache *fc = NULL;
	struct sg_error err = { 0 };
	static uint8_t fw[FW_LEN], bsp[SG_VMSA_SIZE], ap[SG_VMSA_SIZE];
	uint8_t direct[32], cached[32], want[32];
	struct sg_fwcache_stats st;
	size_t fw_cost, chain_cost, limit;

	(void)state;
	memset(bsp, 0x22, sizeof(bsp));
	memset(ap, 0x33, sizeof(ap));
	assert_int_equal(sg_crypto_new(&c, &err), 0);
	assert_int_equal(sg_fwcache_new(c, &fc, &err), 0);
	assert_int_equal(stats(fc).limit, SG_FWCACHE_DEFAULT_LIMIT);
	entry_costs(fc, &fw_cost, &chain_cost);
	limit = 3 * (fw_cost + chain_cost) + fw_cost / 2;
	sg_fwcache_set_limit(fc, limit);
	st = stats(fc);
	for (unsigned i = 0; i < 200; i++) {
		const struct sg_fw_entry *e = NULL;
		char name[32];
		char *path;

		snprintf(name, sizeof(name), "fw-many-%03u.bin", i);
		path = fw_file(name, i, fw, sizeof(fw));
		TV_ASSERT_OK(sg_fwcache_get(fc, path, &e, &err), &err);
		tv_sha256(fw, sizeof(fw), want);
		assert_memory_equal(e->sha256, want, 32);
		direct_digest(c, fw, sizeof(fw), NULL, bsp, ap, 2, direct);
		TV_ASSERT_OK(sg_fwcache_digest(fc, e, NULL, 2, bsp, ap, cached, &err), &err);
		assert_memory_equal(direct, cached, 32);
		sg_fwcache_put(fc, e);
		assert_true(stats(fc).bytes <= limit);
		assert_true(stats(fc).firmware <= 3);
		unlink(path);
		free(path);
	}
	/* Each firmware and each chain missed once; all but the last three went. */
	struct sg_fwcache_stats end = stats(fc);

	assert_int_equal(end.misses - st.misses, 400);
	assert_int_equal(end.hits - st.hits, 0);
	assert_int_equal(end.firmware, 3);
	assert_int_equal(end.chains, 3);
	assert_int_equal(end.evictions - st.evictions, 400 - 6);
	assert_int_equal(end.bytes, 3 * (fw_cost + chain_cost));
	assert_int_equal(end.uncached, 0);
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

/*
 * `touch` in a loop on one firmware file: every use is served, and the
 * identities it leaves behind age out within the budget.
 */
static void
test_touch_loop(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_fwcache *fc = NULL;
	struct sg_error err = { 0 };
	static uint8_t fw[FW_LEN], bsp[SG_VMSA_SIZE], ap[SG_VMSA_SIZE];
	uint8_t direct[32], cached[32], want[32];
	size_t fw_cost, chain_cost, limit, peak = 0;
	char *path;

	(void)state;
	memset(bsp, 0x44, sizeof(bsp));
	memset(ap, 0x55, sizeof(ap));
	path = fw_file("fw-touch.bin", 7, fw, sizeof(fw));
	tv_sha256(fw, sizeof(fw), want);
	assert_int_equal(sg_crypto_new(&c, &err), 0);
	direct_digest(c, fw, sizeof(fw), NULL, bsp, ap, 4, direct);
	assert_int_equal(sg_fwcache_new(c, &fc, &err), 0);
	entry_costs(fc, &fw_cost, &chain_cost);
	/* A 4-vCPU chain holds two more states than the 2-vCPU one measured. */
	limit = 3 * (fw_cost + chain_cost + 1024);
	sg_fwcache_set_limit(fc, limit);
	for (unsigned i = 0; i < 1000; i++) {
		const struct sg_fw_entry *e = NULL, *again = NULL;
		struct sg_fwcache_stats st;

		touch_at(path, 1000000000 + (time_t)i);
		TV_ASSERT_OK(sg_fwcache_get(fc, path, &e, &err), &err);
		assert_memory_equal(e->sha256, want, 32);
		TV_ASSERT_OK(sg_fwcache_digest(fc, e, NULL, 4, bsp, ap, cached, &err), &err);
		assert_memory_equal(direct, cached, 32);
		/* Until the next touch, the same identity is a hit. */
		TV_ASSERT_OK(sg_fwcache_get(fc, path, &again, &err), &err);
		assert_ptr_equal(again, e);
		sg_fwcache_put(fc, again);
		sg_fwcache_put(fc, e);
		st = stats(fc);
		assert_true(st.bytes <= limit);
		assert_true(st.firmware <= 3);
		peak = st.bytes > peak ? st.bytes : peak;
	}
	struct sg_fwcache_stats end = stats(fc);

	assert_int_equal(end.firmware, 3);
	assert_int_equal(end.chains, 3);
	/* 1000 firmware and 1000 chains made; all but the last three of each evicted. */
	assert_int_equal(end.evictions, 2000 - 6 + 2 /* entry_costs' pair, evicted by the limit */);
	assert_true(peak <= limit);
	sg_fwcache_free(fc);
	sg_crypto_free(c);
	free(path);
}

/* A guest's entry stays whole after its eviction, and digests still come out right. */
static void
test_held_entry_survives_eviction(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_fwcache *fc = NULL;
	struct sg_error err = { 0 };
	static uint8_t fa[FW_LEN], fb[FW_LEN], bsp[SG_VMSA_SIZE], ap[SG_VMSA_SIZE];
	const struct sg_fw_entry *a = NULL, *b = NULL, *a2 = NULL;
	uint8_t direct[32], cached[32], want[32];
	size_t fw_cost, chain_cost;
	char *pa, *pb;

	(void)state;
	memset(bsp, 0x66, sizeof(bsp));
	memset(ap, 0x77, sizeof(ap));
	pa = fw_file("fw-held-a.bin", 1, fa, sizeof(fa));
	pb = fw_file("fw-held-b.bin", 2, fb, sizeof(fb));
	assert_int_equal(sg_crypto_new(&c, &err), 0);
	assert_int_equal(sg_fwcache_new(c, &fc, &err), 0);
	entry_costs(fc, &fw_cost, &chain_cost);
	/* Room for one firmware and its chain. */
	sg_fwcache_set_limit(fc, fw_cost + 2 * chain_cost);
	TV_ASSERT_OK(sg_fwcache_get(fc, pa, &a, &err), &err);
	TV_ASSERT_OK(sg_fwcache_digest(fc, a, NULL, 3, bsp, ap, cached, &err), &err);
	assert_int_equal(stats(fc).chains, 1);
	uint64_t ev = stats(fc).evictions;

	/* b pushes a and its chain out while a is still held. */
	TV_ASSERT_OK(sg_fwcache_get(fc, pb, &b, &err), &err);
	assert_int_equal(stats(fc).firmware, 1);
	assert_int_equal(stats(fc).chains, 0);
	assert_int_equal(stats(fc).evictions - ev, 2);

	tv_sha256(fa, sizeof(fa), want);
	assert_memory_equal(a->sha256, want, 32);
	assert_int_equal(a->file->len, sizeof(fa));
	assert_memory_equal(a->file->data, fa, sizeof(fa));
	direct_digest(c, fa, sizeof(fa), NULL, bsp, ap, 3, direct);
	TV_ASSERT_OK(sg_fwcache_digest(fc, a, NULL, 3, bsp, ap, cached, &err), &err);
	assert_memory_equal(direct, cached, 32);
	/* An evicted entry takes nothing back into the cache. */
	assert_int_equal(stats(fc).chains, 0);
	assert_int_equal(stats(fc).firmware, 1);

	/* The same file again is read again: a new entry while the old one lives. */
	TV_ASSERT_OK(sg_fwcache_get(fc, pa, &a2, &err), &err);
	assert_ptr_not_equal(a2, a);
	assert_memory_equal(a2->sha256, want, 32);
	sg_fwcache_put(fc, b);
	sg_fwcache_put(fc, a2);
	/* The cache goes first; the guest's reference outlives it. */
	sg_fwcache_free(fc);
	assert_memory_equal(a->file->data, fa, sizeof(fa));
	sg_fwcache_put(NULL, a);
	sg_crypto_free(c);
	free(pa);
	free(pb);
}

/* A chain evicted on its own is computed again, to the same digest. */
static void
test_chain_evict_recompute(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_fwcache *fc = NULL;
	struct sg_error err = { 0 };
	static uint8_t fw[FW_LEN], bsp[SG_VMSA_SIZE], ap[SG_VMSA_SIZE];
	uint8_t table[SG_HASHES_TABLE_PADDED_LEN], direct[32], cached[32];
	const struct sg_fw_entry *e = NULL, *again = NULL;
	struct sg_fwcache_stats st;
	char *path;

	(void)state;
	memset(bsp, 0x12, sizeof(bsp));
	memset(ap, 0x34, sizeof(ap));
	memset(table, 0x56, sizeof(table));
	path = fw_file("fw-chain-evict.bin", 3, fw, sizeof(fw));
	assert_int_equal(sg_crypto_new(&c, &err), 0);
	assert_int_equal(sg_fwcache_new(c, &fc, &err), 0);
	direct_digest(c, fw, sizeof(fw), table, bsp, ap, 8, direct);
	TV_ASSERT_OK(sg_fwcache_get(fc, path, &e, &err), &err);
	TV_ASSERT_OK(sg_fwcache_digest(fc, e, table, 8, bsp, ap, cached, &err), &err);
	assert_memory_equal(direct, cached, 32);
	assert_int_equal(stats(fc).chains, 1);

	/* A hit on the firmware leaves the chain least recently used: one byte short evicts it. */
	TV_ASSERT_OK(sg_fwcache_get(fc, path, &again, &err), &err);
	assert_ptr_equal(again, e);
	sg_fwcache_put(fc, again);
	sg_fwcache_set_limit(fc, stats(fc).bytes - 1);
	st = stats(fc);
	assert_int_equal(st.chains, 0);
	assert_int_equal(st.firmware, 1);
	sg_fwcache_set_limit(fc, SG_FWCACHE_DEFAULT_LIMIT);
	TV_ASSERT_OK(sg_fwcache_digest(fc, e, table, 8, bsp, ap, cached, &err), &err);
	assert_memory_equal(direct, cached, 32);
	assert_int_equal(stats(fc).chains, 1);
	assert_int_equal(stats(fc).misses, st.misses + 1);
	/* The recomputed chain serves fewer vCPUs from its states. */
	direct_digest(c, fw, sizeof(fw), table, bsp, ap, 5, direct);
	TV_ASSERT_OK(sg_fwcache_digest(fc, e, table, 5, bsp, ap, cached, &err), &err);
	assert_memory_equal(direct, cached, 32);
	assert_int_equal(stats(fc).hits, st.hits + 1);

	/* The firmware goes with its chain; the held entry still digests. */
	sg_fwcache_set_limit(fc, 0);
	assert_int_equal(stats(fc).chains, 0);
	assert_int_equal(stats(fc).firmware, 0);
	TV_ASSERT_OK(sg_fwcache_digest(fc, e, table, 5, bsp, ap, cached, &err), &err);
	assert_memory_equal(direct, cached, 32);
	assert_int_equal(stats(fc).bytes, 0);
	sg_fwcache_put(fc, e);
	sg_fwcache_free(fc);
	sg_crypto_free(c);
	free(path);
}

/* A firmware larger than the whole budget is served uncached, each caller its own. */
static void
test_larger_than_budget(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_fwcache *fc = NULL;
	struct sg_error err = { 0 };
	static uint8_t fw[FW_LEN], bsp[SG_VMSA_SIZE];
	const struct sg_fw_entry *e = NULL, *f = NULL;
	uint8_t direct[32], cached[32], want[32];
	char *path;

	(void)state;
	memset(bsp, 0x9a, sizeof(bsp));
	path = fw_file("fw-large.bin", 4, fw, sizeof(fw));
	assert_int_equal(sg_crypto_new(&c, &err), 0);
	assert_int_equal(sg_fwcache_new(c, &fc, &err), 0);
	sg_fwcache_set_limit(fc, FW_LEN / 2);
	TV_ASSERT_OK(sg_fwcache_get(fc, path, &e, &err), &err);
	tv_sha256(fw, sizeof(fw), want);
	assert_memory_equal(e->sha256, want, 32);
	direct_digest(c, fw, sizeof(fw), NULL, bsp, NULL, 1, direct);
	TV_ASSERT_OK(sg_fwcache_digest(fc, e, NULL, 1, bsp, NULL, cached, &err), &err);
	assert_memory_equal(direct, cached, 32);
	TV_ASSERT_OK(sg_fwcache_get(fc, path, &f, &err), &err);
	assert_ptr_not_equal(e, f);
	assert_memory_equal(f->sha256, want, 32);

	struct sg_fwcache_stats st = stats(fc);

	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.firmware, 0);
	assert_int_equal(st.chains, 0);
	assert_int_equal(st.uncached, 2);
	assert_int_equal(st.evictions, 0);
	sg_fwcache_put(fc, e);
	sg_fwcache_put(fc, f);
	sg_fwcache_free(fc);
	sg_crypto_free(c);
	free(path);
}

/* Kernel and initrd hashes share the budget and age out like the rest. */
static void
test_file_hashes_bounded(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_fwcache *fc = NULL;
	struct sg_error err = { 0 };
	static uint8_t k[4096];
	uint8_t got[32], want[32];
	size_t one = 0;

	(void)state;
	assert_int_equal(sg_crypto_new(&c, &err), 0);
	assert_int_equal(sg_fwcache_new(c, &fc, &err), 0);
	for (unsigned i = 0; i < 100; i++) {
		char name[32];
		char *path;

		snprintf(name, sizeof(name), "kernel-%03u.bin", i);
		path = fw_file(name, i, k, sizeof(k));
		tv_sha256(k, sizeof(k), want);
		TV_ASSERT_OK(sg_fwcache_file_sha256(fc, path, "kernel", got, &err), &err);
		assert_memory_equal(got, want, 32);
		if (i == 0) {
			one = stats(fc).bytes;
			assert_true(one > 0);
			sg_fwcache_set_limit(fc, 4 * one);
		}
		/* A second use is a hit and the same hash. */
		uint64_t hits = stats(fc).hits;

		TV_ASSERT_OK(sg_fwcache_file_sha256(fc, path, "kernel", got, &err), &err);
		assert_memory_equal(got, want, 32);
		assert_int_equal(stats(fc).hits, hits + 1);
		assert_true(stats(fc).files <= 4);
		free(path);
	}
	assert_int_equal(stats(fc).files, 4);
	assert_int_equal(stats(fc).evictions, 96);
	assert_int_equal(stats(fc).bytes, 4 * one);
	sg_fwcache_free(fc);
	sg_crypto_free(c);
}

/*
 * Threads: 4 workers get, digest, hash and put over 5 firmware files on a
 * budget of about one, so entries are evicted under other threads' feet
 * (one worker holds each entry across its next iteration); one worker
 * also touches the files. For the TSan build; ASan sees use after free.
 */
#define MT_THREADS 4
#define MT_FILES 5
#define MT_ROUNDS 600
#define MT_LEN 16384
#define MT_VCPUS 4

struct mt {
	struct sg_fwcache *fc;
	struct sg_crypto *c;
	char *paths[MT_FILES];
	uint8_t sha256[MT_FILES][32];
	/* want[file][table][vcpus] */
	uint8_t want[MT_FILES][2][MT_VCPUS + 1][32];
	uint8_t bsp[SG_VMSA_SIZE], ap[SG_VMSA_SIZE], table[SG_HASHES_TABLE_PADDED_LEN];
	size_t limit;
};

struct mt_worker {
	struct mt *mt;
	unsigned id;
	int failures;
	char first[256];
};

static void
mt_fail(struct mt_worker *w, const char *what, unsigned round)
{
	if (!w->failures++)
		snprintf(w->first, sizeof(w->first), "worker %u round %u: %.200s", w->id, round,
			 what);
}

static void *
mt_run(void *arg)
{
	struct mt_worker *w = arg;
	struct mt *mt = w->mt;
	const struct sg_fw_entry *held = NULL;

	for (unsigned r = 0; r < MT_ROUNDS; r++) {
		unsigned f = (w->id * 3 + r) % MT_FILES, vcpus = (r + w->id) % (MT_VCPUS + 1);
		int t = (r / MT_FILES) % 2;
		const struct sg_fw_entry *e = NULL;
		struct sg_error err = { 0 };
		struct sg_fwcache_stats st;
		uint8_t out[32];

		if (w->id == 0 && r % 50 == 0) {
			struct timespec ts[2] = { { .tv_sec = 2000000000 + r },
						  { .tv_sec = 2000000000 + r } };

			if (utimensat(AT_FDCWD, mt->paths[f], ts, 0) != 0)
				mt_fail(w, "utimensat", r);
		}
		if (sg_fwcache_get(mt->fc, mt->paths[f], &e, &err) < 0) {
			mt_fail(w, err.msg, r);
			continue;
		}
		if (memcmp(e->sha256, mt->sha256[f], 32) != 0)
			mt_fail(w, "firmware hash", r);
		if (sg_fwcache_digest(mt->fc, e, t ? mt->table : NULL, vcpus, mt->bsp, mt->ap, out,
				      &err) < 0)
			mt_fail(w, err.msg, r);
		else if (memcmp(out, mt->want[f][t][vcpus], 32) != 0)
			mt_fail(w, "launch digest", r);
		if (sg_fwcache_file_sha256(mt->fc, mt->paths[(f + 1) % MT_FILES], "kernel", out,
					   &err) < 0)
			mt_fail(w, err.msg, r);
		else if (memcmp(out, mt->sha256[(f + 1) % MT_FILES], 32) != 0)
			mt_fail(w, "kernel hash", r);
		/* Worker 1 keeps each entry until the next round: it is evicted meanwhile. */
		if (held) {
			uint8_t h[32];

			tv_sha256(held->file->data, held->file->len, h);
			if (memcmp(h, held->sha256, 32) != 0)
				mt_fail(w, "held entry changed", r);
			sg_fwcache_put(mt->fc, held);
			held = NULL;
		}
		if (w->id == 1)
			held = e;
		else
			sg_fwcache_put(mt->fc, e);
		sg_fwcache_stats(mt->fc, &st);
		if (st.bytes > st.limit)
			mt_fail(w, "over budget", r);
		if (w->id == 2 && r % 100 == 0)
			sg_fwcache_set_limit(mt->fc, r % 200 ? mt->limit : mt->limit / 2);
	}
	sg_fwcache_put(mt->fc, held);
	return NULL;
}

static void
test_threads(void **state)
{
	static struct mt mt;
	static uint8_t fw[MT_LEN];
	struct mt_worker w[MT_THREADS];
	pthread_t th[MT_THREADS];
	struct sg_error err = { 0 };
	struct sg_fwcache_stats st;

	(void)state;
	memset(mt.bsp, 0x21, sizeof(mt.bsp));
	memset(mt.ap, 0x43, sizeof(mt.ap));
	memset(mt.table, 0x65, sizeof(mt.table));
	assert_int_equal(sg_crypto_new(&mt.c, &err), 0);
	assert_int_equal(sg_fwcache_new(mt.c, &mt.fc, &err), 0);
	for (unsigned f = 0; f < MT_FILES; f++) {
		char name[32];

		snprintf(name, sizeof(name), "fw-mt-%u.bin", f);
		mt.paths[f] = fw_file(name, 100 + f, fw, sizeof(fw));
		tv_sha256(fw, sizeof(fw), mt.sha256[f]);
		for (int t = 0; t < 2; t++)
			for (unsigned v = 0; v <= MT_VCPUS; v++)
				direct_digest(mt.c, fw, sizeof(fw), t ? mt.table : NULL, mt.bsp,
					      mt.ap, v, mt.want[f][t][v]);
	}
	/* About one firmware with a chain or two, and some kernel hashes. */
	mt.limit = MT_LEN + 6 * SG_VMSA_SIZE;
	sg_fwcache_set_limit(mt.fc, mt.limit);
	for (unsigned i = 0; i < MT_THREADS; i++) {
		w[i] = (struct mt_worker){ .mt = &mt, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, mt_run, &w[i]), 0);
	}
	for (unsigned i = 0; i < MT_THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (unsigned i = 0; i < MT_THREADS; i++) {
		if (w[i].failures)
			print_error("%d failures, first: %s\n", w[i].failures, w[i].first);
		assert_int_equal(w[i].failures, 0);
	}
	st = stats(mt.fc);
	assert_true(st.bytes <= st.limit);
	assert_true(st.evictions > 0);
	assert_true(st.hits > 0);
	assert_true(st.misses > 0);
	sg_fwcache_free(mt.fc);
	sg_crypto_free(mt.c);
	for (unsigned f = 0; f < MT_FILES; f++)
		free(mt.paths[f]);
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
	assert_int_equal(stats(fc).misses, 0);
	sg_fwcache_free(fc);
	sg_crypto_free(c);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_and_change),
		cmocka_unit_test(test_digest_from_state),
		cmocka_unit_test(test_digest_chain),
		cmocka_unit_test(test_many_identities),
		cmocka_unit_test(test_touch_loop),
		cmocka_unit_test(test_held_entry_survives_eviction),
		cmocka_unit_test(test_chain_evict_recompute),
		cmocka_unit_test(test_larger_than_budget),
		cmocka_unit_test(test_file_hashes_bounded),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_missing_file),
	};

	return tv_main(argc, argv, "fwcache", tests, SG_ELEMENTSOF(tests), NULL, 0);
}
