/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fileio.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Below this size a file is read, not mapped. */
#define SMALL_FILE ((size_t)256 << 10)

struct sg_fileio_hooks sg_fileio_hooks;

static ssize_t
do_read(int fd, void *buf, size_t len)
{
	return sg_fileio_hooks.read ? sg_fileio_hooks.read(fd, buf, len) : read(fd, buf, len);
}

static int
do_fsync(int fd)
{
	return sg_fileio_hooks.fsync ? sg_fileio_hooks.fsync(fd) : fsync(fd);
}

static int
open_input(const char *path, const char *what, struct stat *st, struct sg_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return sg_error_set(err, SG_E_IO, "cannot open %s '%s': %s", what, path,
				    strerror(errno));
	if (fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		return sg_error_set(err, SG_E_IO, "cannot stat %s '%s': %s", what, path,
				    strerror(e));
	}
	if (S_ISDIR(st->st_mode)) {
		close(fd);
		return sg_error_set(err, SG_E_IO, "cannot read %s '%s': Is a directory", what,
				    path);
	}
	return fd;
}

/* Read from @fd until EOF or @cap bytes; the count in *ret_len. */
static int
read_fully(int fd, uint8_t *buf, size_t cap, size_t *ret_len)
{
	size_t len = 0;

	while (len < cap) {
		ssize_t n = do_read(fd, buf + len, cap - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*ret_len = len;
	return 0;
}

/* Read all of @fd into a growing buffer; for pipes, devices and small files. */
static int
read_stream(int fd, const char *path, size_t max, size_t hint, const char *what, uint8_t **ret,
	    size_t *ret_len, struct sg_error *err)
{
	_cleanup_(sg_freep) uint8_t *buf = NULL;
	size_t len = 0, cap = 0, got = 0;
	int r;

	for (;;) {
		/* A regular file's size is the hint: one read, then one to see EOF. */
		size_t ncap = cap ? cap * 2 : (hint ? hint + 1 : 65536);
		uint8_t *nbuf;

		if (ncap > max + 1)
			ncap = max + 1;
		if (ncap <= len)
			return sg_error_set(err, SG_E_LIMIT, "%s '%s' is larger than %zu bytes",
					    what, path, max);
		nbuf = realloc(buf, ncap);
		if (!nbuf)
			return sg_error_set(err, SG_E_NOMEM, "out of memory reading %s", what);
		buf = nbuf;
		cap = ncap;
		if ((r = read_fully(fd, buf + len, cap - len, &got)) < 0)
			return sg_error_set(err, SG_E_IO, "cannot read %s '%s': %s", what, path,
					    strerror(-r));
		len += got;
		if (len > max)
			return sg_error_set(err, SG_E_LIMIT, "%s '%s' is larger than %zu bytes",
					    what, path, max);
		if (len < cap)
			break;
	}
	*ret = SG_TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

int
sg_file_map(const char *path, size_t max, const char *what, struct sg_file **ret,
	    struct sg_error *err)
{
	_cleanup_(sg_closep) int fd = -1;
	_cleanup_(sg_file_freep) struct sg_file *f = NULL;
	struct stat st;
	int r;

	fd = open_input(path, what, &st, err);
	if (fd < 0)
		return fd;
	f = calloc(1, sizeof(*f));
	if (!f)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	f->st = st;

	/* Small files: one read beats setting up and tearing down a mapping. */
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size <= SMALL_FILE &&
	    (uint64_t)st.st_size <= max) {
		r = read_stream(fd, path, max, (size_t)st.st_size, what, &f->heap, &f->len, err);
		if (r < 0)
			return r;
		f->data = f->heap ? f->heap : (const uint8_t *)"";
	} else if (S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size > max)
			return sg_error_set(err, SG_E_LIMIT, "%s '%s' is larger than %zu bytes",
					    what, path, max);
		f->len = (size_t)st.st_size;
		if (f->len == 0) {
			f->data = (const uint8_t *)"";
		} else {
			void *m = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);

			if (m == MAP_FAILED)
				return sg_error_set(err, SG_E_IO, "cannot map %s '%s': %s", what,
						    path, strerror(errno));
			(void)madvise(m, f->len, MADV_SEQUENTIAL);
			f->mapping = m;
			f->data = m;
		}
	} else {
		r = read_stream(fd, path, max, 0, what, &f->heap, &f->len, err);
		if (r < 0)
			return r;
		f->data = f->heap ? f->heap : (const uint8_t *)"";
	}
	*ret = SG_TAKE_PTR(f);
	return 0;
}

void
sg_file_free(struct sg_file *f)
{
	if (!f)
		return;
	if (f->mapping)
		munmap(f->mapping, f->len);
	free(f->heap);
	free(f);
}

void
sg_file_wipe_free(struct sg_file *f)
{
	if (f && f->heap)
		OPENSSL_cleanse(f->heap, f->len);
	sg_file_free(f);
}

static int read_secret(const char *path, size_t max, const char *what, sg_file_check_fn check,
		       void *ctx, bool upto, struct sg_secmem **ret, struct sg_error *err);

int
sg_file_read_secret(const char *path, size_t max, const char *what, struct sg_secmem **ret,
		    struct sg_error *err)
{
	return read_secret(path, max, what, NULL, NULL, false, ret, err);
}

int
sg_file_read_secret_upto(const char *path, size_t max, const char *what, struct sg_secmem **ret,
			 struct sg_error *err)
{
	return read_secret(path, max, what, NULL, NULL, true, ret, err);
}

int
sg_file_read_secret_checked(const char *path, size_t max, const char *what, sg_file_check_fn check,
			    void *ctx, struct sg_secmem **ret, struct sg_error *err)
{
	return read_secret(path, max, what, check, ctx, false, ret, err);
}

/* With @upto, a file larger than @max is its first @max + 1 bytes, not an error. */
static int
read_secret(const char *path, size_t max, const char *what, sg_file_check_fn check, void *ctx,
	    bool upto, struct sg_secmem **ret, struct sg_error *err)
{
	_cleanup_(sg_closep) int fd = -1;
	_cleanup_(sg_secmem_freep) struct sg_secmem *m = NULL;
	struct stat st;
	size_t len = 0, cap;
	int r;

	fd = open_input(path, what, &st, err);
	if (fd < 0)
		return fd;
	/* The caller's rule, on the file that is read (not another look at the path). */
	if (check && (r = check(ctx, fd, &st, path, err)) < 0)
		return r;
	/*
	 * Read one byte past what we expect so an oversized file is detected, not
	 * cut: past the size of a regular file (a 16-byte key needs one page of
	 * locked memory, not @max), past @max otherwise.
	 */
	cap = S_ISREG(st.st_mode) && (uint64_t)st.st_size < max ? (size_t)st.st_size + 1 : max + 1;
	m = sg_secmem_new(cap);
	if (!m)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	if ((r = read_fully(fd, m->data, cap, &len)) < 0)
		return sg_error_set(err, SG_E_IO, "cannot read %s '%s': %s", what, path,
				    strerror(-r));
	if (len > max && !upto)
		return sg_error_set(err, SG_E_LIMIT, "%s '%s' is larger than %zu bytes", what, path,
				    max);
	if (len > max) {
		/* Only its first @max + 1 bytes were read: the caller needs no more. */
		m->len = len;
		*ret = SG_TAKE_PTR(m);
		return 0;
	}
	/* A file that changed under us is neither its old nor its new contents: check the fd. */
	if (S_ISREG(st.st_mode)) {
		struct stat after;

		if (fstat(fd, &after) < 0)
			return sg_error_set(err, SG_E_IO, "cannot stat %s '%s': %s", what, path,
					    strerror(errno));
		if ((uint64_t)st.st_size != len || (uint64_t)after.st_size != len)
			return sg_error_set(err, SG_E_IO, "%s '%s' changed size while it was read",
					    what, path);
	} else if (len == cap) {
		return sg_error_set(err, SG_E_IO, "%s '%s' grew while it was read", what, path);
	}
	m->len = len;
	*ret = SG_TAKE_PTR(m);
	return 0;
}

static int
refuse_link(const char *path, const char *what, struct sg_error *err)
{
	return sg_error_set(err, SG_E_IO, "refusing to write %s '%s': it is a symbolic link", what,
			    path);
}

int
sg_out_open(const char *path, mode_t mode, unsigned flags, const char *what, struct sg_error *err)
{
	struct stat st;
	int fd;

	if ((flags & SG_OUT_DASH) && !strcmp(path, "-")) {
		fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return sg_error_set(err, SG_E_IO, "cannot write %s to standard output: %s",
					    what, strerror(errno));
		return fd;
	}
	/* No O_TRUNC: nothing is lost before the checks below pass. */
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0 && errno == ELOOP)
		return refuse_link(path, what, err);
	if (fd < 0)
		return sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", what, path,
				    strerror(errno));
	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		return sg_error_set(err, SG_E_IO, "cannot stat %s '%s': %s", what, path,
				    strerror(e));
	}
	if (S_ISREG(st.st_mode)) {
		/* An existing file keeps its old mode on O_CREAT; tighten it, then empty it. */
		if (((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0) ||
		    ftruncate(fd, 0) < 0) {
			int e = errno;

			close(fd);
			return sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", what, path,
					    strerror(e));
		}
	} else if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		close(fd);
		return sg_error_set(err, SG_E_IO,
				    "cannot write %s '%s': not a regular file, FIFO or device",
				    what, path);
	}
	return fd;
}

int
sg_file_write(const char *path, const void *data, size_t len, mode_t mode, const char *what,
	      struct sg_error *err)
{
	int fd = sg_out_open(path, mode, 0, what, err);

	if (fd < 0)
		return fd;
	if (sg_write_all(fd, data, len) < 0) {
		int e = errno;

		close(fd);
		return sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", what, path,
				    strerror(e));
	}
	if (close(fd) < 0)
		return sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", what, path,
				    strerror(errno));
	return 0;
}

/* Write all of @len bytes to @fd. */
int
sg_write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Whether two paths name files in the same directory (textually). */
static bool
same_dir(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
	size_t la = sa ? (size_t)(sa - a) : 0, lb = sb ? (size_t)(sb - b) : 0;

	return la == lb && !strncmp(a, b, la);
}

/* The directory of @path ("." for a bare name); NULL when out of memory. */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* One file of a set being written: unnamed until it is put in place. */
struct pending {
	int fd;	      /* the written file, or -1 */
	char *tmp;    /* its name (.BASE.sevgate-XXXXXX) until it is placed */
	char *backup; /* a second name of the file it replaces, to put it back */
	bool direct, existed, placed;
};

/* What temporary and spare files of @path are called: DIR/.BASE.sevgate-XXXXXX (hidden). */
#define TMP_TAG ".sevgate-"
#define TMP_RANDOM 6

/* The template DIR/.BASE.sevgate-XXXXXX for @path; NULL when out of memory. */
static char *
tmp_template(const char *path)
{
	const char *slash = strrchr(path, '/');
	int dlen = slash ? (int)(slash - path + 1) : 0;
	char *name;

	if (asprintf(&name, "%.*s.%s" TMP_TAG "XXXXXX", dlen, path, path + dlen) < 0)
		return NULL;
	return name;
}

/* A name beside @path no one has: DIR/.BASE.sevgate- and six random characters. */
static char *
spare_name(const char *path)
{
	static const char chars[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint8_t rnd[TMP_RANDOM];
	char *name = tmp_template(path);
	size_t at;

	if (!name || getentropy(rnd, sizeof(rnd)) < 0) {
		free(name);
		return NULL;
	}
	at = strlen(name) - TMP_RANDOM;
	for (size_t i = 0; i < sizeof(rnd); i++)
		name[at + i] = chars[rnd[i] % (sizeof(chars) - 1)];
	return name;
}

/* Whether the directory entry @name is a temporary or spare file: .BASE.sevgate-XXXXXX. */
static bool
is_tmp_name(const char *name)
{
	size_t len = strlen(name), tlen = strlen(TMP_TAG);
	const char *tail = name + len - TMP_RANDOM;

	if (name[0] != '.' || len < 2 + tlen + TMP_RANDOM || strncmp(tail - tlen, TMP_TAG, tlen))
		return false;
	for (size_t i = 0; i < TMP_RANDOM; i++)
		if (!isalnum((unsigned char)tail[i]))
			return false;
	return true;
}

/* A temporary file this old is a killed writer's: no write takes minutes. */
#define STALE_SECONDS 300

/*
 * A writer killed while a temporary file had a name (a spare beside an old
 * file, or any file where there is no O_TMPFILE) leaves it behind: remove
 * those in @dfd (exactly .BASE.sevgate-XXXXXX) that are ours and older than
 * STALE_SECONDS (a younger one may be another writer's at work); a kept
 * old file (see keep_old) has the old file's mode. Best effort: a name
 * that cannot be removed stays. Takes @dfd.
 */
static void
remove_stale(int dfd)
{
	time_t now = time(NULL);
	struct dirent *e;
	_cleanup_(sg_closedirp) DIR *d = fdopendir(dfd);

	if (!d) {
		close(dfd);
		return;
	}
	while ((e = readdir(d))) {
		struct stat st;

		if (is_tmp_name(e->d_name) &&
		    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    st.st_uid == geteuid() && st.st_mtime + STALE_SECONDS < now)
			(void)unlinkat(dfd, e->d_name, 0);
	}
}

/*
 * Sweep @path's directory of what killed writers left, in every mode, at
 * most once every STALE_SECONDS: a batch writing a thousand packets into
 * one directory reads it once, not a thousand times (a directory past the
 * table's end is swept at every write).
 */
static int
sweep(const char *path)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static struct {
		dev_t dev;
		ino_t ino;
		time_t at;
	} done[32];
	static size_t ndone;
	_cleanup_(sg_freep) char *dir = dir_of(path);
	time_t now = time(NULL);
	struct stat st;
	bool seen;
	size_t i;
	int dfd;

	if (!dir)
		return -ENOMEM;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st) < 0) {
		if (dfd >= 0)
			close(dfd);
		return 0; /* the write itself reports what is wrong with the directory */
	}
	pthread_mutex_lock(&mu);
	for (i = 0; i < ndone && (done[i].dev != st.st_dev || done[i].ino != st.st_ino); i++)
		;
	seen = i < ndone && done[i].at + STALE_SECONDS >= now;
	if (i < ndone)
		done[i].at = now;
	else if (ndone < SG_ELEMENTSOF(done)) {
		done[ndone].dev = st.st_dev;
		done[ndone].ino = st.st_ino;
		done[ndone++].at = now;
	}
	pthread_mutex_unlock(&mu);
	if (seen) {
		close(dfd);
		return 0;
	}
	remove_stale(dfd);
	return 0;
}

/* Create the file that will become @path as DIR/.BASE.sevgate-XXXXXX; a negative errno. */
static int
create_named(const char *path, struct pending *pd)
{
	if (!(pd->tmp = tmp_template(path)))
		return -ENOMEM;
	pd->fd = mkostemp(pd->tmp, O_CLOEXEC);
	if (pd->fd < 0) {
		int e = errno;

		free(pd->tmp);
		pd->tmp = NULL;
		return -e;
	}
	return 0;
}

/*
 * Create the file that will become @path: unnamed (O_TMPFILE) in @path's
 * directory, so a process killed while it is written leaves nothing; where
 * the filesystem has no O_TMPFILE, a named .BASE.sevgate-XXXXXX.
 */
static int
create_pending(const char *path, mode_t mode, struct pending *pd)
{
	_cleanup_(sg_freep) char *dir = dir_of(path);

	if (!dir)
		return -ENOMEM;
	if (sg_fileio_hooks.no_tmpfile) {
		errno = EOPNOTSUPP;
		pd->fd = -1;
	} else {
		pd->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
	}
	if (pd->fd >= 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	return create_named(path, pd);
}

/* Write @out into @pd's file with @mode (and fsync it when @sync); -1 with errno set. */
static int
fill(struct pending *pd, const struct sg_out_file *out, mode_t mode, bool sync)
{
	if (fchmod(pd->fd, mode) < 0 || sg_write_all(pd->fd, out->data, out->len) < 0 ||
	    (sync && do_fsync(pd->fd) < 0))
		return -1;
	return 0;
}

static void
hook_point(int point, const char *path)
{
	if (sg_fileio_hooks.point)
		sg_fileio_hooks.point(point, path);
}

/*
 * Give an unnamed written file a spare name beside @out's path, so that
 * putting it in place is one rename (and the renames of a set follow each
 * other with nothing in between). A named one has its name already. The
 * link goes through /proc/self/fd; without /proc (ENOENT) the file is
 * written again, as a named DIR/.BASE.sevgate-XXXXXX.
 */
static int
name_pending(struct pending *pd, const struct sg_out_file *out, mode_t mode, bool sync)
{
	const char *path = out->path;
	char proc[64];

	if (pd->tmp)
		return 0;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pd->fd);
	for (int tries = 0; tries < 16; tries++) {
		char *spare = spare_name(path);
		int e;

		if (!spare) {
			errno = ENOMEM;
			return -1;
		}
		if (sg_fileio_hooks.no_proc)
			errno = ENOENT;
		else if (linkat(AT_FDCWD, proc, AT_FDCWD, spare, AT_SYMLINK_FOLLOW) == 0) {
			pd->tmp = spare;
			hook_point(SG_FILEIO_SPARE_LINKED, path);
			return 0;
		}
		e = errno;
		free(spare);
		if (e == ENOENT) {
			close(pd->fd);
			pd->fd = -1;
			if ((e = create_named(path, pd)) < 0) {
				errno = -e;
				return -1;
			}
			return fill(pd, out, mode, sync);
		}
		if (e != EEXIST) {
			errno = e;
			return -1;
		}
	}
	return -1;
}

/*
 * Give the file at @path, about to be replaced, a second name
 * DIR/.BASE.sevgate-XXXXXX, so that it can be put back should a later
 * file of the set fail to be placed. A file gone meanwhile has none, nor
 * one that may not be linked (fs.protected_hardlinks: someone else's file
 * we cannot write): that one is removed instead should the set fail.
 */
static int
keep_old(struct pending *pd, const char *path)
{
	for (int tries = 0; tries < 16; tries++) {
		char *name = spare_name(path);

		if (!name) {
			errno = ENOMEM;
			return -1;
		}
		if (link(path, name) == 0) {
			pd->backup = name;
			return 0;
		}
		free(name);
		if (errno == ENOENT || errno == EPERM || errno == EACCES)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/*
 * Put the written file at @path in one step: an unnamed file (a new target)
 * is linked there, which fails rather than replace anything; a named one is
 * renamed over whatever is there. A new target that appeared meanwhile, or
 * no /proc to link through, falls back to a name and a rename.
 */
static int
place(struct pending *pd, const struct sg_out_file *out, mode_t mode, bool sync)
{
	if (sg_fileio_hooks.place && sg_fileio_hooks.place(out->path) < 0)
		return -1;
	if (!pd->tmp) {
		char proc[64];

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pd->fd);
		if (!sg_fileio_hooks.no_proc &&
		    linkat(AT_FDCWD, proc, AT_FDCWD, out->path, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (!sg_fileio_hooks.no_proc && errno != EEXIST && errno != ENOENT)
			return -1;
		if (name_pending(pd, out, mode, sync) < 0)
			return -1;
	}
	return rename(pd->tmp, out->path);
}

static int
sync_dir(const char *path, const char *what, struct sg_error *err)
{
	_cleanup_(sg_freep) char *dir = dir_of(path);
	int fd, e;

	if (!dir)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && do_fsync(fd) == 0) {
		close(fd);
		return 0;
	}
	e = errno;
	if (fd >= 0)
		close(fd);
	return sg_error_set(err, SG_E_IO, "cannot make %s '%s' durable: directory '%s': %s", what,
			    path, dir, strerror(e));
}

int
sg_file_write_all(const struct sg_out_file *outs, size_t n, mode_t mode, unsigned flags,
		  struct sg_error *err)
{
	bool sync = !(flags & SG_WRITE_NOSYNC), all_placed;
	struct pending pd[8];
	int r = 0;
	size_t i;

	if (n > SG_ELEMENTSOF(pd))
		return sg_error_set(err, SG_E_INTERNAL, "too many output files");
	for (i = 0; i < n; i++)
		pd[i] = (struct pending){ .fd = -1 };
	for (i = 0; i < n && r == 0; i++) {
		struct stat st;
		int e;

		if (lstat(outs[i].path, &st) == 0) {
			if (S_ISLNK(st.st_mode)) {
				r = refuse_link(outs[i].path, outs[i].what, err);
				break;
			}
			if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
				pd[i].direct = true; /* written in place below */
				continue;
			}
			pd[i].existed = S_ISREG(st.st_mode);
			if (!S_ISREG(st.st_mode)) {
				r = sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s",
						 outs[i].what, outs[i].path,
						 S_ISDIR(st.st_mode) ?
							 strerror(EISDIR) :
							 "not a regular file, FIFO or "
							 "device");
				break;
			}
		}
		if ((e = sweep(outs[i].path)) < 0 ||
		    (e = create_pending(outs[i].path, mode, &pd[i])) < 0) {
			r = sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", outs[i].what,
					 outs[i].path, strerror(-e));
			break;
		}
		if (fill(&pd[i], &outs[i], mode, sync) < 0)
			r = sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", outs[i].what,
					 outs[i].path, strerror(errno));
	}
	/*
	 * A file that replaces another is named now, so that the renames follow
	 * one another with nothing in between; a new one is linked into place
	 * unnamed (place()): one step, and a kill leaves no name behind.
	 */
	for (i = 0; i < n && r == 0; i++)
		if (!pd[i].direct && pd[i].existed &&
		    name_pending(&pd[i], &outs[i], mode, sync) < 0)
			r = sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", outs[i].what,
					 outs[i].path, strerror(errno));
	for (i = 0; i < n && r == 0; i++)
		if (pd[i].direct)
			r = sg_file_write(outs[i].path, outs[i].data, outs[i].len, mode,
					  outs[i].what, err);
	/*
	 * The old files get their second names last, right before the renames:
	 * such a name shares the old file's age, so another process's sweep
	 * could take it; it is needed only until the last rename.
	 */
	for (i = 0; i < n && r == 0; i++)
		if (pd[i].existed && keep_old(&pd[i], outs[i].path) < 0)
			r = sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", outs[i].what,
					 outs[i].path, strerror(errno));
	for (i = 0; i < n && r == 0; i++) {
		if (pd[i].direct)
			continue;
		if (place(&pd[i], &outs[i], mode, sync) < 0) {
			r = sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", outs[i].what,
					 outs[i].path, strerror(errno));
			break;
		}
		pd[i].placed = true;
		hook_point(SG_FILEIO_PLACED, outs[i].path);
		free(pd[i].tmp);
		pd[i].tmp = NULL;
	}
	/*
	 * Once every file is renamed into place the new set is what there is:
	 * a directory that cannot be synced is reported, but the set stays
	 * (taking it away would leave neither the old set nor the new one).
	 */
	all_placed = r == 0;
	/* The names are durable only once their directory is: then the files exist after a crash. */
	for (i = 0; i < n && r == 0 && sync; i++)
		if (!pd[i].direct &&
		    !(i > 0 && !pd[i - 1].direct && same_dir(outs[i - 1].path, outs[i].path)))
			r = sync_dir(outs[i].path, outs[i].what, err);
	for (i = 0; i < n; i++) {
		/* No half-new set: what was put in place gives way to the old file again. */
		if (r < 0 && !all_placed && pd[i].placed) {
			if (pd[i].backup && rename(pd[i].backup, outs[i].path) == 0) {
				free(pd[i].backup);
				pd[i].backup = NULL;
			} else {
				unlink(outs[i].path);
			}
		}
		if (pd[i].backup)
			unlink(pd[i].backup);
		free(pd[i].backup);
		if (pd[i].tmp)
			unlink(pd[i].tmp);
		free(pd[i].tmp);
		if (pd[i].fd >= 0)
			close(pd[i].fd);
	}
	return r;
}

char *
sg_path_id(const char *path)
{
	_cleanup_(sg_freep) char *dir = NULL;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct stat st;
	char *id;

	/* stat, not realpath: realpath reads every link of the path, one syscall a component. */
	if (stat(path, &st) == 0)
		return asprintf(&id, "i %ju %ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino) < 0 ?
			       NULL :
			       id;
	if (!(dir = dir_of(path)) || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return NULL;
	return asprintf(&id, "d %ju %ju %s", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino, base) < 0 ?
		       NULL :
		       id;
}

bool
sg_path_same_file(const char *a, const char *b)
{
	_cleanup_(sg_freep) char *ia = sg_path_id(a), *ib = sg_path_id(b);

	return ia && ib ? !strcmp(ia, ib) : !strcmp(a, b);
}

int
sg_fs_sync(const char *const *paths, size_t n, const char *what, struct sg_error *err)
{
	dev_t done[16];
	size_t ndone = 0;
	const char *last = NULL;

	for (size_t i = 0; i < n; i++) {
		struct stat st;
		size_t j;
		int fd;

		if (!paths[i])
			continue;
		/* A batch writes its files into a few directories: one stat per run of them. */
		if (last && same_dir(last, paths[i]))
			continue;
		if (stat(paths[i], &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		last = paths[i];
		for (j = 0; j < ndone && done[j] != st.st_dev; j++)
			;
		if (j < ndone)
			continue;
		fd = open(paths[i], O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0 || syncfs(fd) < 0) {
			int e = errno;

			if (fd >= 0)
				close(fd);
			return sg_error_set(err, SG_E_IO, "cannot make %s '%s' durable: %s", what,
					    paths[i], strerror(e));
		}
		close(fd);
		/* Past the table's end, every later file syncs its own filesystem again: slower, never wrong. */
		if (ndone < SG_ELEMENTSOF(done))
			done[ndone++] = st.st_dev;
	}
	return 0;
}
