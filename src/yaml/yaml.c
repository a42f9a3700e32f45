/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "yaml/yaml.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <yaml.h>

#include "util/fileio.h"
#include "util/numparse.h"

#define MAX_ANCHORS 256

struct anchor {
	char *name;
	struct sg_yaml_node *node;
	size_t weight; /* nodes under it, charged again at every alias */
};

struct parser {
	yaml_parser_t p;
	struct sg_yaml_doc *doc;
	struct anchor anchors[MAX_ANCHORS];
	size_t nanchors;
	size_t alias_nodes;
	struct sg_error *err;
};

static int
fail(struct parser *ps, unsigned line, unsigned col, const char *msg, const char *detail)
{
	return sg_error_set(ps->err, SG_E_FORMAT, "%s:%u:%u: %s%s%s", ps->doc->file, line, col, msg,
			    detail ? ": " : "", detail ? detail : "");
}

static struct sg_yaml_node *
new_node(struct parser *ps, enum sg_yaml_kind kind, const yaml_mark_t *m)
{
	struct sg_yaml_doc *d = ps->doc;
	struct sg_yaml_node *n;

	if (d->nall == d->capall) {
		size_t cap = d->capall ? 2 * d->capall : 64;
		struct sg_yaml_node **all = realloc(d->all, cap * sizeof(*all));

		if (!all)
			return NULL;
		d->all = all;
		d->capall = cap;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->kind = kind;
	n->line = (unsigned)m->line + 1;
	n->column = (unsigned)m->column + 1;
	d->all[d->nall++] = n;
	return n;
}

/* Room for one more item (and, in a map, its key): capacities double. */
static int
reserve(struct sg_yaml_node *n)
{
	size_t cap = n->cap ? 2 * n->cap : 8;
	struct sg_yaml_node **items;

	if (n->n < n->cap)
		return 0;
	if (!(items = realloc(n->items, cap * sizeof(*items))))
		return SG_E_NOMEM;
	n->items = items;
	if (n->kind == SG_YAML_MAP) {
		char **keys = realloc(n->keys, cap * sizeof(*keys));
		unsigned *kls, *kcs;

		if (!keys)
			return SG_E_NOMEM;
		n->keys = keys;
		if (!(kls = realloc(n->key_lines, cap * sizeof(*kls))))
			return SG_E_NOMEM;
		n->key_lines = kls;
		if (!(kcs = realloc(n->key_columns, cap * sizeof(*kcs))))
			return SG_E_NOMEM;
		n->key_columns = kcs;
	}
	n->cap = cap;
	return 0;
}

static int
push(struct sg_yaml_node *parent, struct sg_yaml_node *child)
{
	int r = reserve(parent);

	if (r < 0)
		return r;
	parent->items[parent->n++] = child;
	return 0;
}

/* A scalar's text, refused when it holds a NUL (a YAML "\0" escape would cut it short). */
static int
scalar_text(struct parser *ps, const yaml_event_t *ev, char **ret)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (strlen(v) != ev->data.scalar.length)
		return fail(ps, (unsigned)ev->start_mark.line + 1,
			    (unsigned)ev->start_mark.column + 1,
			    "a string must not contain a NUL character (\\0)", NULL);
	if (!(*ret = strdup(v)))
		return SG_E_NOMEM;
	return 0;
}

struct key_ref {
	const char *key;
	size_t i;
};

static int
cmp_key(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : (x->i > y->i) - (x->i < y->i);
}

/*
 * Once a mapping is read: sort its key indices (kept for sg_yaml_map_get) and
 * report the first key, in document order, that repeats an earlier one.
 * O(n log n): a mapping of 95,000 keys once took a minute of CPU here.
 */
static int
index_map(struct parser *ps, struct sg_yaml_node *n)
{
	_cleanup_(sg_freep) struct key_ref *refs = NULL;
	size_t dup = SIZE_MAX;

	if (n->n == 0)
		return 0;
	refs = malloc(n->n * sizeof(*refs));
	if (!refs || !(n->order = malloc(n->n * sizeof(*n->order))))
		return SG_E_NOMEM;
	for (size_t i = 0; i < n->n; i++)
		refs[i] = (struct key_ref){ n->keys[i], i };
	qsort(refs, n->n, sizeof(*refs), cmp_key);
	for (size_t i = 0; i < n->n; i++) {
		n->order[i] = refs[i].i;
		/* Equal keys sort by position: the second of a run is its first repeat. */
		if (i > 0 && !strcmp(refs[i - 1].key, refs[i].key) && refs[i].i < dup)
			dup = refs[i].i;
	}
	if (dup != SIZE_MAX)
		return fail(ps, n->key_lines[dup], n->key_columns[dup], "duplicate key",
			    n->keys[dup]);
	return 0;
}

static size_t
weight(const struct sg_yaml_node *n, unsigned depth)
{
	size_t w = 1;

	if (depth > SG_YAML_MAX_DEPTH)
		return SG_YAML_MAX_ALIAS_NODES + 1;
	for (size_t i = 0; i < n->n && n->kind != SG_YAML_SCALAR; i++) {
		w += weight(n->items[i], depth + 1);
		if (w > SG_YAML_MAX_ALIAS_NODES)
			break;
	}
	return w;
}

static int
parse_node(struct parser *ps, yaml_event_t *ev, unsigned depth, struct sg_yaml_node **ret);

static int
next(struct parser *ps, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&ps->p, ev))
		return fail(ps, (unsigned)ps->p.problem_mark.line + 1,
			    (unsigned)ps->p.problem_mark.column + 1, "YAML syntax error",
			    ps->p.problem ? ps->p.problem : "unknown");
	return 0;
}

static int
remember_anchor(struct parser *ps, const yaml_char_t *name, struct sg_yaml_node *n)
{
	if (!name)
		return 0;
	if (ps->nanchors == MAX_ANCHORS)
		return fail(ps, n->line, n->column, "too many anchors", NULL);
	ps->anchors[ps->nanchors].name = strdup((const char *)name);
	if (!ps->anchors[ps->nanchors].name)
		return SG_E_NOMEM;
	ps->anchors[ps->nanchors].node = n;
	ps->anchors[ps->nanchors].weight = weight(n, 0);
	ps->nanchors++;
	return 0;
}

static int
parse_collection(struct parser *ps, yaml_event_t *start, unsigned depth, struct sg_yaml_node **ret)
{
	bool map = start->type == YAML_MAPPING_START_EVENT;
	struct sg_yaml_node *n = new_node(ps, map ? SG_YAML_MAP : SG_YAML_SEQ, &start->start_mark);
	yaml_char_t *anchor =
		map ? start->data.mapping_start.anchor : start->data.sequence_start.anchor;
	_cleanup_(sg_freep) char *anchor_copy = anchor ? strdup((const char *)anchor) : NULL;
	int r;

	if (!n || (anchor && !anchor_copy))
		return SG_E_NOMEM;
	if (depth >= SG_YAML_MAX_DEPTH)
		return fail(ps, n->line, n->column, "document is nested deeper than 32 levels",
			    NULL);
	for (;;) {
		yaml_event_t ev;
		struct sg_yaml_node *child = NULL;

		if ((r = next(ps, &ev)) < 0)
			return r;
		if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (map) {
			unsigned kl = (unsigned)ev.start_mark.line + 1,
				 kc = (unsigned)ev.start_mark.column + 1;
			char *key;

			if (ev.type != YAML_SCALAR_EVENT) {
				yaml_event_delete(&ev);
				return fail(ps, kl, kc, "mapping keys must be plain strings", NULL);
			}
			r = scalar_text(ps, &ev, &key);
			yaml_event_delete(&ev);
			if (r < 0)
				return r;
			if (!strcmp(key, "<<")) {
				free(key);
				return fail(ps, kl, kc, "merge keys (<<) are not supported", NULL);
			}
			if ((r = reserve(n)) < 0) {
				free(key);
				return r;
			}
			n->keys[n->n] = key;
			n->key_lines[n->n] = kl;
			n->key_columns[n->n] = kc;
			if ((r = next(ps, &ev)) < 0) {
				free(key);
				return r;
			}
		}
		r = parse_node(ps, &ev, depth + 1, &child);
		yaml_event_delete(&ev);
		/* The key counts only once its value is pushed: until then it is ours to free. */
		if (r < 0 || (r = push(n, child)) < 0) {
			if (map)
				free(n->keys[n->n]);
			return r;
		}
	}
	if (map && (r = index_map(ps, n)) < 0)
		return r;
	if ((r = remember_anchor(ps, (yaml_char_t *)anchor_copy, n)) < 0)
		return r;
	*ret = n;
	return 0;
}

static int
parse_node(struct parser *ps, yaml_event_t *ev, unsigned depth, struct sg_yaml_node **ret)
{
	struct sg_yaml_node *n;
	int r;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = new_node(ps, SG_YAML_SCALAR, &ev->start_mark);
		if (!n)
			return SG_E_NOMEM;
		if ((r = scalar_text(ps, ev, &n->value)) < 0)
			return r;
		n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
			    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE ||
			    ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
			    ev->data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
		if ((r = remember_anchor(ps, ev->data.scalar.anchor, n)) < 0)
			return r;
		*ret = n;
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: return parse_collection(ps, ev, depth, ret);
	case YAML_ALIAS_EVENT:
		for (size_t i = ps->nanchors; i-- > 0;)
			if (!strcmp(ps->anchors[i].name, (const char *)ev->data.alias.anchor)) {
				/* Charge each expansion its full size: a 'billion laughs' fails fast. */
				ps->alias_nodes += ps->anchors[i].weight;
				if (ps->alias_nodes > SG_YAML_MAX_ALIAS_NODES)
					return fail(ps, (unsigned)ev->start_mark.line + 1,
						    (unsigned)ev->start_mark.column + 1,
						    "too many alias expansions", NULL);
				*ret = ps->anchors[i].node;
				return 0;
			}
		return fail(ps, (unsigned)ev->start_mark.line + 1,
			    (unsigned)ev->start_mark.column + 1, "unknown alias",
			    (const char *)ev->data.alias.anchor);
	default:
		return fail(ps, (unsigned)ev->start_mark.line + 1,
			    (unsigned)ev->start_mark.column + 1, "unexpected YAML event", NULL);
	}
}

int
sg_yaml_parse(const char *file, const uint8_t *data, size_t len, struct sg_yaml_doc **ret,
	      struct sg_error *err)
{
	struct parser ps = { .err = err };
	_cleanup_(sg_yaml_freep) struct sg_yaml_doc *d = calloc(1, sizeof(*d));
	yaml_event_t ev;
	int r = 0, stage = 0;

	if (!d || !(d->file = strdup(file)))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	if (len > SG_YAML_MAX_BYTES)
		return sg_error_set(err, SG_E_LIMIT, "%s: larger than %zu bytes", file,
				    SG_YAML_MAX_BYTES);
	ps.doc = d;
	if (!yaml_parser_initialize(&ps.p))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	yaml_parser_set_input_string(&ps.p, data, len);
	/* stream-start, document-start, node, document-end, stream-end: one document only. */
	while (r == 0) {
		if ((r = next(&ps, &ev)) < 0)
			break;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT) {
			if (stage++ > 0)
				r = fail(&ps, (unsigned)ev.start_mark.line + 1,
					 (unsigned)ev.start_mark.column + 1,
					 "only one YAML document is allowed", NULL);
			yaml_event_delete(&ev);
			continue;
		}
		r = parse_node(&ps, &ev, 0, &d->root);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&ps.p);
	for (size_t i = 0; i < ps.nanchors; i++)
		free(ps.anchors[i].name);
	if (r == SG_E_NOMEM)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	if (r < 0)
		return r;
	*ret = SG_TAKE_PTR(d);
	return 0;
}

int
sg_yaml_load(const char *path, struct sg_yaml_doc **ret, struct sg_error *err)
{
	_cleanup_(sg_file_wipe_freep) struct sg_file *f = NULL;
	int r;

	if ((r = sg_file_map(path, SG_YAML_MAX_BYTES, "YAML file", &f, err)) < 0)
		return r;
	return sg_yaml_parse(path, f->data, f->len, ret, err);
}

void
sg_yaml_free_with(struct sg_yaml_doc *d, void (*release)(void *p))
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nall; i++) {
		struct sg_yaml_node *n = d->all[i];

		/* Any scalar may be a pin-value: wiped, value and key, before it is released. */
		if (n->value)
			OPENSSL_cleanse(n->value, strlen(n->value) + 1);
		release(n->value);
		for (size_t k = 0; n->keys && k < n->n; k++) {
			if (n->keys[k])
				OPENSSL_cleanse(n->keys[k], strlen(n->keys[k]) + 1);
			release(n->keys[k]);
		}
		release(n->keys);
		release(n->key_lines);
		release(n->key_columns);
		release(n->order);
		release(n->items);
		release(n);
	}
	release(d->all);
	release(d->file);
	release(d);
}

void
sg_yaml_free(struct sg_yaml_doc *d)
{
	sg_yaml_free_with(d, free);
}

const struct sg_yaml_node *
sg_yaml_map_get(const struct sg_yaml_node *map, const char *key)
{
	size_t lo = 0, hi;

	if (!map || map->kind != SG_YAML_MAP || !map->order)
		return NULL;
	hi = map->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(map->keys[map->order[mid]], key);

		if (c == 0)
			return map->items[map->order[mid]];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
want_scalar(const struct sg_yaml_doc *d, const struct sg_yaml_node *n, const char *what,
	    const char *type, struct sg_error *err)
{
	if (n->kind != SG_YAML_SCALAR)
		return sg_error_set(err, SG_E_FORMAT, "%s:%u:%u: %s must be %s", d->file, n->line,
				    n->column, what, type);
	return 0;
}

int
sg_yaml_string(const struct sg_yaml_doc *d, const struct sg_yaml_node *n, const char *what,
	       const char **ret, struct sg_error *err)
{
	int r = want_scalar(d, n, what, "a string", err);

	if (r < 0)
		return r;
	*ret = n->value;
	return 0;
}

int
sg_yaml_uint(const struct sg_yaml_doc *d, const struct sg_yaml_node *n, const char *what,
	     uint64_t max, uint64_t *ret, struct sg_error *err)
{
	int r = want_scalar(d, n, what, "an integer", err);

	if (r < 0)
		return r;
	if (n->quoted)
		return sg_error_set(err, SG_E_FORMAT,
				    "%s:%u:%u: %s must be an integer, not a quoted string", d->file,
				    n->line, n->column, what);
	/* The command line's grammar and messages, as the document's SG_E_FORMAT at FILE:LINE:COL. */
	if ((r = sg_parse_uint_code(n->value, max, what, SG_E_FORMAT, ret, err)) < 0)
		return sg_error_prefix(err, r, "%s:%u:%u: ", d->file, n->line, n->column);
	return 0;
}

int
sg_yaml_bool(const struct sg_yaml_doc *d, const struct sg_yaml_node *n, const char *what, bool *ret,
	     struct sg_error *err)
{
	int r = want_scalar(d, n, what, "true or false", err);

	if (r < 0)
		return r;
	if (!n->quoted && !strcmp(n->value, "true"))
		*ret = true;
	else if (!n->quoted && !strcmp(n->value, "false"))
		*ret = false;
	else
		return sg_error_set(err, SG_E_FORMAT, "%s:%u:%u: %s must be true or false", d->file,
				    n->line, n->column, what);
	return 0;
}
