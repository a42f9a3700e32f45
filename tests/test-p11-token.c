/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The token layer against an in-memory token (tests/fake-p11.c): one login and one index
 * read per token, a key imported later found by one search, a missing key not searched for
 * again within a second, recovery from every reset code (once: recovered; twice: the error),
 * stale handles, a key deleted under its user, threads across two tokens, and a module that
 * cannot lock for itself called one thread at a time.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "key/key.h"
#include "key/p11.h"
#include "vectors.h"

static void (*ctl)(const char *what, const char *name, unsigned long arg, int times);
static unsigned long (*calls)(const char *name);
static int (*max_concurrent)(void);
static char dir[] = "/tmp/sevgate-p11-token-XXXXXX";
static char pin_path[256], conf_path[256];
static struct sg_crypto *crypto;

static int
setup(void **state)
{
	(void)state;
	ctl("clear", NULL, 0, 0);
	ctl("cant-lock", NULL, 0, 0);
	for (unsigned i = 0; i < 100; i++) {
		char label[32];

		snprintf(label, sizeof(label), "g%03u-tik", i);
		ctl("add", label, i, 0);
		snprintf(label, sizeof(label), "h%03u-tik", i);
		ctl("add", label, 1000 + i, 1);
	}
	return 0;
}

static int
teardown(void **state)
{
	struct sg_error err = { 0 };

	(void)state;
	sg_key_shutdown();
	assert_int_equal(sg_key_set_config(NULL, &err), 0);
	return 0;
}

/* The URI of key @label on token fake@slot (module-name= when @by_name: sevgate.conf's). */
static void
uri_of(char *out, size_t size, unsigned slot, const char *label, bool by_name)
{
	if (by_name)
		snprintf(out, size,
			 "pkcs11:token=fake%u;object=%s;type=secret-key?module-name=fake&"
			 "pin-source=file:%s",
			 slot, label, pin_path);
	else
		snprintf(out, size,
			 "pkcs11:token=fake%u;object=%s;type=secret-key?module-path=%s&"
			 "pin-source=file:%s",
			 slot, label, FAKE_P11_MODULE, pin_path);
}

static int
open_key(unsigned slot, const char *label, bool by_name, struct sg_key **ret, struct sg_error *err)
{
	char uri[512];

	uri_of(uri, sizeof(uri), slot, label, by_name);
	return sg_key_open_ex(crypto, uri, SG_KEY_TIK, NULL, ret, err);
}

/* C_Verify of the fake token: a MAC starting 0xAA verifies. */
static int
verify(struct sg_key *k, bool good, struct sg_error *err)
{
	static const uint8_t msg[32] = "measurement";
	uint8_t mac[32] = { 0 };
	struct sg_iov iov = { msg, sizeof(msg) };

	mac[0] = good ? 0xAA : 0x00;
	return sg_key_hmac_verify(k, &iov, 1, mac, err);
}

static struct sg_key_token_stats
stats(void)
{
	struct sg_key_token_stats s;

	sg_key_token_stats(&s);
	return s;
}

static void
test_one_login_one_index(void **state)
{
	struct sg_error err = { 0 };
	struct sg_key_token_stats s;

	(void)state;
	for (unsigned i = 0; i < 100; i++) {
		struct sg_key *k = NULL;
		char label[32];

		snprintf(label, sizeof(label), "g%03u-tik", i);
		TV_ASSERT_OK(open_key(0, label, false, &k, &err), &err);
		TV_ASSERT_OK(verify(k, true, &err), &err);
		assert_int_equal(verify(k, false, &err), SG_E_MISMATCH);
		sg_key_free(k);
	}
	s = stats();
	assert_int_equal(s.tokens, 1);
	assert_int_equal(s.logins, 1);
	assert_int_equal(s.sessions_opened, 1);
	/* the first key by one search, then the whole token once */
	assert_int_equal(s.index_builds, 1);
	assert_int_equal(s.find_calls, 2);
	assert_int_equal(calls("C_FindObjectsInit"), 2);
	assert_int_equal(calls("C_Login"), 1);
	assert_int_equal(s.operations, 200);
	assert_int_equal(s.recoveries, 0);
}

static void
test_imported_later_and_missing(void **state)
{
	struct sg_error err = { 0 };
	struct sg_key *k = NULL;
	struct sg_key_token_stats s;

	(void)state;
	TV_ASSERT_OK(open_key(0, "g000-tik", false, &k, &err), &err);
	sg_key_free(k);
	TV_ASSERT_OK(open_key(0, "g001-tik", false, &k, &err), &err);
	sg_key_free(k);
	assert_int_equal(stats().find_calls, 2);
	/* another process imports a key: one targeted search finds it, and it is kept */
	ctl("add", "late-tik", 4242, 0);
	TV_ASSERT_OK(open_key(0, "late-tik", false, &k, &err), &err);
	TV_ASSERT_OK(verify(k, true, &err), &err);
	sg_key_free(k);
	TV_ASSERT_OK(open_key(0, "late-tik", false, &k, &err), &err);
	sg_key_free(k);
	s = stats();
	assert_int_equal(s.find_calls, 3);
	assert_int_equal(s.index_builds, 1);
	/* fifty guests naming a key that is not there: one search, not fifty */
	for (int i = 0; i < 50; i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(open_key(0, "nowhere-tik", false, &k, &err), SG_E_KEY);
		assert_non_null(strstr(err.msg, "matches 0 keys"));
	}
	s = stats();
	assert_int_equal(s.find_calls, 4);
	assert_int_equal(s.misses_limited, 49);
	/* a second later it is asked for again, and found once it exists */
	ctl("add", "nowhere-tik", 4343, 0);
	usleep(1100 * 1000);
	TV_ASSERT_OK(open_key(0, "nowhere-tik", false, &k, &err), &err);
	sg_key_free(k);
	assert_int_equal(stats().find_calls, 5);
}

/* The fake token's reset: sessions closed, logged out, every handle renumbered. */
static void
test_reset_under_a_key(void **state)
{
	struct sg_error err = { 0 };
	struct sg_key *k = NULL, *k2 = NULL;
	struct sg_key_token_stats s;

	(void)state;
	TV_ASSERT_OK(open_key(0, "g010-tik", false, &k, &err), &err);
	TV_ASSERT_OK(open_key(0, "g011-tik", false, &k2, &err), &err);
	TV_ASSERT_OK(verify(k, true, &err), &err);
	ctl("reset", NULL, 0, 0);
	TV_ASSERT_OK(verify(k, true, &err), &err);
	TV_ASSERT_OK(verify(k2, true, &err), &err);
	assert_int_equal(verify(k2, false, &err), SG_E_MISMATCH);
	s = stats();
	assert_int_equal(s.recoveries, 1);
	assert_int_equal(s.logins, 2);
	assert_int_equal(s.sessions_opened, 2);
	/* the index was full: it is read again once, for the handles of the new session */
	assert_int_equal(s.index_builds, 2);
	sg_key_free(k);
	sg_key_free(k2);
	TV_ASSERT_OK(open_key(0, "g012-tik", false, &k, &err), &err);
	TV_ASSERT_OK(verify(k, true, &err), &err);
	sg_key_free(k);
	assert_int_equal(stats().index_builds, 2);
}

static const struct {
	CK_RV rv;
	const char *name;
} reset_codes[] = {
	{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
	{ CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED" },
	{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
	{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
	{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
};

static void
test_each_code_once_then_twice(void **state)
{
	struct sg_error err = { 0 };
	struct sg_key *k = NULL;

	(void)state;
	TV_ASSERT_OK(open_key(0, "g020-tik", false, &k, &err), &err);
	for (size_t i = 0; i < SG_ELEMENTSOF(reset_codes); i++) {
		uint64_t before = stats().recoveries;
		char want[96];

		/* once: recovered, the verification goes through */
		ctl("fail", "C_VerifyInit", reset_codes[i].rv, 1);
		memset(&err, 0, sizeof(err));
		TV_ASSERT_OK(verify(k, true, &err), &err);
		assert_int_equal(stats().recoveries, before + 1);
		/* twice: the second failure is the error, named */
		ctl("fail", "C_VerifyInit", reset_codes[i].rv, 2);
		memset(&err, 0, sizeof(err));
		assert_int_equal(verify(k, true, &err), SG_E_TOKEN);
		snprintf(want, sizeof(want), "C_VerifyInit failed: %s", reset_codes[i].name);
		assert_non_null(strstr(err.msg, want));
		assert_int_equal(stats().recoveries, before + 2);
		/* and the token works again afterwards */
		memset(&err, 0, sizeof(err));
		TV_ASSERT_OK(verify(k, true, &err), &err);
		/* a failure that is not a reset is not retried */
		ctl("fail", "C_VerifyInit", CKR_DEVICE_ERROR, 1);
		memset(&err, 0, sizeof(err));
		assert_int_equal(verify(k, true, &err), SG_E_TOKEN);
		assert_string_equal(err.msg,
				    "token 'fake0': C_VerifyInit failed: CKR_DEVICE_ERROR");
		assert_int_equal(stats().recoveries, before + 2);
	}
	sg_key_free(k);
}

static void
test_stale_handle_and_deleted_key(void **state)
{
	struct sg_error err = { 0 };
	struct sg_key *k = NULL;
	uint64_t finds;

	(void)state;
	TV_ASSERT_OK(open_key(0, "g030-tik", false, &k, &err), &err);
	finds = stats().find_calls;
	/* a handle refused once and answering again is kept: no search */
	ctl("fail", "C_VerifyInit", CKR_KEY_HANDLE_INVALID, 1);
	TV_ASSERT_OK(verify(k, true, &err), &err);
	assert_int_equal(stats().recoveries, 0);
	assert_int_equal(stats().find_calls, finds);
	/* a handle the token no longer knows: the key is found again by ID, label and type */
	ctl("renumber", NULL, 0, 0);
	TV_ASSERT_OK(verify(k, true, &err), &err);
	assert_int_equal(stats().recoveries, 0);
	assert_int_equal(stats().find_calls, finds + 1);
	TV_ASSERT_OK(verify(k, true, &err), &err);
	assert_int_equal(stats().find_calls, finds + 1);
	/* the search that finds it again loses its session: recovered, and found */
	ctl("renumber", NULL, 0, 0);
	ctl("fail", "C_FindObjectsInit", CKR_SESSION_HANDLE_INVALID, 1);
	TV_ASSERT_OK(verify(k, true, &err), &err);
	assert_int_equal(stats().recoveries, 1);
	/* deleted by another process: one clear error */
	ctl("remove", "g030-tik", 0, 0);
	memset(&err, 0, sizeof(err));
	assert_int_equal(verify(k, true, &err), SG_E_KEY);
	assert_string_equal(err.msg, "key 'g030-tik' is no longer on token 'fake0'");
	sg_key_free(k);
}

static void
test_secret_release_after_reset(void **state)
{
	static const uint8_t iv[16], in[40];
	uint8_t out[40], mac[32];
	struct sg_iov iov = { in, sizeof(in) };
	struct sg_error err = { 0 };
	struct sg_key *tik = NULL, *tek = NULL;
	char uri[512];

	(void)state;
	ctl("add-aes", "g040-tek", 40, 0);
	TV_ASSERT_OK(open_key(0, "g040-tik", false, &tik, &err), &err);
	uri_of(uri, sizeof(uri), 0, "g040-tek", false);
	TV_ASSERT_OK(sg_key_open_ex(crypto, uri, SG_KEY_TEK, NULL, &tek, &err), &err);
	ctl("reset", NULL, 0, 0);
	TV_ASSERT_OK(sg_key_aes128ctr(tek, iv, in, sizeof(in), out, &err), &err);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0xAA);
	ctl("fail", "C_SignFinal", CKR_SESSION_CLOSED, 1);
	TV_ASSERT_OK(sg_key_hmac_sha256(tik, &iov, 1, mac, &err), &err);
	assert_int_equal(mac[31], 0xAA);
	assert_int_equal(stats().recoveries, 2);
	sg_key_free(tik);
	sg_key_free(tek);
}

static int write_file(const char *path, const char *text, mode_t mode);

/* A PIN file the token refuses after a reset is read, tried once, and not again until it changes. */
static void
test_refused_pin_not_retried(void **state)
{
	struct sg_error err = { 0 };
	struct sg_key *k = NULL;
	unsigned long logins;

	(void)state;
	TV_ASSERT_OK(open_key(0, "g050-tik", false, &k, &err), &err);
	assert_int_equal(write_file(pin_path, "0000\n", 0600), 0);
	ctl("reset", NULL, 0, 0);
	logins = calls("C_Login");
	assert_int_equal(verify(k, true, &err), SG_E_TOKEN);
	assert_string_equal(err.msg,
			    "token 'fake0': the session was lost (CKR_SESSION_HANDLE_INVALID) and "
			    "could not be opened again: token 'fake0': login failed: "
			    "CKR_PIN_INCORRECT");
	assert_int_equal(calls("C_Login"), logins + 1);
	for (int i = 0; i < 5; i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(verify(k, true, &err), SG_E_TOKEN);
		assert_non_null(strstr(err.msg, "is not tried again until its file changes"));
	}
	assert_int_equal(calls("C_Login"), logins + 1);
	/* nor by the guests that open keys on it: the same file, not tried */
	for (int i = 0; i < 5; i++) {
		memset(&err, 0, sizeof(err));
		struct sg_key *k2 = NULL;

		assert_int_equal(open_key(0, "g051-tik", false, &k2, &err), SG_E_TOKEN);
		assert_non_null(strstr(err.msg, "is not tried again until its file changes"));
	}
	assert_int_equal(calls("C_Login"), logins + 1);
	usleep(20 * 1000); /* a new mtime */
	assert_int_equal(write_file(pin_path, "1234\n", 0600), 0);
	memset(&err, 0, sizeof(err));
	TV_ASSERT_OK(verify(k, true, &err), &err);
	assert_int_equal(calls("C_Login"), logins + 2);
	sg_key_free(k);
}

/* A wrong PIN file from the start: one login for a batch of guests, not one each. */
static void
test_refused_pin_first_open(void **state)
{
	struct sg_error err = { 0 };
	struct sg_key *k = NULL;
	char uri[512];

	(void)state;
	assert_int_equal(write_file(pin_path, "0000\n", 0600), 0);
	for (int i = 0; i < 5; i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(open_key(0, "g060-tik", false, &k, &err), SG_E_TOKEN);
	}
	assert_int_equal(calls("C_Login"), 1);
	assert_non_null(strstr(err.msg, "is not tried again until its file changes"));
	/* a destroy that cannot log in says so; it is not "no such key" */
	uri_of(uri, sizeof(uri), 0, "g060-tik", false);
	memset(&err, 0, sizeof(err));
	assert_int_equal(sg_key_destroy(uri, NULL, &err), SG_E_TOKEN);
	assert_non_null(strstr(err.msg, "is not tried again until its file changes"));
	usleep(20 * 1000);
	assert_int_equal(write_file(pin_path, "1234\n", 0600), 0);
	memset(&err, 0, sizeof(err));
	TV_ASSERT_OK(open_key(0, "g060-tik", false, &k, &err), &err);
	TV_ASSERT_OK(verify(k, true, &err), &err);
	sg_key_free(k);
	assert_int_equal(calls("C_Login"), 2);
}

/* An HSM restart that puts its tokens in each other's slots: each entry finds its own again. */
static void
test_slots_swapped(void **state)
{
	struct sg_error err = { 0 };
	struct sg_key *g = NULL, *h = NULL;

	(void)state;
	TV_ASSERT_OK(open_key(0, "g070-tik", false, &g, &err), &err);
	TV_ASSERT_OK(open_key(1, "h070-tik", false, &h, &err), &err);
	ctl("swap-slots", NULL, 0, 0);
	/* h first: its new session takes the handle g's dead one had, in g's old slot */
	TV_ASSERT_OK(verify(h, true, &err), &err);
	TV_ASSERT_OK(verify(g, true, &err), &err);
	assert_int_equal(verify(h, false, &err), SG_E_MISMATCH);
	assert_int_equal(stats().recoveries, 2);
	assert_int_equal(stats().tokens, 2);
	/* each logged in once before and once after, on its own token */
	assert_int_equal(stats().logins, 4);
	sg_key_free(g);
	sg_key_free(h);
	/* and a key opened now is found on the token the URI names, in its new slot */
	TV_ASSERT_OK(open_key(0, "g071-tik", false, &g, &err), &err);
	TV_ASSERT_OK(verify(g, true, &err), &err);
	sg_key_free(g);
}

/* Two slots with tokens alike (a copied token keeps its serial): two entries, both reached. */
static void
test_twin_tokens(void **state)
{
	struct sg_error err = { 0 };
	struct sg_key *k = NULL;
	char uri[512];

	(void)state;
	ctl("twins", NULL, 1, 0);
	TV_ASSERT_OK(open_key(0, "g080-tik", false, &k, &err), &err);
	TV_ASSERT_OK(verify(k, true, &err), &err);
	sg_key_free(k);
	/* h080 is on the second slot's token, which also says it is fake0 */
	uri_of(uri, sizeof(uri), 0, "h080-tik", false);
	TV_ASSERT_OK(sg_key_open_ex(crypto, uri, SG_KEY_TIK, NULL, &k, &err), &err);
	TV_ASSERT_OK(verify(k, true, &err), &err);
	sg_key_free(k);
	assert_int_equal(stats().tokens, 2);
}

/* A key replaced under its user by one whose bytes could leave the token is not used. */
static void
test_weak_key_after_relookup(void **state)
{
	struct sg_error err = { 0 };
	struct sg_key *k = NULL, *k2 = NULL;

	(void)state;
	TV_ASSERT_OK(open_key(0, "g090-tik", false, &k, &err), &err);
	TV_ASSERT_OK(open_key(0, "g091-tik", false, &k2, &err), &err);
	ctl("weak", "g090-tik", 0, 0);
	ctl("fail", "C_VerifyInit", CKR_KEY_HANDLE_INVALID, 1);
	assert_int_equal(verify(k, true, &err), SG_E_KEY);
	assert_string_equal(err.msg, "key 'g090-tik' on token 'fake0' changed: it is not the key "
				     "that was opened");
	ctl("weak", "g091-tik", 0, 0);
	ctl("renumber", NULL, 0, 0);
	memset(&err, 0, sizeof(err));
	assert_int_equal(verify(k2, true, &err), SG_E_KEY);
	assert_string_equal(err.msg, "key 'g091-tik' on token 'fake0' changed: it is not the key "
				     "that was opened");
	sg_key_free(k);
	sg_key_free(k2);
}

struct worker {
	unsigned slot;
	unsigned first;
	bool by_name;
	int failures;
	struct sg_error why;
};

static void *
work(void *arg)
{
	struct worker *w = arg;

	for (unsigned round = 0; round < 40; round++) {
		struct sg_error err = { 0 };
		struct sg_key *k = NULL;
		char label[32];

		snprintf(label, sizeof(label), "%c%03u-tik", w->slot ? 'h' : 'g',
			 w->first + round % 10);
		if (open_key(w->slot, label, w->by_name, &k, &err) < 0 ||
		    verify(k, true, &err) < 0 || verify(k, false, &err) != SG_E_MISMATCH) {
			if (!w->failures++)
				w->why = err;
		}
		sg_key_free(k);
	}
	return NULL;
}

/* Eight threads over two tokens, a reset in the middle: every operation succeeds. */
static void
run_threads(bool by_name)
{
	pthread_t t[8];
	struct worker w[8];

	for (unsigned i = 0; i < 8; i++) {
		w[i] = (struct worker){ .slot = i % 2, .first = 10 * (i / 2), .by_name = by_name };
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	usleep(20 * 1000);
	ctl("reset", NULL, 0, 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (unsigned i = 0; i < 8; i++) {
		if (w[i].failures)
			fail_msg("worker %u: %d failures, first: %s", i, w[i].failures,
				 w[i].why.msg);
	}
	assert_int_equal(stats().tokens, 2);
	assert_int_equal(stats().operations, 8 * 40 * 2);
}

static void
test_threads_two_tokens(void **state)
{
	(void)state;
	run_threads(false);
	/* each token has its own lock: calls on the two tokens ran at the same time */
	assert_true(max_concurrent() >= 2);
}

static void
test_module_that_cannot_lock(void **state)
{
	struct sg_error err = { 0 };

	(void)state;
	ctl("cant-lock", NULL, 1, 0);
	TV_ASSERT_OK(sg_key_set_config(conf_path, &err), &err);
	run_threads(true);
	/* initialised without OS locking: never two calls into it at once */
	assert_int_equal(max_concurrent(), 1);
	assert_int_equal(calls("C_Initialize"), 2); /* CKR_CANT_LOCK, then without locking */
}

static int
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0 || chmod(path, mode) != 0)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct CMUnitTest unit[] = {
		cmocka_unit_test_setup_teardown(test_one_login_one_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_imported_later_and_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_under_a_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_each_code_once_then_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_handle_and_deleted_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_release_after_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_pin_not_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_pin_first_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slots_swapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_twin_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_weak_key_after_relookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_two_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_module_that_cannot_lock, setup, teardown),
	};
	struct sg_error err = { 0 };
	char conf[1024];
	void *fake;
	int r;

	/* The same loaded library p11-kit will use: its state is shared with this handle. */
	if (!(fake = dlopen(FAKE_P11_MODULE, RTLD_NOW)) || !(ctl = dlsym(fake, "fake_p11_ctl")) ||
	    !(calls = dlsym(fake, "fake_p11_calls")) ||
	    !(max_concurrent = dlsym(fake, "fake_p11_max_concurrent"))) {
		fprintf(stderr, "cannot load %s: %s\n", FAKE_P11_MODULE, dlerror());
		return 1;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(pin_path, sizeof(pin_path), "%s/pin", dir);
	snprintf(conf_path, sizeof(conf_path), "%s/sevgate.conf", dir);
	snprintf(conf, sizeof(conf),
		 "pkcs11-modules:\n  - {name: fake, path: '%s', init-args: 'x'}\n",
		 FAKE_P11_MODULE);
	if (write_file(pin_path, "1234\n", 0600) < 0 || write_file(conf_path, conf, 0600) < 0)
		return 1;
	sg_key_pkcs11_register(&sg_pkcs11_backend);
	if (sg_crypto_new(&crypto, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	r = tv_main(argc, argv, "p11-token", unit, SG_ELEMENTSOF(unit), NULL, 0);
	sg_crypto_free(crypto);
	unlink(pin_path);
	unlink(conf_path);
	rmdir(dir);
	return r;
}
