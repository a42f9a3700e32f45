/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The token entry, shared by p11.c (sessions, login, recovery) and p11-index.c (the key
 * index); nothing else sees inside it.
 */
#pragma once

#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include "key/p11.h"
#include "util/secmem.h"

/* Lookups of a missing key answered without a search within this many seconds of the last. */
#define SG_P11_MISS_INTERVAL 1.0
#define SG_P11_MISS_SLOTS 32
/* A key whose handle went stale is searched for again until the wait passes this (µs). */
#define SG_P11_GONE_WAIT_US 320000

/* A search for a key that found nothing: its attributes, and when. */
struct sg_p11_miss {
	uint8_t query[256];
	size_t len;
	double when;
};

/* A loaded module (p11.c). */
struct sg_p11_module;

struct sg_p11_token {
	/* Fixed once made. */
	CK_FUNCTION_LIST *fl;
	char label[33];
	/* Which token this is, also after a reset moved it to another slot. */
	unsigned char label_raw[32], serial[16], manufacturer[32];
	bool login_required;
	pthread_mutex_t own_lock;
	pthread_mutex_t *lock; /* &own_lock, or the module's when it cannot lock itself */
	struct sg_p11_module *mod;
	struct sg_p11_token *next;

	CK_SLOT_ID home; /* the slot it was found in: under state.lock, not *lock */

	/* Under *lock. */
	CK_SLOT_ID slot; /* where its sessions are opened (a reset may move it) */
	CK_SESSION_HANDLE ro, rw;
	bool have_ro, have_rw, logged_in;
	uint64_t gen; /* bumped when the sessions are re-established: handles looked up again */
	uint64_t seen_resets; /* the module's resets when this token last checked its sessions */
	/* The PIN file to read again for a login after a reset (NULL: none is kept). */
	char *pin_path;
	const char *pin_what;
	bool pin_refused;    /* the token refused the PIN of a file, as it was then: */
	struct stat refused; /* that file (a changed file is tried again) */
	bool held_refused;   /* it refused a PIN given in a URI or typed (not tried again) */
	struct sg_p11_stats stats;

	/*
	 * The key index (p11-index.c): finding a key with C_FindObjects costs tens of
	 * milliseconds once a token holds thousands of one-time launch keys, so URIs are
	 * resolved against this copy instead.
	 */
	bool full; /* the index holds every secret key (plus those found or created since) */
	struct sg_p11_keyent **by_id, **by_label; /* the same entries, sorted two ways */
	size_t nkeys, capkeys;
	unsigned lookups;
	struct sg_p11_miss misses[SG_P11_MISS_SLOTS];
	size_t nextmiss;
};

/* Seconds on the monotonic clock. */
double sg_p11_now(void);

/* Under the lock: forget every index entry (sg_p11_shutdown). */
void sg_p11_index_clear(struct sg_p11_token *t);
/*
 * Under the lock, after a reset: the handles are no longer trusted. The index is emptied; one
 * that was full is read again in full at its next use.
 */
void sg_p11_index_reset(struct sg_p11_token *t);
