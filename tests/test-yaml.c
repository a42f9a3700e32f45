/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * src/yaml/yaml.c, the strict YAML tree: one table of valid documents (the
 * tree's shape and every node's FILE:LINE:COL), one of refused documents
 * (exact code and message: duplicate, merge and non-scalar keys, NUL in a
 * scalar, syntax, several documents, the depth, size, anchor and alias
 * bounds on both sides), one of typed scalar reads, and the loader, lookup
 * and wiping tests.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vectors.h"
#include "util/numparse.h"
#include "yaml/yaml.h"

#define UNTOUCHED ((struct sg_yaml_doc *)0x5a5a)

static int
parse(const char *text, struct sg_yaml_doc **d, struct sg_error *err)
{
	return sg_yaml_parse("t.yaml", (const uint8_t *)text, strlen(text), d, err);
}

/* A growing string for the dumps and the generated documents. */
struct buf {
	char *s;
	size_t len, cap;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if (b->s && (size_t)n < b->cap - b->len)
			break;
		b->cap = 2 * (b->cap + (size_t)n + 64);
		b->s = realloc(b->s, b->cap);
		assert_non_null(b->s);
	}
	b->len += (size_t)n;
}

/* The tree's shape: {k:v,...}, [a,...], plain scalars as is, quoted ones in ''. */
static void
shape(struct buf *b, const struct sg_yaml_node *n)
{
	switch (n->kind) {
	case SG_YAML_SCALAR: put(b, n->quoted ? "'%s'" : "%s", n->value); break;
	case SG_YAML_SEQ:
		put(b, "[");
		for (size_t i = 0; i < n->n; i++) {
			put(b, i ? "," : "");
			shape(b, n->items[i]);
		}
		put(b, "]");
		break;
	case SG_YAML_MAP:
		put(b, "{");
		for (size_t i = 0; i < n->n; i++) {
			put(b, "%s%s:", i ? "," : "", n->keys[i]);
			shape(b, n->items[i]);
		}
		put(b, "}");
		break;
	}
}

/* Every node's LINE:COL in document order; a key's as kLINE:COL before its value. */
static void
where(struct buf *b, const struct sg_yaml_node *n)
{
	put(b, "%s%u:%u", b->len ? " " : "", n->line, n->column);
	for (size_t i = 0; n->kind != SG_YAML_SCALAR && i < n->n; i++) {
		if (n->kind == SG_YAML_MAP)
			put(b, " k%u:%u", n->key_lines[i], n->key_columns[i]);
		where(b, n->items[i]);
	}
}

/* Generated documents (a row's text is NULL and gen makes it). */
static char *
nested(unsigned levels, const char *open, const char *close)
{
	struct buf b = { 0 };

	for (unsigned i = 0; i < levels; i++)
		put(&b, "%s", open);
	put(&b, "x");
	for (unsigned i = 0; i < levels; i++)
		put(&b, "%s", close);
	put(&b, "\n");
	return b.s;
}

static char *
gen_depth_32_seq(void)
{
	return nested(SG_YAML_MAX_DEPTH, "[", "]");
}

static char *
gen_depth_33_seq(void)
{
	return nested(SG_YAML_MAX_DEPTH + 1, "[", "]");
}

static char *
gen_depth_33_map(void)
{
	return nested(SG_YAML_MAX_DEPTH + 1, "{k: ", "}");
}

/* A comment padding a one-key document to exactly @len bytes. */
static char *
sized(size_t len)
{
	char *s = malloc(len + 1);

	assert_non_null(s);
	memset(s, 'x', len);
	memcpy(s, "# ", 2);
	memcpy(s + len - 6, "\na: 1\n", 6);
	s[len] = '\0';
	return s;
}

static char *
gen_size_max(void)
{
	return sized(SG_YAML_MAX_BYTES);
}

static char *
gen_size_over(void)
{
	return sized(SG_YAML_MAX_BYTES + 1);
}

/* @n anchored scalars a0..: one document line each. */
static char *
anchors(size_t n)
{
	struct buf b = { 0 };

	for (size_t i = 0; i < n; i++)
		put(&b, "a%zu: &x%zu v\n", i, i);
	return b.s;
}

static char *
gen_anchors_256(void)
{
	return anchors(256);
}

static char *
gen_anchors_257(void)
{
	return anchors(257);
}

/* One anchored scalar (weight 1) and a list of @n aliases to it, 10 a line. */
static char *
aliases(size_t n)
{
	struct buf b = { 0 };

	put(&b, "a: &x v\nb:\n");
	for (size_t i = 0; i < n; i++)
		put(&b, "%s*x%s", i % 10 == 0 ? "  - [" : ", ",
		    i % 10 == 9 || i == n - 1 ? "]\n" : "");
	return b.s;
}

static char *
gen_aliases_max(void)
{
	return aliases(SG_YAML_MAX_ALIAS_NODES);
}

static char *
gen_aliases_over(void)
{
	return aliases(SG_YAML_MAX_ALIAS_NODES + 1);
}

/* 'Billion laughs': nine levels of ten aliases each of the level below. */
static char *
gen_laughs(void)
{
	struct buf b = { 0 };

	put(&b, "l0: &l0 lol\n");
	for (int i = 1; i <= 9; i++) {
		put(&b, "l%d: &l%d [", i, i);
		for (int k = 0; k < 10; k++)
			put(&b, "%s*l%d", k ? ", " : "", i - 1);
		put(&b, "]\n");
	}
	return b.s;
}

struct case_doc {
	const char *id;
	const char *text;
	char *(*gen)(void);
	/* Valid: the shape ("~" for an empty document) and where (NULL: not checked). */
	const char *shape, *where;
	/* Refused: the code and the exact message. */
	int rc;
	const char *msg;
};

static const struct case_doc docs[] = {
	/* Valid documents: shape and positions. */
	{ "empty", "", NULL, "~", NULL, 0, NULL },
	{ "only-a-comment", "# nothing\n", NULL, "~", NULL, 0, NULL },
	{ "explicit-document", "---\na: 1\n...\n", NULL, "{a:1}", "2:1 k2:1 2:4", 0, NULL },
	{ "scalar-root", "hello\n", NULL, "hello", "1:1", 0, NULL },
	{ "map-block", "a: 1\nb: [x, 'y']\n", NULL, "{a:1,b:[x,'y']}",
	  "1:1 k1:1 1:4 k2:1 2:4 2:5 2:8", 0, NULL },
	{ "keys-in-document-order", "c: 1\na: 2\nb: {y: 3, x: 4}\n", NULL, "{c:1,a:2,b:{y:3,x:4}}",
	  "1:1 k1:1 1:4 k2:1 2:4 k3:1 3:4 k3:5 3:8 k3:11 3:14", 0, NULL },
	{ "seq-block", "- a\n- - b\n  - c\n- {d: e}\n", NULL, "[a,[b,c],{d:e}]",
	  "1:1 1:3 2:3 2:5 3:5 4:3 k4:4 4:7", 0, NULL },
	{ "nested-indent", "top:\n  mid:\n    - 1\n    - 2\n", NULL, "{top:{mid:[1,2]}}",
	  "1:1 k1:1 2:3 k2:3 3:5 3:7 4:7", 0, NULL },
	/* Quoting is kept, so "3" is a string and 3 an integer; block scalars count as quoted. */
	{ "quoting-styles", "p: 3\ns: '3'\nd: \"3\"\nl: |\n  x\nf: >\n  y\n", NULL,
	  "{p:3,s:'3',d:'3',l:'x\n',f:'y\n'}", NULL, 0, NULL },
	{ "empty-value-is-plain-empty", "a:\nb: ''\n", NULL, "{a:,b:''}", "1:1 k1:1 1:3 k2:1 2:4",
	  0, NULL },
	{ "empty-collections", "m: {}\ns: []\n", NULL, "{m:{},s:[]}", NULL, 0, NULL },
	{ "escapes-decoded", "a: \"t\\tb\\u00e9\"\n", NULL, "{a:'t\tb\xc3\xa9'}", NULL, 0, NULL },
	/* Tags are not refused: they are dropped and the text kept (typed reads decide). */
	{ "tags-ignored", "a: !!str 3\nb: !custom x\n", NULL, "{a:3,b:x}", "1:1 k1:1 1:4 k2:1 2:4",
	  0, NULL },
	/* An alias is the anchored node itself (shared, not copied): its positions twice. */
	{ "alias-shared", "a: &x [1, 2]\nb: *x\n", NULL, "{a:[1,2],b:[1,2]}",
	  "1:1 k1:1 1:4 1:8 1:11 k2:1 1:4 1:8 1:11", 0, NULL },
	{ "alias-latest-anchor-wins", "a: &x 1\nb: &x 2\nc: *x\n", NULL, "{a:1,b:2,c:2}", NULL, 0,
	  NULL },
	{ "depth-32-ok", NULL, gen_depth_32_seq,
	  "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[x]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", NULL, 0, NULL },
	{ "size-1mib-ok", NULL, gen_size_max, "{a:1}", NULL, 0, NULL },
	{ "anchors-256-ok", NULL, gen_anchors_256, NULL, NULL, 0, NULL },
	{ "alias-nodes-10000-ok", NULL, gen_aliases_max, NULL, NULL, 0, NULL },

	/* Duplicate keys: the first key, in document order, that repeats an earlier one. */
	{ "dup-key", "a: 1\nb: 2\na: 3\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:3:1: duplicate key: a" },
	{ "dup-key-first-repeat", "a: 1\nb: 2\nb: 3\na: 4\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:3:1: duplicate key: b" },
	{ "dup-key-two-repeats", "a: 1\nb: 2\nc: 3\na: 4\nb: 5\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:4:1: duplicate key: a" },
	{ "dup-key-flow", "x: {p: 1, q: 2, p: 3}\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:1:17: duplicate key: p" },
	{ "dup-key-in-list", "- {guid: a, file: b, guid: c}\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:1:22: duplicate key: guid" },
	{ "dup-key-nested", "top:\n  k: 1\n  k: 2\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:3:3: duplicate key: k" },
	/* Equal after quoting is still equal. */
	{ "dup-key-quoted", "a: 1\n'a': 2\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:2:1: duplicate key: a" },
	/* Keys: plain strings only, no merge key. */
	{ "key-flow-seq", "{[a]: 1}\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:1:2: mapping keys must be plain strings" },
	{ "key-complex-map", "? {a: 1}\n: 2\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:1:3: mapping keys must be plain strings" },
	{ "key-alias", "a: &x k\n*x : 2\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:2:1: mapping keys must be plain strings" },
	{ "merge-key", "a: &x {b: 1}\nc: {<<: *x}\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:2:5: merge keys (<<) are not supported" },
	/* A scalar (value or key) with an escaped NUL is refused where it starts, not cut short. */
	{ "nul-in-value", "guest: \"db1\\0evil\"\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:1:8: a string must not contain a NUL character (\\0)" },
	{ "nul-in-key", "a: 1\n\"k\\0x\": 2\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:2:1: a string must not contain a NUL character (\\0)" },
	{ "nul-in-list", "l: [a, \"\\x00\"]\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:1:8: a string must not contain a NUL character (\\0)" },
	/* libyaml's own refusals, with its problem text. */
	{ "syntax-unclosed-flow", "a: [1, 2\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:2:1: YAML syntax error: did not find expected ',' or ']'" },
	{ "syntax-bad-indent", "a: 1\n b: 2\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:2:3: YAML syntax error: mapping values are not allowed in this context" },
	{ "syntax-tab-indent", "a:\n\t- 1\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:2:1: YAML syntax error: found character that cannot start any token" },
	{ "two-documents", "a: 1\n---\nb: 2\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:2:1: only one YAML document is allowed" },
	{ "unknown-alias", "a: *nope\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:1:4: unknown alias: nope" },
	/* An anchor is known only once its node is complete: no recursion. */
	{ "recursive-alias", "a: &x [*x]\n", NULL, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:1:8: unknown alias: x" },
	/* The bounds, one past each. */
	{ "depth-33-seq", NULL, gen_depth_33_seq, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:1:33: document is nested deeper than 32 levels" },
	{ "depth-33-map", NULL, gen_depth_33_map, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:1:129: document is nested deeper than 32 levels" },
	{ "size-over-1mib", NULL, gen_size_over, NULL, NULL, SG_E_LIMIT,
	  "t.yaml: larger than 1048576 bytes" },
	{ "anchors-257", NULL, gen_anchors_257, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:257:7: too many anchors" },
	{ "alias-nodes-10001", NULL, gen_aliases_over, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:1003:6: too many alias expansions" },
	/* Charged 10, 110, 1110, then 1111 an alias: the 8th alias of l4 is the one past. */
	{ "billion-laughs", NULL, gen_laughs, NULL, NULL, SG_E_FORMAT,
	  "t.yaml:5:45: too many alias expansions" },
};

static void
test_doc(void **state)
{
	const struct case_doc *t = *state;
	struct sg_yaml_doc *d = UNTOUCHED;
	struct sg_error err = { 0 };
	char *gen = t->gen ? t->gen() : NULL;
	const char *text = gen ? gen : t->text;
	int rc = parse(text, &d, &err);

	if (t->msg) {
		TV_ASSERT_ERR(rc, &err, t->rc);
		assert_string_equal(err.msg, t->msg);
		assert_ptr_equal(d, UNTOUCHED);
	} else {
		struct buf s = { 0 }, w = { 0 };

		TV_ASSERT_OK(rc, &err);
		assert_int_equal(err.code, 0);
		assert_string_equal(d->file, "t.yaml");
		if (!d->root)
			put(&s, "~");
		else {
			shape(&s, d->root);
			where(&w, d->root);
		}
		if (t->shape)
			assert_string_equal(s.s, t->shape);
		if (t->where)
			assert_string_equal(w.s, t->where);
		free(s.s);
		free(w.s);
		sg_yaml_free(d);
	}
	free(gen);
}

/* The bounds rows' documents are what they say: counts taken from the tree. */
static void
test_bounds_counted(void **state)
{
	struct sg_yaml_doc *d = NULL;
	struct sg_error err = { 0 };
	const struct sg_yaml_node *n;
	char *s;
	size_t depth = 0, aliased = 0;

	(void)state;
	s = gen_depth_32_seq();
	TV_ASSERT_OK(parse(s, &d, &err), &err);
	for (n = d->root; n->kind == SG_YAML_SEQ; n = n->items[0])
		depth++;
	assert_int_equal(depth, SG_YAML_MAX_DEPTH);
	sg_yaml_free(d);
	free(s);

	s = gen_size_max();
	assert_int_equal(strlen(s), SG_YAML_MAX_BYTES);
	free(s);

	s = gen_aliases_max();
	TV_ASSERT_OK(parse(s, &d, &err), &err);
	n = sg_yaml_map_get(d->root, "b");
	for (size_t i = 0; i < n->n; i++)
		for (size_t k = 0; k < n->items[i]->n; k++) {
			assert_ptr_equal(n->items[i]->items[k], d->root->items[0]);
			aliased++;
		}
	assert_int_equal(aliased, SG_YAML_MAX_ALIAS_NODES);
	sg_yaml_free(d);
	free(s);
}

/* An aliased node is shared: the tree holds one node, reached twice. */
static void
test_alias_is_shared(void **state)
{
	struct sg_yaml_doc *d = NULL;
	struct sg_error err = { 0 };

	(void)state;
	TV_ASSERT_OK(parse("a: &x [1, 2]\nb: *x\n", &d, &err), &err);
	assert_ptr_equal(d->root->items[0], d->root->items[1]);
	assert_int_equal(d->nall, 4);
	sg_yaml_free(d);
}

static void
test_map_get(void **state)
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
	assert_ptr_equal(sg_yaml_map_get(d->root->items[2], "x"), d->root->items[2]->items[1]);
	assert_null(sg_yaml_map_get(d->root, "z"));
	assert_null(sg_yaml_map_get(d->root, ""));
	/* Not a mapping, or none at all. */
	assert_null(sg_yaml_map_get(d->root->items[0], "c"));
	assert_null(sg_yaml_map_get(NULL, "c"));
	sg_yaml_free(d);

	TV_ASSERT_OK(parse("m: {}\n", &d, &err), &err);
	assert_null(sg_yaml_map_get(d->root->items[0], "m"));
	sg_yaml_free(d);
}

/* Typed reads of the value of "v" in a one-key document. */
enum read_kind {
	READ_STRING,
	READ_UINT,
	READ_BOOL
};

struct case_read {
	const char *id;
	enum read_kind kind;
	const char *text;
	uint64_t max;
	/* Success: the value (strings: str; integers: u; booleans: u as 0/1). */
	const char *str;
	uint64_t u;
	const char *msg; /* SG_E_FORMAT with this message, or NULL */
};

static const struct case_read reads[] = {
	{ "string-plain", READ_STRING, "v: hello\n", 0, "hello", 0, NULL },
	{ "string-quoted", READ_STRING, "v: '42'\n", 0, "42", 0, NULL },
	{ "string-number", READ_STRING, "v: 42\n", 0, "42", 0, NULL },
	{ "string-empty", READ_STRING, "v:\n", 0, "", 0, NULL },
	{ "string-not-list", READ_STRING, "v: [a]\n", 0, NULL, 0,
	  "t.yaml:1:4: the value must be a string" },
	{ "string-not-map", READ_STRING, "v:\n  a: 1\n", 0, NULL, 0,
	  "t.yaml:2:3: the value must be a string" },
	{ "uint-decimal", READ_UINT, "v: 42\n", 255, NULL, 42, NULL },
	{ "uint-hex", READ_UINT, "v: 0x2A\n", 255, NULL, 42, NULL },
	{ "uint-max", READ_UINT, "v: 255\n", 255, NULL, 255, NULL },
	{ "uint-u64-max", READ_UINT, "v: 18446744073709551615\n", UINT64_MAX, NULL, UINT64_MAX,
	  NULL },
	{ "uint-over-max", READ_UINT, "v: 256\n", 255, NULL, 0,
	  "t.yaml:1:4: the value: 256 is out of range (max 255)" },
	{ "uint-u64-overflow", READ_UINT, "v: 18446744073709551616\n", UINT64_MAX, NULL, 0,
	  "t.yaml:1:4: the value: 18446744073709551616 is out of range (max "
	  "18446744073709551615)" },
	{ "uint-overflow-before-junk", READ_UINT, "v: 999x\n", 255, NULL, 0,
	  "t.yaml:1:4: the value: 999x is out of range (max 255)" },
	{ "uint-negative", READ_UINT, "v: -1\n", 255, NULL, 0,
	  "t.yaml:1:4: the value: '-1' is not a decimal or 0x-hex integer" },
	{ "uint-float", READ_UINT, "v: 1.5\n", 255, NULL, 0,
	  "t.yaml:1:4: the value: '1.5' is not a decimal or 0x-hex integer" },
	{ "uint-hex-no-digits", READ_UINT, "v: 0x\n", 255, NULL, 0,
	  "t.yaml:1:4: the value: '0x' has no digits after 0x" },
	{ "uint-hex-bad-digit", READ_UINT, "v: 0xg\n", 255, NULL, 0,
	  "t.yaml:1:4: the value: '0xg' is not a decimal or 0x-hex integer" },
	{ "uint-empty", READ_UINT, "v:\n", 255, NULL, 0, "t.yaml:1:3: the value: empty value" },
	{ "uint-quoted", READ_UINT, "v: '42'\n", 255, NULL, 0,
	  "t.yaml:1:4: the value must be an integer, not a quoted string" },
	{ "uint-block-scalar", READ_UINT, "v: |\n  42\n", 255, NULL, 0,
	  "t.yaml:1:4: the value must be an integer, not a quoted string" },
	{ "uint-list", READ_UINT, "v: [1]\n", 255, NULL, 0,
	  "t.yaml:1:4: the value must be an integer" },
	{ "bool-true", READ_BOOL, "v: true\n", 0, NULL, 1, NULL },
	{ "bool-false", READ_BOOL, "v: false\n", 0, NULL, 0, NULL },
	{ "bool-yes", READ_BOOL, "v: yes\n", 0, NULL, 0,
	  "t.yaml:1:4: the value must be true or false" },
	{ "bool-capital", READ_BOOL, "v: True\n", 0, NULL, 0,
	  "t.yaml:1:4: the value must be true or false" },
	{ "bool-quoted", READ_BOOL, "v: 'true'\n", 0, NULL, 0,
	  "t.yaml:1:4: the value must be true or false" },
	{ "bool-map", READ_BOOL, "v: {a: b}\n", 0, NULL, 0,
	  "t.yaml:1:4: the value must be true or false" },
};

static void
test_read(void **state)
{
	const struct case_read *t = *state;
	_cleanup_(sg_yaml_freep) struct sg_yaml_doc *d = NULL;
	struct sg_error err = { 0 };
	const struct sg_yaml_node *v;
	const char *str = "untouched";
	uint64_t u = 0x5a5a;
	bool b = true;
	int rc = 0;

	TV_ASSERT_OK(parse(t->text, &d, &err), &err);
	v = sg_yaml_map_get(d->root, "v");
	assert_non_null(v);
	switch (t->kind) {
	case READ_STRING: rc = sg_yaml_string(d, v, "the value", &str, &err); break;
	case READ_UINT: rc = sg_yaml_uint(d, v, "the value", t->max, &u, &err); break;
	case READ_BOOL:
		/* Start from the opposite of the expected value. */
		b = !t->u;
		rc = sg_yaml_bool(d, v, "the value", &b, &err);
		break;
	}
	if (t->msg) {
		TV_ASSERT_ERR(rc, &err, SG_E_FORMAT);
		assert_string_equal(err.msg, t->msg);
		/* Nothing written on failure. */
		assert_string_equal(str, "untouched");
		assert_int_equal(u, 0x5a5a);
		assert_int_equal(b, t->kind == READ_BOOL ? !t->u : true);
		return;
	}
	TV_ASSERT_OK(rc, &err);
	switch (t->kind) {
	case READ_STRING:
		assert_string_equal(str, t->str);
		assert_ptr_equal(str, v->value);
		break;
	case READ_UINT: assert_int_equal(u, t->u); break;
	case READ_BOOL: assert_int_equal(b, (bool)t->u); break;
	}
}

/*
 * sg_yaml_uint keeps the command line's integer grammar (it calls numparse
 * with SG_E_FORMAT and prefixes the location): for every integer row, its
 * message is sg_parse_uint_err's after FILE:LINE:COL, its code SG_E_FORMAT
 * where numparse's is SG_E_USAGE, and both accept the same values.
 */
static void
test_uint_matches_numparse(void **state)
{
	(void)state;
	for (size_t i = 0; i < SG_ELEMENTSOF(reads); i++) {
		const struct case_read *t = &reads[i];
		_cleanup_(sg_yaml_freep) struct sg_yaml_doc *d = NULL;
		struct sg_error err = { 0 }, perr = { 0 };
		const struct sg_yaml_node *v;
		uint64_t u = 0, pu = 0;
		char want[SG_ERROR_MSG_MAX + 32];
		int rc, prc;

		if (t->kind != READ_UINT)
			continue;
		TV_ASSERT_OK(parse(t->text, &d, &err), &err);
		v = sg_yaml_map_get(d->root, "v");
		if (v->kind != SG_YAML_SCALAR || v->quoted)
			continue;
		rc = sg_yaml_uint(d, v, "the value", t->max, &u, &err);
		prc = sg_parse_uint_err(v->value, t->max, "the value", &pu, &perr);
		if (prc == 0) {
			assert_int_equal(rc, 0);
			assert_int_equal(u, pu);
			continue;
		}
		assert_int_equal(prc, SG_E_USAGE);
		TV_ASSERT_ERR(rc, &err, SG_E_FORMAT);
		snprintf(want, sizeof(want), "t.yaml:%u:%u: %s", v->line, v->column, perr.msg);
		assert_string_equal(err.msg, want);
	}
}

/* sg_yaml_load: the file's path in messages; unreadable, missing and oversized files. */
static void
test_load(void **state)
{
	struct sg_yaml_doc *d = UNTOUCHED;
	struct sg_error err = { 0 };
	char *path = tv_tmp_write("load.yaml", "a:\n  - b\n  - c: d\n", 18);
	char *big = gen_size_over(), *bigpath, *missing = tv_tmp("missing.yaml"), want[1024];

	(void)state;
	TV_ASSERT_OK(sg_yaml_load(path, &d, &err), &err);
	assert_string_equal(d->file, path);
	assert_string_equal(d->root->items[0]->items[1]->keys[0], "c");
	assert_int_equal(d->root->items[0]->items[1]->key_lines[0], 3);
	sg_yaml_free(d);
	free(path);

	path = tv_tmp_write("dup.yaml", "a: 1\na: 2\n", 10);
	d = UNTOUCHED;
	TV_ASSERT_ERR(sg_yaml_load(path, &d, &err), &err, SG_E_FORMAT);
	snprintf(want, sizeof(want), "%s:2:1: duplicate key: a", path);
	assert_string_equal(err.msg, want);
	assert_ptr_equal(d, UNTOUCHED);
	free(path);

	sg_error_clear(&err);
	TV_ASSERT_ERR(sg_yaml_load(missing, &d, &err), &err, SG_E_IO);
	snprintf(want, sizeof(want), "cannot open YAML file '%s': No such file or directory",
		 missing);
	assert_string_equal(err.msg, want);
	assert_ptr_equal(d, UNTOUCHED);

	sg_error_clear(&err);
	bigpath = tv_tmp_write("big.yaml", big, strlen(big));
	TV_ASSERT_ERR(sg_yaml_load(bigpath, &d, &err), &err, SG_E_LIMIT);
	snprintf(want, sizeof(want), "YAML file '%s' is larger than 1048576 bytes", bigpath);
	assert_string_equal(err.msg, want);
	assert_ptr_equal(d, UNTOUCHED);
	free(big);
	free(bigpath);
	free(missing);
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
	sg_yaml_free(NULL);
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
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_bounds_counted),
		cmocka_unit_test(test_alias_is_shared),
		cmocka_unit_test(test_map_get),
		cmocka_unit_test(test_uint_matches_numparse),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_free_wipes_scalars),
	};
	struct CMUnitTest tests[SG_ELEMENTSOF(docs) + SG_ELEMENTSOF(reads) + SG_ELEMENTSOF(fixed)];
	size_t n = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(docs); i++)
		tests[n++] = ROW(test_doc, docs, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(reads); i++)
		tests[n++] = ROW(test_read, reads, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(fixed); i++)
		tests[n++] = fixed[i];
	return tv_main(argc, argv, "yaml", tests, n, NULL, 0);
}
