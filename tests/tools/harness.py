# SPDX-License-Identifier: LGPL-2.1-or-later
"""
The runner shared by the Python test harnesses (tests/cli, tests/manifest,
tests/audit, tests/virt): the skip rule, the binaries and the shared
vectors, the work directory, checks, parts, the secret scan of what a run
leaves behind, and the exit status.

The skip rule: a harness (or a part of one) that cannot run here for want
of something outside the tree (a Python module, the reference tool, a
tool, ../shared/vectors) says so in one line and exits SKIP (77, CTest's
skip), except under CI=true, where a skip is a failure (exit 1).
"""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import secretscan

SKIP = 77


def ci():
    """True under CI=true, where nothing may be skipped."""
    return os.environ.get("CI") == "true"


def skip_status(why):
    """The whole harness cannot run: print why; returns 77, or 1 under CI=true."""
    if ci():
        print("FAIL: %s (CI=true)" % why, flush=True)
        return 1
    print("SKIP: %s" % why, flush=True)
    return SKIP


def skip_exit(why):
    sys.exit(skip_status(why))


def require_model(model):
    """Exit (skip) when the reference model lacks `cryptography`."""
    if model.CRYPTO_ERROR:
        skip_exit("cannot import the Python model (%s)" % model.CRYPTO_ERROR)


def shared_vectors(path):
    """The ../shared/vectors directory given, or None when none was given or it is missing
    (with a note: the rows that need it are skipped); missing under CI=true is a failure
    (exits 1)."""
    if path and not os.path.isdir(path):
        if ci():
            print("FAIL: shared vectors not found at %s (CI=true)" % path, flush=True)
            sys.exit(1)
        print("note: shared vectors not found at %s: rows that need them are skipped" % path,
              flush=True)
        return None
    return path


def binary_problem(what, path, mode=os.X_OK):
    """None when path is given and accessible (executable by default), else the problem."""
    if not path or not os.access(path, mode):
        return "%s not given or not %s: %r" % (
            what, "executable" if mode == os.X_OK else "readable", path)
    return None


def require_fixtures(fixtures, *names):
    """Exit 1 unless every named file of the build's fixtures directory is there."""
    for f in names:
        if not os.path.exists(os.path.join(fixtures, f)):
            print("missing fixture %s (build the 'fixtures' target)" % f)
            sys.exit(1)


@contextlib.contextmanager
def workdir(prefix, keep=False):
    """A temporary work directory, removed afterwards unless keep (then it is printed)."""
    d = tempfile.mkdtemp(prefix=prefix)
    try:
        yield d
    finally:
        if keep:
            print("kept %s" % d, flush=True)
        else:
            shutil.rmtree(d, ignore_errors=True)


class Suite:
    """Checks, failures and skipped parts of one run, and the secret scan of its outputs.

    check() counts a check and prints a failure as "FAIL: what"; skip() records a part that
    cannot run here (a failed check under CI=true)."""

    def __init__(self):
        self.checks = 0
        self.failures = []
        self.skipped = []
        self.scan = secretscan.Scanner()

    @property
    def passed(self):
        return self.checks - len(self.failures)

    def check(self, cond, what):
        self.checks += 1
        if not cond:
            self.failures.append(what)
            print("FAIL: " + what, flush=True)
        return cond

    def skip(self, what):
        if ci():
            self.check(False, "skipped under CI=true: " + what)
        else:
            self.skipped.append(what)
            print("SKIP: " + what, flush=True)

    def run(self, argv, cwd=None, timeout=120, env=None):
        """Run argv, its stdout and stderr fed to the secret scan: (exit status, stdout, stderr)."""
        p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
        self.scan.proc(argv, p.stdout, p.stderr)
        return p.returncode, p.stdout, p.stderr

    def write(self, path, data, mode=0o644, input=True):
        """Write a file (bytes or text) with its directories and mode; an input of the test
        (input=True) is left out of the scan of the work directory, since what sevgate
        writes is what the scan is for. Returns path."""
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.chmod(path, mode)
        if input:
            self.scan.inputs(path)
        return path

    def cleanup(self, top, keep=False):
        """Remove the work directory, unless keep or a check failed (then print it)."""
        if keep or self.failures:
            print("kept %s" % top, flush=True)
        else:
            shutil.rmtree(top, ignore_errors=True)

    def scan_selfcheck(self, prefix=""):
        """The secret scanner's own check, as failed checks."""
        for p in secretscan.selfcheck():
            self.check(False, prefix + p)

    def scan_tree(self, top, prefix=""):
        """Scan what the run left in top (inputs excluded) and print the scan's summary."""
        self.scan.tree(top)
        for p in self.scan.problems():
            self.check(False, prefix + p)
        print(self.scan.summary(), flush=True)

    def run_parts(self, parts, only=None, width=13, selected=None):
        """Run [(name, fn)] in order (only those in `only` when given, or for which
        selected(name) is true); a part that raises is a failure and the others still run.
        Prints one line per part: name, ok or the number failed, its time."""
        for name, fn in parts:
            if selected is not None:
                if not selected(name):
                    continue
            elif only and name not in only:
                continue
            before = len(self.failures)
            t0 = time.monotonic()
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                traceback.print_exc()
                self.check(False, "%s: exception %r" % (name, e))
            n = len(self.failures) - before
            print("%-*s %s (%.1f s)" % (width, name, "ok" if n == 0 else "%d FAILED" % n,
                                        time.monotonic() - t0), flush=True)

    def summary(self):
        """"N checks, N failed" and the skipped parts."""
        print("%d checks, %d failed%s" % (self.checks, len(self.failures),
                                          ", skipped: " + "; ".join(self.skipped)
                                          if self.skipped else ""), flush=True)

    def status(self):
        """1 on a failure, 77 when parts were skipped and nothing else ran, else 0."""
        if self.failures:
            return 1
        return SKIP if self.skipped and self.checks == 0 else 0
