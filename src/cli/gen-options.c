/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Build-time generator (never installed): from the command table
 * (cli/cmdtab.c, on the guest option table) it writes
 *
 *   gen-options bash PROGRAM FILE   the bash completion of PROGRAM
 *   gen-options list FILE           every command's options, one a line:
 *                                   PROGRAM<TAB>COMMAND<TAB>--OPTION<TAB>METAVAR
 *
 * so neither the completion nor the man page check (tests/docs) has an
 * option list of its own, and no program ships a hidden dump interface.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmdtab.h"

enum value_kind {
	VALUE_NONE,   /* a flag */
	VALUE_FILE,   /* a file name */
	VALUE_CHOICE, /* one of the words of its metavar ("keep|destroy") */
	VALUE_OTHER,  /* anything: nothing to complete */
};

/* What an option's value is, from its metavar: the one description of it. */
static enum value_kind
value_kind(const struct sg_guest_option *o)
{
	static const char *const files[] = { "PATH", "FILE", "KEY", "PEM" };

	if (!o->takes_value)
		return VALUE_NONE;
	for (size_t i = 0; i < SG_ELEMENTSOF(files); i++)
		if (!strcmp(o->metavar, files[i]))
			return VALUE_FILE;
	if (strchr(o->metavar, '|')) {
		for (const char *p = o->metavar; *p; p++)
			if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '|')
				return VALUE_OTHER;
		return VALUE_CHOICE;
	}
	return VALUE_OTHER;
}

/* A bash function name from @program ("virt-qemu-sev-validate": _virt_qemu_sev_validate). */
static void
func_name(const char *program, const char *suffix, char *out, size_t cap)
{
	size_t n = (size_t)snprintf(out, cap, "_%s%s", program, suffix);

	for (size_t i = 0; i < n && i < cap; i++)
		if (out[i] == '-')
			out[i] = '_';
}

/* Whether @cmd takes short forms for its options (the front ends; else the general ones). */
static bool
has_short(const struct sg_command *cmd, const struct sg_guest_option *o)
{
	return o->id < 256 && (cmd->from || o->section == SG_SECTION_GENERAL);
}

/* The options of @rows whose value is @kind, with their short forms, space-separated. */
static void
emit_kind(FILE *f, const struct sg_command *cmd, const struct sg_guest_option *const *rows,
	  size_t n, enum value_kind kind)
{
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		if (value_kind(rows[i]) != kind)
			continue;
		fprintf(f, "%s--%s", first ? "" : " ", rows[i]->name);
		if (has_short(cmd, rows[i]))
			fprintf(f, " -%c", rows[i]->id);
		first = false;
	}
}

/* One call of the options helper for @cmd: its words, file, value and choice options. */
static void
emit_call(FILE *f, const char *helper, const struct sg_command *cmd)
{
	static const char *const operands[] = { "none", "files", "other" };
	const struct sg_guest_option *rows[SG_COMMAND_MAX_OPTS];
	size_t n = sg_command_rows(cmd, rows, SG_ELEMENTSOF(rows));
	bool first = true;

	fprintf(f, "%s \"", helper);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s--%s", i ? " " : "", rows[i]->name);
	fputs("\" \"", f);
	emit_kind(f, cmd, rows, n, VALUE_FILE);
	fputs("\" \"", f);
	emit_kind(f, cmd, rows, n, VALUE_OTHER);
	fputs("\" \"", f);
	for (size_t i = 0; i < n; i++) {
		if (value_kind(rows[i]) != VALUE_CHOICE)
			continue;
		fprintf(f, "%s--%s=%s", first ? "" : " ", rows[i]->name, rows[i]->metavar);
		first = false;
	}
	fprintf(f, "\" %s", operands[cmd->operands]);
}

static const char helper_body[] =
	"{\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} c v\n"
	"\tfor c in $4; do\n"
	"\t\tif [[ $prev == \"${c%%=*}\" ]]; then\n"
	"\t\t\tv=${c#*=}\n"
	"\t\t\tCOMPREPLY=($(compgen -W \"${v//|/ }\" -- \"$cur\"))\n"
	"\t\t\treturn\n"
	"\t\tfi\n"
	"\tdone\n"
	"\tif [[ \" $2 \" == *\" $prev \"* ]]; then\n"
	"\t\tcompopt -o filenames 2>/dev/null\n"
	"\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tif [[ \" $3 \" == *\" $prev \"* ]]; then\n"
	"\t\tCOMPREPLY=()\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tif [[ $cur == -* || $5 == none ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"$1\" -- \"$cur\"))\n"
	"\telif [[ $5 == files ]]; then\n"
	"\t\tcompopt -o filenames 2>/dev/null\n"
	"\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	"\telse\n"
	"\t\tCOMPREPLY=()\n"
	"\tfi\n"
	"}\n";

static int
emit_bash(FILE *f, const char *program)
{
	size_t n;
	const struct sg_command *cmds = sg_commands(&n);
	char helper[96], main_fn[96];
	const struct sg_command *single = NULL;

	func_name(program, "_options", helper, sizeof(helper));
	func_name(program, "", main_fn, sizeof(main_fn));
	fprintf(f,
		"# bash completion for %s: generated at build time from the option table\n"
		"# (src/spec/guest-spec.c, src/cli/cmdtab.c) by gen-options; do not edit.\n\n"
		"# %s WORDS FILE-OPTIONS VALUE-OPTIONS CHOICES OPERANDS\n%s()\n%s\n",
		program, helper, helper, helper_body);
	size_t found = 0;

	for (size_t i = 0; i < n; i++) {
		found += !strcmp(cmds[i].program, program);
		if (!strcmp(cmds[i].program, program) && !cmds[i].name[0])
			single = &cmds[i];
	}
	if (!found) {
		fprintf(stderr, "gen-options: no program %s\n", program);
		return -1;
	}
	fprintf(f, "%s()\n{\n\tlocal cur=${COMP_WORDS[COMP_CWORD]}\n\tCOMPREPLY=()\n", main_fn);
	if (single) {
		fputc('\t', f);
		emit_call(f, helper, single);
		fputc('\n', f);
	} else {
		/* The first word: a command (each once, in the table's order). */
		fputs("\tlocal cmd=${COMP_WORDS[1]}\n\tif ((COMP_CWORD == 1)); then\n"
		      "\t\tCOMPREPLY=($(compgen -W \"",
		      f);
		for (size_t i = 0; i < n; i++) {
			size_t w = strcspn(cmds[i].name, " ");
			bool seen = false;

			if (strcmp(cmds[i].program, program))
				continue;
			for (size_t k = 0; k < i; k++)
				seen |= !strcmp(cmds[k].program, program) &&
					!strncmp(cmds[k].name, cmds[i].name, w) &&
					strcspn(cmds[k].name, " ") == w;
			if (!seen)
				fprintf(f, "%.*s ", (int)w, cmds[i].name);
		}
		fputs("--help --version\" -- \"$cur\"))\n\t\treturn\n\tfi\n", f);
		/* The second word of a command with subcommands. */
		fputs("\tcase $cmd in\n", f);
		for (size_t i = 0; i < n; i++) {
			size_t w = strcspn(cmds[i].name, " ");
			bool first = true;

			if (strcmp(cmds[i].program, program) || !cmds[i].name[w])
				continue;
			if (i > 0 && !strncmp(cmds[i - 1].name, cmds[i].name, w) &&
			    cmds[i - 1].name[w] == ' ')
				continue; /* listed with the group's first */
			fprintf(f,
				"\t%.*s)\n\t\tif ((COMP_CWORD == 2)); then\n"
				"\t\t\tCOMPREPLY=($(compgen -W \"",
				(int)w, cmds[i].name);
			for (size_t k = i; k < n; k++) {
				if (strncmp(cmds[k].name, cmds[i].name, w) ||
				    cmds[k].name[w] != ' ')
					break;
				fprintf(f, "%s%s", first ? "" : " ", cmds[k].name + w + 1);
				first = false;
			}
			fputs(" --help\" -- \"$cur\"))\n\t\t\treturn\n\t\tfi\n"
			      "\t\tcmd=\"$cmd ${COMP_WORDS[2]}\"\n\t\t;;\n",
			      f);
		}
		fputs("\tesac\n\tcase $cmd in\n", f);
		for (size_t i = 0; i < n; i++) {
			if (strcmp(cmds[i].program, program) || cmds[i].parse_only)
				continue;
			fprintf(f, "\t\"%s\")\n\t\t", cmds[i].name);
			emit_call(f, helper, &cmds[i]);
			fputs("\n\t\t;;\n", f);
		}
		fputs("\tesac\n", f);
	}
	fprintf(f, "}\ncomplete -F %s %s\n", main_fn, program);
	return 0;
}

static int
emit_list(FILE *f)
{
	size_t n;
	const struct sg_command *cmds = sg_commands(&n);

	for (size_t i = 0; i < n; i++) {
		const struct sg_guest_option *rows[SG_COMMAND_MAX_OPTS];
		size_t nrows = sg_command_rows(&cmds[i], rows, SG_ELEMENTSOF(rows));

		if (cmds[i].parse_only)
			continue;
		/* A command without options still has a line: its name is documented too. */
		if (nrows == 0)
			fprintf(f, "%s\t%s\t\t\n", cmds[i].program, cmds[i].name);
		for (size_t k = 0; k < nrows; k++)
			fprintf(f, "%s\t%s\t--%s\t%s\n", cmds[i].program, cmds[i].name,
				rows[k]->name, rows[k]->metavar ? rows[k]->metavar : "");
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *out = argc == 4 && !strcmp(argv[1], "bash") ? argv[3] :
			  argc == 3 && !strcmp(argv[1], "list") ? argv[2] :
								  NULL;
	FILE *f;
	int r;

	if (!out) {
		fprintf(stderr, "usage: gen-options bash PROGRAM FILE | list FILE\n");
		return 2;
	}
	if (!(f = fopen(out, "w"))) {
		perror(out);
		return 1;
	}
	r = argc == 4 ? emit_bash(f, argv[2]) : emit_list(f);
	if (fclose(f) != 0 || r != 0) {
		fprintf(stderr, "gen-options: cannot write %s\n", out);
		remove(out);
		return 1;
	}
	return 0;
}
