/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sevgate audit verify|show: check and read the audit log. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/audit.h"
#include "cli/cmdtab.h"
#include "cli/commands.h"
#include "cli/exitcode.h"
#include "util/escape.h"

/* verify and show parse with one table: "audit" has the options of both. */
static const struct sg_command *
audit_command(void)
{
	return sg_command_find("sevgate", "audit");
}

/*
 * A logged value as a terminal line shows it, escaped by the one escaper
 * (sg_str_escape), so no record forges lines or moves the cursor; padded
 * with spaces to @width characters.
 */
static void
put_safe(const char *str, int width)
{
	_cleanup_(sg_freep) char *e = sg_str_escape_dup(str);
	int cols = 0;

	if (!e) {
		fputs("(out of memory)", stdout);
		return;
	}
	fputs(e, stdout);
	/* Escapes are ASCII and the rest valid UTF-8: a character is a byte that is no continuation. */
	for (const char *p = e; *p; p++)
		cols += ((unsigned char)*p & 0xc0) != 0x80;
	for (; cols < width; cols++)
		putchar(' ');
}

static int
show(const char *path, const char *guest, const char *since)
{
	FILE *f = fopen(path, "re");
	_cleanup_(sg_freep) char *line = malloc(SG_AUDIT_LINE_MAX + 1);
	size_t len, lineno = 0;
	enum sg_audit_line got;
	struct sg_error err = { 0 };
	struct stat st;
	bool regular;
	char msg[512];

	if (!f || !line) {
		snprintf(msg, sizeof(msg), "cannot read '%s': %s", path, strerror(errno));
		if (f)
			fclose(f);
		return sg_cmd_fail(msg, SG_E_IO);
	}
	/* Only a regular file ends: past a long line in a device or pipe may be no newline ever. */
	regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
	while ((got = sg_audit_read_line(f, line, &len, regular)) != SG_AUDIT_LINE_EOF &&
	       got != SG_AUDIT_LINE_ERROR) {
		struct sg_audit_summary r;

		lineno++;
		if (got == SG_AUDIT_LINE_LONG && !regular) {
			snprintf(
				msg, sizeof(msg),
				"%s:%zu: longer than %d bytes (not a regular file: cannot skip it)",
				path, lineno, SG_AUDIT_LINE_MAX);
			fclose(f);
			return sg_cmd_fail(msg, SG_E_IO);
		}
		if (got == SG_AUDIT_LINE_LONG) {
			fputs("warning: ", stderr);
			sg_fputs_escaped(path, stderr);
			fprintf(stderr, ":%zu: longer than %d bytes: skipped\n", lineno,
				SG_AUDIT_LINE_MAX);
			continue;
		}
		if (sg_audit_summary_parse(line, len, &r, &err) < 0) {
			fputs("warning: ", stderr);
			sg_fputs_escaped(path, stderr);
			fprintf(stderr, ":%zu: %s\n", lineno, err.msg);
			sg_error_clear(&err);
			continue;
		}
		if ((guest && (!r.guest || strcmp(r.guest, guest))) ||
		    (since && (!r.time || strcmp(r.time, since) < 0))) {
			sg_audit_summary_clear(&r);
			continue;
		}
		put_safe(r.seq ? r.seq : "-", 6);
		putchar(' ');
		put_safe(r.time ? r.time : "-", 0);
		putchar(' ');
		put_safe(r.event ? r.event : "-", 14);
		putchar(' ');
		put_safe(r.guest ? r.guest : "-", 20);
		putchar(' ');
		put_safe(r.verdict ? r.verdict : "-", 8);
		printf(" secrets=%zu digest=", r.nsecrets);
		put_safe(r.launch_digest ? r.launch_digest : "-", 0);
		for (size_t i = 0; i < r.nsecrets; i++) {
			putchar(' ');
			put_safe(r.secrets[i].guid ? r.secrets[i].guid : "?", 0);
			putchar(':');
			put_safe(r.secrets[i].length ? r.secrets[i].length : "?", 0);
		}
		if (r.reason) {
			printf(" reason=\"");
			put_safe(r.reason, 0);
			putchar('"');
		}
		putchar('\n');
		sg_audit_summary_clear(&r);
	}
	if (got == SG_AUDIT_LINE_ERROR) {
		snprintf(msg, sizeof(msg), "cannot read '%s': %s", path, strerror(errno));
		fclose(f);
		return sg_cmd_fail(msg, SG_E_IO);
	}
	fclose(f);
	return SG_EXIT_OK;
}

int
sg_cmd_audit(int argc, char **argv)
{
	const char *pubkey = NULL, *expect = NULL, *guest = NULL, *since = NULL, *sub, *file;
	_cleanup_(sg_crypto_freep) struct sg_crypto *crypto = NULL;
	struct sg_error err = { 0 };
	char head[SG_AUDIT_HEAD_HEX + 1];
	struct sg_command_getopt g;
	size_t count = 0;
	int c;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		sg_command_synopsis(audit_command(), stdout);
		return SG_EXIT_OK;
	}
	if (argc < 3 || (strcmp(argv[1], "verify") && strcmp(argv[1], "show")))
		return sg_cmd_fail(
			"usage: sevgate audit verify|show FILE ... (sevgate audit --help)",
			SG_E_USAGE);
	sub = argv[1];
	if (sg_command_getopt_init(audit_command(), &g, &err) < 0)
		return sg_cmd_fail(err.msg, err.code);
	opterr = 0;
	optind = 2;
	while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
		switch (c) {
		case 'h': sg_command_synopsis(audit_command(), stdout); return SG_EXIT_OK;
		case SG_COPT_PUBKEY: pubkey = optarg; break;
		case SG_COPT_EXPECT_HEAD: expect = optarg; break;
		case SG_COPT_AUDIT_GUEST: guest = optarg; break;
		case SG_COPT_SINCE: since = optarg; break;
		default:
			return sg_cmd_fail("unrecognized option (sevgate audit --help)",
					   SG_E_USAGE);
		}
	}
	if (optind != argc - 1)
		return sg_cmd_fail("sevgate audit takes exactly one FILE", SG_E_USAGE);
	file = argv[optind];
	if (!strcmp(sub, "show")) {
		if (pubkey || expect)
			return sg_cmd_fail("--pubkey and --expect-head are for audit verify",
					   SG_E_USAGE);
		return show(file, guest, since);
	}
	if (guest || since)
		return sg_cmd_fail("--guest and --since are for audit show", SG_E_USAGE);
	if (!pubkey)
		return sg_cmd_fail("audit verify needs --pubkey PEM", SG_E_USAGE);
	if (expect && (strlen(expect) != SG_AUDIT_HEAD_HEX ||
		       strspn(expect, "0123456789abcdefABCDEF") != SG_AUDIT_HEAD_HEX))
		return sg_cmd_fail("--expect-head must be 64 hex digits", SG_E_USAGE);
	if (sg_crypto_new(&crypto, &err) < 0 ||
	    sg_audit_verify(crypto, file, pubkey, expect, &count, head, &err) < 0)
		return sg_cmd_fail(err.msg, err.code);
	printf("ok: %zu records verify; head %s\n", count, head);
	return SG_EXIT_OK;
}
