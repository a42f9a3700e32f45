/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sevgate's configuration file (YAML; /etc/sevgate/sevgate.conf, or
 * --config FILE, or $SEVGATE_CONFIG). Today it names PKCS#11 modules that
 * need C_Initialize arguments a URI cannot carry (NSS softoken's
 * configdir), the default audit log and its signing key, and the
 * directories manifest secret files must come from; unknown keys are
 * errors.
 *
 * This module owns the process's loaded configuration (sg_config_get): each
 * file is read once and kept here, and users (the PKCS#11 back end for its
 * pkcs11-modules entries) ask for it instead of holding their own.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/cleanup.h"
#include "util/error.h"

#define SG_CONFIG_DEFAULT_PATH "/etc/sevgate/sevgate.conf"
#define SG_CONFIG_MAX_MODULES 16
#define SG_CONFIG_MAX_SECRET_DIRS 16

struct sg_p11_module_conf {
	char *name;	 /* matched by a URI's module-name= */
	char *path;	 /* the module's shared object */
	char *init_args; /* CK_C_INITIALIZE_ARGS.pReserved, or NULL */
};

struct sg_config {
	char *path; /* NULL when no file was read */
	struct sg_p11_module_conf modules[SG_CONFIG_MAX_MODULES];
	size_t nmodules;
	/* Defaults for sevgate validate/batch --audit-log and --audit-key. */
	char *audit_log, *audit_key;
	/* secret-dirs: when set, a manifest's secret files must lie under one of these. */
	bool have_secret_dirs;
	char *secret_dirs[SG_CONFIG_MAX_SECRET_DIRS];
	size_t nsecret_dirs;
};

/*
 * The configuration file sevgate reads: @path when given, else a non-empty
 * $SEVGATE_CONFIG (ignored in a set-id process), else SG_CONFIG_DEFAULT_PATH.
 * Returns that path, never NULL (@path itself, the environment's string or
 * the constant: not to be freed); *ret_explicit (may be NULL) says whether a
 * file was named (an empty @path names the default). Reports nothing.
 */
const char *sg_config_path(const char *path, bool *ret_explicit);

/*
 * Read sg_config_path(@path) into a new configuration of the caller's.
 * Returns 0 and sets *@ret (free with sg_config_free): the file's settings,
 * or an empty configuration (path NULL) when the default file is missing.
 * A missing file is an error only when it was named explicitly. On failure
 * returns a negative SG_E_* code, reports it once in @err (SG_E_IO, SG_E_LIMIT
 * or SG_E_FORMAT from the YAML tree, naming FILE:LINE:COL; SG_E_FORMAT for an
 * unknown key or a value of the wrong type, SG_E_LIMIT for more than
 * SG_CONFIG_MAX_MODULES or SG_CONFIG_MAX_SECRET_DIRS entries, SG_E_NOMEM) and
 * leaves *@ret alone.
 * Most callers want sg_config_get, the process's one copy.
 */
SG_NODISCARD int sg_config_load(const char *path, struct sg_config **ret, struct sg_error *err);

/* Wipe and free @c (NULL is fine). */
void sg_config_free(struct sg_config *c);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_config *, sg_config_free)

/*
 * The process's configuration from sg_config_path(@path): this module owns
 * it. The file is read on the first call for that path (named or not) and
 * the object kept, so every later call, from any thread, returns the same
 * one; thread-safe (the owner's lock is held while a file is read).
 * Returns 0 and sets *@ret to a read-only configuration, valid until
 * sg_config_reset. On failure returns what sg_config_load returns and
 * reports in @err, and keeps nothing: the next call reads the file again
 * (and reports again).
 */
SG_NODISCARD int
sg_config_get(const char *path, const struct sg_config **ret, struct sg_error *err);

/*
 * The pkcs11-modules entry named @name (the first, if several are) in
 * sg_config_get(@path). Returns 1 and sets *@ret (valid until
 * sg_config_reset); 0, with *@ret NULL, when no entry has that name; or the
 * negative code of a failed load, reported in @err as sg_config_get does.
 * Thread-safe.
 */
SG_NODISCARD int sg_config_module(const char *path, const char *name,
				  const struct sg_p11_module_conf **ret, struct sg_error *err);

/*
 * Wipe and forget every configuration sg_config_get loaded; the next call
 * reads its file again. No pointer sg_config_get or sg_config_module returned
 * may be used afterwards, so no other thread may hold one. Runs at process
 * exit too. Reports nothing.
 */
void sg_config_reset(void);
