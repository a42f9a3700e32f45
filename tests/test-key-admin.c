/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * src/key/admin.c: token administration against a throw-away SoftHSM token
 * (group "token": exit 77 when SoftHSM is missing, a failure under CI=true),
 * and the label rule and URI helpers (group "unit", no token).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vectors.h"
#include "core/crypto.h"
#include "key/admin.h"
#include "key/key.h"

/* ---- sg_key_label_valid ---- */

struct case_label {
	const char *id;
	const char *label;
	bool ok;
};

static char label_128[SG_KEY_LABEL_MAX + 1], label_129[SG_KEY_LABEL_MAX + 2];

static const struct case_label label_cases[] = {
	{ "plain", "guest-1_a.b~c", true },
	{ "utf8", "g\xc3\xa4st-\xe2\x82\xac-\xf0\x9f\x94\x91", true },
	{ "max-length", label_128, true },
	{ "too-long", label_129, false },
	{ "semicolon", "a;b", false },
	{ "question-mark", "a?b", false },
	{ "percent", "a%41", false },
	{ "slash", "a/b", false },
	{ "space", "a b", false },
	{ "escape", "a\x1b[31mb", false },
	{ "del", "a\x7f", false },
	{ "c1-control", "a\xc2\x85", false },
	{ "bidi-override", "a\342\200\256b", false },
	{ "bidi-isolate", "a\342\201\246b", false },
	{ "overlong", "a\300\257b", false },
	{ "surrogate", "a\xed\xa0\x80", false },
	{ "truncated", "a\xe2\x82", false },
	{ "past-10ffff", "\xf4\x90\x80\x80", false },
};

static void
test_label(void **state)
{
	const struct case_label *t = *state;

	assert_int_equal(sg_key_label_valid(t->label), t->ok);
}

/* ---- URI helpers at the key layer ---- */

static void
test_uri_inspect(void **state)
{
	struct sg_key_uri_facts f;
	struct sg_error err = { 0 };

	(void)state;
	TV_ASSERT_OK(sg_key_uri_inspect("pkcs11:token=t?module-name=softhsm2&pin-source=file:/p",
					&f, &err),
		     &err);
	assert_false(f.has_pin_value);
	assert_false(f.any_unknown);
	assert_null(f.module_path);
	assert_string_equal(f.module_name, "softhsm2");
	assert_string_equal(f.pin_source, "file:/p");
	sg_key_uri_facts_done(&f);
	assert_null(f.module_name);

	TV_ASSERT_OK(sg_key_uri_inspect("pkcs11:token=t;frob=1?pin-value=1234", &f, &err), &err);
	assert_true(f.has_pin_value);
	assert_true(f.any_unknown);
	sg_key_uri_facts_done(&f);

	/* An invalid URI: SG_E_USAGE, the PIN not in the message, the facts zeroed. */
	TV_ASSERT_ERR(sg_key_uri_inspect("pkcs11:id=%zz?pin-value=5678", &f, &err), &err,
		      SG_E_USAGE);
	assert_null(strstr(err.msg, "5678"));
	assert_null(f.module_name);
	assert_false(f.has_pin_value);
}

static void
test_uri_redact(void **state)
{
	char *s;

	(void)state;
	s = sg_key_uri_redact("pkcs11:token=t;object=k?pin-value=9876&module-name=m");
	assert_non_null(s);
	assert_null(strstr(s, "9876"));
	assert_null(strstr(s, "pin-value"));
	assert_non_null(strstr(s, "object=k"));
	free(s);
	s = sg_key_uri_redact("pkcs11:token=t;object=k");
	assert_string_equal(s, "pkcs11:token=t;object=k");
	free(s);
}

static void
test_pin_value_refused(void **state)
{
	struct sg_error err = { 0 };

	(void)state;
	TV_ASSERT_ERR(sg_key_pin_value_refused(&err), &err, SG_E_INSECURE);
	assert_string_equal(err.msg, "pin-value in a URI on the command line would show in ps: use "
				     "pin-source=file:PATH in the URI or --pin-file PATH");
}

/* ---- against a SoftHSM token ---- */

#define TOKEN_LABEL "admin-test"

static char token_uri[1024];
static struct sg_crypto *crypto;
static const uint8_t tik1[SG_KEY_LEN] = "0123456789abcdef", tek1[SG_KEY_LEN] = "fedcba9876543210";

static char *
uri_with(const char *attrs)
{
	/* The token URI is "pkcs11:token=L?query": attributes go before the query. */
	const char *q = strchr(token_uri, '?');
	char *s;

	assert_non_null(q);
	assert_true(asprintf(&s, "%.*s;%s%s", (int)(q - token_uri), token_uri, attrs, q) > 0);
	return s;
}

static void
open_admin(struct sg_key_admin **a)
{
	struct sg_error err = { 0 };

	TV_ASSERT_OK(sg_key_admin_open(token_uri, NULL, true, a, &err), &err);
	assert_string_equal(sg_key_admin_token_label(*a), TOKEN_LABEL);
}

static int
cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct sg_key_object *)a)->label,
		      ((const struct sg_key_object *)b)->label);
}

/* The keys whose labels start with @prefix, sorted by label. */
static void
list(const char *prefix, struct sg_key_object_list *l)
{
	struct sg_error err = { 0 };

	TV_ASSERT_OK(sg_key_admin_list(token_uri, NULL, prefix, l, &err), &err);
	if (l->n > 1)
		qsort(l->obj, l->n, sizeof(l->obj[0]), cmp_label);
}

static void
test_create_pair(void **state)
{
	_cleanup_(sg_key_admin_freep) struct sg_key_admin *a = NULL;
	_cleanup_(sg_key_pair_done) struct sg_key_pair p = { 0 };
	_cleanup_(sg_key_object_list_done) struct sg_key_object_list l = { 0 };
	_cleanup_(sg_freep) char *want_tik = uri_with("object=p1-tik;type=secret-key");
	_cleanup_(sg_freep) char *want_tek = uri_with("object=p1-tek;type=secret-key");
	char idpct[3 * 16 + 1], attrs[3 * 16 + 32];
	struct sg_error err = { 0 };

	(void)state;
	open_admin(&a);
	TV_ASSERT_OK(sg_key_admin_create_pair(a, "p1", tik1, tek1, &p, &err), &err);
	assert_string_equal(p.uri_tik, want_tik);
	assert_string_equal(p.uri_tek, want_tek);
	/* SoftHSM keeps two keys with one CKA_ID: one --tk URI names the pair. */
	assert_true(p.shared_id);
	for (size_t i = 0; i < 16; i++)
		snprintf(idpct + 3 * i, 4, "%%%02x", p.id[i]);
	snprintf(attrs, sizeof(attrs), "id=%s;type=secret-key", idpct);
	{
		_cleanup_(sg_freep) char *want_tk = uri_with(attrs);

		assert_string_equal(p.uri_tk, want_tk);
	}
	/* SoftHSM's CKM_SHA256_HMAC minimum key size is 32: the TIK is stored zero-padded. */
	assert_int_equal(p.tik_stored_len, 32);

	TV_ASSERT_OK(sg_key_admin_verify_pair(crypto, p.uri_tik, p.uri_tek, NULL, tik1, tek1, &err),
		     &err);

	list("p1-", &l);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.obj[0].label, "p1-tek");
	assert_string_equal(l.obj[1].label, "p1-tik");
	for (size_t i = 0; i < 2; i++) {
		const struct sg_key_object *o = &l.obj[i];

		assert_string_equal(o->token, TOKEN_LABEL);
		assert_int_equal(o->id_len, 16);
		assert_memory_equal(o->id, p.id, 16);
		assert_true(o->sensitive);
		assert_false(o->extractable);
		assert_true(o->private_obj);
	}
	assert_int_equal(l.obj[0].type, SG_KEY_OBJ_AES);
	assert_string_equal(sg_key_object_type_name(l.obj[0].type), "aes");
	assert_int_equal(l.obj[0].value_len, 16);
	assert_int_equal(l.obj[1].type, SG_KEY_OBJ_GENERIC_SECRET);
	assert_string_equal(sg_key_object_type_name(l.obj[1].type), "generic-secret");
	assert_int_equal(l.obj[1].value_len, 32);
}

/* Keys that do not compute what the files do fail the read-back, with its one message. */
static void
test_verify_mismatch(void **state)
{
	_cleanup_(sg_freep) char *ut = uri_with("object=p1-tik;type=secret-key");
	_cleanup_(sg_freep) char *ue = uri_with("object=p1-tek;type=secret-key");
	uint8_t other[SG_KEY_LEN];
	struct sg_error err = { 0 };

	(void)state;
	memcpy(other, tik1, sizeof(other));
	other[0] ^= 1;
	TV_ASSERT_ERR(sg_key_admin_verify_pair(crypto, ut, ue, NULL, other, tek1, &err), &err,
		      SG_E_TOKEN);
	assert_string_equal(err.msg, "read-back check failed: the token's keys do not compute "
				     "what the files do");
	sg_error_clear(&err);
	TV_ASSERT_ERR(sg_key_admin_verify_pair(crypto, ut, ue, NULL, tik1, other, &err), &err,
		      SG_E_TOKEN);
}

/* A second pair under a label in use: created, but its URIs name two keys, so read-back fails. */
static void
test_duplicate_label(void **state)
{
	_cleanup_(sg_key_admin_freep) struct sg_key_admin *a = NULL;
	_cleanup_(sg_key_pair_done) struct sg_key_pair p = { 0 };
	_cleanup_(sg_key_object_list_done) struct sg_key_object_list l = { 0 };
	_cleanup_(sg_freep) char *shown = NULL;
	char want[1200];
	struct sg_error err = { 0 };

	(void)state;
	open_admin(&a);
	TV_ASSERT_OK(sg_key_admin_create_pair(a, "p1", tik1, tek1, &p, &err), &err);
	TV_ASSERT_ERR(
		sg_key_admin_verify_pair(crypto, p.uri_tik, p.uri_tek, NULL, tik1, tek1, &err),
		&err, SG_E_KEY);
	shown = sg_key_uri_redact(p.uri_tik);
	snprintf(want, sizeof(want), "key URI '%s' matches 2 keys, expected 1", shown);
	assert_string_equal(err.msg, want);
	sg_key_admin_destroy_pair(a, &p);
	list("p1-", &l);
	assert_int_equal(l.n, 2);
}

static void
test_bad_label(void **state)
{
	_cleanup_(sg_key_admin_freep) struct sg_key_admin *a = NULL;
	struct sg_key_pair p = { .uri_tik = (char *)"untouched" };
	struct sg_key_ec ec = { .uri = (char *)"untouched" };
	char *uri = (char *)"untouched";
	struct sg_error err = { 0 };

	(void)state;
	open_admin(&a);
	TV_ASSERT_ERR(sg_key_admin_create_pair(a, "a;b", tik1, tek1, &p, &err), &err, SG_E_USAGE);
	assert_string_equal(p.uri_tik, "untouched");
	sg_error_clear(&err);
	TV_ASSERT_ERR(sg_key_admin_store_data(a, "a b", (const uint8_t *)"x", 1, &uri, &err), &err,
		      SG_E_USAGE);
	assert_string_equal(uri, "untouched");
	sg_error_clear(&err);
	TV_ASSERT_ERR(sg_key_admin_generate_ec(a, "a/b", &ec, &err), &err, SG_E_USAGE);
	assert_string_equal(ec.uri, "untouched");
}

static void
test_store_data(void **state)
{
	_cleanup_(sg_key_admin_freep) struct sg_key_admin *a = NULL;
	_cleanup_(sg_freep) char *uri = NULL, *want = uri_with("object=s1;type=data");
	_cleanup_(sg_secmem_freep) struct sg_secmem *back = NULL;
	static const uint8_t secret[] = "disk passphrase\0with a NUL";
	char *none = NULL;
	struct sg_error err = { 0 };

	(void)state;
	open_admin(&a);
	TV_ASSERT_OK(sg_key_admin_store_data(a, "s1", secret, sizeof(secret), &uri, &err), &err);
	assert_string_equal(uri, want);
	TV_ASSERT_OK(sg_key_read_data(uri, NULL, &back, &err), &err);
	assert_int_equal(back->len, sizeof(secret));
	assert_memory_equal(back->data, secret, sizeof(secret));

	TV_ASSERT_ERR(sg_key_admin_store_data(a, "s2", secret, 0, &none, &err), &err, SG_E_USAGE);
	assert_null(none);
	sg_error_clear(&err);
	TV_ASSERT_ERR(sg_key_admin_store_data(a, "s2", secret, SG_KEY_DATA_MAX + 1, &none, &err),
		      &err, SG_E_USAGE);
	assert_null(none);
}

static void
test_generate_ec(void **state)
{
	_cleanup_(sg_key_admin_freep) struct sg_key_admin *a = NULL;
	_cleanup_(sg_key_ec_done) struct sg_key_ec ec = { 0 };
	_cleanup_(sg_freep) char *want = uri_with("object=audit;type=private");
	_cleanup_(sg_freep) char *pem = tv_tmp("audit.pem");
	_cleanup_(sg_freep) uint8_t *text = NULL;
	static const char head[] = "-----BEGIN PUBLIC KEY-----\n";
	size_t len = 0;
	struct sg_error err = { 0 };

	(void)state;
	open_admin(&a);
	TV_ASSERT_OK(sg_key_admin_generate_ec(a, "audit", &ec, &err), &err);
	assert_string_equal(ec.uri, want);
	assert_int_equal(ec.point[0], 0x04);
	/* The private half signs the audit log: P-256, CKA_SIGN. */
	TV_ASSERT_OK(sg_key_ecdsa_check(ec.uri, NULL, &err), &err);
	TV_ASSERT_OK(sg_key_write_pubkey_pem(pem, ec.point, &err), &err);
	text = tv_read(pem, &len);
	assert_true(len > sizeof(head));
	assert_memory_equal(text, head, sizeof(head) - 1);

	/* A point that is not on P-256 is refused before any file is written. */
	{
		uint8_t bad[65] = { 0x04 };
		_cleanup_(sg_freep) char *p2 = tv_tmp("bad.pem");

		TV_ASSERT_ERR(sg_key_write_pubkey_pem(p2, bad, &err), &err, SG_E_CRYPTO);
		assert_string_equal(err.msg, "the token's public key is not a P-256 point");
		assert_false(tv_exists(p2));
	}
	sg_error_clear(&err);
	TV_ASSERT_ERR(sg_key_write_pubkey_pem("/nonexistent/dir/a.pem", ec.point, &err), &err,
		      SG_E_IO);
}

struct deleted {
	char labels[4][SG_KEY_LABEL_MAX + 1];
	size_t n;
};

static int
delete_one(void *ctx, const struct sg_key_object *o, struct sg_error *err)
{
	struct deleted *d = ctx;
	int r;

	if ((r = sg_key_admin_delete_object(o, err)) < 0)
		return r;
	assert_true(d->n < SG_ELEMENTSOF(d->labels));
	strcpy(d->labels[d->n++], o->label);
	return 0;
}

static int
delete_one_quiet(void *ctx, const struct sg_key_object *o, struct sg_error *err)
{
	(void)ctx;
	return sg_key_admin_delete_object(o, err);
}

static int
stop_walk(void *ctx, const struct sg_key_object *o, struct sg_error *err)
{
	(void)ctx;
	return sg_error_set(err, SG_E_INTERNAL, "stop at '%s'", o->label);
}

static void
test_delete(void **state)
{
	_cleanup_(sg_key_object_list_done) struct sg_key_object_list l = { 0 }, after = { 0 };
	struct deleted d = { .n = 0 };
	struct sg_error err = { 0 };

	(void)state;
	/* A callback's error ends the walk and is its result. */
	TV_ASSERT_ERR(sg_key_admin_walk(token_uri, NULL, 0, "p1-", stop_walk, NULL, &err), &err,
		      SG_E_INTERNAL);
	assert_true(!strcmp(err.msg, "stop at 'p1-tek'") || !strcmp(err.msg, "stop at 'p1-tik'"));
	sg_error_clear(&err);

	/* Counting only, read-only. */
	assert_int_equal(sg_key_admin_walk(token_uri, NULL, 0, "p1-", NULL, NULL, &err), 2);
	assert_int_equal(sg_key_admin_walk(token_uri, NULL, 0, "nomatch-", NULL, NULL, &err), 0);

	list("p1-", &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(
		sg_key_admin_walk(token_uri, NULL, SG_KEY_WALK_RW, "p1-", delete_one, &d, &err), 2);
	assert_int_equal(d.n, 2);
	list("p1-", &after);
	assert_int_equal(after.n, 0);

	/* The object is gone: deleting it again names it and the CKR_* code. */
	TV_ASSERT_ERR(sg_key_admin_delete_object(&l.obj[1], &err), &err, SG_E_TOKEN);
	assert_string_equal(err.msg, "token '" TOKEN_LABEL
				     "': deleting 'p1-tik' failed: CKR_OBJECT_HANDLE_INVALID");
}

/* Administration while another thread uses a token key: both go one at a time. */
struct hammer {
	struct sg_key *tik;
	int failures, runs;
	volatile int stop;
	char msg[SG_ERROR_MSG_MAX];
};

static void *
hammer_run(void *arg)
{
	struct hammer *h = arg;
	static const uint8_t data[64] = "concurrent";
	struct sg_iov iov = { data, sizeof(data) };
	uint8_t mac[SG_SHA256_LEN], want[SG_SHA256_LEN];

	tv_hmac_sha256(tik1, sizeof(tik1), data, sizeof(data), want);
	while (!h->stop || h->runs < 50) {
		struct sg_error err = { 0 };

		h->runs++;
		if (sg_key_hmac_sha256(h->tik, &iov, 1, mac, &err) < 0 ||
		    memcmp(mac, want, sizeof(mac))) {
			if (!h->failures++)
				snprintf(h->msg, sizeof(h->msg), "%s", err.msg);
		}
	}
	return NULL;
}

static void
test_concurrent(void **state)
{
	_cleanup_(sg_key_admin_freep) struct sg_key_admin *a = NULL;
	_cleanup_(sg_key_pair_done) struct sg_key_pair p = { 0 };
	_cleanup_(sg_freep) char *ut = NULL;
	struct hammer h = { 0 };
	struct sg_error err = { 0 };
	pthread_t th;

	(void)state;
	open_admin(&a);
	TV_ASSERT_OK(sg_key_admin_create_pair(a, "c0", tik1, tek1, &p, &err), &err);
	TV_ASSERT_OK(sg_key_open_ex(crypto, p.uri_tik, SG_KEY_TIK, NULL, &h.tik, &err), &err);
	assert_int_equal(pthread_create(&th, NULL, hammer_run, &h), 0);
	for (int i = 0; i < 20; i++) {
		_cleanup_(sg_key_pair_done) struct sg_key_pair q = { 0 };
		_cleanup_(sg_key_object_list_done) struct sg_key_object_list l = { 0 };
		char label[16];

		snprintf(label, sizeof(label), "c%d", i + 1);
		TV_ASSERT_OK(sg_key_admin_create_pair(a, label, tik1, tek1, &q, &err), &err);
		list("c", &l);
		assert_int_equal(l.n, 4);
		assert_int_equal(sg_key_admin_walk(token_uri, NULL, SG_KEY_WALK_RW, label,
						   delete_one_quiet, NULL, &err),
				 2);
	}
	h.stop = 1;
	assert_int_equal(pthread_join(th, NULL), 0);
	if (h.failures)
		print_error("%d of %d HMACs failed: %s\n", h.failures, h.runs, h.msg);
	assert_int_equal(h.failures, 0);
	sg_key_free(h.tik);
	sg_key_admin_destroy_pair(a, &p);
}

static void
test_missing(void **state)
{
	_cleanup_(sg_freep) char *gone = uri_with("object=nosuch;type=data");
	_cleanup_(sg_freep) char *shown = sg_key_uri_redact(gone);
	_cleanup_(sg_secmem_freep) struct sg_secmem *m = NULL;
	struct sg_key_admin *a = NULL;
	char want[1200];
	struct sg_error err = { 0 };

	(void)state;
	TV_ASSERT_ERR(sg_key_read_data(gone, NULL, &m, &err), &err, SG_E_KEY);
	snprintf(want, sizeof(want), "secret URI '%s' matches 0 data objects, expected 1", shown);
	assert_string_equal(err.msg, want);
	assert_null(m);

	/* The same module, a token label it does not have. */
	{
		_cleanup_(sg_freep) char *none = NULL;

		assert_true(asprintf(&none, "pkcs11:token=no-such-token%s",
				     strchr(token_uri, '?')) > 0);
		snprintf(want, sizeof(want), "no PKCS#11 token matches '%s'", none);
		sg_error_clear(&err);
		TV_ASSERT_ERR(sg_key_admin_open(none, NULL, true, &a, &err), &err, SG_E_TOKEN);
		assert_string_equal(err.msg, want);
		assert_null(a);
	}

	/* A pin-value on the command line is refused, whatever the token. */
	sg_error_clear(&err);
	TV_ASSERT_ERR(sg_key_admin_open("pkcs11:token=t?pin-value=4321", NULL, true, &a, &err),
		      &err, SG_E_INSECURE);
	assert_null(strstr(err.msg, "4321"));
	assert_null(a);
}

/* Create the token with hsm/softhsm-token.sh: 0, 77 (SoftHSM missing) or 1. */
static int
token_setup(void)
{
	_cleanup_(sg_freep) char *cmd = NULL;
	char line[1024];
	const char *ci = getenv("CI");
	bool in_ci = ci && !strcmp(ci, "true");
	FILE *p;
	int st;

	assert_true(asprintf(&cmd, "%s '%s/hsm' " TOKEN_LABEL, SEVGATE_HSM_SCRIPT, tv_tmpdir()) >
		    0);
	if (!(p = popen(cmd, "r")))
		return 1;
	if (!fgets(line, sizeof(line), p) || strncmp(line, "export SOFTHSM2_CONF=", 21) ||
	    !fgets(token_uri, sizeof(token_uri), p)) {
		st = pclose(p);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
			fprintf(stderr, "SoftHSM not installed: %s\n",
				in_ci ? "failing, because CI=true" : "skipping");
			return in_ci ? 1 : 77;
		}
		fprintf(stderr, "%s failed\n", SEVGATE_HSM_SCRIPT);
		return 1;
	}
	pclose(p);
	line[strcspn(line, "\n")] = '\0';
	token_uri[strcspn(token_uri, "\n")] = '\0';
	setenv("SOFTHSM2_CONF", line + 21, 1);
	return 0;
}

int
main(int argc, char **argv)
{
	struct CMUnitTest unit[SG_ELEMENTSOF(label_cases) + 3];
	static const struct CMUnitTest token[] = {
		cmocka_unit_test(test_create_pair),	cmocka_unit_test(test_verify_mismatch),
		cmocka_unit_test(test_duplicate_label), cmocka_unit_test(test_bad_label),
		cmocka_unit_test(test_store_data),	cmocka_unit_test(test_generate_ec),
		cmocka_unit_test(test_delete),		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_missing),
	};
	struct sg_error err = { 0 };
	size_t n = 0;
	int r;

	memset(label_128, 'a', SG_KEY_LABEL_MAX);
	memset(label_129, 'a', SG_KEY_LABEL_MAX + 1);
	if (argc > 1 && !strcmp(argv[1], "token")) {
		if ((r = token_setup()) != 0)
			return r;
		sg_key_pkcs11_register(&sg_pkcs11_backend);
		if (sg_crypto_new(&crypto, &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		r = tv_run("key-admin-token", token, SG_ELEMENTSOF(token));
		sg_crypto_free(crypto);
		sg_key_shutdown();
		return r;
	}
	for (size_t i = 0; i < SG_ELEMENTSOF(label_cases); i++)
		unit[n++] = ROW(test_label, label_cases, i);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_uri_inspect);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_uri_redact);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_pin_value_refused);
	return tv_main(argc, argv, "key-admin", unit, n, NULL, 0);
}
