/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
sg_error_set(struct sg_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err || err->code != 0)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void
sg_error_clear(struct sg_error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

const char *
sg_error_name(int code)
{
	static const char *const names[] = {
		[0] = "SG_OK",	       [1] = "SG_E_NOMEM",     [2] = "SG_E_IO",
		[3] = "SG_E_FORMAT",   [4] = "SG_E_TRUNCATED", [5] = "SG_E_USAGE",
		[6] = "SG_E_INSECURE", [7] = "SG_E_CONFIG",    [8] = "SG_E_STATE",
		[9] = "SG_E_MISMATCH", [10] = "SG_E_KEY",      [11] = "SG_E_TOKEN",
		[12] = "SG_E_VIRT",    [13] = "SG_E_CRYPTO",   [14] = "SG_E_POLICY",
		[15] = "SG_E_LIMIT",   [16] = "SG_E_INTERNAL",
	};
	int i = -code;

	if (i < 0 || (size_t)i >= sizeof(names) / sizeof(names[0]))
		return "SG_E_UNKNOWN";
	return names[i];
}
