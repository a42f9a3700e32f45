/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "debug.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/escape.h"

/*
 * -1: not decided yet. Every thread of a batch reads it: atomic, and the
 * first decision from the environment never overrides --debug.
 */
static atomic_int debug_state = -1;

void
sg_debug_enable(bool on)
{
	atomic_store_explicit(&debug_state, on, memory_order_relaxed);
}

bool
sg_debug_enabled(void)
{
	int s = atomic_load_explicit(&debug_state, memory_order_relaxed);

	if (s < 0) {
		const char *e = secure_getenv("SEVGATE_DEBUG");
		int expected = -1;

		s = e && *e && *e != '0';
		if (!atomic_compare_exchange_strong(&debug_state, &expected, s))
			s = expected;
	}
	return s;
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
