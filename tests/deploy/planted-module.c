/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A module planted where $SEVGATE_MODULE_DIR points (tests/deploy/secure_env_test.sh):
 * loading it at all is the failure, so its constructor says so and exits 99. */
#include <stdio.h>
#include <unistd.h>

__attribute__((constructor)) static void
planted(void)
{
	fputs("planted module loaded\n", stderr);
	_exit(99);
}
