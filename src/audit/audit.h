/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The audit log: JSON Lines, one signed, hash-chained record per event
 * (verdict, release-intent, released, refused, checkpoint). A record is
 * written and fsync'ed before what it records happens, so a secret never
 * leaves without its release-intent record; appends take an exclusive
 * lock, so concurrent writers never interleave or fork the chain.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "core/crypto.h"
#include "key/key.h"
#include "util/cleanup.h"
#include "util/error.h"

#define SG_AUDIT_HEAD_HEX 64
/*
 * The record format's version, the "v" member of every record written
 * (docs/audit.md, "Versions"); a record without one is of version 0. New
 * members go after it, before sig, and readers accept members they do not
 * know.
 */
#define SG_AUDIT_VERSION 1
/*
 * The longest record line, its '\n' included: the writer refuses a longer
 * record (nothing written) and the readers (the tail read before an
 * append, audit verify and show) read no further for one line.
 */
#define SG_AUDIT_LINE_MAX (64 * 1024)
/*
 * Free text from outside (a reason, a guest name, a key name) is stored as
 * at most this many bytes: a longer text is cut on a UTF-8 character
 * boundary and marked by SG_AUDIT_TRUNCATED, the marker within the bound.
 */
#define SG_AUDIT_TEXT_MAX 1024
#define SG_AUDIT_TRUNCATED "...[truncated]"

struct sg_audit;

/*
 * What a record records (docs/audit.md, "Events"). The numbers are this
 * API's only: a record holds the event's name (sg_audit_event_name). New
 * events are added at the end (a later one: session-created).
 */
enum sg_audit_event_type {
	SG_AUDIT_EVENT_NONE = 0, /* no event: never written (sg_audit_append refuses it) */
	SG_AUDIT_EVENT_VERDICT,
	SG_AUDIT_EVENT_RELEASE_INTENT,
	SG_AUDIT_EVENT_RELEASED,
	SG_AUDIT_EVENT_REFUSED,
	SG_AUDIT_EVENT_CHECKPOINT,
};

/*
 * The name a record holds for @type ("verdict", "release-intent", ...):
 * static text, or NULL for SG_AUDIT_EVENT_NONE and a value that is no event.
 */
const char *sg_audit_event_name(enum sg_audit_event_type type);

/* One record's content; NULL/absent members are written as null. */
struct sg_audit_event {
	enum sg_audit_event_type event;
	const char *guest;
	const uint8_t *manifest_sha256;
	const uint8_t *firmware_sha256, *kernel_sha256, *initrd_sha256, *cmdline_sha256;
	const uint8_t *measurement; /* 48 bytes */
	bool have_platform;
	uint8_t api_major, api_minor, build_id;
	uint32_t policy;
	const uint8_t *launch_digest;
	const char *verdict;
	const struct {
		const char *guid;
		size_t length;
	} * secrets;
	size_t nsecrets;
	const char *const *keys; /* key URIs or file: descriptions, never a PIN */
	size_t nkeys;
	const char *reason; /* refused: why */
};

/* Who writes a record: its actor member. */
struct sg_audit_actor {
	uid_t uid;
	const char *user, *host;
};

/*
 * The signed form of a record (its line without the sig member and the
 * '\n', docs/audit.md "Signature"): @ev by @actor, numbered @seq, written at
 * @when (UTC, to the second), after the record whose hash is @prev (64 hex
 * digits). It is what the log signs and writes, member for member. Returns
 * 0 and the text in @ret (free it), or reports in @err SG_E_INTERNAL (no
 * event), SG_E_USAGE (@when out of range) or SG_E_NOMEM.
 */
SG_NODISCARD int sg_audit_render(const struct sg_audit_event *ev,
				 const struct sg_audit_actor *actor, unsigned long long seq,
				 time_t when, const char *prev, char **ret, struct sg_error *err);

/*
 * Open @path for appending, signing with @key_spec: a PEM private key file
 * (EC P-256) or a pkcs11: URI of a token EC key (checked, not used, here;
 * @kopts, optional, for its PIN). The file is created 0600 (and its
 * directory fsync'ed) if it does not exist; an existing one is appended to
 * as it is, never through a symbolic link. @c is borrowed and must outlive
 * the log. Returns 0 and the log in @ret (sg_audit_close), or reports in
 * @err: SG_E_IO (the key or the log cannot be opened), SG_E_KEY (not a PEM
 * private key), SG_E_USAGE (not an EC P-256 key), the key interface's
 * errors for a token key, SG_E_NOMEM.
 */
SG_NODISCARD int
sg_audit_open(struct sg_crypto *c, const char *path, const char *key_spec,
	      const struct sg_key_options *kopts, struct sg_audit **ret, struct sg_error *err);
/*
 * Append one record, fsync'ed before return; @ret_head (65 bytes) gets its
 * hash, if non-NULL. Safe from several threads (group commit) and several
 * processes (file lock). Returns 0, or reports in @err: SG_E_LIMIT (its
 * line would be longer than SG_AUDIT_LINE_MAX), SG_E_INTERNAL (no event),
 * SG_E_FORMAT (the log's end is damaged, not a torn record: left as it is),
 * SG_E_IO (cannot lock, read, write or sync the log: the write is cut back),
 * SG_E_CRYPTO or the key interface's errors (signing), SG_E_NOMEM. On any
 * error the record is not in the log.
 */
SG_NODISCARD int sg_audit_append(struct sg_audit *a, const struct sg_audit_event *ev,
				 char *ret_head, struct sg_error *err);
/* One record of sg_audit_append_many, and its outcome. */
struct sg_audit_entry {
	const struct sg_audit_event *ev;
	char *head;	      /* optional: the record's hash (65 bytes) */
	struct sg_error *err; /* this record's error */
	int rc;		      /* out: 0 or this record's error code */
};
/*
 * Append @n records in this order, all durable with one fdatasync before
 * return (a batch's group commit). Each entry gets its own outcome in @rc
 * and @err, as sg_audit_append reports it; a failure of the whole group (the
 * lock, the log's end, the write) is reported in each of its records with
 * the same message. Returns the first entry's error code, or 0.
 */
SG_NODISCARD int sg_audit_append_many(struct sg_audit *a, struct sg_audit_entry *entries, size_t n);
/*
 * Append the checkpoint record that closes a batch (its hash, in @ret_head
 * if non-NULL, is the log's head). Returns and reports as sg_audit_append.
 */
SG_NODISCARD int sg_audit_checkpoint(struct sg_audit *a, char *ret_head, struct sg_error *err);
/* Close @a (NULL is a no-op; no append may be under way), wiping a token key's URI. */
void sg_audit_close(struct sg_audit *a);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_audit *, sg_audit_close)

/* What sg_audit_read_line found. */
enum sg_audit_line {
	SG_AUDIT_LINE_OK,    /* a line ending in '\n' */
	SG_AUDIT_LINE_EOF,   /* nothing more */
	SG_AUDIT_LINE_TORN,  /* the last bytes of the file, without a '\n' */
	SG_AUDIT_LINE_LONG,  /* longer than SG_AUDIT_LINE_MAX */
	SG_AUDIT_LINE_ERROR, /* a read error (errno) */
};
/*
 * Read one line from @f into @buf (SG_AUDIT_LINE_MAX + 1 bytes), never more
 * than SG_AUDIT_LINE_MAX bytes: @ret_len gets its length ('\n' included) and
 * @buf is NUL-terminated after it. A longer line is SG_AUDIT_LINE_LONG, with
 * @f after its first SG_AUDIT_LINE_MAX + 1 bytes or, with @skip_long, after
 * its '\n'. Returns what it found (enum sg_audit_line); reports nothing (a
 * read error is SG_AUDIT_LINE_ERROR, with errno).
 */
enum sg_audit_line sg_audit_read_line(FILE *f, char *buf, size_t *ret_len, bool skip_long);

/* One secret of a summarised record. */
struct sg_audit_summary_secret {
	const char *guid, *length;
};
/*
 * One line of the log as `audit show` lists it, read without checking its
 * signature: each member as text whatever its JSON type (a non-string as
 * its JSON text), NULL when absent or null. The texts belong to the
 * summary (sg_audit_summary_clear).
 */
struct sg_audit_summary {
	const char *seq, *time, *event, *guest, *verdict, *launch_digest, *reason;
	struct sg_audit_summary_secret *secrets; /* guid/length NULL when absent */
	size_t nsecrets;
	void *record; /* the parsed line */
};
/*
 * Summarise @line (@len bytes, then a NUL; its '\n' may be included) into
 * @ret. Returns 0, or reports in @err SG_E_FORMAT "not a record" (not a
 * JSON object with a seq member, or a NUL byte within @len) or SG_E_NOMEM;
 * on error @ret holds nothing to clear.
 */
SG_NODISCARD int sg_audit_summary_parse(const char *line, size_t len, struct sg_audit_summary *ret,
					struct sg_error *err);
/* Free what sg_audit_summary_parse gave @s, and zero it; a zeroed @s is a no-op. */
void sg_audit_summary_clear(struct sg_audit_summary *s);

/*
 * Verify every record of @path: its signature (with @pubkey_pem), its seq
 * and its link to the previous record; with @expect_head, that the last
 * record has that hash (a cut tail). Members other than seq and prev are
 * not read: a record may hold members this version does not know. A torn last line is not counted. Returns 0, with @ret_count and
 * @ret_head (65 bytes; both optional) describing the log, or reports in
 * @err: SG_E_MISMATCH naming the first bad record by line and seq, SG_E_IO
 * (the log cannot be read), SG_E_KEY (the public key cannot be read),
 * SG_E_USAGE (not an EC P-256 key), SG_E_NOMEM.
 */
SG_NODISCARD int
sg_audit_verify(struct sg_crypto *c, const char *path, const char *pubkey_pem,
		const char *expect_head, size_t *ret_count, char *ret_head, struct sg_error *err);
