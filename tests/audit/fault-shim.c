/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An LD_PRELOAD shim that makes the durable-write calls fail, for the audit
 * tests of a batch's release groups (a disk that errors only on flush
 * cannot be staged otherwise):
 *   SEVGATE_FAULT_FILE_SYNC=1        every fsync(2) and syncfs(2) fails with EIO
 *                                    (the packet files' flushes; the log uses
 *                                    fdatasync);
 *   SEVGATE_FAULT_FDATASYNC_AFTER=N  the first N fdatasync(2) calls go
 *                                    through, every later one fails with EIO.
 * Everything else is the real libc.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_long fdatasyncs;

static int
file_sync(const char *name, int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, name);
	const char *f = getenv("SEVGATE_FAULT_FILE_SYNC");

	if (f && *f == '1') {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

int
syncfs(int fd)
{
	return file_sync("syncfs", fd);
}

int
fsync(int fd)
{
	return file_sync("fsync", fd);
}

int
fdatasync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	const char *after = getenv("SEVGATE_FAULT_FDATASYNC_AFTER");

	if (after && atomic_fetch_add(&fdatasyncs, 1) >= atol(after)) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}
