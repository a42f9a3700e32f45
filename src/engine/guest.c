/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/outputs.h"
#include "engine/release.h"
#include "manifest/manifest.h"
#include "util/encode.h"
#include "util/escape.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct sg_guest *
sg_guest_new(const struct sg_guest_spec *spec, const char *manifest)
{
	struct sg_guest *gu = calloc(1, sizeof(*gu));

	if (gu) {
		gu->spec = *spec;
		gu->manifest = manifest;
		gu->t0 = now_ms();
	}
	return gu;
}

void
sg_guest_free(struct sg_guest *gu)
{
	if (!gu)
		return;
	sg_online_close(&gu->on);
	sg_validation_free(gu->v);
	sg_manifest_free(gu->m);
	free(gu);
}

enum sg_verdict
sg_verdict_of(int rc)
{
	switch (rc) {
	case 0: return SG_VERDICT_TRUSTED;
	case SG_E_MISMATCH: return SG_VERDICT_MISMATCH;
	case SG_E_POLICY: return SG_VERDICT_REFUSED;
	default: return SG_VERDICT_ERROR;
	}
}

const char *
sg_verdict_name(enum sg_verdict v)
{
	static const char *const names[SG_VERDICT_COUNT] = {
		[SG_VERDICT_TRUSTED] = "trusted",
		[SG_VERDICT_MISMATCH] = "mismatch",
		[SG_VERDICT_REFUSED] = "refused",
		[SG_VERDICT_ERROR] = "error",
	};

	return (unsigned)v < SG_VERDICT_COUNT ? names[v] : "error";
}

const char *
sg_guest_name(const struct sg_guest *gu)
{
	return gu->spec.guest ? gu->spec.guest : gu->manifest;
}

/* A domain's name as the guest's, copied (the domain goes away): at most 255 bytes. */
static void
name_from_domain(struct sg_guest *gu)
{
	const char *dn = gu->on.api->name(gu->on.guest);

	snprintf(gu->out.guest_name, sizeof(gu->out.guest_name), "%.*s",
		 (int)sg_utf8_cut(dn, sizeof(gu->out.guest_name) - 1), dn);
	gu->spec.guest = gu->out.guest_name;
}

void
sg_guest_attest(struct sg_crypto *crypto, struct sg_guest *gu)
{
	struct sg_guest_spec *g = &gu->spec;
	struct sg_error *err = &gu->out.err;
	int r = 0;

	/* A manifest is the guest written down: its keys are applied over the spec. */
	if (gu->manifest && !gu->m) { /* a batch may have applied it already */
		struct sg_guest_spec before = *g;

		r = sg_manifest_apply(crypto, gu->manifest, g, &gu->m, err);
		/* A failed manifest is freed: none of its strings may stay in the spec. */
		if (r < 0)
			*g = before;
	}
	if (r == 0)
		r = sg_guest_spec_check(g, SG_ORIGIN_VALIDATE, err);
	if (r == 0)
		r = sg_release_check_usage(g, err);
	if (r == 0)
		r = sg_output_check_guest(g, gu->m, err);
	if (r == 0 && gu->check_claims && !g->domain)
		r = gu->check_claims(gu->claims_arg, gu->idx, g, gu->manifest, gu->m, err);
	if (r == 0 && (r = sg_validation_new(crypto, &g->req, &gu->v, err)) == 0) {
		if (g->domain)
			r = sg_online_prepare(g, gu->v, &gu->on, err);
		/* Named before any record is written. */
		if (gu->on.guest && !g->guest)
			name_from_domain(gu);
		if (r == 0)
			r = sg_validation_attest(gu->v, err);
		/* Every attested guest leaves a record, even one with nothing to release. */
		if (r == 0 || r == SG_E_MISMATCH)
			gu->step = SG_STEP_VERDICT;
		if (r == 0)
			r = sg_release_prepare(gu);
	}
	/* Online, a guest is named by its domain even when it was never found. */
	if (!g->guest && g->domain)
		g->guest = g->domain;
	gu->r = r;
}

void
sg_guest_finish(struct sg_guest *gu)
{
	const struct sg_validate_result *res = gu->v ? sg_validation_result(gu->v) : NULL;
	struct sg_guest_outcome *out = &gu->out;

	/* A guest that failed is never resumed; destroyed if asked to. */
	if (gu->r < 0)
		sg_online_failed(&gu->on);
	out->rc = gu->r;
	out->verdict = sg_verdict_of(gu->r);
	out->released = gu->r == 0 && gu->step == SG_STEP_RELEASE && res ? res->nsecrets : 0;
	out->digest[0] = '\0';
	if (res && res->have_launch_digest)
		sg_hex_encode(res->launch_digest, SG_SHA256_LEN, out->digest);
	out->exportable_key = res && res->exportable_key;
	if (out->exportable_key)
		snprintf(out->exportable_desc, sizeof(out->exportable_desc), "%s",
			 res->exportable_key);
	out->elapsed_ms = now_ms() - gu->t0;
	/* The domain stays open until sg_guest_free: the spec's online inputs are its strings. */
}

bool
sg_guest_owes_release(const struct sg_guest *gu, bool audited)
{
	if (gu->step == SG_STEP_NONE)
		return false;
	return audited || gu->step == SG_STEP_RELEASE;
}

int
sg_guest_run(struct sg_crypto *crypto, struct sg_guest *gu, struct sg_audit *audit)
{
	sg_guest_attest(crypto, gu);
	sg_release_group(&gu, 1, audit);
	sg_guest_finish(gu);
	return gu->out.rc;
}
