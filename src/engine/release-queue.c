/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/release-queue.h"

#include <pthread.h>
#include <stdlib.h>

#include "engine/guest.h"
#include "engine/release.h"

#define RELEASERS_DEFAULT 2
#define RELEASERS_MAX 16

struct sg_release_queue {
	struct sg_release_queue_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t filled;	 /* a guest was queued, or shutdown began */
	pthread_cond_t drained;	 /* room in the ring */
	pthread_cond_t finished; /* more guests were handed to done */
	struct sg_guest **ring;
	size_t head, len;
	size_t waiting; /* submitters waiting for room: accepted, not yet in the ring */
	bool stopping, stopped;
	pthread_t threads[RELEASERS_MAX];
	size_t nthreads;
	struct sg_release_queue_stats stats;
};

/* The release step for @n guests, then each handed to done. Called unlocked. */
static void
release(struct sg_release_queue *q, struct sg_guest **group, size_t n, bool flush)
{
	if (flush)
		q->cfg.flush(group, n, q->cfg.audit);
	for (size_t i = 0; i < n; i++)
		q->cfg.done(q->cfg.done_arg, group[i]);
	pthread_mutex_lock(&q->lock);
	q->stats.done += n;
	if (flush) {
		q->stats.groups++;
		if (n > q->stats.largest_group)
			q->stats.largest_group = n;
	}
	pthread_cond_broadcast(&q->finished);
	pthread_mutex_unlock(&q->lock);
}

/*
 * A releaser: takes whatever is queued (up to a group) and runs its release
 * step while the producers attest on, so the log's signatures, which must
 * be made one after the other, overlap the attestations.
 */
static void *
releaser(void *arg)
{
	struct sg_release_queue *q = arg;
	struct sg_guest **group = calloc(q->cfg.group_max, sizeof(*group));

	for (;;) {
		size_t n = 0;

		pthread_mutex_lock(&q->lock);
		/* Shut down and empty: done, unless a submitter still waits to hand one over. */
		while (q->len == 0 && !(q->stopping && q->waiting == 0))
			pthread_cond_wait(&q->filled, &q->lock);
		while (group && q->len > 0 && n < q->cfg.group_max) {
			group[n++] = q->ring[q->head];
			q->head = (q->head + 1) % q->cfg.capacity;
			q->len--;
		}
		/* Without memory for a group, one guest at a time from the ring itself. */
		if (!group && q->len > 0) {
			struct sg_guest *one = q->ring[q->head];

			q->head = (q->head + 1) % q->cfg.capacity;
			q->len--;
			pthread_cond_broadcast(&q->drained);
			pthread_mutex_unlock(&q->lock);
			release(q, &one, 1, true);
			continue;
		}
		pthread_cond_broadcast(&q->drained);
		pthread_mutex_unlock(&q->lock);
		if (n == 0)
			break;
		release(q, group, n, true);
	}
	free(group);
	return NULL;
}

int
sg_release_queue_new(const struct sg_release_queue_config *cfg, struct sg_release_queue **ret,
		     struct sg_error *err)
{
	struct sg_release_queue *q;
	unsigned want;

	*ret = NULL;
	if (!cfg->done)
		return sg_error_set(err, SG_E_USAGE, "a release queue needs a done callback");
	if (cfg->group_max > SG_RELEASE_GROUP_MAX || cfg->releasers > RELEASERS_MAX)
		return sg_error_set(err, SG_E_USAGE,
				    "a release queue takes groups of 1 to %d guests and 1 to %d "
				    "releasers",
				    SG_RELEASE_GROUP_MAX, RELEASERS_MAX);
	if (!(q = calloc(1, sizeof(*q))))
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	q->cfg = *cfg;
	if (!q->cfg.group_max)
		q->cfg.group_max = SG_RELEASE_GROUP_MAX;
	if (!q->cfg.capacity)
		q->cfg.capacity = 2 * q->cfg.group_max;
	if (!q->cfg.flush)
		q->cfg.flush = sg_release_group;
	want = q->cfg.releasers ? q->cfg.releasers : RELEASERS_DEFAULT;
	if (!(q->ring = calloc(q->cfg.capacity, sizeof(*q->ring)))) {
		free(q);
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->filled, NULL);
	pthread_cond_init(&q->drained, NULL);
	pthread_cond_init(&q->finished, NULL);
	for (unsigned i = 0; i < want; i++)
		if (pthread_create(&q->threads[q->nthreads], NULL, releaser, q) == 0)
			q->nthreads++;
	*ret = q;
	return 0;
}

int
sg_release_queue_submit(struct sg_release_queue *q, struct sg_guest *gu, struct sg_error *err)
{
	bool queue = sg_guest_owes_release(gu, q->cfg.audit != NULL);

	pthread_mutex_lock(&q->lock);
	if (q->stopping) {
		pthread_mutex_unlock(&q->lock);
		return sg_error_set(err, SG_E_STATE, "the release queue is shut down");
	}
	q->stats.submitted++;
	if (queue && q->nthreads > 0) {
		/*
		 * Accepted now, even if shutdown begins while it waits for room: the
		 * releasers stay until every waiting guest is in the ring and released.
		 */
		q->waiting++;
		while (q->len == q->cfg.capacity)
			pthread_cond_wait(&q->drained, &q->lock);
		q->waiting--;
		q->ring[(q->head + q->len++) % q->cfg.capacity] = gu;
		/* Shutting down, every releaser must see the last waiter go, not just one. */
		if (q->stopping)
			pthread_cond_broadcast(&q->filled);
		else
			pthread_cond_signal(&q->filled);
		pthread_mutex_unlock(&q->lock);
		return 0;
	}
	if (queue)
		q->stats.inline_releases++;
	pthread_mutex_unlock(&q->lock);
	/* Nothing to record or release (or no releaser): on this thread, now. */
	release(q, &gu, 1, queue);
	return 0;
}

void
sg_release_queue_drain(struct sg_release_queue *q)
{
	pthread_mutex_lock(&q->lock);
	for (size_t target = q->stats.submitted; q->stats.done < target;)
		pthread_cond_wait(&q->finished, &q->lock);
	pthread_mutex_unlock(&q->lock);
}

void
sg_release_queue_shutdown(struct sg_release_queue *q)
{
	pthread_mutex_lock(&q->lock);
	if (q->stopping) { /* another caller is joining the releasers, or has */
		while (!q->stopped)
			pthread_cond_wait(&q->finished, &q->lock);
		pthread_mutex_unlock(&q->lock);
		return;
	}
	q->stopping = true;
	pthread_cond_broadcast(&q->filled);
	pthread_mutex_unlock(&q->lock);
	/* The releasers empty the ring before they see stopping with nothing left. */
	for (size_t i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	sg_release_queue_drain(q);
	pthread_mutex_lock(&q->lock);
	q->nthreads = 0;
	q->stopped = true;
	pthread_cond_broadcast(&q->finished);
	pthread_mutex_unlock(&q->lock);
}

void
sg_release_queue_stats(struct sg_release_queue *q, struct sg_release_queue_stats *ret)
{
	pthread_mutex_lock(&q->lock);
	*ret = q->stats;
	pthread_mutex_unlock(&q->lock);
}

void
sg_release_queue_free(struct sg_release_queue *q)
{
	if (!q)
		return;
	sg_release_queue_shutdown(q);
	pthread_cond_destroy(&q->finished);
	pthread_cond_destroy(&q->drained);
	pthread_cond_destroy(&q->filled);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	free(q);
}
