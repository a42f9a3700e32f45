/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The debug switch (src/util/debug.c): decided once from $SEVGATE_DEBUG,
 * overridden by --debug, and read by every thread of a batch (make
 * check-tsan runs this under ThreadSanitizer).
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vectors.h"
#include "util/debug.h"

static const struct {
	const char *name;
	const char *value; /* $SEVGATE_DEBUG, NULL: unset */
	bool on;
} env_cases[] = {
	{ "env-unset", NULL, false }, { "env-empty", "", false }, { "env-0", "0", false },
	{ "env-1", "1", true },	      { "env-yes", "yes", true }, { "env-00", "00", false },
};

/* In a child: the switch is decided once per process, from the environment. */
static void
test_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < SG_ELEMENTSOF(env_cases); i++) {
		pid_t pid = fork();
		int st;

		assert_true(pid >= 0);
		if (pid == 0) {
			if (env_cases[i].value)
				setenv("SEVGATE_DEBUG", env_cases[i].value, 1);
			else
				unsetenv("SEVGATE_DEBUG");
			_exit(sg_debug_enabled() == env_cases[i].on ? 0 : 1);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("%s: SEVGATE_DEBUG=%s", env_cases[i].name,
				 env_cases[i].value ? env_cases[i].value : "(unset)");
	}
}

/* --debug wins over the environment, either way. */
static void
test_enable_overrides(void **state)
{
	(void)state;
	setenv("SEVGATE_DEBUG", "1", 1);
	sg_debug_enable(false);
	assert_false(sg_debug_enabled());
	sg_debug_enable(true);
	assert_true(sg_debug_enabled());
	sg_debug_enable(false);
	assert_false(sg_debug_enabled());
	unsetenv("SEVGATE_DEBUG");
}

static pthread_barrier_t start;

static void *
reader(void *arg)
{
	size_t *on = arg;

	pthread_barrier_wait(&start);
	for (int i = 0; i < 20000; i++)
		*on += sg_debug_enabled();
	return NULL;
}

/* Every worker asks at once while the first answer is being decided. */
static void
test_threads(void **state)
{
	pthread_t t[8];
	size_t on[8] = { 0 };
	pid_t pid;
	int st;

	(void)state;
	/* A fresh process, so the first decision is made under the race. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsetenv("SEVGATE_DEBUG");
		pthread_barrier_init(&start, NULL, 8);
		for (size_t i = 0; i < 8; i++)
			if (pthread_create(&t[i], NULL, reader, &on[i]) != 0)
				_exit(2);
		for (size_t i = 0; i < 8; i++)
			pthread_join(t[i], NULL);
		for (size_t i = 0; i < 8; i++)
			if (on[i] != 0)
				_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_enable_overrides),
		cmocka_unit_test(test_threads),
	};

	return tv_main(argc, argv, "debug", tests, SG_ELEMENTSOF(tests), NULL, 0);
}
