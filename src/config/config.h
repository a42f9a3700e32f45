/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sevgate's configuration file (YAML; /etc/sevgate/sevgate.conf, or
 * --config FILE, or $SEVGATE_CONFIG). Today it names PKCS#11 modules that
 * need C_Initialize arguments a URI cannot carry (NSS softoken's
 * configdir), the default audit log and its signing key, and the
 * directories manifest secret files must come from; unknown keys are
 * errors.
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
 * Never NULL; *ret_explicit (may be NULL) says whether a file was named (an
 * empty @path names the default).
 */
const char *sg_config_path(const char *path, bool *ret_explicit);

/*
 * Load sg_config_path(@path).
 * A missing file is an error only when it was named explicitly.
 */
int sg_config_load(const char *path, struct sg_config **ret, struct sg_error *err);
void sg_config_free(struct sg_config *c);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_config *, sg_config_free)
