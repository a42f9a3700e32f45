/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One guest through the pipeline: its manifest applied, attested, its
 * release policy checked and packet built (sg_guest_attest), then the
 * release step (engine/release.h), then its outcome (sg_guest_finish).
 * `sevgate validate` runs one guest straight through; a batch or the
 * service attests many and hands them to the release queue, which
 * releases them in groups so the durable writes are shared. The outcome
 * is structured: the front ends turn it into exit codes and JSON.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/crypto.h"
#include "spec/guest-spec.h"
#include "engine/online.h"
#include "util/cleanup.h"
#include "validate/validate.h"

struct sg_manifest;

/* The one-word verdict on a guest, as reports and the audit log give it. */
enum sg_verdict {
	SG_VERDICT_TRUSTED,  /* attested (and released, if it had secrets) */
	SG_VERDICT_MISMATCH, /* the measurement does not match */
	SG_VERDICT_REFUSED,  /* attested, but the release policy said no */
	SG_VERDICT_ERROR,    /* anything else: the guest was never judged */
};
#define SG_VERDICT_COUNT 4

/* The verdict for a guest's result @rc (0 or SG_E_*). */
enum sg_verdict sg_verdict_of(int rc);
/* "trusted", "mismatch", "refused" or "error". */
const char *sg_verdict_name(enum sg_verdict v);

/* What became of one guest. */
struct sg_guest_outcome {
	int rc; /* 0: trusted (and released, if it had secrets); else SG_E_* */
	enum sg_verdict verdict;
	struct sg_error err;		    /* why, when rc < 0 */
	size_t released;		    /* secrets that left (the packet written or injected) */
	size_t records;			    /* audit records written for the guest */
	char digest[2 * SG_SHA256_LEN + 1]; /* the launch digest, hex, or "" */
	bool exportable_key;		    /* a key was accepted although it can leave its token */
	char exportable_desc[512];
	char guest_name[256]; /* the domain's name, when online (spec.guest may point here) */
	double elapsed_ms;
};

/* What the release step still owes a guest once it is attested. */
enum sg_guest_step {
	SG_STEP_NONE,	 /* never attested: no record */
	SG_STEP_VERDICT, /* a verdict record (trusted with nothing to release, mismatch, error) */
	SG_STEP_REFUSED, /* the release policy said no: a refused record */
	SG_STEP_RELEASE, /* release-intent, the secret out, released, keys destroyed */
};

/*
 * A check of a guest's outputs against the other guests of its run (a
 * batch's claim table), after its manifest is applied and before anything
 * runs: 0, or the error to fail the guest with.
 */
typedef int (*sg_guest_claims_fn)(void *arg, size_t idx, const struct sg_guest_spec *g,
				  const char *manifest, const struct sg_manifest *m,
				  struct sg_error *err);

struct sg_guest {
	struct sg_guest_spec spec;
	const char *manifest; /* the manifest to apply first, or NULL (borrowed) */
	struct sg_manifest *m;
	struct sg_validation *v;
	struct sg_online on;
	struct sg_guest_outcome out;
	enum sg_guest_step step;
	int r; /* the guest's result so far (0, SG_E_*) */
	double t0;
	sg_guest_claims_fn check_claims; /* or NULL */
	void *claims_arg;
	size_t idx;
	void *user; /* the producer's, untouched by the engine */
};

/*
 * A guest described by @spec (copied; its strings stay borrowed) and, when
 * @manifest is not NULL, by that manifest applied over it. NULL: no memory.
 */
struct sg_guest *sg_guest_new(const struct sg_guest_spec *spec, const char *manifest);
/*
 * Free @gu: its domain handle closed (the domain left as it is), its
 * validation and manifest. Accepts NULL.
 */
void sg_guest_free(struct sg_guest *gu);
SG_DEFINE_TRIVIAL_CLEANUP_FUNC(struct sg_guest *, sg_guest_free)

/*
 * Everything before the release step: apply the manifest, check the spec,
 * (online: find the domain), attest, check the release policy and build
 * the packet. Sets gu->r and gu->step; no record is written and nothing
 * leaves. Failures are in gu->r and gu->out.err.
 */
void sg_guest_attest(struct sg_crypto *crypto, struct sg_guest *gu);
/*
 * After the release step: fill gu->out; a failed online guest is never
 * resumed (destroyed if its spec says so). The domain's connection is
 * closed by sg_guest_free, since inputs the spec took from the domain
 * (--insecure: the firmware, kernel, initrd and cmdline paths) are strings
 * of the domain and the front ends report them after this.
 */
void sg_guest_finish(struct sg_guest *gu);

/*
 * Whether the release step owes @gu anything once it is attested: a secret
 * to release, or (@audited, a log is kept) a record. A guest that owes
 * nothing needs no group.
 */
bool sg_guest_owes_release(const struct sg_guest *gu, bool audited);

struct sg_audit;
/* The three for one guest, released alone. Returns gu->out.rc. */
SG_NODISCARD int
sg_guest_run(struct sg_crypto *crypto, struct sg_guest *gu, struct sg_audit *audit);

/* The guest's name for reports: its spec's, else its manifest's path, else NULL. */
const char *sg_guest_name(const struct sg_guest *gu);
