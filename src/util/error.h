/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One error type for the whole library. A failing function reports once,
 * where the failure is found (sg_error_set), and returns the negative code;
 * callers only pass the code up, or add context in front of the message with
 * sg_error_prefix. The first message set wins. Nothing outside error.c
 * writes err->code or err->msg; reading them is fine.
 */
#pragma once

#include <stddef.h>

enum sg_errcode {
	SG_OK = 0,
	SG_E_NOMEM = -1,     /* out of memory */
	SG_E_IO = -2,	     /* a file could not be read or written */
	SG_E_FORMAT = -3,    /* malformed input bytes (OVMF, VMSA, base64...) */
	SG_E_TRUNCATED = -4, /* a read went past the end of its buffer */
	SG_E_USAGE = -5,     /* the request cannot be carried out as given */
	SG_E_INSECURE = -6,  /* the request would be insecure */
	SG_E_CONFIG = -7,    /* the guest's configuration cannot be measured */
	SG_E_STATE = -8,     /* the guest is in the wrong state */
	SG_E_MISMATCH = -9,  /* the measurement (or a MAC) does not match */
	SG_E_KEY = -10,	     /* a key cannot be opened or used */
	SG_E_TOKEN = -11,    /* a PKCS#11 token failed */
	SG_E_VIRT = -12,     /* libvirt failed */
	SG_E_CRYPTO = -13,   /* OpenSSL failed */
	SG_E_POLICY = -14,   /* release refused by policy */
	SG_E_LIMIT = -15,    /* a named size limit was exceeded */
	SG_E_INTERNAL = -16, /* a bug */
};

#define SG_ERROR_MSG_MAX 512

/*
 * On each function that returns a status (0 or a count on success, a
 * negative SG_E_* on failure): a caller that drops it has a bug. Where
 * dropping it is right, pass it to sg_status_ignore with a comment that says
 * why (GCC does not take a (void) cast as using the result).
 */
#define SG_NODISCARD __attribute__((warn_unused_result))

static inline void
sg_status_ignore(int status)
{
	(void)status;
}

struct sg_error {
	int code;
	char msg[SG_ERROR_MSG_MAX];
};

/*
 * Record the failure in @err (may be NULL) unless a message is already set,
 * and return @code so the caller can write "return sg_error_set(...)".
 */
int sg_error_set(struct sg_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Add context in front of the failure already in @err (may be NULL), as in
 * "return sg_error_prefix(err, r, \"%s: \", path);", and return @code.
 * The first failure still wins: err->code is kept, the prefix is put in
 * front of its message. The result is cut to SG_ERROR_MSG_MAX - 1 bytes at
 * a UTF-8 character boundary (the end of the old message goes first).
 * When @err holds no failure yet (the callee was given NULL, or reported
 * nothing), @code (if negative) is recorded, with the prefix followed by
 * sg_error_name(@code) as the message, which is what a front end prints for
 * a failure without a message. A @code >= 0 on an empty @err records nothing.
 */
int sg_error_prefix(struct sg_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Give the failure already in @err the class @code, its message unchanged,
 * and return @code: for a layer that gives a lower layer's failure another
 * meaning (a malformed manifest, SG_E_FORMAT or SG_E_LIMIT from the YAML
 * tree, is its command's usage error, SG_E_USAGE). Say so where it is called:
 * it is the one place a failure changes class. When @err holds no failure,
 * as sg_error_prefix with an empty prefix: a negative @code is recorded with
 * sg_error_name(@code) as the message. @err may be NULL.
 */
int sg_error_recode(struct sg_error *err, int code);

/*
 * A failure that outranks the one already in @err, which becomes its context:
 * @err gets @code and the message "NEW (OLD)", NEW formatted from @fmt, OLD the
 * message that was there (cut first when the result is too long). Returns
 * @code. For a second failure that makes the first unprovable (the audit log
 * cannot record a guest's refusal: the log's failure is what the caller must
 * act on). When @err holds no failure, as sg_error_set. @err may be NULL.
 */
int sg_error_outrank(struct sg_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Clear @err for reuse. */
void sg_error_clear(struct sg_error *err);

/* Static name of @code, e.g. "SG_E_FORMAT". */
const char *sg_error_name(int code);
