/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * LD_PRELOAD shim for the PIN memory scan of a real sevgate process: when the
 * process exits (after every login, every record and every close), it
 * searches all its readable mappings, through /proc/self/mem, for any
 * 12-byte piece of the PIN and writes one line per mapping that holds one,
 * then "N mappings hold a piece of the PIN", to $SEVGATE_PIN_SCAN_OUT.
 * $SEVGATE_PIN_SCAN_XOR is the PIN XORed with 0x5a, in hex, so neither the
 * environment nor the shim's own buffers hold it in clear. The process's
 * command line (argv, where a test may put the PIN) is not searched: it is
 * the caller's, not a copy sevgate made.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pinscan.h"

/* The command line's bounds: fields 48 and 49 of /proc/self/stat. */
static void
args_range(unsigned long *lo, unsigned long *hi)
{
	char buf[4096], *p;
	FILE *f = fopen("/proc/self/stat", "re");
	size_t n;
	int field = 2;

	*lo = *hi = 0;
	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (!(p = strrchr(buf, ')')))
		return;
	for (p++; *p && field < 48; p++)
		if (*p == ' ')
			field++;
	/* p is now at field 48 */
	sscanf(p, " %lu %lu", lo, hi);
}

static void
scan(void)
{
	const char *hex = getenv("SEVGATE_PIN_SCAN_XOR"), *path = getenv("SEVGATE_PIN_SCAN_OUT");
	static int done;
	unsigned char xpin[256];
	unsigned long alo, ahi;
	size_t n;
	FILE *out;
	int found;

	if (done || !hex || !path || (n = strlen(hex) / 2) < PINSCAN_WINDOW || n > sizeof(xpin))
		return;
	done = 1;
	for (size_t i = 0; i < n; i++)
		sscanf(hex + 2 * i, "%2hhx", &xpin[i]);
	args_range(&alo, &ahi);
	if (!(out = fopen(path, "we")))
		return;
	if ((found = pinscan(xpin, n, alo, ahi, out)) < 0) {
		fclose(out);
		return;
	}
	fprintf(out, "%d mappings hold a piece of the PIN\n", found);
	fclose(out);
}

__attribute__((destructor)) static void
at_exit_scan(void)
{
	scan();
}

void
_exit(int status)
{
	void (*real)(int) = (void (*)(int))dlsym(RTLD_NEXT, "_exit");

	scan();
	real(status);
	__builtin_unreachable();
}
