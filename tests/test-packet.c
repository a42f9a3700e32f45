/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * src/protocol/packet.c: the LAUNCH_SECRET packet (spec 5.3). SB1-SB4 from the
 * vectors README (sevctl, ALIGN16 padding) and the spec 13 secret vector
 * (libvirt padding), byte-exact; then open/tamper round trips.
 */
#include <string.h>

#include "vectors.h"
#include "protocol/packet.h"
#include "core/secret.h"
#include "key/key.h"
#include "util/cursor.h"

#define SECRET_DIR "sevctl/tests/data/secret/"
#define SB_IV "b64:rFR07U3TLH2YnsUj2SVZ7A=="
#define SB_BLOB "TLeA7607lZQntLjRY1/i+sbtdSZ+75zxpz4Px9hzpBLwItF5Q2o4prA++3ZZv9ZS"
#define SB_TIK "c6d5a9956133050912b24bbe5c372686"
#define SB_TEK "52a869b79ab9c13bb6a92b0561619cb3"

struct item {
	const char *guid;
	const char *text; /* inline data, or NULL */
	const char *file; /* vectors-relative data file */
};

struct case_pkt {
	const char *id;
	const char *tik, *tek;		 /* hex */
	const char *tik_file, *tek_file; /* vectors-relative key files, or NULL */
	const char *iv;			 /* hex or "b64:..." */
	const char *blob; /* launch-measure blob (base64); MAC uses its first 32 bytes */
	struct item items[2];
	size_t n;
	enum sg_secret_pad pad;
	const char *header;	    /* base64 */
	const char *payload;	    /* base64, or NULL */
	const char *payload_sha256; /* when payload is NULL */
	size_t payload_len;
	const char *mac; /* hex, or NULL */
};

static const struct case_pkt cases[] = {
	{ "SB1",
	  SB_TIK,
	  SB_TEK,
	  SECRET_DIR "tik1.bin",
	  SECRET_DIR "tek1.bin",
	  SB_IV,
	  SB_BLOB,
	  { { "736869e5-84f0-4973-92ec-06879ce3da0b", NULL, SECRET_DIR "secret1.txt" } },
	  1,
	  SG_SECRET_PAD_ALIGN16,
	  "AAAAAKxUdO1N0yx9mJ7FI9klWey8FSzeYQ4X8K71VzNKLU/KQsIsQxLjtbhaPUewqshX5Q==",
	  "0U3e5PcXv0UW+H4tSBFKOdCYfKE1+j38Bc2fuO16mYiyI+sWx7INfn+lgYj56GL12yyinDa+lVfCCwD/2w5cPA==",
	  NULL,
	  64,
	  NULL },
	{ "SB2",
	  SB_TIK,
	  SB_TEK,
	  SECRET_DIR "tik1.bin",
	  SECRET_DIR "tek1.bin",
	  SB_IV,
	  SB_BLOB,
	  { { "736869e5-84f0-4973-92ec-06879ce3da0b", NULL, SECRET_DIR "secret1.txt" },
	    { "736869e5-aaaa-4973-92ec-06879ce3da0b", NULL, SECRET_DIR "secret2.txt" } },
	  2,
	  SG_SECRET_PAD_ALIGN16,
	  "AAAAAKxUdO1N0yx9mJ7FI9klWeyZ3r0dOEKHUOhIRqzGYYvTJgdMtBPL1nK6GD9aGET7Ng==",
	  "0U3e5PcXv0UW+H4tSBFKObWYfKE1+j38Bc2fuO16mYiyI+sWx7INfn+lgYj56GL12yyinDa+lVfCC+WWs332lpLN"
	  "UX1ZI3YK7vYgtys4X+uGxEIlkIQ90v8/w8ZFmQMe",
	  NULL,
	  96,
	  NULL },
	{ "SB3",
	  SB_TIK,
	  SB_TEK,
	  SECRET_DIR "tik1.bin",
	  SECRET_DIR "tek1.bin",
	  SB_IV,
	  SB_BLOB,
	  { { "23058844-597b-42fb-8259-a0f5d9d495af", NULL, SECRET_DIR "secret3.txt" } },
	  1,
	  SG_SECRET_PAD_ALIGN16,
	  "AAAAAKxUdO1N0yx9mJ7FI9klWewswO/9TOPyPvawEb9qDVnyPNwOrXhXM89aWkci5ZxQHg==",
	  NULL,
	  "c5e0ced3c9c3001185d63b717ccb12111727f5d130e0e9e42b5a51232928bd7c",
	  16384,
	  NULL },
	{ "SB4",
	  SB_TIK,
	  SB_TEK,
	  SECRET_DIR "tik1.bin",
	  SECRET_DIR "tek1.bin",
	  SB_IV,
	  SB_BLOB,
	  { { "23058844-597b-42fb-8259-a0f5d9d495af", NULL, SECRET_DIR "secret4.txt" } },
	  1,
	  SG_SECRET_PAD_ALIGN16,
	  "AAAAAKxUdO1N0yx9mJ7FI9klWeyAU4oKySAHkKAz3gcmrUvS6dZn89VBohN0WsZ9SGBMUA==",
	  NULL,
	  "fe10d1011fcd7bbfb21cc72764e5d0d4f11995f8dcf36bb5f1c724e3f5d0470c",
	  16384,
	  NULL },
	{ "spec13-secret",
	  "000102030405060708090a0b0c0d0e0f",
	  "101112131415161718191a1b1c1d1e1f",
	  NULL,
	  NULL,
	  "404142434445464748494a4b4c4d4e4f",
	  "Jtkm6DPHOLtKnVthiMCUs4dyWKB2Kb5yGoM6nUd3nvqgoaKjpKWmp6ipqqusra6v",
	  { { "luks-key", "hunter2", NULL } },
	  1,
	  SG_SECRET_PAD_LIBVIRT,
	  "AAAAAEBBQkNERUZHSElKS0xNTk+XLEg6t73UNReUKG4IViCgCPPl+gb/QzkUgWxVs+/zVQ==",
	  "AL6trjC1iOR6h35gbJgneRBU4zMe7m7B/BTpWCgSGJ4Zhqf3HMjXySfxZqYjSONu",
	  NULL,
	  48,
	  "972c483ab7bdd4351794286e085620a008f3e5fa06ff433914816c55b3eff355" },
};

static void
decode(const char *s, uint8_t *out, size_t len)
{
	size_t n = !strncmp(s, "b64:", 4) ? tv_unb64(s + 4, out, len) : tv_unhex(s, out, len);

	assert_int_equal(n, len);
}

struct keys {
	struct sg_crypto *c;
	struct sg_key *tik, *tek;
	uint8_t tik_bytes[16], tek_bytes[16];
};

static char *
key_file(const char *id, const char *suffix, const char *rel, const uint8_t bytes[16])
{
	char name[64];

	if (rel) { /* tests/data copy in the unit group, the vector in place otherwise */
		char *p = tv_path(rel);
		size_t len;
		uint8_t *b = tv_read(p, &len);

		assert_int_equal(len, 16);
		assert_memory_equal(b, bytes, 16);
		free(b);
		return p;
	}
	snprintf(name, sizeof(name), "%s.%s", id, suffix);
	return tv_tmp_write(name, bytes, 16);
}

static void
keys_open(struct keys *k, const char *id, const char *tik, const char *tek, const char *tik_file,
	  const char *tek_file)
{
	struct sg_error err = { 0 };
	char *ptik, *ptek;

	decode(tik, k->tik_bytes, 16);
	decode(tek, k->tek_bytes, 16);
	ptik = key_file(id, "tik", tik_file, k->tik_bytes);
	ptek = key_file(id, "tek", tek_file, k->tek_bytes);
	TV_ASSERT_OK(sg_crypto_new(&k->c, &err), &err);
	TV_ASSERT_OK(sg_key_open(k->c, ptik, SG_KEY_TIK, &k->tik, &err), &err);
	TV_ASSERT_OK(sg_key_open(k->c, ptek, SG_KEY_TEK, &k->tek, &err), &err);
	free(ptik);
	free(ptek);
}

static void
keys_close(struct keys *k)
{
	sg_key_free(k->tik);
	sg_key_free(k->tek);
	sg_crypto_free(k->c);
}

/* Open must fail with @want and leave its output alone. */
static void
open_fails(struct keys *k, const uint8_t *hdr, size_t hlen, const uint8_t *ct, size_t len,
	   const uint8_t meas[32], int want)
{
	struct sg_error err = { 0 };
	struct sg_secmem *out = (struct sg_secmem *)0x1;

	TV_ASSERT_ERR(sg_packet_open(k->tik, k->tek, hdr, hlen, ct, len, meas, &out, &err), &err,
		      want);
	assert_ptr_equal(out, (struct sg_secmem *)0x1);
}

static void
test_packet(void **state)
{
	const struct case_pkt *t = *state;
	struct keys k = { 0 };
	struct sg_error err = { 0 };
	struct sg_secret s[2];
	uint8_t *bufs[2] = { 0 }, iv[16], blob[48], hdr[52], mac[32];
	struct sg_secmem *table = NULL, *back = NULL;
	struct sg_packet *pkt = NULL;
	size_t unpadded;
	char *b64;

	keys_open(&k, t->id, t->tik, t->tek, t->tik_file, t->tek_file);
	decode(t->iv, iv, 16);
	assert_int_equal(tv_unb64(t->blob, blob, sizeof(blob)), 48);
	for (size_t i = 0; i < t->n; i++) {
		TV_ASSERT_OK(sg_secret_guid_parse(t->items[i].guid, &s[i].guid, &err), &err);
		if (t->items[i].text) {
			s[i].data = (const uint8_t *)t->items[i].text;
			s[i].len = strlen(t->items[i].text);
		} else {
			char *p = tv_path(t->items[i].file);

			bufs[i] = tv_read(p, &s[i].len);
			s[i].data = bufs[i];
			free(p);
		}
	}
	TV_ASSERT_OK(sg_secret_table_build(s, t->n, t->pad, &table, &unpadded, &err), &err);
	assert_int_equal(table->len, t->payload_len);

	TV_ASSERT_OK(sg_packet_build(k.tik, k.tek, iv, table->data, table->len, blob, &pkt, &err),
		     &err);
	b64 = tv_b64(pkt->header, SG_PACKET_HEADER_LEN);
	assert_string_equal(b64, t->header);
	free(b64);
	assert_int_equal(pkt->payload_len, t->payload_len);
	if (t->payload) {
		b64 = tv_b64(pkt->payload, pkt->payload_len);
		assert_string_equal(b64, t->payload);
		free(b64);
	} else {
		uint8_t got[32], want[32];

		tv_sha256(pkt->payload, pkt->payload_len, got);
		tv_unhex(t->payload_sha256, want, 32);
		assert_memory_equal(got, want, 32);
	}
	/* Header = flags(0) || IV || MAC, with the MAC recomputed independently. */
	assert_int_equal(sg_get_u32le(pkt->header), 0);
	assert_memory_equal(pkt->header + 4, iv, 16);
	{
		size_t ml = 1 + 4 + 16 + 8 + pkt->payload_len + 32;
		uint8_t *m = malloc(ml);

		m[0] = 0x01;
		memcpy(m + 1, pkt->header, 20);
		sg_put_u32le(m + 21, (uint32_t)pkt->payload_len);
		sg_put_u32le(m + 25, (uint32_t)pkt->payload_len);
		memcpy(m + 29, pkt->payload, pkt->payload_len);
		memcpy(m + 29 + pkt->payload_len, blob, 32);
		tv_hmac_sha256(k.tik_bytes, 16, m, ml, mac);
		free(m);
	}
	assert_memory_equal(pkt->header + 20, mac, 32);
	if (t->mac) {
		uint8_t want[32];

		tv_unhex(t->mac, want, 32);
		assert_memory_equal(mac, want, 32);
	}

	/* The PSP's view: the MAC verifies and the table decrypts back. */
	TV_ASSERT_OK(sg_packet_open(k.tik, k.tek, pkt->header, 52, pkt->payload, pkt->payload_len,
				    blob, &back, &err),
		     &err);
	assert_int_equal(back->len, table->len);
	assert_memory_equal(back->data, table->data, table->len);
	sg_secmem_free(back);

	/* Tampering anywhere is caught. */
	memcpy(hdr, pkt->header, 52);
	hdr[20] ^= 0x01; /* MAC */
	open_fails(&k, hdr, 52, pkt->payload, pkt->payload_len, blob, SG_E_MISMATCH);
	memcpy(hdr, pkt->header, 52);
	hdr[4] ^= 0x80; /* IV */
	open_fails(&k, hdr, 52, pkt->payload, pkt->payload_len, blob, SG_E_MISMATCH);
	pkt->payload[pkt->payload_len - 1] ^= 0x01; /* ciphertext */
	open_fails(&k, pkt->header, 52, pkt->payload, pkt->payload_len, blob, SG_E_MISMATCH);
	pkt->payload[pkt->payload_len - 1] ^= 0x01;
	blob[31] ^= 0x01; /* another launch's measurement */
	open_fails(&k, pkt->header, 52, pkt->payload, pkt->payload_len, blob, SG_E_MISMATCH);
	blob[31] ^= 0x01;
	open_fails(&k, pkt->header, 52, pkt->payload, pkt->payload_len - 16, blob, SG_E_MISMATCH);
	memcpy(hdr, pkt->header, 52);
	hdr[0] = 1; /* flags: compression is not supported */
	open_fails(&k, hdr, 52, pkt->payload, pkt->payload_len, blob, SG_E_FORMAT);
	open_fails(&k, pkt->header, 51, pkt->payload, pkt->payload_len, blob, SG_E_FORMAT);
	open_fails(&k, pkt->header, 52, pkt->payload, 0, blob, SG_E_FORMAT);

	sg_packet_free(pkt);
	sg_secmem_free(table);
	for (size_t i = 0; i < t->n; i++)
		free(bufs[i]);
	keys_close(&k);
}

/* ---- build errors ---- */

struct case_build {
	const char *id;
	size_t table_len;
	bool swap_keys;
	int rc;
};

static const struct case_build build_cases[] = {
	{ "build-unpadded-47", 47, false, SG_E_INTERNAL },
	{ "build-empty", 0, false, SG_E_INTERNAL },
	{ "build-keys-swapped", 48, true, SG_E_INTERNAL },
	{ "build-ok-16", 16, false, 0 },
};

static void
test_build(void **state)
{
	const struct case_build *t = *state;
	struct keys k = { 0 };
	struct sg_error err = { 0 };
	struct sg_packet *pkt = (struct sg_packet *)0x1;
	uint8_t iv[16] = { 0 }, meas[32] = { 0 }, table[64] = { 0 };
	int rc;

	keys_open(&k, t->id, "000102030405060708090a0b0c0d0e0f", "101112131415161718191a1b1c1d1e1f",
		  NULL, NULL);
	rc = sg_packet_build(t->swap_keys ? k.tek : k.tik, t->swap_keys ? k.tik : k.tek, iv, table,
			     t->table_len, meas, &pkt, &err);
	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		assert_int_equal(pkt->payload_len, t->table_len);
		sg_packet_free(pkt);
	} else {
		TV_ASSERT_ERR(rc, &err, t->rc);
		assert_ptr_equal(pkt, (struct sg_packet *)0x1);
	}
	keys_close(&k);
}

/* Tables of any size: 1 MiB round-trips (the firmware-area check is the engine's job). */
static void
test_one_mib(void **state)
{
	struct keys k = { 0 };
	struct sg_error err = { 0 };
	size_t len = (size_t)1 << 20;
	uint8_t *data = malloc(len - 40), iv[16], meas[32];
	struct sg_secret s = { SG_GUID_LUKS_KEY, data, len - 40 };
	struct sg_secmem *table = NULL, *back = NULL;
	struct sg_packet *pkt = NULL;
	size_t unpadded;

	(void)state;
	for (size_t i = 0; i < len - 40; i++)
		data[i] = (uint8_t)(i * 131);
	memset(iv, 0xff, sizeof(iv)); /* the counter wraps from all-ones */
	memset(meas, 0x33, sizeof(meas));
	keys_open(&k, "one-mib", "000102030405060708090a0b0c0d0e0f",
		  "101112131415161718191a1b1c1d1e1f", NULL, NULL);
	TV_ASSERT_OK(sg_secret_table_build(&s, 1, SG_SECRET_PAD_ALIGN16, &table, &unpadded, &err),
		     &err);
	assert_int_equal(table->len, len);
	TV_ASSERT_OK(sg_packet_build(k.tik, k.tek, iv, table->data, table->len, meas, &pkt, &err),
		     &err);
	assert_memory_not_equal(pkt->payload, table->data, 64);
	TV_ASSERT_OK(sg_packet_open(k.tik, k.tek, pkt->header, 52, pkt->payload, pkt->payload_len,
				    meas, &back, &err),
		     &err);
	assert_int_equal(back->len, len);
	assert_memory_equal(back->data, table->data, len);
	sg_secmem_free(back);
	sg_secmem_free(table);
	sg_packet_free(pkt);
	keys_close(&k);
	free(data);
}

static void
test_free_null(void **state)
{
	(void)state;
	sg_packet_free(NULL);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest unit[SG_ELEMENTSOF(cases) + SG_ELEMENTSOF(build_cases) + 2];
	struct CMUnitTest vec[SG_ELEMENTSOF(cases)];
	size_t n = 0, nv = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(cases); i++) {
		unit[n++] = ROW(test_packet, cases, i);
		if (cases[i].tik_file)
			vec[nv++] = ROW(test_packet, cases, i);
	}
	for (size_t i = 0; i < SG_ELEMENTSOF(build_cases); i++)
		unit[n++] = ROW(test_build, build_cases, i);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_one_mib);
	unit[n++] = (struct CMUnitTest)cmocka_unit_test(test_free_null);
	return tv_main(argc, argv, "packet", unit, n, vec, nv);
}
