#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
Run a program under the system call filter and the memory rules of the
sevgate units (deploy/systemd/hardening.conf), without systemd as PID 1:
  SystemCallFilter=@system-service, then ~@privileged @resources, with
  SystemCallErrorNumber=EPERM: the allow list is read from this machine's
  systemd-analyze, so it is the one the unit would get;
  MemoryDenyWriteExecute=yes: prctl(PR_SET_MDWE), kept across execve;
  LimitCORE=0 and NoNewPrivileges=yes.
  sandbox.py PROGRAM [ARG...]
  sandbox.py --list        the allowed calls, one a line
With $SANDBOX_ALLOWED naming a file of that list (sandbox_test.sh makes it once),
systemd-analyze is not asked again at every exec (it is most of the cost).
Needs python3-seccomp (Debian's /usr/bin/python3) and systemd-analyze.
"""
import ctypes
import errno
import os
import resource
import subprocess
import sys

import seccomp

PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1


def group(name, seen=None):
    """The system calls of a systemd syscall group, nested groups expanded."""
    seen = set() if seen is None else seen
    if name in seen:
        return set()
    seen.add(name)
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], check=True,
                         capture_output=True, text=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        calls |= group(word, seen) if word.startswith("@") else {word}
    return calls


def allowed_calls():
    return group("@system-service") - group("@privileged") - group("@resources")


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: sandbox.py PROGRAM [ARG...] | sandbox.py --list")
    if sys.argv[1] == "--list":
        print("\n".join(sorted(allowed_calls())))
        return
    cache = os.environ.get("SANDBOX_ALLOWED")
    if cache:
        with open(cache) as f:
            allowed = set(f.read().split())
    else:
        allowed = allowed_calls()
    f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(errno.EPERM))
    for call in sorted(allowed):
        try:
            f.add_rule(seccomp.ALLOW, call)
        except (RuntimeError, ValueError):
            pass  # a name this architecture does not have
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        e = ctypes.get_errno()
        if e != errno.EINVAL:
            sys.exit("sandbox: prctl(PR_SET_MDWE): %s" % os.strerror(e))
        # before Linux 6.3: systemd's own seccomp rules would still apply; the filter here does
        if not os.environ.get("SANDBOX_NOTED"):
            os.environ["SANDBOX_NOTED"] = "1"
            print("sandbox: this kernel has no PR_SET_MDWE; system call filter only", file=sys.stderr)
    f.load()  # sets no_new_privs first
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
