/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Token benchmark: validations per second with file keys and with token
 * keys, against the token's raw C_Verify rate, all in one process run.
 *   bench-token FIRMWARE TIK-FILE TEK-FILE TK-URI [SECONDS]
 * (the measurement is made here from the TIK file, as the PSP would, for
 * policy 0x3, API 0.24 build 15 and a zero MNONCE)
 *   bench-token --fill TOKEN-URI N     (add N filler AES keys, as a busy token has)
 *   bench-token --fill-pairs TOKEN-URI CSV
 *       (a fleet's own launch keys, one session: each CSV line NAME,TIK-FILE,TEK-FILE
 *       becomes NAME-tik and NAME-tek as `sevgate keys import` makes them; a fourth
 *       field ID-HEX gives the pair's CKA_ID, random otherwise, so a caller can
 *       name the pair by a tk: URI, `id=%..;type=secret-key`)
 *   bench-token --raw-pairs TIK-FILE TOKEN-URI ID-HEX N
 *       (the raw C_VerifyInit + C_Verify rate over N distinct TIKs, as a batch of N
 *       guests meets them: the pairs --fill-pairs wrote with the IDs ID-HEX, ID-HEX + 1,
 *       ... (4 bytes, big-endian), each opened by its tk: URI; the first call on each
 *       key, then passes over all of them for a second)
 *   bench-token --ecdsa-sign KEY-URI N
 *       (N audit-record signatures, one after the other, through the key
 *       interface as the audit log makes them: signatures per second)
 *   bench-token --probe TOKEN-URI NAME
 *       (the token library's own memory: VmRSS before loading it, then after
 *       logging in and opening NAME-tik and NAME-tek, as a batch run does)
 * Each "validation" is what a batch worker does per guest: open the keys
 * from their spec, take the firmware from the run's cache (one stat()),
 * compute the launch digest and check the measurement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
#include "key/key.h"
#include "key/p11.h"
#include "util/encode.h"
#include "validate/fwcache.h"
#include "validate/validate.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
one(struct sg_crypto *c, struct sg_validate_req *q)
{
	struct sg_validation *v = NULL;
	struct sg_error err = { 0 };
	int r = sg_validation_new(c, q, &v, &err);

	if (r == 0)
		r = sg_validation_attest(v, &err);
	sg_validation_free(v);
	if (r < 0)
		fprintf(stderr, "bench-token: %s\n", err.msg);
	return r;
}

struct tally {
	long n;
	double secs;
};

static void
run_validations(struct sg_crypto *c, struct sg_validate_req *q, double secs, struct tally *t)
{
	double t0 = now(), t1;

	do {
		if (one(c, q) < 0)
			exit(1);
		t->n++;
	} while ((t1 = now()) - t0 < secs);
	t->secs += t1 - t0;
}

/* The token's own rate: C_VerifyInit + C_Verify on the TIK handle, nothing else. */
static void
run_raw(struct sg_key *tik, const uint8_t msg[SG_MEASURE_MSG_LEN], const uint8_t mac[32],
	double secs, struct tally *t)
{
	struct sg_error err = { 0 };
	struct sg_iov iov = { msg, SG_MEASURE_MSG_LEN };
	double t0 = now(), t1;

	do {
		if (sg_key_hmac_verify(tik, &iov, 1, mac, &err) < 0) {
			fprintf(stderr, "bench-token: raw verify failed\n");
			exit(1);
		}
		t->n++;
	} while ((t1 = now()) - t0 < secs);
	t->secs += t1 - t0;
}

/* Fill a token with @n one-time launch keys' worth of filler secret keys. */
static int
fill(const char *uri_s, long n)
{
	struct sg_key_options o = { 0 };
	struct sg_error err = { 0 };
	struct sg_p11_token **toks = NULL;
	P11KitUri *uri = NULL;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	uint8_t value[16] = { 0 };
	char label[64];

	if (sg_p11_uri_parse(uri_s, false, &uri, &err) < 0 ||
	    sg_p11_tokens(uri, uri_s, &o, &toks, &err) < 1) {
		fprintf(stderr, "bench-token: %s\n", err.msg);
		return 1;
	}
	for (long i = 0; i < n; i++) {
		CK_OBJECT_HANDLE h;
		snprintf(label, sizeof(label), "filler-%ld-%s", i, (i & 1) ? "tek" : "tik");
		value[0] = (uint8_t)i;
		value[1] = (uint8_t)(i >> 8);
		CK_ATTRIBUTE t[] = {
			{ CKA_CLASS, &cls, sizeof(cls) },     { CKA_KEY_TYPE, &type, sizeof(type) },
			{ CKA_TOKEN, &yes, sizeof(yes) },     { CKA_PRIVATE, &yes, sizeof(yes) },
			{ CKA_SENSITIVE, &yes, sizeof(yes) }, { CKA_EXTRACTABLE, &no, sizeof(no) },
			{ CKA_LABEL, label, strlen(label) },  { CKA_VALUE, value, sizeof(value) },
			{ CKA_ENCRYPT, &yes, sizeof(yes) },
		};
		struct sg_p11_op op;
		CK_RV rv;

		if (sg_p11_begin(toks[0], SG_P11_RW, &op, &err) < 0) {
			fprintf(stderr, "bench-token: %s\n", err.msg);
			return 1;
		}
		rv = op.fl->C_CreateObject(op.session, t, SG_ELEMENTSOF(t), &h);
		sg_p11_end(&op);
		if (rv != CKR_OK) {
			fprintf(stderr, "bench-token: C_CreateObject: %s\n", sg_p11_rv_name(rv));
			return 1;
		}
	}
	free(toks);
	p11_kit_uri_free(uri);
	sg_p11_shutdown();
	return 0;
}

/* Bytes of the TIK value to store, as `sevgate keys import` does: the token's minimum HMAC key size. */
static size_t
tik_store_len(struct sg_p11_op *op)
{
	CK_MECHANISM_INFO mi;

	if (op->fl->C_GetMechanismInfo(op->slot, CKM_SHA256_HMAC, &mi) != CKR_OK ||
	    mi.ulMinKeySize <= 16)
		return 16;
	return mi.ulMinKeySize > 64 ? 64 : mi.ulMinKeySize;
}

static int
read_key16(const char *path, uint8_t out[16])
{
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(out, 1, 16, f) : 0;
	int extra = f ? fgetc(f) : EOF;

	if (f)
		fclose(f);
	if (n != 16 || extra != EOF) {
		fprintf(stderr, "bench-token: %s: expected a 16-byte key file\n", path);
		return -1;
	}
	return 0;
}

/* @hex (an even number of hex digits, at most 2 * @max) into @out: its length, or -1. */
static int
parse_id(const char *hex, uint8_t *out, size_t max)
{
	size_t n = strlen(hex);

	if (n == 0 || n % 2 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = sg_hex_digit(hex[2 * i]), lo = sg_hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

/* The fleet's own TIK/TEK pairs, created in one session (import is one process per pair). */
static int
fill_pairs(const char *uri_s, const char *csv)
{
	struct sg_key_options o = { 0 };
	struct sg_error err = { 0 };
	struct sg_p11_token **toks = NULL;
	P11KitUri *uri = NULL;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	FILE *in = fopen(csv, "r");
	char line[4096];
	long n = 0;

	if (!in) {
		perror(csv);
		return 1;
	}
	if (sg_p11_uri_parse(uri_s, false, &uri, &err) < 0 ||
	    sg_p11_tokens(uri, uri_s, &o, &toks, &err) < 1) {
		fprintf(stderr, "bench-token: %s\n", err.msg);
		return 1;
	}
	/* One operation for the whole fill: the pairs go in one read-write session. */
	struct sg_p11_op op;

	if (sg_p11_begin(toks[0], SG_P11_RW, &op, &err) < 0) {
		fprintf(stderr, "bench-token: %s\n", err.msg);
		return 1;
	}
	size_t tiklen = tik_store_len(&op);

	while (fgets(line, sizeof(line), in)) {
		char *name = strtok(line, ",\n"), *ftik = strtok(NULL, ",\n"),
		     *ftek = strtok(NULL, ",\n"), *fid = strtok(NULL, ",\n");
		uint8_t tik[64] = { 0 }, tek[16], id[16];
		char ltik[200], ltek[200];
		int idlen = sizeof(id);

		if (!name || !*name)
			continue;
		if (!ftik || !ftek) {
			fprintf(stderr, "bench-token: %s: expected NAME,TIK-FILE,TEK-FILE\n", csv);
			return 1;
		}
		if (fid && (idlen = parse_id(fid, id, sizeof(id))) < 0) {
			fprintf(stderr, "bench-token: %s: '%s' is not an ID of 1-16 bytes in hex\n",
				csv, fid);
			return 1;
		}
		if (read_key16(ftik, tik) < 0 || read_key16(ftek, tek) < 0 ||
		    (!fid && sg_random_bytes(id, sizeof(id), &err) < 0))
			return 1;
		snprintf(ltik, sizeof(ltik), "%s-tik", name);
		snprintf(ltek, sizeof(ltek), "%s-tek", name);
		for (int k = 0; k < 2; k++) {
			CK_KEY_TYPE type = k == 0 ? CKK_GENERIC_SECRET : CKK_AES;
			const char *label = k == 0 ? ltik : ltek;
			CK_ATTRIBUTE t[] = {
				{ CKA_CLASS, &cls, sizeof(cls) },
				{ CKA_KEY_TYPE, &type, sizeof(type) },
				{ CKA_TOKEN, &yes, sizeof(yes) },
				{ CKA_PRIVATE, &yes, sizeof(yes) },
				{ CKA_SENSITIVE, &yes, sizeof(yes) },
				{ CKA_EXTRACTABLE, &no, sizeof(no) },
				{ CKA_ID, id, (CK_ULONG)idlen },
				{ CKA_LABEL, (void *)label, strlen(label) },
				{ CKA_VALUE, k == 0 ? tik : tek, k == 0 ? tiklen : 16 },
				{ k == 0 ? CKA_SIGN : CKA_ENCRYPT, &yes, sizeof(yes) },
				{ k == 0 ? CKA_VERIFY : CKA_DECRYPT, &yes, sizeof(yes) },
			};
			CK_OBJECT_HANDLE h;
			CK_RV rv = op.fl->C_CreateObject(op.session, t, SG_ELEMENTSOF(t), &h);

			if (rv != CKR_OK) {
				fprintf(stderr, "bench-token: C_CreateObject %s: %s\n", label,
					sg_p11_rv_name(rv));
				return 1;
			}
		}
		memset(tik, 0, sizeof(tik));
		memset(tek, 0, sizeof(tek));
		n++;
	}
	sg_p11_end(&op);
	fclose(in);
	printf("pairs %ld\n", n);
	free(toks);
	p11_kit_uri_free(uri);
	sg_p11_shutdown();
	return 0;
}

/* C_Verify over @n distinct TIKs: the first use of each, then the rate once all are in use. */
static int
raw_pairs(const char *tikfile, const char *uri_s, const char *idhex, long n)
{
	struct sg_crypto *c = NULL;
	struct sg_error err = { 0 };
	struct sg_key *ftik = NULL, **tiks = NULL;
	uint8_t msg[SG_MEASURE_MSG_LEN], mac[32], id[4];
	struct sg_iov iov = { msg, sizeof(msg) };
	unsigned long base = strtoul(idhex, NULL, 16);
	double t0, first, t1;
	long passes = 0;

	if (n < 1 || sg_crypto_new(&c, &err) < 0 || !(tiks = calloc((size_t)n, sizeof(*tiks))))
		return 1;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	if (sg_key_open(c, tikfile, SG_KEY_TIK, &ftik, &err) < 0 ||
	    sg_key_hmac_sha256(ftik, &iov, 1, mac, &err) < 0) {
		fprintf(stderr, "bench-token: %s\n", err.msg);
		return 1;
	}
	sg_key_free(ftik);
	for (long i = 0; i < n; i++) {
		struct sg_key *tek = NULL;
		unsigned long v = base + (unsigned long)i;
		char attrs[64], *spec;

		for (int b = 0; b < 4; b++)
			id[b] = (uint8_t)(v >> (24 - 8 * b));
		snprintf(attrs, sizeof(attrs), "id=%%%02x%%%02x%%%02x%%%02x;type=secret-key", id[0],
			 id[1], id[2], id[3]);
		spec = sg_p11_uri_extend(uri_s, attrs);
		if (!spec || sg_key_open_pair(c, spec, &tiks[i], &tek, &err) < 0) {
			fprintf(stderr, "bench-token: %s\n", spec ? err.msg : "out of memory");
			return 1;
		}
		sg_key_free(tek);
		free(spec);
	}
	t0 = now();
	for (long i = 0; i < n; i++)
		if (sg_key_hmac_verify(tiks[i], &iov, 1, mac, &err) < 0) {
			fprintf(stderr, "bench-token: raw verify failed\n");
			return 1;
		}
	first = now() - t0;
	t0 = now();
	do {
		for (long i = 0; i < n; i++)
			if (sg_key_hmac_verify(tiks[i], &iov, 1, mac, &err) < 0) {
				fprintf(stderr, "bench-token: raw verify failed\n");
				return 1;
			}
		passes++;
	} while ((t1 = now()) - t0 < 1.0);
	printf("first-use C_Verify/s %.0f\n", (double)n / first);
	printf("distinct-keys C_Verify/s %.0f\n", (double)(n * passes) / (t1 - t0));
	for (long i = 0; i < n; i++)
		sg_key_free(tiks[i]);
	free(tiks);
	sg_p11_shutdown();
	sg_crypto_free(c);
	return 0;
}

static long
vm_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = atol(line + strlen(field) + 1);
	if (f)
		fclose(f);
	return v;
}

/* What the token library itself holds once a process has logged in and looked up keys. */
static int
probe(const char *uri_s, const char *name)
{
	struct sg_crypto *c = NULL;
	struct sg_error err = { 0 };
	struct sg_key *tik = NULL, *tek = NULL;
	char *u1 = NULL, *u2 = NULL, attrs[256];
	long before, after;

	if (sg_crypto_new(&c, &err) < 0)
		return 1;
	before = vm_kib("VmRSS:");
	snprintf(attrs, sizeof(attrs), "object=%s-tik;type=secret-key", name);
	u1 = sg_p11_uri_extend(uri_s, attrs);
	snprintf(attrs, sizeof(attrs), "object=%s-tek;type=secret-key", name);
	u2 = sg_p11_uri_extend(uri_s, attrs);
	/* Two lookups: the second reads the token's whole key index, as a batch run does. */
	if (!u1 || !u2 || sg_key_open(c, u1, SG_KEY_TIK, &tik, &err) < 0 ||
	    sg_key_open(c, u2, SG_KEY_TEK, &tek, &err) < 0) {
		fprintf(stderr, "bench-token: %s\n", err.msg);
		return 1;
	}
	after = vm_kib("VmRSS:");
	printf("rss_before_kib %ld\nrss_after_kib %ld\ntoken_kib %ld\nhwm_kib %ld\n", before, after,
	       after - before, vm_kib("VmHWM:"));
	sg_key_free(tik);
	sg_key_free(tek);
	free(u1);
	free(u2);
	sg_p11_shutdown();
	sg_crypto_free(c);
	return 0;
}

/* The audit log's signing rate with a token key: each record waits for the last one's. */
static int
ecdsa_sign(const char *uri, long n)
{
	struct sg_error err = { 0 };
	uint8_t digest[32] = { 0 }, der[128];
	size_t derlen = sizeof(der);
	double t0;

	/* The first signature logs in and finds the key: not timed. */
	if (n < 1 || sg_key_ecdsa_sign(uri, NULL, digest, der, &derlen, &err) < 0) {
		fprintf(stderr, "bench-token: %s\n", n < 1 ? "N must be at least 1" : err.msg);
		return 1;
	}
	t0 = now();
	for (long i = 0; i < n; i++) {
		digest[i % 32] ^= (uint8_t)i;
		derlen = sizeof(der);
		if (sg_key_ecdsa_sign(uri, NULL, digest, der, &derlen, &err) < 0) {
			fprintf(stderr, "bench-token: %s\n", err.msg);
			return 1;
		}
	}
	printf("ecdsa_signs %ld\nseconds %.6f\nsigns_per_second %.1f\n", n, now() - t0,
	       (double)n / (now() - t0));
	sg_key_shutdown();
	return 0;
}

int
main(int argc, char **argv)
{
	sg_key_pkcs11_register(&sg_pkcs11_backend);
	if (argc == 4 && !strcmp(argv[1], "--fill"))
		return fill(argv[2], atol(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "--fill-pairs"))
		return fill_pairs(argv[2], argv[3]);
	if (argc == 6 && !strcmp(argv[1], "--raw-pairs"))
		return raw_pairs(argv[2], argv[3], argv[4], atol(argv[5]));
	if (argc == 4 && !strcmp(argv[1], "--ecdsa-sign"))
		return ecdsa_sign(argv[2], atol(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "--probe"))
		return probe(argv[2], argv[3]);

	struct sg_crypto *c = NULL;
	struct sg_error err = { 0 };
	struct sg_validate_req file = { 0 }, token;
	uint8_t msg[SG_MEASURE_MSG_LEN], ld[32];
	double secs;
	const struct sg_validate_result *res;
	struct sg_validation *v = NULL;
	struct sg_fwcache *fc = NULL;

	if (argc < 5) {
		fprintf(stderr, "usage: bench-token FW TIK TEK TK-URI [SECONDS]\n");
		return 2;
	}
	secs = argc > 5 ? atof(argv[5]) : 2.0;
	if (sg_crypto_new(&c, &err) < 0)
		return 1;
	file.have_measurement = file.have_api_major = file.have_api_minor = true;
	file.have_build_id = file.have_policy = true;
	file.platform = (struct sg_platform){
		.api_major = 0, .api_minor = 24, .build_id = 15, .policy = 3
	};
	file.firmware = argv[1];
	file.tik = argv[2];
	file.tek = argv[3];
	file.secret_pad = SG_SECRET_PAD_ALIGN16;
	/* Batch-style: the guests of a run share the firmware cache. */
	if (sg_fwcache_new(c, &fc, &err) < 0)
		return 1;
	file.fwcache = fc;

	/* The host's side: LD, then HMAC(TIK, msg) with a zero MNONCE. */
	{
		struct sg_validate_req d = file;
		struct sg_key *tik = NULL;

		d.digest_only = true;
		if (sg_validation_new(c, &d, &v, &err) < 0 || sg_validation_attest(v, &err) < 0 ||
		    sg_key_open(c, argv[2], SG_KEY_TIK, &tik, &err) < 0) {
			fprintf(stderr, "bench-token: %s\n", err.msg);
			return 1;
		}
		res = sg_validation_result(v);
		memcpy(ld, res->launch_digest, 32);
		sg_validation_free(v);
		sg_measure_msg(&file.platform, ld, file.measurement + 32, msg);
		if (sg_measure_compute(tik, msg, file.measurement, &err) < 0)
			return 1;
		sg_key_free(tik);
	}
	token = file;
	token.tik = token.tek = NULL;
	token.tk = argv[4];

	/* Ten interleaved slices of each, so a busy moment hits all three alike. */
	struct tally tf = { 0 }, tt = { 0 }, tr = { 0 };
	struct sg_key *rtik = NULL, *rtek = NULL;

	if (sg_key_open_pair(c, argv[4], &rtik, &rtek, &err) < 0) {
		fprintf(stderr, "bench-token: %s\n", err.msg);
		return 1;
	}
	/*
	 * Warm-up, timed apart: the first token lookup searches the token, the
	 * second reads its whole key index, once per run however many guests follow.
	 */
	double w0 = now();
	if (one(c, &file) < 0 || one(c, &token) < 0 || one(c, &token) < 0)
		return 1;
	double warm = (now() - w0) * 1e3;
	for (int i = 0; i < 10; i++) {
		run_validations(c, &file, secs / 10, &tf);
		run_validations(c, &token, secs / 10, &tt);
		run_raw(rtik, msg, file.measurement, secs / 10, &tr);
	}
	sg_key_free(rtik);
	sg_key_free(rtek);
	double rf = tf.n / tf.secs, rt = tt.n / tt.secs, rr = tr.n / tr.secs;
	printf("file-key validations/s %.0f\n", rf);
	printf("token-key validations/s %.0f\n", rt);
	printf("raw token C_Verify/s %.0f\n", rr);
	printf("token validations vs raw C_Verify %.1f%%\n", 100.0 * rt / rr);
	printf("first lookups incl. key index (ms) %.1f\n", warm);
	sg_fwcache_free(fc);
	sg_crypto_free(c);
	sg_p11_shutdown();
	return 0;
}
