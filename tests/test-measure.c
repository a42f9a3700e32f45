/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * src/protocol/measure.c: LAUNCH_MEASURE (spec 2). MS1-MS5 and M1 from the
 * vectors README, TV1-TV3k from spec 13, with the TIK held by the file key
 * back end (written to a temp file, or read in place in the vectors group).
 */
#include <string.h>

#include "vectors.h"
#include "protocol/measure.h"
#include "key/key.h"

#define SEVCTL_TIK1 "sevctl/tests/data/measurement/tik1.bin"
#define TIK_SEVCTL "3569cf61a32a602b87185ac6e0f55913"
#define TIK_SPEC13 "000102030405060708090a0b0c0d0e0f"
#define NONCE_SEVCTL "b64:wxP6tRHCFrFQWxsuqZA8QA=="
#define NONCE_SPEC13 "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"

struct case_ms {
	const char *id;
	const char *tik_file; /* vectors-relative file holding the TIK, or NULL */
	const char *tik;      /* hex */
	uint8_t major, minor, build;
	uint32_t policy;
	const char *ld;		/* hex, or "b64:..." */
	const char *mnonce;	/* hex, or "b64:..." */
	const char *blob;	/* expected 48-byte blob, base64; or NULL */
	const char *meas;	/* expected measurement hex when there is no blob */
	const char *msg_prefix; /* expected first 8 message bytes, hex, or NULL */
};

static const struct case_ms cases[] = {
	{ "MS1", SEVCTL_TIK1, TIK_SEVCTL, 1, 40, 40, 0x03,
	  "b64:xkvRAfyaSizgonxAjZIAkR8TmolUabBKQKb6KJCDDSM=", NONCE_SEVCTL,
	  "lswbxWxI9gckya16JQvdFtpYmNO4b+3inAPpqsgoBI7DE/q1EcIWsVBbGy6pkDxA", NULL,
	  "0401282803000000" },
	{ "MS2", SEVCTL_TIK1, TIK_SEVCTL, 1, 40, 40, 0x03,
	  "2f6fc6065f4abc131eb4fb2b5090a542636eae84a94c0db0fdd5f405cb372ff5", NONCE_SEVCTL,
	  "oMDewIouJSpbpNRHj7Mk3p08H2dPZQdsZMU14qIymBnDE/q1EcIWsVBbGy6pkDxA", NULL, NULL },
	{ "MS3", SEVCTL_TIK1, TIK_SEVCTL, 1, 40, 40, 0x03,
	  "4b47fec6f851487c33714c8a00a832a1b705ad0a7cac4a647388eccfa9f0c570", NONCE_SEVCTL,
	  "h3auYbWQnVW7EGLWN4Hf9SN0oEYMPU2sK4bLnefWPwvDE/q1EcIWsVBbGy6pkDxA", NULL, NULL },
	{ "MS4", SEVCTL_TIK1, TIK_SEVCTL, 1, 49, 6, 0x05,
	  "847b5ab6db136ea67dc5a95478ebe7e5ebbe93e9e74bdb1284165f9007a4e367",
	  "2dbe959f5d3164db528c6480008509f2",
	  "/o0nzDKE5XgtVnUZWPhUea/WZYrTKLExR7KCwuMdbActvpWfXTFk21KMZIAAhQny", NULL,
	  "0401310605000000" },
	{ "MS5", NULL, "66320db73158a35a255d051758e95ed4", 0x00, 0x12, 0x0f, 0x00,
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	  "4fbe0bedbad6c86ae8f68971d103e554", NULL,
	  "6faab2daae389bcd3405a05d6cafe33c0414f7bedd0bae19ba5f38b7fd1664ea", "0400120f00000000" },
	{ "M1", SEVCTL_TIK1, TIK_SEVCTL, 1, 55, 21, 0x03,
	  "b157d97b1f69729514feb7f201d2cbe4957f23ab77920e361fe9f822ba49ca4c", NONCE_SEVCTL,
	  "ylRki++9gMncKZo24B0aWrR25xcqO/O/C5QgWqYjzOjDE/q1EcIWsVBbGy6pkDxA", NULL, NULL },
	{ "TV1", NULL, TIK_SPEC13, 0, 24, 15, 3,
	  "f2e01b2a910bf940bc877e47e66b7c3e0879a5bc3ee3c6263f8c1191f59f089e", NONCE_SPEC13,
	  "Jtkm6DPHOLtKnVthiMCUs4dyWKB2Kb5yGoM6nUd3nvqgoaKjpKWmp6ipqqusra6v", NULL,
	  "0400180f03000000" },
	{ "TV2", NULL, TIK_SPEC13, 0, 24, 15, 3,
	  "7f3e845ec8892052c54eb2e8700bf63f9e827cfab6c636f789ebe1968cda44f6", NONCE_SPEC13,
	  "8aqg6GI6ehleI6dN5f8gp5YBR+fpfVgsIpynh1ounnmgoaKjpKWmp6ipqqusra6v", NULL, NULL },
	{ "TV2b", NULL, TIK_SPEC13, 0, 24, 15, 3,
	  "b7009d16edda59830af26786c2182178a581b56d5b1d17d75fabd2a4de321916", NONCE_SPEC13,
	  "NVH7tC6Bi98gBuGcTAe5Um0jRQNR3sZYAuyRd7wGi3WgoaKjpKWmp6ipqqusra6v", NULL, NULL },
	{ "TV3", NULL, TIK_SPEC13, 0, 24, 15, 7,
	  "39edb06ce17127480f982b15f76eeef4af4c56ff42cf95fabf476709981cb239", NONCE_SPEC13,
	  "wwFH+LARKpueawD/K5fckKHatM8S1XZ3eU2u267aqh2goaKjpKWmp6ipqqusra6v", NULL,
	  "0400180f07000000" },
	{ "TV3k", NULL, TIK_SPEC13, 0, 24, 15, 7,
	  "60c2a9ac1c902143335113f4f68f4257f610ae4c6991eeccf27050f329833812", NONCE_SPEC13,
	  "2Thm6QTDJLFGSHhD3aRoIaMj2smr4mP67YvbeCFLmoagoaKjpKWmp6ipqqusra6v", NULL, NULL },
};

static void
decode(const char *s, uint8_t *out, size_t len)
{
	size_t n = !strncmp(s, "b64:", 4) ? tv_unb64(s + 4, out, len) : tv_unhex(s, out, len);

	assert_int_equal(n, len);
}

static void
test_measure(void **state)
{
	const struct case_ms *t = *state;
	struct sg_crypto *c = NULL;
	struct sg_key *tik = NULL;
	struct sg_error err = { 0 };
	struct sg_platform p = { t->major, t->minor, t->build, t->policy };
	uint8_t key[16], ld[32], nonce[16], want[32], msg[SG_MEASURE_MSG_LEN], ref[56];
	uint8_t got[32], bad[32], badmsg[SG_MEASURE_MSG_LEN], hmac[32];
	char *path;

	decode(t->tik, key, 16);
	decode(t->ld, ld, 32);
	decode(t->mnonce, nonce, 16);
	if (t->blob) {
		uint8_t blob[48];

		assert_int_equal(tv_unb64(t->blob, blob, sizeof(blob)), SG_MEASURE_BLOB_LEN);
		memcpy(want, blob, 32);
		assert_memory_equal(blob + 32, nonce, 16); /* blob = measurement || mnonce */
	} else {
		decode(t->meas, want, 32);
	}

	if (tv_group() == TV_GROUP_VECTORS) {
		path = tv_path(t->tik_file); /* the key file, read in place */
	} else {
		char name[64];

		snprintf(name, sizeof(name), "%s.tik", t->id);
		path = tv_tmp_write(name, key, sizeof(key));
		if (t->tik_file) { /* the tests/data copy holds the same bytes */
			char *copy = tv_path(t->tik_file);
			size_t len;
			uint8_t *b = tv_read(copy, &len);

			assert_int_equal(len, 16);
			assert_memory_equal(b, key, 16);
			free(b);
			free(copy);
		}
	}
	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	TV_ASSERT_OK(sg_key_open(c, path, SG_KEY_TIK, &tik, &err), &err);

	/* The 56-byte message, composed independently. */
	ref[0] = 0x04;
	ref[1] = t->major;
	ref[2] = t->minor;
	ref[3] = t->build;
	ref[4] = (uint8_t)t->policy;
	ref[5] = (uint8_t)(t->policy >> 8);
	ref[6] = (uint8_t)(t->policy >> 16);
	ref[7] = (uint8_t)(t->policy >> 24);
	memcpy(ref + 8, ld, 32);
	memcpy(ref + 40, nonce, 16);
	sg_measure_msg(&p, ld, nonce, msg);
	assert_memory_equal(msg, ref, sizeof(ref));
	if (t->msg_prefix) {
		uint8_t pre[8];

		tv_unhex(t->msg_prefix, pre, 8);
		assert_memory_equal(msg, pre, 8);
	}

	TV_ASSERT_OK(sg_measure_compute(tik, msg, got, &err), &err);
	assert_memory_equal(got, want, 32);
	tv_hmac_sha256(key, 16, msg, sizeof(msg), hmac);
	assert_memory_equal(hmac, want, 32);
	TV_ASSERT_OK(sg_measure_verify(tik, msg, want, &err), &err);

	/* Any flipped bit in the reported value, or in the launch digest, is a mismatch. */
	for (size_t bit = 0; bit < 256; bit += 37) {
		memcpy(bad, want, 32);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(sg_measure_verify(tik, msg, bad, &err), SG_E_MISMATCH);
	}
	memcpy(badmsg, msg, sizeof(msg));
	badmsg[8 + 31] ^= 0x80;
	assert_int_equal(sg_measure_verify(tik, badmsg, want, &err), SG_E_MISMATCH);
	badmsg[8 + 31] ^= 0x80;
	badmsg[55] ^= 0x01; /* the mnonce is covered too */
	assert_int_equal(sg_measure_verify(tik, badmsg, want, &err), SG_E_MISMATCH);

	sg_key_free(tik);
	sg_crypto_free(c);
	free(path);
}

/* A TEK cannot compute or verify a measurement. */
static void
test_tek_refused(void **state)
{
	struct sg_crypto *c = NULL;
	struct sg_key *tek = NULL;
	struct sg_error err = { 0 };
	uint8_t key[16] = { 0 }, msg[SG_MEASURE_MSG_LEN] = { 0 }, out[32];
	char *path = tv_tmp_write("tek-for-measure", key, sizeof(key));

	(void)state;
	TV_ASSERT_OK(sg_crypto_new(&c, &err), &err);
	TV_ASSERT_OK(sg_key_open(c, path, SG_KEY_TEK, &tek, &err), &err);
	memset(out, 0xee, sizeof(out));
	TV_ASSERT_ERR(sg_measure_compute(tek, msg, out, &err), &err, SG_E_INTERNAL);
	for (size_t i = 0; i < 32; i++)
		assert_int_equal(out[i], 0xee);
	sg_error_clear(&err);
	TV_ASSERT_ERR(sg_measure_verify(tek, msg, out, &err), &err, SG_E_INTERNAL);
	sg_key_free(tek);
	sg_crypto_free(c);
	free(path);
}

/* M1's launch digest is the SHA-256 of Debian's OVMF_CODE_4M.fd (read in place). */
static void
test_m1_firmware(void **state)
{
	char *path = tv_path("debian-ovmf/usr/share/OVMF/OVMF_CODE_4M.fd");
	size_t len;
	uint8_t *fw = tv_read(path, &len), got[32], want[32];

	(void)state;
	tv_sha256(fw, len, got);
	tv_unhex("b157d97b1f69729514feb7f201d2cbe4957f23ab77920e361fe9f822ba49ca4c", want, 32);
	assert_memory_equal(got, want, 32);
	free(fw);
	free(path);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest unit[SG_ELEMENTSOF(cases) + 1], vec[SG_ELEMENTSOF(cases) + 1];
	size_t n = 0, nv = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(cases); i++) {
		struct CMUnitTest row = { .name = cases[i].id,
					  .test_func = test_measure,
					  .initial_state = (void *)&cases[i] };

		unit[n++] = row;
		if (cases[i].tik_file)
			vec[nv++] = row;
	}
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_tek_refused);
	vec[nv++] = (struct CMUnitTest)cmocka_unit_test(test_m1_firmware);
	return tv_main(argc, argv, "measure", unit, n, vec, nv);
}
