/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The machine's own files, which no packet output may name: the audit log,
 * its key, the configuration file, the manifests of the run. A manifest
 * never chooses where or whether its releases are recorded.
 */
#pragma once

#include "spec/guest-spec.h"
#include "util/error.h"

struct sg_manifest;

/*
 * Note @path (an existing file; a missing one is skipped) as @what (static
 * text: "the audit log"), for the rest of the process. Any thread, any time
 * (the list has its own lock). Returns 0, or SG_E_NOMEM (the list is left
 * as it was).
 */
SG_NODISCARD int sg_output_protect(const char *path, const char *what, struct sg_error *err);
/*
 * Sort the list, so each check is a binary search (a batch of many
 * manifests); a later note unsorts it again, and checks are linear until the
 * next seal.
 */
void sg_output_protect_seal(void);

/*
 * An output named on the command line (batch --report): refused (exit 2)
 * when it is one of the noted files. @what names the option in the error.
 * Returns 0, or SG_E_USAGE reported in @err.
 */
SG_NODISCARD int sg_output_check(const char *path, const char *what, struct sg_error *err);

/*
 * The secret header and payload of @g, when it writes them: refused (exit
 * 2) when either is a noted file, @m's manifest or the defaults.yaml beside
 * it (by device and inode), or when both are one file (by device and inode,
 * or by resolved path while they do not exist). In a manifest the error
 * names the key's FILE:LINE:COL. Returns 0, or SG_E_USAGE reported in @err.
 */
SG_NODISCARD int sg_output_check_guest(const struct sg_guest_spec *g, const struct sg_manifest *m,
				       struct sg_error *err);
