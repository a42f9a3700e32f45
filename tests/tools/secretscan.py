# SPDX-License-Identifier: LGPL-2.1-or-later
"""
The secret scan of the Python test harnesses: no TIK, TEK, PIN or secret bytes in
any output, log or report of the test suite.

A harness registers the secret material it makes (register), marks the input files
and directories that legitimately hold it or are not its outputs (inputs), feeds the
stdout and stderr of every process it runs (text), scans its work directory at the
end (tree) and fails on any finding (problems), naming the secret, the form and where.
selfcheck() plants secrets and fails when the scan misses one, so a broken scanner
cannot pass silently. Standard library only.
"""
import base64
import os
import shlex
import stat
import tempfile

MIN_LEN = 8  # shorter material has base64 forms too short to tell from chance


def forms(secret):
    """(form, bytes) for each way an output could carry @secret.

    Base64 is cut to the characters that depend on the secret's bytes alone, from each
    of the three alignments a secret can have inside a longer encoded buffer."""
    out = [("raw", secret), ("hex", secret.hex().encode()), ("HEX", secret.hex().upper().encode())]
    for shift in range(3):
        s = secret[shift:]
        exact = len(s) // 3 * 4 + len(s) % 3
        out.append(("base64/%d" % shift, base64.b64encode(s)[:exact]))
        out.append(("base64url/%d" % shift, base64.urlsafe_b64encode(s)[:exact]))
    return out


def as_bytes(text):
    return text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text or b"")


def find(texts, secrets):
    """Findings ("WHERE holds the NAME (FORM)") for [(where, str|bytes)] and [(name, bytes)]."""
    needles = [(name, f, b) for name, s in secrets if len(s) >= MIN_LEN for f, b in forms(s)]
    found = []
    for where, text in texts:
        data = as_bytes(text)
        hit = set()
        for name, f, b in needles:
            if name not in hit and b in data:
                hit.add(name)  # one finding per secret and place is enough to act on
                found.append("%s holds the %s (%s)" % (where, name, f))
    return found


class Scanner:
    def __init__(self):
        self.secrets = []
        self.excluded = set()
        self.findings = []
        self.ntexts = self.nfiles = 0

    def register(self, name, data, *inputs):
        """Secret material, and the input files that hold it (left out of tree scans).
        Register it when it is made: a text is scanned when it is fed."""
        self.inputs(*inputs)
        data = as_bytes(data)
        if len(data) < MIN_LEN or any(s == data for _, s in self.secrets):
            return False
        self.secrets.append((name, data))
        return True

    def inputs(self, *paths):
        self.excluded.update(os.path.realpath(p) for p in paths)

    def text(self, where, text):
        self.ntexts += 1
        self.findings += find([(where, text)], self.secrets)

    def proc(self, argv, out, err):
        """The stdout and stderr of one process, named by its command line."""
        cmd = shlex.join([os.path.basename(str(argv[0]))] + [str(a) for a in argv[1:]])
        cmd = cmd if len(cmd) <= 160 else cmd[:157] + "..."
        self.text("`%s` stdout" % cmd, out)
        self.text("`%s` stderr" % cmd, err)

    def file(self, path, where=None):
        with open(path, "rb") as f:
            data = f.read()
        self.nfiles += 1
        self.findings += find([(where or path, data)], self.secrets)

    def tree(self, root):
        """Every regular file under @root but the inputs."""
        for d, dirs, files in os.walk(root):
            dirs[:] = [x for x in dirs if os.path.realpath(os.path.join(d, x)) not in self.excluded]
            for name in files:
                p = os.path.join(d, name)
                if os.path.realpath(p) in self.excluded or not stat.S_ISREG(os.lstat(p).st_mode):
                    continue
                try:
                    self.file(p)
                except OSError as e:  # an output that cannot be read cannot be vouched for
                    self.findings.append("%s cannot be scanned: %s" % (p, e))

    def add(self, other):
        """Counts and findings of a scanner used for one part (a case) of the harness."""
        self.ntexts += other.ntexts
        self.nfiles += other.nfiles
        self.findings += other.findings
        for name, s in other.secrets:
            self.secrets.append((name, s))

    def problems(self):
        return ["secret scan: " + f for f in self.findings]

    def summary(self):
        return "secret scan: %d texts, %d files, %d secrets: %s" % (
            self.ntexts, self.nfiles, len(self.secrets),
            "%d FINDINGS" % len(self.findings) if self.findings else "clean")


def selfcheck():
    """Problems if a secret planted in any form, at any alignment, in a text or a file,
    goes unseen, or if an input file or a clean text is reported."""
    probs = []
    for n in (MIN_LEN, MIN_LEN + 1, MIN_LEN + 2, 16):
        secret = os.urandom(n)
        plants = [("raw", secret), ("hex", secret.hex().encode()), ("HEX", secret.hex().upper().encode())]
        for off in range(3):
            for name, enc in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
                plants.append(("%s at byte %d" % (name, off), enc(os.urandom(off) + secret + os.urandom(7))))
        s = Scanner()
        s.register("planted", secret)
        for what, text in plants:
            before = len(s.findings)
            s.text(what, b"x" + text + b"x")
            if len(s.findings) != before + 1:
                probs.append("secretscan self-check: %d-byte secret in %s form not found" % (n, what))
        s.text("clean", base64.b64encode(os.urandom(4096)) + os.urandom(2048).hex().encode())
        with tempfile.TemporaryDirectory() as d:
            for name, data in (("out", b"{" + plants[-1][1] + b"}"), ("in", secret)):
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)
            s.inputs(os.path.join(d, "in"))
            s.tree(d)
        if len(s.findings) != len(plants) + 1 or "out holds" not in s.findings[-1]:
            probs.append("secretscan self-check: %d-byte secret: findings %r" % (n, s.findings[len(plants):]))
    return probs
