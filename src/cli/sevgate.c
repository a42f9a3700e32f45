/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sevgate: the main command line, one subcommand per job. */
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>

#include "cli/cmdtab.h"
#include "cli/commands.h"
#include "cli/exitcode.h"
#include "key/key.h"
#include "util/encode.h"
#include "util/error.h"
#include "util/escape.h"

/* Who runs each command of the table (cmdtab.c: names, order and --help lines). */
static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "validate", sg_cmd_validate }, { "batch", sg_cmd_batch },   { "audit", sg_cmd_audit },
	{ "digest", sg_cmd_digest },	 { "vmsa", sg_cmd_vmsa },     { "ovmf", sg_cmd_ovmf },
	{ "keys", sg_cmd_keys },	 { "secret", sg_cmd_secret },
};

static void
usage(FILE *f)
{
	size_t n;
	const struct sg_command *cmds = sg_commands(&n);

	fprintf(f, "usage: sevgate COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < n; i++)
		if (!strcmp(cmds[i].program, "sevgate") && cmds[i].summary)
			fprintf(f, "  %-10.*s %s\n", (int)strcspn(cmds[i].name, " "), cmds[i].name,
				cmds[i].summary);
	fprintf(f, "\nsevgate COMMAND --help for a command's options; sevgate --version.\n");
}

void
sg_json_add(struct json_object *obj, const char *key, struct json_object *val)
{
	if (json_object_object_add(obj, key, val) != 0)
		json_object_put(val);
}

struct json_object *
sg_json_str(const char *s)
{
	struct json_object *o;
	char *clean;

	if (!s)
		return NULL;
	if (sg_utf8_valid(s, strlen(s)))
		return json_object_new_string(s);
	if (!(clean = sg_utf8_sanitize(s)))
		return NULL;
	o = json_object_new_string(clean);
	free(clean);
	return o;
}

struct json_object *
sg_json_hex(const unsigned char *p, size_t len)
{
	char buf[2 * 4096 + 1];

	if (len > 4096)
		return NULL;
	sg_hex_encode(p, len, buf);
	return json_object_new_string(buf);
}

void
sg_json_print(struct json_object *obj)
{
	printf("%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
}

/* @s on @f with terminal controls escaped (names and messages come from outside). */
void
sg_fputs_escaped(const char *s, FILE *f)
{
	char *e = sg_str_escape_dup(s);

	fputs(e ? e : "(out of memory)", f);
	free(e);
}

int
sg_cmd_fail(const char *msg, int code)
{
	fputs("error: ", stderr);
	sg_fputs_escaped(msg && *msg ? msg : sg_error_name(code), stderr);
	fputc('\n', stderr);
	sg_exit_error_reported();
	return sg_exit_sevgate(code);
}

static int
run(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return SG_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return SG_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("sevgate %s\n", SEVGATE_VERSION);
		return SG_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fputs("error: unknown command '", stderr);
	sg_fputs_escaped(argv[1], stderr);
	fputs("' (sevgate --help lists them)\n", stderr);
	return SG_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	int code;

	/* Keys and secrets live in this process: no core dumps, no ptrace by peers. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* A libvirt connection that drops is an error to report, not a signal to die of. */
	signal(SIGPIPE, SIG_IGN);
	/* sevgate administers tokens (keys ...), so its PKCS#11 back end is linked in. */
	sg_key_pkcs11_register(&sg_pkcs11_backend);
	code = run(argc, argv);

	code = sg_exit_stdout(code, "error: ");
	/* Close token sessions while every module is still loaded. */
	sg_key_shutdown();
	return code;
}
