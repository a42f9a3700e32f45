/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "error.h"

#include "escape.h"

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

int
sg_error_prefix(struct sg_error *err, int code, const char *fmt, ...)
{
	/* Room past the limit, so a character that does not fit is seen whole and left out. */
	char pre[SG_ERROR_MSG_MAX + 4];
	const char *body;
	size_t plen, blen;
	va_list ap;
	int n;

	if (!err)
		return code;
	if (err->code == 0) {
		if (code >= 0)
			return code;
		err->code = code;
		err->msg[0] = '\0';
	}
	va_start(ap, fmt);
	n = vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	if (n < 0)
		pre[0] = '\0';
	plen = sg_utf8_cut(pre, SG_ERROR_MSG_MAX - 1);

	body = err->msg[0] ? err->msg : sg_error_name(err->code);
	blen = sg_utf8_cut(body, SG_ERROR_MSG_MAX - 1 - plen);
	memmove(err->msg + plen, body, blen);
	memcpy(err->msg, pre, plen);
	err->msg[plen + blen] = '\0';
	return code;
}

int
sg_error_recode(struct sg_error *err, int code)
{
	if (err && err->code != 0)
		err->code = code;
	return sg_error_prefix(err, code, "%s", "");
}

int
sg_error_outrank(struct sg_error *err, int code, const char *fmt, ...)
{
	char old[SG_ERROR_MSG_MAX];
	size_t n, olen;
	va_list ap;
	int w;

	if (!err)
		return code;
	if (err->code == 0) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		return code;
	}
	memcpy(old, err->msg, sizeof(old));
	err->code = code;
	va_start(ap, fmt);
	w = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (w < 0)
		err->msg[0] = '\0';
	/* " (" OLD ")" after NEW: OLD is what gives way when there is no room. */
	n = sg_utf8_cut(err->msg, SG_ERROR_MSG_MAX - 1);
	if (n + 3 >= SG_ERROR_MSG_MAX) {
		err->msg[n] = '\0';
		return code;
	}
	olen = sg_utf8_cut(old, SG_ERROR_MSG_MAX - 1 - n - 3);
	memcpy(err->msg + n, " (", 2);
	memcpy(err->msg + n + 2, old, olen);
	memcpy(err->msg + n + 2 + olen, ")", 2);
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
