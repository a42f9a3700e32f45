/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "debug.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/escape.h"

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
	char text[1024], line[1024];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(text))
		n = (int)sizeof(text) - 1;
	/* Names in the text come from outside (a remote host's domain names, token labels). */
	sg_str_escape(text, (size_t)n, line, sizeof(line));
	fprintf(stderr, "[DEBUG]: %s\n", line);
}
