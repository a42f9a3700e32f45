/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/audit/audit.c: record bounds (free text cut to 1 KiB, no line over the reader's bound). */
#include <json-c/json.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vectors.h"
#include "audit/audit.h"
#include "util/encode.h"

/* The documented bounds (docs/audit.md, "Records"). */
#define TEXT_MAX 1024
#define MARKER "...[truncated]"
/* A cut text keeps this many of its bytes: with the marker, the member is exactly 1 KiB. */
#define KEEP (TEXT_MAX - (sizeof(MARKER) - 1))

struct fixture {
	char *key, *pub, *log;
	struct sg_crypto *crypto;
};

static int counter;

/* A fresh P-256 key pair (PEM files) and an empty log path. */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	EVP_PKEY *k = EVP_EC_gen("P-256");
	char name[64];
	FILE *fp;
	struct sg_error err = { 0 };

	assert_non_null(f);
	assert_non_null(k);
	snprintf(name, sizeof(name), "audit-key-%d.pem", counter);
	f->key = tv_tmp(name);
	snprintf(name, sizeof(name), "audit-pub-%d.pem", counter);
	f->pub = tv_tmp(name);
	snprintf(name, sizeof(name), "audit-%d.jsonl", counter++);
	f->log = tv_tmp(name);
	assert_non_null(fp = fopen(f->key, "w"));
	assert_int_equal(PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(fp);
	assert_non_null(fp = fopen(f->pub, "w"));
	assert_int_equal(PEM_write_PUBKEY(fp, k), 1);
	fclose(fp);
	EVP_PKEY_free(k);
	TV_ASSERT_OK(sg_crypto_new(&f->crypto, &err), &err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	sg_crypto_free(f->crypto);
	unlink(f->key);
	unlink(f->pub);
	unlink(f->log);
	free(f->key);
	free(f->pub);
	free(f->log);
	free(f);
	return 0;
}

/* Line @n (1-based) of the log, parsed. */
static struct json_object *
record(const char *log, size_t n)
{
	size_t len;
	uint8_t *data = tv_read(log, &len);
	char *p = (char *)data, *nl;
	struct json_object *o;

	for (size_t i = 1; i < n; i++) {
		assert_non_null(nl = memchr(p, '\n', len - (size_t)(p - (char *)data)));
		p = nl + 1;
	}
	assert_non_null(nl = memchr(p, '\n', len - (size_t)(p - (char *)data)));
	*nl = '\0';
	o = json_tokener_parse(p);
	free(data);
	assert_non_null(o);
	return o;
}

static const char *
string_member(struct json_object *o, const char *k)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, k, &v));
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static void
assert_verifies(struct fixture *f, size_t want)
{
	struct sg_error err = { 0 };
	size_t count = 0;
	char head[SG_AUDIT_HEAD_HEX + 1];

	TV_ASSERT_OK(sg_audit_verify(f->crypto, f->log, f->pub, NULL, &count, head, &err), &err);
	assert_int_equal(count, want);
}

/* A 70,000-byte reason is stored as 1 KiB: its first bytes and the marker; the log goes on. */
static void
test_long_reason_truncated(void **state)
{
	struct fixture *f = *state;
	struct sg_audit *a = NULL;
	struct sg_error err = { 0 };
	char *reason = malloc(70001);
	struct sg_audit_event ev = { .event = SG_AUDIT_EVENT_VERDICT,
				     .guest = "g1",
				     .verdict = "mismatch" };
	struct json_object *o;
	const char *stored;

	assert_non_null(reason);
	memset(reason, 'r', 70000);
	reason[70000] = '\0';
	ev.reason = reason;
	TV_ASSERT_OK(sg_audit_open(f->crypto, f->log, f->key, NULL, &a, &err), &err);
	TV_ASSERT_OK(sg_audit_append(a, &ev, NULL, &err), &err);
	o = record(f->log, 1);
	stored = string_member(o, "reason");
	assert_int_equal(strlen(stored), TEXT_MAX);
	assert_memory_equal(stored, reason, KEEP);
	assert_string_equal(stored + KEEP, MARKER);
	assert_string_equal(string_member(o, "guest"), "g1");
	json_object_put(o);
	/* The log is not poisoned: later appends work, from this process and a new one. */
	TV_ASSERT_OK(sg_audit_checkpoint(a, NULL, &err), &err);
	sg_audit_close(a);
	a = NULL;
	TV_ASSERT_OK(sg_audit_open(f->crypto, f->log, f->key, NULL, &a, &err), &err);
	TV_ASSERT_OK(sg_audit_checkpoint(a, NULL, &err), &err);
	sg_audit_close(a);
	assert_verifies(f, 3);
	free(reason);
}

/* The cut falls on a UTF-8 boundary: a 2-byte character across the cut is dropped whole. */
static void
test_truncation_utf8_boundary(void **state)
{
	struct fixture *f = *state;
	struct sg_audit *a = NULL;
	struct sg_error err = { 0 };
	char reason[2048];
	struct sg_audit_event ev = { .event = SG_AUDIT_EVENT_VERDICT,
				     .verdict = "mismatch",
				     .reason = reason };
	struct json_object *o;
	const char *stored;

	memset(reason, 'a', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	memcpy(reason + KEEP - 1, "\xc3\xa9", 2); /* U+00E9 at bytes 1009..1010 */
	TV_ASSERT_OK(sg_audit_open(f->crypto, f->log, f->key, NULL, &a, &err), &err);
	TV_ASSERT_OK(sg_audit_append(a, &ev, NULL, &err), &err);
	sg_audit_close(a);
	o = record(f->log, 1);
	stored = string_member(o, "reason");
	assert_int_equal(strlen(stored), TEXT_MAX - 1);
	assert_memory_equal(stored, reason, KEEP - 1);
	assert_string_equal(stored + KEEP - 1, MARKER);
	json_object_put(o);
	assert_verifies(f, 1);
}

/* Text of exactly 1 KiB is stored whole, without a marker; a guest name is cut like a reason. */
static void
test_text_at_bound_and_guest(void **state)
{
	struct fixture *f = *state;
	struct sg_audit *a = NULL;
	struct sg_error err = { 0 };
	char reason[TEXT_MAX + 1], guest[5000];
	struct sg_audit_event ev = { .event = SG_AUDIT_EVENT_VERDICT,
				     .verdict = "mismatch",
				     .reason = reason,
				     .guest = guest };
	struct json_object *o;

	memset(reason, 'x', TEXT_MAX);
	reason[TEXT_MAX] = '\0';
	memset(guest, 'g', sizeof(guest) - 1);
	guest[sizeof(guest) - 1] = '\0';
	TV_ASSERT_OK(sg_audit_open(f->crypto, f->log, f->key, NULL, &a, &err), &err);
	TV_ASSERT_OK(sg_audit_append(a, &ev, NULL, &err), &err);
	sg_audit_close(a);
	o = record(f->log, 1);
	assert_string_equal(string_member(o, "reason"), reason);
	assert_int_equal(strlen(string_member(o, "guest")), TEXT_MAX);
	json_object_put(o);
	assert_verifies(f, 1);
}

/* The message of a record over the bound (its size varies with the signature's DER length). */
static void
assert_limit_msg(const char *msg)
{
	char want[512];
	size_t n = 0;

	assert_int_equal(sscanf(msg, "an audit record of %zu bytes", &n), 1);
	assert_true(n > SG_AUDIT_LINE_MAX);
	snprintf(want, sizeof(want),
		 "an audit record of %zu bytes is longer than the log's 65536-byte bound: not "
		 "written",
		 n);
	assert_string_equal(msg, want);
}

/*
 * A record whose line would exceed the reader's bound (many long key names;
 * control bytes are escaped 6-fold) is SG_E_LIMIT, nothing written: the log
 * stays as it was and takes the next record. One just under the bound is
 * written and read back by verify. In a group, only the long record fails.
 */
static void
test_oversize_record_refused(void **state)
{
	static const struct {
		size_t nkeys;
		char fill;
		int rc;
	} cases[] = {
		{ 40, 0x01, SG_E_LIMIT }, /* 40 x 6 KiB escaped */
		{ 64, 'k', SG_E_LIMIT },  /* 64 x 1026 bytes: about 66.5 KB */
		{ 62, 'k', 0 },		  /* about 64.5 KB */
	};
	struct fixture *f = *state;
	const char *keys[64];
	char key[TEXT_MAX + 1];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sg_audit *a = NULL;
		struct sg_error err = { 0 }, errs[3] = { 0 };
		struct sg_audit_event ev = { .event = SG_AUDIT_EVENT_RELEASE_INTENT,
					     .verdict = "trusted",
					     .keys = keys,
					     .nkeys = cases[i].nkeys };
		struct sg_audit_event cp = { .event = SG_AUDIT_EVENT_CHECKPOINT };
		struct sg_audit_entry e[3] = { { .ev = &cp, .err = &errs[0] },
					       { .ev = &ev, .err = &errs[1] },
					       { .ev = &cp, .err = &errs[2] } };
		struct stat st1, st2;

		print_message("case %zu\n", i);
		memset(key, cases[i].fill, TEXT_MAX);
		key[TEXT_MAX] = '\0';
		for (size_t k = 0; k < cases[i].nkeys; k++)
			keys[k] = key;
		unlink(f->log);
		TV_ASSERT_OK(sg_audit_open(f->crypto, f->log, f->key, NULL, &a, &err), &err);
		TV_ASSERT_OK(sg_audit_checkpoint(a, NULL, &err), &err);
		assert_int_equal(stat(f->log, &st1), 0);
		if (cases[i].rc == 0) {
			TV_ASSERT_OK(sg_audit_append(a, &ev, NULL, &err), &err);
			assert_int_equal(stat(f->log, &st2), 0);
			assert_true(st2.st_size - st1.st_size > 64000);
			assert_true(st2.st_size - st1.st_size <= SG_AUDIT_LINE_MAX);
			sg_audit_close(a);
			assert_verifies(f, 2);
			continue;
		}
		TV_ASSERT_ERR(sg_audit_append(a, &ev, NULL, &err), &err, SG_E_LIMIT);
		assert_limit_msg(err.msg);
		assert_int_equal(stat(f->log, &st2), 0);
		assert_int_equal(st2.st_size, st1.st_size);
		/* In a group: the records around it are written, chained to each other. */
		assert_int_equal(sg_audit_append_many(a, e, 3), SG_E_LIMIT);
		assert_int_equal(e[0].rc, 0);
		assert_int_equal(e[1].rc, SG_E_LIMIT);
		assert_limit_msg(errs[1].msg);
		assert_int_equal(e[2].rc, 0);
		sg_audit_close(a);
		assert_verifies(f, 3);
	}
}

/* Every event and its name as a record holds it; no name for no event or a value past the end. */
static void
test_event_names(void **state)
{
	static const struct {
		int type;
		const char *name;
	} cases[] = {
		{ SG_AUDIT_EVENT_NONE, NULL },
		{ SG_AUDIT_EVENT_VERDICT, "verdict" },
		{ SG_AUDIT_EVENT_RELEASE_INTENT, "release-intent" },
		{ SG_AUDIT_EVENT_RELEASED, "released" },
		{ SG_AUDIT_EVENT_REFUSED, "refused" },
		{ SG_AUDIT_EVENT_CHECKPOINT, "checkpoint" },
		{ SG_AUDIT_EVENT_CHECKPOINT + 1, NULL },
		{ -1, NULL },
		{ 1000, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = sg_audit_event_name((enum sg_audit_event_type)cases[i].type);

		if (cases[i].name)
			assert_string_equal(got, cases[i].name);
		else
			assert_null(got);
	}
}

/* An event without a type (a zeroed struct) is a bug: refused, nothing written. */
static void
test_event_none_refused(void **state)
{
	struct fixture *f = *state;
	struct sg_audit *a = NULL;
	struct sg_error err = { 0 };
	struct sg_audit_event ev = { .guest = "g1", .verdict = "trusted" };
	struct stat st;

	TV_ASSERT_OK(sg_audit_open(f->crypto, f->log, f->key, NULL, &a, &err), &err);
	TV_ASSERT_ERR(sg_audit_append(a, &ev, NULL, &err), &err, SG_E_INTERNAL);
	assert_string_equal(err.msg, "not an audit event (0)");
	assert_int_equal(stat(f->log, &st), 0);
	assert_int_equal(st.st_size, 0);
	sg_audit_close(a);
}

/* sg_audit_summary_parse: each member as text, whatever its type; no record, no summary. */
static void
test_summary(void **state)
{
	static const struct {
		const char *line;
		size_t len; /* 0: strlen */
		int rc;
		const char *seq, *time, *event, *guest, *verdict, *digest, *reason;
		size_t nsecrets;
		const char *secrets[3][2];
	} cases[] = {
		{ "{\"seq\":3,\"time\":\"2026-11-23T15:10:46Z\",\"prev\":\"00\",\"event\":\"released\","
		  "\"guest\":\"g2\",\"verdict\":\"trusted\",\"launch_digest\":\"ab\",\"secrets\":"
		  "[{\"guid\":\"G1\",\"length\":32},{\"guid\":7},null],\"reason\":\"why\","
		  "\"future\":{\"x\":1},\"sig\":\"AA==\"}\n",
		  0,
		  0,
		  "3",
		  "2026-11-23T15:10:46Z",
		  "released",
		  "g2",
		  "trusted",
		  "ab",
		  "why",
		  3,
		  { { "G1", "32" }, { "7", NULL }, { NULL, NULL } } },
		{ "{\"seq\":1,\"event\":\"checkpoint\",\"guest\":null,\"secrets\":[]}",
		  0,
		  0,
		  "1",
		  NULL,
		  "checkpoint",
		  NULL,
		  NULL,
		  NULL,
		  NULL,
		  0,
		  { { 0 } } },
		{ "{\"seq\":null,\"time\":17,\"event\":true,\"secrets\":{\"guid\":\"x\"}}",
		  0,
		  0,
		  NULL,
		  "17",
		  "true",
		  NULL,
		  NULL,
		  NULL,
		  NULL,
		  0,
		  { { 0 } } },
		{ "{\"seq\":\"x\\u001b\"}",
		  0,
		  0,
		  "x\x1b",
		  NULL,
		  NULL,
		  NULL,
		  NULL,
		  NULL,
		  NULL,
		  0,
		  { { 0 } } },
		{ .line = "this is not a record\n", .rc = SG_E_FORMAT },
		{ .line = "[1,2]", .rc = SG_E_FORMAT },
		{ .line = "{\"time\":\"2026\"}", .rc = SG_E_FORMAT },
		{ .line = "", .rc = SG_E_FORMAT },
		{ .line = "{\"seq\":1}\0{", .len = 11, .rc = SG_E_FORMAT },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sg_audit_summary r;
		struct sg_error err = { 0 };
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].line);
		int rc = sg_audit_summary_parse(cases[i].line, len, &r, &err);

		print_message("case %zu\n", i);
		assert_int_equal(rc, cases[i].rc);
		if (rc < 0) {
			assert_string_equal(err.msg, "not a record");
			assert_null(r.record);
			sg_audit_summary_clear(&r); /* a no-op */
			continue;
		}
#define EQ(got, want)                                   \
	do {                                            \
		if (want)                               \
			assert_string_equal(got, want); \
		else                                    \
			assert_null(got);               \
	} while (0)
		EQ(r.seq, cases[i].seq);
		EQ(r.time, cases[i].time);
		EQ(r.event, cases[i].event);
		EQ(r.guest, cases[i].guest);
		EQ(r.verdict, cases[i].verdict);
		EQ(r.launch_digest, cases[i].digest);
		EQ(r.reason, cases[i].reason);
		assert_int_equal(r.nsecrets, cases[i].nsecrets);
		for (size_t k = 0; k < r.nsecrets; k++) {
			EQ(r.secrets[k].guid, cases[i].secrets[k][0]);
			EQ(r.secrets[k].length, cases[i].secrets[k][1]);
		}
#undef EQ
		sg_audit_summary_clear(&r);
		assert_null(r.record);
		assert_null(r.secrets);
	}
}

/*
 * A failure of the whole group (here: the log ends in bytes no record could
 * be) is reported in every record of it that had no outcome yet, with the
 * same message; a record that failed on its own keeps its own error.
 */
static void
test_group_failure_each_record(void **state)
{
	struct fixture *f = *state;
	struct sg_audit *a = NULL;
	struct sg_error err = { 0 }, errs[3] = { 0 };
	struct sg_audit_event none = { .guest = "g0" };
	struct sg_audit_event v = { .event = SG_AUDIT_EVENT_VERDICT, .verdict = "trusted" };
	struct sg_audit_event cp = { .event = SG_AUDIT_EVENT_CHECKPOINT };
	struct sg_audit_entry e[4] = {
		{ .ev = &none, .err = &errs[0] },
		{ .ev = &v, .err = &errs[1] },
		{ .ev = &cp, .err = &errs[2] },
		{ .ev = &v }, /* no error to report to: only its code */
	};
	char want[512];
	struct stat st1, st2;
	FILE *fp;

	TV_ASSERT_OK(sg_audit_open(f->crypto, f->log, f->key, NULL, &a, &err), &err);
	TV_ASSERT_OK(sg_audit_checkpoint(a, NULL, &err), &err);
	assert_non_null(fp = fopen(f->log, "a"));
	for (int i = 0; i < SG_AUDIT_LINE_MAX + 1; i++)
		fputc('x', fp);
	fclose(fp);
	assert_int_equal(stat(f->log, &st1), 0);
	assert_int_equal(sg_audit_append_many(a, e, 4), SG_E_INTERNAL);
	assert_int_equal(e[0].rc, SG_E_INTERNAL);
	assert_string_equal(errs[0].msg, "not an audit event (0)");
	snprintf(want, sizeof(want),
		 "audit log '%s' ends in %d bytes after its last newline: not a torn record; "
		 "the log is left as it is",
		 f->log, SG_AUDIT_LINE_MAX + 1);
	for (size_t i = 1; i < 4; i++)
		assert_int_equal(e[i].rc, SG_E_FORMAT);
	assert_int_equal(errs[1].code, SG_E_FORMAT);
	assert_string_equal(errs[1].msg, want);
	assert_int_equal(errs[2].code, SG_E_FORMAT);
	assert_string_equal(errs[2].msg, want);
	assert_int_equal(stat(f->log, &st2), 0);
	assert_int_equal(st2.st_size, st1.st_size);
	sg_audit_close(a);
}

/* 64 hex digits: @s (two) 32 times. */
#define R2(s) s s
#define R8(s) R2(R2(R2(s)))
#define HEX64(s) R8(R2(R2(s)))
#define H00 HEX64("00")
#define H11 HEX64("11")
#define H22 HEX64("22")
#define H33 HEX64("33")
#define H44 HEX64("44")
#define HAB HEX64("ab")
#define HFF HEX64("ff")
#define MEAS_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v"
#define GUID1 "736869e5-84f0-4973-92ec-06879ce3da0b"
#define GUID2 "4c2eb361-7d9b-4cc3-8081-127c90d3d294"
#define WHEN 1795000000 /* 2026-11-18T11:06:40Z */
#define WHEN_TEXT "2026-11-18T11:06:40Z"

/* The bytes a record's signed form holds, for fixed events, actor, time and chain. */
static void
test_render_exact(void **state)
{
	static uint8_t m[32], fw[32], cl[32], ld[32], meas[48];
	static const struct {
		const char *guid;
		size_t length;
	} secrets[] = { { GUID1, 32 }, { GUID2, 7 } };
	static const char *const keys[] = { "file:tik", "pkcs11:token=t;object=tek" };
	const struct sg_audit_actor actor = { .uid = 0, .user = "root", .host = "vm" };
	const struct sg_audit_actor odd = { .uid = 4294967294u, .user = "?", .host = "h\"/\\" };
	const struct {
		struct sg_audit_event ev;
		const struct sg_audit_actor *actor;
		unsigned long long seq;
		const char *prev, *want;
	} cases[] = {
		{ { .event = SG_AUDIT_EVENT_CHECKPOINT },
		  &actor,
		  7,
		  HAB,
		  "{\"seq\":7,\"time\":\"" WHEN_TEXT "\",\"prev\":\"" HAB "\","
		  "\"event\":\"checkpoint\",\"guest\":null,\"manifest_sha256\":null,"
		  "\"inputs\":{\"firmware\":null,\"kernel\":null,\"initrd\":null,\"cmdline\":null},"
		  "\"measurement\":null,\"api_major\":null,\"api_minor\":null,\"build_id\":null,"
		  "\"policy\":null,\"launch_digest\":null,\"verdict\":null,\"secrets\":[],\"keys\":[],"
		  "\"actor\":{\"uid\":0,\"user\":\"root\",\"host\":\"vm\"},"
		  "\"sevgate_version\":\"" SEVGATE_VERSION "\",\"v\":1}" },
		{ { .event = SG_AUDIT_EVENT_RELEASE_INTENT,
		    .guest = "g1",
		    .manifest_sha256 = m,
		    .firmware_sha256 = fw,
		    .cmdline_sha256 = cl,
		    .measurement = meas,
		    .have_platform = true,
		    .api_major = 1,
		    .api_minor = 52,
		    .build_id = 255,
		    .policy = 0xffffffffu,
		    .launch_digest = ld,
		    .verdict = "trusted",
		    .secrets = (const void *)secrets,
		    .nsecrets = 2,
		    .keys = keys,
		    .nkeys = 2 },
		  &actor,
		  1,
		  H00,
		  "{\"seq\":1,\"time\":\"" WHEN_TEXT "\",\"prev\":\"" H00 "\","
		  "\"event\":\"release-intent\",\"guest\":\"g1\",\"manifest_sha256\":\"" H11 "\","
		  "\"inputs\":{\"firmware\":\"" H22 "\",\"kernel\":null,\"initrd\":null,"
		  "\"cmdline\":\"" H33 "\"},\"measurement\":\"" MEAS_B64 "\","
		  "\"api_major\":1,\"api_minor\":52,\"build_id\":255,\"policy\":4294967295,"
		  "\"launch_digest\":\"" H44 "\",\"verdict\":\"trusted\","
		  "\"secrets\":[{\"guid\":\"" GUID1 "\",\"length\":32},"
		  "{\"guid\":\"" GUID2 "\",\"length\":7}],"
		  "\"keys\":[\"file:tik\",\"pkcs11:token=t;object=tek\"],"
		  "\"actor\":{\"uid\":0,\"user\":\"root\",\"host\":\"vm\"},"
		  "\"sevgate_version\":\"" SEVGATE_VERSION "\",\"v\":1}" },
		/* A reason is present only when there is one; text is JSON-escaped, '/' kept. */
		{ { .event = SG_AUDIT_EVENT_REFUSED,
		    .guest = "a/\"b\\\n\x01",
		    .verdict = "refused",
		    .reason = "release refused: guest policy 0x2 allows debugging" },
		  &odd,
		  18446744073709551615ull,
		  HFF,
		  "{\"seq\":18446744073709551615,\"time\":\"" WHEN_TEXT "\",\"prev\":\"" HFF "\","
		  "\"event\":\"refused\",\"guest\":\"a/\\\"b\\\\\\n\\u0001\",\"manifest_sha256\":null,"
		  "\"inputs\":{\"firmware\":null,\"kernel\":null,\"initrd\":null,\"cmdline\":null},"
		  "\"measurement\":null,\"api_major\":null,\"api_minor\":null,\"build_id\":null,"
		  "\"policy\":null,\"launch_digest\":null,\"verdict\":\"refused\",\"secrets\":[],"
		  "\"keys\":[],\"reason\":\"release refused: guest policy 0x2 allows debugging\","
		  "\"actor\":{\"uid\":4294967294,\"user\":\"?\",\"host\":\"h\\\"/\\\\\"},"
		  "\"sevgate_version\":\"" SEVGATE_VERSION "\",\"v\":1}" },
	};

	(void)state;
	memset(m, 0x11, sizeof(m));
	memset(fw, 0x22, sizeof(fw));
	memset(cl, 0x33, sizeof(cl));
	memset(ld, 0x44, sizeof(ld));
	for (size_t i = 0; i < sizeof(meas); i++)
		meas[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sg_error err = { 0 };
		char *got = NULL;

		print_message("case %zu\n", i);
		TV_ASSERT_OK(sg_audit_render(&cases[i].ev, cases[i].actor, cases[i].seq, WHEN,
					     cases[i].prev, &got, &err),
			     &err);
		assert_string_equal(got, cases[i].want);
		free(got);
	}
}

/* No event, no record; a time gmtime cannot give is refused. */
static void
test_render_refused(void **state)
{
	const struct sg_audit_actor actor = { .uid = 0, .user = "root", .host = "vm" };
	struct sg_audit_event none = { .guest = "g" }, cp = { .event = SG_AUDIT_EVENT_CHECKPOINT };
	struct sg_error err = { 0 };
	char *got = (char *)"unchanged";

	(void)state;
	TV_ASSERT_ERR(sg_audit_render(&none, &actor, 1, WHEN, H00, &got, &err), &err,
		      SG_E_INTERNAL);
	assert_null(got);
	assert_string_equal(err.msg, "not an audit event (0)");
	sg_error_clear(&err);
	if (sizeof(time_t) == 8) {
		TV_ASSERT_ERR(sg_audit_render(&cp, &actor, 1, (time_t)INT64_MAX, H00, &got, &err),
			      &err, SG_E_USAGE);
		assert_null(got);
	}
}

/*
 * What the log writes is the rendered record and its signature: the line,
 * without its sig member, is sg_audit_render's text for the record's time,
 * actor and chain, and the second record chains to the first line's hash.
 */
static void
test_written_is_rendered(void **state)
{
	struct fixture *f = *state;
	struct sg_audit *a = NULL;
	struct sg_error err = { 0 };
	struct sg_audit_event ev = { .event = SG_AUDIT_EVENT_VERDICT,
				     .guest = "g1",
				     .verdict = "mismatch",
				     .reason = "no match" };
	char head1[SG_AUDIT_HEAD_HEX + 1], head2[SG_AUDIT_HEAD_HEX + 1], user[64], host[256];
	struct passwd *pw = getpwuid(getuid());
	const struct sg_audit_actor actor = { .uid = getuid(), .user = user, .host = host };
	size_t len;
	char *data, *nl, *line, *sig;

	snprintf(user, sizeof(user), "%s", pw ? pw->pw_name : "?");
	memset(host, 0, sizeof(host));
	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "?");
	TV_ASSERT_OK(sg_audit_open(f->crypto, f->log, f->key, NULL, &a, &err), &err);
	TV_ASSERT_OK(sg_audit_append(a, &ev, head1, &err), &err);
	TV_ASSERT_OK(sg_audit_checkpoint(a, head2, &err), &err);
	sg_audit_close(a);
	data = (char *)tv_read(f->log, &len);
	line = data;
	for (unsigned long long seq = 1; seq <= 2; seq++) {
		struct sg_audit_event cp = { .event = SG_AUDIT_EVENT_CHECKPOINT };
		char *want = NULL, when[32];
		struct tm tm = { 0 };
		uint8_t h[SG_SHA256_LEN];
		char hex[SG_AUDIT_HEAD_HEX + 1];

		assert_non_null(nl = strchr(line, '\n'));
		*nl = '\0';
		/* The time member's text, back to a time_t. */
		assert_non_null(strstr(line, "\"time\":\""));
		memcpy(when, strstr(line, "\"time\":\"") + 8, 20);
		when[20] = '\0';
		assert_non_null(strptime(when, "%Y-%m-%dT%H:%M:%SZ", &tm));
		TV_ASSERT_OK(sg_audit_render(seq == 1 ? &ev : &cp, &actor, seq, timegm(&tm),
					     seq == 1 ? H00 : head1, &want, &err),
			     &err);
		assert_non_null(sig = strstr(line, ",\"sig\":\""));
		assert_int_equal((size_t)(sig - line), strlen(want) - 1);
		assert_memory_equal(line, want, strlen(want) - 1);
		assert_string_equal(sig + strlen(sig) - 2, "\"}");
		free(want);
		TV_ASSERT_OK(sg_sha256(f->crypto, line, strlen(line), h, &err), &err);
		sg_hex_encode(h, sizeof(h), hex);
		assert_string_equal(hex, seq == 1 ? head1 : head2);
		line = nl + 1;
	}
	assert_int_equal((size_t)(line - data), len);
	free(data);
	assert_verifies(f, 2);
}

/* The hash (hex) of the last line of @log and the number of its lines; zeros and 0 if empty. */
static size_t
log_tail(struct fixture *f, char prev[SG_AUDIT_HEAD_HEX + 1])
{
	struct sg_error err = { 0 };
	size_t len, n = 0;
	char *data = (char *)tv_read(f->log, &len), *last = data;
	uint8_t h[SG_SHA256_LEN];

	memset(prev, '0', SG_AUDIT_HEAD_HEX);
	prev[SG_AUDIT_HEAD_HEX] = '\0';
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		TV_ASSERT_OK(sg_sha256(f->crypto, last, (size_t)(data + i - last), h, &err), &err);
		sg_hex_encode(h, sizeof(h), prev);
		last = data + i + 1;
		n++;
	}
	free(data);
	return n;
}

/* How a test record differs from what this version writes. */
enum forge {
	FORGE_SIGNED = 0,    /* signed as it is */
	FORGE_LEGACY = 1,    /* without the v member (version 0) */
	FORGE_TAMPER = 2,    /* after signing, the first "x" of its extra members becomes "y" */
	FORGE_AFTER_SIG = 4, /* its extra members after sig, not before */
};

/*
 * Append to @f's log the next record another writer (a later version) could
 * write: this version's verdict record with @extra members before sig,
 * signed with the fixture's key, changed as @how says.
 */
static void
append_forged(struct fixture *f, const char *extra, int how)
{
	const struct sg_audit_actor actor = { .uid = 0, .user = "root", .host = "vm" };
	struct sg_audit_event ev = { .event = SG_AUDIT_EVENT_VERDICT,
				     .guest = "g9",
				     .verdict = "trusted" };
	struct sg_error err = { 0 };
	char prev[SG_AUDIT_HEAD_HEX + 1], *text = NULL, *signed_form = NULL, *line = NULL, *x;
	size_t seq = log_tail(f, prev) + 1, tl, derlen = 128;
	uint8_t der[128];
	char b64[SG_B64_ENCODED_LEN(128) + 1];
	EVP_PKEY *k;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	FILE *fp;

	TV_ASSERT_OK(sg_audit_render(&ev, &actor, seq, time(NULL), prev, &text, &err), &err);
	tl = strlen(text);
	assert_true(tl > 7 && !strcmp(text + tl - 7, ",\"v\":1}"));
	text[tl - ((how & FORGE_LEGACY) ? 7 : 1)] = '\0'; /* without '}' (and "v") */
	assert_true(asprintf(&signed_form, "%s%s}", text, (how & FORGE_AFTER_SIG) ? "" : extra) >
		    0);
	assert_non_null(fp = fopen(f->key, "r"));
	assert_non_null(k = PEM_read_PrivateKey(fp, NULL, NULL, NULL));
	fclose(fp);
	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
	assert_int_equal(
		EVP_DigestSign(md, der, &derlen, (const uint8_t *)signed_form, strlen(signed_form)),
		1);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	sg_base64_encode(der, derlen, b64);
	signed_form[strlen(signed_form) - 1] = '\0';
	if (how & FORGE_AFTER_SIG)
		assert_true(asprintf(&line, "%s,\"sig\":\"%s\"%s}\n", signed_form, b64, extra) > 0);
	else
		assert_true(asprintf(&line, "%s,\"sig\":\"%s\"}\n", signed_form, b64) > 0);
	if (how & FORGE_TAMPER) {
		assert_non_null(x = strstr(line + strlen(text), "\"x\""));
		x[1] = 'y';
	}
	assert_non_null(fp = fopen(f->log, "a"));
	assert_int_equal(fputs(line, fp) >= 0, 1);
	fclose(fp);
	free(line);
	free(signed_form);
	free(text);
}

/*
 * Forward compatibility: audit verify accepts members it does not know, and
 * records without v (version 0), as long as signature and chain check; a
 * changed unknown member, or one after sig, fails; this version's writer
 * chains after such records.
 */
static void
test_unknown_members(void **state)
{
	static const struct {
		const char *name, *extra;
		int how;
		const char *want; /* NULL: verifies */
	} cases[] = {
		{ "unknown string", ",\"host_id\":\"x\"", FORGE_SIGNED, NULL },
		{ "unknown object and array",
		  ",\"session\":{\"id\":\"x\",\"n\":[1,2,{}]},\"explain\":null", FORGE_SIGNED,
		  NULL },
		{ "a later version", ",\"v\":2,\"domain_uuid\":\"x\"", FORGE_LEGACY, NULL },
		{ "version 0 (no v)", "", FORGE_LEGACY, NULL },
		{ "version 0, unknown member", ",\"x\":\"x\"", FORGE_LEGACY, NULL },
		{ "unknown string tampered", ",\"host_id\":\"x\"", FORGE_TAMPER,
		  "record 2 (line 2): signature does not verify" },
		{ "unknown object tampered", ",\"session\":{\"id\":\"x\"}", FORGE_TAMPER,
		  "record 2 (line 2): signature does not verify" },
		{ "version 0 tampered", ",\"x\":\"x\"", FORGE_LEGACY | FORGE_TAMPER,
		  "record 2 (line 2): signature does not verify" },
		{ "unknown member after sig", ",\"host_id\":\"x\"", FORGE_AFTER_SIG,
		  "record 2 (line 2): signature does not verify" },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sg_audit *a = NULL;
		struct sg_audit_event ev = { .event = SG_AUDIT_EVENT_VERDICT,
					     .verdict = "trusted" };
		struct sg_error err = { 0 };
		size_t count = 0;
		char head[SG_AUDIT_HEAD_HEX + 1];

		print_message("case %s\n", cases[i].name);
		unlink(f->log);
		TV_ASSERT_OK(sg_audit_open(f->crypto, f->log, f->key, NULL, &a, &err), &err);
		TV_ASSERT_OK(sg_audit_append(a, &ev, NULL, &err), &err);
		append_forged(f, cases[i].extra, cases[i].how);
		if (cases[i].want) {
			TV_ASSERT_ERR(sg_audit_verify(f->crypto, f->log, f->pub, NULL, &count, head,
						      &err),
				      &err, SG_E_MISMATCH);
			assert_string_equal(err.msg, cases[i].want);
			sg_audit_close(a);
			continue;
		}
		assert_verifies(f, 2);
		/* The writer chains to the forged record: a third record, still verifying. */
		TV_ASSERT_OK(sg_audit_checkpoint(a, NULL, &err), &err);
		sg_audit_close(a);
		assert_verifies(f, 3);
	}
}

/* What a tail case puts after the log's records. */
enum junk {
	JUNK_NONE,
	JUNK_TORN_SHORT,  /* the start of a record, no newline */
	JUNK_TORN_MAX,	  /* SG_AUDIT_LINE_MAX bytes, no newline: still a torn record */
	JUNK_OVER_MAX,	  /* SG_AUDIT_LINE_MAX + 1 bytes, no newline */
	JUNK_HUGE,	  /* 200,000 bytes, no newline (more than the writer reads) */
	JUNK_GARBAGE,	  /* a complete line that is no record */
	JUNK_LONG_RECORD, /* a complete line of SG_AUDIT_LINE_MAX + 1 bytes */
	JUNK_SEQ_NULL,	  /* a complete line with a seq, then a torn one */
};

static void
put_junk(const char *log, enum junk j)
{
	FILE *fp = fopen(log, "a");
	size_t n = 0;

	assert_non_null(fp);
	switch (j) {
	case JUNK_NONE: break;
	case JUNK_TORN_SHORT: fputs("{\"seq\":3,\"time\":\"2026-", fp); break;
	case JUNK_TORN_MAX: n = SG_AUDIT_LINE_MAX; break;
	case JUNK_OVER_MAX: n = SG_AUDIT_LINE_MAX + 1; break;
	case JUNK_HUGE: n = 200000; break;
	case JUNK_GARBAGE: fputs("this is not a record\n", fp); break;
	case JUNK_LONG_RECORD: n = SG_AUDIT_LINE_MAX + 1; break;
	case JUNK_SEQ_NULL: fputs("{\"seq\":41}\n{\"seq\":4", fp); break;
	}
	for (size_t i = 0; i < n; i++)
		fputc('x', fp);
	if (j == JUNK_LONG_RECORD)
		fputc('\n', fp);
	fclose(fp);
}

/*
 * Before it appends, the writer repairs a torn last line (cut back exactly
 * to the last newline) and refuses an end no record could be, leaving the
 * file as it is: for each, the outcome, the message and the file after.
 */
static void
test_tail_repair(void **state)
{
	static const char ends_in[] = " ends in 65537 bytes after its last newline: not a torn "
				      "record; the log is left as it is";
	static const struct {
		const char *name;
		size_t records; /* written before the junk */
		enum junk junk;
		int rc;
		const char *msg; /* the error; with @path, after "audit log 'PATH'" */
		bool path;
		unsigned long long seq; /* of the record appended, when rc == 0 */
	} cases[] = {
		{ "empty log", 0, JUNK_NONE, 0, NULL, false, 1 },
		{ "whole lines", 2, JUNK_NONE, 0, NULL, false, 3 },
		{ "torn short line", 2, JUNK_TORN_SHORT, 0, NULL, false, 3 },
		{ "only a torn line", 0, JUNK_TORN_SHORT, 0, NULL, false, 1 },
		{ "torn line of the bound", 1, JUNK_TORN_MAX, 0, NULL, false, 2 },
		{ "torn line of the bound, nothing before", 0, JUNK_TORN_MAX, 0, NULL, false, 1 },
		{ "a torn line after a short record", 0, JUNK_SEQ_NULL, 0, NULL, false, 42 },
		{ "one byte over the bound", 1, JUNK_OVER_MAX, SG_E_FORMAT, ends_in, true, 0 },
		{ "over the bound, nothing before", 0, JUNK_OVER_MAX, SG_E_FORMAT, ends_in, true,
		  0 },
		{ "more than the writer reads", 0, JUNK_HUGE, SG_E_FORMAT,
		  " ends in more than 131073 bytes after its last newline: not a torn record; the "
		  "log is left as it is",
		  true, 0 },
		{ "last line no record", 1, JUNK_GARBAGE, SG_E_FORMAT,
		  "audit log's last record is not a record", false, 0 },
		{ "last record too long", 1, JUNK_LONG_RECORD, SG_E_FORMAT,
		  "audit log's last record is longer than 65536 bytes", false, 0 },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sg_audit *a = NULL;
		struct sg_audit_event ev = { .event = SG_AUDIT_EVENT_VERDICT,
					     .verdict = "trusted" };
		struct sg_error err = { 0 };
		char prev[SG_AUDIT_HEAD_HEX + 1], want[512];
		size_t keep, before, after, nrec;
		uint8_t *old, *now;
		struct json_object *o;
		int rc;

		print_message("case %s\n", cases[i].name);
		unlink(f->log);
		TV_ASSERT_OK(sg_audit_open(f->crypto, f->log, f->key, NULL, &a, &err), &err);
		for (size_t k = 0; k < cases[i].records; k++)
			TV_ASSERT_OK(sg_audit_append(a, &ev, NULL, &err), &err);
		free(tv_read(f->log, &keep)); /* the whole lines */
		put_junk(f->log, cases[i].junk);
		if (cases[i].junk == JUNK_SEQ_NULL)
			keep += strlen("{\"seq\":41}\n");
		nrec = log_tail(f, prev); /* the hash of the last whole line */
		old = tv_read(f->log, &before);
		rc = sg_audit_append(a, &ev, NULL, &err);
		sg_audit_close(a);
		now = tv_read(f->log, &after);
		if (cases[i].rc) {
			TV_ASSERT_ERR(rc, &err, cases[i].rc);
			if (cases[i].path)
				snprintf(want, sizeof(want), "audit log '%s'%s", f->log,
					 cases[i].msg);
			else
				snprintf(want, sizeof(want), "%s", cases[i].msg);
			assert_string_equal(err.msg, want);
			assert_int_equal(after, before);
			assert_memory_equal(now, old, before);
		} else {
			TV_ASSERT_OK(rc, &err);
			/* Exactly the whole lines kept, then one new line. */
			assert_true(after > keep);
			assert_memory_equal(now, old, keep);
			assert_int_equal(log_tail(f, want), nrec + 1);
			assert_non_null(memchr(now + keep, '\n', after - keep));
			assert_ptr_equal(memchr(now + keep, '\n', after - keep), now + after - 1);
			o = record(f->log, nrec + 1);
			assert_int_equal(json_object_get_uint64(json_object_object_get(o, "seq")),
					 cases[i].seq);
			assert_string_equal(string_member(o, "prev"), prev);
			json_object_put(o);
			if (cases[i].junk != JUNK_SEQ_NULL)
				assert_verifies(f, nrec + 1);
		}
		free(old);
		free(now);
	}
}

enum field {
	F_REASON,
	F_GUEST,
	F_KEY,
	F_USER,
	F_HOST,
};

/*
 * Free text as a record holds it (docs/audit.md, "Bounds"): at most 1 KiB,
 * the marker included; a longer text keeps its first bytes, cut before a
 * UTF-8 character that would cross the cut (at most 3 bytes back), then
 * the marker. Checked on the rendered bytes, for each member of free text.
 */
static void
test_text_cut(void **state)
{
	static const struct {
		const char *name;
		enum field field;
		size_t len; /* of the text: 'a's ... */
		size_t at;  /* ... with @seq at this offset */
		const char *seq;
		long keep; /* bytes kept before the marker; -1: stored whole */
	} cases[] = {
		{ "empty", F_REASON, 0, 0, "", -1 },
		{ "one byte short", F_REASON, TEXT_MAX - 1, 0, "", -1 },
		{ "at the bound", F_REASON, TEXT_MAX, 0, "", -1 },
		{ "one byte over", F_REASON, TEXT_MAX + 1, 0, "", KEEP },
		{ "70,000 bytes", F_REASON, 70000, 0, "", KEEP },
		{ "2-byte character across the cut", F_REASON, 2048, KEEP - 1, "\xc3\xa9",
		  KEEP - 1 },
		{ "3-byte character across the cut", F_REASON, 2048, KEEP - 2, "\xe2\x82\xac",
		  KEEP - 2 },
		{ "4-byte character across the cut", F_REASON, 2048, KEEP - 1, "\xf0\x9f\x98\x80",
		  KEEP - 1 },
		{ "4-byte character, last byte at the cut", F_REASON, 2048, KEEP - 3,
		  "\xf0\x9f\x98\x80", KEEP - 3 },
		{ "4-byte character just before the cut", F_REASON, 2048, KEEP - 4,
		  "\xf0\x9f\x98\x80", KEEP },
		{ "continuation bytes only: 3 back at most", F_REASON, 2048, KEEP - 5,
		  "\x80\x80\x80\x80\x80\x80\x80\x80", KEEP - 3 },
		{ "multi-byte text at the bound", F_REASON, TEXT_MAX, TEXT_MAX - 2, "\xc3\xa9",
		  -1 },
		{ "guest", F_GUEST, 5000, 0, "", KEEP },
		{ "a key", F_KEY, TEXT_MAX + 1, 0, "", KEEP },
		{ "actor user", F_USER, 2000, 0, "", KEEP },
		{ "actor host", F_HOST, TEXT_MAX + 1, KEEP - 1, "\xc3\xa9", KEEP - 1 },
	};
	static const char *const members[] = {
		[F_REASON] = "\"reason\":\"", [F_GUEST] = "\"guest\":\"", [F_KEY] = "\"keys\":[\"",
		[F_USER] = "\"user\":\"",     [F_HOST] = "\"host\":\"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = malloc(cases[i].len + 1), *got = NULL, *v, *end;
		const char *keys[1] = { text };
		struct sg_audit_actor actor = { .uid = 1, .user = "u", .host = "h" };
		struct sg_audit_event ev = { .event = SG_AUDIT_EVENT_VERDICT,
					     .verdict = "mismatch" };
		struct sg_error err = { 0 };

		print_message("case %s\n", cases[i].name);
		assert_non_null(text);
		memset(text, 'a', cases[i].len);
		memcpy(text + cases[i].at, cases[i].seq, strlen(cases[i].seq));
		text[cases[i].len] = '\0';
		switch (cases[i].field) {
		case F_REASON: ev.reason = text; break;
		case F_GUEST: ev.guest = text; break;
		case F_KEY: ev.keys = keys, ev.nkeys = 1; break;
		case F_USER: actor.user = text; break;
		case F_HOST: actor.host = text; break;
		}
		TV_ASSERT_OK(sg_audit_render(&ev, &actor, 1, WHEN, H00, &got, &err), &err);
		assert_non_null(v = strstr(got, members[cases[i].field]));
		v += strlen(members[cases[i].field]);
		assert_non_null(end = strchr(v, '"'));
		if (cases[i].keep < 0) {
			assert_int_equal((size_t)(end - v), cases[i].len);
			assert_memory_equal(v, text, cases[i].len);
		} else {
			assert_int_equal((size_t)(end - v), (size_t)cases[i].keep + strlen(MARKER));
			assert_true((size_t)(end - v) <= TEXT_MAX);
			assert_memory_equal(v, text, (size_t)cases[i].keep);
			assert_memory_equal(v + cases[i].keep, MARKER, strlen(MARKER));
		}
		free(got);
		free(text);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_names),
		cmocka_unit_test(test_summary),
		cmocka_unit_test_setup_teardown(test_unknown_members, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail_repair, setup, teardown),
		cmocka_unit_test(test_render_exact),
		cmocka_unit_test(test_render_refused),
		cmocka_unit_test(test_text_cut),
		cmocka_unit_test_setup_teardown(test_written_is_rendered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_failure_each_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_none_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_reason_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation_utf8_boundary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_at_bound_and_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_record_refused, setup, teardown),
	};

	return tv_main(argc, argv, "audit", tests, sizeof(tests) / sizeof(tests[0]), NULL, 0);
}
