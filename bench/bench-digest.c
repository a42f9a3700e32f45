/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SHA-256 throughput of sevgate's launch-digest path: sg_launch_digest() over a
 * buffer of SIZE MiB (plain SEV: no hashes table, no VMSAs, so the work is the
 * streamed SHA-256 of the "firmware"), RUNS times after one warm-up run, and
 * the median rate in MB/s (10^6 bytes per second, as `openssl speed` counts).
 *
 *   bench-digest [--runs N] [--size MIB] [FILE]
 *       FILE (optional) is mapped with sg_file_map() and repeated to fill the
 *       buffer; without it the buffer is a synthetic pattern.
 *   bench-digest --digest FILE
 *       print the launch digest of FILE alone (a check: it must equal
 *       `openssl dgst -sha256 FILE`).
 *
 * Output: "median_mbps <x>" and "runs <n> size_bytes <b> min_mbps <x> max_mbps <x>".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
#include "core/digest.h"
#include "util/fileio.h"

#define BENCH_MAX_RUNS 1000
#define BENCH_MAX_MIB 1024

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
parse_count(const char *s, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > max)
		return -1;
	*ret = v;
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: bench-digest [--runs N] [--size MIB] [FILE]\n"
			"       bench-digest --digest FILE\n");
	return 2;
}

static int
digest_one(struct sg_crypto *c, const uint8_t *data, size_t len, uint8_t out[SG_SHA256_LEN])
{
	struct sg_error err = { 0 };
	struct sg_launch l = { .firmware = data, .firmware_len = len };

	if (sg_launch_digest(c, &l, out, NULL, &err) < 0) {
		fprintf(stderr, "bench-digest: %s\n", err.msg);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	_cleanup_(sg_crypto_freep) struct sg_crypto *c = NULL;
	_cleanup_(sg_file_freep) struct sg_file *f = NULL;
	_cleanup_(sg_freep) uint8_t *buf = NULL;
	_cleanup_(sg_freep) double *rates = NULL;
	struct sg_error err = { 0 };
	uint8_t out[SG_SHA256_LEN];
	const char *path = NULL;
	long runs = 15, mib = 64;
	bool digest_only = false;
	size_t size;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			if (parse_count(argv[++i], BENCH_MAX_RUNS, &runs) < 0)
				return usage();
		} else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			if (parse_count(argv[++i], BENCH_MAX_MIB, &mib) < 0)
				return usage();
		} else if (!strcmp(argv[i], "--digest")) {
			digest_only = true;
		} else if (argv[i][0] == '-' || path) {
			return usage();
		} else {
			path = argv[i];
		}
	}
	if (digest_only && !path)
		return usage();

	if (sg_crypto_new(&c, &err) < 0) {
		fprintf(stderr, "bench-digest: %s\n", err.msg);
		return 1;
	}
	if (path && sg_file_map(path, SG_FILE_MAX, "input", &f, &err) < 0) {
		fprintf(stderr, "bench-digest: %s\n", err.msg);
		return 1;
	}
	if (digest_only) {
		if (digest_one(c, f->data, f->len, out) < 0)
			return 1;
		for (size_t i = 0; i < sizeof(out); i++)
			printf("%02x", out[i]);
		printf("\n");
		return 0;
	}
	if (f && f->len == 0) {
		fprintf(stderr, "bench-digest: %s is empty\n", path);
		return 1;
	}

	/* Fill (and so fault in) the whole buffer before any timing. */
	size = (size_t)mib << 20;
	buf = malloc(size);
	rates = calloc((size_t)runs, sizeof(*rates));
	if (!buf || !rates) {
		fprintf(stderr, "bench-digest: out of memory\n");
		return 1;
	}
	for (size_t off = 0; off < size;) {
		if (f) {
			size_t n = size - off < f->len ? size - off : f->len;

			memcpy(buf + off, f->data, n);
			off += n;
		} else {
			buf[off] = (uint8_t)(off * 2654435761u >> 24);
			off++;
		}
	}

	if (digest_one(c, buf, size, out) < 0) /* warm-up */
		return 1;
	for (long r = 0; r < runs; r++) {
		double t0 = now(), t;

		if (digest_one(c, buf, size, out) < 0)
			return 1;
		t = now() - t0;
		rates[r] = (double)size / 1e6 / (t > 0 ? t : 1e-9);
	}
	qsort(rates, (size_t)runs, sizeof(*rates), cmp_double);
	printf("median_mbps %.1f\n",
	       runs % 2 ? rates[runs / 2] : (rates[runs / 2 - 1] + rates[runs / 2]) / 2);
	printf("runs %ld size_bytes %zu min_mbps %.1f max_mbps %.1f\n", runs, size, rates[0],
	       rates[runs - 1]);
	return 0;
}
