/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sevgate batch: every guest of a set of manifests, on worker threads
 * sharing one run cache (each firmware read and hashed once, digest states
 * reused) and one token login. The report is JSON Lines written as guests
 * finish, so memory does not grow with the fleet.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmdtab.h"
#include "cli/commands.h"
#include "cli/exitcode.h"
#include "cli/verdict.h"
#include "engine/guest.h"
#include "engine/outputs.h"
#include "engine/release-queue.h"
#include "engine/release.h"
#include "manifest/manifest.h"
#include "key/key.h"
#include "util/debug.h"
#include "util/fileio.h"
#include "validate/fwcache.h"

#define MAX_JOBS 256
/* Groups of a run with online guests (see sg_cmd_batch). */
#define ONLINE_GROUP_MAX 32

struct run {
	char **paths;
	size_t npaths;
	atomic_size_t next;
	atomic_size_t pre_next; /* the apply phase's next manifest (claim_outputs) */
	struct sg_fwcache *fwcache;
	struct sg_key_options key_opts;
	struct sg_audit *audit; /* or NULL */
	/* The workers' OpenSSL contexts, kept until the release queue is shut down. */
	struct sg_crypto *cryptos[MAX_JOBS + 1];
	atomic_size_t ncryptos;
	/* Attested guests go here for the release step, in groups. */
	struct sg_release_queue *releases;
	bool json, quiet, progress;
	FILE *report;
	bool report_stdout; /* --report -: standard output holds the JSON Lines only */
	pthread_mutex_t out_lock;
	size_t done, verdicts[SG_VERDICT_COUNT]; /* guests done, by verdict */
	int exit;
	/* Manifests applied before the run (NULL: the worker applies it), their guests. */
	struct sg_manifest **pre_m;
	struct sg_guest_spec *pre_g;
	/* Every packet file of the run, sorted by file then guest (check_claims). */
	struct claim *claims;
	size_t nclaims;
	atomic_int fatal; /* the run failed (the report, the log): stop; read without the lock */
	struct sg_error fatal_err;
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
add_path(struct run *r, char *p, size_t *cap, struct sg_error *err)
{
	if (r->npaths == *cap) {
		size_t ncap = *cap ? 2 * *cap : 64;
		char **n = realloc(r->paths, ncap * sizeof(*n));

		if (!n) {
			free(p);
			return sg_error_set(err, SG_E_NOMEM, "out of memory");
		}
		r->paths = n;
		*cap = ncap;
	}
	r->paths[r->npaths++] = p;
	return 0;
}

/* A PATH: a manifest, or the YAML files of a directory (not recursive, not defaults.yaml), sorted. */
static int
collect(struct run *r, const char *path, size_t *cap, struct sg_error *err)
{
	_cleanup_(sg_closedirp) DIR *d = NULL;
	struct stat st;
	struct dirent *de;
	size_t first = r->npaths;
	int rc = 0;

	if (stat(path, &st) < 0)
		return sg_error_set(err, SG_E_USAGE, "cannot read '%s': %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		char *p = strdup(path);

		return p ? add_path(r, p, cap, err) :
			   sg_error_set(err, SG_E_NOMEM, "out of memory");
	}
	d = opendir(path);
	if (!d)
		return sg_error_set(err, SG_E_USAGE, "cannot read '%s': %s", path, strerror(errno));
	while ((de = readdir(d))) {
		char *p = NULL;

		if (!sg_manifest_name_ok(de->d_name))
			continue;
		if (asprintf(&p, "%s/%s", path, de->d_name) < 0)
			return sg_error_set(err, SG_E_NOMEM, "out of memory");
		if ((rc = add_path(r, p, cap, err)) < 0)
			return rc;
	}
	if (r->npaths > first)
		qsort(r->paths + first, r->npaths - first, sizeof(*r->paths), cmp_str);
	return 0;
}

static void
progress(struct run *r)
{
	char bar[41];
	size_t filled = r->npaths ? r->done * 40 / r->npaths : 40;

	memset(bar, '#', filled);
	memset(bar + filled, ' ', 40 - filled);
	bar[40] = '\0';
	fprintf(stderr, "\r[%s] %zu/%zu", bar, r->done, r->npaths);
	if (r->done == r->npaths)
		fputc('\n', stderr);
}

/* One guest's result: its report line, its human line, the tallies. */
static void
report(struct run *r, struct sg_guest *gu)
{
	struct sg_guest_outcome *out = &gu->out;
	struct json_object *json;
	const char *line;
	int code;

	sg_guest_finish(gu);
	code = sg_exit_sevgate(out->rc);
	json = sg_cli_guest_outcome_json(gu);
	sg_json_add(json, "manifest", sg_json_str(gu->manifest));
	line = json_object_to_json_string_ext(json, JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE);
	pthread_mutex_lock(&r->out_lock);
	if (r->report && !r->fatal &&
	    (fputs(line, r->report) < 0 || fputc('\n', r->report) < 0 || fflush(r->report) != 0)) {
		r->fatal = SG_E_IO;
		sg_error_set(&r->fatal_err, SG_E_IO, "cannot write the report: %s",
			     strerror(errno));
	}
	if (r->json && !r->report_stdout)
		printf("%s\n", line);
	else if (!r->quiet && out->rc != 0)
		sg_cli_guest_print(gu);
	r->done++;
	r->verdicts[out->verdict]++;
	r->exit = sg_exit_combine(r->exit, code);
	if (r->progress)
		progress(r);
	pthread_mutex_unlock(&r->out_lock);
	json_object_put(json);
	sg_guest_free(gu);
}

/* The release queue's done callback: a guest's release step is over. */
static void
guest_done(void *arg, struct sg_guest *gu)
{
	report(arg, gu);
}

/* Whether a manifest applied ahead of the run names a domain. */
static bool
any_online(const struct run *r)
{
	for (size_t i = 0; r->pre_m && i < r->npaths; i++)
		if (r->pre_m[i] && r->pre_g[i].domain)
			return true;
	return false;
}

/* A guest of the run before its manifest is applied: the run's cache and key options. */
static void
guest_init(const struct run *r, struct sg_guest_spec *g)
{
	sg_guest_spec_init(SG_ORIGIN_VALIDATE, g);
	g->req.fwcache = r->fwcache;
	g->req.key_opts = r->key_opts;
}

static void
fail_run(struct run *r, const struct sg_error *err)
{
	pthread_mutex_lock(&r->out_lock);
	if (!r->fatal) {
		r->fatal = err->code;
		r->fatal_err = *err;
	}
	pthread_mutex_unlock(&r->out_lock);
}

/* One packet file a manifest names: by inode when it exists, else by its resolved path. */
struct claim {
	char *id;
	size_t guest;
	char *where; /* "KEY of FILE:LINE:COL": the manifest that names it */
};

/* A packet file's identity (sg_path_id), or its text when its directory is missing. */
static char *
file_id(const char *path)
{
	char *id = sg_path_id(path);

	return id ? id : strdup(path); /* cannot be written anyway: the guest fails on its own */
}

static int
cmp_claim(const void *pa, const void *pb)
{
	const struct claim *a = pa, *b = pb;
	int c = strcmp(a->id, b->id);

	return c ? c : (a->guest > b->guest) - (a->guest < b->guest);
}

static int
cmp_claim_id(const void *pa, const void *pb)
{
	return strcmp(((const struct claim *)pa)->id, ((const struct claim *)pb)->id);
}

/* "FILE:LINE:COL: KEY" of a guest's own key, or "KEY of FILE:LINE:COL" (@of) for another's. */
static char *
where(const struct sg_manifest *m, const char *manifest, int w, bool of)
{
	const struct sg_manifest_loc *loc = w ? &m->payload_loc : &m->header_loc;
	const char *key = w ? "secret-payload" : "secret-header";
	char at[64] = "", *s = NULL;

	if (loc->file)
		snprintf(at, sizeof(at), ":%u:%u", loc->line, loc->col);
	if (of)
		return asprintf(&s, "%s of %s%s", key, loc->file ? loc->file : manifest, at) < 0 ?
			       NULL :
			       s;
	return asprintf(&s, "%s%s: %s", loc->file ? loc->file : manifest, at, key) < 0 ? NULL : s;
}

/*
 * Every guest, once its manifest is applied: a packet file the claim table
 * gives to another guest (the first of the run to name it) is refused, naming
 * both manifests. The table is read-only once the workers start: no lock.
 */
static int
check_claims(void *arg, size_t idx, const struct sg_guest_spec *g, const char *manifest,
	     const struct sg_manifest *m, struct sg_error *err)
{
	const struct run *r = arg;

	for (int w = 0; w < 2 && m; w++) {
		const char *path = w ? g->req.secret_payload : g->req.secret_header;
		_cleanup_(sg_freep) char *id = NULL, *self = NULL;
		struct claim key = { 0 }, *hit = NULL;

		if (!path)
			continue;
		if (!(id = file_id(path)) || !(self = where(m, manifest, w, false)))
			return sg_error_set(err, SG_E_NOMEM, "out of memory");
		key.id = id;
		if (r->nclaims)
			hit = bsearch(&key, r->claims, r->nclaims, sizeof(*r->claims),
				      cmp_claim_id);
		/* The first claim of that file: the lowest guest index (cmp_claim's order). */
		while (hit && hit > r->claims && !strcmp(hit[-1].id, id))
			hit--;
		if (hit && hit->guest != idx)
			return sg_error_set(err, SG_E_USAGE,
					    "%s '%s' is also the %s: two guests of a batch never "
					    "write one packet file",
					    self, path, hit->where);
	}
	return 0;
}

/* One manifest applied ahead of the run (claim_outputs), if it is a regular file. */
static void
preapply_one(struct run *r, struct sg_crypto *crypto, size_t i)
{
	struct sg_guest_spec *g = &r->pre_g[i];
	struct stat st;

	if (stat(r->paths[i], &st) < 0 || !S_ISREG(st.st_mode))
		return;
	guest_init(r, g);
	/* No error kept: the worker applies a manifest that fails here again, and reports it. */
	if (sg_manifest_apply(crypto, r->paths[i], g, &r->pre_m[i], NULL) < 0) {
		sg_manifest_free(r->pre_m[i]);
		r->pre_m[i] = NULL;
	}
}

/* A thread of the apply phase: manifests by index, with OpenSSL contexts of its own. */
static void *
preapply(void *arg)
{
	struct run *r = arg;
	struct sg_crypto *crypto = NULL;
	struct sg_error err = { 0 };

	if (sg_crypto_new(&crypto, &err) < 0)
		return NULL; /* its manifests are left to the workers, which report the error */
	for (size_t i; (i = atomic_fetch_add(&r->pre_next, 1)) < r->npaths;)
		preapply_one(r, crypto, i);
	sg_crypto_free(crypto);
	return NULL;
}

/*
 * Before any guest runs: each manifest that is a regular file is applied once,
 * on @jobs threads as the workers would (the worker takes it as it is: no
 * second read), and then its packet files are claimed in the run's order. A
 * manifest that is not a regular file, or that fails here, is applied by its
 * worker and checked against the same table.
 */
static int
claim_outputs(struct run *r, pthread_t *threads, long jobs, struct sg_error *err)
{
	size_t n = 0, started = 0;

	r->pre_g = calloc(r->npaths, sizeof(*r->pre_g));
	r->pre_m = calloc(r->npaths, sizeof(*r->pre_m));
	r->claims = calloc(2 * r->npaths, sizeof(*r->claims));
	if (!r->pre_g || !r->pre_m || !r->claims)
		return sg_error_set(err, SG_E_NOMEM, "out of memory");
	for (long i = 0; i < jobs; i++)
		if (pthread_create(&threads[started], NULL, preapply, r) == 0)
			started++;
	if (started == 0)
		preapply(r);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	for (size_t i = 0; i < r->npaths; i++) {
		const struct sg_guest_spec *g = &r->pre_g[i];

		for (int w = 0; w < 2 && r->pre_m[i] && !g->domain; w++) {
			const char *path = w ? g->req.secret_payload : g->req.secret_header;

			if (!path)
				continue;
			r->claims[n] =
				(struct claim){ .id = file_id(path),
						.guest = i,
						.where = where(r->pre_m[i], r->paths[i], w, true) };
			if (!r->claims[n].id || !r->claims[n++].where)
				return sg_error_set(err, SG_E_NOMEM, "out of memory");
		}
	}
	r->nclaims = n;
	if (n > 1)
		qsort(r->claims, n, sizeof(*r->claims), cmp_claim);
	return 0;
}

static void
claims_free(struct run *r)
{
	for (size_t i = 0; r->claims && i < 2 * r->npaths; i++) {
		free(r->claims[i].id);
		free(r->claims[i].where);
	}
	free(r->claims);
	for (size_t i = 0; r->pre_m && i < r->npaths; i++)
		sg_manifest_free(r->pre_m[i]);
	free(r->pre_m);
	free(r->pre_g);
}

static void *
worker(void *arg)
{
	struct run *r = arg;
	struct sg_crypto *crypto = NULL;
	struct sg_error err = { 0 };

	/* Each worker has its own OpenSSL contexts; the run cache is shared. */
	if (sg_crypto_new(&crypto, &err) < 0) {
		fail_run(r, &err);
		return NULL;
	}
	for (;;) {
		size_t i = atomic_fetch_add(&r->next, 1);
		struct sg_guest *j;
		struct sg_guest_spec g;

		if (i >= r->npaths || r->fatal)
			break;
		if (r->pre_m && r->pre_m[i])
			g = r->pre_g[i];
		else
			guest_init(r, &g);
		if (!(j = sg_guest_new(&g, r->paths[i]))) {
			sg_error_set(&err, SG_E_NOMEM, "out of memory");
			fail_run(r, &err);
			break;
		}
		if (r->pre_m) {
			j->m = r->pre_m[i];
			r->pre_m[i] = NULL;
		}
		j->check_claims = check_claims;
		j->claims_arg = r;
		j->idx = i;
		sg_guest_attest(crypto, j);
		/* Refused only after shutdown, which comes after the workers: never, but closed. */
		if (sg_release_queue_submit(r->releases, j, &err) < 0) {
			j->r = sg_error_set(&j->out.err, err.code, "%s", err.msg);
			sg_guest_finish(j); /* a failed guest is never resumed */
			sg_guest_free(j);
			fail_run(r, &err);
			break;
		}
	}
	/*
	 * Its guests' validations borrow this context and may still wait for their
	 * group: freed after the release queue is shut down, not now.
	 */
	r->cryptos[atomic_fetch_add(&r->ncryptos, 1)] = crypto;
	return NULL;
}

/* What the token layer did, when the run used a token: one login and one index build per token. */
static void
add_token_stats(struct json_object *sum)
{
	struct sg_key_token_stats ts;
	struct json_object *o;

	sg_key_token_stats(&ts);
	if (!ts.tokens || !(o = json_object_new_object()))
		return;
	sg_json_add(o, "tokens", json_object_new_int64((int64_t)ts.tokens));
	sg_json_add(o, "logins", json_object_new_int64((int64_t)ts.logins));
	sg_json_add(o, "index_builds", json_object_new_int64((int64_t)ts.index_builds));
	sg_json_add(o, "find_calls", json_object_new_int64((int64_t)ts.find_calls));
	sg_json_add(o, "operations", json_object_new_int64((int64_t)ts.operations));
	sg_json_add(o, "recoveries", json_object_new_int64((int64_t)ts.recoveries));
	sg_json_add(o, "misses_limited", json_object_new_int64((int64_t)ts.misses_limited));
	sg_json_add(o, "sessions_opened", json_object_new_int64((int64_t)ts.sessions_opened));
	sg_json_add(sum, "token", o);
}

int
sg_cmd_batch(int argc, char **argv)
{
	const struct sg_command *cmd = sg_command_find("sevgate", "batch");
	struct sg_command_getopt g;
	_cleanup_(sg_crypto_freep) struct sg_crypto *crypto = NULL;
	struct run r = { .out_lock = PTHREAD_MUTEX_INITIALIZER };
	const char *report = NULL, *config = NULL, *audit_log = NULL, *audit_key = NULL;
	char head[SG_AUDIT_HEAD_HEX + 1] = "";
	struct sg_release_queue_stats qstats;
	struct sg_error err = { 0 };
	pthread_t threads[MAX_JOBS];
	long jobs = sysconf(_SC_NPROCESSORS_ONLN);
	size_t cap = 0, started = 0;
	double t0 = now_ms(), wall;
	int c, rc = 0;
	char *end;

	if ((rc = sg_command_getopt_init(cmd, &g, &err)) < 0)
		return sg_cmd_fail(err.msg, rc);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
		switch (c) {
		case 'h': sg_command_usage(cmd, stdout); return SG_EXIT_OK;
		case 'q': r.quiet = true; break;
		case 'd': sg_debug_enable(true); break;
		case SG_COPT_JOBS:
			jobs = strtol(optarg, &end, 10);
			if (*end || jobs < 1 || jobs > MAX_JOBS)
				return sg_cmd_fail("--jobs must be 1 to 256", SG_E_USAGE);
			break;
		case SG_COPT_REPORT: report = optarg; break;
		case SG_COPT_BATCH_FORMAT:
			if (!strcmp(optarg, "json"))
				r.json = true;
			else if (strcmp(optarg, "human"))
				return sg_cmd_fail("--format must be human or json", SG_E_USAGE);
			break;
		case SG_GOPT_CONFIG: config = optarg; break;
		case SG_GOPT_PIN_FILE: r.key_opts.pin_file = optarg; break;
		case SG_GOPT_ALLOW_EXPORTABLE: r.key_opts.allow_exportable_keys = true; break;
		case SG_GOPT_AUDIT_LOG: audit_log = optarg; break;
		case SG_GOPT_AUDIT_KEY: audit_key = optarg; break;
		default:
			return sg_cmd_fail("unrecognized option (sevgate batch --help)",
					   SG_E_USAGE);
		}
	}
	if (jobs < 1)
		jobs = 1;
	if (optind == argc)
		return sg_cmd_fail("usage: sevgate batch [OPTIONS] PATH...", SG_E_USAGE);
	for (int i = optind; i < argc && rc == 0; i++)
		rc = collect(&r, argv[i], &cap, &err);
	if (rc == 0 && r.npaths == 0)
		rc = sg_error_set(&err, SG_E_USAGE, "no manifests (*.yaml, *.yml) found");
	if (rc == 0 && (rc = sg_key_set_config(config, &err)) == 0 &&
	    (rc = sg_crypto_new(&crypto, &err)) == 0)
		rc = sg_fwcache_new(crypto, &r.fwcache, &err);
	if (rc == 0)
		rc = sg_release_audit_open(crypto, audit_log, audit_key, config, &r.key_opts,
					   &r.audit, &err);
	/* No guest's packet may be written over a manifest of the run. */
	for (size_t i = 0; rc == 0 && i < r.npaths; i++)
		rc = sg_output_protect(r.paths[i], "a manifest of this batch", &err);
	sg_output_protect_seal();
	/* min(--jobs or the online CPUs, manifests, MAX_JOBS): threads[] holds MAX_JOBS. */
	if ((size_t)jobs > r.npaths)
		jobs = (long)r.npaths;
	if (jobs > MAX_JOBS)
		jobs = MAX_JOBS;
	if (rc == 0)
		rc = claim_outputs(&r, threads, jobs, &err);
	/* --report -: the JSON Lines go to standard output, and nothing else does. */
	r.report_stdout = report && !strcmp(report, "-");
	if (rc == 0 && report && !r.report_stdout)
		rc = sg_output_check(report, "--report", &err);
	if (rc == 0 && report) {
		int fd = sg_out_open(report, 0600, SG_OUT_DASH, "report", &err);

		if (fd < 0) {
			rc = fd;
		} else if (!(r.report = fdopen(fd, "w"))) {
			close(fd);
			rc = sg_error_set(&err, SG_E_IO, "cannot write '%s': %s", report,
					  strerror(errno));
		}
	}
	if (rc == 0) {
		struct sg_release_queue_config qc = { .audit = r.audit,
						      .done = guest_done,
						      .done_arg = &r };

		/*
		 * An online guest waits for its group with its libvirt connection open
		 * and its domain paused: with any in the run, smaller groups and a
		 * shorter queue keep that to 3 * ONLINE_GROUP_MAX (two groups being
		 * released, one queued) plus one a worker waiting to submit. A manifest
		 * that was not applied ahead (not a regular file) does not count here.
		 */
		if (any_online(&r))
			qc.group_max = qc.capacity = ONLINE_GROUP_MAX;

		rc = sg_release_queue_new(&qc, &r.releases, &err);
	}
	if (rc < 0) {
		claims_free(&r);
		for (size_t i = 0; i < r.npaths; i++)
			free(r.paths[i]);
		free(r.paths);
		sg_fwcache_free(r.fwcache);
		sg_audit_close(r.audit);
		return sg_cmd_fail(err.msg, rc);
	}
	r.progress = !r.quiet && !r.json && isatty(STDERR_FILENO);
	for (long i = 0; i < jobs; i++)
		if (pthread_create(&threads[i], NULL, worker, &r) == 0)
			started++;
	if (started == 0)
		worker(&r);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	sg_release_queue_shutdown(r.releases);
	sg_release_queue_stats(r.releases, &qstats);
	sg_release_queue_free(r.releases);
	for (size_t i = 0; i < atomic_load(&r.ncryptos); i++)
		sg_crypto_free(r.cryptos[i]);
	sg_debug("batch: %zu guests released in %zu groups (largest %zu)", qstats.done,
		 qstats.groups, qstats.largest_group);
	wall = now_ms() - t0;
	/* The checkpoint closes the batch; its hash, kept elsewhere, later shows a cut tail. */
	if (r.audit && sg_audit_checkpoint(r.audit, head, &err) < 0 && !r.fatal) {
		r.fatal = err.code;
		r.fatal_err = err;
	}
	sg_audit_close(r.audit);

	struct json_object *sum = json_object_new_object(), *line = json_object_new_object();
	sg_json_add(sum, "guests", json_object_new_int64((int64_t)r.done));
	for (int v = 0; v < SG_VERDICT_COUNT; v++)
		sg_json_add(sum, sg_verdict_name(v), json_object_new_int64((int64_t)r.verdicts[v]));
	sg_json_add(sum, "wall_ms", json_object_new_double(wall));
	sg_json_add(sum, "guests_per_second",
		    json_object_new_double(wall > 0 ? (double)r.done * 1000.0 / wall : 0));
	if (head[0])
		sg_json_add(sum, "audit_head", json_object_new_string(head));
	add_token_stats(sum);
	sg_json_add(line, "summary", sum);
	const char *text = json_object_to_json_string_ext(
		line, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (r.report && !r.fatal &&
	    (fprintf(r.report, "%s\n", text) < 0 || fflush(r.report) != 0 ||
	     (!r.report_stdout && fsync(fileno(r.report)) != 0)))
		sg_error_set(&r.fatal_err, r.fatal = SG_E_IO, "cannot write the report: %s",
			     strerror(errno));
	/* --report -: the summary line above closed the stream; nothing follows it. */
	if (r.json && !r.report_stdout)
		printf("%s\n", text);
	else if (!r.json && !r.quiet && !r.report_stdout)
		printf("batch: %zu guests: %zu trusted, %zu mismatch, %zu refused, %zu error in %.0f ms "
		       "(%.0f guests/s)\n",
		       r.done, r.verdicts[SG_VERDICT_TRUSTED], r.verdicts[SG_VERDICT_MISMATCH],
		       r.verdicts[SG_VERDICT_REFUSED], r.verdicts[SG_VERDICT_ERROR], wall,
		       wall > 0 ? (double)r.done * 1000.0 / wall : 0);
	if (!r.json && !r.quiet && !r.report_stdout && head[0])
		printf("audit: head %s\n", head);
	json_object_put(line);
	if (r.report)
		fclose(r.report);
	claims_free(&r);
	for (size_t i = 0; i < r.npaths; i++)
		free(r.paths[i]);
	free(r.paths);
	sg_fwcache_free(r.fwcache);
	/*
	 * The run itself failed (the report or the audit log): that is the answer, whatever
	 * the guests' codes, so a failed record is never mistaken for a guest's mismatch.
	 */
	if (r.fatal) {
		sg_cmd_fail(r.fatal_err.msg, r.fatal);
		return sg_exit_sevgate(r.fatal);
	}
	return r.exit;
}
