/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fileio.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Below this size a file is read, not mapped. */
#define SMALL_FILE ((size_t)256 << 10)

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
		ssize_t n = read(fd, buf + len, cap - len);

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

int
sg_file_read_secret(const char *path, size_t max, const char *what, struct sg_secmem **ret,
		    struct sg_error *err)
{
	_cleanup_(sg_closep) int fd = -1;
	_cleanup_(sg_secmem_freep) struct sg_secmem *m = NULL;
	struct stat st;
	size_t len = 0, cap;
	int r;

	fd = open_input(path, what, &st, err);
	if (fd < 0)
		return fd;
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
	if (len > max)
		return sg_error_set(err, SG_E_LIMIT, "%s '%s' is larger than %zu bytes", what, path,
				    max);
	if (len == cap)
		return sg_error_set(err, SG_E_IO, "%s '%s' grew while it was read", what, path);
	m->len = len;
	*ret = SG_TAKE_PTR(m);
	return 0;
}

int
sg_file_write(const char *path, const void *data, size_t len, mode_t mode, const char *what,
	      struct sg_error *err)
{
	_cleanup_(sg_closep) int fd = -1;
	const uint8_t *p = data;
	struct stat st;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0)
		return sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", what, path,
				    strerror(errno));
	/* An existing regular file keeps its old mode on O_CREAT; tighten it. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) != mode &&
	    fchmod(fd, mode) < 0)
		return sg_error_set(err, SG_E_IO, "cannot set mode of %s '%s': %s", what, path,
				    strerror(errno));
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", what, path,
					    strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0) {
		fd = -1;
		return sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", what, path,
				    strerror(errno));
	}
	fd = -1;
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

int
sg_file_write_all(const struct sg_out_file *outs, size_t n, mode_t mode, unsigned flags,
		  struct sg_error *err)
{
	bool sync = !(flags & SG_WRITE_NOSYNC);
	char *tmp[8] = { 0 };
	int r = 0;
	size_t i;

	if (n > SG_ELEMENTSOF(tmp))
		return sg_error_set(err, SG_E_INTERNAL, "too many output files");
	for (i = 0; i < n && r == 0; i++) {
		struct stat st;
		int fd;

		if (stat(outs[i].path, &st) == 0 && !S_ISREG(st.st_mode))
			continue; /* written directly below */
		if (asprintf(&tmp[i], "%s.XXXXXX", outs[i].path) < 0) {
			tmp[i] = NULL;
			r = sg_error_set(err, SG_E_NOMEM, "out of memory");
			break;
		}
		fd = mkostemp(tmp[i], O_CLOEXEC);
		if (fd < 0) {
			r = sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", outs[i].what,
					 outs[i].path, strerror(errno));
			free(tmp[i]);
			tmp[i] = NULL;
			break;
		}
		if (fchmod(fd, mode) < 0 || sg_write_all(fd, outs[i].data, outs[i].len) < 0 ||
		    (sync && fsync(fd) < 0)) {
			r = sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", outs[i].what,
					 outs[i].path, strerror(errno));
			close(fd);
			break;
		}
		if (close(fd) < 0)
			r = sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", outs[i].what,
					 outs[i].path, strerror(errno));
	}
	for (i = 0; i < n && r == 0; i++)
		if (!tmp[i])
			r = sg_file_write(outs[i].path, outs[i].data, outs[i].len, mode,
					  outs[i].what, err);
	for (i = 0; i < n && r == 0; i++)
		if (tmp[i] && rename(tmp[i], outs[i].path) < 0)
			r = sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", outs[i].what,
					 outs[i].path, strerror(errno));
	/* The renames are durable only once their directory is: then the files exist after a crash. */
	for (i = 0; i < n && r == 0 && sync; i++) {
		_cleanup_(sg_freep) char *dir = NULL;
		char *slash;
		int dfd;

		if (!tmp[i] || (i > 0 && tmp[i - 1] && same_dir(outs[i - 1].path, outs[i].path)))
			continue;
		if (!(dir = strdup(outs[i].path)))
			break;
		slash = strrchr(dir, '/');
		if (slash == dir)
			slash[1] = '\0';
		else if (slash)
			*slash = '\0';
		dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	for (i = 0; i < n; i++) {
		if (tmp[i] && r < 0)
			unlink(tmp[i]);
		free(tmp[i]);
	}
	return r;
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

struct sg_fileio_hooks sg_fileio_hooks;

int
sg_out_open(const char *path, mode_t mode, unsigned flags, const char *what, struct sg_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, mode);

	(void)flags;
	if (fd < 0)
		return sg_error_set(err, SG_E_IO, "cannot write %s '%s': %s", what, path,
				    strerror(errno));
	return fd;
}
