/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every command's options, from one table: the guest option table
 * (spec/guest-spec.c) for the options the commands share (--tik, --tek,
 * --tk, --pin-file, --config, --cpu-*, ...) and the rows of cmdtab.c for
 * the options only one command has. getopt, --help, the man page check and
 * the bash completion (gen-options.c, at build time) are built from it, so
 * an option is declared in one place.
 */
#pragma once

#include <getopt.h>
#include <stdio.h>

#include "spec/guest-spec.h"
#include "util/error.h"

/* The options only one command has: ids above the guest table's. */
enum sg_command_option_id {
	SG_COPT_JOBS = 512,
	SG_COPT_REPORT,
	SG_COPT_BATCH_FORMAT,
	SG_COPT_HEADER,
	SG_COPT_PAYLOAD,
	SG_COPT_SECRET,
	SG_COPT_IV,
	SG_COPT_PADDING,
	SG_COPT_CPU_SIG,
	SG_COPT_RESET_ADDR,
	SG_COPT_TOKEN,
	SG_COPT_LABEL,
	SG_COPT_SHRED,
	SG_COPT_LABEL_PREFIX,
	SG_COPT_PUBOUT,
	SG_COPT_PUBKEY,
	SG_COPT_EXPECT_HEAD,
	SG_COPT_AUDIT_GUEST,
	SG_COPT_SINCE,
};

/* What follows a command's options (for completion). */
enum sg_command_operands {
	SG_OPERANDS_NONE,
	SG_OPERANDS_FILES, /* file names */
	SG_OPERANDS_OTHER, /* URIs and such: nothing to complete */
};

struct sg_command {
	const char *program; /* "sevgate" or "virt-qemu-sev-validate" */
	const char *name;    /* the words after the program ("secret build"); "" for none */
	/* What --help prints after "usage: PROGRAM ": the usage lines and any description. */
	const char *synopsis;
	unsigned from;	/* a guest front end: every guest option of these SG_FROM_* */
	const int *ids; /* else its options in --help order, 0-terminated */
	enum sg_command_operands operands;
	/* Only for parsing (every option of a command's subcommands): no help, no completion. */
	bool parse_only;
	/* On a command's first entry: its line in "sevgate --help"; else NULL. */
	const char *summary;
};

/* Room for any command's options. */
#define SG_COMMAND_MAX_OPTS 96

/* A command's getopt_long tables. */
struct sg_command_getopt {
	struct option longopts[SG_COMMAND_MAX_OPTS + 1];
	char shortopts[3 * SG_COMMAND_MAX_OPTS + 2];
};

/*
 * Every command (*@ret_n of them), in the order completion, the man page
 * check and sevgate --help list them; a command's subcommands are adjacent.
 */
const struct sg_command *sg_commands(size_t *ret_n);
/* The command @name of @program ("sevgate", "secret build"), or NULL. */
const struct sg_command *sg_command_find(const char *program, const char *name);
/* The option row with @id: a guest table row (a short letter, SG_GOPT_*) or an SG_COPT_*; NULL. */
const struct sg_guest_option *sg_command_option(int id);
/*
 * @cmd's options in --help order into @out (room for @cap). Returns how
 * many (at most @cap: SG_COMMAND_MAX_OPTS holds every command's).
 */
size_t
sg_command_rows(const struct sg_command *cmd, const struct sg_guest_option **out, size_t cap);

/*
 * Fill @g for getopt_long with @cmd's options. A guest front end takes
 * every short form (and ':' first: a missing argument is told apart); the
 * other commands only those of the general options (-h, -d, -q). Returns 0,
 * or SG_E_INTERNAL for a table that does not fit.
 */
int sg_command_getopt_init(const struct sg_command *cmd, struct sg_command_getopt *g,
			   struct sg_error *err);

/* Print "usage: PROGRAM SYNOPSIS" of @cmd on @f. */
void sg_command_synopsis(const struct sg_command *cmd, FILE *f);
/* Print @cmd's --help on @f: the synopsis, then one line per option (by section for a front end). */
void sg_command_usage(const struct sg_command *cmd, FILE *f);
