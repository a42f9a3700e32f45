#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""sevgate A/B benchmark: two builds of sevgate, interleaved in one run.

A change that should not move performance (a refactor, a hardening fix) is checked
by timing the old and the new binaries side by side on the same machine at the same
time, so load and thermal drift hit both alike. Every round runs each side once, in
alternating order (old first in even rounds, new first in odd ones); the figures are
medians over the rounds.

Measured per side and round:
  single   one SEV-ES validation by virt-qemu-sev-validate as a whole process (Debian
           OVMF_CODE_4M.fd, 4 vCPUs of EPYC-v4, file keys): the median of --runs spawns
  batch    `sevgate batch --jobs <cores>` over a generated fleet of --guests SEV-ES guests
           (bench/fleet.py's Fleet: 3 firmware images, kernels, 1-64 vCPUs), file keys
  audited  the same fleet, every guest releasing a 32-byte secret under an audit log
           signed with a PEM P-256 key; packets and log on a tmpfs (/dev/shm) so the
           machine's file-creation cost does not drown the comparison

Every run must succeed (all guests trusted) or the benchmark stops.

  bench/ab.py --old BUILD_DIR --new BUILD_DIR [--rounds 5] [--runs 11] [--guests 1000]
              [--out FILE]
BUILD_DIR is a CMake build tree (its src/ holds sevgate and virt-qemu-sev-validate).
"""
import argparse
import base64
import hashlib
import hmac
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet  # noqa: E402  (the generator and the runners of bench section v)

FIRMWARE = "/usr/share/OVMF/OVMF_CODE_4M.fd"


def die(msg):
    print("ab: " + msg, file=sys.stderr)
    sys.exit(1)


def side(build):
    s = {"sevgate": os.path.join(build, "src", "sevgate"),
         "compat": os.path.join(build, "src", "virt-qemu-sev-validate")}
    for p in s.values():
        if not os.access(p, os.X_OK):
            die("%s: not an executable (build the tree first)" % p)
    return s


def single_argv(s, tmp):
    """The drop-in's argv for one trusted SEV-ES validation (keys made here)."""
    tik, tek, mnonce = os.urandom(16), os.urandom(16), os.urandom(16)
    for name, data in (("tik", tik), ("tek", tek)):
        fleet.write_secret(os.path.join(tmp, name), data)
    p = subprocess.run([s["sevgate"], "digest", "--firmware", FIRMWARE, "--num-cpus", "4",
                        "--vcpu-type", "EPYC-v4"], stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        die("sevgate digest failed")
    ld = bytes.fromhex(p.stdout.strip())
    msg = bytes([4, 1, 55, 21]) + struct.pack("<I", 7) + ld + mnonce
    mac = hmac.new(tik, msg, hashlib.sha256).digest()
    meas = base64.b64encode(mac + mnonce).decode()
    return [s["compat"], "--measurement", meas, "--api-major", "1", "--api-minor", "55",
            "--build-id", "21", "--policy", "7", "--firmware", FIRMWARE, "--num-cpus", "4",
            "--vcpu-type", "EPYC-v4", "--tik", os.path.join(tmp, "tik"),
            "--tek", os.path.join(tmp, "tek")]


def time_single(argv, runs):
    times = []
    for _ in range(runs + 1):
        dt, rc = fleet.timed_spawn(argv)
        if rc != 0:
            die("validation failed (exit %d): %s" % (rc, " ".join(argv)))
        times.append(dt)
    return statistics.median(times[1:])


def time_audited(s, d, n, jobs, tmp, odir, pem):
    log = os.path.join(odir, "audit.log")
    for f in os.listdir(odir):
        os.unlink(os.path.join(odir, f))
    wall, _, _ = fleet.audit_batch(s["sevgate"], d, n, jobs, tmp, log=log, key=pem)
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--guests", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.rounds < 3 or a.runs < 3 or a.guests < 1:
        die("--rounds and --runs at least 3, --guests at least 1")
    if not os.path.isfile(FIRMWARE):
        die("%s not found (apt-get install ovmf)" % FIRMWARE)
    sides = {"old": side(a.old), "new": side(a.new)}

    root = tempfile.mkdtemp(prefix="sevgate-ab.", dir=os.environ.get("TMPDIR", "/tmp"))
    shm = tempfile.mkdtemp(prefix="sevgate-ab.", dir="/dev/shm")
    try:
        tmp = os.path.join(root, "tmp")
        os.makedirs(tmp)
        fw_synth = os.path.join(a.new, "fixtures", "fw_synth.bin")
        fl = fleet.Fleet(root, fw_synth if os.path.isfile(fw_synth) else None, a.guests, 1)
        plain = fl.write_dir("plain", fl.guests)
        sdir = os.path.join(root, "secrets")
        os.makedirs(sdir)
        for g in fl.guests:
            fleet.write_secret(os.path.join(sdir, g["name"] + ".key"), os.urandom(32))
        odir = {k: os.path.join(shm, k) for k in sides}
        rel = {}
        for k in sides:
            os.makedirs(odir[k])
            rel[k] = fl.write_dir("release-" + k, fl.guests, release=(sdir, odir[k]))
        pem = os.path.join(tmp, "audit.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", pem], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(pem, 0o600)
        argv = {}
        for k, s in sides.items():
            os.makedirs(os.path.join(root, k + "-keys"))
            argv[k] = single_argv(s, os.path.join(root, k + "-keys"))
        os.sync()

        res = {k: {"single": [], "batch": [], "audited": []} for k in sides}
        for r in range(a.rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for k in order:
                s = sides[k]
                res[k]["single"].append(time_single(argv[k], a.runs))
                walls, _, _ = fleet.run_batch(s["sevgate"], plain, a.guests, a.jobs, tmp, runs=1)
                res[k]["batch"].append(walls[0])
                res[k]["audited"].append(time_audited(s, rel[k], a.guests, a.jobs, tmp,
                                                      odir[k], pem))
            print("ab: round %d/%d done" % (r + 1, a.rounds), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(shm, ignore_errors=True)

    rows = [("single", "one SEV-ES validation, drop-in, whole process", 1e3, "ms"),
            ("batch", "`sevgate batch`, %d guests, file keys" % a.guests, 1, "s"),
            ("audited", "the same, releasing, PEM-signed audit log, tmpfs", 1, "s")]
    out = ["# sevgate A/B: %s (old) against %s (new)" % (a.old, a.new), "",
           "%d interleaved rounds, medians; single = median of %d spawns per round; "
           "--jobs %d on %d cores." % (a.rounds, a.runs, a.jobs, os.cpu_count()), "",
           "| measure | old | new | new/old | old rounds | new rounds |",
           "|---|---:|---:|---:|---|---|"]
    for key, what, scale, unit in rows:
        o, n = statistics.median(res["old"][key]), statistics.median(res["new"][key])
        fmt = lambda v: "%.3f %s" % (v * scale, unit)  # noqa: E731
        out.append("| %s | %s | %s | %.3f | %s | %s |" % (
            what, fmt(o), fmt(n), n / o,
            " ".join("%.3f" % (v * scale) for v in res["old"][key]),
            " ".join("%.3f" % (v * scale) for v in res["new"][key])))
    text = "\n".join(out) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
