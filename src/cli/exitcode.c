/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli/exitcode.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

static const struct {
	int code;
	int compat, sevgate;
} table[] = {
	{ SG_OK, SG_EXIT_OK, SG_EXIT_OK },
	{ SG_E_MISMATCH, SG_EXIT_MISMATCH, SG_EXIT_MISMATCH },
	{ SG_E_USAGE, SG_EXIT_USAGE, SG_EXIT_USAGE },
	{ SG_E_INSECURE, SG_EXIT_INSECURE, SG_EXIT_INSECURE },
	{ SG_E_CONFIG, SG_EXIT_CONFIG, SG_EXIT_CONFIG },
	{ SG_E_STATE, SG_EXIT_STATE, SG_EXIT_STATE },
	{ SG_E_POLICY, SG_EXIT_OTHER, SG_EXIT_REFUSED },
	/* Everything else (I/O, format, key, token, libvirt, crypto, limits, bugs) is 6. */
};

static int
lookup(int code, int sevgate)
{
	for (unsigned i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].code == code)
			return sevgate ? table[i].sevgate : table[i].compat;
	return SG_EXIT_OTHER;
}

int
sg_exit_compat(int sg_error_code)
{
	return lookup(sg_error_code, 0);
}

int
sg_exit_sevgate(int sg_error_code)
{
	return lookup(sg_error_code, 1);
}

int
sg_exit_combine(int a, int b)
{
	if (a == SG_EXIT_MISMATCH || b == SG_EXIT_MISMATCH)
		return SG_EXIT_MISMATCH;
	return a > b ? a : b;
}

/* Why an earlier flush of stdout failed: ferror() keeps that it did, not why. */
static int stdout_errno;

void
sg_stdout_flush(void)
{
	if (fflush(stdout) != 0 && !stdout_errno)
		stdout_errno = errno;
}

/* Whether the command's own error line is on stderr already (sg_exit_error_reported). */
static bool error_reported;

void
sg_exit_error_reported(void)
{
	error_reported = true;
}

int
sg_exit_stdout(int code, const char *prefix)
{
	int e;

	errno = 0;
	if (fflush(stdout) == 0 && !ferror(stdout))
		return code;
	/* One line per failed run: the command's own error is that line, its exit code stays. */
	if (code != SG_EXIT_OK && error_reported)
		return code;
	e = stdout_errno ? stdout_errno : errno ? errno : EIO;
	fprintf(stderr, "%swriting standard output: %s\n", prefix, strerror(e));
	return code == SG_EXIT_OK ? SG_EXIT_OTHER : code;
}
