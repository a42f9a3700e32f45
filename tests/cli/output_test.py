#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Where sevgate writes, and what it reports about what it wrote (issue 11).

usage: output_test.py --sevgate BIN --ours BIN --fixtures DIR [--hsm-script FILE]

Parts (each reports its own failures):
  stdout     a write error on standard output (/dev/full) is exit 6 with one line, in both
             programs and every command that prints (defect 4)
  symlink    no output follows a symbolic link: vmsa build, batch --report, the secret
             packet, the audit log, keys generate-audit-key --pubout (with SoftHSM2) are
             exit 6 naming the path, the link's target unchanged (defect 6)
  json       an errored validate --json has "sha256": null for inputs it never hashed, the
             real hex for the ones it did (defect 11)
  collide    a packet output that is the audit log, its key, the configuration or a
             manifest, or a header and payload at one path, is exit 2 (FILE:LINE:COL in a
             manifest) and the audit log stays byte-identical (defect 13)
  empty      a 0-byte secret file is exit 2 naming it, nothing written (defect 19)
  shared     two guests of one batch naming one packet file: the later one is exit 2
  dash       batch --report - and keys generate-audit-key --pubout - write to standard
             output (defect 6)

Python 3 standard library; the openssl tool for an audit key (the parts that need one are
skipped without it). Exit 0 all passed, 1 a failure.
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import harness  # noqa: E402

T = harness.Suite()
SCAN = T.scan
check = T.check
TIK = bytes(range(16))
TEK = bytes(range(16, 32))
TV1 = "Jtkm6DPHOLtKnVthiMCUs4dyWKB2Kb5yGoM6nUd3nvqgoaKjpKWmp6ipqqusra6v"
SECRET = b"correct horse battery staple"
SCAN.register("TIK", TIK)
SCAN.register("TEK", TEK)
SCAN.register("secret", SECRET)
FULL = "writing standard output: No space left on device"


def run(argv, stdout=subprocess.PIPE, env=None, cwd=None):
    p = subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120,
                       env=env, cwd=cwd)
    SCAN.proc(argv, p.stdout or "", p.stderr)
    return p


write = T.write  # an input: left out of the secret scan


def read(path):
    with open(path, "rb") as f:
        return f.read()


def lines(text):
    return [x for x in text.splitlines() if x]


class Env:
    def __init__(self, a):
        self.sevgate = os.path.abspath(a.sevgate)
        self.ours = os.path.abspath(a.ours)
        self.fx = os.path.abspath(a.fixtures)
        self.fw = os.path.join(self.fx, "fw_synth.bin")
        self.kernel = os.path.join(self.fx, "kernel.bin")
        self.hsm = a.hsm_script
        self.tmp = tempfile.mkdtemp(prefix="sevgate-output-")
        self.tik = write(os.path.join(self.tmp, "tik.bin"), TIK, 0o600)
        self.tek = write(os.path.join(self.tmp, "tek.bin"), TEK, 0o600)
        self.secret = write(os.path.join(self.tmp, "s.txt"), SECRET, 0o600)
        self.akey = os.path.join(self.tmp, "audit-key.pem")
        if shutil.which("openssl") and subprocess.run(
                ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", self.akey], capture_output=True).returncode == 0:
            os.chmod(self.akey, 0o600)
            SCAN.inputs(self.akey)
        else:
            self.akey = None

    def sg(self, *argv, **kw):
        return run([self.sevgate] + list(argv), **kw)

    def platform(self):
        return ["-m", TV1, "--api-major", "0", "--api-minor", "24", "--build-id", "15",
                "--policy", "3", "-f", self.fw, "--tik", self.tik, "--tek", self.tek]

    def validate(self, guest="g1"):
        return ["validate", "--guest", guest] + self.platform()

    def manifest(self, path, extra):
        body = ["version: 1", "guest: m1", "measurement: %s" % TV1, "api-major: 0",
                "api-minor: 24", "build-id: 15", "policy: 3", "firmware: %s" % self.fw,
                "tik: %s" % self.tik, "tek: %s" % self.tek,
                "secrets:", "  - {guid: luks-key, file: %s}" % self.secret] + extra
        return write(path, "\n".join(body) + "\n")


# ---------------------------------------------------------------------------

def test_stdout(env):
    d = os.path.join(env.tmp, "stdout")
    os.makedirs(d)
    vmsa = os.path.join(d, "vmsa0.bin")
    p = env.sg("vmsa", "build", "--cpu-sig", "0xa00f11", vmsa)
    check(p.returncode == 0, "stdout: vmsa build for the fixture: %r" % p.stderr)
    cases = [
        ("digest", ["digest", "--firmware", env.fw, "--sev"]),
        ("ovmf show", ["ovmf", "show", env.fw]),
        ("vmsa show", ["vmsa", "show", vmsa]),
        ("validate", env.validate()),
        ("validate --json", env.validate() + ["--json"]),
        ("validate --json (an error)", env.validate() + ["--json", "--kernel", "/nonexistent"]),
        ("--help", ["--help"]),
    ]
    if env.akey:
        log = os.path.join(d, "audit.log")
        p = env.sg(*env.validate(), "--audit-log", log, "--audit-key", env.akey)
        check(p.returncode == 0, "stdout: a log for audit show: %r" % p.stderr)
        cases.append(("audit show", ["audit", "show", log]))
    with open("/dev/full", "w") as full:
        for name, argv in cases:
            p = env.sg(*argv, stdout=full)
            want_rc = 6
            check(p.returncode == want_rc and lines(p.stderr)[-1:] == ["error: " + FULL]
                  and len([x for x in lines(p.stderr) if FULL in x]) == 1,
                  "stdout: sevgate %s >/dev/full: rc %d (want 6), stderr %r"
                  % (name, p.returncode, p.stderr))
        # The error case already says what failed: one line for it, one for stdout, exit 6.
        p = run([env.ours] + env.platform(), stdout=full)
        check(p.returncode == 6 and lines(p.stderr) == ["ERROR: " + FULL],
              "stdout: virt-qemu-sev-validate >/dev/full: rc %d (want 6), stderr %r"
              % (p.returncode, p.stderr))
        # A command that printed on stdout and then failed with its own error line: that
        # line is the one line (stdout's failure adds none), the exit code is the command's.
        # (audit show of a pipe: a line over 64 KiB cannot be skipped there)
        p = subprocess.run([env.sevgate, "audit", "show", "/dev/stdin"],
                           input='{"seq":1}\n' + "x" * 70000 + "\n", stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        check(p.returncode == 6 and lines(p.stderr) == [
              "error: /dev/stdin:2: longer than 65536 bytes (not a regular file: cannot skip it)"],
              "stdout: a failed command >/dev/full: rc %d (want 6), stderr %r (want its one line)"
              % (p.returncode, p.stderr))
    # Nothing changes when standard output works.
    p = env.sg("digest", "--firmware", env.fw, "--sev")
    check(p.returncode == 0 and p.stderr == "", "stdout: digest to a pipe: %r" % p.stderr)


# ---------------------------------------------------------------------------

def softhsm_token(env, d, label, pin, what):
    """A throw-away SoftHSM2 token in d/hsm: (the script's output lines, its environment),
    or None, saying which case (@what) is not tested."""
    if not env.hsm or not shutil.which("softhsm2-util"):
        print("note: no SoftHSM2: %s not tested" % what)
        return None
    hd = os.path.join(d, "hsm")
    SCAN.register("token PIN", pin, hd)
    p = subprocess.run(["bash", env.hsm, hd, label, pin], capture_output=True, text=True)
    if p.returncode != 0:
        print("note: no SoftHSM2 token (%s): %s not tested" % (p.stderr.strip(), what))
        return None
    out = p.stdout.strip().splitlines()
    return out, dict(os.environ, SOFTHSM2_CONF=out[0].split("=", 1)[1])


def symlink_pair(d, name):
    target = write(os.path.join(d, name + ".target"), "precious\n", 0o644)
    link = os.path.join(d, name + ".link")
    os.symlink(target, link)
    return target, link


def one_line_naming(p, path):
    ls = lines(p.stderr)
    return len(ls) == 1 and path in ls[0] and "symbolic link" in ls[0]


def test_symlink(env):
    d = os.path.join(env.tmp, "symlink")
    os.makedirs(d)
    # vmsa build: BSP_OUT and AP_OUT.
    t, l = symlink_pair(d, "bsp")
    p = env.sg("vmsa", "build", "--cpu-sig", "0xa00f11", l)
    check(p.returncode == 6 and one_line_naming(p, l) and read(t) == b"precious\n",
          "symlink: vmsa build BSP_OUT a symlink: rc %d, %r, target now %d bytes"
          % (p.returncode, p.stderr, len(read(t))))
    t2, l2 = symlink_pair(d, "ap")
    bsp = os.path.join(d, "bsp.bin")
    p = env.sg("vmsa", "build", "--cpu-sig", "0xa00f11", "--reset-addr", "0xffff0", bsp, l2)
    check(p.returncode == 6 and one_line_naming(p, l2) and read(t2) == b"precious\n",
          "symlink: vmsa build AP_OUT a symlink: rc %d, %r" % (p.returncode, p.stderr))
    # A dangling link is not created through either.
    dangling = os.path.join(d, "dangling")
    os.symlink(os.path.join(d, "would-be-created"), dangling)
    p = env.sg("vmsa", "build", "--cpu-sig", "0xa00f11", dangling)
    check(p.returncode == 6 and one_line_naming(p, dangling)
          and not os.path.exists(os.path.join(d, "would-be-created")),
          "symlink: vmsa build into a dangling symlink: rc %d, %r" % (p.returncode, p.stderr))
    # A regular output is still written, replacing what was there, with its mode.
    plain = write(os.path.join(d, "plain.bin"), "old\n", 0o600)
    p = env.sg("vmsa", "build", "--cpu-sig", "0xa00f11", plain)
    check(p.returncode == 0 and len(read(plain)) == 4096,
          "symlink: vmsa build into a regular file: rc %d, %r" % (p.returncode, p.stderr))

    # batch --report: refused before any guest runs.
    mdir = os.path.join(d, "manifests")
    os.makedirs(mdir)
    env.manifest(os.path.join(mdir, "m1.yaml"),
                 ["secret-header: %s/m1.h" % d, "secret-payload: %s/m1.p" % d])
    t, l = symlink_pair(d, "report")
    p = env.sg("batch", "--report", l, mdir)
    check(p.returncode == 6 and one_line_naming(p, l) and read(t) == b"precious\n",
          "symlink: batch --report a symlink: rc %d, %r, target now %d bytes"
          % (p.returncode, p.stderr, len(read(t))))

    # The secret packet: header or payload a symlink; neither file written.
    for which in ("header", "payload"):
        t, l = symlink_pair(d, "secret-" + which)
        other = os.path.join(d, "other-" + which)
        hp = (l, other) if which == "header" else (other, l)
        p = env.sg(*env.validate(), "-s", "luks-key:" + env.secret,
                   "--secret-header", hp[0], "--secret-payload", hp[1])
        check(p.returncode == 6 and l in p.stderr and "symbolic link" in p.stderr
              and read(t) == b"precious\n" and not os.path.exists(other),
              "symlink: --secret-%s a symlink: rc %d, %r, target %r, other written %s"
              % (which, p.returncode, p.stderr, read(t), os.path.exists(other)))

    # The audit log: appended to, never through a symbolic link either.
    if env.akey:
        t, l = symlink_pair(d, "audit-log")
        p = env.sg(*env.validate(), "--audit-log", l, "--audit-key", env.akey)
        check(p.returncode == 6 and one_line_naming(p, l) and read(t) == b"precious\n",
              "symlink: --audit-log a symlink: rc %d, %r, target now %d bytes"
              % (p.returncode, p.stderr, len(read(t))))
        dangling = os.path.join(d, "dangling-log")
        os.symlink(os.path.join(d, "log-would-be-created"), dangling)
        p = env.sg(*env.validate(), "--audit-log", dangling, "--audit-key", env.akey)
        check(p.returncode == 6 and one_line_naming(p, dangling)
              and not os.path.exists(os.path.join(d, "log-would-be-created")),
              "symlink: --audit-log a dangling symlink: rc %d, %r" % (p.returncode, p.stderr))

    # keys generate-audit-key --pubout: needs a token.
    tok = softhsm_token(env, d, "outtok", "3141592653589793", "--pubout into a symlink")
    if not tok:
        return
    out, tenv = tok
    t, l = symlink_pair(d, "pubout")
    p = env.sg("keys", "generate-audit-key", "--token", out[1], "--label", "audit",
               "--pubout", l, env=tenv)
    check(p.returncode == 6 and l in p.stderr and "symbolic link" in p.stderr
          and read(t) == b"precious\n",
          "symlink: generate-audit-key --pubout a symlink: rc %d, %r, target now %d bytes"
          % (p.returncode, p.stderr, len(read(t))))
    # A device is allowed by the policy: --pubout /dev/null is written, not fsync'ed (EINVAL).
    p = env.sg("keys", "generate-audit-key", "--token", out[1], "--label", "audit-null",
               "--pubout", "/dev/null", env=tenv)
    check(p.returncode == 0 and p.stderr == ""
          and "public key: /dev/null" in p.stdout,
          "device: generate-audit-key --pubout /dev/null: rc %d, %r" % (p.returncode, p.stderr))
    # The same token for defect 4: keys list (of keys it now has) to a full standard output.
    p = env.sg("keys", "import", "--tik", env.tik, "--tek", env.tek, "--token", out[1],
               "--label", "g1", env=tenv)
    check(p.returncode == 0, "stdout: keys import: rc %d, %r" % (p.returncode, p.stderr))
    p = env.sg("keys", "list", "--token", out[1], env=tenv)
    check(p.returncode == 0 and "g1" in p.stdout, "stdout: keys list: %r" % p.stdout)
    with open("/dev/full", "w") as full:
        p = env.sg("keys", "list", "--token", out[1], env=tenv, stdout=full)
    check(p.returncode == 6 and lines(p.stderr) == ["error: " + FULL],
          "stdout: sevgate keys list >/dev/full: rc %d (want 6), stderr %r" % (p.returncode, p.stderr))


# ---------------------------------------------------------------------------

def validate_json(env, *extra):
    p = env.sg(*env.validate(), "--json", *extra)
    import json
    try:
        return p.returncode, json.loads(p.stdout)
    except ValueError:
        return p.returncode, None


def test_json(env):
    fw_hex = hashlib.sha256(read(env.fw)).hexdigest()
    k_hex = hashlib.sha256(read(env.kernel)).hexdigest()
    # An unreadable kernel: the firmware was loaded but never hashed.
    rc, j = validate_json(env, "--kernel", "/nonexistent/kernel")
    fw = j and j["inputs"]["firmware"]
    check(rc == 6 and fw and fw["path"] == env.fw and fw["sha256"] is None
          and j["inputs"]["kernel"] is None,
          "json: unreadable kernel: firmware's sha256 must be null: rc %d, %r" % (rc, j and j["inputs"]))
    # An unreadable initrd: the kernel was hashed, the firmware not.
    rc, j = validate_json(env, "--kernel", env.kernel, "--initrd", "/nonexistent/initrd")
    ins = j and j["inputs"]
    check(rc == 6 and ins and ins["firmware"]["sha256"] is None
          and ins["kernel"] == {"path": env.kernel, "sha256": k_hex} and ins["initrd"] is None,
          "json: unreadable initrd: firmware null, kernel its hash: rc %d, %r" % (rc, ins))
    # A good run: the firmware's real hash.
    rc, j = validate_json(env)
    check(rc == 0 and j and j["inputs"]["firmware"]["sha256"] == fw_hex,
          "json: trusted: firmware's sha256: rc %d, %r" % (rc, j and j["inputs"]))


# ---------------------------------------------------------------------------

def test_collide(env):
    if not env.akey:
        print("note: no openssl: collisions with the audit log not tested")
        return
    d = os.path.join(env.tmp, "collide")
    os.makedirs(d)
    log = os.path.join(d, "audit.log")
    key = os.path.join(d, "audit-key.pem")
    shutil.copy(env.akey, key)
    conf = write(os.path.join(d, "sevgate.conf"), "audit-log: %s\naudit-key: %s\n" % (log, key),
                 0o600)
    audit = ["--audit-log", log, "--audit-key", key]
    p = env.sg(*env.validate("seed"), *audit)
    check(p.returncode == 0 and os.path.exists(log), "collide: seed the log: %r" % p.stderr)
    os.link(log, os.path.join(d, "hardlink-to-log"))
    protected = {"log": log, "key": key, "conf": conf}

    def snapshot():
        return {k: read(v) for k, v in protected.items()}

    def restore():
        """Put back what a failing case overwrote, so the next case starts the same."""
        for k, v in protected.items():
            if read(v) != before[k]:
                with open(v, "r+b") as f:  # in place: the hard link stays one
                    f.write(before[k])
                    f.truncate()
        for f in ("h", "p", "same", "same2"):
            if os.path.exists(os.path.join(d, f)):
                os.unlink(os.path.join(d, f))

    before = snapshot()
    # Line 13 is the first key after the secrets list (env.manifest); column 1.
    mpath = os.path.join(d, "m.yaml")
    cases = [
        ("header is the audit log", ["secret-header: %s" % log, "secret-payload: %s/p" % d], 13),
        ("payload is the audit log", ["secret-header: %s/h" % d, "secret-payload: %s" % log], 14),
        ("header is the log by another spelling",
         ["secret-header: %s/../collide/./audit.log" % d, "secret-payload: %s/p" % d], 13),
        ("header is a hard link to the log",
         ["secret-header: %s/hardlink-to-log" % d, "secret-payload: %s/p" % d], 13),
        ("header is the audit key", ["secret-header: %s" % key, "secret-payload: %s/p" % d], 13),
        ("payload is the configuration", ["secret-header: %s/h" % d, "secret-payload: %s" % conf], 14),
        ("header is the manifest itself", ["secret-header: %s" % mpath, "secret-payload: %s/p" % d], 13),
        ("header and payload one new path", ["secret-header: %s/same" % d, "secret-payload: %s/same" % d], 14),
        ("header and payload one path, relative and absolute",
         ["secret-header: same2", "secret-payload: %s/same2" % d], 14),
    ]
    for name, extra, line in cases:
        for how in ("validate", "batch"):
            env.manifest(mpath, extra)
            mbytes = read(mpath)
            argv = (["validate", "--manifest", mpath] if how == "validate" else ["batch", mpath])
            p = env.sg(*argv, *audit, "--config", conf)
            want = "%s:%d:1: " % (mpath, line)
            now = snapshot()
            if how == "batch":
                # A batch appends its error record and checkpoint: the old records stay as they were.
                ok = now["log"].startswith(before["log"]) and len(now["log"]) > len(before["log"])
                before["log"] = now["log"]
                ok = ok and now == before
            else:
                ok = now == before
            check(p.returncode == 2 and want in p.stderr and ok
                  and read(mpath) == mbytes
                  and not os.path.exists(os.path.join(d, "h")) and not os.path.exists(os.path.join(d, "p"))
                  and not os.path.exists(os.path.join(d, "same"))
                  and not os.path.exists(os.path.join(d, "same2")),
                  "collide: %s (%s): rc %d (want 2), stderr %r (want %r), protected files unchanged %s"
                  % (name, how, p.returncode, p.stderr, want, ok))
            restore()
    # The audit log from the configuration only (no --audit-log): the same rule.
    env.manifest(mpath, ["secret-header: %s" % log, "secret-payload: %s/p" % d])
    p = env.sg("validate", "--manifest", mpath, "--config", conf)
    check(p.returncode == 2 and "%s:13:1: " % mpath in p.stderr and snapshot() == before,
          "collide: header is the configuration's audit log: rc %d, %r" % (p.returncode, p.stderr))
    restore()
    # The command line: --secret-header/--secret-payload of sevgate validate.
    sec = ["-s", "luks-key:" + env.secret]
    for name, hp in (("--secret-header the audit log", (log, d + "/p")),
                     ("--secret-payload the audit log", (d + "/h", log)),
                     ("--secret-header the audit key", (key, d + "/p")),
                     ("--secret-payload the configuration", (d + "/h", conf)),
                     ("header and payload one path", (d + "/same", d + "/same"))):
        p = env.sg(*env.validate(), *sec, *audit, "--config", conf,
                   "--secret-header", hp[0], "--secret-payload", hp[1])
        check(p.returncode == 2 and len(lines(p.stderr)) == 1 and snapshot() == before
              and not os.path.exists(d + "/h") and not os.path.exists(d + "/p")
              and not os.path.exists(d + "/same"),
              "collide: validate %s: rc %d (want 2), %r" % (name, p.returncode, p.stderr))
        restore()
    # batch --report is an output too: never the audit log, its key, the configuration or a
    # manifest of the run (exit 2 before any guest runs).
    env.manifest(mpath, ["secret-header: %s/h" % d, "secret-payload: %s/p" % d])
    mbytes = read(mpath)
    for name, rep in (("the audit log", log), ("the audit key", key), ("the configuration", conf),
                      ("a manifest of the run", mpath)):
        p = env.sg("batch", "--report", rep, *audit, "--config", conf, mpath)
        check(p.returncode == 2 and len(lines(p.stderr)) == 1 and rep in p.stderr
              and snapshot() == before and read(mpath) == mbytes
              and not os.path.exists(d + "/h"),
              "collide: batch --report %s: rc %d (want 2), %r" % (name, p.returncode, p.stderr))
        restore()
        if read(mpath) != mbytes:
            env.manifest(mpath, ["secret-header: %s/h" % d, "secret-payload: %s/p" % d])
    # After all of it the log still verifies, every record in place.
    pub = os.path.join(d, "audit-pub.pem")
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    p = env.sg("audit", "verify", log, "--pubkey", pub)
    check(p.returncode == 0 and p.stdout.startswith("ok: "),
          "collide: the audit log verifies afterwards: rc %d, %r %r" % (p.returncode, p.stdout, p.stderr))
    # A good release beside them still works.
    env.manifest(mpath, ["secret-header: %s/h" % d, "secret-payload: %s/p" % d])
    p = env.sg("validate", "--manifest", mpath, *audit)
    check(p.returncode == 0 and os.path.exists(d + "/h") and os.path.exists(d + "/p"),
          "collide: a release to other paths: rc %d, %r" % (p.returncode, p.stderr))


# ---------------------------------------------------------------------------

def test_empty(env):
    d = os.path.join(env.tmp, "empty")
    os.makedirs(d)
    empty = write(os.path.join(d, "empty.txt"), b"", 0o600)
    h, pl = os.path.join(d, "h"), os.path.join(d, "p")
    p = env.sg(*env.validate(), "-s", "luks-key:" + empty, "--secret-header", h,
               "--secret-payload", pl)
    check(p.returncode == 2 and len(lines(p.stderr)) == 1 and empty in p.stderr
          and "empty" in p.stderr and not os.path.exists(h) and not os.path.exists(pl),
          "empty: a 0-byte secret file: rc %d (want 2), %r, header written %s"
          % (p.returncode, p.stderr, os.path.exists(h)))
    p = run([env.ours] + env.platform() + ["--inject-secret", "luks-key:" + empty,
                                           "--secret-header", h, "--secret-payload", pl])
    check(p.returncode == 2 and empty in p.stderr and not os.path.exists(h),
          "empty: the drop-in, a 0-byte secret file: rc %d (want 2), %r" % (p.returncode, p.stderr))
    p = env.sg("secret", "build", "--tik", env.tik, "--tek", env.tek, "--measurement", TV1,
               "--header", h, "--payload", pl, "--secret", "luks-key:" + empty)
    check(p.returncode == 2 and lines(p.stderr) == ["error: secret file '%s' is empty" % empty]
          and not os.path.exists(h),
          "empty: secret build, a 0-byte secret file: rc %d (want 2), %r" % (p.returncode, p.stderr))


def test_shared_packet(env):
    """Two guests of one batch whose packet files are one file: the later manifest is refused
    (exit 2, naming both manifests at the key), before anything is written; the first runs."""
    d = os.path.join(env.tmp, "shared")
    mdir = os.path.join(d, "manifests")
    os.makedirs(mdir)
    m1 = env.manifest(os.path.join(mdir, "m1.yaml"),
                      ["secret-header: %s/a.h" % d, "secret-payload: %s/a.p" % d])
    m2 = env.manifest(os.path.join(mdir, "m2.yaml"),
                      ["secret-header: %s/b.h" % d, "secret-payload: %s/./a.p" % d])
    with open(m2) as f:
        text = f.read().replace("guest: m1", "guest: m2")
    write(m2, text)
    p = env.sg("batch", "--jobs", "1", mdir)
    want = ("%s:14:1: secret-payload '%s/./a.p' is also the secret-payload of %s:14:1"
            % (m2, d, m1))
    check(p.returncode == 2 and want in p.stderr and os.path.exists(os.path.join(d, "a.h"))
          and os.path.exists(os.path.join(d, "a.p")) and not os.path.exists(os.path.join(d, "b.h"))
          and "1 trusted" in p.stdout,
          "shared: two guests, one payload file (new): rc %d, stdout %r, stderr %r"
          % (p.returncode, p.stdout, p.stderr))
    # Now a.h exists: a third manifest naming it by another path (same inode) is refused too.
    os.symlink(d, os.path.join(d, "alias"))
    m3 = env.manifest(os.path.join(mdir, "m3.yaml"),
                      ["secret-header: %s/alias/a.h" % d, "secret-payload: %s/c.p" % d])
    with open(m3) as f:
        text = f.read().replace("guest: m1", "guest: m3")
    write(m3, text)
    os.unlink(m2)
    p = env.sg("batch", "--jobs", "2", mdir)
    want = "%s:13:1: secret-header '%s/alias/a.h' is also the secret-header of %s:13:1" % (m3, d, m1)
    check(p.returncode == 2 and want in p.stderr and not os.path.exists(os.path.join(d, "c.p"))
          and "1 trusted" in p.stdout,
          "shared: two guests, one header file (by inode): rc %d, stdout %r, stderr %r"
          % (p.returncode, p.stdout, p.stderr))


def test_dash(env):
    """'-' is standard output where an option documents it: batch --report - writes the JSON
    Lines report there (and no human summary), --pubout - prints the PEM (issue 11 #6)."""
    import json
    d = os.path.join(env.tmp, "dash")
    mdir = os.path.join(d, "manifests")
    os.makedirs(mdir)
    for i in (1, 2):
        m = env.manifest(os.path.join(mdir, "m%d.yaml" % i),
                         ["secret-header: %s/m%d.h" % (d, i), "secret-payload: %s/m%d.p" % (d, i)])
        with open(m) as f:
            text = f.read().replace("guest: m1", "guest: m%d" % i)
        write(m, text)
    p = env.sg("batch", "--report", "-", mdir, cwd=d)
    out = lines(p.stdout)
    try:
        recs = [json.loads(x) for x in out]
    except ValueError:
        recs = None
    check(p.returncode == 0 and recs is not None and len(recs) == 3
          and "summary" in recs[-1] and recs[-1]["summary"]["trusted"] == 2
          and not os.path.exists(os.path.join(d, "-")),
          "dash: batch --report -: rc %d, stdout %r, stderr %r"
          % (p.returncode, p.stdout, p.stderr))

    tok = softhsm_token(env, d, "dashtok", "2718281828459045", "--pubout -")
    if not tok:
        return
    out, tenv = tok
    p = env.sg("keys", "generate-audit-key", "--token", out[1], "--label", "audit",
               "--pubout", "-", env=tenv, cwd=d)
    pem = p.stdout[p.stdout.find("-----BEGIN"):p.stdout.find("-----END PUBLIC KEY-----") + 24]
    q = subprocess.run(["openssl", "pkey", "-pubin", "-noout", "-text"], input=pem,
                       capture_output=True, text=True) if shutil.which("openssl") else None
    check(p.returncode == 0 and p.stdout.startswith("-----BEGIN PUBLIC KEY-----\n")
          and "audit-key: pkcs11:" in p.stdout and not os.path.exists(os.path.join(d, "-"))
          and (q is None or (q.returncode == 0 and "prime256v1" in q.stdout)),
          "dash: generate-audit-key --pubout -: rc %d, stdout %r, stderr %r"
          % (p.returncode, p.stdout, p.stderr))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sevgate", required=True)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--hsm-script")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    env = Env(a)
    try:
        for part in (test_stdout, test_symlink, test_json, test_collide, test_empty,
                     test_dash, test_shared_packet):
            try:
                part(env)
            except Exception as e:  # a part that crashes is a failure, the others still run
                check(False, "%s raised %r" % (part.__name__, e))
        SCAN.tree(env.tmp)
        for prob in SCAN.problems():
            check(False, "secret scan: " + prob)
    finally:
        if not a.keep:
            shutil.rmtree(env.tmp, ignore_errors=True)
    print("%d passed, %d failed" % (T.passed, len(T.failures)))
    return 1 if T.failures else 0


if __name__ == "__main__":
    sys.exit(main())
