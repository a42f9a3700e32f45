# SPDX-License-Identifier: LGPL-2.1-or-later
"""
Run a command with a syslog socket of our own at /dev/log and save what it
sends: the audit log's syslog copy, checked without touching the machine's
/dev. Run under `unshare --mount --propagation private`: /dev is replaced,
in this mount namespace only, by a tmpfs holding the few device nodes a
run needs (bound from the real /dev) and the socket.
  syslog_probe.py OUT.json WORKDIR [--no-socket] -- COMMAND [ARG...]
OUT.json gets {"rc", "stdout", "stderr", "messages": [...]}; with
--no-socket there is no /dev/log (sevgate must then send nothing).
"""
import json
import os
import socket
import subprocess
import sys


def mount(*argv):
    subprocess.run(["mount", *argv], check=True, capture_output=True)


def main():
    sep = sys.argv.index("--")
    out, work = sys.argv[1], sys.argv[2]
    with_socket = "--no-socket" not in sys.argv[3:sep]
    cmd = sys.argv[sep + 1:]
    old = os.path.join(work, "olddev")
    os.makedirs(old, exist_ok=True)
    mount("--bind", "/dev", old)
    mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/dev")
    for node in ("null", "zero", "full", "random", "urandom"):
        open(os.path.join("/dev", node), "w").close()
        mount("--bind", os.path.join(old, node), os.path.join("/dev", node))
    sock = None
    if with_socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind("/dev/log")
        os.chmod("/dev/log", 0o666)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    msgs = []
    if sock:
        sock.setblocking(False)
        while True:
            try:
                msgs.append(sock.recv(1 << 20).decode("utf-8", "replace"))
            except BlockingIOError:
                break
    with open(out, "w") as f:
        json.dump({"rc": p.returncode, "stdout": p.stdout, "stderr": p.stderr, "messages": msgs}, f)


if __name__ == "__main__":
    main()
