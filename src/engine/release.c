/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/release.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/guest.h"
#include "manifest/manifest.h"
#include "engine/outputs.h"
#include "config/config.h"
#include "key/admin.h"
#include "util/fileio.h"

/* Strings one event borrows, freed together. */
struct event_buf {
	struct sg_audit_event ev;
	struct {
		const char *guid;
		size_t length;
	} secrets[SG_MAX_SECRETS];
	char guids[SG_MAX_SECRETS][SG_GUID_STR_LEN + 1];
	char *keys[3];
	const char *keyp[3];
};

/*
 * @err (the guest's own failure, @verdict) could not be recorded: the log's
 * error @e outranks it, and it stays as the context in parentheses.
 */
static int
not_recorded(struct sg_error *err, const struct sg_error *e, const char *verdict)
{
	return sg_error_outrank(err, e->code, "%s: the %s verdict is not recorded", e->msg,
				verdict);
}

static bool
is_pkcs11(const char *s)
{
	return s && !strncmp(s, "pkcs11:", 7);
}

/* A key as the log names it: a token URI without any PIN, or file:PATH. */
static char *
key_name(const char *spec)
{
	char *s = NULL;

	if (is_pkcs11(spec))
		return sg_key_uri_redact(spec);
	if (asprintf(&s, "file:%s", !strncmp(spec, "file:", 5) ? spec + 5 : spec) < 0)
		return NULL;
	return s;
}

static void
event_fill(struct event_buf *b, enum sg_audit_event_type event, const struct sg_guest_spec *g,
	   const struct sg_manifest *m, const struct sg_validate_result *res)
{
	const struct sg_validate_req *q = &g->req;
	const char *specs[] = { q->tik, q->tek, q->tk };
	struct sg_audit_event *ev = &b->ev;

	memset(b, 0, sizeof(*b));
	ev->event = event;
	ev->guest = g->guest ? g->guest : m ? m->guest : NULL;
	ev->manifest_sha256 = m ? m->sha256 : NULL;
	if (res) {
		ev->firmware_sha256 = res->firmware.hashed ? res->firmware.sha256 : NULL;
		ev->kernel_sha256 = res->kernel.hashed ? res->kernel.sha256 : NULL;
		ev->initrd_sha256 = res->initrd.hashed ? res->initrd.sha256 : NULL;
		ev->cmdline_sha256 = res->have_cmdline ? res->cmdline_sha256 : NULL;
		ev->launch_digest = res->have_launch_digest ? res->launch_digest : NULL;
		for (size_t i = 0; i < res->nsecrets; i++) {
			sg_guid_format(&res->secrets[i].guid, b->guids[i]);
			b->secrets[i].guid = b->guids[i];
			b->secrets[i].length = res->secrets[i].length;
		}
		ev->secrets = (const void *)b->secrets;
		ev->nsecrets = res->nsecrets;
	}
	ev->measurement = q->have_measurement ? q->measurement : NULL;
	if (q->have_api_major && q->have_api_minor && q->have_build_id && q->have_policy) {
		ev->have_platform = true;
		ev->api_major = q->platform.api_major;
		ev->api_minor = q->platform.api_minor;
		ev->build_id = q->platform.build_id;
		ev->policy = q->platform.policy;
	}
	for (size_t i = 0; i < 3; i++)
		if (specs[i] && (b->keys[ev->nkeys] = key_name(specs[i])))
			b->keyp[ev->nkeys] = b->keys[ev->nkeys], ev->nkeys++;
	ev->keys = b->keyp;
}

static void
event_done(struct event_buf *b)
{
	for (size_t i = 0; i < 3; i++)
		free(b->keys[i]);
}

int
sg_release_check_usage(const struct sg_guest_spec *g, struct sg_error *err)
{
	if (g->release.destroy_keys && (!is_pkcs11(g->req.tik) || !is_pkcs11(g->req.tek)))
		return sg_error_set(err, SG_E_USAGE,
				    "destroy-keys needs --tik and --tek as pkcs11: URIs");
	return 0;
}

int
sg_release_prepare(struct sg_guest *gu)
{
	const struct sg_validate_result *res = sg_validation_result(gu->v);
	struct sg_error *err = &gu->out.err;
	int r;

	if (gu->spec.req.nsecrets == 0)
		return 0;
	if ((r = sg_release_policy_check(&gu->spec.release, &gu->spec.req.platform, res, err)) <
	    0) {
		gu->step = SG_STEP_REFUSED;
		return r;
	}
	if ((r = sg_validation_build_packet(gu->v, err)) < 0)
		return r;
	gu->step = SG_STEP_RELEASE;
	return 0;
}

static bool
releasing(const struct sg_guest *gu)
{
	return gu->step == SG_STEP_RELEASE && gu->r == 0;
}

/*
 * The record @gu owes in the first pass (intent, refused, verdict) or, with
 * @released, the second; SG_AUDIT_EVENT_NONE for none. Sets its verdict and reason.
 */
static enum sg_audit_event_type
owed_event(const struct sg_guest *gu, bool released, const char **ret_verdict,
	   const char **ret_reason)
{
	*ret_verdict = sg_verdict_name(SG_VERDICT_TRUSTED);
	*ret_reason = NULL;
	if (released)
		return releasing(gu) ? SG_AUDIT_EVENT_RELEASED : SG_AUDIT_EVENT_NONE;
	switch (gu->step) {
	case SG_STEP_RELEASE: return SG_AUDIT_EVENT_RELEASE_INTENT;
	case SG_STEP_REFUSED:
		*ret_verdict = sg_verdict_name(SG_VERDICT_REFUSED);
		*ret_reason = gu->out.err.msg;
		return SG_AUDIT_EVENT_REFUSED;
	case SG_STEP_VERDICT:
		*ret_verdict = sg_verdict_name(sg_verdict_of(gu->r));
		*ret_reason = gu->r == 0 ? NULL : gu->out.err.msg;
		return SG_AUDIT_EVENT_VERDICT;
	default: return SG_AUDIT_EVENT_NONE;
	}
}

/* The records @guests owe in one pass (see owed_event), with one fdatasync. */
static void
record_group(struct sg_audit *audit, struct sg_guest **guests, size_t n, bool released,
	     struct event_buf *bufs, struct sg_audit_entry *ents, struct sg_error *errs)
{
	enum sg_audit_event_type event;
	const char *verdict, *reason;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		struct sg_guest *gu = guests[i];

		if (!(event = owed_event(gu, released, &verdict, &reason)))
			continue;
		event_fill(&bufs[k], event, &gu->spec, gu->m, sg_validation_result(gu->v));
		bufs[k].ev.verdict = verdict;
		bufs[k].ev.reason = reason;
		memset(&errs[k], 0, sizeof(errs[k]));
		ents[k] = (struct sg_audit_entry){ .ev = &bufs[k].ev, .err = &errs[k] };
		k++;
	}
	/* Each entry's own outcome (ents[].rc, errs[]) is what is acted on, just below. */
	sg_status_ignore(sg_audit_append_many(audit, ents, k));
	k = 0;
	for (size_t i = 0; i < n; i++) {
		struct sg_guest *gu = guests[i];
		struct sg_error *err = &gu->out.err, *e = &errs[k];

		if (!owed_event(gu, released, &verdict, &reason))
			continue;
		event_done(&bufs[k]);
		if (ents[k++].rc == 0) {
			gu->out.records++;
			continue;
		}
		if (released)
			gu->r = sg_error_set(err, e->code, "secret released but not recorded: %s",
					     e->msg);
		else if (gu->step == SG_STEP_RELEASE)
			gu->r = sg_error_set(err, e->code, "%s: nothing released", e->msg);
		else if (gu->r == 0)
			gu->r = sg_error_set(err, e->code, "%s", e->msg);
		else
			/*
			 * A refusal, mismatch or error nobody can prove later is an
			 * error: never silent, and the exit code says so (6).
			 */
			gu->r = not_recorded(err, e, verdict);
	}
}

/*
 * One sync for the secret files of the group's releasing guests. Its failure
 * is reported once, in the first of them, and is every one's failure: the
 * others get the same code and message.
 */
static void
sync_group(struct sg_guest **guests, size_t n, const char **paths, size_t npaths)
{
	const struct sg_guest *first = NULL;

	for (size_t i = 0; i < n; i++) {
		struct sg_guest *gu = guests[i];

		if (!releasing(gu) || !gu->spec.req.secret_header)
			continue;
		if (!first) {
			if ((gu->r = sg_fs_sync(paths, npaths, "secret file", &gu->out.err)) >= 0)
				return;
			first = gu;
		} else {
			gu->r = sg_error_set(&gu->out.err, first->out.err.code, "%s",
					     first->out.err.msg);
		}
	}
}

void
sg_release_group(struct sg_guest **guests, size_t n, struct sg_audit *audit)
{
	/* Alone, a release syncs its own files; in a group, one syncfs covers them all. */
	unsigned flags = n > 1 ? SG_WRITE_NOSYNC : 0;
	struct event_buf *bufs = NULL;
	struct sg_audit_entry *ents = NULL;
	struct sg_error *errs = NULL;
	const char **paths = NULL;
	size_t npaths = 0;

	if (audit && (!(bufs = calloc(n, sizeof(*bufs))) || !(ents = calloc(n, sizeof(*ents))) ||
		      !(errs = calloc(n, sizeof(*errs))))) {
		for (size_t i = 0; i < n; i++)
			if (guests[i]->step != SG_STEP_NONE) {
				guests[i]->r = sg_error_set(&guests[i]->out.err, SG_E_NOMEM,
							    "out of memory");
				guests[i]->step = SG_STEP_NONE;
			}
		goto out;
	}
	if (flags & SG_WRITE_NOSYNC && !(paths = calloc(2 * n, sizeof(*paths))))
		flags = 0;
	/* Durable before anything leaves: no record, no release. */
	if (audit)
		record_group(audit, guests, n, false, bufs, ents, errs);
	for (size_t i = 0; i < n; i++) {
		struct sg_guest *gu = guests[i];

		if (!releasing(gu))
			continue;
		gu->r = sg_validation_write_packet(gu->v, flags, &gu->out.err);
		if (gu->r == 0 && gu->spec.domain)
			gu->r = sg_online_inject(&gu->on, sg_validation_result(gu->v),
						 &gu->out.err);
		if (gu->r == 0 && paths && gu->spec.req.secret_header) {
			paths[npaths++] = gu->spec.req.secret_header;
			paths[npaths++] = gu->spec.req.secret_payload;
		}
	}
	if (npaths)
		sync_group(guests, n, paths, npaths);
	if (audit)
		record_group(audit, guests, n, true, bufs, ents, errs);
	for (size_t i = 0; i < n; i++) {
		struct sg_guest *gu = guests[i];

		if (releasing(gu) && gu->spec.release.destroy_keys &&
		    ((gu->r = sg_key_destroy(gu->spec.req.tik, &gu->spec.req.key_opts,
					     &gu->out.err)) < 0 ||
		     (gu->r = sg_key_destroy(gu->spec.req.tek, &gu->spec.req.key_opts,
					     &gu->out.err)) < 0))
			continue;
	}
out:
	free(paths);
	free(errs);
	free(ents);
	free(bufs);
}

int
sg_release_audit_open(struct sg_crypto *crypto, const char *log, const char *key,
		      const char *config, const struct sg_key_options *kopts, struct sg_audit **ret,
		      struct sg_error *err)
{
	const struct sg_config *conf = NULL;
	int r;

	*ret = NULL;
	if (!log || !key) {
		if ((r = sg_config_get(config, &conf, err)) < 0)
			return r;
		if (!log)
			log = conf->audit_log;
		if (!key)
			key = conf->audit_key;
	}
	/* The machine's own files: no packet output may name them (outputs.h). */
	if ((r = sg_output_protect(conf && conf->path ? conf->path : sg_config_path(config, NULL),
				   "the configuration file", err)) < 0)
		return r;
	if (!log)
		return 0;
	if (!key)
		return sg_error_set(err, SG_E_USAGE,
				    "an audit log needs a signing key (--audit-key or audit-key in "
				    "the configuration)");
	if ((r = sg_audit_open(crypto, log, key, kopts, ret, err)) < 0 ||
	    (r = sg_output_protect(log, "the audit log", err)) < 0 ||
	    (strncmp(key, "pkcs11:", 7) &&
	     (r = sg_output_protect(key, "the audit signing key", err)) < 0)) {
		sg_audit_close(*ret);
		*ret = NULL;
		return r;
	}
	return 0;
}
