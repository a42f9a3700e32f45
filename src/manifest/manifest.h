/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-guest YAML manifests: a guest description (struct sg_guest_spec)
 * written down (docs/manifest.md). A manifest's keys are that command's long
 * option names plus version, guest and secrets; a defaults.yaml beside it
 * is merged under it. Every error names file:line:column.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "spec/guest-spec.h"
#include "core/crypto.h"
#include "util/cleanup.h"
#include "util/error.h"

#define SG_MANIFEST_VERSION 1

/* Where a key was set: the manifest or its defaults.yaml, line and column. */
struct sg_manifest_loc {
	const char *file; /* NULL: not set by the manifest */
	unsigned line, col;
};

struct sg_manifest {
	char *path;
	char *guest;
	uint8_t sha256[32]; /* of the manifest's bytes */
	/* secret-header and secret-payload, where output files are checked. */
	struct sg_manifest_loc header_loc, payload_loc;
	/* Strings the spec points at (resolved paths, values): freed with the manifest. */
	char **strings;
	size_t nstrings, capstrings;
	/*
	 * The trust model again when a secret file is read (sg_manifest_check_secret_fd): the
	 * machine's own files by device and inode, the manifest's secret files, and secret-dirs
	 * (resolved when the manifest was loaded) with the configuration that set them.
	 */
	struct stat *own;
	size_t nown;
	const char **files;
	size_t nfiles;
	bool have_secret_dirs;
	char **secret_dirs; /* realpath of each; NULL for one that does not resolve */
	size_t nsecret_dirs;
	char *conf_path;
};

/*
 * The check that counts for a secret file (sg_file_check_fn, @ctx the manifest): on the
 * open fd that is read, not the path checked at load. Refuses (exit 2) a file that is, by
 * device and inode, one of sevgate's own, and a manifest secret file outside secret-dirs.
 */
SG_NODISCARD int sg_manifest_check_secret_fd(void *ctx, int fd, const struct stat *st,
					     const char *path, struct sg_error *err);

/*
 * Load @path (and the defaults.yaml of its directory) into @g, which must
 * have been set up with sg_guest_spec_init(SG_ORIGIN_VALIDATE, g) (or from a
 * command line: the manifest's keys are applied over it). Relative paths
 * are taken from the manifest's directory; @g points into *@ret afterwards,
 * which must outlive it. Returns 0, or an error with FILE:LINE:COL; a
 * malformed manifest is SG_E_USAGE. On failure @g is left half-filled.
 */
SG_NODISCARD int
sg_manifest_apply(struct sg_crypto *crypto, const char *path, struct sg_guest_spec *g,
		  struct sg_manifest **ret, struct sg_error *err);
/* Free @m and the strings @g borrowed from it (wiped: a pin-value may be one). Accepts NULL. */
void sg_manifest_free(struct sg_manifest *m);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_manifest *, sg_manifest_free)

/* True for the names a directory scan takes as manifests (*.yaml, *.yml; not defaults.yaml). */
bool sg_manifest_name_ok(const char *name);
