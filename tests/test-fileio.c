/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/util/fileio.c: mapping inputs, reading secrets, writing 0600 outputs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
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
};

static const struct case_secret secret_cases[] = {
	{ "secret-16", 16, 65536, 0 },
	{ "secret-empty", 0, 64, 0 },
	{ "secret-at-max", 64, 64, 0 },
	{ "secret-over-max", 65, 64, SG_E_LIMIT },
	{ "secret-missing", (size_t)-1, 64, SG_E_IO },
};

static void
test_read_secret(void **state)
{
	const struct case_secret *t = *state;
	struct sg_error err = { 0 };
	struct sg_secmem *m = (struct sg_secmem *)0x1;
	uint8_t *want = NULL;
	char *path;
	int rc;

	if (t->size == (size_t)-1) {
		path = tv_tmp("no-such-secret");
	} else {
		want = pattern(t->size);
		path = tv_tmp_write(t->id, want, t->size);
	}
	rc = sg_file_read_secret(path, t->max, "TIK", &m, &err);
	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		assert_int_equal(m->len, t->size);
		if (t->size)
			assert_memory_equal(m->data, want, t->size);
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
		(void)sg_file_write_all(outs, 2, 0600, 0, &err);
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
		(void)sg_file_write_all(outs, 2, 0600, 0, &err);
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

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(map_cases) + SG_ELEMENTSOF(secret_cases) + 32];
	size_t n = 0;

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
	return tv_main(argc, argv, "fileio", tests, n, NULL, 0);
}
