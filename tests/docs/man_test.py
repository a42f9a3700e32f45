#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The man pages document every command and every option (issue 12).

The option list is the one the build generates from the option table
(options.tsv, src/cli/gen-options.c): each command's options must appear in
its part of the page (its section, or its entry under a group such as
"sevgate keys"), each command in the SYNOPSIS, and each option a page names
must be one some command has. What --help prints is checked against the
table too, so a hand-written help (keys, audit) cannot drift from it.

usage: man_test.py --options options.tsv --man-dir docs/man --sevgate BIN --ours BIN
"""
import argparse
import collections
import re
import subprocess
import sys

OPT = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)(?![\w-])")
# Options a page names that are no sevgate command's: other tools' (sev-snp-measure --mode and
# --dump-vmsa, virsh --paused and --secrethdr, sevctl --name) and sevgate --version.
FOREIGN = {"mode", "dump-vmsa", "paused", "secrethdr", "name", "version"}


def load_options(path):
    opts = collections.OrderedDict()
    with open(path) as f:
        for line in f:
            program, command, option, _metavar = line.rstrip("\n").split("\t")
            opts.setdefault((program, command), [])
            if option:
                opts[(program, command)].append(option[2:])
    return opts


def sections(text):
    """{title: body} for each rst section (a title line over a ---- or ==== line)."""
    lines = text.split("\n")
    out, title, start = {}, None, 0
    for i in range(1, len(lines)):
        if re.fullmatch(r"[-=~]{3,}", lines[i]) and lines[i - 1].strip() \
                and len(lines[i]) >= len(lines[i - 1].strip()):
            if title is not None:
                out[title] = "\n".join(lines[start:i - 1])
            title, start = lines[i - 1].strip(), i + 1
    if title is not None:
        out[title] = "\n".join(lines[start:])
    return out


def command_text(page, secs, command):
    """The part of the sevgate page that documents @command."""
    if "sevgate " + command in secs:
        return secs["sevgate " + command]
    group = command.split(" ")[0]
    body = secs.get("sevgate " + group)
    if body is None:
        return None
    entries = re.split(r"(?m)^(?=\*\*sevgate %s )" % re.escape(group), body)
    intro = entries[0]
    for e in entries[1:]:
        if e.startswith("**sevgate %s**" % command):
            return intro + e
    return None


def check_page(program, page, opts, problems):
    """Every command of @program and each of its options in @page; names go both ways."""
    secs = sections(page)
    synopsis = secs.get("SYNOPSIS", "")
    known = set()
    for (prog, command), options in opts.items():
        if prog != program:
            continue
        known.update(options)
        if program == "sevgate":
            if not re.search(r"\*\*sevgate %s\*\*" % re.escape(command), synopsis):
                problems.append("%s.1: SYNOPSIS has no 'sevgate %s'" % (program, command))
            text = command_text(page, secs, command)
            if text is None:
                problems.append("%s.1: no section or entry for 'sevgate %s'" % (program, command))
                continue
        else:
            text = page
        named = set(OPT.findall(text))
        # -h, --help is every command's: the page says so once (DESCRIPTION).
        if program == "sevgate" and "help" in options \
                and "help" in OPT.findall(secs.get("DESCRIPTION", "")):
            named.add("help")
        for o in options:
            if o not in named:
                problems.append("%s.1: '%s%s' does not document --%s"
                                % (program, "sevgate " if program == "sevgate" else "", command
                                   or program, o))
    return known


def check_names(program, page, known, problems):
    for o in sorted(set(OPT.findall(page)) - known - FOREIGN):
        problems.append("%s.1 names --%s, an option no command has" % (program, o))


def check_help(args, opts, problems):
    """Each --help names only options of its command(s) in the table."""
    def options_of(program, prefix):
        return {o for (p, c), os_ in opts.items() if p == program
                and (c == prefix or c.startswith(prefix + " ")) for o in os_}
    runs = [("virt-qemu-sev-validate", "", [args.ours, "--help"])]
    for c in ["validate", "batch", "digest", "vmsa", "vmsa build", "secret", "secret build",
              "secret open", "keys", "audit"]:
        runs.append(("sevgate", c, [args.sevgate] + c.split() + ["--help"]))
    for program, command, argv in runs:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if p.returncode != 0 or not p.stdout.startswith("usage: "):
            problems.append("%s: exit %d, stdout %r" % (" ".join(argv[1:]), p.returncode,
                                                         p.stdout[:80]))
            continue
        table = options_of(program, command)
        for o in sorted(set(OPT.findall(p.stdout)) - table):
            problems.append("'%s --help' names --%s, not in the option table for it"
                            % (" ".join([program] + command.split()), o))
    # The commands sevgate --help lists are the table's.
    p = subprocess.run([args.sevgate, "--help"], capture_output=True, text=True, timeout=60)
    listed = set(re.findall(r"(?m)^  ([a-z]+) ", p.stdout))
    table = {c.split(" ")[0] for (pr, c) in opts if pr == "sevgate"}
    if listed != table:
        problems.append("sevgate --help lists %s, the table has %s" % (sorted(listed),
                                                                         sorted(table)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--options", required=True)
    ap.add_argument("--man-dir", required=True)
    ap.add_argument("--sevgate", required=True)
    ap.add_argument("--ours", required=True)
    args = ap.parse_args()
    opts = load_options(args.options)
    pages = {}
    for program in ("sevgate", "virt-qemu-sev-validate"):
        with open("%s/%s.1.rst" % (args.man_dir, program)) as f:
            pages[program] = f.read()

    problems = []
    known = {p: check_page(p, pages[p], opts, problems) for p in pages}
    check_names("sevgate", pages["sevgate"], known["sevgate"], problems)
    # The drop-in's page compares it with sevgate's commands: their options may appear.
    check_names("virt-qemu-sev-validate", pages["virt-qemu-sev-validate"],
                known["virt-qemu-sev-validate"] | known["sevgate"], problems)
    check_help(args, opts, problems)

    # The check itself must fail when an option is missing: take one out of each page.
    for program, option in (("sevgate", "pubout"), ("virt-qemu-sev-validate", "secret-iv")):
        cut = OPT.sub(lambda m: "" if m.group(1) == option else m.group(0), pages[program])
        found = []
        check_page(program, cut, opts, found)
        if not any(("--" + option) in x for x in found):
            problems.append("self-check: %s.1 without --%s was not reported" % (program, option))

    n = sum(len(v) for v in opts.values())
    if problems:
        for p in problems:
            print("FAIL: " + p)
        print("%d problem(s)" % len(problems))
        return 1
    print("ok: %d commands, %d command options documented; every --help option is in the table"
          % (len(opts), n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
