/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Firmware cache for runs over many guests: a fleet boots a handful of
 * firmware images, so each is read and hashed once and every guest's
 * launch digest continues from the SHA-256 state after it (and after its
 * hashes table and VMSA pages: a digest chain). Kernels and initrds keep
 * their SHA-256. An entry is keyed by the file's device, inode, size,
 * mtime and ctime, checked with stat() at every use, so a replaced or
 * modified file is read again.
 *
 * Memory: one byte budget (SG_FWCACHE_DEFAULT_LIMIT, or
 * sg_fwcache_set_limit) covers every entry: a firmware counts its file
 * length and its state, a chain its inputs and its states, a kernel's
 * hash its record. An insert that would pass the budget first evicts the
 * least recently used entries, and a firmware's chains go with it; so the
 * identities a package upgrade or a `touch` leaves behind age out. What
 * needs more than the whole budget is not cached: a firmware entry is then
 * its caller's alone, a digest or hash is computed and dropped. A full
 * cache costs hashing again, never a failure. An evicted firmware entry a
 * guest still holds stays allocated, outside the budget, until it is put.
 *
 * Threads: sg_fwcache_get, _put, _digest, _file_sha256, _set_limit and
 * _stats may be called from several threads at once; new and free may not
 * (free once no other call on @fc runs). One mutex covers the index, the
 * LRU list, the byte count, the counters and each chain's list of states.
 * It is held for lookups, inserts, evictions and copying a SHA-256 state,
 * never while a file is read, a SHA-256 is computed or an evicted entry is
 * freed; sg_fwcache_put takes no lock (the reference count is atomic, and
 * no lookup finds an entry once evicted). The cache hashes with the
 * context it was made with, for SHA-256 only (core/crypto.h says why that
 * is safe). An entry from sg_fwcache_get never changes and stays valid
 * until its sg_fwcache_put, evicted or not: any thread may read it, and
 * copy its state, without the lock.
 */
#pragma once

#include <stdint.h>

#include "core/crypto.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileio.h"

/* A new cache's budget: dozens of 4 MiB OVMF images and their chains, more than fleets boot. */
#define SG_FWCACHE_DEFAULT_LIMIT ((size_t)256 << 20)

struct sg_fwcache;

struct sg_fw_entry {
	struct sg_file *file;	 /* the firmware bytes (the footer table is read from them) */
	struct sg_sha256 *state; /* SHA-256 state after the whole firmware */
	uint8_t sha256[SG_SHA256_LEN];
};

/* What the cache holds and has done; a snapshot taken under its lock. */
struct sg_fwcache_stats {
	size_t bytes; /* counted against the limit: never above it */
	size_t limit;
	size_t firmware, chains, files; /* entries of each kind */
	uint64_t hits, misses;		/* lookups of all three kinds */
	uint64_t evictions;		/* entries evicted to make room */
	uint64_t uncached;		/* firmware larger than the whole budget */
};

/*
 * A cache bound to @c in *@ret, with SG_FWCACHE_DEFAULT_LIMIT: free it, and
 * put every entry, before freeing @c. Returns 0, or reports SG_E_NOMEM in
 * @err.
 */
SG_NODISCARD int sg_fwcache_new(struct sg_crypto *c, struct sg_fwcache **ret, struct sg_error *err);
/*
 * Free @fc and the entries no guest holds; an entry still held is freed by
 * its sg_fwcache_put. NULL is a no-op.
 */
void sg_fwcache_free(struct sg_fwcache *fc);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_fwcache *, sg_fwcache_free)

/* Set the byte budget to @bytes, evicting at once what no longer fits. */
void sg_fwcache_set_limit(struct sg_fwcache *fc, size_t bytes);
/* The counters of @fc into *@ret. */
void sg_fwcache_stats(struct sg_fwcache *fc, struct sg_fwcache_stats *ret);

/*
 * The launch digest of @fw followed by the hashes table (or NULL) and, for
 * vcpus >= 1, the BSP page and vcpus - 1 AP pages: continued from the
 * SHA-256 state after the longest prefix any earlier guest of the run
 * shared (the same firmware, table and pages, fewer APs), so a fleet
 * hashes each firmware once and each AP page once per vCPU count reached.
 * @fw is an entry from sg_fwcache_get on @fc, not yet put; the states
 * computed are kept while the budget allows. Returns 0 and writes @out,
 * or reports in @err SG_E_INTERNAL (more than SG_MAX_VCPUS, or VMSA pages
 * missing for @vcpus), SG_E_CRYPTO or SG_E_NOMEM.
 */
SG_NODISCARD int
sg_fwcache_digest(struct sg_fwcache *fc, const struct sg_fw_entry *fw, const uint8_t *table,
		  unsigned vcpus, const uint8_t *bsp, const uint8_t *ap, uint8_t out[SG_SHA256_LEN],
		  struct sg_error *err);

/*
 * The entry for @path in *@ret, reading and hashing the file on a miss,
 * with a reference the caller drops with sg_fwcache_put. Returns 0, or
 * reports in @err the file's failure (SG_E_IO, SG_E_LIMIT, SG_E_NOMEM) or
 * SG_E_CRYPTO; *@ret is written only on success.
 */
SG_NODISCARD int sg_fwcache_get(struct sg_fwcache *fc, const char *path,
				const struct sg_fw_entry **ret, struct sg_error *err);
/*
 * Drop the reference sg_fwcache_get gave with @e; the last one, once @e is
 * evicted (or was never cached), frees it. NULL is a no-op. Touches only
 * @e, so it may follow sg_fwcache_free.
 */
void sg_fwcache_put(struct sg_fwcache *fc, const struct sg_fw_entry *e);

/*
 * The SHA-256 of a kernel or initrd at @path into @out, hashed once per run
 * while the file stays the same (device, inode, size, mtime, ctime) and
 * the budget allows. Returns 0, or reports the file's failure (SG_E_IO,
 * SG_E_LIMIT, SG_E_NOMEM, naming @what) or SG_E_CRYPTO in @err.
 */
SG_NODISCARD int sg_fwcache_file_sha256(struct sg_fwcache *fc, const char *path, const char *what,
					uint8_t out[SG_SHA256_LEN], struct sg_error *err);
