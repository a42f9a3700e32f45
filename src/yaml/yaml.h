/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A small YAML document tree over libyaml's event parser, for manifests
 * and the configuration file. Strict and bounded: duplicate keys, merge
 * keys, non-scalar keys, strings with a NUL, multiple documents, documents over 1 MiB or 32
 * levels deep, and more than a fixed number of alias expansions are all
 * errors carrying file:line:column.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/cleanup.h"
#include "util/error.h"

#define SG_YAML_MAX_BYTES ((size_t)1 << 20)
#define SG_YAML_MAX_DEPTH 32
#define SG_YAML_MAX_ALIAS_NODES 10000

enum sg_yaml_kind {
	SG_YAML_SCALAR,
	SG_YAML_SEQ,
	SG_YAML_MAP
};

struct sg_yaml_node {
	enum sg_yaml_kind kind;
	unsigned line, column; /* 1-based, where the node starts */
	/* Scalars: the text, and whether it was quoted (so "3" is a string, 3 an int). */
	char *value;
	bool quoted;
	/* Sequences: items; maps: keys[i] -> items[i]. Aliased nodes are shared, not copied. */
	struct sg_yaml_node **items;
	char **keys;
	unsigned *key_lines, *key_columns;
	size_t n, cap;
	/* Maps: the indices of keys[] in strcmp order (sg_yaml_map_get). */
	size_t *order;
};

struct sg_yaml_doc {
	struct sg_yaml_node *root; /* NULL for an empty document */
	char *file;
	/* Every node allocated, for freeing (aliases share nodes). */
	struct sg_yaml_node **all;
	size_t nall, capall;
};

/*
 * Parse @len bytes of @data as one YAML document; @file names it in messages.
 * Returns 0 and sets *@ret (free with sg_yaml_free; root NULL for an empty
 * document). On failure returns a negative code, reports it once in @err and
 * leaves *@ret alone: SG_E_LIMIT "FILE: larger than N bytes" over
 * SG_YAML_MAX_BYTES; SG_E_FORMAT "FILE:LINE:COL: ..." for a syntax error, a
 * second document, nesting deeper than SG_YAML_MAX_DEPTH, a duplicate, merge
 * (<<) or non-scalar key, a NUL in a scalar, an unknown alias, more than 256
 * anchors or SG_YAML_MAX_ALIAS_NODES nodes of alias expansion; SG_E_NOMEM.
 */
SG_NODISCARD int sg_yaml_parse(const char *file, const uint8_t *data, size_t len,
			       struct sg_yaml_doc **ret, struct sg_error *err);
/*
 * Read and parse @path (refusing files over SG_YAML_MAX_BYTES). Returns and
 * reports as sg_yaml_parse, with @path as FILE; a file that cannot be read
 * is SG_E_IO, one too large SG_E_LIMIT (both from sg_file_map).
 */
SG_NODISCARD int sg_yaml_load(const char *path, struct sg_yaml_doc **ret, struct sg_error *err);
/* Free @d (NULL is fine), wiping every scalar and key first. */
void sg_yaml_free(struct sg_yaml_doc *d);
/*
 * sg_yaml_free, handing each block to @release (free) instead: the tests
 * look at a scalar's bytes before they are released.
 */
void sg_yaml_free_with(struct sg_yaml_doc *d, void (*release)(void *p));
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_yaml_doc *, sg_yaml_free)

/*
 * The value of @key in the mapping @map (O(log n)); NULL when @map is NULL, not
 * a mapping, or has no such key. Reports nothing.
 */
const struct sg_yaml_node *sg_yaml_map_get(const struct sg_yaml_node *map, const char *key);

/*
 * Typed scalar reads. Each returns 0 and sets *@ret, or returns SG_E_FORMAT,
 * leaves *@ret alone and reports "FILE:LINE:COL: @what must be ..." in @err:
 * sg_yaml_string takes any scalar (*@ret points into the tree);
 * sg_yaml_uint an unquoted decimal or 0x-hex integer no larger than @max (the
 * grammar and messages of sg_parse_uint, after FILE:LINE:COL);
 * sg_yaml_bool an unquoted true or false.
 */
SG_NODISCARD int sg_yaml_string(const struct sg_yaml_doc *d, const struct sg_yaml_node *n,
				const char *what, const char **ret, struct sg_error *err);
SG_NODISCARD int sg_yaml_uint(const struct sg_yaml_doc *d, const struct sg_yaml_node *n,
			      const char *what, uint64_t max, uint64_t *ret, struct sg_error *err);
SG_NODISCARD int sg_yaml_bool(const struct sg_yaml_doc *d, const struct sg_yaml_node *n,
			      const char *what, bool *ret, struct sg_error *err);
