# SPDX-License-Identifier: LGPL-2.1-or-later
"""A SoftHSM token holding many guests' TIK/TEK pairs, manifests naming them by tk: URIs, and
`sevgate batch` over them: shared by token_test.py (the token layer's batch checks) and
tsan_batch.py (the same batches under ThreadSanitizer).

Every pair holds the same TIK and TEK (the spec section 13 keys), so one measurement (TV1 on
the synthetic firmware) fits every guest; each pair has its own labels (gNNNN-tik, gNNNN-tek)
and its own CKA_ID, which its tk: URI names.
"""
import hashlib, json, os, shutil, struct, subprocess, tempfile, uuid

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
TIK = bytes(range(16))
TEK = bytes(range(16, 32))
# spec section 13, TV1: the synthetic firmware, policy 0x3, API 0.24 build 15
TV1_MEASUREMENT = "Jtkm6DPHOLtKnVthiMCUs4dyWKB2Kb5yGoM6nUd3nvqgoaKjpKWmp6ipqqusra6v"
ID_BASE = 0x5E000000


def synth_fw(path):
    b = bytearray(i % 251 for i in range(8192))
    g = lambda s: uuid.UUID(s).bytes_le
    tail = (struct.pack("<IIH", 0x80C000, 0x400, 26) + g("7255371f-3a3b-4b04-927b-1da6efa8d454")
            + struct.pack("<IH", 0x80B004, 22) + g("00f771de-1a7e-4fcb-890e-68c77e2fb44e")
            + struct.pack("<H", 66) + g("96b582de-1fb2-45f7-baea-a366c55a082d")
            + b"\x90" * 16 + b"\x00" * 16)
    b[-98:] = tail
    open(path, "wb").write(b)
    assert hashlib.sha256(b).hexdigest().startswith("f2e01b2a")


def fast_dir(prefix):
    """A scratch directory for a token with many objects, on tmpfs where there is one: SoftHSM
    rewrites an object file (ftruncate, write) for every object it creates, and ext4 flushes a
    truncated file on close, so 2,000 objects take ~20 s on a disk and ~2 s on /dev/shm. The
    caller removes it."""
    shm = "/dev/shm"
    where = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    return tempfile.mkdtemp(prefix=prefix, dir=where)


def pct(data):
    return "".join("%%%02x" % c for c in data)


class PairToken:
    """A SoftHSM token in @d with @n pairs, loaded in one session by bench-token --fill-pairs;
    its PIN in d/pin (pin-source=file:). module-name=softhsm names the real module and
    module-name=shim the fault shim (tests/token/p11-shim.c) in front of it, by the
    sevgate.conf self.conf."""

    def __init__(self, hsm_script, btoken, d, label, n, shim=None, env=None):
        self.dir, self.label, self.n = d, label, n
        env = dict(env or os.environ)
        out = subprocess.run(["bash", hsm_script, os.path.join(d, "hsm"), label],
                             capture_output=True, text=True, check=True, env=env).stdout.split("\n")
        self.conf_softhsm = out[0].split("=", 1)[1]
        self.token_uri = out[1]
        self.pin_file = os.path.join(d, "hsm", "pin")
        self.pin = open(self.pin_file).read()
        self.tokendir = os.path.join(d, "hsm", "tokens")
        for name, data in (("tik", TIK), ("tek", TEK)):
            open(os.path.join(d, name), "wb").write(data)
        self.fw = os.path.join(d, "fw.bin")
        synth_fw(self.fw)
        self.conf = os.path.join(d, "sevgate.conf")
        mods = [("softhsm", SOFTHSM)] + ([("shim", shim)] if shim else [])
        open(self.conf, "w").write("pkcs11-modules:\n" + "".join(
            "  - {name: %s, path: '%s'}\n" % m for m in mods))
        self.env = dict(env, SOFTHSM2_CONF=self.conf_softhsm, SEVGATE_CONFIG=self.conf,
                        SEVGATE_SHIM_MODULE=SOFTHSM)
        csv = os.path.join(d, "pairs.csv")
        with open(csv, "w") as f:
            for i in range(n):
                f.write("g%04d,%s,%s,%08x\n" % (i, os.path.join(d, "tik"), os.path.join(d, "tek"),
                                                ID_BASE + i))
        p = subprocess.run([btoken, "--fill-pairs", self.token_uri, csv], capture_output=True,
                           text=True, env=self.env)
        if p.returncode != 0 or p.stdout.strip() != "pairs %d" % n:
            raise RuntimeError("bench-token --fill-pairs: %s%s" % (p.stdout, p.stderr))

    def tk(self, i, module="softhsm"):
        """The tk: URI of pair @i (any id for i >= n names a pair the token does not hold)."""
        return "pkcs11:token=%s;id=%s;type=secret-key?module-name=%s&pin-source=file:%s" % (
            self.label, pct((ID_BASE + i).to_bytes(4, "big")), module, self.pin_file)

    def obj(self, label, module="softhsm"):
        """A tik:/tek: URI naming one key by its label."""
        return "pkcs11:token=%s;object=%s;type=secret-key?module-name=%s&pin-source=file:%s" % (
            self.label, label, module, self.pin_file)

    def manifests(self, name, keys, extra=None):
        """A directory @name of manifests, one per entry of @keys: a dict of manifest key
        names to URIs ({"tk": ...} or {"tik": ..., "tek": ...}); guest gNNNN, file gNNNN.yaml,
        in that order; @extra(i, directory), if given, returns more YAML for guest i."""
        md = os.path.join(self.dir, name)
        os.makedirs(md)
        for i, k in enumerate(keys):
            open(os.path.join(md, "g%04d.yaml" % i), "w").write(
                "version: 1\nguest: g%04d\nfirmware: %s\napi-major: 0\napi-minor: 24\n"
                "build-id: 15\npolicy: 3\nmeasurement: %s\n%s" % (
                    i, self.fw, TV1_MEASUREMENT,
                    "".join("%s: '%s'\n" % kv for kv in k.items()))
                + (extra(i, md) if extra else ""))
        return md


def batch(sevgate, mdir, env, jobs=8, extra=(), timeout=600, run=None):
    """`sevgate batch --jobs @jobs --report R --format json MDIR`: (process, the report's guest
    records, its summary record or {}, the summary printed on stdout or {})."""
    report = mdir.rstrip("/") + ".report.jsonl"
    if os.path.exists(report):
        os.unlink(report)
    argv = [sevgate, "batch", "--jobs", str(jobs), "--report", report, "--format", "json",
            *extra, mdir]
    if run:
        p = run(argv, env)
    else:
        p = subprocess.run(argv, capture_output=True, env=env, timeout=timeout)
    lines = open(report).read().splitlines() if os.path.exists(report) else []
    recs = [json.loads(l) for l in lines]
    summary = recs[-1].get("summary", {}) if recs else {}
    printed = {}
    try:
        printed = json.loads(p.stdout.decode().strip().splitlines()[-1]).get("summary", {})
    except (ValueError, IndexError):
        pass
    return p, [r for r in recs if "summary" not in r], summary, printed


def verdicts(recs):
    out = {}
    for r in recs:
        out[r.get("verdict")] = out.get(r.get("verdict"), 0) + 1
    return out


def shim_log_codes(path):
    """What the real module answered in a shim log: {(call, rv): count} for every answer other
    than CKR_OK (injected failures marked with a trailing '*')."""
    codes = {}
    if not os.path.exists(path):
        return codes
    for line in open(path):
        f = line.split()
        if len(f) >= 3 and f[0].isdigit() and f[2] != "0x0":
            k = (f[1], f[2] + ("*" if "injected" in f[3:] else ""))
            codes[k] = codes.get(k, 0) + 1
    return codes


def swap_command(tokendir, marker_log, exchange=False):
    """The shell command that replaces @tokendir by a copy of itself (cp -a), appending
    "- swapped" to @marker_log when done; the old directory is left at @tokendir.old.
    Plain: two renames, the directory missing between them (the run waits for the command, so
    no call meets that moment). @exchange: one renameat2(RENAME_EXCHANGE) swaps the copy in
    atomically, so the call the command runs before (p11-shim's SEVGATE_SHIM_EXEC), and the
    other workers' calls around it, meet either the old directory or the copy, never none."""
    q = lambda s: "'" + s.replace("'", "'\\''") + "'"
    t, new, old = q(tokendir), q(tokendir + ".new"), q(tokendir + ".old")
    done = "echo '- swapped' >> %s" % q(marker_log)
    if exchange:
        swap = ("import ctypes, os, sys; libc = ctypes.CDLL(None, use_errno=True); "
                "sys.exit(libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2) "
                "and os.strerror(ctypes.get_errno()))")
        return "cp -a %s %s && python3 -c %s %s %s && mv %s %s && %s" % (
            t, new, q(swap), new, t, new, old, done)
    return "cp -a %s %s && mv %s %s && mv %s %s && %s" % (t, new, t, old, new, t, done)


def cleanup(d):
    shutil.rmtree(d, ignore_errors=True)
