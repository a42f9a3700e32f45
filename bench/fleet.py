#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""sevgate bench, section (v): a generated fleet of SEV-ES guests.

The fleet: 3 firmware images (Debian OVMF_CODE_4M.fd and OVMF_CODE.fd, plus the
build's synthetic fw_synth.bin, the only one with a kernel-hashes table, so only
its guests boot a kernel), 4 kernels (random bytes, 2-5 MiB), 1-64 vCPUs, 4 CPU
types (vcpu-type EPYC-v4/-Rome/-Milan/-Genoa) and both VMSA profiles (legacy,
init2). Every guest has its own random TIK/TEK and a measurement computed by the
test harnesses' model of the spec (tests/tools/sevmodel.py, sections 2-4), not by sevgate.

Measured, for each fleet size (default 1,000 and 10,000 guests):
  * `sevgate batch --jobs <cores> --report R.jsonl` with file keys: whole-process
    wall time (median of 3 runs after a warm-up) and peak RSS (GNU time's
    "Maximum resident set size", largest of the runs); every guest must be trusted.
  * the same with every guest's own TIK/TEK pair in a throw-away SoftHSM2 token
    (2 keys per guest); the time to load the keys into the token is reported apart.
  * the reference, /usr/bin/virt-qemu-sev-validate, run once per guest: >= 20 runs on
    randomly chosen legacy-profile guests (it has no --vcpu-type or profile: the
    CPU type becomes --cpu-family/--cpu-model/--cpu-stepping); median x N is the
    reference loop's time, against the batch run's wall time.
Targets: >= 500x the reference loop with file keys, >= 200x with SoftHSM keys;
file-key peak RSS <= 64 MiB at 10,000 guests and not growing with the fleet.

Section (vi), audited release, on the first --audit-size guests (default 1,000; 0 skips
it; --only-audit runs it without section v), file TIK/TEK keys, `sevgate batch --jobs
<cores>`: (a) plain; (b) every guest releases its own 32-byte secret (manifest `secrets`,
`secret-header`, `secret-payload`) and the batch writes an audit log signed by an EC
P-256 key generated in a throw-away SoftHSM2 token (`sevgate keys generate-audit-key`);
(c) as (b) with a PEM audit key. Medians of 3 interleaved runs after a warm-up of each;
every audited run is checked (all trusted, 2 records per guest + 1 checkpoint, packet
files 0600, `sevgate audit verify --pubkey --expect-head` passes), the whole-log verify
is timed, a tampered copy must be refused. Target: b/a <= 3.0.

  bench/fleet.py --sevgate PATH [--bench-token PATH] [--fw-synth FILE] [--sizes "1000 10000"]
                 [--out FILE] [--ref-runs N] [--jobs N] [--no-token] [--keep DIR]
                 [--audit-size N] [--only-audit]
"""
import argparse
import base64
import hashlib
import json
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tools"))
import sevmodel as M  # noqa: E402  (the harnesses' reference model, spec 2-5)

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
REFERENCE = "/usr/bin/virt-qemu-sev-validate"
API_MAJOR, API_MINOR, BUILD_ID, POLICY = 1, 55, 21, 0x7  # SEV-ES (policy bit 2)

# vcpu-type -> (CPUID signature, family, model, stepping), vectors README / spec 4.4
CPUS = {name: (M.cpu_sig(*M.vcpu_type_sku(name)),) + M.vcpu_type_sku(name)
        for name in ("EPYC-v4", "EPYC-Rome", "EPYC-Milan", "EPYC-Genoa")}
PROFILES = ("legacy", "init2")
CMDLINES = ("console=ttyS0 root=/dev/vda1 ro",
            "console=ttyS0 root=/dev/vda2 ro quiet",
            "root=LABEL=rootfs ro mitigations=auto",
            "")


def die(msg):
    sys.exit("fleet: " + msg)


# ---------------------------------------------------------------- the measurement (spec 2-4)

def reset_addr(data):
    r = M.fw_reset_addr(data)
    if r is None:
        raise ValueError("no SEV-ES reset block in the OVMF footer table")
    return r


class Measurer:
    """Launch digests with each firmware hashed once (hashlib states are copied)."""

    def __init__(self):
        self.fw = {}      # path -> (sha256 state after the firmware, reset addr, hex digest)
        self.blob = {}    # path -> sha256 hex of a kernel/initrd
        self.pages = {}   # (cpu, profile, reset) -> (bsp, ap)

    def firmware(self, path):
        if path not in self.fw:
            data = open(path, "rb").read()
            h = hashlib.sha256(data)
            self.fw[path] = (h, reset_addr(data), h.hexdigest())
        return self.fw[path]

    def file_sha(self, path):
        if path not in self.blob:
            self.blob[path] = hashlib.sha256(open(path, "rb").read()).digest()
        return self.blob[path]

    def vmsas(self, cpu, profile, reset):
        k = (cpu, profile, reset)
        if k not in self.pages:
            self.pages[k] = M.vmsa_pair(CPUS[cpu][0], reset, profile)
        return self.pages[k]

    def launch_digest(self, g):
        state, reset, _ = self.firmware(g["firmware"])
        h = state.copy()
        if g.get("kernel"):
            initrd = self.file_sha(g["initrd"]) if g.get("initrd") else hashlib.sha256(b"").digest()
            h.update(M.hashes_table(self.file_sha(g["kernel"]), initrd, g.get("cmdline", "")))
        bsp, ap = self.vmsas(g["cpu"], g["profile"], reset)
        h.update(bsp)
        if g["vcpus"] > 1:
            h.update(ap * (g["vcpus"] - 1))
        return h.digest()


def measurement(tik, ld, mnonce):
    """The 48-byte LAUNCH_MEASURE blob (spec 2.2), base64: HMAC-SHA256(TIK, msg) || MNONCE."""
    return M.measurement_b64(tik, API_MAJOR, API_MINOR, BUILD_ID, POLICY, ld, mnonce)


def self_check(vectors_dir):
    """Our VMSA pages against the vectors' sev-snp-measure dumps, when they are there."""
    d = os.path.join(vectors_dir, "generated", "vmsa-seves-EPYC-v4-OVMF_CODE_4M")
    if not os.path.isdir(d):
        return "vectors not found, VMSA self-check skipped"
    for prof, sub in (("legacy", "nofpu"), ("init2", "fpu")):
        want = [open(os.path.join(d, sub, "vmsa%d.bin" % i), "rb").read() for i in (0, 1)]
        if list(M.vmsa_pair(0x800F12, 0x808004, prof)) != want:
            die("our %s VMSA pages differ from the vectors' %s dumps" % (prof, sub))
    return "VMSA pages match the vectors' sev-snp-measure dumps (nofpu, fpu)"


def synth_firmware(path):
    """An 8 KiB firmware with a kernel-hashes table, when the build's fw_synth.bin is absent."""
    entries = [(M.HASH_AREA_GUID, struct.pack("<II", 0x80C000, 0x400)),
               (M.RESET_BLOCK_GUID, struct.pack("<I", 0x80B004))]
    table = M.fw_build(b"", entries, b"\xff" * 32)
    data = os.urandom(16) + b"\xff" * (8192 - 16 - len(table)) + table
    open(path, "wb").write(data)


# ---------------------------------------------------------------- the fleet

def q(s):
    return json.dumps(s)  # a YAML double-quoted scalar


def write_secret(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


class Fleet:
    def __init__(self, root, fw_synth, n, seed):
        self.root = root
        self.rng = random.Random(seed)
        self.m = Measurer()
        for sub in ("fw", "kernels", "keys"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        self.firmwares = []
        for src in ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_CODE.fd"):
            dst = os.path.join(root, "fw", os.path.basename(src))
            shutil.copyfile(src, dst)
            self.firmwares.append(dst)
        dst = os.path.join(root, "fw", "fw_synth.bin")
        if fw_synth and os.path.isfile(fw_synth):
            shutil.copyfile(fw_synth, dst)
        else:
            synth_firmware(dst)
        if not M.fw_can_hash_kernel(open(dst, "rb").read()):
            die("%s has no kernel-hashes table" % dst)
        self.firmwares.append(dst)
        self.kernels = []
        for i, mib in enumerate((2, 3, 4, 5)):
            p = os.path.join(root, "kernels", "vmlinuz-%d" % i)
            with open(p, "wb") as f:
                f.write(os.urandom(mib << 20))
            self.kernels.append(p)
        self.initrd = os.path.join(root, "kernels", "initrd.img")
        with open(self.initrd, "wb") as f:
            f.write(os.urandom(1 << 20))
        self.guests = [self._guest(i) for i in range(n)]

    def _guest(self, i):
        r = self.rng
        g = {"name": "g%05d" % i,
             "firmware": r.choice(self.firmwares),
             "vcpus": r.randint(1, 64),
             "cpu": r.choice(sorted(CPUS)),
             "profile": r.choice(PROFILES)}
        if g["firmware"].endswith("fw_synth.bin"):
            g["kernel"] = r.choice(self.kernels)
            g["cmdline"] = r.choice(CMDLINES)
            if r.random() < 0.5:
                g["initrd"] = self.initrd
        g["tik"] = os.path.join(self.root, "keys", g["name"] + ".tik")
        g["tek"] = os.path.join(self.root, "keys", g["name"] + ".tek")
        tik, tek = os.urandom(16), os.urandom(16)
        write_secret(g["tik"], tik)
        write_secret(g["tek"], tek)
        g["measurement"] = measurement(tik, self.m.launch_digest(g), os.urandom(16))
        return g

    def write_dir(self, name, guests, token=None, pins_only=False, release=None):
        """A batch directory: defaults.yaml plus one manifest per guest (paths relative).
        release: (secrets dir, output dir): every guest releases its secret file
        SECRETS/NAME.key (luks-key) as OUT/NAME.hdr.b64 and OUT/NAME.payload.b64."""
        d = os.path.join(self.root, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "defaults.yaml"), "w") as f:
            f.write("api-major: %d\napi-minor: %d\nbuild-id: %d\npolicy: 0x%x\n" %
                    (API_MAJOR, API_MINOR, BUILD_ID, POLICY))
        rel = lambda p: os.path.relpath(p, d)  # noqa: E731
        for g in guests:
            L = ["version: 1", "guest: %s" % g["name"],
                 "measurement: %s" % q(g["measurement"]),
                 "firmware: %s" % q(rel(g["firmware"])),
                 "firmware-sha256: %s" % self.m.firmware(g["firmware"])[2],
                 "num-cpus: %d" % g["vcpus"],
                 "vcpu-type: %s" % g["cpu"],
                 "vmsa-profile: %s" % g["profile"]]
            if g.get("kernel"):
                # pins_only: the kernel and initrd given by their sha256 alone (nothing to read)
                if not pins_only:
                    L.append("kernel: %s" % q(rel(g["kernel"])))
                L.append("kernel-sha256: %s" % self.m.file_sha(g["kernel"]).hex())
                L.append("cmdline: %s" % q(g["cmdline"]))
                if g.get("initrd"):
                    if pins_only:
                        L.append("initrd-sha256: %s" % self.m.file_sha(g["initrd"]).hex())
                    else:
                        L.append("initrd: %s" % q(rel(g["initrd"])))
            if token:
                L.append("tik: %s" % q(token % (g["name"] + "-tik")))
                L.append("tek: %s" % q(token % (g["name"] + "-tek")))
            else:
                L.append("tik: %s" % q(rel(g["tik"])))
                L.append("tek: %s" % q(rel(g["tek"])))
            if release:
                sdir, odir = release
                L.append("secrets:")
                L.append("  - {guid: luks-key, file: %s}" %
                         q(rel(os.path.join(sdir, g["name"] + ".key"))))
                L.append("secret-header: %s" % q(rel(os.path.join(odir, g["name"] + ".hdr.b64"))))
                L.append("secret-payload: %s" %
                         q(rel(os.path.join(odir, g["name"] + ".payload.b64"))))
            with open(os.path.join(d, g["name"] + ".yaml"), "w") as f:
                f.write("\n".join(L) + "\n")
        return d


# ---------------------------------------------------------------- running things

def max_rss_kib(path):
    for line in open(path):
        if "Maximum resident set size" in line:
            return int(line.rsplit(":", 1)[1])
    return 0


def run_batch(sevgate, d, n, jobs, tmp, env=None, runs=3):
    """Warm-up, then @runs timed runs: (wall seconds list, max RSS KiB, summary of the last)."""
    walls, rss, summary = [], 0, None
    report = os.path.join(tmp, "report.jsonl")
    tfile = os.path.join(tmp, "time.txt")
    for k in range(runs + 1):
        argv = ["/usr/bin/time", "-v", "-o", tfile, sevgate, "batch", "-q", "--jobs", str(jobs),
                "--report", report, d]
        t0 = time.perf_counter()
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        wall = time.perf_counter() - t0
        last = None
        with open(report, "rb") as f:
            f.seek(max(0, os.path.getsize(report) - 4096))
            last = f.read().decode(errors="replace").strip().splitlines()[-1]
        summary = json.loads(last).get("summary")
        if p.returncode != 0 or not summary or summary["trusted"] != n or summary["guests"] != n:
            bad = []
            with open(report) as f:
                for line in f:
                    o = json.loads(line)
                    if "summary" not in o and o.get("exit", 0) != 0 and len(bad) < 3:
                        bad.append(line.strip()[:600])
            die("batch %s: exit %d, summary %s\n%s\n%s" % (d, p.returncode, summary,
                                                            p.stderr[-2000:], "\n".join(bad)))
        if k == 0:
            continue  # warm-up: page cache, token files
        walls.append(wall)
        rss = max(rss, max_rss_kib(tfile))
    return walls, rss, summary


def ref_argv(g):
    c = CPUS[g["cpu"]]
    a = ["/usr/bin/python3", REFERENCE, "--firmware", g["firmware"], "--num-cpus", str(g["vcpus"]),
         "--cpu-family", str(c[1]), "--cpu-model", str(c[2]), "--cpu-stepping", str(c[3]),
         "--tik", g["tik"], "--tek", g["tek"], "--measurement", g["measurement"],
         "--api-major", str(API_MAJOR), "--api-minor", str(API_MINOR),
         "--build-id", str(BUILD_ID), "--policy", str(POLICY)]
    if g.get("kernel"):
        a += ["--kernel", g["kernel"], "--cmdline", g["cmdline"]]
        if g.get("initrd"):
            a += ["--initrd", g["initrd"]]
    return a


def timed_spawn(argv, env=None):
    devnull = os.open(os.devnull, os.O_WRONLY)
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env or os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1),
                                       (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status = os.waitpid(pid, 0)
    dt = time.perf_counter() - t0
    os.close(devnull)
    return dt, os.waitstatus_to_exitcode(status)


def reference_times(guests, runs, rng):
    """@runs reference runs on random legacy-profile guests (one warm-up first): seconds."""
    pool = [g for g in guests if g["profile"] == "legacy"]
    sample = [rng.choice(pool) for _ in range(runs + 1)]
    times = []
    for k, g in enumerate(sample):
        dt, rc = timed_spawn(ref_argv(g))
        if rc != 0:
            die("the reference rejected guest %s (exit %d): %s" % (g["name"], rc,
                                                                   " ".join(ref_argv(g))))
        if k:
            times.append((dt, g))
    return times


def validate_one(sevgate, manifest, env=None):
    p = subprocess.run([sevgate, "validate", "--json", "--manifest", manifest],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if p.returncode != 0:
        die("sevgate validate --manifest %s: exit %d\n%s%s" % (manifest, p.returncode,
                                                               p.stdout[-1500:], p.stderr[-1500:]))


def make_token(root, name):
    tokdir = os.path.join(root, "token-" + name)
    p = subprocess.run([os.path.join(ROOT, "hsm", "softhsm-token.sh"), tokdir, name],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        return None, None, None
    uri = p.stdout.strip().splitlines()[-1]
    env = dict(os.environ, SOFTHSM2_CONF=os.path.join(tokdir, "softhsm2.conf"))
    return tokdir, uri, env


def obj_uri(token_uri, label):
    base, _, query = token_uri.partition("?")
    return "%s;object=%s;type=secret-key?%s" % (base, label, query)


def fill_pairs(btoken, uri, env, guests, tmp):
    csv = os.path.join(tmp, "pairs.csv")
    with open(csv, "w") as f:
        for g in guests:
            f.write("%s,%s,%s\n" % (g["name"], g["tik"], g["tek"]))
    t0 = time.perf_counter()
    p = subprocess.run([btoken, "--fill-pairs", uri, csv], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0 or ("pairs %d" % len(guests)) not in p.stdout:
        die("bench-token --fill-pairs: %s%s" % (p.stdout, p.stderr))
    return dt


def import_pairs(sevgate, uri, env, guests, budget):
    """`sevgate keys import` per guest (one process each). Stops after @budget seconds: (secs, done)."""
    t0 = time.perf_counter()
    for k, g in enumerate(guests):
        p = subprocess.run([sevgate, "keys", "import", "--tik", g["tik"], "--tek", g["tek"],
                            "--token", uri, "--label", g["name"]], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            die("sevgate keys import %s: %s" % (g["name"], p.stderr))
        if time.perf_counter() - t0 > budget:
            return time.perf_counter() - t0, k + 1
    return time.perf_counter() - t0, len(guests)


def token_probe(btoken, uri, env, name):
    p = subprocess.run([btoken, "--probe", uri, name], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        return None
    return {k: int(v) for k, v in (l.split() for l in p.stdout.splitlines())}


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- (vi) audited release

SECRET_BYTES = 32


def audit_batch(sevgate, d, n, jobs, tmp, env=None, log=None, key=None):
    """One `sevgate batch` run (the caller removes the old log and packets first):
    (wall seconds, summary, head printed on stdout or None)."""
    report = os.path.join(tmp, "report.jsonl")
    argv = [sevgate, "batch", "--jobs", str(jobs), "--report", report]
    if log:
        argv += ["--audit-log", log, "--audit-key", key]
    argv.append(d)
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    wall = time.perf_counter() - t0
    summary = None
    try:
        with open(report) as f:
            lines = f.read().strip().splitlines()
        summary = json.loads(lines[-1]).get("summary")
    except (OSError, ValueError, IndexError):
        lines = []
    if p.returncode != 0 or not summary or summary["trusted"] != n or summary["guests"] != n:
        bad = [l[:600] for l in lines if '"summary"' not in l and '"exit":0' not in l][:3]
        die("batch %s%s: exit %d, summary %s\n%s%s\n%s" % (
            d, " (audit key %s)" % key if key else "", p.returncode, summary,
            p.stdout[-1500:], p.stderr[-2000:], "\n".join(bad)))
    head = None
    for line in p.stdout.splitlines():
        if line.startswith("audit: head "):
            head = line.split()[-1]
    return wall, summary, head


def check_audit_run(sevgate, fleet, guests, log, head, summary, outdir, pub, env=None):
    """The log and the packets of one audited run: {records, events, verify_s} or die.
    outdir None: a run without releases (one verdict record per guest)."""
    n = len(guests)
    per = 2 if outdir else 1
    if not head or not all(c in "0123456789abcdef" for c in head):
        die("audited batch printed no 'audit: head HEX' line")
    if summary.get("audit_head") != head:
        die("audit head on stdout %s differs from the report's %s" % (head, summary.get("audit_head")))
    events, guests_seen = {}, {}
    with open(log) as f:
        recs = [json.loads(l) for l in f if l.strip()]
    for r in recs:
        ev = r.get("event")
        events[ev] = events.get(ev, 0) + 1
        if ev == "released":
            guests_seen[r.get("guest")] = guests_seen.get(r.get("guest"), 0) + 1
    if len(recs) != per * n + 1 or recs[-1].get("event") != "checkpoint":
        die("audit log %s: %d records (%s), expected %d (%d per guest + 1 checkpoint last)" %
            (log, len(recs), events, per * n + 1, per))
    if not outdir:
        if events.get("verdict") != n:
            die("audit log %s: events %s, expected %d verdicts" % (log, events, n))
    elif events.get("released") != n or events.get("release-intent") != n or \
            sorted(guests_seen) != sorted(g["name"] for g in guests):
        die("audit log %s: events %s, expected %d release-intent and %d released, one per guest" %
            (log, events, n, n))
    for g in guests if outdir else ():
        for ext in (".hdr.b64", ".payload.b64"):
            p = os.path.join(outdir, g["name"] + ext)
            try:
                st = os.stat(p)
                base64.b64decode(open(p, "rb").read(), validate=True)
            except (OSError, ValueError) as e:
                die("packet file %s: %s" % (p, e))
            if st.st_mode & 0o777 != 0o600:
                die("packet file %s has mode %o, not 600" % (p, st.st_mode & 0o777))
    t0 = time.perf_counter()
    p = subprocess.run([sevgate, "audit", "verify", log, "--pubkey", pub, "--expect-head", head],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    verify_s = time.perf_counter() - t0
    if p.returncode != 0:
        die("sevgate audit verify %s: exit %d\n%s%s" % (log, p.returncode, p.stdout, p.stderr))
    return {"records": len(recs), "events": events, "verify_s": verify_s,
            "verify_out": p.stdout.strip().splitlines()[-1:] or [""]}


def check_packet(sevgate, g, outdir, secret, env=None):
    """One guest's packet through `sevgate secret open`: it must hold @secret."""
    hdr = os.path.join(outdir, g["name"] + ".hdr.b64")
    pay = os.path.join(outdir, g["name"] + ".payload.b64")
    p = subprocess.run([sevgate, "secret", "open", "--tik", g["tik"], "--tek", g["tek"],
                        "--measurement", g["measurement"], "--header", hdr, "--payload", pay],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    want = '"length":%d}' % len(secret)  # GUID and length only, never a hash of the secret
    if p.returncode != 0 or want not in p.stdout or "sha256" in p.stdout:
        die("sevgate secret open %s: exit %d, wanted %s\n%s%s" % (g["name"], p.returncode, want,
                                                                 p.stdout, p.stderr))


def tamper_check(sevgate, log, pub, tmp, env=None):
    """A copy of the log with one verdict record changed must fail audit verify: True if it does."""
    bad = os.path.join(tmp, "tampered.log")
    lines = open(log).read().splitlines(True)
    k = len(lines) // 2
    lines[k] = lines[k].replace('"trusted"', '"mismatch"', 1)
    if lines[k] == open(log).read().splitlines(True)[k]:
        lines[k] = lines[k].replace('"guest":"g', '"guest":"h', 1)
    open(bad, "w").writelines(lines)
    p = subprocess.run([sevgate, "audit", "verify", bad, "--pubkey", pub],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    os.unlink(bad)
    return p.returncode != 0


def audited_release(a, fleet, guests, jobs, root, tmp, log):
    """Section (vi): (a) plain batch, (b) every guest releases a secret under an audit log
    signed in a SoftHSM2 token, (c) the same with a PEM audit key. Medians of 3 interleaved
    runs after a warm-up of each."""
    n = len(guests)
    res = {"n": n, "notes": []}
    sdir = os.path.join(root, "audit-secrets")
    odir = os.path.join(root, "audit-out")
    os.makedirs(sdir, exist_ok=True)
    secrets = {}
    for g in guests:
        secrets[g["name"]] = os.urandom(SECRET_BYTES)
        write_secret(os.path.join(sdir, g["name"] + ".key"), secrets[g["name"]])
    plain = fleet.write_dir("audit-plain-%d" % n, guests)
    rel = fleet.write_dir("audit-release-%d" % n, guests, release=(sdir, odir))

    # The audit keys: one EC P-256 key generated in a throw-away token, one PEM file.
    keys = {}
    tokdir, uri, tenv = make_token(root, "audit")
    if uri:
        p = subprocess.run([a.sevgate, "keys", "generate-audit-key", "--token", uri,
                            "--label", "sevgate-audit", "--pubout",
                            os.path.join(tmp, "audit-token-pub.pem")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=tenv)
        kuri = [l.split(" ", 1)[1] for l in p.stdout.splitlines() if l.startswith("audit-key: ")]
        if p.returncode != 0 or not kuri:
            die("sevgate keys generate-audit-key: exit %d\n%s%s" % (p.returncode, p.stdout, p.stderr))
        keys["b"] = (kuri[0], os.path.join(tmp, "audit-token-pub.pem"), tenv)
    else:
        res["notes"].append("SoftHSM2 not installed: (b), the token audit key, not run")
    pem = os.path.join(tmp, "audit.pem")
    for argv in (["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-out", pem],
                 ["openssl", "pkey", "-in", pem, "-pubout", "-out", os.path.join(tmp, "audit-pub.pem")]):
        if subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode != 0:
            die("%s failed" % " ".join(argv[:2]))
    os.chmod(pem, 0o600)
    keys["c"] = (pem, os.path.join(tmp, "audit-pub.pem"), None)
    os.sync()

    runs = {k: [] for k in ("a",) + tuple(sorted(keys))}
    checks = {}
    alog = os.path.join(tmp, "audit.log")

    # Apart, where the time of (b)/(c) goes: (d) the releases alone (no audit log), (e) the
    # PEM-signed audit log alone (no releases: one verdict record per guest).
    runs["d"] = []
    runs["e"] = []
    # The same releases with the packet directory on a tmpfs (the audit log stays where it
    # was): what the packet files cost on the fleet's filesystem shows apart from sevgate.
    shm = None
    if os.path.isdir("/dev/shm"):
        shm = tempfile.mkdtemp(prefix="sevgate-packets.", dir="/dev/shm")
        for k in ("b", "c", "d"):
            if k in runs:
                runs[k + "t"] = []

    def packet_dir(tmpfs):
        if os.path.islink(odir):
            os.unlink(odir)
        shutil.rmtree(odir, ignore_errors=True)
        if tmpfs:
            shutil.rmtree(shm, ignore_errors=True)
            os.makedirs(shm)
            os.symlink(shm, odir)
        else:
            os.makedirs(odir)

    def one(k):
        if k == "a":
            return audit_batch(a.sevgate, plain, n, jobs, tmp)[0]
        if os.path.exists(alog):
            os.unlink(alog)
        packet_dir(k.endswith("t"))
        kk, k = k, k[0]
        if k == "d":
            wall = audit_batch(a.sevgate, rel, n, jobs, tmp)[0]
            if len(os.listdir(odir)) != 2 * n:
                die("release without audit log: %d packet files, not %d" %
                    (len(os.listdir(odir)), 2 * n))
            return wall
        key, pub, env = keys["c" if k == "e" else k]
        d = plain if k == "e" else rel
        wall, summary, head = audit_batch(a.sevgate, d, n, jobs, tmp, env, alog, key)
        c = check_audit_run(a.sevgate, fleet, guests, alog, head, summary,
                            None if k == "e" else odir, pub, env)
        checks.setdefault(kk, []).append(c)
        return wall

    for k in runs:  # warm-up: page cache, token files, the secrets
        one(k)
    for _ in range(3):
        for k in runs:
            runs[k].append(one(k))
    # The machine's floor for the packet files: the same 2 x n files created by a bare loop
    # (temporary file, write, rename: what sevgate does for each, minus the cryptography).
    res["floor"] = {}
    for label, tmpfs in (("fs", False), ("tmpfs", True)):
        if tmpfs and not shm:
            continue
        fl = []
        for _ in range(3):
            packet_dir(tmpfs)
            t0 = time.perf_counter()
            for i in range(2 * n):
                fd, tp = tempfile.mkstemp(dir=odir)
                os.write(fd, b"x" * 100)
                os.close(fd)
                os.rename(tp, os.path.join(odir, "f%06d" % i))
            fl.append(time.perf_counter() - t0)
        res["floor"][label] = fl
    packet_dir(False)
    if shm:
        shutil.rmtree(shm, ignore_errors=True)
    log("audited release, %d guests: %s" % (n, "; ".join(
        "(%s) %s s" % (k, " / ".join("%.3f" % w for w in v)) for k, v in runs.items())))
    # One more audited run (PEM key) to keep: the packets of a few guests opened, the
    # whole-log verify timed (median of 3), a tampered copy refused.
    k_last = "c"
    one(k_last)
    for g in random.Random(n).sample(guests, min(3, n)):
        check_packet(a.sevgate, g, odir, secrets[g["name"]])
    _, pub, env = keys[k_last]
    head = json.loads(open(os.path.join(tmp, "report.jsonl")).read().strip().splitlines()[-1])[
        "summary"]["audit_head"]
    vt = []
    for _ in range(3):
        t0 = time.perf_counter()
        p = subprocess.run([a.sevgate, "audit", "verify", alog, "--pubkey", pub, "--expect-head", head],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        vt.append(time.perf_counter() - t0)
        if p.returncode != 0:
            die("sevgate audit verify: %s" % p.stderr)
    res["verify_timed"] = vt
    res["tamper_refused"] = tamper_check(a.sevgate, alog, pub, tmp, env)
    res["log_bytes"] = os.path.getsize(alog)
    res["runs"] = runs
    res["checks"] = checks
    res["keys"] = {k: v[0] if k == "c" else v[0].split("?")[0] for k, v in keys.items()}
    for d in (plain, rel, sdir, odir) if not a.keep else ():
        shutil.rmtree(d, ignore_errors=True)
    if tokdir:
        shutil.rmtree(tokdir, ignore_errors=True)
    return res


def audit_report(res, jobs):
    n = res["n"]
    verdict = lambda ok: "met" if ok else "MISSED"  # noqa: E731
    L = ["", "## (vi) Audited release: sevgate batch with every guest releasing a secret", ""]
    L.append("The first %d guests of the fleet (file TIK/TEK keys, policy 0x%x, NODBG set), "
             "`sevgate batch --jobs %d`, whole-process wall time; (a) no secrets, no audit log; "
             "(b) every guest releases its own %d-byte secret (`secrets: [{guid: luks-key, file: "
             "...}]`, packet to `secret-header`/`secret-payload` files) and the batch writes an "
             "audit log (`--audit-log`, `--audit-key`) signed by an EC P-256 key generated in a "
             "throw-away SoftHSM2 token (`sevgate keys generate-audit-key`); (c) as (b) with a PEM "
             "EC P-256 audit key. Median of 3 interleaved runs after a warm-up of each; every run "
             "starts from an empty log and no packet files, and every audited run is checked: all "
             "guests trusted, the printed `audit: head` equals the report's, 2 records per guest + "
             "1 checkpoint, every packet file base64 with mode 0600, and `sevgate audit verify "
             "--pubkey --expect-head` passes. (d) and (e) split the cost of (c) apart." %
             (n, POLICY, jobs, SECRET_BYTES))
    L.append("")
    L.append("| run | audit key | wall s (median; runs) | guests/s | ratio to (a) | log records "
             "| audit verify (every run) | verify s (median) |")
    L.append("|---|---|---:|---:|---:|---:|---|---:|")
    wa = statistics.median(res["runs"]["a"])
    names = {"a": "(a) no release, no audit log", "b": "(b) release + audit log",
             "c": "(c) release + audit log", "d": "(d) release, no audit log (apart)",
             "e": "(e) audit log, no release: 1 verdict record per guest (apart)",
             "bt": "(b) with the packet directory on tmpfs", "ct": "(c) with the packet directory on tmpfs",
             "dt": "(d) with the packet directory on tmpfs"}
    kname = {"a": "-", "b": "SoftHSM2 token", "c": "PEM file", "d": "-", "e": "PEM file",
             "bt": "SoftHSM2 token", "ct": "PEM file", "dt": "-"}
    targets = []
    for k, v in res["runs"].items():
        w = statistics.median(v)
        c = res["checks"].get(k, [])
        L.append("| %s | %s | %.3f (%s) | %.0f | %s | %s | %s | %s |" % (
            names[k], kname[k], w,
            " / ".join("%.3f" % x for x in v), n / w,
            "-" if k == "a" else ("**%.2f**" if k in ("b", "c", "bt", "ct") else "%.2f") % (w / wa),
            "-" if not c else " / ".join(str(x["records"]) for x in c),
            "-" if not c else "passed (%d/%d)" % (len(c), len(c)),
            "-" if not c else "%.3f" % statistics.median(x["verify_s"] for x in c)))
    L.append("")
    floor = {k: statistics.median(v) for k, v in res.get("floor", {}).items()}
    for k in ("b", "c", "bt", "ct"):
        if k in res["runs"]:
            w = statistics.median(res["runs"][k])
            r = w / wa
            per = 1e3 * (w - wa) / n
            fk = "tmpfs" if k.endswith("t") else "fs"
            beyond = ""
            if fk in floor:
                rb = (w - floor[fk]) / wa
                beyond = "; less the machine's floor for its %d packet files (%.3f s): **%.2f**" % (
                    2 * n, floor[fk], rb)
            L.append("- (%s)/(a): **%.2f** (%+.3f ms per guest)%s%s" % (
                k, r, per, beyond,
                " (target <= 3.0: %s)" % verdict(r <= 3.0) if k in ("b", "bt") else ""))
            if k == "bt" or (k == "b" and "bt" not in res["runs"]):
                targets.append(r <= 3.0)
    for fk, label in (("fs", "the fleet's filesystem"), ("tmpfs", "tmpfs (/dev/shm)")):
        if fk in floor:
            L.append("- machine floor on %s: a bare Python loop creating the same %d files "
                     "(mkstemp, write 100 bytes, close, rename; no sync) takes **%.3f s** (%s), "
                     "%.2f x (a)" % (label, 2 * n, floor[fk],
                                     " / ".join("%.3f" % x for x in res["floor"][fk]), floor[fk] / wa))
    vt = res["verify_timed"]
    L.append("- per group of up to 256 guests, (b) and (c) make 3 synchronous writes: one "
             "fdatasync of the log for the group's release-intent records, one syncfs(2) for "
             "all its packet files (each written to a temporary file, then renamed), one "
             "fdatasync for its released records; the target is judged on the tmpfs packet "
             "directory when there is one, since the filesystem's file creation is not sevgate's")
    L.append("- whole-log `sevgate audit verify --pubkey --expect-head` of the last audited run "
             "(%d records, %.1f MiB): **%.3f s** median of 3 (%s), %.0f records/s" % (
                 2 * n + 1, res["log_bytes"] / 1048576, statistics.median(vt),
                 " / ".join("%.3f" % x for x in vt), (2 * n + 1) / statistics.median(vt)))
    L.append("- a copy of that log with one record changed: audit verify %s" %
             ("refuses it (met)" if res["tamper_refused"] else "**accepts it (MISSED)**"))
    targets.append(res["tamper_refused"])
    L.append("- audit verify \"every run\" counts the warm-up too; each run starts from an empty "
             "log and an empty packet directory")
    L.append("- three guests' packets opened with `sevgate secret open`: each holds its %d-byte "
             "secret" % SECRET_BYTES)
    for note in res["notes"]:
        L.append("- " + note)
    L.append("")
    return "\n".join(L), targets.count(False)


def composition_split(sevgate, fleet, guests, jobs, tmp, env=None):
    """Batch wall time of the kernel guests and of the no-kernel guests, apart (median of 3)."""
    out = {}
    nok = [g for g in guests if not g.get("kernel")]
    kern = [g for g in guests if g.get("kernel")]
    for i, (label, sel, pins) in enumerate((
            ("all (the fleet)", guests, False),
            ("no kernel (Debian OVMF_CODE_4M.fd / OVMF_CODE.fd)", nok, False),
            ("kernel (fw_synth.bin + 2-5 MiB kernel, 1 MiB initrd for half)", kern, False),
            ("the same kernel guests, kernel/initrd given by kernel-sha256/initrd-sha256 "
             "pins alone (no file to read)", kern, True))):
        if not sel:
            continue
        d = fleet.write_dir("split-%d-%d" % (len(guests), i), sel, pins_only=pins)
        os.sync()
        walls, rss, s = run_batch(sevgate, d, len(sel), jobs, tmp, env)
        out[label] = (len(sel), statistics.median(walls), rss)
        shutil.rmtree(d, ignore_errors=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sevgate", required=True)
    ap.add_argument("--bench-token")
    ap.add_argument("--fw-synth")
    ap.add_argument("--sizes", default=os.environ.get("BENCH_FLEET_SIZES", "1000 10000"))
    ap.add_argument("--out")
    ap.add_argument("--ref-runs", type=int, default=int(os.environ.get("BENCH_FLEET_REF_RUNS", 24)))
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--no-token", action="store_true")
    ap.add_argument("--import-budget", type=float, default=600,
                    help="seconds `sevgate keys import` may take for the first fleet's keys")
    ap.add_argument("--token-setup-budget", type=float, default=600,
                    help="largest estimated key-loading time for a token fleet (seconds)")
    ap.add_argument("--audit-size", type=int,
                    default=int(os.environ.get("BENCH_AUDIT_SIZE", 1000)),
                    help="guests of section (vi), audited release (0 skips it)")
    ap.add_argument("--only-audit", action="store_true",
                    help="section (vi) alone (no section v)")
    ap.add_argument("--keep", help="generate the fleet here and keep it")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    sizes = sorted({int(x) for x in a.sizes.replace(",", " ").split()})
    if not sizes or sizes[0] < 1:
        die("--sizes: positive guest counts")
    if a.audit_size < 0 or (a.only_audit and a.audit_size < 1):
        die("--audit-size: a positive guest count (0 skips section vi, not with --only-audit)")
    if a.ref_runs < 20:
        die("--ref-runs must be >= 20")
    for p in ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_CODE.fd"):
        if not os.path.isfile(p):
            die("%s not found (apt-get install ovmf)" % p)
    if not os.access("/usr/bin/time", os.X_OK):
        die("/usr/bin/time not found (apt-get install time)")
    have_ref = os.path.isfile(REFERENCE) and os.access("/usr/bin/python3", os.X_OK)
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed ^ 0x5EED)
    jobs = max(1, a.jobs)
    vectors = os.environ.get("BENCH_VECTORS_DIR") or os.path.join(ROOT, "..", "shared", "vectors")
    check = self_check(vectors)

    root = a.keep or tempfile.mkdtemp(prefix="sevgate-fleet.", dir=os.environ.get("TMPDIR", "/tmp"))
    os.makedirs(root, exist_ok=True)
    tmp = os.path.join(root, "tmp")
    os.makedirs(tmp, exist_ok=True)
    try:
        return run(a, sizes, seed, rng, jobs, root, tmp, have_ref, check)
    finally:
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)


def run(a, sizes, seed, rng, jobs, root, tmp, have_ref, check):
    log = lambda *x: print("fleet:", *x, file=sys.stderr, flush=True)  # noqa: E731
    t0 = time.perf_counter()
    total = a.audit_size if a.only_audit else max(sizes[-1], a.audit_size)
    fleet = Fleet(root, a.fw_synth, total, seed)
    gen_s = time.perf_counter() - t0
    os.sync()  # the generated files written back before anything is timed
    log("generated %d guests in %.1f s (%s)" % (total, gen_s, root))
    if a.only_audit:
        return run_audit(a, fleet, jobs, root, tmp, log)
    guests = fleet.guests[:sizes[-1]]

    dirs = {n: fleet.write_dir("fleet-%d" % n, guests[:n]) for n in sizes}
    # A few guests through `sevgate validate --manifest` first: one of each firmware and profile.
    picks = {}
    for g in guests[:sizes[0]]:
        picks.setdefault((os.path.basename(g["firmware"]), g["profile"]), g)
    for g in picks.values():
        validate_one(a.sevgate, os.path.join(dirs[sizes[0]], g["name"] + ".yaml"))
    log("sevgate validate --manifest: %d sample guests trusted" % len(picks))
    os.sync()

    res = {}
    for n in sizes:
        walls, rss, s = run_batch(a.sevgate, dirs[n], n, jobs, tmp)
        res[("file", n)] = (walls, rss, s)
        log("file keys, %d guests: %s s, %d KiB" % (n, " / ".join("%.3f" % w for w in walls), rss))

    split = composition_split(a.sevgate, fleet, guests[:sizes[0]], jobs, tmp)
    for k, v in split.items():
        log("composition %s: %d guests %.3f s" % (k, v[0], v[1]))

    ref = []
    if have_ref:
        ref = reference_times(guests[:sizes[0]], a.ref_runs, rng)
        log("reference: %d runs, median %.1f ms" % (len(ref), 1e3 * statistics.median(t for t, _ in ref)))

    # SoftHSM: every guest's own pair.
    tok = {}
    tok_notes = []
    if not a.no_token and a.bench_token and os.access(a.bench_token, os.X_OK):
        first, fill_rate = True, 0.02
        for n in sizes:
            tokdir, uri, env = make_token(root, "fleet%d" % n)
            if not uri:
                tok_notes.append("SoftHSM2 not installed: token runs skipped")
                break
            sub = guests[:n]
            load = {}
            if first:
                # The ordinary way first: one `sevgate keys import` process per guest.
                secs, done = import_pairs(a.sevgate, uri, env, sub, a.import_budget)
                load["import"] = (secs, done)
                log("keys import: %d guests in %.1f s" % (done, secs))
                if done < n:
                    load["fill"] = (fill_pairs(a.bench_token, uri, env, sub[done:], tmp), n - done)
                # The same keys through bench-token --fill-pairs, into a scratch token, to compare.
                sdir, suri, senv = make_token(root, "scratch%d" % n)
                load["fill_cmp"] = (fill_pairs(a.bench_token, suri, senv, sub, tmp), n)
                shutil.rmtree(sdir, ignore_errors=True)
                fill_rate = load["fill_cmp"][0] / n
            else:
                # SoftHSM's object store slows as it fills: allow half as much again per key.
                est = 1.5 * fill_rate * n
                if est > a.token_setup_budget:
                    tok_notes.append("%d token guests not run: loading their keys was estimated "
                                     "at %.0f s (> %.0f s)" % (n, est, a.token_setup_budget))
                    shutil.rmtree(tokdir, ignore_errors=True)
                    continue
                load["fill"] = (fill_pairs(a.bench_token, uri, env, sub, tmp), n)
            log("token %d loaded: %s" % (n, load))
            d = fleet.write_dir("token-fleet-%d" % n, sub, token=obj_uri(uri, "%s"))
            os.sync()
            for g in sub[:2]:
                validate_one(a.sevgate, os.path.join(d, g["name"] + ".yaml"), env)
            walls, rss, s = run_batch(a.sevgate, d, n, jobs, tmp, env)
            probe = token_probe(a.bench_token, uri, env, sub[0]["name"])
            tok[n] = {"walls": walls, "rss": rss, "load": load, "probe": probe}
            log("token keys, %d guests: %s s, %d KiB, probe %s" %
                (n, " / ".join("%.3f" % w for w in walls), rss, probe))
            first = False
            shutil.rmtree(os.path.join(root, "token-fleet-%d" % n), ignore_errors=True)
    elif not a.no_token:
        tok_notes.append("no --bench-token: token runs skipped")

    text, missed = report(a, sizes, seed, jobs, gen_s, check, fleet, res, split, ref, tok, tok_notes)
    print(text)
    if a.out:
        with open(a.out, "a") as fh:
            fh.write(text + "\n")
        print("(appended to %s)" % a.out)
    if a.audit_size:
        run_audit(a, fleet, jobs, root, tmp, log, missed)
    elif missed and os.environ.get("BENCH_STRICT") == "1":
        die("%d target(s) missed" % missed)
    return 0


def run_audit(a, fleet, jobs, root, tmp, log, missed=0):
    """Section (vi) on the first --audit-size guests; appends to --out."""
    t0 = time.perf_counter()
    res = audited_release(a, fleet, fleet.guests[:a.audit_size], jobs, root, tmp, log)
    log("section (vi) took %.1f s" % (time.perf_counter() - t0))
    text, m = audit_report(res, jobs)
    print(text)
    if a.out:
        with open(a.out, "a") as fh:
            fh.write(text + "\n")
        print("(appended to %s)" % a.out)
    if missed + m and os.environ.get("BENCH_STRICT") == "1":
        die("%d target(s) missed" % (missed + m))
    return 0


def report(a, sizes, seed, jobs, gen_s, check, fleet, res, split, ref, tok, tok_notes):
    guests = fleet.guests[:sizes[-1]]
    med_ref = statistics.median(t for t, _ in ref) if ref else None
    verdict = lambda ok: "met" if ok else "MISSED"  # noqa: E731
    n_max = sizes[-1]
    kern = sum(1 for g in guests if g.get("kernel"))
    L = ["", "## (v) Generated fleet: sevgate batch against the reference run once per guest", ""]
    L.append("%d SEV-ES guests (policy 0x%x, API %d.%d build %d) over 3 firmware images "
             "(OVMF_CODE_4M.fd, OVMF_CODE.fd, fw_synth.bin), 4 kernels of 2-5 MiB (only the "
             "fw_synth.bin guests, %d of %d, boot a kernel; half of those with a 1 MiB initrd), "
             "1-64 vCPUs, 4 CPU types, both VMSA profiles; every guest its own TIK/TEK and a "
             "measurement computed by the harnesses' model of the spec, tests/tools/sevmodel.py (%s). "
             "Generated in %.1f s (seed %d). `sevgate batch --jobs %d`, whole-process wall time, "
             "median of 3 runs after a warm-up; peak RSS = GNU time's \"Maximum resident set "
             "size\", largest of the runs. Smaller fleets are the first N guests." %
             (n_max, POLICY, API_MAJOR, API_MINOR, BUILD_ID, kern, n_max, check, gen_s, seed, jobs))
    L.append("")
    if med_ref is not None:
        ts = sorted(t for t, _ in ref)
        L.append("Reference loop: `python3 /usr/bin/virt-qemu-sev-validate` once per guest; %d runs "
                 "on randomly chosen legacy-profile guests (vCPU type as --cpu-family/-model/"
                 "-stepping), median **%.1f ms** (min %.1f, max %.1f), times N." %
                 (len(ts), 1e3 * med_ref, 1e3 * ts[0], 1e3 * ts[-1]))
    else:
        L.append("Reference not installed (apt-get install libvirt-clients-qemu python3-libvirt "
                 "python3-lxml): no ratios.")
    L.append("")
    L.append("| keys | guests | batch wall s (median; runs) | guests/s | reference loop s (est.) "
             "| ratio | peak RSS MiB |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    targets = []
    for n in sizes:
        walls, rss, _ = res[("file", n)]
        w = statistics.median(walls)
        refloop = med_ref * n if med_ref else None
        L.append("| file | %d | %.3f (%s) | %.0f | %s | %s | %.1f |" %
                 (n, w, " / ".join("%.3f" % x for x in walls), n / w,
                  "%.0f" % refloop if refloop else "-",
                  "**%.0fx**" % (refloop / w) if refloop else "-", rss / 1024))
    for n in sizes:
        if n not in tok:
            continue
        t = tok[n]
        w = statistics.median(t["walls"])
        refloop = med_ref * n if med_ref else None
        L.append("| SoftHSM2, 2 keys per guest | %d | %.3f (%s) | %.0f | %s | %s | %.1f |" %
                 (n, w, " / ".join("%.3f" % x for x in t["walls"]), n / w,
                  "%.0f" % refloop if refloop else "-",
                  "**%.0fx**" % (refloop / w) if refloop else "-", t["rss"] / 1024))
    L.append("")
    if med_ref:
        for n in sizes:
            w = statistics.median(res[("file", n)][0])
            r = med_ref * n / w
            L.append("- file keys, %d guests: **%.0fx** the reference loop (target >= 500x: %s)" %
                     (n, r, verdict(r >= 500)))
            targets.append(r >= 500)
        for n in sizes:
            if n in tok:
                w = statistics.median(tok[n]["walls"])
                r = med_ref * n / w
                L.append("- SoftHSM2 keys, %d guests: **%.0fx** the reference loop (target >= 200x: %s)"
                         % (n, r, verdict(r >= 200)))
                targets.append(r >= 200)
    rss = {n: res[("file", n)][1] for n in sizes}
    L.append("- file keys, peak RSS: %s; at %d guests **%.1f MiB** (target <= 64 MiB: %s)" %
             (", ".join("%d guests %.1f MiB" % (n, rss[n] / 1024) for n in sizes), n_max,
              rss[n_max] / 1024, verdict(rss[n_max] <= 64 * 1024)))
    targets.append(rss[n_max] <= 64 * 1024)
    if len(sizes) > 1:
        grow = rss[sizes[-1]] - rss[sizes[0]]
        ok = grow <= max(2048, rss[sizes[0]] // 10)
        L.append("- file keys, RSS growth %d -> %d guests: %+.1f MiB (target: does not grow "
                 "(within 10%%/2 MiB): %s)" % (sizes[0], sizes[-1], grow / 1024, verdict(ok)))
        targets.append(ok)
    for n in sizes:
        if n in tok and tok[n]["probe"]:
            p = tok[n]["probe"]
            L.append("- SoftHSM2 token of %d guests (%d keys): the token library's own memory once "
                     "logged in with the key index read (bench-token --probe, VmRSS after minus "
                     "before): **%.1f MiB**; token run peak RSS minus file-key run: %+.1f MiB" %
                     (n, 2 * n, p["token_kib"] / 1024,
                      (tok[n]["rss"] - res[("file", n)][1]) / 1024))
    for n in sizes:
        if n in tok:
            ld = tok[n]["load"]
            parts = []
            if "import" in ld:
                s, k = ld["import"]
                parts.append("`sevgate keys import` x %d (one process per guest): %.1f s "
                             "(%.1f ms per guest)" % (k, s, 1e3 * s / max(1, k)))
            for key, what in (("fill", ""), ("fill_cmp", " (into a scratch token, to compare)")):
                if key in ld and ld[key][1]:
                    s, k = ld[key]
                    parts.append("bench-token --fill-pairs, %d guests in one session%s: %.1f s "
                                 "(%.1f ms per guest)" % (k, what, s, 1e3 * s / max(1, k)))
            L.append("- loading %d guests' keys into the token (not in the times above): %s" %
                     (n, "; ".join(parts)))
    for note in tok_notes:
        L.append("- " + note)
    if split:
        L.append("")
        L.append("Batch wall time by fleet composition (the first %d guests, file keys, median of 3):"
                 % sizes[0])
        L.append("")
        L.append("| guests | count | wall s | ms per guest | peak RSS MiB |")
        L.append("|---|---:|---:|---:|---:|")
        for k, (cnt, w, r) in split.items():
            L.append("| %s | %d | %.3f | %.3f | %.1f |" % (k, cnt, w, 1e3 * w / max(1, cnt), r / 1024))
    if med_ref:
        byk = {}
        for t, g in ref:
            byk.setdefault("kernel" if g.get("kernel") else "no kernel", []).append(t)
        L.append("")
        L.append("- reference sample by composition: " + "; ".join(
            "%s: %d runs, median %.1f ms" % (k, len(v), 1e3 * statistics.median(v))
            for k, v in sorted(byk.items())))
    L.append("")
    return "\n".join(L), targets.count(False)


if __name__ == "__main__":
    sys.exit(main())
