/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Why `sevgate keys import` may store the TIK zero-padded: HMAC pads any
 * key shorter than its 64-byte block with zeros, so HMAC(TIK, m) equals
 * HMAC(TIK || 0^n, m) for every n up to 48. Checked on the spec vector and
 * on random keys and messages, at every padded length.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/crypto.h"
#include "util/encode.h"
#include "vectors.h"

static void
check_all_lengths(struct sg_crypto *c, const uint8_t tik[16], const uint8_t *msg, size_t len)
{
	uint8_t key[64] = { 0 }, want[32], got[32];
	struct sg_iov iov = { msg, len };
	struct sg_error err = { 0 };

	memcpy(key, tik, 16);
	TV_ASSERT_OK(sg_crypto_hmac_sha256(c, key, 16, &iov, 1, want, &err), &err);
	for (size_t n = 17; n <= 64; n++) {
		TV_ASSERT_OK(sg_crypto_hmac_sha256(c, key, n, &iov, 1, got, &err), &err);
		assert_memory_equal(want, got, 32);
	}
	/* A non-zero pad byte changes the MAC: the equality is the padding's, not chance. */
	key[16] = 1;
	TV_ASSERT_OK(sg_crypto_hmac_sha256(c, key, 32, &iov, 1, got, &err), &err);
	assert_memory_not_equal(want, got, 32);
}

static void
test_spec_vector(void **state)
{
	/* Spec section 13 TV1: TIK 00..0f over the 56-byte LAUNCH_MEASURE message. */
	static const char msg_hex[] =
		"0400180f03000000f2e01b2a910bf940bc877e47e66b7c3e0879a5bc3ee3c6"
		"263f8c1191f59f089ea0a1a2a3a4a5a6a7a8a9aaabacadaeaf";
	uint8_t tik[16], msg[56], key[32] = { 0 }, got[32];
	struct sg_crypto *c = NULL;
	struct sg_error err = { 0 };
	struct sg_iov iov = { msg, sizeof(msg) };
	static const uint8_t want[8] = { 0x26, 0xd9, 0x26, 0xe8, 0x33, 0xc7, 0x38, 0xbb };

	(void)state;
	for (int i = 0; i < 16; i++)
		tik[i] = (uint8_t)i;
	assert_int_equal(sg_hex_decode(msg_hex, msg, sizeof(msg), &err), 0);
	assert_int_equal(sg_crypto_new(&c, &err), 0);
	memcpy(key, tik, 16);
	/* The 32-byte padded key reproduces the published measurement (base64 Jtkm6DPH...). */
	TV_ASSERT_OK(sg_crypto_hmac_sha256(c, key, 32, &iov, 1, got, &err), &err);
	assert_memory_equal(got, want, sizeof(want));
	check_all_lengths(c, tik, msg, sizeof(msg));
	sg_crypto_free(c);
}

static void
test_random(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_error err = { 0 };
	uint8_t tik[16], msg[300];

	(void)state;
	assert_int_equal(sg_crypto_new(&c, &err), 0);
	for (int round = 0; round < 50; round++) {
		assert_int_equal(sg_random_bytes(tik, sizeof(tik), &err), 0);
		assert_int_equal(sg_random_bytes(msg, sizeof(msg), &err), 0);
		check_all_lengths(c, tik, msg, (size_t)round * 6);
	}
	sg_crypto_free(c);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_vector),
		cmocka_unit_test(test_random),
	};

	return tv_main(argc, argv, "tikpad", tests, SG_ELEMENTSOF(tests), NULL, 0);
}
