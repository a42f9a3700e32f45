/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/yaml/yaml.c: the strict YAML tree (duplicate keys, NUL in scalars, big mappings). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vectors.h"
#include "yaml/yaml.h"

static int
parse(const char *text, struct sg_yaml_doc **d, struct sg_error *err)
{
	return sg_yaml_parse("t.yaml", (const uint8_t *)text, strlen(text), d, err);
}

static void
test_duplicate_key(void **state)
{
	static const struct {
		const char *text, *msg;
	} t[] = {
		{ "a: 1\nb: 2\na: 3\n", "t.yaml:3:1: duplicate key: a" },
		/* The first key that repeats an earlier one, in document order. */
		{ "a: 1\nb: 2\nb: 3\na: 4\n", "t.yaml:3:1: duplicate key: b" },
		{ "a: 1\nb: 2\nc: 3\na: 4\nb: 5\n", "t.yaml:4:1: duplicate key: a" },
		{ "x: {p: 1, q: 2, p: 3}\n", "t.yaml:1:17: duplicate key: p" },
		{ "- {guid: a, file: b, guid: c}\n", "t.yaml:1:22: duplicate key: guid" },
		{ "top:\n  k: 1\n  k: 2\n", "t.yaml:3:3: duplicate key: k" },
		/* Equal after quoting is still equal. */
		{ "a: 1\n'a': 2\n", "t.yaml:2:1: duplicate key: a" },
	};

	(void)state;
	for (size_t i = 0; i < SG_ELEMENTSOF(t); i++) {
		struct sg_yaml_doc *d = NULL;
		struct sg_error err = { 0 };

		TV_ASSERT_ERR(parse(t[i].text, &d, &err), &err, SG_E_FORMAT);
		assert_string_equal(err.msg, t[i].msg);
		assert_null(d);
	}
}

static void
test_keys_kept_in_order(void **state)
{
	struct sg_yaml_doc *d = NULL;
	struct sg_error err = { 0 };

	(void)state;
	TV_ASSERT_OK(parse("c: 1\na: 2\nb: {y: 3, x: 4}\n", &d, &err), &err);
	assert_int_equal(d->root->n, 3);
	assert_string_equal(d->root->keys[0], "c");
	assert_string_equal(d->root->keys[1], "a");
	assert_string_equal(d->root->keys[2], "b");
	assert_int_equal(d->root->key_lines[2], 3);
	assert_string_equal(d->root->items[2]->keys[0], "y");
	assert_string_equal(d->root->items[2]->items[1]->value, "4");
	assert_ptr_equal(sg_yaml_map_get(d->root, "a"), d->root->items[1]);
	assert_ptr_equal(sg_yaml_map_get(d->root, "c"), d->root->items[0]);
	assert_null(sg_yaml_map_get(d->root, "z"));
	assert_null(sg_yaml_map_get(d->root, ""));
	sg_yaml_free(d);
}

/* A scalar (value or key) with an escaped NUL is refused where it starts, not cut short. */
static void
test_nul_in_scalar(void **state)
{
	static const struct {
		const char *text, *msg;
	} t[] = {
		{ "guest: \"db1\\0evil\"\n",
		  "t.yaml:1:8: a string must not contain a NUL character (\\0)" },
		{ "a: 1\n\"k\\0x\": 2\n",
		  "t.yaml:2:1: a string must not contain a NUL character (\\0)" },
		{ "l: [a, \"\\x00\"]\n",
		  "t.yaml:1:8: a string must not contain a NUL character (\\0)" },
	};

	(void)state;
	for (size_t i = 0; i < SG_ELEMENTSOF(t); i++) {
		struct sg_yaml_doc *d = NULL;
		struct sg_error err = { 0 };

		TV_ASSERT_ERR(parse(t[i].text, &d, &err), &err, SG_E_FORMAT);
		assert_string_equal(err.msg, t[i].msg);
	}
}

/* The bytes a test watches while the tree is freed, and whether they were wiped first. */
static struct {
	const char *p;
	size_t len;
	bool seen, wiped;
} watch[2];

static void
watching_free(void *p)
{
	for (size_t i = 0; p && i < SG_ELEMENTSOF(watch); i++) {
		if (p != watch[i].p)
			continue;
		watch[i].seen = true;
		watch[i].wiped = true;
		for (size_t k = 0; k <= watch[i].len; k++)
			watch[i].wiped &= watch[i].p[k] == 0;
	}
	free(p);
}

/* A PIN read from a file is wiped, value and key, before its memory is freed. */
static void
test_free_wipes_scalars(void **state)
{
	static const char text[] = "tk: \"pkcs11:token=t;id=%01;pin-value=PIN4?tail-9x\"\n"
				   "PIN-as-key-7q: 1\n";
	struct sg_yaml_doc *d = NULL;
	struct sg_error err = { 0 };
	char *path = tv_tmp_write("pin.yaml", text, strlen(text));

	(void)state;
	TV_ASSERT_OK(sg_yaml_load(path, &d, &err), &err);
	assert_string_equal(d->root->items[0]->value,
			    "pkcs11:token=t;id=%01;pin-value=PIN4?tail-9x");
	watch[0].p = d->root->items[0]->value;
	watch[0].len = strlen(watch[0].p);
	watch[1].p = d->root->keys[1];
	watch[1].len = strlen(watch[1].p);
	sg_yaml_free_with(d, watching_free);
	for (size_t i = 0; i < SG_ELEMENTSOF(watch); i++) {
		assert_true(watch[i].seen);
		assert_true(watch[i].wiped);
	}
	free(path);
}

static char *
many_keys(size_t n, const char *tail)
{
	size_t cap = n * 16 + 64, len = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "k%06zu: 1\n",
					(n * 7919 + i * 104729) % 1000000);
	snprintf(s + len, cap - len, "%s", tail);
	return s;
}

/* 95,000 keys in one mapping: parsed, duplicates found, in well under a second (was 69 s). */
static void
test_many_keys(void **state)
{
	struct sg_yaml_doc *d = NULL;
	struct sg_error err = { 0 };
	clock_t t0 = clock();
	char *s, want[64];
	size_t n = 95000, i;

	(void)state;
	s = many_keys(n, "");
	TV_ASSERT_OK(parse(s, &d, &err), &err);
	assert_int_equal(d->root->n, n);
	for (i = 0; i < n; i += 997) {
		char k[16];

		snprintf(k, sizeof(k), "k%06zu", (n * 7919 + i * 104729) % 1000000);
		assert_ptr_equal(sg_yaml_map_get(d->root, k), d->root->items[i]);
	}
	sg_yaml_free(d);
	d = NULL;
	free(s);

	/* The same, one key repeated at the end: found at its line. */
	s = many_keys(n, "k");
	{
		char k[16];

		snprintf(k, sizeof(k), "%06zu: 2\n", (n * 7919 + 5 * 104729) % 1000000);
		s = realloc(s, strlen(s) + sizeof(k));
		assert_non_null(s);
		strcat(s, k);
	}
	TV_ASSERT_ERR(parse(s, &d, &err), &err, SG_E_FORMAT);
	snprintf(want, sizeof(want), "t.yaml:%zu:1: duplicate key: k%06zu", n + 1,
		 (n * 7919 + 5 * 104729) % 1000000);
	assert_string_equal(err.msg, want);
	free(s);
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
}

int
main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_keys_kept_in_order),
		cmocka_unit_test(test_nul_in_scalar),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_free_wipes_scalars),
	};

	return tv_main(argc, argv, "yaml", tests, SG_ELEMENTSOF(tests), NULL, 0);
}
