#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
An online batch released in groups: `sevgate batch --jobs 2` over N manifests
(default 200), each naming its own paused SEV domain of a libvirt test-driver
node (test:///NODE.xml; one node file of all N, or --node-size domains each),
virt-shim.so preloaded for the SEV calls, each guest with a secret to inject,
with a signed audit log (--audit-log, --audit-key, a PEM key).

Checked in every batch: exit 0; every guest trusted and its secret released,
its firmware path the domain's (the report); one SetLaunchSecurityState and one
Resume per domain, the injection first, and no Destroy (the shim log); every
injected packet opens with the shared model (tests/tools/sevmodel.py) to
exactly that guest's secret (the shim's capture, one directory per domain);
`sevgate audit verify` accepts the log, which has one release-intent and one
released record per guest, in that order; the release queue's groups (the
--debug line "batch: N guests released in G groups (largest L)"); and the audit
log's fdatasync calls (strace -f -y): at most 2 G + 1 (release-intent and
released for each group, the checkpoint), the design's bound, which every run
met (appends of the two releasers that meet share one, so often fewer).

Groups form only when guests are attested faster than a group is released. On
the bundled 2-core machine an fdatasync takes about 0.1 ms and the test driver
about 50 ms a guest for a node file of 200 domains (each connection reads the
whole file; 150 to 300 ms under ASan's allocator), so part fast-disk releases
nearly every guest alone: medians of 5, one node file, plain 196 groups
(largest 3) and 393 fdatasyncs, ASan 200 groups and 401; with node files of 20
(about 8 ms a guest) plain 151 groups (65 to 200) and 301 fdatasyncs, ASan 199
and 395. It asserts everything but the group counts. Part slow-disk gives the
disk an fdatasync of --fdatasync-ms (the shim's SEVGATE_SHIM_FDATASYNC_MS): the
guests attested meanwhile wait and go in the next group. It asserts G <= N/8
with a group of at least 8, and at most N/4 fdatasyncs (two a guest would be
2 N). A run with online guests uses groups of at most 32, which the test asserts.
Measured (200 guests, --jobs 2), node files of 20 and 400 ms (the default ctest
run): plain 9 groups (largest 32), 19 fdatasyncs, 7.9 s. Before that cap (groups
of up to 256): plain 3 groups (largest 198), 7 fdatasyncs; ASan 7 to 9 groups,
15 to 19 fdatasyncs.

Under strace, LeakSanitizer cannot run: an ASan sevgate gets detect_leaks=0.
Without strace the fdatasync checks are skipped (a failure under CI=true).

Exit: 0 passed; 1 failures; 77 skipped (strace or `cryptography` missing) with no
failure, unless CI=true (then 1).
"""

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import asanpreload  # noqa: E402
import harness  # noqa: E402
import sevmodel as M  # noqa: E402

TIK, TEK, MNONCE = M.V_TIK, M.V_TEK, M.V_MNONCE
API_MAJOR, API_MINOR, BUILD_ID = M.V_API
POLICY = 3
FW = M.fw_synth()
# Every domain boots the same firmware with the same keys: one measurement for all of
# them (the shim reports it for every domain); the secrets differ.
MEASUREMENT = M.measurement_b64(TIK, API_MAJOR, API_MINOR, BUILD_ID, POLICY,
                                M.launch_digest(FW), MNONCE)
ONLINE_GROUP_MAX = 32
DEBUG_LINE = re.compile(r"batch: (\d+) guests released in (\d+) groups \(largest (\d+)\)")


def name_of(i):
    return "g%03d" % i


def uuid_of(i):
    return "c0ffee00-baba-4bbb-8ccc-%012x" % i


def domain_xml(d, i):
    return ("<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
            "<name>%s</name><uuid>%s</uuid><memory>1048576</memory><vcpu>1</vcpu>"
            "<os><type>hvm</type><loader readonly='yes' type='pflash'>%s/fw.bin</loader></os>"
            "<launchSecurity type='sev'><policy>0x%04x</policy><cbitpos>47</cbitpos>"
            "<reducedPhysBits>1</reducedPhysBits><dhCert>AAAA</dhCert><session>BBBB</session>"
            "</launchSecurity><test:runstate>3</test:runstate></domain>"
            % (name_of(i), uuid_of(i), d, POLICY))


def secret_of(i):
    return b"online-batch-secret-%03d" % i


class Run:
    """One batch: its files, and what it left."""

    def __init__(self, st, a, top, k):
        self.st, self.a, self.top = st, a, os.path.join(top, "run%d" % k)
        self.log = os.path.join(self.top, "audit.jsonl")
        self.cap = os.path.join(self.top, "capture")
        self.shimlog = os.path.join(self.top, "shim.log")
        self.report = os.path.join(self.top, "report.jsonl")
        self.trace = os.path.join(self.top, "fdatasync.strace")
        os.makedirs(self.cap)

    def env(self, sync_ms=0):
        e = dict(os.environ)
        for k in list(e):
            if k.startswith(("SEVGATE_", "LIBVIRT_")) or k == "LD_PRELOAD":
                del e[k]
        pre = [self.a.shim]
        if asanpreload.is_asan(self.a.sevgate) or asanpreload.is_asan(self.a.shim):
            pre.insert(0, asanpreload.libasan())
            e.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        e.update({"LD_PRELOAD": ":".join(pre), "SEVGATE_SHIM_MEASUREMENT": MEASUREMENT,
                  "SEVGATE_SHIM_POLICY": str(POLICY), "SEVGATE_SHIM_LOG": self.shimlog,
                  "SEVGATE_SHIM_CAPTURE_DIR": self.cap, "SEVGATE_SHIM_CAPTURE_PER_DOMAIN": "1",
                  "HOME": self.top, "XDG_CONFIG_HOME": self.top, "XDG_CACHE_HOME": self.top,
                  "XDG_RUNTIME_DIR": self.top, "LC_ALL": "C", "LIBVIRT_LOG_OUTPUTS": ""})
        if sync_ms:
            e["SEVGATE_SHIM_FDATASYNC_MS"] = str(sync_ms)
        return e

    def batch(self, strace, sync_ms):
        argv = [self.a.sevgate, "batch", "--jobs", str(self.a.jobs), "--debug",
                "--config", self.st.conf, "--report", self.report, "--audit-log", self.log,
                "--audit-key", self.st.key, self.st.mdir]
        env = self.env(sync_ms)
        if strace:
            # -y: each descriptor with its path, to count the audit log's own calls; the
            # preloads go to sevgate only (-E), not to strace (LeakSanitizer would judge it)
            argv = [strace, "-f", "-qq", "-y", "-e", "trace=fdatasync", "-o", self.trace,
                    "-E", "LD_PRELOAD=" + env.pop("LD_PRELOAD")] + argv
            if "ASAN_OPTIONS" in env:  # LeakSanitizer cannot run under ptrace
                env["ASAN_OPTIONS"] += ":detect_leaks=0"
        t0 = time.monotonic()
        rc, out, err = self.st.S.run(argv, cwd=self.top, timeout=self.a.timeout, env=env)
        return rc, out, err, time.monotonic() - t0


class Setup:
    def __init__(self, S, a, top):
        self.S, self.a, self.top = S, a, top
        n = a.guests
        # domain i is in node file i // --node-size (one file for all by default)
        k = max(1, a.node_size)
        nodes = ["node.xml"] if k >= n else ["node%02d.xml" % j for j in range((n + k - 1) // k)]
        uri = lambda i: "test://" + os.path.join(top, nodes[i // k])  # noqa: E731
        S.write(os.path.join(top, "fw.bin"), FW)
        for name, data in (("tik.bin", TIK), ("tek.bin", TEK)):
            S.write(os.path.join(top, name), data, 0o600)
            S.scan.register(name, data)
        for j, f in enumerate(nodes):
            S.write(os.path.join(top, f), "<node>\n%s\n</node>\n" % "\n".join(
                domain_xml(top, i) for i in range(j * k, min(n, (j + 1) * k))))
        # an empty configuration: nothing from /etc/sevgate
        self.conf = S.write(os.path.join(top, "sevgate.conf"), "")
        self.mdir = os.path.join(top, "manifests")
        for i in range(n):
            sec = S.write(os.path.join(top, "secrets", "%s.txt" % name_of(i)), secret_of(i), 0o600)
            S.scan.register("secret of " + name_of(i), secret_of(i))
            S.write(os.path.join(self.mdir, "%s.yaml" % name_of(i)), "\n".join([
                "version: 1", "guest: %s" % name_of(i), "connect: %s" % uri(i),
                "domain: %s" % name_of(i), "insecure: true",
                "tik: %s/tik.bin" % top, "tek: %s/tek.bin" % top,
                "secrets:", "  - {guid: luks-key, file: %s}" % sec, ""]))
        self.key = os.path.join(top, "audit.pem")
        self.pub = os.path.join(top, "audit-pub.pem")
        for argv in (["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                      "ec_paramgen_curve:P-256", "-out", self.key],
                     ["openssl", "pkey", "-in", self.key, "-pubout", "-out", self.pub]):
            p = subprocess.run(argv, capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit("%s: %s" % (" ".join(argv), p.stderr.strip()))
        from cryptography.hazmat.primitives import serialization
        with open(self.key, "rb") as f:
            d = serialization.load_pem_private_key(f.read(), None).private_numbers().private_value
        S.scan.register("audit key (private scalar)", d.to_bytes(32, "big"), self.key)
        S.scan.inputs(self.key)

    def run(self, *argv, **kw):
        return self.S.run(list(argv), **kw)


def check_run(S, a, st, R, rc, out, err, strace, grouped):
    """Every check of one batch; grouped: assert that it was released in groups.
    Returns (groups, largest, fdatasyncs or None)."""
    n = a.guests
    names = [name_of(i) for i in range(n)]
    S.check(rc == 0, "batch exit %s, expected 0; stderr %r" % (rc, err[:3000]))
    # the report: every guest trusted, its one secret released
    try:
        with open(R.report) as f:
            rep = [json.loads(l) for l in f]
    except (OSError, ValueError) as e:
        rep = []
        S.check(False, "report unreadable: %s" % e)
    guests = {r.get("guest"): r for r in rep if "summary" not in r}
    summary = [r["summary"] for r in rep if "summary" in r]
    S.check(sorted(guests) == names and len(rep) == n + 1,
            "report: %d lines, guests %r..., expected %d guests and a summary"
            % (len(rep), sorted(str(g) for g in guests)[:5], n))
    bad = [g for g, r in sorted(guests.items())
           if r.get("verdict") != "trusted" or r.get("exit") != 0
           or r.get("secrets_released") != [{"guid": M.LUKS_KEY_GUID, "length": len(secret_of(0))}]]
    S.check(not bad, "report: %d guests not trusted and released, first %r" % (
        len(bad), guests[bad[0]] if bad else None))
    # --insecure: the firmware path is the domain's (<loader>); the report names it after the
    # release step, so it must outlive it
    fw = os.path.join(st.top, "fw.bin")
    bad = [g for g, r in sorted(guests.items())
           if (r.get("inputs") or {}).get("firmware", {}).get("path") != fw]
    S.check(not bad, "report: %d guests whose firmware path is not %s, first %r" % (
        len(bad), fw, (guests[bad[0]].get("inputs") if bad else None)))
    S.check(len(summary) == 1 and summary[0].get("trusted") == n,
            "report summary %r, expected %d trusted" % (summary, n))
    # the shim log: one injection then one resume per domain, nothing destroyed
    try:
        with open(R.shimlog) as f:
            log = [l.rstrip("\n").split(" ") for l in f]
    except OSError:
        log = []
    calls = {}
    for pos, l in enumerate(log):
        calls.setdefault((l[0], l[1] if len(l) > 1 else ""), []).append(pos)
    wrong = [d for d in names
             if len(calls.get(("SetLaunchSecurityState", d), [])) != 1
             or len(calls.get(("Resume", d), [])) != 1
             or calls[("SetLaunchSecurityState", d)][0] > calls[("Resume", d)][0]]
    S.check(not wrong, "shim log: %d domains without exactly one injection before one resume, "
            "first %r" % (len(wrong), wrong[:3]))
    destroyed = sorted(d for c, d in calls if c in ("Destroy", "shim-destroy"))
    S.check(not destroyed, "shim log: domains destroyed: %r" % destroyed[:5])
    # every packet opens to its guest's secret
    mac_key = base64.b64decode(MEASUREMENT)[:32]
    problems = []
    for i, d in enumerate(names):
        try:
            with open(os.path.join(R.cap, d, "sev-secret-header")) as f:
                hdr = f.read()
            with open(os.path.join(R.cap, d, "sev-secret")) as f:
                pay = f.read()
            ents, _total, _pt = M.open_packet(TIK, TEK, mac_key, hdr, pay)
            if dict(ents) != {M.LUKS_KEY_GUID: secret_of(i)}:
                problems.append("%s: table %r" % (d, sorted(dict(ents))))
        except (OSError, M.PacketError) as e:
            problems.append("%s: %s" % (d, e))
    S.check(not problems, "packets: %d do not open to their guest's secret, first %r"
            % (len(problems), problems[:3]))
    # the audit log: verifies, release-intent before released for each guest
    vrc, vout, verr = st.run(st.a.sevgate, "audit", "verify", R.log, "--pubkey", st.pub,
                             env=R.env())
    S.check(vrc == 0 and vout.startswith("ok: "), "audit verify: rc %s %r %r" % (vrc, vout, verr))
    try:
        with open(R.log) as f:
            recs = [json.loads(l) for l in f]
    except (OSError, ValueError) as e:
        recs = []
        S.check(False, "audit log unreadable: %s" % e)
    seen = {}
    for r in recs:
        if r.get("event") in ("release-intent", "released"):
            seen.setdefault(r.get("guest"), []).append(r["event"])
    counts = {ev: sum(1 for r in recs if r.get("event") == ev) for ev in ("release-intent", "released")}
    S.check(counts == {"release-intent": n, "released": n},
            "audit log: %r, expected %d of each" % (counts, n))
    wrong = [g for g in names if seen.get(g) != ["release-intent", "released"]]
    S.check(not wrong, "audit log: %d guests without release-intent then released, first %r"
            % (len(wrong), [(g, seen.get(g)) for g in wrong[:3]]))
    # groups
    m = DEBUG_LINE.search(err)
    groups = largest = None
    if S.check(m is not None, "no 'batch: N guests released in G groups' line in --debug"):
        done, groups, largest = map(int, m.groups())
        S.check(done == n, "debug: %d guests released, expected %d" % (done, n))
        S.check(1 <= groups <= n, "debug: %d groups for %d guests" % (groups, n))
        # A run with online guests goes in groups of at most 32 (cmd-batch.c's ONLINE_GROUP_MAX):
        # that many paused domains and connections wait at a time, not a thousand.
        S.check(largest <= ONLINE_GROUP_MAX and groups >= -(-n // ONLINE_GROUP_MAX),
                "debug: %d groups (largest %d): an online run's groups are at most %d"
                % (groups, largest, ONLINE_GROUP_MAX))
        if grouped:
            S.check(groups <= n // 8 and largest >= 8,
                    "debug: %d groups (largest %d) for %d guests: not released in groups"
                    % (groups, largest, n))
    # the audit log's fdatasyncs: two a group (release-intent, released), one for the checkpoint
    syncs = None
    if strace:
        try:
            with open(R.trace) as f:
                lines = f.read().splitlines()
            syncs = sum(1 for l in lines if "fdatasync(" in l and "<%s>" % R.log in l)
            S.check(syncs > 0, "strace saw no fdatasync of the audit log: %r" % lines[:5])
            if groups is not None:
                S.check(syncs <= 2 * groups + 1,
                        "%d fdatasyncs of the audit log for %d groups: more than 2 a group + 1"
                        % (syncs, groups))
            if grouped:
                S.check(syncs <= n // 4, "%d fdatasyncs of the audit log for %d guests "
                        "(2 a guest would be %d): not released in groups" % (syncs, n, 2 * n))
        except OSError as e:
            S.check(False, "strace output unreadable: %s" % e)
    return groups, largest, syncs


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sevgate", required=True, help="sevgate under test")
    ap.add_argument("--shim", required=True, help="virt-shim.so")
    ap.add_argument("--guests", type=int, default=200, help="guests (the bounds assume 100 or more)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--node-size", type=int, default=200,
                    help="domains per test-driver node file (each guest's connection reads "
                         "its whole node file: 200 cost the test driver ~50 ms a guest, "
                         "~300 ms under ASan)")
    ap.add_argument("--runs", type=int, default=1, help="batches (the medians are printed)")
    ap.add_argument("--fdatasync-ms", type=int, default=1000,
                    help="the slow disk's fdatasync time (the shim's SEVGATE_SHIM_FDATASYNC_MS)")
    ap.add_argument("--only", action="append", help="a part: fast-disk, slow-disk")
    ap.add_argument("--timeout", type=int, default=240, help="seconds a batch may take")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    a.sevgate, a.shim = os.path.abspath(a.sevgate), os.path.abspath(a.shim)
    harness.require_model(M)
    M.self_check()
    for what, p, mode in (("--sevgate", a.sevgate, os.X_OK), ("--shim", a.shim, os.R_OK)):
        why = harness.binary_problem(what, p, mode)
        if why:
            print("FAIL: " + why)
            return 1
    S = harness.Suite()
    S.scan_selfcheck()
    strace = shutil.which("strace")
    if not strace:
        S.skip("the audit log's fdatasync count: strace not found")
    top = os.path.realpath(tempfile.mkdtemp(prefix="sgvbatch-", dir="/tmp"))
    try:
        st = Setup(S, a, top)
        k = [0]

        def batches(what, sync_ms, grouped):
            got = []
            for _ in range(a.runs):
                R = Run(st, a, top, k[0])
                k[0] += 1
                rc, out, err, secs = R.batch(strace, sync_ms)
                g, largest, syncs = check_run(S, a, st, R, rc, out, err, strace, grouped)
                got.append((g, largest, syncs, secs))
                print("%s: %d guests, %s groups (largest %s), %s fdatasyncs of the audit log, "
                      "%.1f s" % (what, a.guests, g, largest, syncs, secs), flush=True)
            if a.runs > 1:
                print("%s, medians of %d: %s groups, largest %s, %s fdatasyncs, %.1f s" % (
                    what, a.runs, median(x[0] for x in got), median(x[1] for x in got),
                    median(x[2] for x in got), median(x[3] for x in got)), flush=True)

        S.run_parts([
            # this disk: a release (0.1 ms fdatasyncs) is done long before the next guest
            # is attested, so groups stay small; everything else must hold
            ("fast-disk", lambda: batches("fast-disk", 0, False)),
            # a disk whose fdatasync takes --fdatasync-ms: the guests attested meanwhile
            # wait and go in the next group
            ("slow-disk", lambda: batches("slow-disk (%d ms)" % a.fdatasync_ms,
                                          a.fdatasync_ms, True))],
            only=a.only or None)
        S.scan_tree(top)
    finally:
        S.cleanup(top, a.keep)
    S.summary()
    st = S.status()
    if st == 0 and S.skipped:
        return 1 if harness.ci() else harness.SKIP
    return st


if __name__ == "__main__":
    sys.exit(main())
