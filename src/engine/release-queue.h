/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The release queue: attested guests in, released guests out, in groups.
 * One group's release step (engine/release.h) costs two fdatasyncs of the
 * audit log and one sync of the secret files however many guests it holds,
 * so a producer that submits guests as they are attested (a batch's
 * workers, the service's event threads) gets group commit for free: the
 * longer a release step takes, the more guests wait for the next one.
 * Offline (files) and online (injection) guests go alike.
 *
 *   submit   hand over an attested guest; waits while the queue is full
 *   drain    wait until every guest submitted so far is done
 *   shutdown drain, then stop the releaser threads; submit is refused after
 *
 * Each guest is handed back once, to the done callback, after its group's
 * release step: the callback owns it then (report, free). The queue owns
 * its state and locks it; every function may be called from any thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/cleanup.h"
#include "util/error.h"

struct sg_audit;
struct sg_guest;
struct sg_release_queue;

/* The release step for one group (default: sg_release_group). */
typedef void (*sg_release_flush_fn)(struct sg_guest **guests, size_t n, struct sg_audit *audit);
/* A guest whose release step is over (successfully or not): the callee owns it. */
typedef void (*sg_release_done_fn)(void *arg, struct sg_guest *gu);

#define SG_RELEASE_GROUP_MAX 256

struct sg_release_queue_config {
	struct sg_audit *audit;	   /* where the group's records go, or NULL */
	size_t group_max;	   /* guests per group, 1..SG_RELEASE_GROUP_MAX (0: the max) */
	size_t capacity;	   /* guests waiting before submit blocks (0: 2 * group_max) */
	unsigned releasers;	   /* threads (0: 2: one signs while the other writes) */
	sg_release_flush_fn flush; /* NULL: sg_release_group */
	sg_release_done_fn done;   /* required */
	void *done_arg;
};

/* What the queue has done so far. */
struct sg_release_queue_stats {
	size_t submitted, done, groups, largest_group;
	size_t inline_releases; /* guests released on the submitting thread (no releaser) */
};

/*
 * A queue with @cfg (copied), its releaser threads started. Returns 0, or
 * SG_E_USAGE for a bad configuration, SG_E_NOMEM. When no thread can be
 * started the queue still works: each guest is released as it is submitted.
 */
SG_NODISCARD int sg_release_queue_new(const struct sg_release_queue_config *cfg,
				      struct sg_release_queue **ret, struct sg_error *err);

/*
 * Hand over @gu, attested (sg_guest_attest). A guest that owes the release
 * step nothing is handed to done at once, on this thread. Returns 0 (the
 * queue owns @gu until done gets it), or SG_E_STATE when shutdown began
 * before the call (@gu is still the caller's). A submit that waits for room
 * when shutdown begins is accepted: shutdown waits for it to be released.
 */
SG_NODISCARD int
sg_release_queue_submit(struct sg_release_queue *q, struct sg_guest *gu, struct sg_error *err);

/* Wait until every guest submitted before the call has been handed to done. */
void sg_release_queue_drain(struct sg_release_queue *q);

/* Drain, then stop and join the releasers. Idempotent. */
void sg_release_queue_shutdown(struct sg_release_queue *q);

/* Copy the counters of @q so far into *@ret (under the queue's lock; any thread). */
void sg_release_queue_stats(struct sg_release_queue *q, struct sg_release_queue_stats *ret);

/* Shut down (if still running) and free. */
void sg_release_queue_free(struct sg_release_queue *q);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_release_queue *, sg_release_queue_free)
