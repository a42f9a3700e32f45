/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The option table (src/spec/guest-spec.c): one row per option, its
 * --help line and the manifest key it is; and the command table built on
 * it (src/cli/cmdtab.c): getopt and --help of every command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vectors.h"
#include "cli/cmdtab.h"
#include "spec/guest-spec.h"

struct case_mkey {
	const char *id;
	const char *key;
	bool in_release;
	int want_id; /* 0: not a manifest key there */
	enum sg_manifest_type want_type;
};

static const struct case_mkey mkeys[] = {
	{ "policy", "policy", false, SG_GOPT_POLICY, SG_MANIFEST_INT },
	{ "measurement", "measurement", false, 'm', SG_MANIFEST_STRING },
	{ "firmware", "firmware", false, 'f', SG_MANIFEST_PATH },
	{ "tk", "tk", false, SG_GOPT_TK, SG_MANIFEST_KEY },
	{ "insecure", "insecure", false, 'i', SG_MANIFEST_BOOL },
	{ "secret-header", "secret-header", false, SG_GOPT_SECRET_HEADER, SG_MANIFEST_PATH },
	{ "digests-plural", "allowed-launch-digests", true, SG_GOPT_ALLOWED_DIGEST,
	  SG_MANIFEST_LIST },
	{ "digest-singular", "allowed-launch-digest", true, 0, SG_MANIFEST_NONE },
	{ "min-build-u8", "min-build", true, SG_GOPT_MIN_BUILD, SG_MANIFEST_U8 },
	{ "min-api", "min-api", true, SG_GOPT_MIN_API, SG_MANIFEST_STRING },
	{ "allow-debug", "allow-debug", true, SG_GOPT_ALLOW_DEBUG, SG_MANIFEST_BOOL },
	/* Release keys are the release mapping's, not top-level keys, and the reverse. */
	{ "release-key-at-top", "require-policy", false, 0, SG_MANIFEST_NONE },
	{ "top-key-in-release", "policy", true, 0, SG_MANIFEST_NONE },
	/* Command-line only: the machine's own files and options, the front end's. */
	{ "inject-secret", "inject-secret", false, 0, SG_MANIFEST_NONE },
	{ "audit-log", "audit-log", false, 0, SG_MANIFEST_NONE },
	{ "pin-file", "pin-file", false, 0, SG_MANIFEST_NONE },
	{ "manifest", "manifest", false, 0, SG_MANIFEST_NONE },
	{ "json", "json", false, 0, SG_MANIFEST_NONE },
	/* The manifest's own keys are the loader's. */
	{ "version", "version", false, 0, SG_MANIFEST_NONE },
	{ "guest", "guest", false, 0, SG_MANIFEST_NONE },
	{ "unknown", "polcy", false, 0, SG_MANIFEST_NONE },
};

static void
test_manifest_key(void **state)
{
	const struct case_mkey *c = *state;
	const struct sg_guest_option *o = sg_guest_option_by_manifest_key(c->key, c->in_release);

	if (!c->want_id) {
		assert_null(o);
		return;
	}
	assert_non_null(o);
	assert_int_equal(o->id, c->want_id);
	assert_int_equal(o->manifest, c->want_type);
}

/* Every row: a name, help, a metavar exactly when it takes a value, one id, one name. */
static void
test_rows(void **state)
{
	size_t n, nmanifest = 0;
	const struct sg_guest_option *t = sg_guest_options(&n);

	(void)state;
	assert_true(n > 50);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(t[i].name);
		assert_non_null(t[i].help);
		assert_true(strlen(t[i].help) > 0 && strlen(t[i].help) <= 52);
		assert_int_equal(t[i].takes_value, t[i].metavar != NULL);
		assert_true(t[i].origins != 0);
		assert_true(t[i].section < SG_SECTION_COUNT);
		assert_ptr_equal(sg_guest_option_by_id(t[i].id), &t[i]);
		/* A front end's own option is never a manifest key. */
		if (t[i].frontend)
			assert_int_equal(t[i].manifest, SG_MANIFEST_NONE);
		/* A flag is a BOOL key; a value never is. */
		if (t[i].manifest != SG_MANIFEST_NONE) {
			nmanifest++;
			assert_int_equal(t[i].manifest == SG_MANIFEST_BOOL, !t[i].takes_value);
			assert_true(t[i].origins & SG_FROM_VALIDATE);
		}
		for (size_t j = 0; j < i; j++)
			assert_true(strcmp(t[i].name, t[j].name) != 0);
	}
	/* The 32 top-level keys of manifest version 1 and the 7 of its release mapping. */
	assert_int_equal(nmanifest, 39);
}

static void
test_find(void **state)
{
	(void)state;
	assert_int_equal(sg_guest_option_find(SG_ORIGIN_COMPAT, "tik")->id, SG_GOPT_TIK);
	/* The drop-in has no release policy, digest no keys. */
	assert_null(sg_guest_option_find(SG_ORIGIN_COMPAT, "require-policy"));
	assert_null(sg_guest_option_find(SG_ORIGIN_DIGEST, "tik"));
	assert_int_equal(sg_guest_option_find(SG_ORIGIN_DIGEST, "format")->id, SG_GOPT_FORMAT);
	assert_null(sg_guest_option_by_id(4242));
}

struct case_getopt {
	const char *id;
	const char *program, *name;
	const char *shortopts;
	const char *longopts; /* the names, space-separated */
};

static const struct case_getopt getopts[] = {
	/* A front end takes the drop-in's short forms; ':' first tells a missing argument. */
	{ "compat", "virt-qemu-sev-validate", "", ":hdqm:c:o:igs:f:k:r:e:n:0:1:", NULL },
	{ "digest", "sevgate", "digest", ":hdf:k:r:e:n:0:1:", NULL },
	/* The other commands: only the general options' short forms. */
	{ "batch", "sevgate", "batch", "hqd",
	  "help quiet debug jobs report format config pin-file allow-exportable-keys audit-log "
	  "audit-key" },
	{ "secret-build", "sevgate", "secret build", "h",
	  "help tik tek tk measurement header payload secret iv padding pin-file config" },
	{ "secret-open", "sevgate", "secret open", "h",
	  "help tik tek tk measurement header payload pin-file config" },
	{ "vmsa-build", "sevgate", "vmsa build", "h",
	  "help cpu-family cpu-model cpu-stepping vcpu-type cpu-sig vmsa-profile sev-features "
	  "firmware reset-addr" },
	{ "vmsa-show", "sevgate", "vmsa show", "", "" },
	{ "keys", "sevgate", "keys", "h",
	  "help tik tek tk token label shred label-prefix pubout pin-file config "
	  "allow-exportable-keys" },
	{ "audit", "sevgate", "audit", "h", "help pubkey expect-head guest since" },
};

static void
test_getopt(void **state)
{
	const struct case_getopt *c = *state;
	const struct sg_command *cmd = sg_command_find(c->program, c->name);
	struct sg_command_getopt g;
	struct sg_error err = { 0 };
	char names[1024] = "";
	size_t len = 0;

	assert_non_null(cmd);
	assert_int_equal(sg_command_getopt_init(cmd, &g, &err), 0);
	assert_string_equal(g.shortopts, c->shortopts);
	for (size_t i = 0; g.longopts[i].name; i++) {
		const struct sg_guest_option *o = sg_command_option(g.longopts[i].val);

		/* Each getopt row is its table row: name, argument and id. */
		assert_non_null(o);
		assert_string_equal(o->name, g.longopts[i].name);
		assert_int_equal(g.longopts[i].has_arg,
				 o->takes_value ? required_argument : no_argument);
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", len ? " " : "",
					g.longopts[i].name);
	}
	if (c->longopts)
		assert_string_equal(names, c->longopts);
}

static char *
usage_text(const char *program, const char *name)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	sg_command_usage(sg_command_find(program, name), f);
	fclose(f);
	return buf;
}

static void
test_usage(void **state)
{
	char *t;

	(void)state;
	t = usage_text("sevgate", "keys list");
	assert_string_equal(t,
			    "usage: sevgate keys list [--token URI]\n"
			    "options:\n"
			    "  -h, --help                show this help\n"
			    "      --token URI           the token, as a pkcs11: URI\n"
			    "      --pin-file PATH       token PIN (or pin-source=file:PATH in the "
			    "URI)\n"
			    "      --config FILE         sevgate.conf (default "
			    "/etc/sevgate/sevgate.conf)\n"
			    "      --allow-exportable-keys\n"
			    "                            accept token keys that are extractable\n");
	free(t);
	t = usage_text("sevgate", "vmsa show");
	assert_string_equal(t, "usage: sevgate vmsa show FILE\n");
	free(t);
	/* A front end: its sections, each with its title, the short forms shown. */
	t = usage_text("virt-qemu-sev-validate", "");
	assert_true(!strncmp(t,
			     "usage: virt-qemu-sev-validate [OPTIONS]\n\nValidate guest AMD "
			     "SEV launch measurement\n\n  -h, --help                show this "
			     "help\n",
			     strlen("usage: virt-qemu-sev-validate [OPTIONS]\n\nValidate guest AMD "
				    "SEV launch measurement\n\n  -h, --help                show "
				    "this help\n")));
	assert_non_null(strstr(t, "\nKeys:\n      --tik KEY             16-byte TIK file or a "
				  "pkcs11: URI\n"));
	assert_non_null(strstr(t, "\nGuest config:\n  -f, --firmware PATH       firmware"));
	assert_null(strstr(t, "--json"));
	assert_null(strstr(t, "Release policy"));
	free(t);
	t = usage_text("sevgate", "validate");
	assert_non_null(strstr(t, "\nRelease policy (a secret is released only if all hold; else "
				  "exit 7):\n      --require-policy LIST"));
	assert_non_null(strstr(t, "\nAudit:\n      --audit-log FILE  "));
	free(t);
}

static char *
synopsis_text(const char *name)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	sg_command_synopsis(sg_command_find("sevgate", name), f);
	fclose(f);
	return buf;
}

/*
 * The command-level --help is the synopses, byte for byte what the commands
 * printed before the table (tests/manifest pins keys, secret and vmsa):
 * sevgate keys --help and sevgate audit --help print these.
 */
static void
test_synopsis(void **state)
{
	static const struct {
		const char *name, *want;
	} cases[] = {
		{ "keys",
		  "usage: sevgate keys import --tik FILE --tek FILE | --tk FILE --token URI "
		  "--label NAME [--shred]\n"
		  "       sevgate keys store-secret FILE --token URI --label NAME [--shred]\n"
		  "       sevgate keys generate-audit-key --token URI --label NAME --pubout "
		  "FILE.pem\n"
		  "       sevgate keys list [--token URI]\n"
		  "       sevgate keys delete URI...\n"
		  "       sevgate keys prune --label-prefix PREFIX [--token URI]\n"
		  "common: [--pin-file FILE] [--config FILE] [--allow-exportable-keys]\n" },
		{ "audit", "usage: sevgate audit verify FILE --pubkey PEM [--expect-head HEX]\n"
			   "       sevgate audit show FILE [--guest NAME] [--since TIME]\n"
			   "verify checks every record's signature, sequence and link to the one "
			   "before;\n"
			   "with --expect-head (a head kept elsewhere) also that no record was cut "
			   "from the\n"
			   "end. show prints the records, one per line.\n" },
		{ "secret open",
		  "usage: sevgate secret open --tik K --tek K | --tk K --measurement "
		  "B64\n"
		  "       --header FILE --payload FILE [--pin-file FILE] [--config "
		  "FILE]\n" },
	};

	(void)state;
	for (size_t i = 0; i < SG_ELEMENTSOF(cases); i++) {
		char *t = synopsis_text(cases[i].name);

		assert_string_equal(t, cases[i].want);
		free(t);
	}
}

/* Every id a command lists is a row; a subcommand's options are its parser's. */
static void
test_commands(void **state)
{
	size_t n;
	const struct sg_command *cmds = sg_commands(&n);

	(void)state;
	assert_null(sg_command_find("sevgate", "frob"));
	for (size_t i = 0; i < n; i++) {
		const struct sg_guest_option *rows[SG_COMMAND_MAX_OPTS], *prow[SG_COMMAND_MAX_OPTS];
		size_t nrows = sg_command_rows(&cmds[i], rows, SG_ELEMENTSOF(rows)), nids = 0;
		const struct sg_command *parser = NULL;
		char word[64];

		if (!cmds[i].from) {
			while (cmds[i].ids[nids])
				nids++;
			assert_int_equal(nrows, nids);
		}
		/* "keys list" is parsed by "keys", "secret open" by "secret build". */
		snprintf(word, sizeof(word), "%.*s", (int)strcspn(cmds[i].name, " "), cmds[i].name);
		if (!strcmp(cmds[i].name, "secret open"))
			parser = sg_command_find("sevgate", "secret build");
		else if (strchr(cmds[i].name, ' ') && sg_command_find("sevgate", word))
			parser = sg_command_find("sevgate", word);
		if (!parser)
			continue;
		size_t np = sg_command_rows(parser, prow, SG_ELEMENTSOF(prow));

		for (size_t r = 0; r < nrows; r++) {
			bool found = false;

			for (size_t k = 0; k < np; k++)
				found |= prow[k] == rows[r];
			assert_true(found);
		}
	}
}

/*
 * sevgate --help lists the table's commands, one line each from the first
 * entry of the command (byte for byte the list sevgate.c held before), and
 * a command's entries are adjacent (completion groups them so).
 */
static void
test_summaries(void **state)
{
	static const char want[] =
		"  validate   check a guest's launch measurement; release its secrets\n"
		"  batch      validate every guest of a set of manifests\n"
		"  audit      verify or show the signed audit log (audit verify|show)\n"
		"  digest     print the launch digest of firmware, kernel and VMSAs\n"
		"  vmsa       build or show SEV-ES VMSA pages (vmsa build|show)\n"
		"  ovmf       show an OVMF image's footer table (ovmf show)\n"
		"  keys       import, list and delete TIK/TEK keys in a PKCS#11 token\n"
		"  secret     build, or check and decrypt, a launch-secret packet (secret build|open)\n";
	size_t n, len = 0;
	const struct sg_command *cmds = sg_commands(&n);
	char *buf = NULL;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	for (size_t i = 0; i < n; i++) {
		int w = (int)strcspn(cmds[i].name, " ");
		bool first = i == 0 || strcmp(cmds[i - 1].program, cmds[i].program) ||
			     (int)strcspn(cmds[i - 1].name, " ") != w ||
			     strncmp(cmds[i - 1].name, cmds[i].name, (size_t)w);

		if (strcmp(cmds[i].program, "sevgate")) {
			assert_null(cmds[i].summary);
			continue;
		}
		/* The first entry of each command has its line, the others none. */
		assert_int_equal(first, cmds[i].summary != NULL);
		for (size_t k = 0; first && k < i; k++)
			assert_false(!strcmp(cmds[k].program, "sevgate") &&
				     (int)strcspn(cmds[k].name, " ") == w &&
				     !strncmp(cmds[k].name, cmds[i].name, (size_t)w));
		if (cmds[i].summary)
			fprintf(f, "  %-10.*s %s\n", w, cmds[i].name, cmds[i].summary);
	}
	fclose(f);
	assert_string_equal(buf, want);
	free(buf);
}

int
main(int argc, char **argv)
{
	struct CMUnitTest tests[SG_ELEMENTSOF(mkeys) + SG_ELEMENTSOF(getopts) + 8];
	size_t n = 0;

	for (size_t i = 0; i < SG_ELEMENTSOF(getopts); i++)
		tests[n++] = (struct CMUnitTest){ .name = getopts[i].id,
						  .test_func = test_getopt,
						  .initial_state = (void *)&getopts[i] };

	for (size_t i = 0; i < SG_ELEMENTSOF(mkeys); i++)
		tests[n++] = (struct CMUnitTest){ .name = mkeys[i].id,
						  .test_func = test_manifest_key,
						  .initial_state = (void *)&mkeys[i] };
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_rows);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_find);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_usage);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_synopsis);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_commands);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_summaries);
	return tv_main(argc, argv, "options", tests, n, NULL, 0);
}
