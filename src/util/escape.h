/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Names from outside (guest names, manifest keys, libvirt domain names,
 * paths) on a terminal: one escaper for all human output, and the rule a
 * name must follow before sevgate records it.
 *
 * Escaped: C0 controls, DEL and NUL as \xHH; C1 controls (U+0080-U+009F),
 * bidirectional marks, embeddings, overrides and isolates (U+061C,
 * U+200E/F, U+202A-U+202E, U+2066-U+2069), the line/paragraph
 * separators U+2028/U+2029 and the invisible format characters (U+200B-U+200D,
 * U+2060-U+206F, U+FEFF, tags U+E0000-U+E007F) as \u{HEX}; each byte of invalid UTF-8
 * (overlong, surrogate, above U+10FFFF, truncated) as \xHH; a backslash
 * as \\ (as vis(3) does), so the output is never ambiguous. Everything else
 * is copied.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

/* The longest name sevgate records (a guest name), in bytes. */
#define SG_NAME_MAX 255

/*
 * Escape @len bytes of @s into @out (@size bytes, NUL-terminated; cut
 * before an escape or character that does not fit). Returns the length the
 * whole result needs, as snprintf does; @out may be NULL when @size is 0.
 */
size_t sg_str_escape(const char *s, size_t len, char *out, size_t size);
/* The escaped copy of the string @s (malloc'ed), or NULL without memory. */
char *sg_str_escape_dup(const char *s);
/*
 * True when @len bytes of @s are valid UTF-8 holding nothing sg_str_escape
 * writes as \xHH or \u{HEX} (no NUL); a backslash, only doubled, is printable.
 */
bool sg_str_printable(const char *s, size_t len);

/* True when @len bytes of @s are valid UTF-8. */
bool sg_utf8_valid(const char *s, size_t len);
/* The longest prefix of @s, at most @max bytes, that does not end inside a UTF-8 character. */
size_t sg_utf8_cut(const char *s, size_t max);
/* A copy of @s with each invalid UTF-8 byte replaced by U+FFFD (for JSON), or NULL. */
char *sg_utf8_sanitize(const char *s);

/*
 * The name rule: at most SG_NAME_MAX bytes of printable UTF-8 (what
 * sg_str_printable accepts). Returns 0, or reports SG_E_USAGE in @err naming
 * @what ("--guest"), never the name itself.
 */
SG_NODISCARD int sg_name_check(const char *name, const char *what, struct sg_error *err);
