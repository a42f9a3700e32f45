/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vectors.h"

#include "util/encode.h"

#include <errno.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static enum tv_group group = TV_GROUP_UNIT;
static char *tmpdir;

const char *
tv_vectors_dir(void)
{
	return SEVGATE_VECTORS_DIR;
}

const char *
tv_data_dir(void)
{
	return SEVGATE_TEST_DATA_DIR;
}

const char *
tv_fixtures_dir(void)
{
	return SEVGATE_FIXTURES_DIR;
}

const char *
tv_base(void)
{
	return group == TV_GROUP_VECTORS ? tv_vectors_dir() : tv_data_dir();
}

enum tv_group
tv_group(void)
{
	return group;
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "out of memory\n");
		abort();
	}
	return p;
}

char *
tv_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = xmalloc(a + b + 2);

	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}

char *
tv_path(const char *rel)
{
	if (rel[0] == '/') {
		char *p = strdup(rel);

		if (!p)
			abort();
		return p;
	}
	return tv_join(tv_base(), rel);
}

char *
tv_fixture(const char *name)
{
	return tv_join(tv_fixtures_dir(), name);
}

bool
tv_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

uint8_t *
tv_read(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f))
		fail_msg("cannot read %s", path);
	fclose(f);
	*ret_len = len;
	return buf;
}

void
tv_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		fail_msg("cannot create %s: %s", path, strerror(errno));
	if (len && fwrite(data, 1, len, f) != len)
		fail_msg("cannot write %s", path);
	if (fclose(f) != 0)
		fail_msg("cannot close %s", path);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	/* Restore write permission on directories a test may have locked down. */
	chmod(path, S_IRWXU);
	return remove(path);
}

static void
tmpdir_cleanup(void)
{
	if (tmpdir && !getenv("SEVGATE_TEST_KEEP_TMP"))
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tmpdir);
	tmpdir = NULL;
}

const char *
tv_tmpdir(void)
{
	if (!tmpdir) {
		const char *base = getenv("TMPDIR");
		char *tmpl = tv_join(base && *base ? base : "/tmp", "sevgate-test.XXXXXX");

		if (!mkdtemp(tmpl))
			fail_msg("mkdtemp %s: %s", tmpl, strerror(errno));
		tmpdir = tmpl;
		atexit(tmpdir_cleanup);
	}
	return tmpdir;
}

char *
tv_tmp(const char *name)
{
	return tv_join(tv_tmpdir(), name);
}

char *
tv_tmp_write(const char *name, const void *data, size_t len)
{
	char *p = tv_tmp(name);

	tv_write(p, data, len);
	return p;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t
tv_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex);

	if (n % 2 != 0 || n / 2 > cap)
		fail_msg("bad hex length %zu (cap %zu)", n, cap);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			fail_msg("bad hex digit at %zu", 2 * i);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return n / 2;
}

uint8_t *
tv_unhex_alloc(const char *hex, size_t *ret_len)
{
	size_t cap = strlen(hex) / 2;
	uint8_t *p = xmalloc(cap);

	*ret_len = tv_unhex(hex, p, cap);
	return p;
}

void
tv_tohex(const uint8_t *in, size_t len, char *out)
{
	/* test-encode checks the encoder against fixed strings; here it is a tool. */
	sg_hex_encode(in, len, out);
}

size_t
tv_unb64(const char *b64, uint8_t *out, size_t cap)
{
	size_t n = strlen(b64), pad = 0;
	uint8_t *tmp;
	int r;

	if (n % 4 != 0)
		fail_msg("bad base64 length %zu", n);
	if (n && b64[n - 1] == '=')
		pad++;
	if (n > 1 && b64[n - 2] == '=')
		pad++;
	tmp = xmalloc(n / 4 * 3 + 1);
	r = EVP_DecodeBlock(tmp, (const unsigned char *)b64, (int)n);
	if (r < 0 || (size_t)r != n / 4 * 3 || (size_t)r - pad > cap)
		fail_msg("bad base64 '%s'", b64);
	memcpy(out, tmp, (size_t)r - pad);
	free(tmp);
	return (size_t)r - pad;
}

char *
tv_b64(const uint8_t *in, size_t len)
{
	char *out = xmalloc((len + 2) / 3 * 4 + 1);

	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

void
tv_sha256(const void *data, size_t len, uint8_t out[32])
{
	size_t n = 0;

	if (!EVP_Q_digest(NULL, "SHA256", NULL, data, len, out, &n) || n != 32)
		fail_msg("EVP_Q_digest failed");
}

void
tv_hmac_sha256(const uint8_t *key, size_t keylen, const void *data, size_t len, uint8_t out[32])
{
	size_t n = 0;

	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, data, len, out, 32, &n) ||
	    n != 32)
		fail_msg("EVP_Q_mac failed");
}

int
tv_require_vectors(void)
{
	const char *ci = getenv("CI");
	char *readme = tv_join(tv_vectors_dir(), "README.md");
	bool ok = tv_exists(readme);

	free(readme);
	if (ok)
		return 0;
	if (ci && !strcmp(ci, "true")) {
		fprintf(stderr, "shared vectors not found at %s: failing, because CI=true\n",
			tv_vectors_dir());
		return 1;
	}
	fprintf(stderr, "shared vectors not found at %s: skipping\n", tv_vectors_dir());
	return 77;
}

enum tv_group
tv_group_select(int argc, char **argv)
{
	group = (argc > 1 && !strcmp(argv[1], "vectors")) ? TV_GROUP_VECTORS : TV_GROUP_UNIT;
	return group;
}

int
tv_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
	if (n == 0) {
		fprintf(stderr, "%s: no test cases\n", name);
		return 1;
	}
	return _cmocka_run_group_tests(name, tests, n, NULL, NULL) == 0 ? 0 : 1;
}

int
tv_main(int argc, char **argv, const char *name, const struct CMUnitTest *unit, size_t nunit,
	const struct CMUnitTest *vec, size_t nvec)
{
	char gname[256];
	int r;

	if (tv_group_select(argc, argv) == TV_GROUP_VECTORS) {
		if ((r = tv_require_vectors()) != 0)
			return r;
		snprintf(gname, sizeof(gname), "%s-vectors", name);
		return tv_run(gname, vec, nvec);
	}
	return tv_run(name, unit, nunit);
}

/* ---- launch-digests.tsv ---- */

static char *
none_empty(char *s)
{
	if (!strcmp(s, "<none>"))
		return NULL;
	if (!strcmp(s, "<empty>"))
		return s + strlen(s); /* "" */
	return s;
}

int
tv_digest_rows_load(const char *path, struct tv_digest_row **ret, size_t *ret_n)
{
	FILE *f = fopen(path, "r");
	struct tv_digest_row *rows = NULL;
	size_t n = 0, lineno = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *cols[12], *p;
		struct tv_digest_row *r;
		size_t nc = 0;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		p = strdup(line);
		if (!p)
			abort();
		/* strtok_r would merge empty columns; split on every tab instead. */
		for (char *s = p; nc < 12; nc++) {
			cols[nc] = s;
			s = strchr(s, '\t');
			if (!s) {
				nc++;
				break;
			}
			*s++ = '\0';
		}
		if (nc < 11) {
			fprintf(stderr, "%s:%zu: %zu columns, expected 12\n", path, lineno, nc);
			free(p);
			goto fail;
		}
		rows = realloc(rows, (n + 1) * sizeof(*rows));
		if (!rows)
			abort();
		r = &rows[n++];
		memset(r, 0, sizeof(*r));
		r->line = p;
		r->id = cols[0];
		r->origin = cols[1];
		r->mode = cols[2];
		r->variant = cols[3];
		r->vcpus = (unsigned)strtoul(cols[4], NULL, 10);
		r->vcpu_sig = !strncmp(cols[5], "0x", 2) ? (uint32_t)strtoul(cols[5], NULL, 16) : 0;
		r->ovmf = cols[6];
		r->kernel = none_empty(cols[7]);
		r->initrd = none_empty(cols[8]);
		r->append = none_empty(cols[9]);
		r->expected = cols[10];
		r->notes = nc > 11 ? cols[11] : cols[10] + strlen(cols[10]);
		r->seves = !strcmp(r->mode, "seves");
		r->fpu = !strcmp(r->variant, "fpu");
		r->is_err = !strncmp(r->expected, "ERROR", 5);
		if (strcmp(r->mode, "sev") && !r->seves) {
			fprintf(stderr, "%s:%zu: unknown mode '%s'\n", path, lineno, r->mode);
			goto fail;
		}
		if (!r->is_err && strlen(r->expected) != 64) {
			fprintf(stderr, "%s:%zu: expected digest '%s' is not 64 hex digits\n", path,
				lineno, r->expected);
			goto fail;
		}
	}
	free(line);
	fclose(f);
	*ret = rows;
	*ret_n = n;
	return 0;
fail:
	free(line);
	fclose(f);
	tv_digest_rows_free(rows, n);
	return -1;
}

void
tv_digest_rows_free(struct tv_digest_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].line);
	free(rows);
}
