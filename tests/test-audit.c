/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/audit/audit.c: record bounds (free text cut to 1 KiB, no line over the reader's bound). */
#include <json-c/json.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vectors.h"
#include "audit/audit.h"

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

/*
 * A record whose line would exceed the reader's bound (here: many long key
 * names of control bytes, each escaped 6-fold) is an error: nothing is
 * written, the log stays as it was and still takes the next record.
 */
static void
test_oversize_record_refused(void **state)
{
	struct fixture *f = *state;
	struct sg_audit *a = NULL;
	struct sg_error err = { 0 };
	enum {
		NKEYS = 40
	};
	char key[TEXT_MAX + 1];
	const char *keys[NKEYS];
	struct sg_audit_event ev = { .event = SG_AUDIT_EVENT_RELEASE_INTENT,
				     .verdict = "trusted",
				     .keys = keys,
				     .nkeys = NKEYS };
	struct stat st1, st2;
	int r;

	memset(key, 0x01, TEXT_MAX);
	key[TEXT_MAX] = '\0';
	for (size_t i = 0; i < NKEYS; i++)
		keys[i] = key;
	TV_ASSERT_OK(sg_audit_open(f->crypto, f->log, f->key, NULL, &a, &err), &err);
	TV_ASSERT_OK(sg_audit_checkpoint(a, NULL, &err), &err);
	assert_int_equal(stat(f->log, &st1), 0);
	r = sg_audit_append(a, &ev, NULL, &err);
	TV_ASSERT_ERR(r, &err, SG_E_LIMIT);
	assert_non_null(strstr(err.msg, "65536"));
	assert_int_equal(stat(f->log, &st2), 0);
	assert_int_equal(st2.st_size, st1.st_size);
	sg_error_clear(&err);
	TV_ASSERT_OK(sg_audit_checkpoint(a, NULL, &err), &err);
	sg_audit_close(a);
	assert_verifies(f, 2);
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

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_names),
		cmocka_unit_test(test_summary),
		cmocka_unit_test_setup_teardown(test_group_failure_each_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_none_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_reason_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation_utf8_boundary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_at_bound_and_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_record_refused, setup, teardown),
	};

	return tv_main(argc, argv, "audit", tests, sizeof(tests) / sizeof(tests[0]), NULL, 0);
}
