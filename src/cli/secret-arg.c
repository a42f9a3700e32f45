/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli/secret-arg.h"

#include <string.h>

#include "core/secret.h"

int
sg_cli_secret_arg_parse(const char *arg, struct sg_secret_spec *ret, struct sg_error *err)
{
	const char *colon = strchr(arg, ':');
	struct sg_guid guid;
	char name[128];
	size_t n;
	int r;

	if (!colon)
		return sg_error_set(err, SG_E_USAGE,
				    "Expecting ALIAS-OR-GUID:PATH for injected secret");
	n = (size_t)(colon - arg);
	if (n >= sizeof(name))
		return sg_error_set(err, SG_E_USAGE, "Secret alias '%.*s...' is not known", 32,
				    arg);
	memcpy(name, arg, n);
	name[n] = '\0';
	if ((r = sg_secret_guid_parse(name, &guid, err)) < 0)
		return r;
	*ret = (struct sg_secret_spec){ .guid = guid, .path = colon + 1 };
	return 0;
}
