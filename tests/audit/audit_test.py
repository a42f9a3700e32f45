#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
The signed, hash-chained audit log (`--audit-log`/`--audit-key`, `sevgate audit`).

  audit_test.py --sevgate PATH --fixtures DIR [--keep] [--seed N] [--only PART]
                [--kills N] [--crash-guests N]

Parts (each reports its own failures; the script goes on after a failure):
  format      every record checked independently (member order, prev chain, ECDSA
              P-256 signature over the line without its sig member, seq from 1, RFC 3339
              UTC time, values against the Python model); no secret, TIK or TEK bytes
              in any form in the log, the report or any output; config-file defaults
  tamper      one changed byte in seq/time/prev/guest/secret length/sig, a deleted
              record, two swapped, forged records (another key; a re-used valid sig),
              a cut tail (only with --expect-head): exit 1 naming line and seq
  policy      release-policy refusals (NODBG, require-policy, min-api, min-build,
              allowed firmware, allowed launch digests) on the command line and in a
              manifest: exit 7, one line, no secret files, a `refused` record; the
              allowed cases release
  crash       a 600-guest batch (--jobs 2, a secret each, so several release groups)
              SIGKILLed at random moments 22 times (--crash-guests, --kills: CTest's
              audit-log runs 300 and 10, audit-crash-long, label long, the full
              size): the log verifies, every secret on
              disk has its release-intent record first; a torn last line is tolerated
              at the end only
  diskfull    the log on a full 256k tmpfs (before release-intent, and between it
              and released), immutable (chattr +i), on a read-only bind
              mount: a release fails with one clear line, nothing released (root; 77
              without mount unless CI=true)
  concurrent  two batches (and several validates) on one log at once
  faults      with fault-shim.so preloaded (--fault-shim): the packet files' syncfs/fsync
              failing makes every guest of a batch an error with its intent but no
              released record; the
              log's flush failing after the first makes the first group "released
              but not recorded" and releases nothing after it
  syslog      with a /dev/log of the test's own (a private mount namespace): every
              record reaches syslog as its exact line, in order, as authpriv.info from
              sevgate[PID]; without /dev/log nothing is sent and the log is written
              (root; 77 without unshare unless CI=true)
  bounds      hostile logs: `audit show` escapes every member whatever its JSON type and
              skips a 200 MiB line in bounded memory; `audit verify` on a directory,
              /dev/zero, a NUL in the last record, a non-hex --expect-head; a torn tail
              over 64 KiB refused (file untouched), under it cut exactly; a P-384 audit
              key or public key refused (exit 2)
  token       a SoftHSM2 EC audit key (pkcs11: URI) and token TIK/TEK with pin-value:
              the log verifies with the token's public key, no PIN anywhere (skipped
              without softhsm2)

Python 3 standard library plus `cryptography` (exit 77 without it unless CI=true), and the
`openssl` tool for the keys. Exit 0 all passed, 1 a failure, 77 skipped.
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import OrderedDict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import asanpreload  # noqa: E402
import harness  # noqa: E402
import secretscan  # noqa: E402
import sevmodel as M  # noqa: E402

T = harness.Suite()
SCAN = T.scan


def check(cond, what):
    return bool(T.check(cond, what))


skip = T.skip  # a part that cannot run here: a failure when CI=true


run = T.run


def write(path, data, mode=0o644):
    return T.write(path, data, mode, input=False)


def sha256hex(b):
    return hashlib.sha256(b).hexdigest()


ORDER = ["seq", "time", "prev", "event", "guest", "manifest_sha256", "inputs", "measurement",
         "api_major", "api_minor", "build_id", "policy", "launch_digest", "verdict", "secrets",
         "keys", "reason", "actor", "sevgate_version", "v", "sig"]
EVENTS = ("verdict", "release-intent", "released", "refused", "checkpoint")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
SIG_MEMBER = ',"sig":"'
ZERO = "0" * 64


# ---------------------------------------------------------------------------
# The independent verifier

def parse_log(path):
    """Raw lines (without newline) and a torn tail (bytes after the last newline)."""
    data = open(path, "rb").read()
    parts = data.split(b"\n")
    return [p.decode() for p in parts[:-1]], parts[-1]


def py_verify(pub, lines, where, t0=None, t1=None):
    """Check every record of @lines; returns the parsed records (OrderedDicts) and the head."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    recs, prev, ok = [], ZERO, True
    for i, line in enumerate(lines, 1):
        w = "%s line %d" % (where, i)
        try:
            r = json.loads(line, object_pairs_hook=OrderedDict)
        except ValueError as e:
            ok = check(False, "%s: not JSON: %s" % (w, e))
            break
        keys = list(r)
        want = [k for k in ORDER if k != "reason" or "reason" in r]
        ok &= check(keys == want, "%s: members %s, want %s" % (w, keys, want))
        ok &= check(r.get("seq") == i and type(r.get("seq")) is int, "%s: seq %r, want %d" % (w, r.get("seq"), i))
        ok &= check(r.get("prev") == prev, "%s: prev %r, want %s" % (w, r.get("prev"), prev))
        t = r.get("time")
        if check(isinstance(t, str) and TIME_RE.match(t), "%s: time %r is not RFC 3339 UTC" % (w, t)):
            dt = datetime.datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
            if t0 is not None:
                check(t0 - 2 <= dt.timestamp() <= t1 + 2, "%s: time %s outside the run (%d..%d)" % (w, t, t0, t1))
        else:
            ok = False
        ok &= check(r.get("event") in EVENTS, "%s: event %r" % (w, r.get("event")))
        ok &= check(r.get("v") == 1 and type(r.get("v")) is int, "%s: v %r, want 1" % (w, r.get("v")))
        ok &= check(isinstance(r.get("inputs"), dict) and list(r["inputs"]) ==
                    ["firmware", "kernel", "initrd", "cmdline"], "%s: inputs %r" % (w, r.get("inputs")))
        ok &= check(isinstance(r.get("actor"), dict) and list(r["actor"]) == ["uid", "user", "host"],
                    "%s: actor %r" % (w, r.get("actor")))
        ok &= check(isinstance(r.get("secrets"), list) and
                    all(isinstance(s, dict) and list(s) == ["guid", "length"] for s in r["secrets"]),
                    "%s: secrets %r" % (w, r.get("secrets")))
        for k in ("manifest_sha256", "launch_digest"):
            ok &= check(r.get(k) is None or HEX64.match(r[k]), "%s: %s %r" % (w, k, r.get(k)))
        # The signature: over the line with its ,"sig":"..." member removed.
        idx = line.rfind(SIG_MEMBER)
        good_shape = idx > 0 and line.endswith('"}') and idx == line.find(SIG_MEMBER)
        ok &= check(good_shape, "%s: the sig member is not last or not alone" % w)
        if good_shape:
            signed = line[:idx] + "}"
            try:
                der = base64.b64decode(line[idx + len(SIG_MEMBER):-2], validate=True)
                pub.verify(der, signed.encode(), ec.ECDSA(hashes.SHA256()))
            except (InvalidSignature, ValueError) as e:
                ok = check(False, "%s: signature does not verify (%r)" % (w, e))
            check(json.loads(signed) == {k: v for k, v in r.items() if k != "sig"},
                  "%s: the stripped line is not the record without sig" % w)
        prev = sha256hex(line.encode())
        recs.append(r)
    return recs, prev, ok


def no_secrets(texts, secrets, where):
    """No secret in any form (raw, hex either case, base64 at each alignment) in @texts."""
    found = secretscan.find(texts, secrets)
    check(not found, "%s: %s" % (where, "; ".join(found)))


# ---------------------------------------------------------------------------

class Env:
    def __init__(self, args):
        from cryptography.hazmat.primitives import serialization

        self.sevgate = os.path.abspath(args.sevgate)
        self.fixtures = os.path.abspath(args.fixtures)
        self.fw_path = os.path.join(self.fixtures, "fw_synth.bin")
        self.fw = open(self.fw_path, "rb").read()
        self.tmp = tempfile.mkdtemp(prefix="sevgate-audit-")
        self.keep = args.keep
        self.rng = random.Random(args.seed)
        self.seed = args.seed
        # Random TIK/TEK (not the spec's): their bytes must never show up anywhere.
        self.tik = bytes(self.rng.randrange(256) for _ in range(16))
        self.tek = bytes(self.rng.randrange(256) for _ in range(16))
        self.keys = os.path.join(self.tmp, "keys")
        SCAN.register("TIK", self.tik, write(os.path.join(self.keys, "tik.bin"), self.tik, 0o600))
        SCAN.register("TEK", self.tek, write(os.path.join(self.keys, "tek.bin"), self.tek, 0o600))
        self.key = self.genkey("audit.pem")
        self.pubkey = os.path.join(self.keys, "audit.pub.pem")
        p = subprocess.run(["openssl", "pkey", "-in", self.key, "-pubout", "-out", self.pubkey],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("openssl pkey -pubout: " + p.stderr)
        self.pub = serialization.load_pem_public_key(open(self.pubkey, "rb").read())
        self.other_key = self.genkey("other.pem")
        self.ld = M.launch_digest(self.fw)
        self.version = self.sg("--version")[1].strip().split()[-1]

    def genkey(self, name):
        path = os.path.join(self.keys, name)
        p = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-out", path], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("openssl genpkey: " + p.stderr)
        os.chmod(path, 0o600)
        from cryptography.hazmat.primitives import serialization
        d = serialization.load_pem_private_key(open(path, "rb").read(), None).private_numbers().private_value
        SCAN.register("audit key %s (private scalar)" % name, d.to_bytes(32, "big"), path)
        return path

    def sg(self, *argv, cwd=None, timeout=120, env=None):
        return run([self.sevgate] + list(argv), cwd=cwd, timeout=timeout, env=env)

    def blob(self, policy=3, api=(0, 24), build=15, ld=None):
        return M.measurement_b64(self.tik, api[0], api[1], build, policy, ld or self.ld, bytes(range(0xA0, 0xB0)))

    def guest_args(self, guest, policy=3, api=(0, 24), build=15, secret=None, out=None, good=True):
        """validate arguments for a plain-SEV guest on fw_synth.bin (launch digest = SHA-256(fw))."""
        a = ["--guest", guest, "-m", self.blob(policy, api, build) if good else self.blob(policy ^ 0x10, api, build),
             "--api-major", str(api[0]), "--api-minor", str(api[1]), "--build-id", str(build),
             "--policy", str(policy), "-f", self.fw_path,
             "--tik", os.path.join(self.keys, "tik.bin"), "--tek", os.path.join(self.keys, "tek.bin")]
        if secret:
            a += ["-s", "luks-key:" + secret, "--secret-header", os.path.join(out, guest + ".h"),
                  "--secret-payload", os.path.join(out, guest + ".p")]
        return a

    def manifest(self, path, guest, policy=3, api=(0, 24), build=15, secret=None, out=None, release=None):
        lines = ["version: 1", "guest: %s" % guest, "measurement: %s" % self.blob(policy, api, build),
                 "api-major: %d" % api[0], "api-minor: %d" % api[1], "build-id: %d" % build,
                 "policy: %d" % policy, "firmware: %s" % self.fw_path,
                 "tik: %s/tik.bin" % self.keys, "tek: %s/tek.bin" % self.keys]
        if secret:
            lines += ["secrets:", "  - {guid: luks-key, file: %s}" % secret,
                      "secret-header: %s/%s.h" % (out, guest), "secret-payload: %s/%s.p" % (out, guest)]
        if release:
            lines += ["release:"] + ["  " + x for x in release]
        write(path, "\n".join(lines) + "\n")
        SCAN.inputs(path)
        return path

    def audit(self, log=None, key=None):
        return ["--audit-log", log, "--audit-key", key or self.key]

    def verify(self, log, expect=None, pub=None):
        argv = ["audit", "verify", log, "--pubkey", pub or self.pubkey]
        if expect:
            argv += ["--expect-head", expect]
        return self.sg(*argv)


def secret_file(env, name, data):
    path = write(os.path.join(env.tmp, "secrets", name), data, 0o600)
    SCAN.register("secret " + name, data, path)
    return path


def lines_of(path):
    return parse_log(path)[0] if os.path.exists(path) else []


def records(path):
    return [json.loads(x) for x in lines_of(path)]


def open_packet(env, out, guest):
    try:
        return M.open_payload(env.tek, open(os.path.join(out, guest + ".h")).read(),
                                     open(os.path.join(out, guest + ".p")).read())
    except (OSError, ValueError) as e:
        return "unreadable: %s" % e


# ---------------------------------------------------------------------------
# format

def test_format(env):
    d = os.path.join(env.tmp, "format")
    out = os.path.join(d, "out")
    os.makedirs(out)
    log = os.path.join(d, "log", "audit.jsonl")
    os.makedirs(os.path.dirname(log))
    s_text = ("passphrase-%016x" % env.rng.getrandbits(64)).encode()
    s_bin = bytes(env.rng.randrange(256) for _ in range(32))
    f_text = secret_file(env, "fmt-text.txt", s_text)
    f_bin = secret_file(env, "fmt-bin.bin", s_bin)
    outputs = []
    t0 = time.time()

    def v(*argv):
        rc, o, e = env.sg("validate", *argv)
        outputs.append(("validate stdout", o))
        outputs.append(("validate stderr", e))
        return rc, o, e

    # 1: a release (text secret): release-intent + released
    rc, o, e = v(*env.guest_args("fmt-rel", secret=f_text, out=out), *env.audit(log))
    check(rc == 0, "format: release exit %d (%s)" % (rc, e.strip()))
    check(open_packet(env, out, "fmt-rel") == {M.LUKS_KEY_GUID: s_text}, "format: released packet")
    check(os.path.exists(log) and (os.stat(log).st_mode & 0o777) == 0o600,
          "format: the log is created 0600")
    # 2: a verdict (no secrets), JSON output
    rc, o, e = v(*env.guest_args("fmt-verdict"), "--json", *env.audit(log))
    check(rc == 0, "format: verdict exit %d (%s)" % (rc, e.strip()))
    # 3: a mismatch, with a secret: nothing released, a verdict record saying mismatch
    rc, o, e = v(*env.guest_args("fmt-mismatch", secret=f_bin, out=out, good=False), *env.audit(log))
    check(rc == 1, "format: mismatch exit %d (%s)" % (rc, e.strip()))
    check(not os.path.exists(os.path.join(out, "fmt-mismatch.h")), "format: a mismatch released a secret")
    # 4: a refusal (NODBG clear)
    rc, o, e = v(*env.guest_args("fmt-refused", policy=2, secret=f_bin, out=out), *env.audit(log))
    check(rc == 7, "format: refusal exit %d (%s)" % (rc, e.strip()))
    # 5: a binary secret released through a manifest, with --json
    mf = env.manifest(os.path.join(d, "m", "fmt-mf.yaml"), "fmt-mf", secret=f_bin, out=out)
    rc, o, e = v("--manifest", mf, "--json", *env.audit(log))
    check(rc == 0, "format: manifest release exit %d (%s)" % (rc, e.strip()))
    # odd guest names: quotes (a fake sig member), spaces, UTF-8, backslash, slash
    odd = ['evil","sig":"MEUCIQ', "two  lines", "g\u00e4st/\u2713\\x"]
    for g in odd:
        rc, o, e = v(*env.guest_args(g), *env.audit(log))
        check(rc == 0, "format: guest %r: exit %d %s" % (g, rc, e.strip()))
    # a newline is no name (issue 11: printable UTF-8 only): refused before any record
    n0 = len(lines_of(log))
    rc, o, e = v(*env.guest_args("two\nlines"), *env.audit(log))
    check(rc == 2 and len(lines_of(log)) == n0, "format: guest 'two\\nlines': exit %d %s" % (rc, e.strip()))
    # 6: a batch with a report, human, then JSON
    bd = os.path.join(d, "batch")
    env.manifest(os.path.join(bd, "b1.yaml"), "fmt-b1", secret=f_text, out=out)
    env.manifest(os.path.join(bd, "b2.yaml"), "fmt-b2")
    report = os.path.join(d, "report.jsonl")
    rc, o, e = env.sg("batch", "--jobs", "2", "--report", report, *env.audit(log), bd)
    outputs += [("batch stdout", o), ("batch stderr", e), ("report", open(report).read() if os.path.exists(report) else "")]
    check(rc == 0, "format: batch exit %d (%s)" % (rc, e.strip()))
    mh = re.search(r"^audit: head ([0-9a-f]{64})$", o, re.M)
    check(mh is not None, "format: batch prints 'audit: head HEX': %r" % o)
    head_human = mh.group(1) if mh else None
    ls = lines_of(log)
    check(head_human is not None and ls and head_human == sha256hex(ls[-1].encode()),
          "format: the batch's head is the hash of the last (checkpoint) line")
    rc, o, e = env.sg("batch", "--format", "json", *env.audit(log), bd)
    outputs += [("batch json stdout", o), ("batch json stderr", e)]
    try:
        summary = json.loads(o.strip().splitlines()[-1])["summary"]
    except (ValueError, IndexError, KeyError):
        summary = {}
    ls = lines_of(log)
    check(rc == 0 and summary.get("audit_head") == sha256hex(ls[-1].encode()),
          "format: JSON summary audit_head %r" % summary.get("audit_head"))
    t1 = time.time()

    # Independent verification of every record.
    lines, torn = parse_log(log)
    check(torn == b"", "format: the log ends with a newline")
    recs, head, ok = py_verify(env.pub, lines, "format", t0, t1)
    check(len(recs) == 18, "format: %d records, want 18" % len(recs))
    check([r["guest"] for r in recs[7:10]] == odd, "format: odd guest names %r" % [r["guest"] for r in recs[7:10]])
    rc, o, e = env.verify(log)
    check(rc == 0 and o == "ok: %d records verify; head %s\n" % (len(lines), head),
          "format: audit verify: rc %d %r %r" % (rc, o, e))
    rc, o, e = env.verify(log, expect=head)
    check(rc == 0, "format: audit verify --expect-head (its own head): rc %d %s" % (rc, e.strip()))
    rc, o, e = env.verify(log, expect=head.upper())
    check(rc == 0, "format: audit verify --expect-head in upper case: rc %d %s" % (rc, e.strip()))
    # Values.
    want = [("release-intent", "fmt-rel", "trusted"), ("released", "fmt-rel", "trusted"),
            ("verdict", "fmt-verdict", "trusted"), ("verdict", "fmt-mismatch", "mismatch"),
            ("refused", "fmt-refused", "refused"), ("release-intent", "fmt-mf", "trusted"),
            ("released", "fmt-mf", "trusted")]
    got = [(r["event"], r["guest"], r["verdict"]) for r in recs[:7]]
    check(got == want, "format: events %s, want %s" % (got, want))
    fw_sha = sha256hex(env.fw)
    uid = os.getuid()
    try:
        import pwd
        user = pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        user = None
    for r in recs:
        w = "format record %s (%s %s)" % (r["seq"], r["event"], r["guest"])
        check(r["actor"]["uid"] == uid and (user is None or r["actor"]["user"] == user)
              and r["actor"]["host"] == socket.gethostname(), "%s: actor %r" % (w, r["actor"]))
        check(r["sevgate_version"] == env.version, "%s: sevgate_version %r, want %r"
              % (w, r["sevgate_version"], env.version))
        if r["event"] == "checkpoint":
            check(r["guest"] is None and r["secrets"] == [] and r["verdict"] is None, "%s: %r" % (w, r))
            continue
        pol = 2 if r["guest"] == "fmt-refused" else 3
        check(r["inputs"] == {"firmware": fw_sha, "kernel": None, "initrd": None, "cmdline": None},
              "%s: inputs %r" % (w, r["inputs"]))
        check(r["launch_digest"] == env.ld.hex(), "%s: launch_digest %r" % (w, r["launch_digest"]))
        check((r["api_major"], r["api_minor"], r["build_id"], r["policy"]) == (0, 24, 15, pol),
              "%s: platform %r" % (w, (r["api_major"], r["api_minor"], r["build_id"], r["policy"])))
        want_m = env.blob(pol) if r["guest"] != "fmt-mismatch" else env.blob(3 ^ 0x10)
        check(r["measurement"] == want_m, "%s: measurement %r" % (w, r["measurement"]))
        check(r["keys"] == ["file:" + os.path.join(env.keys, "tik.bin"), "file:" + os.path.join(env.keys, "tek.bin")],
              "%s: keys %r" % (w, r["keys"]))
        if r["event"] in ("release-intent", "released"):
            ln = len(s_bin) if r["guest"] == "fmt-mf" else len(s_text)
            check(r["secrets"] == [{"guid": "736869e5-84f0-4973-92ec-06879ce3da0b", "length": ln}],
                  "%s: secrets %r" % (w, r["secrets"]))
        if r["guest"] in ("fmt-mf", "fmt-b1", "fmt-b2"):
            mp = mf if r["guest"] == "fmt-mf" else os.path.join(bd, r["guest"][4:] + ".yaml")
            check(r["manifest_sha256"] == sha256hex(open(mp, "rb").read()),
                  "%s: manifest_sha256 %r" % (w, r["manifest_sha256"]))
        else:
            check(r["manifest_sha256"] is None, "%s: manifest_sha256 %r without a manifest" % (w, r["manifest_sha256"]))
        check(("reason" in r) == (r["event"] == "refused" or r["verdict"] in ("mismatch", "error")),
              "%s: reason present iff refused or mismatch: %r" % (w, r.get("reason")))
    ref = [r for r in recs if r["event"] == "refused"]
    check(ref and "NODBG" in ref[0].get("reason", "") and "\n" not in ref[0].get("reason", ""),
          "format: refused reason %r" % (ref and ref[0].get("reason")))
    check(sum(1 for r in recs if r["event"] == "checkpoint") == 2 and recs[-1]["event"] == "checkpoint",
          "format: one checkpoint per batch, last")
    # No secret bytes anywhere.
    texts = [("log", open(log, "rb").read())] + outputs
    rc, o, e = env.sg("audit", "show", log)
    texts += [("audit show", o + e)]
    no_secrets(texts, [("text secret", s_text), ("binary secret", s_bin), ("TIK", env.tik), ("TEK", env.tek)],
               "format")
    # audit show filters
    check(rc == 0 and len(o.splitlines()) == len(recs),
          "format: audit show prints %d lines for %d records (a guest name's newline is printed raw: "
          "one record shows as two lines)" % (len(o.splitlines()), len(recs)))
    rc, o, e = env.sg("audit", "show", log, "--guest", "fmt-rel")
    check(rc == 0 and len(o.splitlines()) == 2 and all("fmt-rel" in x for x in o.splitlines()),
          "format: audit show --guest: %r" % o)
    rc, o, e = env.sg("audit", "show", log, "--since", "2999-01-01T00:00:00Z")
    check(rc == 0 and o == "", "format: audit show --since the future: %r" % o)

    # Defaults from the configuration file: --config, and SEVGATE_CONFIG.
    clog = os.path.join(d, "cfg.jsonl")
    conf = write(os.path.join(d, "sevgate.conf"), "audit-log: %s\naudit-key: %s\n" % (clog, env.key))
    rc, o, e = env.sg("validate", *env.guest_args("cfg-1"), "--config", conf)
    check(rc == 0 and [r["guest"] for r in records(clog)] == ["cfg-1"],
          "format: audit-log/audit-key from --config: rc %d %s" % (rc, e.strip()))
    envv = dict(os.environ, SEVGATE_CONFIG=conf)
    rc, o, e = env.sg("validate", *env.guest_args("cfg-2"), env=envv)
    check(rc == 0 and [r["guest"] for r in records(clog)] == ["cfg-1", "cfg-2"],
          "format: audit-log/audit-key from SEVGATE_CONFIG: rc %d %s" % (rc, e.strip()))
    rc, o, e = env.sg("batch", "--config", conf, os.path.join(bd, "b2.yaml"))
    check(rc == 0 and [r["event"] for r in records(clog)][2:] == ["verdict", "checkpoint"]
          and re.search(r"^audit: head [0-9a-f]{64}$", o, re.M),
          "format: batch with the log from --config: rc %d %r" % (rc, o))
    py_verify(env.pub, lines_of(clog), "format cfg")
    empty = write(os.path.join(d, "empty.conf"), "# nothing\n")
    rc, o, e = env.sg("validate", *env.guest_args("nokey"), "--audit-log", os.path.join(d, "nokey.jsonl"),
                      "--config", empty)
    check(rc != 0 and "audit-key" in e and not os.path.exists(os.path.join(d, "nokey.jsonl")),
          "format: --audit-log without a key: rc %d %r" % (rc, e))
    rc, o, e = env.sg("validate", *env.guest_args("badkey"), *env.audit(os.path.join(d, "badkey.jsonl"),
                                                                         os.path.join(env.keys, "tik.bin")))
    check(rc != 0 and "audit key" in e, "format: a non-PEM audit key: rc %d %r" % (rc, e))
    return log


# ---------------------------------------------------------------------------
# tamper

def test_tamper(env, base):
    d = os.path.join(env.tmp, "tamper")
    os.makedirs(d)
    lines = lines_of(base)
    n = len(lines)
    check(n >= 10, "tamper: base log has %d records" % n)
    head = sha256hex(lines[-1].encode())
    rc, o, e = env.verify(base, expect=head)
    check(rc == 0, "tamper: the untouched log verifies with its head: %s" % e.strip())

    def named(err):
        m_line = re.search(r"\bline (\d+)", err)
        m_seq = re.search(r"(?:record|seq(?: is not)?) \(?(?:seq )?(\d+)", err)
        return (int(m_line.group(1)) if m_line else None, int(m_seq.group(1)) if m_seq else None)

    def case(name, new_lines, line, seq, expect=None, torn=b""):
        path = os.path.join(d, name + ".jsonl")
        with open(path, "wb") as f:
            f.write("".join(x + "\n" for x in new_lines).encode() + torn)
        rc, o, e = env.verify(path, expect=expect)
        msg = (o + e).strip()
        got = named(msg)
        check(rc == 1 and o == "" and len(e.strip().splitlines()) == 1 and e.startswith("error: "),
              "tamper %s: exit %d, want 1 with one 'error:' line: %r" % (name, rc, msg))
        check(got == (line, seq), "tamper %s: names (line, seq) %s, want %s: %r" % (name, got, (line, seq), msg))

    def flip(s, pos):
        """One byte changed: a digit to another digit, a letter to another letter."""
        c = s[pos]
        if c.isdigit():
            r = str((int(c) + 1) % 10)
        elif c in "abcdef":
            r = "abcdef"[("abcdef".index(c) + 1) % 6]
        elif c.isalpha():
            r = "B" if c == "A" else "A"
        else:
            r = "x"
        return s[:pos] + r + s[pos + 1:]

    def member_pos(line, key, skip=0):
        i = line.index('"%s":' % key) + len(key) + 3 + skip
        return i

    k = 3  # the record to tamper with (seq 4, line 4)
    ln = k + 1
    rel = next(i for i, x in enumerate(lines) if json.loads(x)["secrets"] and i > 0)
    muts = {
        "seq": (k, member_pos(lines[k], "seq")),
        "time": (k, member_pos(lines[k], "time", 1 + 15)),
        "prev": (k, member_pos(lines[k], "prev", 1 + 10)),
        "guest": (k, member_pos(lines[k], "guest", 1 + 2)),
        "secrets-length": (rel, lines[rel].index('"length":') + 9),
        "sig": (k, lines[k].index(SIG_MEMBER) + len(SIG_MEMBER) + 20),
        "event": (k, member_pos(lines[k], "event", 1 + 1)),
        "launch_digest": (k, member_pos(lines[k], "launch_digest", 1 + 30)),
    }
    for name, (i, pos) in muts.items():
        new = list(lines)
        new[i] = flip(lines[i], pos)
        check(new[i] != lines[i] and len(new[i]) == len(lines[i]), "tamper %s: the mutation changed one byte" % name)
        case("byte-" + name, new, i + 1, i + 1)
    # a whitespace byte added where JSON does not care: the signature still breaks
    new = list(lines)
    new[k] = lines[k].replace('","event"', '", "event"', 1)
    case("added-space", new, ln, ln)
    # a member re-ordered (same JSON value)
    r = json.loads(lines[k], object_pairs_hook=OrderedDict)
    sig = r.pop("sig")
    r.move_to_end("guest")
    r["sig"] = sig
    new = list(lines)
    new[k] = json.dumps(r, separators=(",", ":"))
    case("reordered-members", new, ln, ln)
    # a deleted record: the one after it is at the wrong place
    case("deleted", lines[:k] + lines[k + 1:], ln, ln)
    case("deleted-first", lines[1:], 1, 1)
    # two swapped
    case("swapped", lines[:k] + [lines[k + 1], lines[k]] + lines[k + 2:], ln, ln)
    # a record duplicated (replayed)
    case("duplicated", lines[:k + 1] + [lines[k]] + lines[k + 1:], ln + 1, ln + 1)

    def forge(rec_line, seq, prev, key_path=None, guest="forged", sig_from=None, extra=None):
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        r = json.loads(rec_line, object_pairs_hook=OrderedDict)
        del r["sig"]
        r["seq"] = seq
        r["prev"] = prev
        r["guest"] = guest
        r.update(extra or {})  # members already there keep their place; new ones go last
        body = json.dumps(r, separators=(",", ":"))
        if sig_from is not None:
            s = sig_from
        else:
            key = serialization.load_pem_private_key(open(key_path, "rb").read(), None)
            s = base64.b64encode(key.sign(body.encode(), ec.ECDSA(hashes.SHA256()))).decode()
        return body[:-1] + SIG_MEMBER + s + '"}'

    def rechain(prefix, forged, rest, key_path):
        """prefix + forged + rest, renumbered and re-chained, the rest re-signed with key_path."""
        out = list(prefix) + [forged]
        for x in rest:
            out.append(forge(x, len(out) + 1, sha256hex(out[-1].encode()), key_path,
                             guest=json.loads(x)["guest"]))
        return out

    prev_k = sha256hex(lines[k - 1].encode())
    # forged with another key, chained correctly, and everything after re-chained by the forger
    f = forge(lines[k], ln, prev_k, env.other_key)
    case("forged-other-key", rechain(lines[:k], f, lines[k:], env.other_key), ln, ln)
    # the forged record alone (not re-chaining the rest)
    case("forged-other-key-inserted", lines[:k] + [f] + lines[k:], ln, ln)
    # a forged record re-using record k's valid signature
    sig_k = lines[k][lines[k].index(SIG_MEMBER) + len(SIG_MEMBER):-2]
    f2 = forge(lines[k], ln, prev_k, sig_from=sig_k)
    case("forged-reused-sig", lines[:k] + [f2] + lines[k + 1:], ln, ln)
    # ... and one re-using the signature of the record it claims to be (all but guest equal)
    case("forged-reused-sig-inserted", lines[:k] + [f2] + lines[k:], ln, ln)
    # forged at the end, consistent chain, another key
    f3 = forge(lines[-1], n + 1, head, env.other_key)
    case("forged-appended", lines + [f3], n + 1, n + 1)
    # a forged record signed correctly by the *right* key would verify: sanity of the forger
    f4 = forge(lines[-1], n + 1, head, env.key)
    path = os.path.join(d, "appended-right-key.jsonl")
    write(path, "".join(x + "\n" for x in lines + [f4]))
    rc, o, e = env.verify(path)
    check(rc == 0 and o.startswith("ok: %d records" % (n + 1)),
          "tamper: a record signed with the audit key verifies (the forger is right): %r" % (o + e))
    # forward compatibility: a later version's record (v 2, members this one does not know,
    # before sig), signed with the audit key, verifies and shows; one of them changed does not
    f5 = forge(lines[-1], n + 1, head, env.key,
               extra={"v": 2, "session": {"id": "s-1", "n": [1]}, "domain_uuid": None})
    path = os.path.join(d, "unknown-members.jsonl")
    write(path, "".join(x + "\n" for x in lines + [f5]))
    rc, o, e = env.verify(path)
    check(rc == 0 and o.startswith("ok: %d records" % (n + 1)),
          "tamper: a record with unknown members verifies: %r" % (o + e))
    rc, o, e = env.sg("audit", "show", path)
    check(rc == 0 and e == "" and len(o.splitlines()) == n + 1,
          "tamper: audit show over unknown members: rc %d %r" % (rc, e))
    case("unknown-member-changed", lines + [f5.replace('"s-1"', '"s-2"')], n + 1, n + 1)
    # the whole log verified with another public key
    other_pub = os.path.join(d, "other.pub.pem")
    subprocess.run(["openssl", "pkey", "-in", env.other_key, "-pubout", "-out", other_pub], check=True)
    rc, o, e = env.verify(base, pub=other_pub)
    check(rc == 1 and named(e) == (1, 1), "tamper: another public key: rc %d %r" % (rc, e))
    # a garbage line in the middle
    case("garbage-line", lines[:k] + ["this is not a record"] + lines[k:], ln, None)
    # cut tail: passes without --expect-head, fails with it and names the last record kept
    cut = lines[:-2]
    path = os.path.join(d, "cut.jsonl")
    write(path, "".join(x + "\n" for x in cut))
    rc, o, e = env.verify(path)
    check(rc == 0 and o == "ok: %d records verify; head %s\n" % (n - 2, sha256hex(cut[-1].encode())),
          "tamper cut: without --expect-head a cut tail verifies: %r" % (o + e))
    rc, o, e = env.verify(path, expect=head)
    check(rc == 1 and len(e.strip().splitlines()) == 1 and re.search(r"\bseq %d\b" % (n - 2), e)
          and "cut" in e, "tamper cut: --expect-head: rc %d %r (want seq %d named)" % (rc, e, n - 2))
    # a cut that removed the last record's newline too
    path = os.path.join(d, "cut-newline.jsonl")
    write(path, "".join(x + "\n" for x in lines)[:-1])
    rc, o, e = env.verify(path, expect=head)
    check(rc == 1, "tamper: the last record without its newline is not the expected head: rc %d %r" % (rc, o + e))
    # an empty log with an expected head
    path = write(os.path.join(d, "empty.jsonl"), "")
    rc, o, e = env.verify(path, expect=head)
    check(rc == 1, "tamper: an empty log is not the expected head: rc %d %r" % (rc, o + e))
    rc, o, e = env.verify(path)
    check(rc == 0 and o == "ok: 0 records verify; head %s\n" % ZERO, "tamper: empty log: %r" % (o + e))
    # a torn tail (a crash mid-write) is tolerated at the end only
    torn = lines[-1][:100].encode()
    path = os.path.join(d, "torn.jsonl")
    write(path, "".join(x + "\n" for x in lines).encode() + torn)
    rc, o, e = env.verify(path, expect=head)
    check(rc == 0 and o.startswith("ok: %d records" % n), "tamper: a torn last line is tolerated: %r" % (o + e))
    # --expect-head usage
    rc, o, e = env.verify(base, expect="abc")
    check(rc == 2, "tamper: --expect-head abc is a usage error: rc %d %r" % (rc, e))
    # an unreadable log or public key: exit 6
    rc, o, e = env.verify(os.path.join(d, "no-such.jsonl"))
    check(rc == 6 and e.startswith("error: "), "tamper: a missing log: rc %d %r" % (rc, e))
    rc, o, e = env.verify(base, pub=os.path.join(env.keys, "tik.bin"))
    check(rc == 6 and e.startswith("error: "), "tamper: a public key that is not PEM: rc %d %r" % (rc, e))
    # show skips a line that is not a record, with a warning
    rc, o, e = env.sg("audit", "show", os.path.join(d, "garbage-line.jsonl"))
    check(rc == 0 and len(re.findall(r"^\d+ ", o, re.M)) == n and ":%d: not a record" % ln in e,
          "tamper: audit show over a garbage line: rc %d, %d lines, %r" % (rc, len(o.splitlines()), e))
    # untouched base still verifies (nothing above wrote to it)
    rc, o, e = env.verify(base, expect=head)
    check(rc == 0, "tamper: the untouched log still verifies")


# ---------------------------------------------------------------------------
# policy

def test_policy(env):
    d = os.path.join(env.tmp, "policy")
    out = os.path.join(d, "out")
    os.makedirs(out)
    log = os.path.join(d, "audit.jsonl")
    sdata = ("policy-secret-%012x" % env.rng.getrandbits(48)).encode()
    sec = secret_file(env, "policy.txt", sdata)
    fw_sha = sha256hex(env.fw)
    other = sha256hex(b"some other firmware")
    # (name, guest kwargs, CLI options, manifest release lines, expected: reason substring or None)
    cases = [
        ("nodbg", {"policy": 2}, [], [], "NODBG"),
        ("nodbg-0", {"policy": 0}, [], [], "NODBG"),
        ("nodbg-allowed", {"policy": 2}, ["--allow-debug"], ["allow-debug: true"], None),
        ("nodbg-allow-false", {"policy": 2}, [], ["allow-debug: false"], "NODBG"),
        ("require-missing", {"policy": 1}, ["--require-policy", "nodbg,noks"], ["require-policy: [nodbg, noks]"],
         "lacks required bit noks"),
        ("require-es", {"policy": 3}, ["--require-policy", "es"], ["require-policy: es"], "lacks required bit es"),
        ("require-ok", {"policy": 3}, ["--require-policy", "NODBG,noks"], ["require-policy: ['nodbg,noks']"], None),
        ("min-api-minor", {"api": (0, 24)}, ["--min-api", "0.25"], ['min-api: "0.25"'], "min-api 0.25"),
        ("min-api-major", {"api": (0, 24)}, ["--min-api", "1.0"], ['min-api: "1.0"'], "min-api 1.0"),
        ("min-api-ok", {"api": (1, 2)}, ["--min-api", "0.255"], ['min-api: "0.255"'], None),
        ("min-api-equal", {"api": (0, 24)}, ["--min-api", "0.24"], ['min-api: "0.24"'], None),
        ("min-build", {"build": 15}, ["--min-build", "16"], ["min-build: 16"], "min-build 16"),
        ("min-build-ok", {"build": 16}, ["--min-build", "16"], ["min-build: 16"], None),
        ("firmware", {}, ["--allowed-firmware-sha256", other], ["allowed-firmware-sha256: [%s]" % other],
         "allowed-firmware-sha256"),
        ("firmware-ok", {}, ["--allowed-firmware-sha256", other, "--allowed-firmware-sha256", fw_sha.upper()],
         ["allowed-firmware-sha256:", "  - %s" % other, "  - %s" % fw_sha], None),
        ("digest", {}, ["--allowed-launch-digest", other], ["allowed-launch-digests: %s" % other],
         "allowed-launch-digests"),
        ("digest-ok", {}, ["--allowed-launch-digest", env.ld.hex()], ["allowed-launch-digests: [%s]" % env.ld.hex()],
         None),
    ]
    for name, kw, cli, rel, reason in cases:
        for mode in ("cli", "manifest"):
            if mode == "manifest" and not rel and "allow" not in name and reason is None:
                continue
            guest = "%s-%s" % (name, mode)
            before = len(lines_of(log))
            if mode == "cli":
                argv = env.guest_args(guest, secret=sec, out=out, **kw) + cli
            else:
                mf = env.manifest(os.path.join(d, "m", guest + ".yaml"), guest, secret=sec, out=out, release=rel, **kw)
                argv = ["--manifest", mf]
            rc, o, e = env.sg("validate", *argv, *env.audit(log))
            new = [json.loads(x) for x in lines_of(log)[before:]]
            hdr, pl = os.path.join(out, guest + ".h"), os.path.join(out, guest + ".p")
            w = "policy %s: " % guest
            if reason:
                check(rc == 7, w + "exit %d, want 7 (%r)" % (rc, e))
                el = e.strip().splitlines()
                check(len(el) == 1 and reason in el[0] and o == "",
                      w + "want one line naming %r on stderr, got %r / %r" % (reason, e, o))
                check(not os.path.exists(hdr) and not os.path.exists(pl), w + "secret files written")
                check([(r["event"], r["guest"], r["verdict"]) for r in new] == [("refused", guest, "refused")],
                      w + "records %r" % [(r["event"], r["guest"]) for r in new])
                if new:
                    check(reason in new[0].get("reason", "") and "\n" not in new[0].get("reason", ""),
                          w + "record reason %r" % new[0].get("reason"))
            else:
                check(rc == 0, w + "exit %d, want 0 (%s)" % (rc, e.strip()))
                check(open_packet(env, out, guest) == {M.LUKS_KEY_GUID: sdata}, w + "released packet")
                check([(r["event"], r["guest"]) for r in new] == [("release-intent", guest), ("released", guest)],
                      w + "records %r" % [(r["event"], r["guest"]) for r in new])
    # --debug prints the most: a release and a refusal with it (the secret scan reads both)
    for guest, kw, want in (("debug-release", {}, 0), ("debug-refused", {"policy": 2}, 7)):
        rc, o, e = env.sg("validate", *env.guest_args(guest, secret=sec, out=out, **kw), "--debug", *env.audit(log))
        check(rc == want and "Measured-data" in e,
              "policy %s: exit %d, want %d, with debug lines (%r)" % (guest, rc, want, e[-300:]))
    check(open_packet(env, out, "debug-release") == {M.LUKS_KEY_GUID: sdata}, "policy debug-release: released packet")
    # A trusted guest whose secret cannot be read: an error, not a mismatch, in the log.
    guest = "unreadable-secret"
    before = len(lines_of(log))
    rc, o, e = env.sg("validate", *env.guest_args(guest, secret=os.path.join(d, "missing.txt"), out=out),
                      *env.audit(log))
    new = records(log)[before:]
    check(rc == 6 and "missing.txt" in e and not os.path.exists(os.path.join(out, guest + ".h")),
          "policy: an unreadable secret: rc %d %r" % (rc, e))
    check(len(new) == 1 and new[0]["event"] == "verdict" and "missing.txt" in new[0].get("reason", ""),
          "policy: an unreadable secret: records %r" % [(r["event"], r["verdict"], r.get("reason")) for r in new])
    check(all(r["verdict"] != "mismatch" for r in new),
          "policy: a guest whose measurement matched is recorded as verdict 'mismatch' when its secret "
          "cannot be read: %r" % [(r["event"], r["verdict"], r.get("reason")) for r in new])
    # The secret packet cannot be written: the release-intent is there, no released record.
    guest = "unwritable-out"
    before = len(lines_of(log))
    rc, o, e = env.sg("validate", *env.guest_args(guest, secret=sec, out=os.path.join(d, "no", "such", "dir")),
                      *env.audit(log))
    new = [(r["event"], r["guest"]) for r in records(log)[before:]]
    check(rc == 6 and new == [("release-intent", guest)], "policy: an unwritable packet: rc %d %r %r" % (rc, new, e))
    # --json on a refusal: the message, exit 7, no files
    guest = "nodbg-json"
    rc, o, e = env.sg("validate", *env.guest_args(guest, policy=2, secret=sec, out=out), "--json", *env.audit(log))
    try:
        obj = json.loads(o)
    except ValueError:
        obj = {}
    check(rc == 7 and obj.get("exit") == 7 and "NODBG" in obj.get("message", "") and obj.get("secrets_released") in ([], None)
          and not os.path.exists(os.path.join(out, guest + ".h")), "policy: --json refusal %r %r" % (rc, obj))
    # a policy refusal inside a batch: the others still release; batch exit 7
    bd = os.path.join(d, "batch")
    env.manifest(os.path.join(bd, "a.yaml"), "batch-ok", secret=sec, out=out)
    env.manifest(os.path.join(bd, "b.yaml"), "batch-refused", secret=sec, out=out, release=["min-build: 200"])
    before = len(lines_of(log))
    rc, o, e = env.sg("batch", *env.audit(log), bd)
    new = [(r["event"], r["guest"]) for r in records(log)[before:]]
    check(rc == 7, "policy: batch with a refusal exits %d, want 7 (%r)" % (rc, e))
    check(sorted(new[:-1]) == sorted([("release-intent", "batch-ok"), ("released", "batch-ok"),
                                      ("refused", "batch-refused")]) and new[-1] == ("checkpoint", None),
          "policy: batch records %r" % new)
    check(os.path.exists(os.path.join(out, "batch-ok.h")) and not os.path.exists(os.path.join(out, "batch-refused.h")),
          "policy: batch secret files")
    lines = lines_of(log)
    py_verify(env.pub, lines, "policy")
    rc, o, e = env.verify(log)
    check(rc == 0, "policy: the log verifies: %s" % e.strip())
    no_secrets([("log", open(log, "rb").read())], [("secret", sdata), ("TIK", env.tik), ("TEK", env.tek)], "policy")


# ---------------------------------------------------------------------------
# crash

def crash_manifests(env, root, tag, n, sec):
    md = os.path.join(root, tag, "m")
    out = os.path.join(root, tag, "out")
    os.makedirs(md)
    os.makedirs(out)
    for i in range(n):
        g = "%s-g%03d" % (tag, i)
        env.manifest(os.path.join(md, "%s.yaml" % g), g, secret=sec, out=out)
    return md, out


def check_intents(log, out, tag, w):
    """Every secret-header on disk has a release-intent record before it; every released record its files."""
    recs = [json.loads(x) for x in lines_of(log)]
    intent = {r["guest"] for r in recs if r["event"] == "release-intent" and r["guest"].startswith(tag + "-")}
    released = {r["guest"] for r in recs if r["event"] == "released" and r["guest"].startswith(tag + "-")}
    on_disk = {f[:-2] for f in os.listdir(out) if f.endswith(".h")}
    payloads = {f[:-2] for f in os.listdir(out) if f.endswith(".p")}
    check(on_disk <= intent, "%s: secrets on disk without a release-intent record: %s"
          % (w, sorted(on_disk - intent)[:5]))
    check(payloads <= intent, "%s: payloads on disk without a release-intent record: %s"
          % (w, sorted(payloads - intent)[:5]))
    check(released <= on_disk, "%s: released records without the secret files: %s" % (w, sorted(released - on_disk)[:5]))
    # order: each released follows its release-intent
    pos = {}
    for i, r in enumerate(recs):
        if r["guest"] and r["guest"].startswith(tag + "-"):
            pos.setdefault((r["event"], r["guest"]), i)
    bad = [g for g in released if pos.get(("release-intent", g), 1 << 30) > pos[("released", g)]]
    check(not bad, "%s: released before release-intent: %s" % (w, bad[:5]))
    return len(on_disk), len(intent)


def test_crash(env, kills=22, n=600):
    d = os.path.join(env.tmp, "crash")
    os.makedirs(d)
    sec = secret_file(env, "crash.txt", ("crash-secret-%08x" % env.rng.getrandbits(32)).encode())
    log = os.path.join(d, "audit.jsonl")
    # A full run first: how long a batch takes, so the kills land inside it.
    md, out = crash_manifests(env, d, "full0", n, sec)
    t = time.monotonic()
    rc, o, e = env.sg("batch", "--jobs", "2", "-q", *env.audit(log), md, timeout=300)
    full = time.monotonic() - t
    check(rc == 0, "crash: the uninterrupted batch exit %d (%s)" % (rc, e.strip()[:300]))
    check(len(lines_of(log)) == 2 * n + 1, "crash: %d records, want %d" % (len(lines_of(log)), 2 * n + 1))
    check_intents(log, out, "full0", "crash full run")
    print("  crash: a %d-guest batch takes %.2f s" % (n, full), flush=True)
    est = max(full, 0.05)
    # Until the process is up nothing can be written: time-based kills land after that.
    t = time.monotonic()
    subprocess.run([env.sevgate, "--version"], capture_output=True)
    startup = time.monotonic() - t
    stats = []
    for it in range(kills):
        tag = "k%02d" % it
        md, out = crash_manifests(env, d, tag, n, sec)
        # same log most of the time; a fresh one now and then
        ilog = log if it % 5 != 4 else os.path.join(d, "audit-%s.jsonl" % tag)
        before = len(lines_of(ilog))
        size0 = os.path.getsize(ilog) if os.path.exists(ilog) else 0
        # what a killed batch printed stays in the work directory for the secret scan
        with open(os.path.join(d, tag + ".stdout"), "wb") as so, open(os.path.join(d, tag + ".stderr"), "wb") as se:
            p = subprocess.Popen([env.sevgate, "batch", "--jobs", "2", "-q", *env.audit(ilog), md],
                                 stdout=so, stderr=se)
        t = time.monotonic()
        if it % 2 == 0:
            # by progress: once the log has grown by a random amount
            target = size0 + env.rng.randrange(0, 2 * n * 1100)
            while p.poll() is None and (not os.path.exists(ilog) or os.path.getsize(ilog) < target):
                time.sleep(0.0005)
            time.sleep(env.rng.uniform(0, 0.003))
        else:
            # by time, within the fastest run seen, once the process has started
            time.sleep(env.rng.uniform(min(startup, est), est))
        delay = time.monotonic() - t
        finished = p.poll() is not None
        if not finished:
            os.kill(p.pid, signal.SIGKILL)
        else:
            est = min(est, delay)
        p.wait()
        w = "crash kill %d (after %.3f s)" % (it, delay)
        if not os.path.exists(ilog):
            # killed before it even created its fresh log: then nothing may have left
            left = sorted(os.listdir(out)) if os.path.isdir(out) else []
            check(left == [], "%s: no log, yet secret files %s" % (w, left[:4]))
            stats.append((p.returncode, 0, 0))
            continue
        lines, torn = parse_log(ilog)
        rc, o, e = env.verify(ilog)
        check(rc == 0 and o.startswith("ok: %d records" % len(lines)),
              "%s: audit verify rc %d %r (%d full lines, torn %d bytes)" % (w, rc, (o + e).strip(), len(lines), len(torn)))
        _, head, ok = py_verify(env.pub, lines, w)
        if torn:
            print("  %s: a torn last line of %d bytes" % (w, len(torn)), flush=True)
        files, intents = check_intents(ilog, out, tag, w)
        # a batch may finish between the poll and the kill: then it exits 0
        check(p.returncode in (0, -signal.SIGKILL), "%s: exit %r" % (w, p.returncode))
        stats.append((p.returncode, len(lines) - before, files))
        if not ok:
            break
    print("  crash: kills at %s records written; %d killed mid-run" %
          ([s[1] for s in stats], sum(1 for s in stats if 0 < s[1] < 2 * n + 1)), flush=True)
    check(sum(1 for s in stats if 0 < s[1] < 2 * n + 1) >= kills // 2,
          "crash: fewer than half of the kills landed mid-batch: %s" % [s[1] for s in stats])
    # A torn last line: verify tolerates it; the next writer cuts it and chains on.
    lines = lines_of(log)
    with open(log, "ab") as f:
        f.write(lines[-1][:300].encode())
    rc, o, e = env.verify(log)
    check(rc == 0 and o.startswith("ok: %d records" % len(lines)), "crash: a torn tail verifies: %r" % (o + e))
    md, out = crash_manifests(env, d, "final", 5, sec)
    rc, o, e = env.sg("batch", "--jobs", "2", *env.audit(log), md)
    mh = re.search(r"^audit: head ([0-9a-f]{64})$", o, re.M)
    check(rc == 0 and mh, "crash: a batch after the torn tail: rc %d %r" % (rc, e))
    lines, torn = parse_log(log)
    check(torn == b"", "crash: the writer cut the torn tail")
    recs, head, ok = py_verify(env.pub, lines, "crash final")
    rc, o, e = env.verify(log, expect=mh.group(1) if mh else ZERO)
    check(rc == 0 and mh and head == mh.group(1), "crash: the final log verifies with the batch's head: %r" % (o + e))
    check_intents(log, out, "final", "crash final")


# ---------------------------------------------------------------------------
# diskfull

def mount(*argv):
    return subprocess.run(["mount"] + list(argv), capture_output=True, text=True).returncode == 0


def umount(path):
    subprocess.run(["umount", "-l", path], capture_output=True)


def release_fails(env, log, guest, out, sec, w):
    """A validate with a secret must fail with one clear line, nonzero, nothing written."""
    size0 = os.path.getsize(log) if os.path.exists(log) else None
    rc, o, e = env.sg("validate", *env.guest_args(guest, secret=sec, out=out), *env.audit(log))
    el = e.strip().splitlines()
    check(rc != 0 and rc != 7, "%s: exit %d, want a failure (%r)" % (w, rc, e))
    check(len(el) == 1 and "audit log" in el[0] and o == "", "%s: want one line naming the audit log: %r %r" % (w, e, o))
    check(not os.path.exists(os.path.join(out, guest + ".h")) and not os.path.exists(os.path.join(out, guest + ".p")),
          "%s: secret files written" % w)
    print("  %s: exit %d: %s" % (w, rc, el[0] if el else ""), flush=True)
    if size0 is not None:
        check(os.path.getsize(log) == size0, "%s: the log changed size %d -> %d" % (w, size0, os.path.getsize(log)))
    return el[0] if el else ""


def fill(path):
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 256)
        except OSError:
            pass


def released_not_recorded(env, d, mnt, log, out, sec):
    """The disk fills between release-intent and released: the secret is out, the error says so."""
    guest = "full-3"
    dry = os.path.join(d, "dry.jsonl")
    # the sizes of the two records, from a dry run (same guest, same paths; the sig varies by 4)
    os.makedirs(os.path.join(d, "dryout"), exist_ok=True)
    rc, o, e = env.sg("validate", *env.guest_args(guest, secret=sec, out=os.path.join(d, "dryout")), *env.audit(dry))
    dl = lines_of(dry)
    if not check(rc == 0 and len(dl) >= 2, "diskfull: dry run %s" % e.strip()):
        return
    l1, l2 = len(dl[-2]) + 1, len(dl[-1]) + 1
    lo, hi = l1 + 8, l1 + l2 - 8
    for i in range(80):
        room = 4096 - os.path.getsize(log) % 4096
        if lo <= room <= hi:
            break
        name = "p%02d-%s" % (i, "x" * env.rng.randrange(1, 250))  # a name is at most 255 bytes
        rc, o, e = env.sg("validate", *env.guest_args(name), *env.audit(log))
        if not check(rc == 0, "diskfull: padding: %s" % e.strip()):
            return
    else:
        check(False, "diskfull: could not place the log's end (room %d, want %d..%d)" % (room, lo, hi))
        return
    fill(os.path.join(mnt, "filler3"))
    n0 = len(lines_of(log))
    rc, o, e = env.sg("validate", *env.guest_args(guest, secret=sec, out=out), *env.audit(log))
    el = e.strip().splitlines()
    print("  released-not-recorded: exit %d: %s" % (rc, el[0] if el else ""), flush=True)
    new = [(r["event"], r["guest"]) for r in records(log)[n0:]]
    check(new == [("release-intent", guest)], "released-not-recorded: records %r" % new)
    check(os.path.exists(os.path.join(out, guest + ".h")), "released-not-recorded: the secret was not written")
    check(rc != 0 and len(el) == 1 and "No space left" in el[0], "released-not-recorded: exit %d %r" % (rc, e))
    check("released but not recorded" in e, "released-not-recorded: the error does not say the secret was "
          "released: %r" % e)
    rc, o, e = env.verify(log)
    check(rc == 0, "released-not-recorded: the log verifies: %r" % (o + e))
    os.unlink(os.path.join(mnt, "filler3"))


def test_diskfull(env):
    d = os.path.join(env.tmp, "full")
    mnt = os.path.join(d, "mnt")
    out = os.path.join(d, "out")
    os.makedirs(mnt)
    os.makedirs(out)
    sec = secret_file(env, "full.txt", b"disk-full-secret-0123456789")
    if os.geteuid() != 0 or not mount("-t", "tmpfs", "-o", "size=256k,mode=0700", "sevgate-audit-test", mnt):
        skip("diskfull: cannot mount a tmpfs (not root or not permitted)")
        return
    try:
        log = os.path.join(mnt, "audit.jsonl")
        # Grow the log until the next ~1.2 KiB record cannot fit in its last page.
        i = 0
        while True:
            rc, o, e = env.sg("validate", *env.guest_args("pad-%03d" % i), *env.audit(log))
            if not check(rc == 0, "diskfull: padding record: %s" % e.strip()):
                return
            i += 1
            if 4096 - os.path.getsize(log) % 4096 < 900 or i > 40:
                break
        fill(os.path.join(mnt, "filler"))
        try:
            with open(os.path.join(mnt, "filler2"), "wb", buffering=0) as f:
                f.write(b"\0" * 4096)
            check(False, "diskfull: the tmpfs is not full")
        except OSError:
            pass
        msg = release_fails(env, log, "full-1", out, sec, "diskfull")
        check("No space left" in msg, "diskfull: the error names ENOSPC: %r" % msg)
        check("nothing released" in msg, "diskfull: the error does not say that nothing was released: %r" % msg)
        # docs/audit.md "Fail closed": a verdict (trusted or mismatch) or a refusal that cannot
        # be recorded is an error (6)
        rc, o, e = env.sg("validate", *env.guest_args("full-v"), *env.audit(log))
        check(rc == 6 and o == "" and len(e.strip().splitlines()) == 1 and "No space left" in e,
              "diskfull: an unrecorded trusted verdict: rc %d %r %r" % (rc, o, e))
        rc, o, e = env.sg("validate", *env.guest_args("full-m", good=False), *env.audit(log))
        check(rc == 6 and o == "" and len(e.strip().splitlines()) == 1 and "No space left" in e,
              "diskfull: an unrecorded mismatch is an error: rc %d %r" % (rc, e))
        rc, o, e = env.sg("validate", *env.guest_args("full-r", policy=2, secret=sec, out=out), *env.audit(log))
        check(rc == 6 and len(e.strip().splitlines()) == 1 and not os.path.exists(os.path.join(out, "full-r.h")),
              "diskfull: an unrecorded refusal: rc %d %r" % (rc, e))
        rc, o, e = env.verify(log)
        check(rc == 0 and o.startswith("ok: %d records" % i), "diskfull: the log verifies after the failure: %r" % (o + e))
        recs = records(log)
        check(all(r["guest"] != "full-1" for r in recs), "diskfull: a record for the failed release is in the log")
        # batch: the guest fails, nothing is released
        bd = os.path.join(d, "batch")
        env.manifest(os.path.join(bd, "g.yaml"), "full-batch", secret=sec, out=out)
        rc, o, e = env.sg("batch", *env.audit(log), bd)
        check(rc != 0 and not os.path.exists(os.path.join(out, "full-batch.h")),
              "diskfull: batch on a full log: rc %d, secret written %s" % (rc, os.path.exists(os.path.join(out, "full-batch.h"))))
        rc, o, e = env.verify(log)
        check(rc == 0, "diskfull: the log verifies after the batch: %r" % (o + e))
        # free space: releases work again and chain on
        os.unlink(os.path.join(mnt, "filler"))
        rc, o, e = env.sg("validate", *env.guest_args("full-2", secret=sec, out=out), *env.audit(log))
        check(rc == 0 and os.path.exists(os.path.join(out, "full-2.h")), "diskfull: release after freeing: %s" % e.strip())
        py_verify(env.pub, lines_of(log), "diskfull after")
        released_not_recorded(env, d, mnt, log, out, sec)
    finally:
        SCAN.tree(mnt)  # the log on the tmpfs goes with it
        umount(mnt)

    # An immutable log (chattr +i).
    ilog = os.path.join(d, "immutable.jsonl")
    rc, o, e = env.sg("validate", *env.guest_args("imm-0"), *env.audit(ilog))
    check(rc == 0, "immutable: first record: %s" % e.strip())
    if subprocess.run(["chattr", "+i", ilog], capture_output=True).returncode != 0:
        skip("immutable: chattr +i is not supported here")
    else:
        try:
            msg = release_fails(env, ilog, "imm-1", out, sec, "immutable")
            check("Operation not permitted" in msg or "Permission denied" in msg or "Read-only" in msg,
                  "immutable: the error names the cause: %r" % msg)
        finally:
            subprocess.run(["chattr", "-i", ilog], capture_output=True)
    # A read-only bind mount of the log's directory.
    src, ro = os.path.join(d, "rw"), os.path.join(d, "ro")
    os.makedirs(src)
    os.makedirs(ro)
    rc, o, e = env.sg("validate", *env.guest_args("ro-0"), *env.audit(os.path.join(src, "audit.jsonl")))
    if not (mount("--bind", src, ro) and (mount("-o", "remount,bind,ro", ro) or umount(ro))):
        skip("read-only bind mount not permitted")
        return
    try:
        msg = release_fails(env, os.path.join(ro, "audit.jsonl"), "ro-1", out, sec, "read-only")
        check("Read-only" in msg, "read-only: the error names the cause: %r" % msg)
        # a new log in a read-only directory
        release_fails(env, os.path.join(ro, "new.jsonl"), "ro-2", out, sec, "read-only new log")
    finally:
        umount(ro)


# ---------------------------------------------------------------------------
# faults: a batch's group flushes failing (LD_PRELOAD fault-shim)

def fault_batch(env, d, tag, n, sec, fault):
    md, out = crash_manifests(env, d, tag, n, sec)
    log, rep = os.path.join(d, tag + ".jsonl"), os.path.join(d, tag + "-report.jsonl")
    # the log exists already: creating one fsyncs it, and the faults are about releases
    os.close(os.open(log, os.O_CREAT | os.O_WRONLY, 0o600))
    e = dict(os.environ, LD_PRELOAD=asanpreload.preload(env.sevgate, env.fault_shim), **fault)
    p = subprocess.run([env.sevgate, "batch", "--jobs", "2", "--report", rep, *env.audit(log), md],
                       capture_output=True, text=True, env=e, timeout=300)
    SCAN.proc(p.args, p.stdout, p.stderr)
    guests = {}
    for line in open(rep) if os.path.exists(rep) else []:
        r = json.loads(line)
        if "guest" in r:
            guests[r["guest"]] = r
    recs = [json.loads(x) for x in lines_of(log)]
    files = {f[:-2] for f in os.listdir(out) if f.endswith(".h")}
    return p, guests, recs, files, log


def verdict_write_fails(env, d):
    """A mismatch whose verdict record fails (every fdatasync fails): exit 6, one error line, no record."""
    log = os.path.join(d, "vm.jsonl")
    os.close(os.open(log, os.O_CREAT | os.O_WRONLY, 0o600))
    e = dict(os.environ, LD_PRELOAD=asanpreload.preload(env.sevgate, env.fault_shim),
             SEVGATE_FAULT_FDATASYNC_AFTER="0")
    rc, o, err = env.sg("validate", *env.guest_args("fault-mm", good=False), *env.audit(log), env=e)
    lines = err.strip().splitlines()
    check(rc == 6 and o == "" and len(lines) == 1 and lines[0].startswith("error: fault-mm: ") and
          "cannot write audit log" in lines[0] and "Input/output error" in lines[0],
          "faults/verdict: an unrecorded mismatch: rc %d, stdout %r, stderr %r (want 6, one error line)"
          % (rc, o, err))
    check(os.path.getsize(log) == 0, "faults/verdict: the log is not empty after the failed write")
    # batch: the guest's report line is an error, and the batch exits 6
    bd = os.path.join(d, "vm-batch")
    env.manifest(os.path.join(bd, "mm.yaml"), "fault-bmm")
    m = open(os.path.join(bd, "mm.yaml")).read()
    write(os.path.join(bd, "mm.yaml"),
          re.sub(r"^measurement: .*$", "measurement: " + env.blob(3 ^ 0x10), m, flags=re.M))
    rep = os.path.join(d, "vm-report.jsonl")
    rc, o, err = env.sg("batch", "--report", rep, *env.audit(log), bd, env=e)
    guests = [json.loads(x) for x in open(rep)] if os.path.exists(rep) else []
    guests = [g for g in guests if "guest" in g]
    check(rc == 6 and len(guests) == 1 and guests[0]["exit"] == 6 and
          "cannot write audit log" in guests[0]["message"],
          "faults/verdict: batch with an unrecorded mismatch: rc %d, report %r, stderr %r"
          % (rc, guests, err[-300:]))
    check(os.path.getsize(log) == 0, "faults/verdict: the batch left records although every flush failed")
    # the checkpoint alone fails (the verdict's flush succeeds): the log does not end where the
    # batch did, so the batch exits 6 even though its one guest mismatched (exit 1)
    e1 = dict(e, SEVGATE_FAULT_FDATASYNC_AFTER="1")
    rc, o, err = env.sg("batch", "--report", rep, *env.audit(log), bd, env=e1)
    recs = [json.loads(x) for x in lines_of(log)]
    lines = err.strip().splitlines()
    check(rc == 6 and [r["event"] for r in recs] == ["verdict"] and lines and
          lines[-1] == "error: cannot write audit log '%s': Input/output error" % log,
          "faults/checkpoint: batch whose checkpoint fails: rc %d (want 6), events %r, stderr %r"
          % (rc, [r["event"] for r in recs], err[-300:]))


# ---------------------------------------------------------------------------
# bounds: hostile logs for `audit show` and `audit verify` (bounded reads, escaping)

def run_watched(argv, limit_mb=150, timeout=60):
    """Run @argv; kill it when its RSS passes @limit_mb. Returns rc, stdout, stderr, peak MiB, killed."""
    import threading
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak, killed = [0], [False]

    def watch():
        while p.poll() is None:
            try:
                for ln in open("/proc/%d/status" % p.pid):
                    if ln.startswith("VmRSS:"):
                        mb = int(ln.split()[1]) // 1024
                        peak[0] = max(peak[0], mb)
                        if mb > limit_mb:
                            killed[0] = True
                            p.kill()
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
    t = threading.Thread(target=watch)
    t.start()
    try:
        o, e = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        o, e = p.communicate()
        killed[0] = True
    t.join()
    SCAN.proc(argv, o.decode(errors="replace"), e.decode(errors="replace"))
    return p.returncode, o, e, peak[0], killed[0]


# What no line `audit show` prints may hold: C0 controls but none, DEL, C1 (as UTF-8), bidi overrides.
UNSAFE = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xa8-\xae]|\xe2\x81[\xa6-\xa9]")


def bounds_log(env, d, name, n=2):
    log = os.path.join(d, name)
    for i in range(n):
        rc, o, e = env.sg("validate", *env.guest_args("b-%s-%d" % (name, i)), *env.audit(log))
        check(rc == 0, "bounds: making %s: rc %d %r" % (name, rc, e))
    return log


def test_bounds_show(env, d):
    log = bounds_log(env, d, "show.jsonl")
    good = lines_of(log)
    forged = []
    for seq in ('"\\u001b]0;owned\\u0007\\u001b[2J"', '["\\u009b31m", "\\u202e"]', '{"a": "\\u001b[1m"}',
                '1.5e300', 'true', 'null'):
        forged.append(re.sub(r'^\{"seq":[0-9]+,', lambda m, s=seq: '{"seq":%s,' % s, good[0]))
    r = json.loads(good[1], object_pairs_hook=OrderedDict)
    r["time"] = 17
    r["event"] = ["\u001b[31mverdict"]
    r["guest"] = {"x": "\u009b2J"}
    r["verdict"] = "\u202etrusted"
    r["secrets"] = [{"guid": "\u001bP", "length": "\u001b[5m"}, {"guid": 7, "length": [1]}]
    r["reason"] = "a\rb\u0085c\u2028d"
    forged.append(json.dumps(r, separators=(",", ":"), ensure_ascii=False))
    # the one escaper (sg_str_escape): ALM, ZWSP, BOM as \u{HEX}, a backslash doubled
    r = json.loads(good[0], object_pairs_hook=OrderedDict)
    r["guest"] = "a\u061cb\\x1b\u200bc\ufeff"
    forged.append(json.dumps(r, separators=(",", ":"), ensure_ascii=False))
    p = write(os.path.join(d, "forged.jsonl"), ("\n".join(forged) + "\n").encode())
    rc, o, e, _, _ = run_watched([env.sevgate, "audit", "show", p])
    out = o.splitlines()
    check(rc == 0 and len(out) == len(forged), "bounds/show: forged log: rc %d, %d lines %r %r" %
          (rc, len(out), o[:300], e[:300]))
    bad = [ln for ln in out if UNSAFE.search(ln)]
    check(not bad, "bounds/show: control bytes reach the terminal: %r" % bad[:3])
    check(out and out[0].startswith(b"\\x1b]0;owned\\x07\\x1b[2J "),
          "bounds/show: a string seq is not shown escaped: %r" % out[:1])
    check(len(out) > 5 and out[5].startswith(b"-      "),
          "bounds/show: a null seq is not shown as '-': %r" % out[5:6])
    want = b" a\\u{61c}b\\\\x1b\\u{200b}c\\u{feff} "
    check(len(out) == len(forged) and want in out[-1],
          "bounds/show: not escaped as sg_str_escape does: %r (want %r)" % (out[-1:], want))
    # a 200 MiB line (a sparse file, no newline): bounded memory, skipped with one warning
    big = os.path.join(d, "big.jsonl")
    with open(big, "wb") as f:
        f.write(b"\n".join(good[i].encode() for i in range(2)) + b"\n")
        f.truncate(f.tell() + 200 * 1024 * 1024)
    rc, o, e, peak, killed = run_watched([env.sevgate, "audit", "show", big])
    el = e.decode(errors="replace").strip().splitlines()
    check(not killed and peak < 150, "bounds/show: a 200 MiB line: peak RSS %d MiB (killed: %s)" % (peak, killed))
    check(rc == 0 and len(o.splitlines()) == 2 and len(el) == 1 and
          el[0] == "warning: %s:3: longer than 65536 bytes: skipped" % big,
          "bounds/show: a 200 MiB line: rc %d, stdout %r, stderr %r" % (rc, o[-200:], el[:3]))
    # /dev/zero (no newline, no end): a file that is not regular cannot be read past a long
    # line, so the first one ends show with one error (6), in bounded time and memory
    rc, o, e, peak, killed = run_watched([env.sevgate, "audit", "show", "/dev/zero"], timeout=20)
    check(not killed and peak < 150, "bounds/show-dev-zero: peak RSS %d MiB (killed: %s)" % (peak, killed))
    check(o == b"", "bounds/show-dev-zero: stdout %r" % o[:100])
    one_line(rc, e.decode(errors="replace"), 6, "/dev/zero:1: longer than 65536 bytes", "show-dev-zero")


def one_line(rc, e, want_rc, part, what):
    el = e.strip().splitlines()
    ok = rc == want_rc and len(el) == 1 and el[0].startswith("error: ") and part in el[0]
    check(ok, "bounds/%s: rc %d (want %d), stderr %r (want one error line with %r)" % (what, rc, want_rc, el[:3], part))


def test_bounds_verify(env, d):
    # a directory is not a log: an unreadable log (6)
    rc, o, e = env.verify(d)
    check(o == "", "bounds/dir: stdout %r" % o)
    one_line(rc, e, 6, "cannot read '%s': Is a directory" % d, "dir")
    # unsigned bytes after a NUL inside the last record's sig: the line does not verify
    log = bounds_log(env, d, "nul.jsonl")
    data = open(log, "rb").read()
    assert data.endswith(b'"}\n')
    write(log, data[:-3] + b'\0unsigned"}\n', 0o600)
    rc, o, e = env.verify(log)
    one_line(rc, e, 1, "line 2", "nul")
    # --expect-head: 64 characters that are not hex digits are a usage error
    log = bounds_log(env, d, "head.jsonl", 1)
    rc, o, e = env.verify(log, expect="z" * 64)
    one_line(rc, e, 2, "--expect-head", "expect-head")
    # a file without a newline: bounded memory, one line, a bad log (1)
    rc, o, e, peak, killed = run_watched([env.sevgate, "audit", "verify", "/dev/zero", "--pubkey", env.pubkey],
                                         timeout=60)
    check(not killed and peak < 150, "bounds/dev-zero: peak RSS %d MiB (killed: %s)" % (peak, killed))
    one_line(rc, e.decode(errors="replace"), 1, "line 1: longer than 65536 bytes", "dev-zero")
    # a torn tail longer than any record: the writer refuses, the file stays as it is, every
    # time; verify names the line
    log = bounds_log(env, d, "torn.jsonl")
    with open(log, "ab") as f:
        f.write(b"x" * 70000)
    before = open(log, "rb").read()
    for i in range(2):
        rc, o, e = env.sg("validate", *env.guest_args("b-torn-%d" % i), *env.audit(log))
        one_line(rc, e, 6, "70000 bytes after its last newline", "torn-%d" % i)
        check(open(log, "rb").read() == before, "bounds/torn-%d: the log was changed" % i)
    rc, o, e = env.verify(log)
    one_line(rc, e, 1, "line 3: longer than 65536 bytes", "torn-verify")
    # a torn tail of 60,000 bytes is a torn record: cut exactly, the log goes on
    log = bounds_log(env, d, "torn-short.jsonl")
    good = open(log, "rb").read()
    with open(log, "ab") as f:
        f.write(b"y" * 60000)
    rc, o, e = env.sg("validate", *env.guest_args("b-torn-short"), *env.audit(log))
    check(rc == 0, "bounds/torn-short: rc %d %r" % (rc, e))
    check(open(log, "rb").read().startswith(good + b'{"seq":3,'), "bounds/torn-short: not cut to the last newline")
    rc, o, e = env.verify(log)
    check(rc == 0 and o.startswith("ok: 3 records"), "bounds/torn-short: verify %r" % (o + e))


def test_bounds_curve(env, d):
    """A P-384 audit key (private or public) is refused where it is loaded: exit 2, naming the curve."""
    key = os.path.join(d, "p384.pem")
    pub = os.path.join(d, "p384.pub.pem")
    p = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384",
                        "-out", key], capture_output=True, text=True)
    p2 = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], capture_output=True, text=True)
    if not check(p.returncode == 0 and p2.returncode == 0, "bounds/p384: openssl %r" % (p.stderr + p2.stderr)):
        return
    log = os.path.join(d, "p384.jsonl")
    rc, o, e = env.sg("validate", *env.guest_args("b-p384"), *env.audit(log, key=key))
    one_line(rc, e, 2, "secp384r1", "p384-key")
    check(not os.path.exists(log), "bounds/p384-key: a log was created")
    good = bounds_log(env, d, "p384-verify.jsonl", 1)
    rc, o, e = env.verify(good, pub=pub)
    one_line(rc, e, 2, "secp384r1", "p384-pubkey")


def test_bounds(env):
    d = os.path.join(env.tmp, "bounds")
    os.makedirs(d)
    test_bounds_show(env, d)
    test_bounds_verify(env, d)
    test_bounds_curve(env, d)


def test_faults(env, shim):
    if not shim:
        print("  faults: no --fault-shim given: not run", flush=True)
        return
    env.fault_shim = shim
    d = os.path.join(env.tmp, "faults")
    os.makedirs(d)
    sec = secret_file(env, "faults.txt", b"fault-secret-%08x" % env.rng.getrandbits(32))
    n = 40
    # 1. the packet files' flushes fail (syncfs for a group, fsync for a group of one):
    # no guest's release is recorded as done
    p, guests, recs, files, log = fault_batch(env, d, "fs", n, sec, {"SEVGATE_FAULT_FILE_SYNC": "1"})
    ev = lambda e: {r["guest"] for r in recs if r["event"] == e}  # noqa: E731
    check(p.returncode == 6 and len(guests) == n, "faults/file-sync: batch rc %d, %d guests reported %r" %
          (p.returncode, len(guests), p.stderr[-300:]))
    bad = [g for g, r in guests.items() if not (r["exit"] == 6 and "Input/output error" in r["message"])]
    check(not bad, "faults/file-sync: guests not failed with the sync error: %s" %
          [(g, guests[g]["message"]) for g in bad[:3]])
    check(len(ev("release-intent")) == n and not ev("released"),
          "faults/file-sync: %d intents, %d released records (want %d, 0)" %
          (len(ev("release-intent")), len(ev("released")), n))
    check(env.verify(log)[0] == 0, "faults/file-sync: the log does not verify")
    # 2. the log's flushes fail after the first: the first group's secrets are out but not
    # recorded as released; every later group releases nothing
    p, guests, recs, files, log = fault_batch(env, d, "fd", n, sec, {"SEVGATE_FAULT_FDATASYNC_AFTER": "1"})
    out_not_rec = {g for g, r in guests.items() if r["exit"] == 6 and "released but not recorded" in r["message"]}
    nothing = {g for g, r in guests.items() if r["exit"] == 6 and r["message"].endswith("nothing released")}
    check(p.returncode == 6 and len(guests) == n and out_not_rec and out_not_rec | nothing == set(guests),
          "faults/fdatasync: rc %d; %d released-not-recorded, %d nothing-released of %d: %r" %
          (p.returncode, len(out_not_rec), len(nothing), len(guests),
           sorted({r["message"] for r in guests.values()})[:3]))
    check(files == out_not_rec, "faults/fdatasync: secret files %s, want exactly the first group's %s" %
          (sorted(files - out_not_rec)[:3], sorted(out_not_rec - files)[:3]))
    check(ev("release-intent") == out_not_rec and not ev("released"),
          "faults/fdatasync: intents for %d guests, %d released records" %
          (len(ev("release-intent")), len(ev("released"))))
    check(env.verify(log)[0] == 0, "faults/fdatasync: the log does not verify")
    # 3. a mismatch's verdict record cannot be written: never silent, the guest is an error
    verdict_write_fails(env, d)
    print("  faults: the first group (%d of %d guests) released but not recorded, the rest held back"
          % (len(out_not_rec), n), flush=True)


# ---------------------------------------------------------------------------
# syslog: every record, as its exact line, to authpriv.info; nothing without a socket

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "syslog_probe.py")
SYSLOG_LINE = re.compile(r"^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d sevgate\[(\d+)\]: (.*)$", re.S)


def probe(env, d, tag, argv, socket_=True):
    """Run sevgate @argv with its own /dev/log (a private mount namespace): the probe's result."""
    res = os.path.join(d, tag + ".json")
    cmd = ["unshare", "--mount", "--propagation", "private", sys.executable, PROBE, res, d]
    cmd += ([] if socket_ else ["--no-socket"]) + ["--", env.sevgate, *argv]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0 or not os.path.exists(res):
        return None, p.stderr.strip()[-300:]
    r = json.load(open(res))
    SCAN.proc([env.sevgate, *argv], r["stdout"], r["stderr"])
    for i, m in enumerate(r["messages"]):
        SCAN.text("%s: syslog message %d" % (tag, i), m)
    return r, None


def test_syslog(env):
    if shutil.which("unshare") is None:
        skip("syslog: no unshare(1) (util-linux)")
        return
    d = os.path.join(env.tmp, "syslog")
    md, out = os.path.join(d, "m"), os.path.join(d, "out")
    for x in (md, out):
        os.makedirs(x)
    sec = secret_file(env, "syslog.txt", b"syslog-secret-%08x" % env.rng.getrandbits(32))
    for i in range(6):  # half release a secret, half only get a verdict
        env.manifest(os.path.join(md, "sl-%d.yaml" % i), "sl-%d" % i, secret=sec if i % 2 == 0 else None,
                     out=out)
    log = os.path.join(d, "audit.jsonl")
    r, why = probe(env, d, "batch", ["batch", "--jobs", "2", *env.audit(log), md])
    if r is None:
        skip("syslog: cannot make a private /dev/log (%s)" % why)
        return
    lines = lines_of(log)
    check(r["rc"] == 0 and len(lines) == 3 * 2 + 3 + 1, "syslog: batch rc %d, %d records %r" %
          (r["rc"], len(lines), r["stderr"][-300:]))
    got, pids = [], set()
    for m in r["messages"]:
        mm = SYSLOG_LINE.match(m)
        if check(mm, "syslog: not a syslog(3) message: %r" % m[:200]):
            check(int(mm.group(1)) == (10 << 3) | 6, "syslog: priority <%s>, want authpriv.info <86>" % mm.group(1))
            pids.add(mm.group(2))
            got.append(mm.group(3))
    check(got == lines, "syslog: %d messages for %d records, or other lines or order: %r" %
          (len(got), len(lines), [x[:60] for x in got[:3]]))
    check(len(pids) == 1, "syslog: messages from %d processes" % len(pids))
    # validate appends to the same log: its two records follow, and reach syslog too
    r, why = probe(env, d, "validate", ["validate", *env.guest_args("sl-v", secret=sec, out=out), *env.audit(log)])
    lines2 = lines_of(log)
    if check(r is not None, "syslog: validate probe failed: %s" % why):
        msgs = [SYSLOG_LINE.match(m) for m in r["messages"]]
        check(r["rc"] == 0 and [m and m.group(3) for m in msgs] == lines2[len(lines):] and len(msgs) == 2,
              "syslog: validate sent %d messages for its %d records" % (len(msgs), len(lines2) - len(lines)))
    # no syslog socket: the log is written all the same, and nothing is tried
    log3 = os.path.join(d, "nosock.jsonl")
    r, why = probe(env, d, "nosock", ["validate", *env.guest_args("sl-n", secret=sec, out=out), *env.audit(log3)],
                   socket_=False)
    if check(r is not None, "syslog: no-socket probe failed: %s" % why):
        check(r["rc"] == 0 and len(lines_of(log3)) == 2 and r["messages"] == [],
              "syslog: without /dev/log: rc %d, %d records" % (r["rc"], len(lines_of(log3))))
    rc, o, e = env.verify(log)
    check(rc == 0, "syslog: the log verifies: %r" % (o + e))


# ---------------------------------------------------------------------------
# token: a SoftHSM2 EC audit key (pkcs11: URI), token TIK/TEK with a PIN in the URI

def test_token(env, script):
    from cryptography.hazmat.primitives import serialization

    d = os.path.join(env.tmp, "token")
    os.makedirs(d)
    pin = "%016d" % env.rng.randrange(10 ** 16)  # 8 digits could turn up in 15 MB of hex by chance
    SCAN.register("token PIN", pin, os.path.join(d, "hsm"))
    p = subprocess.run(["bash", script, os.path.join(d, "hsm"), "audtok", pin], capture_output=True, text=True)
    if p.returncode != 0:
        skip("token: no SoftHSM2 token (%s)" % p.stderr.strip()[:200])
        return
    lines = p.stdout.strip().splitlines()
    tenv = dict(os.environ, SOFTHSM2_CONF=lines[0].split("=", 1)[1])
    tok = lines[1]
    pubout = os.path.join(d, "audit-token.pub.pem")
    rc, o, e = env.sg("keys", "generate-audit-key", "--token", tok, "--label", "audit", "--pubout", pubout, env=tenv)
    m = re.search(r"^audit-key: (pkcs11:\S+)$", o, re.M)
    if not check(rc == 0 and m and os.path.exists(pubout), "token: generate-audit-key: rc %d %r %r" % (rc, o, e)):
        return
    akey = m.group(1)
    rc, o, e = env.sg("keys", "import", "--tik", os.path.join(env.keys, "tik.bin"), "--tek",
                      os.path.join(env.keys, "tek.bin"), "--token", tok, "--label", "g", env=tenv)
    km = dict(re.findall(r"^(tik|tek): (pkcs11:\S+)$", o, re.M))
    if not check(rc == 0 and "tik" in km and "tek" in km, "token: keys import: rc %d %r %r" % (rc, o, e)):
        return
    # the PIN in the URI itself (pin-value), not a file; a manifest names its module by
    # module-name= of sevgate.conf (a module-path= there is refused: issue 11)
    mp = re.search(r"module-path=([^;?&]+)", km["tik"])
    conf = write(os.path.join(d, "sevgate.conf"), "pkcs11-modules:\n  - {name: audit-softhsm, path: '%s'}\n"
                 % urllib.parse.unquote(mp.group(1) if mp else ""))
    tik = re.sub(r"module-path=[^;?&]+", "module-name=audit-softhsm",
                 km["tik"].split("&pin-source=")[0]) + "&pin-value=" + pin
    tek = re.sub(r"module-path=[^;?&]+", "module-name=audit-softhsm",
                 km["tek"].split("&pin-source=")[0]) + "&pin-value=" + pin
    sdata = ("token-secret-%010x" % env.rng.getrandbits(40)).encode()
    sec = secret_file(env, "token.txt", sdata)
    out = os.path.join(d, "out")
    os.makedirs(out)
    log = os.path.join(d, "audit.jsonl")

    def tmanifest(path, guest, secret):
        """A manifest with the token keys, pin-value in their URIs: allowed in a 0600 file only."""
        env.manifest(path, guest, secret=secret, out=out)
        text = open(path).read()
        text = text.replace("tik: %s/tik.bin" % env.keys, "tik: '%s'" % tik).replace(
            "tek: %s/tek.bin" % env.keys, "tek: '%s'" % tek)
        write(path, text, 0o600)
        return path

    mf = tmanifest(os.path.join(d, "tok-1.yaml"), "tok-1", sec)
    rc, o1, e1 = env.sg("validate", "--manifest", mf, "--config", conf, *env.audit(log, akey), env=tenv)
    check(rc == 0 and open_packet(env, out, "tok-1") == {M.LUKS_KEY_GUID: sdata},
          "token: release with token keys and a token audit key: rc %d %s" % (rc, e1.strip()))
    bd = os.path.join(d, "batch")
    for i in range(6):
        tmanifest(os.path.join(bd, "b%d.yaml" % i), "tok-b%d" % i, sec if i % 2 else None)
    rc, o2, e2 = env.sg("batch", "--jobs", "3", "--config", conf, *env.audit(log, akey), bd, env=tenv)
    mh = re.search(r"^audit: head ([0-9a-f]{64})$", o2, re.M)
    check(rc == 0 and mh, "token: batch with a token audit key: rc %d %s" % (rc, e2.strip()))
    pub = serialization.load_pem_public_key(open(pubout, "rb").read())
    lines = lines_of(log)
    recs, head, ok = py_verify(pub, lines, "token")
    check(len(recs) == 2 + 3 + 2 * 3 + 1, "token: %d records, want 12" % len(recs))
    rc, o, e = env.verify(log, expect=mh.group(1) if mh else ZERO, pub=pubout)
    check(rc == 0, "token: audit verify with the token's public key: %r" % (o + e))
    rc, o, e = env.verify(log)
    check(rc == 1, "token: the log does not verify with another key: %r" % (o + e))
    for r in recs[:-1]:
        check(len(r["keys"]) == 2 and all(k.startswith("pkcs11:") and "object=g-t" in k for k in r["keys"]),
              "token: record %d keys %r" % (r["seq"], r["keys"]))
    # --debug prints the most (PKCS#11 sessions, keys, the packet): on a log of its own
    mf = tmanifest(os.path.join(d, "tok-debug.yaml"), "tok-debug", sec)
    rc, o3, e3 = env.sg("validate", "--manifest", mf, "--debug", "--config", conf, *env.audit(os.path.join(d, "debug.jsonl"), akey),
                        env=tenv)
    check(rc == 0 and "PKCS#11" in e3 and open_packet(env, out, "tok-debug") == {M.LUKS_KEY_GUID: sdata},
          "token: --debug release: rc %d %s" % (rc, e3.strip()[-300:]))
    text = open(log).read() + o1 + e1 + o2 + e2 + o3 + e3
    check(pin not in text and "pin-value" not in text, "token: the PIN is in the log or the output")
    # A token audit key on another curve is refused when the log is opened, as a PEM one
    # is: exit 2 naming the curve, before any record (or the log file) exists.
    p384 = os.path.join(d, "p384.pem")
    pk8 = os.path.join(d, "p384.pk8")
    ok = all(subprocess.run(argv, capture_output=True, env=tenv).returncode == 0 for argv in (
        ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", p384],
        ["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", p384, "-out", pk8],
        ["softhsm2-util", "--import", pk8, "--token", "audtok", "--label", "audit-p384",
         "--id", "0384", "--pin", pin]))
    if check(ok and "object=audit" in akey, "token: importing a P-384 key into the token"):
        p384_uri = akey.replace("object=audit", "object=audit-p384")
        plog = os.path.join(d, "p384.jsonl")
        rc, o, e = env.sg("validate", "--manifest", tmanifest(os.path.join(d, "tok-p384.yaml"),
                                                              "tok-p384", None),
                          *env.audit(plog, p384_uri), env=tenv)
        one_line(rc, e, 2, "secp384r1", "token-p384")
        check(not os.path.exists(plog), "token: a log was created for a P-384 token key")
    no_secrets([("log", text)], [("secret", sdata), ("TIK", env.tik), ("TEK", env.tek)], "token")


# ---------------------------------------------------------------------------
# concurrent

def test_concurrent(env, n=40):
    d = os.path.join(env.tmp, "conc")
    os.makedirs(d)
    sec = secret_file(env, "conc.txt", b"concurrent-secret-abcdefgh")
    log = os.path.join(d, "audit.jsonl")
    procs = []
    for tag in ("ca", "cb"):
        md, out = crash_manifests(env, d, tag, n, sec)
        # half of each batch without a secret: a verdict record
        for i in range(0, n, 2):
            g = "%s-g%03d" % (tag, i)
            env.manifest(os.path.join(md, g + ".yaml"), g)
        procs.append((tag, out, subprocess.Popen([env.sevgate, "batch", "--jobs", "3", *env.audit(log), md],
                                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    vprocs = [subprocess.Popen([env.sevgate, "validate", *env.guest_args("cv-%d" % i), *env.audit(log)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(6)]
    heads = []
    for tag, out, p in procs:
        o, e = p.communicate(timeout=300)
        SCAN.proc(p.args, o, e)
        m = re.search(r"^audit: head ([0-9a-f]{64})$", o, re.M)
        check(p.returncode == 0 and m, "concurrent %s: batch rc %d %r" % (tag, p.returncode, e[-300:]))
        heads.append(m.group(1) if m else None)
    for p in vprocs:
        o, e = p.communicate(timeout=120)
        SCAN.proc(p.args, o, e)
        check(p.returncode == 0, "concurrent validate rc %d %r" % (p.returncode, e))
    lines, torn = parse_log(log)
    check(torn == b"", "concurrent: a torn tail")
    recs, head, ok = py_verify(env.pub, lines, "concurrent")
    check([r["seq"] for r in recs] == list(range(1, len(recs) + 1)), "concurrent: seqs not contiguous")
    want = 2 * (n // 2 * 2 + n // 2 + 1) + 6
    check(len(recs) == want, "concurrent: %d records, want %d" % (len(recs), want))
    hashes = {sha256hex(x.encode()): json.loads(x) for x in lines}
    for h in heads:
        check(h in hashes and hashes[h]["event"] == "checkpoint", "concurrent: a batch's head %s is not a checkpoint" % h)
    rc, o, e = env.verify(log, expect=head)
    check(rc == 0, "concurrent: audit verify: %r" % (o + e))
    tags = [r["guest"][:2] for r in recs if r["guest"] and r["guest"][:3] in ("ca-", "cb-")]
    print("  concurrent: the two batches' records alternate %d times in the log"
          % sum(1 for a, b in zip(tags, tags[1:]) if a != b), flush=True)
    for tag, out, _ in procs:
        check_intents(log, out, tag, "concurrent " + tag)
        g = {r["guest"] for r in recs if r["guest"] and r["guest"].startswith(tag + "-")}
        check(len(g) == n, "concurrent %s: %d guests recorded, want %d" % (tag, len(g), n))


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sevgate", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--kills", type=int, default=22, help="crash: SIGKILLs")
    ap.add_argument("--crash-guests", type=int, default=600, help="crash: guests per batch")
    ap.add_argument("--hsm-script", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "hsm", "softhsm-token.sh"))
    ap.add_argument("--fault-shim", help="tests/audit/fault-shim.so: the flush-failure part")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--only", action="append", help="run only these parts")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = int(os.environ.get("SEVGATE_TEST_SEED", random.randrange(1 << 30)))
    if M.CRYPTO_ERROR:
        harness.skip_exit("python3 'cryptography' is missing")
    if shutil.which("openssl") is None:
        harness.skip_exit("the openssl tool is missing")
    harness.require_fixtures(args.fixtures, "fw_synth.bin")
    os.environ.pop("SEVGATE_CONFIG", None)
    T.scan_selfcheck()
    env = Env(args)
    print("seed %d, work directory %s" % (env.seed, env.tmp), flush=True)
    state = {}
    parts = [("format", lambda: state.__setitem__("log", test_format(env))),
             ("tamper", lambda: test_tamper(env, state["log"]) if state.get("log") else
              check(False, "tamper: no log from format")),
             ("policy", lambda: test_policy(env)),
             ("crash", lambda: test_crash(env, kills=args.kills, n=args.crash_guests)),
             ("diskfull", lambda: test_diskfull(env)),
             ("concurrent", lambda: test_concurrent(env)),
             ("syslog", lambda: test_syslog(env)),
             ("faults", lambda: test_faults(env, args.fault_shim)),
             ("bounds", lambda: test_bounds(env)),
             ("token", lambda: test_token(env, args.hsm_script))]
    try:
        T.run_parts(parts, width=11, selected=lambda name: not args.only or name in args.only or (
            name == "format" and "tamper" in args.only))
        # every log, report, packet and captured output the parts left (inputs excluded)
        T.scan_tree(env.tmp)
    finally:
        T.cleanup(env.tmp, env.keep)
    T.summary()
    sys.exit(T.status())


if __name__ == "__main__":
    main()
