/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The manifest schema (src/manifest/manifest.c): a table of manifests, each
 * with what it sets in the guest spec or the exact error (FILE:LINE:COL) it
 * is refused with. The command-line side of each key (tests/manifest)
 * covers the files and the trust model end to end; this is the loader on
 * its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vectors.h"
#include "core/policy.h"
#include "manifest/manifest.h"
#include "spec/guest-spec.h"

#define HEAD "version: 1\nguest: g1\n"

struct row {
	const char *name;
	const char *text;     /* the manifest, guest.yaml in a fresh directory */
	const char *defaults; /* defaults.yaml beside it, or NULL */
	int rc;
	const char *msg; /* with "@" for the manifest's path, "#" for defaults.yaml's */
	void (*check)(const struct sg_guest_spec *g, const struct sg_manifest *m, const char *dir);
};

static char *
in_dir(const char *dir, const char *name)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static void
check_minimal(const struct sg_guest_spec *g, const struct sg_manifest *m, const char *dir)
{
	char *fw = in_dir(dir, "fw.bin");

	assert_string_equal(g->guest, "g1");
	assert_string_equal(m->guest, "g1");
	assert_string_equal(g->req.firmware, fw); /* relative to the manifest's directory */
	assert_string_equal(g->req.tik, "/keys/tik.bin");
	assert_string_equal(g->req.tek, "pkcs11:token=t;object=tek"); /* a URI as it is */
	assert_false(g->req.have_measurement);
	free(fw);
}

static void
check_state(const struct sg_guest_spec *g, const struct sg_manifest *m, const char *dir)
{
	(void)m, (void)dir;
	assert_true(g->req.have_api_major && g->req.have_api_minor && g->req.have_build_id &&
		    g->req.have_policy);
	assert_int_equal(g->req.platform.api_major, 1);
	assert_int_equal(g->req.platform.api_minor, 51);
	assert_int_equal(g->req.platform.build_id, 3);
	assert_int_equal(g->req.platform.policy, 0x5);
	assert_int_equal(g->req.num_cpus, 4);
	assert_int_equal(g->req.sev_features, 0x20);
	assert_true(g->have_family && g->have_model && g->have_stepping);
	assert_int_equal(g->family, 25);
	assert_int_equal(g->model, 1);
	assert_int_equal(g->stepping, 1);
	assert_true(g->req.have_measurement);
}

static void
check_online(const struct sg_guest_spec *g, const struct sg_manifest *m, const char *dir)
{
	(void)m, (void)dir;
	assert_string_equal(g->domain, "vm1");
	assert_string_equal(g->connect, "qemu+ssh://host/system");
	assert_true(g->insecure);
	assert_false(g->ignore_config); /* false: not applied */
	assert_true(g->destroy_on_failure);
}

static void
check_secrets(const struct sg_guest_spec *g, const struct sg_manifest *m, const char *dir)
{
	char *s = in_dir(dir, "s.bin"), text[SG_GUID_STR_LEN + 1];

	(void)m;
	assert_int_equal(g->req.nsecrets, 2);
	sg_guid_format(&g->req.secrets[0].guid, text);
	assert_string_equal(text, "736869e5-84f0-4973-92ec-06879ce3da0b"); /* luks-key */
	assert_string_equal(g->req.secrets[0].path, s);
	assert_null(g->req.secrets[0].invalid);
	sg_guid_format(&g->req.secrets[1].guid, text);
	assert_string_equal(text, "0123abcd-0000-1111-2222-333344445555");
	assert_string_equal(g->req.secrets[1].path, "pkcs11:token=t;object=disk;type=data");
	/* The fd check of the trust model is armed for the manifest's secret files. */
	assert_non_null(g->req.secret_check);
	assert_ptr_equal(g->req.secret_check_ctx, m);
	free(s);
}

static void
check_release(const struct sg_guest_spec *g, const struct sg_manifest *m, const char *dir)
{
	(void)m, (void)dir;
	assert_int_equal(g->release.require_bits, SG_POLICY_NODBG | SG_POLICY_ES);
	assert_true(g->release.have_min_api);
	assert_int_equal(g->release.min_api_major, 1);
	assert_int_equal(g->release.min_api_minor, 49);
	assert_true(g->release.have_min_build);
	assert_int_equal(g->release.min_build, 7);
	assert_int_equal(g->release.nallowed_firmware, 2);
	assert_int_equal(g->release.allowed_firmware[1][0], 0xbb);
	assert_int_equal(g->release.nallowed_digests, 1);
	assert_true(g->release.destroy_keys);
	assert_false(g->release.allow_debug);
}

static void
check_defaults(const struct sg_guest_spec *g, const struct sg_manifest *m, const char *dir)
{
	char *fw = in_dir(dir, "own-fw.bin");

	(void)m;
	assert_string_equal(g->req.firmware, fw);	  /* the manifest's key wins */
	assert_string_equal(g->req.tik, "/keys/tik.bin"); /* from defaults.yaml */
	assert_int_equal(g->req.platform.api_minor, 51);  /* from defaults.yaml */
	free(fw);
}

static void
check_outputs_located(const struct sg_guest_spec *g, const struct sg_manifest *m, const char *dir)
{
	char *h = in_dir(dir, "out/h.b64");

	assert_string_equal(g->req.secret_header, h);
	assert_non_null(m->header_loc.file);
	assert_int_equal(m->header_loc.line, 3);
	assert_int_equal(m->header_loc.col, 1);
	assert_null(m->payload_loc.file);
	free(h);
}

static const struct row rows[] = {
	{ "minimal", HEAD "firmware: fw.bin\ntik: /keys/tik.bin\ntek: pkcs11:token=t;object=tek\n",
	  NULL, 0, NULL, check_minimal },
	{ "launch-state-and-cpu",
	  HEAD "api-major: 1\napi-minor: 51\nbuild-id: 3\npolicy: 0x5\nnum-cpus: 4\n"
	       "sev-features: 0x20\ncpu-family: 25\ncpu-model: 1\ncpu-stepping: 1\n"
	       "measurement: "
	       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
	  NULL, 0, NULL, check_state },
	{ "online",
	  HEAD "domain: vm1\nconnect: qemu+ssh://host/system\ninsecure: true\n"
	       "ignore-config: false\non-failure: destroy\n",
	  NULL, 0, NULL, check_online },
	{ "secrets",
	  HEAD "secrets:\n  - {guid: luks-key, file: s.bin}\n"
	       "  - {guid: 0123ABCD-0000-1111-2222-333344445555, uri: "
	       "'pkcs11:token=t;object=disk;type=data'}\n",
	  NULL, 0, NULL, check_secrets },
	{ "release",
	  HEAD "release:\n  require-policy: [nodbg, es]\n  min-api: '1.49'\n  min-build: 7\n"
	       "  allowed-firmware-sha256:\n"
	       "    - aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	       "    - bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
	       "  allowed-launch-digests: "
	       "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\n"
	       "  destroy-keys: true\n  allow-debug: false\n",
	  NULL, 0, NULL, check_release },
	{ "defaults-merged-under", HEAD "firmware: own-fw.bin\n",
	  "firmware: default-fw.bin\ntik: /keys/tik.bin\napi-minor: 51\n", 0, NULL,
	  check_defaults },
	{ "output-location", HEAD "secret-header: out/h.b64\n", NULL, 0, NULL,
	  check_outputs_located },

	{ "no-version", "guest: g1\n", NULL, SG_E_USAGE, "@:1:1: missing required key 'version'",
	  NULL },
	{ "no-guest", "version: 1\n", NULL, SG_E_USAGE, "@:1:1: missing required key 'guest'",
	  NULL },
	{ "version-2", "version: 2\nguest: g1\n", NULL, SG_E_USAGE,
	  "@:1:10: version 2 is not supported (this sevgate reads version 1)", NULL },
	{ "unknown-key", HEAD "firmwar: fw.bin\n", NULL, SG_E_USAGE, "@:3:1: unknown key 'firmwar'",
	  NULL },
	{ "front-end-option-is-no-key", HEAD "json: true\n", NULL, SG_E_USAGE,
	  "@:3:1: unknown key 'json'", NULL },
	{ "inject-secret-is-no-key", HEAD "inject-secret: luks-key:s.bin\n", NULL, SG_E_USAGE,
	  "@:3:1: unknown key 'inject-secret'", NULL },
	{ "empty-guest", "version: 1\nguest: ''\n", NULL, SG_E_USAGE,
	  "@:2:8: guest must not be empty", NULL },
	{ "guest-not-a-string", "version: 1\nguest: [a]\n", NULL, SG_E_USAGE,
	  "@:2:8: guest must be a string", NULL },
	{ "quoted-int", HEAD "api-major: '1'\n", NULL, SG_E_USAGE,
	  "@:3:12: api-major must be an integer, not a quoted string", NULL },
	{ "int-too-big", HEAD "api-major: 256\n", NULL, SG_E_USAGE,
	  "@:3:12: --api-major: 256 is out of range (max 255)", NULL },
	{ "bad-bool", HEAD "insecure: maybe\n", NULL, SG_E_USAGE,
	  "@:3:11: insecure must be true or false", NULL },
	{ "bad-on-failure", HEAD "on-failure: explode\n", NULL, SG_E_USAGE,
	  "@:3:13: --on-failure must be keep or destroy", NULL },
	{ "secret-no-guid", HEAD "secrets:\n  - {file: s.bin}\n", NULL, SG_E_USAGE,
	  "@:4:5: a secrets entry needs guid and one of file or uri", NULL },
	{ "secret-file-and-uri", HEAD "secrets:\n  - {guid: luks-key, file: s, uri: 'pkcs11:x'}\n",
	  NULL, SG_E_USAGE, "@:4:5: a secrets entry needs guid and one of file or uri", NULL },
	{ "secret-bad-alias", HEAD "secrets:\n  - {guid: nope, file: s.bin}\n", NULL, SG_E_USAGE,
	  "@:4:5: guid: Secret alias 'nope' is not known", NULL },
	{ "secret-unknown-member", HEAD "secrets:\n  - {guid: luks-key, path: s.bin}\n", NULL,
	  SG_E_USAGE, "@:4:22: unknown key 'path' in a secrets entry (guid, file, uri)", NULL },
	{ "secret-uri-not-pkcs11", HEAD "secrets:\n  - {guid: luks-key, uri: 'file:/x'}\n", NULL,
	  SG_E_USAGE, "@:4:5: a secret's uri must be a pkcs11: URI of a data object", NULL },
	{ "release-not-a-map", HEAD "release: yes\n", NULL, SG_E_USAGE,
	  "@:3:10: release must be a mapping", NULL },
	{ "release-bad-policy-word", HEAD "release:\n  require-policy: [nodbg, turbo]\n", NULL,
	  SG_E_USAGE, "@:4:27: unknown policy bit 'turbo' (nodbg, noks, es, nosend, domain, sev)",
	  NULL },
	{ "connect-ext-refused", HEAD "domain: d\nconnect: 'qemu+ext:///system?command=/bin/x'\n",
	  NULL, SG_E_USAGE,
	  "@:4:10: connect: the ext transport runs a local command: refused in a manifest, which must not choose a program for sevgate to run (give --connect on the command line)",
	  NULL },
	{ "defaults-error-names-defaults", HEAD, "bogus: 1\n", SG_E_USAGE,
	  "#:1:1: unknown key 'bogus'", NULL },
	/* libyaml's own words differ between its versions: the location and kind only. */
	{ "not-yaml", "version: [1\n", NULL, SG_E_USAGE, "@:2:1: YAML syntax error: *", NULL },
};

/* @pattern with @ and # replaced by the two file names. */
static char *
expand(const char *pattern, const char *manifest, const char *defaults)
{
	size_t cap = strlen(pattern) + strlen(manifest) + strlen(defaults) + 1;
	char *out = calloc(1, cap), *o = out;

	for (const char *p = pattern; *p; p++)
		o += *p == '@' ? sprintf(o, "%s", manifest) :
		     *p == '#' ? sprintf(o, "%s", defaults) :
				 sprintf(o, "%c", *p);
	return out;
}

static void
test_row(void **state)
{
	const struct row *t = *state;
	struct sg_crypto *crypto = NULL;
	struct sg_manifest *m = NULL;
	struct sg_guest_spec g;
	struct sg_error err = { 0 };
	char *dir, *path, *dpath;
	int rc;

	assert_int_equal(sg_crypto_new(&crypto, &err), 0);
	dir = tv_tmp(t->name);
	assert_int_equal(mkdir(dir, 0700), 0);
	path = in_dir(dir, "guest.yaml");
	dpath = in_dir(dir, "defaults.yaml");
	tv_write(path, t->text, strlen(t->text));
	if (t->defaults)
		tv_write(dpath, t->defaults, strlen(t->defaults));
	sg_guest_spec_init(SG_ORIGIN_VALIDATE, &g);
	rc = sg_manifest_apply(crypto, path, &g, &m, &err);
	if (t->rc == 0) {
		TV_ASSERT_OK(rc, &err);
		assert_non_null(m);
		assert_string_equal(m->path, path);
		t->check(&g, m, dir);
	} else {
		TV_ASSERT_ERR(rc, &err, t->rc);
		assert_null(m);
		/* Every refusal names the file, its line and column. */
		assert_true(!strncmp(err.msg, path, strlen(path)) ||
			    !strncmp(err.msg, dpath, strlen(dpath)));
		if (t->msg) {
			char *want = expand(t->msg, path, dpath);
			size_t n = strlen(want);

			/* A message ending in '*' is a prefix. */
			if (n && want[n - 1] == '*')
				assert_int_equal(strncmp(err.msg, want, n - 1), 0);
			else
				assert_string_equal(err.msg, want);
			free(want);
		}
	}
	sg_manifest_free(m);
	unlink(path);
	unlink(dpath);
	rmdir(dir);
	free(path);
	free(dpath);
	free(dir);
	sg_crypto_free(crypto);
}

/* The manifest's hash is over its bytes: two texts, two hashes; the same text, one. */
static void
test_sha256_of_bytes(void **state)
{
	static const char text[] = HEAD "firmware: fw.bin\n";
	struct sg_crypto *crypto = NULL;
	struct sg_manifest *a = NULL, *b = NULL;
	struct sg_guest_spec g;
	struct sg_error err = { 0 };
	uint8_t want[32];
	char *p = tv_tmp("sha.yaml");

	(void)state;
	assert_int_equal(sg_crypto_new(&crypto, &err), 0);
	tv_write(p, text, strlen(text));
	sg_guest_spec_init(SG_ORIGIN_VALIDATE, &g);
	TV_ASSERT_OK(sg_manifest_apply(crypto, p, &g, &a, &err), &err);
	TV_ASSERT_OK(sg_sha256(crypto, text, strlen(text), want, &err), &err);
	assert_memory_equal(a->sha256, want, 32);
	tv_write(p, HEAD "firmware: fw2.bin\n", strlen(HEAD "firmware: fw2.bin\n"));
	sg_guest_spec_init(SG_ORIGIN_VALIDATE, &g);
	TV_ASSERT_OK(sg_manifest_apply(crypto, p, &g, &b, &err), &err);
	assert_memory_not_equal(a->sha256, b->sha256, 32);
	sg_manifest_free(a);
	sg_manifest_free(b);
	unlink(p);
	free(p);
	sg_crypto_free(crypto);
}

static const struct {
	const char *name;
	bool ok;
} names[] = {
	{ "g1.yaml", true },   { "g1.yml", true },   { "defaults.yaml", false },
	{ "g1.yaml~", false }, { ".yaml", false },   { "g1.json", false },
	{ "g1.YAML", false },  { "a.b.yaml", true },
};

static void
test_name_ok(void **state)
{
	(void)state;
	for (size_t i = 0; i < SG_ELEMENTSOF(names); i++)
		assert_int_equal(sg_manifest_name_ok(names[i].name), names[i].ok);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(rows) + 2];
	size_t n = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(rows); i++)
		tests[n++] =
			(struct CMUnitTest){ rows[i].name, test_row, NULL, NULL, (void *)&rows[i] };
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_sha256_of_bytes);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_name_ok);
	return tv_main(argc, argv, "manifest", tests, n, NULL, 0);
}
