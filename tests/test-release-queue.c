/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The release queue (src/engine/release-queue.c) with a stand-in release
 * step: which guests go together, that each is handed back exactly once,
 * back-pressure, shutdown and a failed flush.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vectors.h"
#include "engine/guest.h"
#include "engine/release-queue.h"

#define MAX_GUESTS 512

/* The stand-in: records every group, optionally held shut or failing. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool gate_closed;
	size_t nflush, in_flush;
	size_t sizes[MAX_GUESTS];
	int fail_group; /* the group (1-based) whose guests fail, 0 for none */
	/* done: how often each guest came back, in what order */
	struct sg_guest *order[MAX_GUESTS];
	size_t ndone;
	int results[MAX_GUESTS];
} S = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* A pointer the queue passes to the flush untouched: "there is an audit log". */
static int fake_audit;

static void
reset(void)
{
	pthread_mutex_lock(&S.lock);
	S.gate_closed = false;
	S.nflush = S.in_flush = S.ndone = 0;
	S.fail_group = 0;
	memset(S.sizes, 0, sizeof(S.sizes));
	pthread_mutex_unlock(&S.lock);
}

static void
flush(struct sg_guest **guests, size_t n, struct sg_audit *audit)
{
	size_t me;

	assert_ptr_equal(audit, (struct sg_audit *)&fake_audit);
	pthread_mutex_lock(&S.lock);
	me = ++S.nflush;
	S.sizes[me - 1] = n;
	S.in_flush++;
	pthread_cond_broadcast(&S.cond);
	while (S.gate_closed)
		pthread_cond_wait(&S.cond, &S.lock);
	S.in_flush--;
	pthread_mutex_unlock(&S.lock);
	for (size_t i = 0; i < n; i++)
		guests[i]->r = (int)me == S.fail_group ? SG_E_IO : 0;
}

static void
done(void *arg, struct sg_guest *gu)
{
	atomic_size_t *count = arg;

	pthread_mutex_lock(&S.lock);
	S.results[S.ndone] = gu->r;
	S.order[S.ndone++] = gu;
	pthread_mutex_unlock(&S.lock);
	atomic_fetch_add(count, 1);
}

static void
gate(bool closed)
{
	pthread_mutex_lock(&S.lock);
	S.gate_closed = closed;
	pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.lock);
}

/* Wait (bounded) until @n flushes are running. */
static void
wait_in_flush(size_t n)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&S.lock);
	while (S.in_flush < n)
		assert_int_equal(pthread_cond_timedwait(&S.cond, &S.lock, &until), 0);
	pthread_mutex_unlock(&S.lock);
}

static struct sg_guest guests[MAX_GUESTS];

static struct sg_guest *
guest(size_t i, enum sg_guest_step step)
{
	memset(&guests[i], 0, sizeof(guests[i]));
	guests[i].step = step;
	guests[i].idx = i;
	return &guests[i];
}

/* Every guest of @guests[0..n) came back exactly once. */
static void
assert_each_once(size_t n)
{
	assert_int_equal(S.ndone, n);
	for (size_t i = 0; i < n; i++) {
		size_t seen = 0;

		for (size_t k = 0; k < S.ndone; k++)
			seen += S.order[k] == &guests[i];
		assert_int_equal(seen, 1);
	}
}

static struct sg_release_queue *
queue(size_t group_max, size_t capacity, unsigned releasers, atomic_size_t *count)
{
	struct sg_release_queue_config c = { .audit = (struct sg_audit *)&fake_audit,
					     .group_max = group_max,
					     .capacity = capacity,
					     .releasers = releasers,
					     .flush = flush,
					     .done = done,
					     .done_arg = count };
	struct sg_release_queue *q = NULL;
	struct sg_error err = { 0 };

	assert_int_equal(sg_release_queue_new(&c, &q, &err), 0);
	assert_non_null(q);
	return q;
}

/* Guests that queue while a group is being released go together in the next groups. */
static void
test_groups_form_while_one_releases(void **state)
{
	atomic_size_t count = 0;
	struct sg_release_queue *q = queue(8, 64, 1, &count);
	struct sg_release_queue_stats st;
	struct sg_error err = { 0 };

	(void)state;
	reset();
	gate(true);
	assert_int_equal(sg_release_queue_submit(q, guest(0, SG_STEP_RELEASE), &err), 0);
	wait_in_flush(1); /* guest 0 is alone in group 1, held there */
	for (size_t i = 1; i <= 40; i++)
		assert_int_equal(sg_release_queue_submit(q, guest(i, SG_STEP_VERDICT), &err), 0);
	gate(false);
	sg_release_queue_drain(q);
	assert_int_equal(count, 41);
	assert_each_once(41);
	sg_release_queue_stats(q, &st);
	assert_int_equal(st.submitted, 41);
	assert_int_equal(st.done, 41);
	assert_int_equal(st.groups, 6); /* 1, then 40 in groups of 8 */
	assert_int_equal(st.largest_group, 8);
	assert_int_equal(st.inline_releases, 0);
	assert_int_equal(S.sizes[0], 1);
	for (size_t g = 1; g < 6; g++)
		assert_int_equal(S.sizes[g], 8);
	/* In submission order: the ring is FIFO and one releaser takes it in turn. */
	for (size_t i = 0; i < 41; i++)
		assert_ptr_equal(S.order[i], &guests[i]);
	sg_release_queue_free(q);
}

/* A guest owing nothing (never attested; a verdict with no log) never waits for a group. */
static void
test_nothing_owed_goes_at_once(void **state)
{
	atomic_size_t count = 0;
	struct sg_release_queue_config c = { .flush = flush, .done = done, .done_arg = &count };
	struct sg_release_queue *q = NULL, *qa = queue(8, 0, 1, &count);
	struct sg_release_queue_stats st;
	struct sg_error err = { 0 };

	(void)state;
	reset();
	assert_int_equal(sg_release_queue_new(&c, &q, &err), 0);
	gate(true); /* a flush would hang: none may happen */
	assert_int_equal(sg_release_queue_submit(qa, guest(0, SG_STEP_NONE), &err), 0);
	assert_int_equal(sg_release_queue_submit(q, guest(1, SG_STEP_VERDICT), &err), 0);
	assert_int_equal(sg_release_queue_submit(q, guest(2, SG_STEP_REFUSED), &err), 0);
	/* Handed back on the submitting thread, before submit returned. */
	assert_int_equal(count, 3);
	assert_int_equal(S.nflush, 0);
	sg_release_queue_stats(q, &st);
	assert_int_equal(st.groups, 0);
	assert_int_equal(st.done, 2);
	gate(false);
	sg_release_queue_free(q);
	sg_release_queue_free(qa);
	assert_each_once(3);
}

struct producer {
	struct sg_release_queue *q;
	size_t from, to;
	atomic_bool finished;
	struct sg_guest *own; /* its guests, or NULL: the shared table's, set up as it goes */
	/* Off the main thread no cmocka assert: what happened, checked after the join. */
	size_t accepted, refused, other;
};

static void *
produce(void *arg)
{
	struct producer *p = arg;
	struct sg_error err = { 0 };

	for (size_t i = p->from; i < p->to; i++) {
		struct sg_guest *gu = p->own ? &p->own[i] : guest(i, SG_STEP_RELEASE);
		int r = sg_release_queue_submit(p->q, gu, &err);

		if (r == 0)
			p->accepted++;
		else if (r == SG_E_STATE)
			p->refused++;
		else
			p->other++;
	}
	atomic_store(&p->finished, true);
	return NULL;
}

/* A full queue holds the producer back until the releaser takes a group. */
static void
test_full_queue_blocks_producer(void **state)
{
	atomic_size_t count = 0;
	struct sg_release_queue *q = queue(4, 4, 1, &count);
	struct producer p = { .from = 0, .to = 10 };
	struct sg_release_queue_stats st;
	size_t held;
	pthread_t t;

	(void)state;
	reset();
	p.q = q;
	gate(true);
	assert_int_equal(pthread_create(&t, NULL, produce, &p), 0);
	wait_in_flush(1);
	/* The held group (1 to 4 guests), 4 in the ring, and the next submit waits for room. */
	held = S.sizes[0];
	assert_true(held >= 1 && held <= 4);
	for (int i = 0; i < 1000; i++) {
		sg_release_queue_stats(q, &st);
		if (st.submitted == held + 5)
			break;
		usleep(1000);
	}
	usleep(50 * 1000);
	sg_release_queue_stats(q, &st);
	assert_int_equal(st.submitted, held + 5);
	assert_int_equal(st.done, 0);
	assert_false(atomic_load(&p.finished));
	gate(false);
	pthread_join(t, NULL);
	assert_int_equal(p.accepted, 10);
	sg_release_queue_drain(q);
	assert_int_equal(count, 10);
	assert_each_once(10);
	sg_release_queue_free(q);
}

/* A failed flush fails its group's guests only; the next group is released. */
static void
test_failed_flush_fails_its_group(void **state)
{
	atomic_size_t count = 0;
	struct sg_release_queue *q = queue(4, 16, 1, &count);
	struct sg_error err = { 0 };

	(void)state;
	reset();
	S.fail_group = 2;
	gate(true);
	assert_int_equal(sg_release_queue_submit(q, guest(0, SG_STEP_RELEASE), &err), 0);
	wait_in_flush(1);
	for (size_t i = 1; i <= 8; i++)
		assert_int_equal(sg_release_queue_submit(q, guest(i, SG_STEP_RELEASE), &err), 0);
	gate(false);
	sg_release_queue_drain(q);
	assert_each_once(9);
	/* Group 1: guest 0; group 2 (failed): 1-4; group 3: 5-8. */
	for (size_t i = 0; i < 9; i++)
		assert_int_equal(S.results[i], i >= 1 && i <= 4 ? SG_E_IO : 0);
	assert_int_equal(S.nflush, 3);
	sg_release_queue_free(q);
}

/* Shutdown releases what is queued, refuses what comes after, and may be called twice. */
static void
test_shutdown_drains_then_refuses(void **state)
{
	atomic_size_t count = 0;
	struct sg_release_queue *q = queue(0, 0, 2, &count);
	struct sg_error err = { 0 };

	(void)state;
	reset();
	for (size_t i = 0; i < 300; i++)
		assert_int_equal(sg_release_queue_submit(q, guest(i, SG_STEP_RELEASE), &err), 0);
	sg_release_queue_shutdown(q);
	assert_int_equal(count, 300);
	assert_each_once(300);
	TV_ASSERT_ERR(sg_release_queue_submit(q, guest(300, SG_STEP_RELEASE), &err), &err,
		      SG_E_STATE);
	assert_string_equal(err.msg, "the release queue is shut down");
	assert_int_equal(count, 300); /* the refused guest is still the caller's */
	sg_release_queue_shutdown(q);
	sg_release_queue_free(q);
}

static void *
shut(void *arg)
{
	sg_release_queue_shutdown(arg);
	return NULL;
}

/* Two threads shutting down at once: both return after the queue is drained. */
static void
test_concurrent_shutdown(void **state)
{
	atomic_size_t count = 0;
	struct sg_release_queue *q = queue(2, 8, 2, &count);
	struct sg_error err = { 0 };
	pthread_t a, b;

	(void)state;
	reset();
	for (size_t i = 0; i < 50; i++)
		assert_int_equal(sg_release_queue_submit(q, guest(i, SG_STEP_RELEASE), &err), 0);
	assert_int_equal(pthread_create(&a, NULL, shut, q), 0);
	assert_int_equal(pthread_create(&b, NULL, shut, q), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert_int_equal(count, 50);
	assert_each_once(50);
	sg_release_queue_free(q);
}

/* Many producers, groups of every size: each guest once, no group over the bound. */
static void
test_many_producers(void **state)
{
	atomic_size_t count = 0;
	struct sg_release_queue *q = queue(16, 32, 2, &count);
	struct producer p[4];
	pthread_t t[4];
	struct sg_release_queue_stats st;

	(void)state;
	reset();
	for (size_t i = 0; i < 4; i++) {
		p[i] = (struct producer){ .q = q, .from = i * 100, .to = (i + 1) * 100 };
		assert_int_equal(pthread_create(&t[i], NULL, produce, &p[i]), 0);
	}
	for (size_t i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(p[i].accepted, 100);
	}
	sg_release_queue_drain(q);
	assert_int_equal(count, 400);
	assert_each_once(400);
	sg_release_queue_stats(q, &st);
	assert_true(st.largest_group <= 16);
	assert_true(st.groups >= 400 / 16);
	for (size_t g = 0; g < S.nflush; g++)
		assert_true(S.sizes[g] >= 1 && S.sizes[g] <= 16);
	sg_release_queue_free(q);
}

/* A guest of the shutdown race: handed back once, counted without the shared table. */
static void
count_done(void *arg, struct sg_guest *gu)
{
	(void)gu;
	atomic_fetch_add((atomic_size_t *)arg, 1);
}

static void
flush_nothing(struct sg_guest **group, size_t n, struct sg_audit *audit)
{
	(void)group, (void)n, (void)audit;
}

/*
 * Shutdown while producers wait for room in a full ring: every submit either is
 * refused (shutdown had begun) or its guest comes back; shutdown never hangs.
 */
static void
test_shutdown_with_blocked_producers(void **state)
{
	enum {
		PRODUCERS = 6,
		EACH = 40
	};
	static struct sg_guest many[PRODUCERS * EACH];

	size_t raced = 0;

	(void)state;
	for (int round = 0; round < 300; round++) {
		atomic_size_t count = 0;
		struct sg_release_queue_config c = { .audit = (struct sg_audit *)&fake_audit,
						     .group_max = 1,
						     .capacity = 1,
						     .releasers = 2,
						     .flush = flush_nothing,
						     .done = count_done,
						     .done_arg = &count };
		struct sg_release_queue *q = NULL;
		struct sg_error err = { 0 };
		struct producer p[PRODUCERS];
		pthread_t t[PRODUCERS];
		size_t accepted = 0, refused = 0, done;

		assert_int_equal(sg_release_queue_new(&c, &q, &err), 0);
		for (size_t i = 0; i < PRODUCERS * EACH; i++)
			many[i] = (struct sg_guest){ .step = SG_STEP_RELEASE };
		for (size_t i = 0; i < PRODUCERS; i++) {
			p[i] = (struct producer){
				.q = q, .from = i * EACH, .to = (i + 1) * EACH, .own = many
			};
			assert_int_equal(pthread_create(&t[i], NULL, produce, &p[i]), 0);
		}
		usleep((useconds_t)(round % 7) * 50);
		sg_release_queue_shutdown(q);
		done = atomic_load(&count); /* what shutdown had handed back when it returned */
		for (size_t i = 0; i < PRODUCERS; i++) {
			pthread_join(t[i], NULL);
			assert_int_equal(p[i].other, 0);
			assert_int_equal(p[i].accepted + p[i].refused, EACH);
			accepted += p[i].accepted;
			refused += p[i].refused;
		}
		/* Every accepted guest came back before shutdown returned. */
		assert_int_equal(done, accepted);
		assert_int_equal(atomic_load(&count), accepted);
		raced += accepted > 0 && refused > 0;
		sg_release_queue_free(q);
	}
	/* Some rounds met shutdown mid-stream (both outcomes), or the race was never run. */
	assert_true(raced > 0);
}

static const struct config_case {
	const char *name;
	struct sg_release_queue_config c;
	const char *msg;
} config_cases[] = {
	{ "no-done", { .group_max = 4 }, "a release queue needs a done callback" },
	{ "group-too-big",
	  { .group_max = SG_RELEASE_GROUP_MAX + 1, .done = done },
	  "a release queue takes groups of 1 to 256 guests and 1 to 16 releasers" },
	{ "too-many-releasers",
	  { .releasers = 17, .done = done },
	  "a release queue takes groups of 1 to 256 guests and 1 to 16 releasers" },
};

static void
test_config(void **state)
{
	const struct config_case *t = *state;
	struct sg_release_queue *q = (void *)1;
	struct sg_error err = { 0 };

	TV_ASSERT_ERR(sg_release_queue_new(&t->c, &q, &err), &err, SG_E_USAGE);
	assert_string_equal(err.msg, t->msg);
	assert_null(q);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[16];
	size_t n = 0;

	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_groups_form_while_one_releases);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_nothing_owed_goes_at_once);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_full_queue_blocks_producer);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_failed_flush_fails_its_group);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_shutdown_drains_then_refuses);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_concurrent_shutdown);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_many_producers);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_shutdown_with_blocked_producers);
	for (size_t i = 0; i < SG_ELEMENTSOF(config_cases); i++)
		tests[n++] = (struct CMUnitTest){ config_cases[i].name, test_config, NULL, NULL,
						  (void *)&config_cases[i] };
	return tv_main(argc, argv, "release-queue", tests, n, NULL, 0);
}
