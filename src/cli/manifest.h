/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-guest YAML manifests: the `sevgate validate` command line written
 * down (docs/manifest.md). A manifest's keys are that command's long
 * option names plus version, guest and secrets; a defaults.yaml beside it
 * is merged under it. Every error names file:line:column.
 */
#pragma once

#include <stdint.h>

#include "cli/opts.h"
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
	/* secret-header and secret-payload, for sg_cli_check_outputs. */
	struct sg_manifest_loc header_loc, payload_loc;
	/* Strings @o points at (resolved paths, secret specs): freed with the manifest. */
	char **strings;
	size_t nstrings, capstrings;
};

/*
 * Load @path (and the defaults.yaml of its directory) into @o, which must
 * have been set up with sg_cli_init(SG_FE_VALIDATE, o) (or parsed from a
 * command line: the manifest's keys are applied over it). Relative paths
 * are taken from the manifest's directory. On failure @o is left half-filled.
 */
int sg_manifest_apply(struct sg_crypto *crypto, const char *path, struct sg_cli_opts *o,
		      struct sg_manifest **ret, struct sg_error *err);
void sg_manifest_free(struct sg_manifest *m);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_manifest *, sg_manifest_free)

/* True for the names a directory scan takes as manifests (*.yaml, *.yml; not defaults.yaml). */
bool sg_manifest_name_ok(const char *name);
