# SPDX-License-Identifier: LGPL-2.1-or-later
"""
LD_PRELOAD shims for a sanitized binary: ASan's runtime must come first in
the link order, so a shim preloaded into an ASan build needs libasan ahead
of it. One place for the tests that preload (tests/virt, tests/audit).
"""
import os
import subprocess


def is_asan(path):
    """Whether @path links ASan's runtime."""
    try:
        r = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "libasan" in r.stdout


def libasan():
    """The absolute path of the compiler's libasan.so, or SystemExit."""
    p = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(p):
        raise SystemExit("ASan build under test but libasan.so not found by gcc")
    return os.path.realpath(p)


def preload(binary, *shims):
    """The LD_PRELOAD value for running @binary with @shims."""
    return ":".join(([libasan()] if is_asan(binary) else []) + list(shims))
