/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Whole-file input and secret-safe output. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "cleanup.h"
#include "error.h"
#include "secmem.h"

/* Largest input file we read: firmware images are a few MiB; kernels tens. */
#define SG_FILE_MAX ((size_t)1 << 30)

/*
 * A read-only view of a file: mmap'ed when it is a regular file, read into
 * memory otherwise (pipes, /dev/stdin, character devices such as /dev/null).
 */
struct sg_file {
	const uint8_t *data;
	size_t len;
	struct stat st; /* of the file as it was opened */
	void *mapping;	/* non-NULL when mmap'ed */
	uint8_t *heap;	/* non-NULL when read into memory */
};

/*
 * Map @path into *@ret. @what names it in the message ("firmware",
 * "kernel"). Returns 0, or reports in @err SG_E_IO (cannot open, stat,
 * read or map it, naming @path), SG_E_LIMIT (larger than @max) or
 * SG_E_NOMEM; *@ret is written only on success.
 */
SG_NODISCARD int sg_file_map(const char *path, size_t max, const char *what, struct sg_file **ret,
			     struct sg_error *err);
/* Unmap or free @f; NULL is a no-op. */
void sg_file_free(struct sg_file *f);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_file *, sg_file_free)
/* sg_file_free, wiping the bytes read into memory first (a manifest that may hold a PIN). */
void sg_file_wipe_free(struct sg_file *f);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_file *, sg_file_wipe_free)

/*
 * Read a small secret file (a key, a secret payload) into locked memory
 * (*@ret). Returns 0, or reports as sg_file_map does (SG_E_IO, SG_E_LIMIT,
 * SG_E_NOMEM); nothing read is left outside the locked buffer.
 */
SG_NODISCARD int sg_file_read_secret(const char *path, size_t max, const char *what,
				     struct sg_secmem **ret, struct sg_error *err);
/*
 * sg_file_read_secret, except that a file larger than @max is not refused:
 * *@ret holds its first @max + 1 bytes, and a length of @max + 1 says the
 * file is larger, for a caller that reports that in its own words ("Expected
 * 16 bytes in TIK file, but got more than 4096"). Returns 0, or reports
 * SG_E_IO or SG_E_NOMEM as sg_file_read_secret does; *@ret is written only
 * on success.
 */
SG_NODISCARD int sg_file_read_secret_upto(const char *path, size_t max, const char *what,
					  struct sg_secmem **ret, struct sg_error *err);
/*
 * sg_file_read_secret, calling @check on the open fd (and its fstat) before
 * anything is read: a negative return (an error set in @err) refuses the
 * file, and is what sg_file_read_secret_checked returns.
 */
typedef int (*sg_file_check_fn)(void *ctx, int fd, const struct stat *st, const char *path,
				struct sg_error *err);
SG_NODISCARD int
sg_file_read_secret_checked(const char *path, size_t max, const char *what, sg_file_check_fn check,
			    void *ctx, struct sg_secmem **ret, struct sg_error *err);

struct sg_out_file {
	const char *path;
	const void *data;
	size_t len;
	const char *what;
};

/*
 * write(2) all of @data, retrying short writes and EINTR: 0, or -1 with
 * errno set (no struct sg_error: the callers name the file).
 */
SG_NODISCARD int sg_write_all(int fd, const void *data, size_t len);
/*
 * Write several files as one step, under the output policy (sg_out_open):
 * each regular target is written to an unnamed file in its directory
 * (O_TMPFILE; a hidden DIR/.BASE.sevgate-XXXXXX where the filesystem has
 * none, or where there is no /proc to link an unnamed file by). Only when
 * every one is written is each linked beside its target as
 * DIR/.BASE.sevgate-XXXXXX, and then they are renamed over their targets
 * one after the other, in the order of @outs, with nothing else in
 * between. A failure leaves no partial set: each file replaced is kept
 * under a second name .BASE.sevgate-XXXXXX until the set is in place, and
 * when a later file cannot be put in place the old files are put back (a
 * new one with no old file is removed), so the old set is there as it was.
 * Once every rename is made the new set stays: a directory that then
 * cannot be synced is an error (SG_E_IO) with the new files in place, and
 * the caller treats the write as failed (releases nothing, records nothing
 * as released); removing them would leave neither set.
 *
 * A process killed while unnamed files are written leaves nothing; one killed
 * after they are named leaves .BASE.sevgate-XXXXXX files (removed by the
 * next write into that directory once they are STALE_SECONDS, five
 * minutes, old: every write sweeps its directories, whatever the
 * filesystem); one killed between two renames leaves the first files new
 * and the later ones as they were: a new secret header beside the old
 * payload (or none). That pair cannot release anything wrong: the
 * header's MAC covers the payload's ciphertext, so the Secure Processor
 * refuses it. A symbolic link is refused; a FIFO or character device is
 * written directly once the others are ready.
 *
 * Each file is fsync'ed before it is placed and the directory after (a
 * failure of either is an error), unless
 * @flags has SG_WRITE_NOSYNC: then the caller makes many files durable at
 * once (sg_fs_sync) before it relies on them.
 *
 * Returns 0, or reports in @err SG_E_IO (a file refused by the output
 * policy, a failed write, link, rename or sync, naming the file) or
 * SG_E_INTERNAL (more files than one step handles).
 */
#define SG_WRITE_NOSYNC 1u
SG_NODISCARD int sg_file_write_all(const struct sg_out_file *outs, size_t n, mode_t mode,
				   unsigned flags, struct sg_error *err);

/*
 * Make the files @paths (written with SG_WRITE_NOSYNC) and their directory
 * entries durable: one syncfs(2) per filesystem they are on, so a thousand
 * files cost one flush, not two thousand. Consecutive paths in one
 * directory are taken to be on its filesystem (a file bind-mounted over
 * one of them is not looked at). Paths that are not regular files
 * (/dev/stdout) are skipped. Returns 0, or reports SG_E_IO in @err naming
 * @what and the path that failed.
 */
SG_NODISCARD int
sg_fs_sync(const char *const *paths, size_t n, const char *what, struct sg_error *err);

/*
 * Write @len bytes to @path under the output policy (sg_out_open): created
 * with @mode, an existing file gets @mode and is emptied only after the
 * checks. No trailing newline is added. Returns 0, or reports SG_E_IO in
 * @err (refused by the policy, or a failed write or sync), naming @what.
 */
SG_NODISCARD int sg_file_write(const char *path, const void *data, size_t len, mode_t mode,
			       const char *what, struct sg_error *err);

/*
 * The output policy, for every file sevgate writes: open @path for writing
 * (O_NOFOLLOW | O_CLOEXEC), never through a symbolic link (refused naming
 * @path, SG_E_IO); the checks are made on the open fd: a regular file is
 * created with @mode, an existing one gets @mode and only then is emptied;
 * a FIFO or a character device (/dev/null) is written as it is; anything
 * else is refused. With SG_OUT_DASH a @path of "-" is standard output (a
 * duplicate of fd 1). Returns the fd, or a negative SG_E_* code.
 */
#define SG_OUT_DASH 2u
SG_NODISCARD int
sg_out_open(const char *path, mode_t mode, unsigned flags, const char *what, struct sg_error *err);

/*
 * The identity of the file @path names, as a string: its device and inode
 * when it exists, else its directory's device and inode and its last name
 * (a file yet to be created), so two spellings of one file (symbolic links,
 * "..", ".", a relative path) give one identity. NULL when neither @path nor
 * its directory exists, or out of memory.
 */
char *sg_path_id(const char *path);

/*
 * Whether @a and @b name one file: the same sg_path_id, or the same text
 * when either has none.
 */
bool sg_path_same_file(const char *a, const char *b);

/*
 * Fault injection for tests/test-fileio.c only: a NULL member is the real
 * call. @place runs before a written file is put at its path (a link or a
 * rename); -1 with errno set fails that step.
 */
struct sg_fileio_hooks {
	ssize_t (*read)(int fd, void *buf, size_t len);
	int (*fsync)(int fd);
	int (*place)(const char *path);
	/* Called at each SG_FILEIO_* point of sg_file_write_all (a test may _exit there). */
	void (*point)(int point, const char *path);
	/* Behave as on a filesystem without O_TMPFILE. */
	bool no_tmpfile;
	/* Behave as without /proc: linking /proc/self/fd/N fails with ENOENT. */
	bool no_proc;
};
extern struct sg_fileio_hooks sg_fileio_hooks;
#define SG_FILEIO_SPARE_LINKED 1 /* a written file is linked beside its path */
#define SG_FILEIO_PLACED 2	 /* a written file is at its path */
