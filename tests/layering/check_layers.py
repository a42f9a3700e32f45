#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The layering of src/ (docs/design.md, section 1), checked on the sources.

1. A file includes only headers of its own directory or of a lower layer.
2. No file under src/cli includes key/p11.h (the PKCS#11 back end's inside) or
   builds an audit record: no struct sg_audit_event, no SG_AUDIT_EVENT_*, no
   event name that only names an event. ("verdict" and "refused" are also the
   words of sevgate's JSON report, so they are not searched for.)
3. src/cli is under 20% of the lines of src/ (.c and .h files).

Usage: check_layers.py SRC_DIR [--self-test]
"""
import os
import re
import sys
import tempfile

# Lowest first; a directory may include itself and anything before it.
# Directories on one line are one layer and may not include each other.
LAYERS = [
    ["util"],
    ["yaml"],
    ["config"],
    ["core"],
    ["key"],
    ["protocol"],
    ["validate"],
    ["audit", "virt"],
    ["spec"],
    ["manifest"],
    ["engine"],
    ["cli"],
]
EVENT_ONLY_NAMES = ["release-intent", "released", "checkpoint", "keys-destroyed",
                    "session-created"]
CLI_SHARE_MAX = 0.20

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z0-9_-]+)/[^"]+"', re.M)


def rank_of():
    r = {}
    for i, layer in enumerate(LAYERS):
        for d in layer:
            r[d] = i
    return r


def sources(src):
    for d in sorted(os.listdir(src)):
        p = os.path.join(src, d)
        if not os.path.isdir(p):
            continue
        for f in sorted(os.listdir(p)):
            if f.endswith((".c", ".h")):
                yield d, os.path.join(p, f)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def check(src):
    rank = rank_of()
    problems = []
    lines = {"all": 0, "cli": 0}
    for d, path in sources(src):
        rel = os.path.relpath(path, src)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        n = text.count("\n")
        lines["all"] += n
        if d == "cli":
            lines["cli"] += n
        if d not in rank:
            problems.append("%s: directory %s is in no layer (tests/layering/check_layers.py)"
                            % (rel, d))
            continue
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            if inc not in rank:
                problems.append("%s: includes %s/, which is in no layer" % (rel, inc))
            elif inc != d and rank[inc] >= rank[d]:
                problems.append("%s: includes %s/ (layer %d), not below %s/ (layer %d)"
                                % (rel, inc, rank[inc], d, rank[d]))
        if d == "cli":
            code = strip_comments(text)
            if re.search(r'#\s*include\s+"key/p11\.h"', code):
                problems.append("%s: includes key/p11.h" % rel)
            for pat, what in ((r"\bstruct\s+sg_audit_event\b", "struct sg_audit_event"),
                              (r"\bSG_AUDIT_EVENT_[A-Z_]+", "an SG_AUDIT_EVENT_* value")):
                if re.search(pat, code):
                    problems.append("%s: builds audit records (%s)" % (rel, what))
            for name in EVENT_ONLY_NAMES:
                if '"%s"' % name in code:
                    problems.append('%s: names the audit event "%s"' % (rel, name))
    share = lines["cli"] / lines["all"] if lines["all"] else 0.0
    if share >= CLI_SHARE_MAX:
        problems.append("src/cli is %d of %d lines (%.1f%%), not under %d%%"
                        % (lines["cli"], lines["all"], 100 * share, 100 * CLI_SHARE_MAX))
    return problems, lines, share


def self_test():
    """Each rule must catch what it is for: a tree that breaks it fails."""
    cases = {
        "upward include": {"core/a.c": '#include "engine/guest.h"\n'},
        "same layer, other directory": {"audit/a.c": '#include "virt/virt.h"\n'},
        "unknown directory": {"newdir/a.c": "int x;\n"},
        "cli includes key/p11.h": {"cli/a.c": '#include "key/p11.h"\n'},
        "cli builds an audit record": {"cli/a.c": "struct sg_audit_event ev;\n"},
        "cli names an event": {"cli/a.c": 'const char *e = "release-intent";\n'},
        "cli too big": {"cli/a.c": "\n" * 30, "util/a.c": "\n" * 70},
    }
    ok = {"cli/a.c": '#include "engine/guest.h"\n/* "released" in a comment */\n' + "\n" * 3,
          "engine/guest.h": '#include "util/error.h"\n' + "\n" * 40,
          "util/error.h": "\n" * 10}
    bad = 0
    for name, files in list(cases.items()) + [("a good tree", ok)]:
        with tempfile.TemporaryDirectory() as t:
            for rel, body in files.items():
                os.makedirs(os.path.join(t, os.path.dirname(rel)), exist_ok=True)
                with open(os.path.join(t, rel), "w") as f:
                    f.write(body)
            problems, _, _ = check(t)
        want_fail = files is not ok
        if bool(problems) != want_fail:
            print("FAIL: self-test %s: %s" % (name, problems or "no problem found"))
            bad += 1
    return bad


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    if "--self-test" in sys.argv[2:] and self_test():
        return 1
    problems, lines, share = check(sys.argv[1])
    for p in problems:
        print("FAIL: " + p)
    print("layering: %d problems; src/cli %d of %d lines (%.1f%%)"
          % (len(problems), lines["cli"], lines["all"], 100 * share))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
