/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Firmware cache for runs over many guests: a fleet boots a handful of
 * firmware images, so each is read and hashed once and every guest's
 * launch digest continues from the SHA-256 state after it. An entry is
 * keyed by the file's device, inode, size, mtime and ctime, checked with
 * stat() at every use, so a replaced or modified file is read again.
 *
 * Threads: every function but new and free may be called from several
 * threads at once. The cache has its own lock, held for lookups, inserts
 * and extending a digest chain by a VMSA page (4 KiB), never while a
 * firmware, kernel or initrd file is read or hashed. It hashes with the
 * context it was made with, for SHA-256 only (core/crypto.h says why that
 * is safe). A firmware entry, and the state it holds, never changes once
 * inserted: a guest reads it without the lock.
 */
#pragma once

#include <stdint.h>

#include "core/crypto.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileio.h"

#define SG_FWCACHE_MAX 64
/* Distinct (firmware, table, BSP, AP) prefixes a run keeps digest states for. */
#define SG_FWCACHE_MAX_CHAINS 4096
/* Kernels and initrds whose SHA-256 a run remembers (beyond, they are hashed each time). */
#define SG_FWCACHE_MAX_FILES 4096

struct sg_fwcache;

struct sg_fw_entry {
	struct sg_file *file;	 /* the firmware bytes (the footer table is read from them) */
	struct sg_sha256 *state; /* SHA-256 state after the whole firmware */
	uint8_t sha256[SG_SHA256_LEN];
};

/*
 * A cache bound to @c in *@ret: free it before @c. Returns 0, or reports
 * SG_E_NOMEM in @err.
 */
SG_NODISCARD int sg_fwcache_new(struct sg_crypto *c, struct sg_fwcache **ret, struct sg_error *err);
/* Free @fc and every entry (their files and states); NULL is a no-op. */
void sg_fwcache_free(struct sg_fwcache *fc);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_fwcache *, sg_fwcache_free)

/*
 * The launch digest of @fw followed by the hashes table (or NULL) and, for
 * vcpus >= 1, the BSP page and vcpus - 1 AP pages: continued from the
 * SHA-256 state after the longest prefix any earlier guest of the run
 * shared (the same firmware, table and pages, fewer APs), so a fleet
 * hashes each firmware once and each AP page once per vCPU count reached;
 * a full cache hashes directly. Returns 0 and writes @out, or reports in
 * @err SG_E_INTERNAL (more than SG_MAX_VCPUS, or VMSA pages missing for
 * @vcpus), SG_E_CRYPTO or SG_E_NOMEM.
 */
SG_NODISCARD int
sg_fwcache_digest(struct sg_fwcache *fc, const struct sg_fw_entry *fw, const uint8_t *table,
		  unsigned vcpus, const uint8_t *bsp, const uint8_t *ap, uint8_t out[SG_SHA256_LEN],
		  struct sg_error *err);

/*
 * The entry for @path in *@ret, reading and hashing the file on a miss.
 * Entries stay valid until the cache is freed. Safe to call from several
 * threads. Returns 0, or reports in @err SG_E_LIMIT (more than SG_FWCACHE_MAX
 * distinct firmware images), the file's failure (SG_E_IO, SG_E_LIMIT,
 * SG_E_NOMEM) or SG_E_CRYPTO.
 */
SG_NODISCARD int sg_fwcache_get(struct sg_fwcache *fc, const char *path,
				const struct sg_fw_entry **ret, struct sg_error *err);

/*
 * The SHA-256 of a kernel or initrd at @path into @out, hashed once per run
 * while the file stays the same (device, inode, size, mtime, ctime).
 * Thread-safe. Returns 0, or reports the file's failure (SG_E_IO,
 * SG_E_LIMIT, SG_E_NOMEM, naming @what) or SG_E_CRYPTO in @err.
 */
SG_NODISCARD int sg_fwcache_file_sha256(struct sg_fwcache *fc, const char *path, const char *what,
					uint8_t out[SG_SHA256_LEN], struct sg_error *err);
