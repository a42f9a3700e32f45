/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * src/util/secmem.c: one case per promise of secmem.h. Whole zeroed pages,
 * locked where the system allows it (VmLck in /proc/self/status), out of
 * core dumps (the "dd" VmFlag in /proc/self/smaps), wiped before they are
 * freed, NULL when a size cannot be had.
 *
 * Wiped on free is checked without reading freed memory: this executable
 * is linked with -Wl,--wrap=free (tests/CMakeLists.txt), so __wrap_free
 * sees a watched buffer while it is still allocated, just before the real
 * free. A single page the module keeps in its pool for reuse is never
 * freed at all; it stays allocated, so reading it through a kept pointer
 * is sound (and it must read as zeros).
 */
#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vectors.h"
#include "util/secmem.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* The sanitizers' mlock interceptors do nothing and return 0: VmLck does not move. */
#define MLOCK_OBSERVABLE 0
#else
#define MLOCK_OBSERVABLE 1
#endif

/* A size no allocator can give is a NULL return here, as the header says, not an abort. */
#ifdef __SANITIZE_ADDRESS__
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif
#ifdef __SANITIZE_THREAD__
const char *__tsan_default_options(void);
const char *
__tsan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif

/* --- Watching buffers at the moment they are freed. --- */

#define WATCH_MAX 128

static struct {
	const uint8_t *p;
	size_t len;
	bool armed, freed, wiped;
} watches[WATCH_MAX];

void __real_free(void *p);
void __wrap_free(void *p);

void
__wrap_free(void *p)
{
	for (size_t i = 0; p && i < WATCH_MAX; i++) {
		if (!watches[i].armed || watches[i].p != p)
			continue;
		watches[i].armed = false;
		watches[i].freed = true;
		watches[i].wiped = true;
		for (size_t j = 0; j < watches[i].len; j++)
			if (watches[i].p[j])
				watches[i].wiped = false;
	}
	__real_free(p);
}

static size_t
watch(const void *p, size_t len)
{
	for (size_t i = 0; i < WATCH_MAX; i++)
		if (!watches[i].armed) {
			watches[i].p = p;
			watches[i].len = len;
			watches[i].armed = true;
			watches[i].freed = watches[i].wiped = false;
			return i;
		}
	fail_msg("too many watched buffers");
	return 0;
}

static void
unwatch_all(void)
{
	memset(watches, 0, sizeof(watches));
}

static bool
all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * After sg_secmem_free of a buffer watched as @w: it was freed wiped, or
 * (a page kept for reuse) it is still allocated and reads as zeros.
 */
static void
assert_wiped_after_free(size_t w)
{
	if (watches[w].freed) {
		if (!watches[w].wiped)
			fail_msg("%zu bytes at %p were freed unwiped", watches[w].len,
				 (const void *)watches[w].p);
		return;
	}
	watches[w].armed = false;
	if (!all_zero(watches[w].p, watches[w].len))
		fail_msg("%zu bytes at %p kept for reuse unwiped", watches[w].len,
			 (const void *)watches[w].p);
}

/* --- /proc readers. --- */

static size_t
page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* VmLck of this process, in bytes. */
static size_t
vm_locked(void)
{
	char line[256];
	size_t kb = (size_t)-1;
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %zu kB", &kb) == 1)
			break;
	fclose(f);
	assert_true(kb != (size_t)-1);
	return kb * 1024;
}

/* Whether every mapping covering [@p, @p + @len) has the VmFlag @flag in /proc/self/smaps. */
static bool
vma_has_flag(const void *p, size_t len, const char *flag)
{
	uintptr_t lo = (uintptr_t)p, hi = lo + len, covered = lo;
	bool in = false, ok = true;
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		char *tok;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = s < hi && e > lo;
			if (in) {
				if (s > covered)
					ok = false; /* a hole */
				if (e > covered)
					covered = e;
			}
			continue;
		}
		if (!in || strncmp(line, "VmFlags:", 8))
			continue;
		ok = ok && ((tok = strstr(line + 8, flag)) && tok[-1] == ' ' &&
			    (tok[strlen(flag)] == ' ' || tok[strlen(flag)] == '\n'));
	}
	fclose(f);
	return ok && covered >= hi;
}

/* --- Sizes: rounding to pages, and sizes that cannot be had. --- */

enum len_kind {
	L_ZERO,
	L_ONE,
	L_PAGE_MINUS_1,
	L_PAGE,
	L_PAGE_PLUS_1,
	L_3_PAGES_PLUS_1,
	L_40_PAGES,
	L_WRAP,	    /* the smallest size whose page rounding overflows */
	L_SIZE_MAX, /* rounding wraps to 0 */
	L_HALF,	    /* no overflow, but more than any allocator gives */
};

struct case_new {
	const char *id;
	enum len_kind kind;
	size_t pages; /* the cap, in pages; 0: NULL */
};

static const struct case_new new_cases[] = {
	{ "new-zero-is-one-page", L_ZERO, 1 },	   { "new-one-byte", L_ONE, 1 },
	{ "new-page-minus-1", L_PAGE_MINUS_1, 1 }, { "new-exactly-a-page", L_PAGE, 1 },
	{ "new-page-plus-1", L_PAGE_PLUS_1, 2 },   { "new-3-pages-plus-1", L_3_PAGES_PLUS_1, 4 },
	{ "new-40-pages", L_40_PAGES, 40 },	   { "new-rounding-overflows-null", L_WRAP, 0 },
	{ "new-size-max-null", L_SIZE_MAX, 0 },	   { "new-half-address-space-null", L_HALF, 0 },
};

static size_t
case_len(enum len_kind k)
{
	size_t pg = page();

	switch (k) {
	case L_ZERO: return 0;
	case L_ONE: return 1;
	case L_PAGE_MINUS_1: return pg - 1;
	case L_PAGE: return pg;
	case L_PAGE_PLUS_1: return pg + 1;
	case L_3_PAGES_PLUS_1: return 3 * pg + 1;
	case L_40_PAGES: return 40 * pg;
	case L_WRAP: return SIZE_MAX - pg + 2;
	case L_SIZE_MAX: return SIZE_MAX;
	case L_HALF: return SIZE_MAX / 2 + 1;
	}
	return 0;
}

static void
test_new(void **state)
{
	const struct case_new *t = *state;
	size_t len = case_len(t->kind), cap = t->pages * page(), before = vm_locked(), w;
	struct sg_secmem *m = sg_secmem_new(len);

	if (!t->pages) {
		if (m)
			fail_msg("sg_secmem_new(%zu) gave len %zu cap %zu, want NULL", len, m->len,
				 m->cap);
		assert_int_equal(vm_locked(), before);
		return;
	}
	assert_non_null(m);
	assert_non_null(m->data);
	assert_int_equal(m->len, len);
	assert_int_equal(m->cap, cap);
	assert_int_equal((uintptr_t)m->data % page(), 0); /* whole pages of its own */
	assert_true(all_zero(m->data, m->cap));		  /* all of it, not just @len */
	assert_true(vma_has_flag(m->data, m->cap, "dd"));
	if (!MLOCK_OBSERVABLE) {
		/* Nothing to measure. */
	} else if (t->pages > 1) {
		/* Never pooled: this allocation's own mlock, or none. */
		assert_int_equal(vm_locked() - before, m->locked ? cap : 0);
	} else if (m->locked) {
		assert_true(vm_locked() >= cap);
	}
	memset(m->data, 0xa5, m->cap);
	w = watch(m->data, m->cap);
	sg_secmem_free(m);
	assert_wiped_after_free(w);
	if (t->pages > 1) {
		assert_true(watches[w].freed);
		if (MLOCK_OBSERVABLE)
			assert_int_equal(vm_locked(), before); /* unlocked before it was freed */
	}
}

/* Here (root or CAP_IPC_LOCK, or a RLIMIT_MEMLOCK that allows it) the pages are locked. */
static void
test_locked_when_allowed(void **state)
{
	struct rlimit rl;
	size_t before = vm_locked(), cap = 8 * page();
	struct sg_secmem *m;

	(void)state;
	if (!MLOCK_OBSERVABLE)
		skip();
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
	if (geteuid() != 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < before + cap)
		skip(); /* the system does not allow it: test_unlocked_when_refused's case */
	m = sg_secmem_new(cap);
	assert_non_null(m);
	assert_true(m->locked);
	assert_int_equal(vm_locked() - before, cap);
	sg_secmem_free(m);
	assert_int_equal(vm_locked(), before);
}

/* Drop CAP_IPC_LOCK from this process (a forked child). */
static int
drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	d[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	d[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
	d[CAP_IPC_LOCK / 32].inheritable &= ~(1u << (CAP_IPC_LOCK % 32));
	return (int)syscall(SYS_capset, &h, d);
}

/* Where mlock is refused (RLIMIT_MEMLOCK 0, no CAP_IPC_LOCK) the memory is still given. */
static void
test_unlocked_when_refused(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit zero = { 0, 0 };
		size_t before, cap = 3 * page();
		struct sg_secmem *m;

		if (setrlimit(RLIMIT_MEMLOCK, &zero) < 0 || drop_ipc_lock() < 0)
			_exit(2);
		if (mlock(&zero, sizeof(zero)) == 0)
			_exit(3); /* still allowed: nothing to test */
		before = vm_locked();
		m = sg_secmem_new(cap - 1); /* more than a page: never from the pool */
		if (!m || m->cap != cap || m->len != cap - 1)
			_exit(4);
		if (m->locked)
			_exit(5);
		if (vm_locked() != before)
			_exit(6);
		if (!all_zero(m->data, m->cap) || !vma_has_flag(m->data, m->cap, "dd"))
			_exit(7);
		memset(m->data, 1, m->cap);
		sg_secmem_free(m);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 3)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A page given back is wiped, and the next one-page buffer is zeroed, wherever it comes from. */
static void
test_page_reused_wiped(void **state)
{
	struct sg_secmem *a, *b;
	uint8_t *kept;
	size_t w;

	(void)state;
	a = sg_secmem_new(16);
	assert_non_null(a);
	memset(a->data, 0x5a, a->cap);
	kept = a->data;
	w = watch(kept, a->cap);
	sg_secmem_free(a);
	assert_wiped_after_free(w);
	b = sg_secmem_new(32);
	assert_non_null(b);
	assert_int_equal(b->len, 32);
	assert_int_equal(b->cap, page());
	assert_true(all_zero(b->data, b->cap));
	assert_true(vma_has_flag(b->data, b->cap, "dd"));
	if (b->data == kept)
		print_message("reused the page at %p\n", (void *)kept);
	sg_secmem_free(b);
	unwatch_all();
}

/* More single pages than the pool holds: the ones it keeps and the ones it frees are wiped. */
static void
test_pool_overflow_wiped(void **state)
{
	enum {
		N = 80
	};
	struct sg_secmem *m[N];
	size_t w[N], freed = 0;

	(void)state;
	unwatch_all();
	for (size_t i = 0; i < N; i++) {
		m[i] = sg_secmem_new(page());
		assert_non_null(m[i]);
		assert_true(all_zero(m[i]->data, m[i]->cap));
		memset(m[i]->data, (int)(0x80 | i), m[i]->cap);
	}
	for (size_t i = 0; i < N; i++) {
		w[i] = watch(m[i]->data, m[i]->cap);
		sg_secmem_free(m[i]);
	}
	for (size_t i = 0; i < N; i++) {
		freed += watches[w[i]].freed;
		assert_wiped_after_free(w[i]);
	}
	assert_true(freed >= N - 64); /* the pool keeps at most 64 */
	for (size_t i = 0; i < N; i++) {
		m[i] = sg_secmem_new(1);
		assert_non_null(m[i]);
		assert_true(all_zero(m[i]->data, m[i]->cap));
	}
	for (size_t i = 0; i < N; i++)
		sg_secmem_free(m[i]);
	unwatch_all();
}

/* Threads sharing the pool never get a page another one holds, nor one unwiped. */
#define THREADS 4
#define ROUNDS 400

static void *
churn(void *arg)
{
	uint8_t tag = (uint8_t)(uintptr_t)arg;

	for (int i = 0; i < ROUNDS; i++) {
		struct sg_secmem *a = sg_secmem_new(i % 3 ? 100 : 2 * page());
		struct sg_secmem *b = sg_secmem_new(200);

		if (!a || !b || a->data == b->data || !all_zero(a->data, a->cap) ||
		    !all_zero(b->data, b->cap))
			return (void *)1;
		memset(a->data, tag, a->cap);
		memset(b->data, tag, b->cap);
		sched_yield();
		for (size_t j = 0; j < a->cap; j++)
			if (a->data[j] != tag)
				return (void *)1; /* another thread wrote into our page */
		sg_secmem_free(a);
		sg_secmem_free(b);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	pthread_t th[THREADS];
	void *rv;

	(void)state;
	for (uintptr_t i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, churn, (void *)(i + 1)), 0);
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], &rv), 0);
		assert_null(rv);
	}
}

static void
test_free_null(void **state)
{
	(void)state;
	sg_secmem_free(NULL);
	sg_secmem_freep(&(struct sg_secmem *){ NULL });
	sg_str_wipe_free(NULL);
	sg_wipe(NULL, 16);
}

/* The cleanup attribute frees (and so wipes) at the end of the scope. */
static void
test_cleanup_attribute(void **state)
{
	size_t w;

	(void)state;
	{
		_cleanup_(sg_secmem_freep) struct sg_secmem *m = sg_secmem_new(5 * page());

		assert_non_null(m);
		memset(m->data, 0x3c, m->len);
		w = watch(m->data, m->cap);
	}
	assert_true(watches[w].freed);
	assert_true(watches[w].wiped);
	unwatch_all();
}

/* --- sg_wipe: exactly the bytes asked for. --- */

struct case_wipe {
	const char *id;
	size_t off, len;
	bool null;
};

static const struct case_wipe wipe_cases[] = {
	{ "wipe-all", 0, 64, false },	    { "wipe-middle", 8, 16, false },
	{ "wipe-last-byte", 63, 1, false }, { "wipe-first-byte", 0, 1, false },
	{ "wipe-zero-len", 10, 0, false },  { "wipe-null", 0, 64, true },
};

static void
test_wipe(void **state)
{
	const struct case_wipe *t = *state;
	uint8_t buf[80];

	memset(buf, 0xee, sizeof(buf));
	sg_wipe(t->null ? NULL : buf + t->off, t->len);
	for (size_t i = 0; i < sizeof(buf); i++) {
		bool in = !t->null && i >= t->off && i < t->off + t->len;

		if (buf[i] != (in ? 0 : 0xee))
			fail_msg("byte %zu is 0x%02x, want 0x%02x", i, buf[i], in ? 0 : 0xee);
	}
}

/* --- sg_str_wipe_free: strlen + 1 bytes wiped, then freed. --- */

struct case_str {
	const char *id;
	const char *s;
};

static const struct case_str str_cases[] = {
	{ "str-pin", "1234-secret-PIN" },
	{ "str-empty", "" },
	{ "str-long", "a PIN of well over sixty-four characters, which is more than any "
		      "small-string buffer would hold" },
};

static void
test_str_wipe_free(void **state)
{
	const struct case_str *t = *state;
	char *s = strdup(t->s);
	size_t w;

	assert_non_null(s);
	w = watch(s, strlen(s) + 1);
	sg_str_wipe_free(s);
	assert_true(watches[w].freed);
	if (!watches[w].wiped)
		fail_msg("'%s' freed unwiped", t->s);
	unwatch_all();
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(new_cases) + SG_ELEMENTSOF(wipe_cases) +
				SG_ELEMENTSOF(str_cases) + 16];
	size_t n = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(new_cases); i++)
		tests[n++] = ROW(test_new, new_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(wipe_cases); i++)
		tests[n++] = ROW(test_wipe, wipe_cases, i);
	for (size_t i = 0; i < SG_ELEMENTSOF(str_cases); i++)
		tests[n++] = ROW(test_str_wipe_free, str_cases, i);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_locked_when_allowed);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_unlocked_when_refused);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_page_reused_wiped);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_pool_overflow_wiped);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_threads);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_free_null);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_cleanup_attribute);
	return tv_main(argc, argv, "secmem", tests, n, NULL, 0);
}
