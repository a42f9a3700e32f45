/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli/cmdtab.h"

#include <string.h>

/* An option only one command has: the command handles it (no origin, no manifest key). */
#define OWN_ARG(name, id, metavar, help)                                                           \
	{                                                                                          \
		name, id, true, 0, true, metavar, help, SG_SECTION_GENERAL, SG_MANIFEST_NONE, NULL \
	}
#define OWN_FLAG(name, id, help)                                                                 \
	{                                                                                        \
		name, id, false, 0, true, NULL, help, SG_SECTION_GENERAL, SG_MANIFEST_NONE, NULL \
	}

static const struct sg_guest_option own_rows[] = {
	OWN_ARG("jobs", SG_COPT_JOBS, "N", "worker threads (default: the online CPUs; 1 to 256)"),
	OWN_ARG("report", SG_COPT_REPORT, "FILE",
		"JSON Lines report, one line a guest (-: stdout)"),
	OWN_ARG("format", SG_COPT_BATCH_FORMAT, "human|json", "output form (default human)"),
	OWN_ARG("header", SG_COPT_HEADER, "FILE", "the packet header (base64)"),
	OWN_ARG("payload", SG_COPT_PAYLOAD, "FILE", "the packet payload (base64)"),
	OWN_ARG("secret", SG_COPT_SECRET, "GUID-OR-ALIAS:FILE",
		"a secret to put in the packet (repeatable)"),
	OWN_ARG("iv", SG_COPT_IV, "HEX", "fixed IV, 32 hex digits (testing only)"),
	OWN_ARG("padding", SG_COPT_PADDING, "align16|libvirt",
		"secret table padding (default align16)"),
	OWN_ARG("cpu-sig", SG_COPT_CPU_SIG, "N", "the CPUID signature itself (RDX)"),
	OWN_ARG("reset-addr", SG_COPT_RESET_ADDR, "N",
		"the other CPUs' reset address (instead of --firmware)"),
	OWN_ARG("token", SG_COPT_TOKEN, "URI", "the token, as a pkcs11: URI"),
	OWN_ARG("label", SG_COPT_LABEL, "NAME", "label of the new token object(s)"),
	OWN_FLAG("shred", SG_COPT_SHRED, "overwrite and remove the file(s) once stored"),
	OWN_ARG("label-prefix", SG_COPT_LABEL_PREFIX, "PREFIX",
		"delete the keys whose label starts with PREFIX"),
	OWN_ARG("pubout", SG_COPT_PUBOUT, "FILE", "where to write the public key (PEM; -: stdout)"),
	OWN_ARG("pubkey", SG_COPT_PUBKEY, "PEM", "the audit key's public half"),
	OWN_ARG("expect-head", SG_COPT_EXPECT_HEAD, "HEX",
		"the head kept elsewhere: no record was cut"),
	OWN_ARG("guest", SG_COPT_AUDIT_GUEST, "NAME", "only this guest's records"),
	OWN_ARG("since", SG_COPT_SINCE, "TIME", "only the records from TIME on"),
};

/* One command's options (0-terminated), a few to a line. */
/* clang-format off */
static const int batch_ids[] = {
	'h', 'q', 'd', SG_COPT_JOBS, SG_COPT_REPORT, SG_COPT_BATCH_FORMAT, SG_GOPT_CONFIG,
	SG_GOPT_PIN_FILE, SG_GOPT_ALLOW_EXPORTABLE, SG_GOPT_AUDIT_LOG, SG_GOPT_AUDIT_KEY, 0
};
static const int vmsa_build_ids[] = {
	'h', SG_GOPT_CPU_FAMILY, SG_GOPT_CPU_MODEL, SG_GOPT_CPU_STEPPING, SG_GOPT_VCPU_TYPE,
	SG_COPT_CPU_SIG, SG_GOPT_VMSA_PROFILE, SG_GOPT_SEV_FEATURES, 'f', SG_COPT_RESET_ADDR, 0
};
static const int none_ids[] = { 0 };
static const int secret_build_ids[] = {
	'h', SG_GOPT_TIK, SG_GOPT_TEK, SG_GOPT_TK, 'm', SG_COPT_HEADER, SG_COPT_PAYLOAD,
	SG_COPT_SECRET, SG_COPT_IV, SG_COPT_PADDING, SG_GOPT_PIN_FILE, SG_GOPT_CONFIG, 0
};
static const int secret_open_ids[] = {
	'h', SG_GOPT_TIK, SG_GOPT_TEK, SG_GOPT_TK, 'm', SG_COPT_HEADER, SG_COPT_PAYLOAD,
	SG_GOPT_PIN_FILE, SG_GOPT_CONFIG, 0
};
#define KEYS_COMMON SG_GOPT_PIN_FILE, SG_GOPT_CONFIG, SG_GOPT_ALLOW_EXPORTABLE
/* keys parses every subcommand with one table (keys_ids): an option it ignores is no error. */
static const int keys_ids[] = {
	'h', SG_GOPT_TIK, SG_GOPT_TEK, SG_GOPT_TK, SG_COPT_TOKEN, SG_COPT_LABEL, SG_COPT_SHRED,
	SG_COPT_LABEL_PREFIX, SG_COPT_PUBOUT, KEYS_COMMON, 0
};
static const int keys_import_ids[] = {
	'h', SG_GOPT_TIK, SG_GOPT_TEK, SG_GOPT_TK, SG_COPT_TOKEN, SG_COPT_LABEL, SG_COPT_SHRED,
	KEYS_COMMON, 0
};
static const int keys_store_ids[] = {
	'h', SG_COPT_TOKEN, SG_COPT_LABEL, SG_COPT_SHRED, KEYS_COMMON, 0
};
static const int keys_audit_ids[] = {
	'h', SG_COPT_TOKEN, SG_COPT_LABEL, SG_COPT_PUBOUT, KEYS_COMMON, 0
};
static const int keys_list_ids[] = { 'h', SG_COPT_TOKEN, KEYS_COMMON, 0 };
static const int keys_delete_ids[] = { 'h', KEYS_COMMON, 0 };
static const int keys_prune_ids[] = { 'h', SG_COPT_LABEL_PREFIX, SG_COPT_TOKEN, KEYS_COMMON, 0 };
static const int audit_ids[] = {
	'h', SG_COPT_PUBKEY, SG_COPT_EXPECT_HEAD, SG_COPT_AUDIT_GUEST, SG_COPT_SINCE, 0
};
static const int audit_verify_ids[] = { 'h', SG_COPT_PUBKEY, SG_COPT_EXPECT_HEAD, 0 };
static const int audit_show_ids[] = { 'h', SG_COPT_AUDIT_GUEST, SG_COPT_SINCE, 0 };
/* clang-format on */
#undef KEYS_COMMON

#define KEYS_SYNOPSIS_IMPORT \
	"keys import --tik FILE --tek FILE | --tk FILE --token URI --label NAME [--shred]\n"
#define KEYS_SYNOPSIS_STORE "keys store-secret FILE --token URI --label NAME [--shred]\n"
#define KEYS_SYNOPSIS_AUDIT "keys generate-audit-key --token URI --label NAME --pubout FILE.pem\n"

static const struct sg_command commands[] = {
	{ "virt-qemu-sev-validate", "",
	  "[OPTIONS]\n\nValidate guest AMD SEV launch measurement\n\n", SG_FROM_COMPAT, NULL,
	  SG_OPERANDS_NONE, false, NULL },
	{ "sevgate", "validate",
	  "validate [OPTIONS]\n\nValidate a guest's launch measurement and release its secrets.\n\n",
	  SG_FROM_VALIDATE, NULL, SG_OPERANDS_NONE, false,
	  "check a guest's launch measurement; release its secrets" },
	{ "sevgate", "batch",
	  "batch [--jobs N] [--report FILE] [--format human|json]\n"
	  "                     [--config FILE] [--pin-file FILE] [--allow-exportable-keys]\n"
	  "                     [--audit-log FILE --audit-key KEY] [-q] PATH...\n"
	  "Validates every guest: PATH is a manifest or a directory of *.yaml/*.yml.\n"
	  "With an audit log, every verdict and release is recorded and a checkpoint\n"
	  "closes the batch; its head hash is printed (keep it for audit verify).\n",
	  0, batch_ids, SG_OPERANDS_FILES, false, "validate every guest of a set of manifests" },
	{ "sevgate", "audit",
	  "audit verify FILE --pubkey PEM [--expect-head HEX]\n"
	  "       sevgate audit show FILE [--guest NAME] [--since TIME]\n"
	  "verify checks every record's signature, sequence and link to the one before;\n"
	  "with --expect-head (a head kept elsewhere) also that no record was cut from the\n"
	  "end. show prints the records, one per line.\n",
	  0, audit_ids, SG_OPERANDS_FILES, true,
	  "verify or show the signed audit log (audit verify|show)" },
	{ "sevgate", "audit verify", "audit verify FILE --pubkey PEM [--expect-head HEX]\n", 0,
	  audit_verify_ids, SG_OPERANDS_FILES, false, NULL },
	{ "sevgate", "audit show", "audit show FILE [--guest NAME] [--since TIME]\n", 0,
	  audit_show_ids, SG_OPERANDS_FILES, false, NULL },
	{ "sevgate", "digest", "digest [OPTIONS]\n\nPrint the launch digest (GCTX.LD).\n\n",
	  SG_FROM_DIGEST, NULL, SG_OPERANDS_NONE, false,
	  "print the launch digest of firmware, kernel and VMSAs" },
	{ "sevgate", "vmsa build",
	  "vmsa build [--cpu-family F --cpu-model M --cpu-stepping S |\n"
	  "                           --vcpu-type NAME | --cpu-sig N]\n"
	  "                          [--vmsa-profile legacy|init2] [--sev-features N]\n"
	  "                          [--firmware FW | --reset-addr N] BSP_OUT [AP_OUT]\n"
	  "Writes the boot CPU's VMSA page to BSP_OUT and, given AP_OUT, the other CPUs'\n"
	  "page (its reset address from --firmware's SEV-ES reset block or --reset-addr).\n",
	  0, vmsa_build_ids, SG_OPERANDS_FILES, false,
	  "build or show SEV-ES VMSA pages (vmsa build|show)" },
	{ "sevgate", "vmsa show", "vmsa show FILE\n", 0, none_ids, SG_OPERANDS_FILES, false, NULL },
	{ "sevgate", "ovmf show", "ovmf show FILE\n", 0, none_ids, SG_OPERANDS_FILES, false,
	  "show an OVMF image's footer table (ovmf show)" },
	{ "sevgate", "keys",
	  KEYS_SYNOPSIS_IMPORT
	  "       sevgate " KEYS_SYNOPSIS_STORE "       sevgate " KEYS_SYNOPSIS_AUDIT
	  "       sevgate keys list [--token URI]\n"
	  "       sevgate keys delete URI...\n"
	  "       sevgate keys prune --label-prefix PREFIX [--token URI]\n"
	  "common: [--pin-file FILE] [--config FILE] [--allow-exportable-keys]\n",
	  0, keys_ids, SG_OPERANDS_OTHER, true,
	  "import, list and delete TIK/TEK keys in a PKCS#11 token" },
	{ "sevgate", "keys import", KEYS_SYNOPSIS_IMPORT, 0, keys_import_ids, SG_OPERANDS_NONE,
	  false, NULL },
	{ "sevgate", "keys store-secret", KEYS_SYNOPSIS_STORE, 0, keys_store_ids, SG_OPERANDS_FILES,
	  false, NULL },
	{ "sevgate", "keys generate-audit-key", KEYS_SYNOPSIS_AUDIT, 0, keys_audit_ids,
	  SG_OPERANDS_NONE, false, NULL },
	{ "sevgate", "keys list", "keys list [--token URI]\n", 0, keys_list_ids, SG_OPERANDS_NONE,
	  false, NULL },
	{ "sevgate", "keys delete", "keys delete URI...\n", 0, keys_delete_ids, SG_OPERANDS_OTHER,
	  false, NULL },
	{ "sevgate", "keys prune", "keys prune --label-prefix PREFIX [--token URI]\n", 0,
	  keys_prune_ids, SG_OPERANDS_NONE, false, NULL },
	{ "sevgate", "secret build",
	  "secret build --tik K --tek K | --tk K --measurement B64\n"
	  "       --secret GUID-OR-ALIAS:FILE... --header FILE --payload FILE\n"
	  "       [--iv HEX] [--padding align16|libvirt] [--pin-file FILE] [--config FILE]\n",
	  0, secret_build_ids, SG_OPERANDS_NONE, false,
	  "build, or check and decrypt, a launch-secret packet (secret build|open)" },
	{ "sevgate", "secret open",
	  "secret open --tik K --tek K | --tk K --measurement B64\n"
	  "       --header FILE --payload FILE [--pin-file FILE] [--config FILE]\n",
	  0, secret_open_ids, SG_OPERANDS_NONE, false, NULL },
};

/* The --help headings of a front end's sections (the general options have none). */
static const char *const section_titles[SG_SECTION_COUNT] = {
	[SG_SECTION_STATE] = "Guest launch state (reported by the host):",
	[SG_SECTION_KEYS] = "Keys:",
	[SG_SECTION_LIBVIRT] = "libvirt:",
	[SG_SECTION_SECRETS] = "Secrets:",
	[SG_SECTION_INPUTS] = "Guest config:",
	[SG_SECTION_RELEASE] =
		"Release policy (a secret is released only if all hold; else exit 7):",
	[SG_SECTION_AUDIT] = "Audit:",
};

const struct sg_command *
sg_commands(size_t *ret_n)
{
	*ret_n = SG_ELEMENTSOF(commands);
	return commands;
}

const struct sg_command *
sg_command_find(const char *program, const char *name)
{
	for (size_t i = 0; i < SG_ELEMENTSOF(commands); i++)
		if (!strcmp(commands[i].program, program) && !strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

const struct sg_guest_option *
sg_command_option(int id)
{
	const struct sg_guest_option *o = sg_guest_option_by_id(id);

	for (size_t i = 0; !o && i < SG_ELEMENTSOF(own_rows); i++)
		if (own_rows[i].id == id)
			o = &own_rows[i];
	return o;
}

size_t
sg_command_rows(const struct sg_command *cmd, const struct sg_guest_option **out, size_t cap)
{
	size_t n = 0, ntable;
	const struct sg_guest_option *table = sg_guest_options(&ntable);

	if (cmd->from) {
		for (size_t i = 0; i < ntable && n < cap; i++)
			if (table[i].origins & cmd->from)
				out[n++] = &table[i];
		return n;
	}
	for (const int *id = cmd->ids; *id && n < cap; id++) {
		const struct sg_guest_option *o = sg_command_option(*id);

		if (o)
			out[n++] = o;
	}
	return n;
}

int
sg_command_getopt_init(const struct sg_command *cmd, struct sg_command_getopt *g,
		       struct sg_error *err)
{
	const struct sg_guest_option *rows[SG_COMMAND_MAX_OPTS + 1];
	size_t n = sg_command_rows(cmd, rows, SG_ELEMENTSOF(rows)), ns = 0;

	if (n > SG_COMMAND_MAX_OPTS)
		return sg_error_set(err, SG_E_INTERNAL, "too many options");
	if (cmd->from)
		g->shortopts[ns++] = ':'; /* report a missing argument distinctly */
	for (size_t i = 0; i < n; i++) {
		const struct sg_guest_option *o = rows[i];

		g->longopts[i] =
			(struct option){ o->name, o->takes_value ? required_argument : no_argument,
					 NULL, o->id };
		/* sevgate keeps the drop-in's short options, but not for its own additions. */
		if (o->id < 256 && (cmd->from || o->section == SG_SECTION_GENERAL)) {
			g->shortopts[ns++] = (char)o->id;
			if (o->takes_value)
				g->shortopts[ns++] = ':';
		}
	}
	memset(&g->longopts[n], 0, sizeof(g->longopts[n]));
	g->shortopts[ns] = '\0';
	return 0;
}

void
sg_command_synopsis(const struct sg_command *cmd, FILE *f)
{
	fprintf(f, "usage: %s %s", cmd->program, cmd->synopsis);
}

/* "  -f, --firmware PATH       firmware image ...": the help from column 28. */
static void
print_row(const struct sg_guest_option *o, bool with_short, FILE *f)
{
	char left[96];
	int n;

	if (with_short && o->id < 256)
		n = snprintf(left, sizeof(left), "  -%c, --%s%s%s", o->id, o->name,
			     o->metavar ? " " : "", o->metavar ? o->metavar : "");
	else
		n = snprintf(left, sizeof(left), "      --%s%s%s", o->name, o->metavar ? " " : "",
			     o->metavar ? o->metavar : "");
	if (n < 0)
		return;
	if (n < 27)
		fprintf(f, "%-28s%s\n", left, o->help);
	else
		fprintf(f, "%s\n%28s%s\n", left, "", o->help);
}

void
sg_command_usage(const struct sg_command *cmd, FILE *f)
{
	const struct sg_guest_option *rows[SG_COMMAND_MAX_OPTS];
	size_t n = sg_command_rows(cmd, rows, SG_ELEMENTSOF(rows));

	sg_command_synopsis(cmd, f);
	if (!cmd->from) {
		if (n)
			fputs("options:\n", f);
		for (size_t i = 0; i < n; i++)
			print_row(rows[i], rows[i]->section == SG_SECTION_GENERAL, f);
		return;
	}
	/* A front end: by section, each in the table's order. */
	for (int s = 0; s < SG_SECTION_COUNT; s++) {
		bool title = false;

		for (size_t i = 0; i < n; i++) {
			if ((int)rows[i]->section != s)
				continue;
			if (!title && section_titles[s])
				fprintf(f, "%s\n", section_titles[s]);
			title = true;
			print_row(rows[i], true, f);
		}
	}
}
