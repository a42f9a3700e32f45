/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The command line's spelling of a secret: ALIAS-OR-GUID:PATH (--inject-secret, secret build). */
#pragma once

#include "util/error.h"
#include "validate/validate.h"

/*
 * Split @arg on its first ':' into a secret spec: the GUID (or the alias
 * luks-key) and the path, which points into @arg. Returns 0, or SG_E_USAGE
 * with the reference's message ("Expecting ALIAS-OR-GUID:PATH for injected
 * secret", "Secret alias '...' is not known"); *@ret is untouched then.
 */
int sg_cli_secret_arg_parse(const char *arg, struct sg_secret_spec *ret, struct sg_error *err);
