/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli/release.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/manifest.h"
#include "config/config.h"
#include "key/p11.h"

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

/* @err's message with @fmt around it ("%s" stands for the old message). */
static int
rewrap(struct sg_error *err, int code, const char *fmt)
{
	char old[sizeof(err->msg)];

	memcpy(old, err->msg, sizeof(old));
	sg_error_clear(err); /* sg_error_set keeps the first error */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	return sg_error_set(err, code, fmt, old);
#pragma GCC diagnostic pop
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
		return sg_p11_uri_redact(spec);
	if (asprintf(&s, "file:%s", !strncmp(spec, "file:", 5) ? spec + 5 : spec) < 0)
		return NULL;
	return s;
}

static void
event_fill(struct event_buf *b, const char *event, const struct sg_cli_opts *o,
	   const struct sg_manifest *m, const struct sg_validate_result *res)
{
	const struct sg_validate_req *q = &o->req;
	const char *specs[] = { q->tik, q->tek, q->tk };
	struct sg_audit_event *ev = &b->ev;

	memset(b, 0, sizeof(*b));
	ev->event = event;
	ev->guest = o->guest ? o->guest : m ? m->guest : NULL;
	ev->manifest_sha256 = m ? m->sha256 : NULL;
	if (res) {
		ev->firmware_sha256 = res->firmware.present ? res->firmware.sha256 : NULL;
		ev->kernel_sha256 = res->kernel.present ? res->kernel.sha256 : NULL;
		ev->initrd_sha256 = res->initrd.present ? res->initrd.sha256 : NULL;
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

static int
record(struct sg_audit *audit, const char *event, const char *verdict, const char *reason,
       const struct sg_cli_opts *o, const struct sg_manifest *m,
       const struct sg_validate_result *res, struct sg_error *err)
{
	struct event_buf b;
	int r;

	event_fill(&b, event, o, m, res);
	b.ev.verdict = verdict;
	b.ev.reason = reason;
	r = sg_audit_append(audit, &b.ev, NULL, err);
	event_done(&b);
	return r;
}

int
sg_cli_audit_verdict(struct sg_audit *audit, const struct sg_cli_opts *o,
		     const struct sg_manifest *m, const struct sg_validate_result *res,
		     const char *verdict, const char *reason, struct sg_error *err)
{
	return record(audit, "verdict", verdict, reason, o, m, res, err);
}

int
sg_cli_release_check_usage(const struct sg_cli_opts *o, struct sg_error *err)
{
	if (o->release.destroy_keys && (!is_pkcs11(o->req.tik) || !is_pkcs11(o->req.tek)))
		return sg_error_set(err, SG_E_USAGE,
				    "destroy-keys needs --tik and --tek as pkcs11: URIs");
	return 0;
}

int
sg_cli_release(struct sg_validation *v, const struct sg_cli_opts *o, const struct sg_manifest *m,
	       struct sg_cli_online *on, struct sg_audit *audit, bool *ret_recorded,
	       struct sg_error *err)
{
	const struct sg_validate_result *res = sg_validation_result(v);
	struct sg_error tmp = { 0 };
	int r;

	*ret_recorded = false;
	if (o->req.nsecret_args == 0)
		return 0;
	if ((r = sg_release_policy_check(&o->release, &o->req.platform, res, err)) < 0) {
		if (audit) {
			*ret_recorded = true;
			if (record(audit, "refused", "refused", err->msg, o, m, res, &tmp) < 0)
				return sg_error_set(err, tmp.code, "%s", tmp.msg);
		}
		return r;
	}
	if ((r = sg_validation_build_packet(v, err)) < 0)
		return r;
	if (audit) {
		*ret_recorded = true;
		/* Durable before anything leaves: no record, no release. */
		if ((r = record(audit, "release-intent", "trusted", NULL, o, m, res, err)) < 0)
			return rewrap(err, r, "%s: nothing released");
	}
	if ((r = sg_validation_write_packet(v, err)) < 0)
		return r;
	if (o->domain && (r = sg_cli_online_inject(on, res, err)) < 0)
		return r;
	if (audit && (r = record(audit, "released", "trusted", NULL, o, m, res, err)) < 0)
		return rewrap(err, r, "secret released but not recorded: %s");
	if (o->release.destroy_keys &&
	    ((r = sg_key_destroy(o->req.tik, &o->req.key_opts, err)) < 0 ||
	     (r = sg_key_destroy(o->req.tek, &o->req.key_opts, err)) < 0))
		return r;
	return 0;
}

int
sg_cli_audit_open(struct sg_crypto *crypto, const char *log, const char *key, const char *config,
		  const struct sg_key_options *kopts, struct sg_audit **ret, struct sg_error *err)
{
	_cleanup_(sg_config_freep) struct sg_config *conf = NULL;
	int r;

	*ret = NULL;
	if (!log || !key) {
		if ((r = sg_config_load(config, &conf, err)) < 0)
			return r;
		if (!log)
			log = conf->audit_log;
		if (!key)
			key = conf->audit_key;
	}
	if (!log)
		return 0;
	if (!key)
		return sg_error_set(err, SG_E_USAGE,
				    "an audit log needs a signing key (--audit-key or audit-key in "
				    "the configuration)");
	return sg_audit_open(crypto, log, key, kopts, ret, err);
}
