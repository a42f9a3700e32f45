/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "debug.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int debug_state = -1; /* -1: not decided yet */

void
sg_debug_enable(bool on)
{
	debug_state = on;
}

bool
sg_debug_enabled(void)
{
	if (debug_state < 0) {
		const char *e = secure_getenv("SEVGATE_DEBUG");

		debug_state = e && *e && *e != '0';
	}
	return debug_state;
}

void
sg_debug(const char *fmt, ...)
{
	va_list ap;

	if (!sg_debug_enabled())
		return;
	/* One write per line so concurrent jobs do not interleave mid-line. */
	char line[1024];
	int n = snprintf(line, sizeof(line), "[DEBUG]: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}
