/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/util/fileio.c: mapping inputs, reading secrets, writing 0600 outputs. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vectors.h"
#include "util/fileio.h"

#define BOGUS ((struct sg_file *)0x1)

enum kind {
	K_REGULAR,
	K_EMPTY,
	K_DEVNULL,
	K_DEVZERO,
	K_DIR,
	K_MISSING,
	K_FIXTURE
};

struct case_map {
	const char *id;
	enum kind kind;
	size_t size; /* regular file size */
	size_t max;
	int rc;
	const char *msg_part; /* substring of the message on failure */
};

static const struct case_map map_cases[] = {
	{ "map-regular", K_REGULAR, 5000, SG_FILE_MAX, 0, NULL },
	{ "map-regular-at-limit", K_REGULAR, 4096, 4096, 0, NULL },
	{ "map-regular-over-limit", K_REGULAR, 4097, 4096, SG_E_LIMIT, "larger than 4096" },
	{ "map-empty-file", K_EMPTY, 0, SG_FILE_MAX, 0, NULL },
	{ "map-dev-null", K_DEVNULL, 0, SG_FILE_MAX, 0, NULL },
	{ "map-dev-zero-over-limit", K_DEVZERO, 0, 200000, SG_E_LIMIT, "larger than 200000" },
	{ "map-directory", K_DIR, 0, SG_FILE_MAX, SG_E_IO, "Is a directory" },
	{ "map-missing", K_MISSING, 0, SG_FILE_MAX, SG_E_IO, "does-not-exist" },
	{ "map-fixture-fw", K_FIXTURE, 8192, SG_FILE_MAX, 0, NULL },
};

static uint8_t *
pattern(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	return p;
}

static void
test_map(void **state)
{
	const struct case_map *t = *state;
	struct sg_error err = { 0 };
	struct sg_file *f = BOGUS;
	uint8_t *want = NULL;
	char *path = NULL;
	int rc;

	switch (t->kind) {
	case K_REGULAR:
	case K_EMPTY:
		want = pattern(t->size);
		path = tv_tmp_write(t->id, want, t->size);
		break;
	case K_DEVNULL: path = strdup("/dev/null"); break;
	case K_DEVZERO: path = strdup("/dev/zero"); break;
	case K_DIR: path = strdup(tv_tmpdir()); break;
	case K_MISSING: path = tv_tmp("does-not-exist"); break;
	case K_FIXTURE: path = tv_fixture("fw_synth.bin"); break;
	}
	rc = sg_file_map(path, t->max, "firmware", &f, &err);
	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		assert_non_null(f);
		assert_int_equal(f->len, t->size);
		assert_non_null(f->data);
		if (want && t->size)
			assert_memory_equal(f->data, want, t->size);
		if (t->kind == K_FIXTURE) {
			assert_int_equal(f->data[0], 0);
			assert_int_equal(f->data[250], 250);
			assert_int_equal(f->data[251], 0);
		}
		sg_file_free(f);
	} else {
		TV_ASSERT_ERR(rc, &err, t->rc);
		assert_ptr_equal(f, BOGUS);
		assert_non_null(strstr(err.msg, "firmware"));
		assert_non_null(strstr(err.msg, t->msg_part));
	}
	free(want);
	free(path);
}

static void
test_free_null(void **state)
{
	(void)state;
	sg_file_free(NULL);
}

struct case_secret {
	const char *id;
	size_t size, max;
	int rc;
	bool upto; /* sg_file_read_secret_upto: an oversized file is its first @max + 1 bytes */
	size_t want_len; /* with upto: *ret's length */
};

static const struct case_secret secret_cases[] = {
	{ "secret-16", 16, 65536, 0, false, 0 },
	{ "secret-empty", 0, 64, 0, false, 0 },
	{ "secret-at-max", 64, 64, 0, false, 0 },
	{ "secret-over-max", 65, 64, SG_E_LIMIT, false, 0 },
	{ "secret-missing", (size_t)-1, 64, SG_E_IO, false, 0 },
	{ "upto-16", 16, 4096, 0, true, 16 },
	{ "upto-empty", 0, 64, 0, true, 0 },
	{ "upto-at-max", 64, 64, 0, true, 64 },
	{ "upto-over-max", 65, 64, 0, true, 65 },
	{ "upto-far-over-max", 10000, 64, 0, true, 65 },
	{ "upto-missing", (size_t)-1, 64, SG_E_IO, true, 0 },
};

static void
test_read_secret(void **state)
{
	const struct case_secret *t = *state;
	struct sg_error err = { 0 };
	struct sg_secmem *m = (struct sg_secmem *)0x1;
	size_t len = t->upto ? t->want_len : t->size;
	uint8_t *want = NULL;
	char *path;
	int rc;

	if (t->size == (size_t)-1) {
		path = tv_tmp("no-such-secret");
	} else {
		want = pattern(t->size);
		path = tv_tmp_write(t->id, want, t->size);
	}
	rc = t->upto ? sg_file_read_secret_upto(path, t->max, "TIK", &m, &err) :
		       sg_file_read_secret(path, t->max, "TIK", &m, &err);
	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		assert_int_equal(m->len, len);
		if (len)
			assert_memory_equal(m->data, want, len);
		sg_secmem_free(m);
	} else {
		TV_ASSERT_ERR(rc, &err, t->rc);
		assert_ptr_equal(m, (struct sg_secmem *)0x1);
		assert_non_null(strstr(err.msg, "TIK"));
	}
	free(want);
	free(path);
}

static mode_t
file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void
check_contents(const char *path, const char *want)
{
	size_t len;
	uint8_t *got = tv_read(path, &len);

	assert_int_equal(len, strlen(want));
	if (len)
		assert_memory_equal(got, want, len);
	free(got);
}

static void
test_write_creates_0600(void **state)
{
	struct sg_error err = { 0 };
	char *path = tv_tmp("new-header");
	mode_t old = umask(0);

	(void)state;
	/* Even with a permissive umask the file is created 0600. */
	TV_ASSERT_OK(sg_file_write(path, "AAAA", 4, 0600, "secret header", &err), &err);
	umask(old);
	assert_int_equal(file_mode(path), 0600);
	check_contents(path, "AAAA"); /* no trailing newline */
	free(path);
}

static void
test_write_tightens_0644(void **state)
{
	struct sg_error err = { 0 };
	char *path = tv_tmp_write("old-0644", "a much longer previous content\n", 31);

	(void)state;
	assert_int_equal(chmod(path, 0644), 0);
	TV_ASSERT_OK(sg_file_write(path, "xyz", 3, 0600, "secret payload", &err), &err);
	assert_int_equal(file_mode(path), 0600);
	check_contents(path, "xyz"); /* truncated */
	free(path);
}

static void
test_write_empty(void **state)
{
	struct sg_error err = { 0 };
	char *path = tv_tmp("empty-out");

	(void)state;
	TV_ASSERT_OK(sg_file_write(path, "", 0, 0600, "secret payload", &err), &err);
	assert_int_equal(file_mode(path), 0600);
	check_contents(path, "");
	free(path);
}

static void
test_write_no_dir(void **state)
{
	struct sg_error err = { 0 };
	char *path = tv_tmp("missing-dir/header");

	(void)state;
	TV_ASSERT_ERR(sg_file_write(path, "x", 1, 0600, "secret header", &err), &err, SG_E_IO);
	assert_non_null(strstr(err.msg, "secret header"));
	assert_false(tv_exists(path));
	free(path);
}

static void
test_write_to_directory(void **state)
{
	struct sg_error err = { 0 };

	(void)state;
	TV_ASSERT_ERR(sg_file_write(tv_tmpdir(), "x", 1, 0600, "secret header", &err), &err,
		      SG_E_IO);
}

/* --- The output policy (issue 11): symlinks, modes, the header/payload pair. --- */

static void
tv_write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static char *
fresh_dir(const char *name)
{
	char *d = tv_tmp(name);

	assert_int_equal(mkdir(d, 0700), 0);
	return d;
}

static char *
join(const char *dir, const char *name)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

/* The names in @dir, sorted, joined by spaces ("" when empty). */
static char *
listing(const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);
	size_t len = 1;
	char *out;

	assert_true(n >= 0);
	for (int i = 0; i < n; i++)
		len += strlen(ents[i]->d_name) + 1;
	out = calloc(1, len);
	for (int i = 0; i < n; i++) {
		if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
			if (*out)
				strcat(out, " ");
			strcat(out, ents[i]->d_name);
		}
		free(ents[i]);
	}
	free(ents);
	return out;
}

static void
assert_listing(const char *dir, const char *want)
{
	char *got = listing(dir);

	if (strcmp(got, want))
		fail_msg("%s holds '%s', want '%s'", dir, got, want);
	free(got);
}

static void
test_out_symlink_refused(void **state)
{
	char *d = fresh_dir("out-symlink"), *target = join(d, "target"), *link = join(d, "link");
	char *dangling = join(d, "dangling"), *nowhere = join(d, "nowhere");
	struct sg_error err = { 0 };

	(void)state;
	tv_write_file(target, "precious", 8);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(symlink(nowhere, dangling), 0);
	TV_ASSERT_ERR(sg_file_write(link, "x", 1, 0644, "VMSA", &err), &err, SG_E_IO);
	assert_non_null(strstr(err.msg, link));
	assert_non_null(strstr(err.msg, "symbolic link"));
	check_contents(target, "precious");
	err = (struct sg_error){ 0 };
	TV_ASSERT_ERR(sg_out_open(dangling, 0600, 0, "report", &err), &err, SG_E_IO);
	assert_non_null(strstr(err.msg, "symbolic link"));
	assert_false(tv_exists(nowhere));
	free(d);
	free(target);
	free(link);
	free(dangling);
	free(nowhere);
}

static void
test_write_all_symlink_refused(void **state)
{
	char *d = fresh_dir("wa-symlink"), *target = join(d, "target"), *link = join(d, "h");
	char *payload = join(d, "p");
	struct sg_error err = { 0 };
	struct sg_out_file outs[] = {
		{ link, "HDR", 3, "secret header" },
		{ payload, "PAY", 3, "secret payload" },
	};

	(void)state;
	tv_write_file(target, "precious", 8);
	assert_int_equal(symlink(target, link), 0);
	TV_ASSERT_ERR(sg_file_write_all(outs, 2, 0600, 0, &err), &err, SG_E_IO);
	assert_non_null(strstr(err.msg, link));
	assert_non_null(strstr(err.msg, "symbolic link"));
	check_contents(target, "precious");
	assert_listing(d, "h target"); /* no payload, no temporary file */
	free(d);
	free(target);
	free(link);
	free(payload);
}

static void
test_out_open_checks_before_truncating(void **state)
{
	char *path = tv_tmp_write("out-existing", "old contents", 12);
	struct sg_error err = { 0 };
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(chmod(path, 0644), 0);
	fd = sg_out_open(path, 0600, 0, "report", &err);
	TV_ASSERT_OK(fd < 0 ? fd : 0, &err);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 0);
	close(fd);
	/* A directory is refused with its name, and stays. */
	err = (struct sg_error){ 0 };
	TV_ASSERT_ERR(sg_out_open(tv_tmpdir(), 0600, 0, "report", &err), &err, SG_E_IO);
	assert_non_null(strstr(err.msg, "report"));
	free(path);
}

static void
test_out_open_dash(void **state)
{
	struct sg_error err = { 0 };
	struct stat a, b;
	int fd;

	(void)state;
	/* "-" is standard output only where the caller says so; else a file named "-". */
	fd = sg_out_open("-", 0600, SG_OUT_DASH, "report", &err);
	TV_ASSERT_OK(fd < 0 ? fd : 0, &err);
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(fstat(1, &b), 0);
	assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	close(fd);
}

static void
test_out_fifo(void **state)
{
	char *d = fresh_dir("out-fifo"), *fifo = join(d, "fifo"), *h = join(d, "h");
	struct sg_error err = { 0 };
	struct sg_out_file outs[] = {
		{ h, "HDR", 3, "secret header" },
		{ fifo, "PAY", 3, "secret payload" },
	};
	char buf[8] = { 0 };
	int status;
	pid_t pid;

	(void)state;
	/* A FIFO is written as it is, waiting for its reader as open(2) does. */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(fifo, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;

		_exit(n == 3 && !memcmp(buf, "PAY", 3) ? 0 : 1);
	}
	TV_ASSERT_OK(sg_file_write_all(outs, 2, 0600, 0, &err), &err);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	check_contents(h, "HDR");
	free(d);
	free(fifo);
	free(h);
}

static void
test_path_same_file(void **state)
{
	char *d = fresh_dir("same-file"), *a = join(d, "a"), *b = join(d, "b"), *n = join(d, "new");
	char *dotted = join(d, "../same-file/./new"), *other = join(d, "other");
	char cwd[4096];

	(void)state;
	tv_write_file(a, "x", 1);
	assert_int_equal(link(a, b), 0);
	assert_true(sg_path_same_file(a, b)); /* one inode, two names */
	assert_false(sg_path_same_file(a, n));
	assert_true(sg_path_same_file(n, dotted)); /* neither exists: resolved directories */
	assert_false(sg_path_same_file(n, other));
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(d), 0);
	assert_true(sg_path_same_file("new", n)); /* relative and absolute */
	assert_int_equal(chdir(cwd), 0);
	free(d);
	free(a);
	free(b);
	free(n);
	free(dotted);
	free(other);
}

static int place_calls, place_fail_at;

static int
failing_place(const char *path)
{
	(void)path;
	if (place_calls++ == place_fail_at) {
		errno = EXDEV;
		return -1;
	}
	return 0;
}

static void
second_place_fails(const char *name, bool old_files)
{
	char *d = fresh_dir(name), *h = join(d, "h"), *p = join(d, "p");
	struct sg_error err = { 0 };
	struct sg_out_file outs[] = {
		{ h, "NEWHDR", 6, "secret header" },
		{ p, "NEWPAY", 6, "secret payload" },
	};

	if (old_files) {
		tv_write_file(h, "OLDHDR", 6);
		tv_write_file(p, "OLDPAY", 6);
	}
	place_calls = 0;
	place_fail_at = 1;
	sg_fileio_hooks.place = failing_place;
	TV_ASSERT_ERR(sg_file_write_all(outs, 2, 0600, 0, &err), &err, SG_E_IO);
	sg_fileio_hooks.place = NULL;
	assert_int_equal(place_calls, 2);
	assert_non_null(strstr(err.msg, "secret payload"));
	/* No new header without its payload: the old pair is back, or nothing. */
	if (old_files) {
		assert_listing(d, "h p");
		check_contents(h, "OLDHDR");
		check_contents(p, "OLDPAY");
	} else {
		assert_listing(d, "");
	}
	free(d);
	free(h);
	free(p);
}

static void
test_write_all_second_place_fails(void **state)
{
	(void)state;
	second_place_fails("wa-place-new", false);
}

static void
test_write_all_second_place_fails_over_old(void **state)
{
	(void)state;
	second_place_fails("wa-place-old", true);
}

static int
failing_dir_fsync(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		errno = EIO;
		return -1;
	}
	return fsync(fd);
}

static void
dir_fsync_fails(const char *name, bool old_files)
{
	char *d = fresh_dir(name), *h = join(d, "h"), *p = join(d, "p");
	struct sg_error err = { 0 };
	struct sg_out_file outs[] = {
		{ h, "HDR", 3, "secret header" },
		{ p, "PAY", 3, "secret payload" },
	};

	if (old_files) {
		tv_write_file(h, "OLDHDR", 6);
		tv_write_file(p, "OLDPAY", 6);
	}
	sg_fileio_hooks.fsync = failing_dir_fsync;
	TV_ASSERT_ERR(sg_file_write_all(outs, 2, 0600, 0, &err), &err, SG_E_IO);
	sg_fileio_hooks.fsync = NULL;
	assert_non_null(strstr(err.msg, "Input/output error"));
	assert_non_null(strstr(err.msg, d));
	/* Both renames were made: the new pair stays (durability unknown), nothing else. */
	check_contents(h, "HDR");
	check_contents(p, "PAY");
	assert_listing(d, "h p");
	free(d);
	free(h);
	free(p);
}

static void
test_write_all_dir_fsync_fails(void **state)
{
	(void)state;
	dir_fsync_fails("wa-dirsync", false);
	dir_fsync_fails("wa-dirsync-old", true);
}

static int
dying_fsync(int fd)
{
	(void)fd;
	_exit(9); /* as if SIGKILLed with the temporary files written */
}

static void
test_write_all_kill_leaves_nothing(void **state)
{
	char *d = fresh_dir("wa-kill"), *h = join(d, "h"), *p = join(d, "p");
	struct sg_out_file outs[] = {
		{ h, "HDR", 3, "secret header" },
		{ p, "PAY", 3, "secret payload" },
	};
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sg_error err = { 0 };

		sg_fileio_hooks.fsync = dying_fsync;
		/* Never returns: the hook exits 9 in the middle. */
		sg_status_ignore(sg_file_write_all(outs, 2, 0600, 0, &err));
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 9);
	assert_listing(d, ""); /* no h.XXXXXX left behind */
	free(d);
	free(h);
	free(p);
}

static void
age(const char *path, time_t secs)
{
	struct timeval tv[2];

	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= secs;
	tv[1] = tv[0];
	assert_int_equal(utimes(path, tv), 0);
}

static void
test_write_all_no_tmpfile_cleans_stale(void **state)
{
	char *d = fresh_dir("wa-notmpfile"), *h = join(d, "h.bin"), *p = join(d, "p");
	char *stale = join(d, ".h.bin.sevgate-Ab3xQ9"), *fresh = join(d, ".p.sevgate-Zz01yy");
	char *backup = join(d, "h.bin.backup"), *orig = join(d, "h.bin.orig01");
	struct sg_error err = { 0 };
	struct sg_out_file outs[] = {
		{ h, "HDR", 3, "secret header" },
		{ p, "PAY", 3, "secret payload" },
	};

	(void)state;
	/* Left by a writer killed an hour ago; one that may still be writing; a user's files. */
	tv_write_file(stale, "old", 3);
	assert_int_equal(chmod(stale, 0600), 0);
	age(stale, 3600);
	tv_write_file(fresh, "new", 3);
	assert_int_equal(chmod(fresh, 0600), 0);
	tv_write_file(backup, "bak", 3);
	assert_int_equal(chmod(backup, 0600), 0);
	age(backup, 3600);
	tv_write_file(orig, "org", 3);
	assert_int_equal(chmod(orig, 0600), 0);
	age(orig, 3600);
	sg_fileio_hooks.no_tmpfile = true;
	TV_ASSERT_OK(sg_file_write_all(outs, 2, 0600, 0, &err), &err);
	sg_fileio_hooks.no_tmpfile = false;
	check_contents(h, "HDR");
	check_contents(p, "PAY");
	check_contents(backup, "bak");
	check_contents(orig, "org");
	assert_listing(d, ".p.sevgate-Zz01yy h.bin h.bin.backup h.bin.orig01 p");
	free(d);
	free(h);
	free(p);
	free(stale);
	free(fresh);
	free(backup);
	free(orig);
}

/* How many .NAME.sevgate-XXXXXX files @dir holds; @age_them ages them an hour. */
static int
tmp_files(const char *dir, bool age_them)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort), found = 0;

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *tag = strstr(ents[i]->d_name, ".sevgate-");

		if (ents[i]->d_name[0] == '.' && tag && strlen(tag) == 9 + 6) {
			found++;
			if (age_them) {
				char *t = join(dir, ents[i]->d_name);

				age(t, 3600);
				free(t);
			}
		}
		free(ents[i]);
	}
	free(ents);
	return found;
}

static int kill_at;

static void
dying_point(int point, const char *path)
{
	(void)path;
	if (point == kill_at)
		_exit(9); /* as if SIGKILLed there */
}

/*
 * Kill a writer replacing an old pair at @point (its first time); check
 * what is left (header @hdr, payload @pay, @tmps temporary files), then
 * that the next write, once those are stale, leaves exactly the new pair.
 */
static void
kill_over_old_at(const char *name, int point, const char *hdr, const char *pay, int tmps,
		 bool no_tmpfile)
{
	char *d = fresh_dir(name), *h = join(d, "h"), *p = join(d, "p");
	struct sg_out_file outs[] = {
		{ h, "NEWHDR", 6, "secret header" },
		{ p, "NEWPAY", 6, "secret payload" },
	};
	struct sg_out_file again[] = {
		{ h, "HDR3", 4, "secret header" },
		{ p, "PAY3", 4, "secret payload" },
	};
	struct sg_error err = { 0 };
	int status;
	pid_t pid;

	tv_write_file(h, "OLDHDR", 6);
	tv_write_file(p, "OLDPAY", 6);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		kill_at = point;
		sg_fileio_hooks.point = dying_point;
		sg_fileio_hooks.no_tmpfile = no_tmpfile;
		/* Killed at @point (exit 9); the parent checks what is on disk. */
		sg_status_ignore(sg_file_write_all(outs, 2, 0600, 0, &err));
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 9);
	check_contents(h, hdr);
	check_contents(p, pay);
	assert_int_equal(tmp_files(d, true), tmps);
	TV_ASSERT_OK(sg_file_write_all(again, 2, 0600, 0, &err), &err);
	check_contents(h, "HDR3");
	check_contents(p, "PAY3");
	assert_listing(d, "h p"); /* the killed writer's files are swept */
	free(d);
	free(h);
	free(p);
}

static void
test_write_all_kill_after_spare_link(void **state)
{
	(void)state;
	/* Linked beside the old header, not yet renamed over it: the old pair, one spare. */
	kill_over_old_at("wa-kill-spare", SG_FILEIO_SPARE_LINKED, "OLDHDR", "OLDPAY", 1, false);
}

static void
test_write_all_kill_after_first_place(void **state)
{
	(void)state;
	/*
	 * Between the two renames: the new header with the old payload (the
	 * header's MAC covers the payload, so the pair is refused, never
	 * wrongly released), the payload's spare and the two old files' links
	 * kept to put them back should the second rename fail.
	 */
	kill_over_old_at("wa-kill-first", SG_FILEIO_PLACED, "NEWHDR", "OLDPAY", 3, false);
	kill_over_old_at("wa-kill-first-named", SG_FILEIO_PLACED, "NEWHDR", "OLDPAY", 3, true);
}

static void
write_all_no_proc(const char *name, bool old_files)
{
	char *d = fresh_dir(name), *h = join(d, "h"), *p = join(d, "p");
	struct sg_error err = { 0 };
	struct sg_out_file outs[] = {
		{ h, "NEWHDR", 6, "secret header" },
		{ p, "NEWPAY", 6, "secret payload" },
	};
	struct stat st;

	if (old_files) {
		tv_write_file(h, "OLDHDR", 6);
		tv_write_file(p, "OLDPAY", 6);
	}
	sg_fileio_hooks.no_proc = true;
	TV_ASSERT_OK(sg_file_write_all(outs, 2, 0600, 0, &err), &err);
	sg_fileio_hooks.no_proc = false;
	check_contents(h, "NEWHDR");
	check_contents(p, "NEWPAY");
	assert_int_equal(stat(h, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_listing(d, "h p");
	free(d);
	free(h);
	free(p);
}

static void
test_write_all_no_proc(void **state)
{
	(void)state;
	/* No /proc (a container, early boot): the named temporary file instead. */
	write_all_no_proc("wa-noproc-new", false);
	write_all_no_proc("wa-noproc-old", true);
}

static const char *resize_path;
static int read_calls;
static off_t resize_to;

/* The file changes size on the first read (shrinks) or after the last (grows). */
static ssize_t
resizing_read(int fd, void *buf, size_t len)
{
	ssize_t n;

	if (read_calls++ == 0 && resize_to < 1000)
		assert_int_equal(truncate(resize_path, resize_to), 0);
	n = read(fd, buf, len);
	if (n == 0 && resize_to >= 1000)
		assert_int_equal(truncate(resize_path, resize_to), 0);
	return n;
}

static void
read_secret_resized(const char *name, off_t to)
{
	uint8_t *data = pattern(100);
	char *path = tv_tmp_write(name, data, 100);
	struct sg_secmem *m = (struct sg_secmem *)0x1;
	struct sg_error err = { 0 };

	resize_path = path;
	read_calls = 0;
	resize_to = to;
	sg_fileio_hooks.read = resizing_read;
	TV_ASSERT_ERR(sg_file_read_secret(path, 65536, "secret", &m, &err), &err, SG_E_IO);
	sg_fileio_hooks.read = NULL;
	assert_true(read_calls > 0);
	assert_ptr_equal(m, (struct sg_secmem *)0x1);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "changed size while it was read"));
	free(data);
	free(path);
}

static void
test_read_secret_shrinks(void **state)
{
	(void)state;
	read_secret_resized("secret-shrinks", 10);
}

static void
test_read_secret_grows(void **state)
{
	(void)state;
	read_secret_resized("secret-grows", 4000);
}

/*
 * --- The output policy, table-driven: each kind of target through each
 * entry point (sg_out_open, sg_file_write, sg_file_write_all with and
 * without SG_WRITE_NOSYNC), with the exact message. In a message "@P" is
 * the path written.
 */

enum out_api {
	A_OPEN,
	A_WRITE,
	A_WRITE_ALL,
	A_WRITE_ALL_NOSYNC
};

enum out_target {
	T_NEW,
	T_OLD_0644,
	T_OLD_HARDLINKED,	 /* out and other: one inode */
	T_SYMLINK_FILE,		 /* out -> target */
	T_SYMLINK_DANGLING,	 /* out -> nowhere */
	T_SYMLINK_DIR,		 /* out -> sub/ */
	T_DIR_COMPONENT_SYMLINK, /* via -> real/, writing via/out */
	T_FIFO,
	T_DEVNULL,
	T_DIR,
	T_SOCKET,
	T_BLOCKDEV,
	T_NO_DIR,
};

struct case_out {
	const char *id;
	enum out_api api;
	enum out_target target;
	mode_t umask;
	const char *msg;     /* NULL: written */
	const char *listing; /* the test directory afterwards */
};

#define LINK_MSG "refusing to write secret header '@P': it is a symbolic link"
#define ISDIR_MSG "cannot write secret header '@P': Is a directory"
#define NOENT_MSG "cannot write secret header '@P': No such file or directory"
#define NXIO_MSG "cannot write secret header '@P': No such device or address"
#define ODD_MSG "cannot write secret header '@P': not a regular file, FIFO or device"

/* clang-format off */
#define OUT_ROWS(p, api, sock_msg)                                                         \
	{ p "new", api, T_NEW, 022, NULL, "out" },                                         \
	{ p "new-umask-0", api, T_NEW, 0, NULL, "out" },                                   \
	{ p "new-umask-077", api, T_NEW, 077, NULL, "out" },                               \
	{ p "old-0644", api, T_OLD_0644, 0, NULL, "out" },                                 \
	{ p "old-hardlinked", api, T_OLD_HARDLINKED, 022, NULL, "other out" },             \
	{ p "symlink-to-file", api, T_SYMLINK_FILE, 022, LINK_MSG, "out target" },         \
	{ p "symlink-dangling", api, T_SYMLINK_DANGLING, 022, LINK_MSG, "out" },           \
	{ p "symlink-to-dir", api, T_SYMLINK_DIR, 022, LINK_MSG, "out sub" },              \
	{ p "dir-component-symlink-followed", api, T_DIR_COMPONENT_SYMLINK, 022, NULL,     \
	  "real via" },                                                                    \
	{ p "fifo", api, T_FIFO, 022, NULL, "out" },                                       \
	{ p "dev-null", api, T_DEVNULL, 022, NULL, "" },                                   \
	{ p "directory", api, T_DIR, 022, ISDIR_MSG, "sub" },                              \
	{ p "no-directory", api, T_NO_DIR, 022, NOENT_MSG, "" },                           \
	{ p "block-device", api, T_BLOCKDEV, 022, ODD_MSG, "out" },                        \
	{ p "socket", api, T_SOCKET, 022, sock_msg, "out" }
/* clang-format on */

static const struct case_out out_cases[] = {
	/* A socket cannot be opened (ENXIO); sg_file_write_all refuses it by its type first. */
	OUT_ROWS("out-open-", A_OPEN, NXIO_MSG),
	OUT_ROWS("out-write-", A_WRITE, NXIO_MSG),
	OUT_ROWS("out-write-all-", A_WRITE_ALL, ODD_MSG),
	OUT_ROWS("out-write-all-nosync-", A_WRITE_ALL_NOSYNC, ODD_MSG),
};

/* @tmpl with each "@P" replaced by @path. */
static char *
expand(const char *tmpl, const char *path)
{
	size_t plen = strlen(path), len = 1;
	char *out, *o;

	for (const char *s = tmpl; *s; s++)
		len += strncmp(s, "@P", 2) ? 1 : plen;
	o = out = malloc(len);
	assert_non_null(out);
	while (*tmpl) {
		if (!strncmp(tmpl, "@P", 2)) {
			memcpy(o, path, plen);
			o += plen;
			tmpl += 2;
		} else {
			*o++ = *tmpl++;
		}
	}
	*o = '\0';
	return out;
}

static ino_t
inode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* Write "NEW" to @path through @api; the return code. */
static int
out_write(enum out_api api, const char *path, struct sg_error *err)
{
	struct sg_out_file out = { path, "NEW", 3, "secret header" };
	int fd, fl;

	switch (api) {
	case A_OPEN:
		fd = sg_out_open(path, 0600, 0, "secret header", err);
		if (fd < 0)
			return fd;
		assert_true(fd > 2);
		fl = fcntl(fd, F_GETFD);
		assert_true(fl >= 0 && (fl & FD_CLOEXEC));
		fl = fcntl(fd, F_GETFL);
		assert_int_equal(fl & O_ACCMODE, O_WRONLY);
		assert_int_equal(sg_write_all(fd, "NEW", 3), 0);
		assert_int_equal(close(fd), 0);
		return 0;
	case A_WRITE: return sg_file_write(path, "NEW", 3, 0600, "secret header", err);
	case A_WRITE_ALL: return sg_file_write_all(&out, 1, 0600, 0, err);
	case A_WRITE_ALL_NOSYNC: return sg_file_write_all(&out, 1, 0600, SG_WRITE_NOSYNC, err);
	}
	return -1;
}

/* What a row allocates, freed at its end or before it is skipped (so LSan sees no leak). */
struct out_paths {
	char *d, *out, *other, *target, *sub, *real, *via, *path, *written;
};

static void
out_paths_free(struct out_paths *p)
{
	free(p->d);
	free(p->out);
	free(p->other);
	free(p->target);
	free(p->sub);
	free(p->real);
	free(p->via);
	free(p->path);
	free(p->written);
}

#define SKIP_ROW()                      \
	do {                            \
		out_paths_free(&paths); \
		skip();                 \
	} while (0)

static void
test_out_policy(void **state)
{
	const struct case_out *t = *state;
	struct out_paths paths = { 0 };
	char *d = paths.d = fresh_dir(t->id), *out = paths.out = join(d, "out");
	char *other = paths.other = join(d, "other"), *target = paths.target = join(d, "target");
	char *sub = paths.sub = join(d, "sub"), *real = paths.real = join(d, "real");
	char *via = paths.via = join(d, "via"), *path = NULL, *written = NULL;
	struct sg_error err = { 0 };
	ino_t old_ino = 0;
	int reader = -1, rc;
	mode_t old_umask;

	switch (t->target) {
	case T_NEW: path = strdup(out); break;
	case T_OLD_0644:
	case T_OLD_HARDLINKED:
		tv_write_file(out, "OLD CONTENT", 11);
		assert_int_equal(chmod(out, t->target == T_OLD_0644 ? 0644 : 0600), 0);
		if (t->target == T_OLD_HARDLINKED)
			assert_int_equal(link(out, other), 0);
		old_ino = inode_of(out);
		path = strdup(out);
		break;
	case T_SYMLINK_FILE:
		tv_write_file(target, "precious", 8);
		assert_int_equal(symlink(target, out), 0);
		path = strdup(out);
		break;
	case T_SYMLINK_DANGLING:
		assert_int_equal(symlink("nowhere", out), 0);
		path = strdup(out);
		break;
	case T_SYMLINK_DIR:
		assert_int_equal(mkdir(sub, 0700), 0);
		assert_int_equal(symlink("sub", out), 0);
		path = strdup(out);
		break;
	case T_DIR_COMPONENT_SYMLINK:
		assert_int_equal(mkdir(real, 0700), 0);
		assert_int_equal(symlink("real", via), 0);
		path = join(via, "out");
		written = join(real, "out");
		break;
	case T_FIFO:
		assert_int_equal(mkfifo(out, 0600), 0);
		reader = open(out, O_RDONLY | O_NONBLOCK);
		assert_true(reader >= 0);
		path = strdup(out);
		break;
	case T_DEVNULL: path = strdup("/dev/null"); break;
	case T_DIR:
		assert_int_equal(mkdir(sub, 0700), 0);
		path = strdup(sub);
		break;
	case T_SOCKET: {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		if (strlen(out) >= sizeof(sa.sun_path))
			SKIP_ROW();
		strcpy(sa.sun_path, out);
		assert_true(s >= 0);
		assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(s);
		path = strdup(out);
		break;
	}
	case T_BLOCKDEV:
		/* loop0's numbers; only opened (by sg_out_open), never written. */
		if (mknod(out, S_IFBLK | 0600, makedev(7, 0)) < 0)
			SKIP_ROW(); /* not root */
		if (t->api == A_OPEN || t->api == A_WRITE) {
			int probe = open(out, O_WRONLY | O_CLOEXEC);

			if (probe < 0)
				SKIP_ROW(); /* no loop driver: open(2) fails before the type check */
			close(probe);
		}
		path = strdup(out);
		break;
	case T_NO_DIR: path = join(d, "missing/out"); break;
	}
	if (!written)
		written = strdup(path);
	paths.path = path;
	paths.written = written;
	old_umask = umask(t->umask);
	rc = out_write(t->api, path, &err);
	umask(old_umask);
	if (t->msg) {
		char *want = expand(t->msg, path);

		TV_ASSERT_ERR(rc, &err, SG_E_IO);
		assert_string_equal(err.msg, want);
		free(want);
	} else {
		TV_ASSERT_OK(rc, &err);
	}
	assert_listing(d, t->listing);
	switch (t->target) {
	case T_NEW:
	case T_OLD_0644:
	case T_DIR_COMPONENT_SYMLINK:
		check_contents(written, "NEW");
		assert_int_equal(file_mode(written), 0600);
		break;
	case T_OLD_HARDLINKED:
		check_contents(out, "NEW");
		assert_int_equal(file_mode(out), 0600);
		/* sg_out_open writes the file in place; sg_file_write_all replaces it. */
		if (t->api == A_OPEN || t->api == A_WRITE) {
			assert_int_equal(inode_of(out), old_ino);
			check_contents(other, "NEW");
		} else {
			assert_true(inode_of(out) != old_ino);
			check_contents(other, "OLD CONTENT");
		}
		break;
	case T_SYMLINK_FILE: check_contents(target, "precious"); break;
	case T_SYMLINK_DIR: assert_listing(sub, ""); break;
	case T_FIFO: {
		char buf[8] = { 0 };

		assert_int_equal(read(reader, buf, sizeof(buf)), 3);
		assert_memory_equal(buf, "NEW", 3);
		close(reader);
		break;
	}
	case T_DEVNULL: {
		struct stat st;

		assert_int_equal(stat("/dev/null", &st), 0);
		assert_true(S_ISCHR(st.st_mode)); /* written as it is, never replaced */
		break;
	}
	case T_DIR: assert_listing(sub, ""); break;
	default: break;
	}
	out_paths_free(&paths);
}

#undef SKIP_ROW

/*
 * --- An existing file is replaced in one step: the old contents stay at
 * the path until the rename, the new file waits under a temporary name
 * .BASE.sevgate-XXXXXX (0600, its contents complete), and afterwards only
 * the target is left. A new file has no other name at any point.
 */

static struct {
	const char *dir, *path;
	char *at_spare, *at_placed; /* the target's contents at each point */
	char *ls_spare, *ls_placed; /* the directory at each point */
	char *spare_contents;
	mode_t spare_mode;
	int spares;
} seen;

static char *
contents_or_none(const char *path)
{
	size_t len;
	uint8_t *b;
	char *s;

	if (!tv_exists(path))
		return strdup("<none>");
	b = tv_read(path, &len);
	s = strndup((const char *)b, len);
	free(b);
	return s;
}

/* Whether @name is exactly .@base.sevgate- and six letters or digits. */
static bool
is_temp_name_of(const char *name, const char *base)
{
	size_t blen = strlen(base);

	if (name[0] != '.' || strncmp(name + 1, base, blen) ||
	    strncmp(name + 1 + blen, ".sevgate-", 9))
		return false;
	name += 1 + blen + 9;
	for (int i = 0; i < 6; i++)
		if (!isalnum((unsigned char)name[i]))
			return false;
	return name[6] == '\0';
}

static void
observing_point(int point, const char *path)
{
	DIR *dir;
	struct dirent *e;

	assert_string_equal(path, seen.path);
	if (point == SG_FILEIO_PLACED) {
		seen.at_placed = contents_or_none(path);
		seen.ls_placed = listing(seen.dir);
		return;
	}
	seen.at_spare = contents_or_none(path);
	seen.ls_spare = listing(seen.dir);
	assert_non_null(dir = opendir(seen.dir));
	while ((e = readdir(dir)))
		if (is_temp_name_of(e->d_name, "h.bin")) {
			char *t = join(seen.dir, e->d_name);

			seen.spares++;
			free(seen.spare_contents);
			seen.spare_contents = contents_or_none(t);
			seen.spare_mode = file_mode(t);
			free(t);
		}
	closedir(dir);
}

static void
seen_reset(void)
{
	free(seen.at_spare);
	free(seen.at_placed);
	free(seen.ls_spare);
	free(seen.ls_placed);
	free(seen.spare_contents);
	memset(&seen, 0, sizeof(seen));
}

static void
test_write_all_replace_observed(void **state)
{
	char *d = fresh_dir("replace-observed"), *h = join(d, "h.bin"), *keep = join(d, "h.keep");
	struct sg_out_file out = { h, "NEW CONTENT", 11, "secret header" };
	struct sg_error err = { 0 };
	mode_t old_umask = umask(0);

	(void)state;
	tv_write_file(h, "OLD", 3);
	assert_int_equal(chmod(h, 0644), 0);
	assert_int_equal(link(h, keep), 0);
	seen_reset();
	seen.dir = d;
	seen.path = h;
	sg_fileio_hooks.point = observing_point;
	TV_ASSERT_OK(sg_file_write_all(&out, 1, 0600, 0, &err), &err);
	sg_fileio_hooks.point = NULL;
	umask(old_umask);
	/* Named beside the target, complete and 0600, while the old file is still there. */
	assert_non_null(seen.at_spare);
	assert_string_equal(seen.at_spare, "OLD");
	assert_int_equal(seen.spares, 1);
	assert_string_equal(seen.spare_contents, "NEW CONTENT");
	assert_int_equal(seen.spare_mode, 0600);
	assert_string_equal(seen.at_placed, "NEW CONTENT");
	/* Afterwards: no temporary name, the old inode untouched under its other name. */
	assert_listing(d, "h.bin h.keep");
	check_contents(h, "NEW CONTENT");
	check_contents(keep, "OLD");
	assert_int_equal(file_mode(h), 0600);
	assert_int_equal(file_mode(keep), 0644);
	seen_reset();
	free(d);
	free(h);
	free(keep);
}

static void
test_write_all_new_never_named(void **state)
{
	char *d = fresh_dir("new-never-named"), *h = join(d, "h.bin");
	struct sg_out_file out = { h, "NEW", 3, "secret header" };
	struct sg_error err = { 0 };

	(void)state;
	seen_reset();
	seen.dir = d;
	seen.path = h;
	sg_fileio_hooks.point = observing_point;
	TV_ASSERT_OK(sg_file_write_all(&out, 1, 0600, 0, &err), &err);
	sg_fileio_hooks.point = NULL;
	/* Linked in unnamed (O_TMPFILE + linkat): no spare point, only the target. */
	assert_null(seen.at_spare);
	assert_string_equal(seen.at_placed, "NEW");
	assert_string_equal(seen.ls_placed, "h.bin");
	assert_listing(d, "h.bin");
	seen_reset();
	free(d);
	free(h);
}

/*
 * --- A write that fails leaves what was there: the old file (same inode,
 * mode and contents) or nothing, and no temporary file, in every mode of
 * creating the file.
 */

enum fail_at {
	F_FSYNC, /* the written file's fsync (EIO) */
	F_PLACE	 /* putting it at its path (EXDEV) */
};

struct case_abort {
	const char *id;
	bool old, no_tmpfile, no_proc;
	enum fail_at fail;
	const char *msg;
};

#define EIO_MSG "cannot write secret header '@P': Input/output error"
#define EXDEV_MSG "cannot write secret header '@P': Invalid cross-device link"

static const struct case_abort abort_cases[] = {
	{ "abort-fsync-new", false, false, false, F_FSYNC, EIO_MSG },
	{ "abort-fsync-old", true, false, false, F_FSYNC, EIO_MSG },
	{ "abort-fsync-new-no-tmpfile", false, true, false, F_FSYNC, EIO_MSG },
	{ "abort-fsync-old-no-tmpfile", true, true, false, F_FSYNC, EIO_MSG },
	{ "abort-fsync-new-no-proc", false, false, true, F_FSYNC, EIO_MSG },
	{ "abort-fsync-old-no-proc", true, false, true, F_FSYNC, EIO_MSG },
	{ "abort-place-new", false, false, false, F_PLACE, EXDEV_MSG },
	{ "abort-place-old", true, false, false, F_PLACE, EXDEV_MSG },
	{ "abort-place-new-no-tmpfile", false, true, false, F_PLACE, EXDEV_MSG },
	{ "abort-place-old-no-tmpfile", true, true, false, F_PLACE, EXDEV_MSG },
	{ "abort-place-new-no-proc", false, false, true, F_PLACE, EXDEV_MSG },
	{ "abort-place-old-no-proc", true, false, true, F_PLACE, EXDEV_MSG },
};

static int
eio_fsync(int fd)
{
	(void)fd;
	errno = EIO;
	return -1;
}

static int
exdev_place(const char *path)
{
	(void)path;
	errno = EXDEV;
	return -1;
}

static void
test_write_all_abort(void **state)
{
	const struct case_abort *t = *state;
	char *d = fresh_dir(t->id), *h = join(d, "h.bin"), *want;
	struct sg_out_file out = { h, "NEW", 3, "secret header" };
	struct sg_error err = { 0 };
	ino_t ino = 0;

	if (t->old) {
		tv_write_file(h, "OLD CONTENT", 11);
		assert_int_equal(chmod(h, 0640), 0);
		ino = inode_of(h);
	}
	sg_fileio_hooks.no_tmpfile = t->no_tmpfile;
	sg_fileio_hooks.no_proc = t->no_proc;
	if (t->fail == F_FSYNC)
		sg_fileio_hooks.fsync = eio_fsync;
	else
		sg_fileio_hooks.place = exdev_place;
	TV_ASSERT_ERR(sg_file_write_all(&out, 1, 0600, 0, &err), &err, SG_E_IO);
	sg_fileio_hooks = (struct sg_fileio_hooks){ 0 };
	want = expand(t->msg, h);
	assert_string_equal(err.msg, want);
	if (t->old) {
		assert_listing(d, "h.bin");
		check_contents(h, "OLD CONTENT");
		assert_int_equal(file_mode(h), 0640);
		assert_int_equal(inode_of(h), ino);
	} else {
		assert_listing(d, "");
	}
	free(want);
	free(d);
	free(h);
}

/* --- "-": standard output only with SG_OUT_DASH. --- */

enum dash_api {
	D_OPEN,
	D_OPEN_DASH,
	D_WRITE
};

struct case_dash {
	const char *id;
	enum dash_api api;
	const char *path;
	bool stdout_closed;
	const char *file; /* the file created in the working directory, or NULL */
	const char *msg;
};

static const struct case_dash dash_cases[] = {
	{ "dash-is-stdout", D_OPEN_DASH, "-", false, NULL, NULL },
	{ "dash-without-flag-is-a-file", D_OPEN, "-", false, "-", NULL },
	{ "dash-sg-file-write-is-a-file", D_WRITE, "-", false, "-", NULL },
	{ "dash-dot-slash-is-a-file", D_OPEN_DASH, "./-", false, "-", NULL },
	{ "dash-double-is-a-file", D_OPEN_DASH, "--", false, "--", NULL },
	{ "dash-stdout-closed", D_OPEN_DASH, "-", true, NULL,
	  "cannot write report to standard output: Bad file descriptor" },
};

static void
test_dash(void **state)
{
	const struct case_dash *t = *state;
	char *d = fresh_dir(t->id);
	struct sg_error err = { 0 };
	char cwd[4096];
	int fd = -1, saved = -1, rc;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(d), 0);
	if (t->stdout_closed) {
		fflush(stdout);
		saved = dup(1);
		assert_true(saved >= 0);
		close(1);
	}
	switch (t->api) {
	case D_OPEN:
	case D_OPEN_DASH:
		fd = sg_out_open(t->path, 0600, t->api == D_OPEN_DASH ? SG_OUT_DASH : 0, "report",
				 &err);
		rc = fd < 0 ? fd : 0;
		break;
	case D_WRITE: rc = sg_file_write(t->path, "R", 1, 0600, "report", &err); break;
	}
	if (saved >= 0) {
		assert_int_equal(dup2(saved, 1), 1);
		close(saved);
	}
	assert_int_equal(chdir(cwd), 0);
	if (t->msg) {
		TV_ASSERT_ERR(rc, &err, SG_E_IO);
		assert_string_equal(err.msg, t->msg);
		assert_listing(d, "");
	} else {
		TV_ASSERT_OK(rc, &err);
		if (t->file) {
			char *f = join(d, t->file);

			if (fd >= 0) {
				assert_int_equal(sg_write_all(fd, "R", 1), 0);
				close(fd);
			}
			assert_listing(d, t->file);
			check_contents(f, "R");
			assert_int_equal(file_mode(f), 0600);
			free(f);
		} else {
			struct stat a, b;
			int fl = fcntl(fd, F_GETFD);

			/* A duplicate of fd 1, above the standard three, closed on exec. */
			assert_true(fd > 2);
			assert_true(fl >= 0 && (fl & FD_CLOEXEC));
			assert_int_equal(fstat(fd, &a), 0);
			assert_int_equal(fstat(1, &b), 0);
			assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
			close(fd);
			assert_listing(d, "");
		}
	}
	free(d);
}

/*
 * --- The sweep: a write removes from its directory the regular files
 * named exactly .BASE.sevgate-XXXXXX (six letters or digits) that are this
 * user's and more than STALE_SECONDS (300) old; nothing else.
 */

enum sweep_kind {
	S_FILE,
	S_DIR,
	S_SYMLINK,
	S_FIFO,
	S_OTHER_OWNER /* root only */
};

struct case_sweep {
	const char *name;
	enum sweep_kind kind;
	time_t age;
	bool removed;
};

static const struct case_sweep sweep_cases[] = {
	{ ".h.bin.sevgate-Ab3xQ9", S_FILE, 3600, true },
	{ ".h.bin.sevgate-000000", S_FILE, 310, true },
	{ ".other.sevgate-zzzzzz", S_FILE, 3600, true }, /* any base name */
	{ ".x.sevgate-Ab3xQ9", S_FILE, 3600, true },	 /* the shortest */
	{ ".h.bin.sevgate-Ab3xQ8", S_FILE, 290, false }, /* another writer's, at work */
	{ ".h.bin.sevgate-Ab3xQ7", S_FILE, 0, false },
	{ ".h.bin.sevgate-Ab3xQ", S_FILE, 3600, false },   /* five */
	{ ".h.bin.sevgate-Ab3xQ99", S_FILE, 3600, false }, /* seven */
	{ ".h.bin.sevgate-Ab3x_9", S_FILE, 3600, false },
	{ ".h.bin.sevgate-Ab3x.9", S_FILE, 3600, false },
	{ "h.bin.sevgate-Ab3xQ9", S_FILE, 3600, false }, /* not hidden */
	{ ".sevgate-Ab3xQ9", S_FILE, 3600, false },	 /* no base */
	{ ".h.bin.Sevgate-Ab3xQ9", S_FILE, 3600, false },
	{ ".h.bin.sevgate_Ab3xQ9", S_FILE, 3600, false },
	{ ".h.bin.sevgate-Ab3xQ9.bak", S_FILE, 3600, false },
	{ "h.bin.backup", S_FILE, 3600, false },
	{ ".d.sevgate-Ab3xQ9", S_DIR, 3600, false },
	{ ".l.sevgate-Ab3xQ9", S_SYMLINK, 3600, false },
	{ ".f.sevgate-Ab3xQ9", S_FIFO, 3600, false },
	{ ".o.sevgate-Ab3xQ9", S_OTHER_OWNER, 3600, false },
};

static void
plant(const char *dir, const struct case_sweep *c)
{
	char *p = join(dir, c->name);
	struct timeval tv[2];

	switch (c->kind) {
	case S_FILE:
	case S_OTHER_OWNER:
		tv_write_file(p, "left", 4);
		assert_int_equal(chmod(p, 0600), 0);
		if (c->kind == S_OTHER_OWNER)
			assert_int_equal(chown(p, 65534, 65534), 0);
		break;
	case S_DIR: assert_int_equal(mkdir(p, 0700), 0); break;
	case S_SYMLINK: assert_int_equal(symlink("h.bin", p), 0); break;
	case S_FIFO: assert_int_equal(mkfifo(p, 0600), 0); break;
	}
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= c->age;
	tv[1] = tv[0];
	assert_int_equal(lutimes(p, tv), 0);
	free(p);
}

static void
test_sweep(void **state)
{
	char *d = fresh_dir("sweep"), *h = join(d, "h.bin");
	struct sg_out_file out = { h, "NEW", 3, "secret header" };
	struct sg_error err = { 0 };
	int wrong = 0;

	(void)state;
	for (size_t i = 0; i < SG_ELEMENTSOF(sweep_cases); i++)
		if (sweep_cases[i].kind != S_OTHER_OWNER || geteuid() == 0)
			plant(d, &sweep_cases[i]);
	TV_ASSERT_OK(sg_file_write_all(&out, 1, 0600, 0, &err), &err);
	check_contents(h, "NEW");
	for (size_t i = 0; i < SG_ELEMENTSOF(sweep_cases); i++) {
		const struct case_sweep *c = &sweep_cases[i];
		char *p = join(d, c->name);
		struct stat st;
		bool there = lstat(p, &st) == 0;

		if (c->kind == S_OTHER_OWNER && geteuid() != 0) {
			free(p);
			continue;
		}
		if (there == c->removed) {
			print_error("%s (age %ld): %s, want it %s\n", c->name, (long)c->age,
				    there ? "kept" : "removed", c->removed ? "removed" : "kept");
			wrong++;
		}
		free(p);
	}
	assert_int_equal(wrong, 0);
	free(d);
	free(h);
}

/*
 * A directory is swept at most once every STALE_SECONDS: the next write soon
 * after is not (while the sweep's table of 32 directories has room; main runs
 * this first).
 */
static void
test_sweep_once_per_interval(void **state)
{
	char *d = fresh_dir("sweep-interval"), *h = join(d, "h.bin");
	char *first = join(d, ".h.bin.sevgate-first1"), *later = join(d, ".h.bin.sevgate-later1");
	struct sg_out_file out = { h, "NEW", 3, "secret header" };
	struct sg_error err = { 0 };

	(void)state;
	tv_write_file(first, "left", 4);
	age(first, 3600);
	TV_ASSERT_OK(sg_file_write_all(&out, 1, 0600, 0, &err), &err);
	assert_false(tv_exists(first));
	tv_write_file(later, "left", 4);
	age(later, 3600);
	TV_ASSERT_OK(sg_file_write_all(&out, 1, 0600, SG_WRITE_NOSYNC, &err), &err);
	assert_true(tv_exists(later));
	/* sg_out_open and sg_file_write never sweep. */
	TV_ASSERT_OK(sg_file_write(h, "X", 1, 0600, "secret header", &err), &err);
	assert_true(tv_exists(later));
	free(d);
	free(h);
	free(first);
	free(later);
}

/* --- sg_path_id and sg_path_same_file, in a directory D set up below; "@P" is D. --- */

struct case_same {
	const char *id, *a, *b;
	bool same;
};

static const struct case_same same_cases[] = {
	{ "same-one-path", "@P/a", "@P/a", true },
	{ "same-hard-link", "@P/a", "@P/b", true },
	{ "same-symlink-to-file", "@P/la", "@P/a", true },
	{ "same-dot", "@P/./a", "@P/a", true },
	{ "same-dotdot", "@P/sub/../a", "@P/a", true },
	{ "same-relative", "a", "@P/a", true },
	{ "same-relative-dot", "./sub/f", "@P/lsub/f", true },
	{ "same-dir-and-its-symlink", "@P/sub", "@P/lsub", true },
	{ "same-new-through-dotdot", "@P/new", "@P/sub/../new", true },
	{ "same-new-through-symlinked-dir", "@P/lsub/new", "@P/sub/new", true },
	{ "same-new-relative", "new", "@P/new", true },
	{ "same-no-dir-same-text", "@P/nodir/x", "@P/nodir/x", true },
	{ "differ-files", "@P/a", "@P/sub/f", false },
	{ "differ-dir-and-file-in-it", "@P/sub", "@P/sub/f", false },
	{ "differ-new-names", "@P/new", "@P/new2", false },
	{ "differ-new-in-other-dir", "@P/new", "@P/sub/new", false },
	{ "differ-new-and-existing", "@P/new", "@P/a", false },
	{ "differ-no-dir-other-text", "@P/nodir/x", "@P/nodir/./x", false },
	{ "differ-no-dir-and-existing", "@P/nodir/a", "@P/a", false },
	{ "differ-dangling-and-its-target", "@P/dangling", "@P/nowhere", false },
};

static char *same_dir_path;

static const char *
same_dir_setup(void)
{
	if (!same_dir_path) {
		char *a, *b, *sub, *f;

		same_dir_path = fresh_dir("same-table");
		a = join(same_dir_path, "a");
		b = join(same_dir_path, "b");
		sub = join(same_dir_path, "sub");
		f = join(same_dir_path, "sub/f");
		tv_write_file(a, "a", 1);
		assert_int_equal(link(a, b), 0);
		assert_int_equal(mkdir(sub, 0700), 0);
		tv_write_file(f, "f", 1);
		free(a);
		free(b);
		free(sub);
		free(f);
		a = join(same_dir_path, "la");
		assert_int_equal(symlink("a", a), 0);
		free(a);
		a = join(same_dir_path, "lsub");
		assert_int_equal(symlink("sub", a), 0);
		free(a);
		a = join(same_dir_path, "dangling");
		assert_int_equal(symlink("nowhere", a), 0);
		free(a);
	}
	return same_dir_path;
}

static void
test_same(void **state)
{
	const struct case_same *t = *state;
	const char *d = same_dir_setup();
	char *a = expand(t->a, d), *b = expand(t->b, d);
	char cwd[4096];

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(d), 0);
	if (sg_path_same_file(a, b) != t->same || sg_path_same_file(b, a) != t->same) {
		assert_int_equal(chdir(cwd), 0);
		fail_msg("sg_path_same_file('%s', '%s') is %s", t->a, t->b,
			 t->same ? "false" : "true");
	}
	assert_int_equal(chdir(cwd), 0);
	free(a);
	free(b);
}

/* The identity strings themselves: "i DEV INO", "d DEV INO NAME", or none. */
static void
test_path_id(void **state)
{
	const char *d = same_dir_setup();
	char *a = join(d, "a"), *n = join(d, "new"), *x = join(d, "nodir/x"), *la = join(d, "la");
	char *want, *got;
	struct stat st;

	(void)state;
	assert_int_equal(stat(a, &st), 0);
	assert_true(asprintf(&want, "i %ju %ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino) > 0);
	got = sg_path_id(a);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	got = sg_path_id(la); /* a symbolic link is its target */
	assert_string_equal(got, want);
	free(got);
	free(want);
	assert_int_equal(stat(d, &st), 0);
	assert_true(asprintf(&want, "d %ju %ju new", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino) >
		    0);
	got = sg_path_id(n);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	free(want);
	assert_null(sg_path_id(x));
	free(a);
	free(n);
	free(x);
	free(la);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(map_cases) + SG_ELEMENTSOF(secret_cases) +
				SG_ELEMENTSOF(out_cases) + SG_ELEMENTSOF(abort_cases) +
				SG_ELEMENTSOF(dash_cases) + SG_ELEMENTSOF(same_cases) + 40];
	size_t n = 0;

	/* First: the sweep remembers 32 directories, and later tests write into many more. */
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_sweep_once_per_interval);
	for (size_t i = 0; i < SG_ELEMENTSOF(map_cases); i++)
		tests[n++] = ROW(test_map, map_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(secret_cases); i++)
		tests[n++] = ROW(test_read_secret, secret_cases, i);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_free_null);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_creates_0600);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_tightens_0644);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_empty);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_no_dir);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_to_directory);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_out_symlink_refused);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_all_symlink_refused);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_out_open_checks_before_truncating);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_out_open_dash);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_out_fifo);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_path_same_file);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_all_second_place_fails);
	tests[n++] =
		(struct CMUnitTest)cmocka_unit_test(test_write_all_second_place_fails_over_old);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_all_dir_fsync_fails);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_all_kill_leaves_nothing);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_all_no_tmpfile_cleans_stale);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_all_kill_after_spare_link);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_all_kill_after_first_place);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_all_no_proc);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_read_secret_shrinks);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_read_secret_grows);
	for (size_t i = 0; i < SG_ELEMENTSOF(out_cases); i++)
		tests[n++] = ROW(test_out_policy, out_cases, i);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_all_replace_observed);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_write_all_new_never_named);
	for (size_t i = 0; i < SG_ELEMENTSOF(abort_cases); i++)
		tests[n++] = ROW(test_write_all_abort, abort_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(dash_cases); i++)
		tests[n++] = ROW(test_dash, dash_cases, i);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_sweep);
	for (size_t i = 0; i < SG_ELEMENTSOF(same_cases); i++)
		tests[n++] = ROW(test_same, same_cases, i);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_path_id);
	return tv_main(argc, argv, "fileio", tests, n, NULL, 0);
}
