#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
Malformed input against our virt-qemu-sev-validate and `sevgate validate`
(plus `sevgate digest`, `sevgate ovmf show`, `sevgate vmsa show` and
`sevgate secret open` where relevant).

Each case asserts the exact exit code, that stderr is exactly one line
starting with `ERROR: ` (drop-in; an extra `HINT: ` line is allowed where
the contract has one) or `error: ` (sevgate; `mismatch: ` for exit 1 of
`sevgate validate`), that the message contains an expected substring, that
nothing crashed (exit < 128, no sanitizer report), and that no secret
output file was left behind when no secret was released.

Usage: badinput.py --ours PATH --sevgate PATH [--vectors DIR] [--keep] [-v]
Prints `N passed, M failed`; exit 1 on any failure.
"""

import argparse
import base64
import os
import shlex
import struct
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import harness  # noqa: E402
import secretscan  # noqa: E402
import sevmodel as M  # noqa: E402

harness.require_model(M)

TIK = bytes(range(16))
TEK = bytes(range(16, 32))
SECRET = b"hunter2-correct-horse"
SCAN = secretscan.Scanner()
SCAN.register("TIK", TIK)
SCAN.register("TEK", TEK)
SCAN.register("secret", SECRET)
NONCE = bytes(range(0xA0, 0xB0))
API = (0, 24, 15)


def synth_fw(hash_area=True, reset=0x80B004, secret_size=0xC00, body=4096):
    ents = [(M.RESET_BLOCK_GUID, struct.pack("<I", reset))]
    if secret_size is not None:
        ents.append((M.SECRET_AREA_GUID, struct.pack("<II", 0x80C000, secret_size)))
    if hash_area:
        ents.append((M.HASH_AREA_GUID, struct.pack("<II", 0x80CC00, 0x400)))
    return M.fw_build(bytes(i % 251 for i in range(body)), ents)


def raw_footer(total_len, entries_area=b"", body=64):
    """Firmware whose footer claims total_len, with the given raw entry bytes before it."""
    return (bytes(body) + entries_area + struct.pack("<H", total_len) +
            M.gle(M.FOOTER_GUID) + b"\x90" * 16 + b"\x00" * 16)


def blob_for(fw, policy=3, table=b"", vmsas=b"", api=API, tik=TIK, flip=False):
    b = bytearray(M.measurement_blob(tik, api[0], api[1], api[2], policy,
                                     M.launch_digest(fw, table, vmsas), NONCE))
    if flip:
        b[0] ^= 1
    return base64.b64encode(bytes(b)).decode()


class Runner:
    def __init__(self, ours, sevgate, top, verbose):
        self.ours, self.sevgate, self.top, self.verbose = ours, sevgate, top, verbose
        self.passed = self.failed = 0
        self.n = 0

    def path(self, name):
        return os.path.join(self.top, name)

    def write(self, name, data, mode=None):
        p = self.path(name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as fh:
            fh.write(data)
        if mode is not None:
            os.chmod(p, mode)
        SCAN.inputs(p)  # the firmware's filler bytes count up through the TIK's and the TEK's
        return p

    def run(self, argv):
        env = dict(os.environ, LC_ALL="C.UTF-8")
        try:
            p = subprocess.run(argv, capture_output=True, timeout=60, env=env)
            SCAN.proc(argv, p.stdout, p.stderr)
            return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            return -999, "", "TIMEOUT"

    def check(self, name, tool, args, exit_code, substr, outputs=(), hint_ok=False,
              stdout_has=None):
        """tool: compat | validate | digest | ovmf | vmsa | secret | sevgate (raw)."""
        if tool == "compat":
            argv = [self.ours] + args
            prefix = "ERROR: "
        elif tool == "validate":
            argv = [self.sevgate, "validate"] + args
            prefix = "mismatch: " if exit_code == 1 else "error: "
        elif tool == "sevgate":
            argv = [self.sevgate] + args
            prefix = "error: "
        else:
            argv = [self.sevgate, tool] + args
            prefix = "error: "
        for o in outputs:
            if os.path.lexists(o):
                os.unlink(o)
        code, out, err = self.run(argv)
        probs = []
        if code != exit_code:
            probs.append("exit %d, want %d" % (code, exit_code))
        if code < 0 or code >= 128:
            probs.append("crashed (exit %d)" % code)
        for bad in ("AddressSanitizer", "runtime error", "LeakSanitizer", "Segmentation"):
            if bad in err:
                probs.append("sanitizer/crash report in stderr")
        lines = err.splitlines()
        if exit_code == 0:
            if lines:
                probs.append("stderr not empty on success")
        else:
            good = len(lines) == 1 and lines[0].startswith(prefix)
            if hint_ok and len(lines) == 2 and lines[0].startswith(prefix) and \
                    lines[1].startswith("HINT: "):
                good = True
            if not good:
                probs.append("stderr is not exactly one %r line" % prefix)
            if substr and substr.lower() not in err.lower():
                probs.append("message lacks %r" % substr)
        if stdout_has is not None and stdout_has not in out:
            probs.append("stdout lacks %r" % stdout_has)
        if exit_code != 0:
            for o in outputs:
                if os.path.lexists(o):
                    probs.append("output %s left behind" % os.path.basename(o))
        self.n += 1
        label = "%s [%s]" % (name, tool)
        if probs:
            self.failed += 1
            print("FAIL %s: %s" % (label, "; ".join(probs)))
            print("    $ %s" % shlex.join(a if len(a) < 300 else a[:60] + "...(%d chars)" % len(a)
                                         for a in argv))
            print("    stdout: %r" % out[:300])
            print("    stderr: %r" % err[:600])
        else:
            self.passed += 1
            if self.verbose:
                print("ok   %s: exit %d %s" % (label, code, lines[0] if lines else ""))
        if tool in ("compat", "validate", "digest"):
            # once more with --debug, which prints the most, for the secret scan
            n = 1 if tool == "compat" else 2  # after the program (and the subcommand)
            code, out, err = self.run(argv[:n] + ["--debug"] + argv[n:])
            if code < 0 or code >= 128 or any(bad in err for bad in ("AddressSanitizer", "runtime error",
                                                                       "LeakSanitizer")):
                self.failed += 1
                print("FAIL %s with --debug: crashed or a sanitizer report (exit %d): %r" % (label, code, err[-600:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", default=os.environ.get("SEVGATE_COMPAT_BIN"))
    ap.add_argument("--sevgate", default=os.environ.get("SEVGATE_BIN"))
    ap.add_argument("--vectors", default=os.environ.get("SEVGATE_VECTORS_DIR"))
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    for what, p in (("--ours", a.ours), ("--sevgate", a.sevgate)):
        why = harness.binary_problem("%s binary" % what, p)
        if why:
            print("FAIL: " + why)
            print("0 passed, 1 failed")
            return 1

    with harness.workdir("sevgate-bad-", keep=a.keep) as top:
        R = Runner(a.ours, a.sevgate, top, a.verbose)
        for p in secretscan.selfcheck():
            R.failed += 1
            print("FAIL %s" % p)
        cases(R)
        SCAN.tree(top)  # whatever a failing run left behind (inputs excluded)
        for p in SCAN.problems():
            R.failed += 1
            print("FAIL %s" % p)
        print(SCAN.summary())
    print("%d passed, %d failed" % (R.passed, R.failed))
    return 1 if R.failed else 0


def cases(R):
    W = R.write
    fw = synth_fw()
    fwp = W("fw.bin", fw)
    tik = W("tik.bin", TIK)
    tek = W("tek.bin", TEK)
    tk = W("tk.bin", TEK + TIK)
    keys = ["--tik", tik, "--tek", tek]
    hdr, pay = R.path("out/hdr"), R.path("out/payload")
    os.makedirs(R.path("out"), exist_ok=True)
    outs = (hdr, pay)
    secret = W("secret.txt", SECRET)

    def base(fwpath=fwp, blob=None, policy=3, fwbytes=fw, extra=(), keyargs=None):
        if blob is None:
            blob = blob_for(fwbytes, policy)
        return (["--measurement", blob, "--api-major", str(API[0]), "--api-minor", str(API[1]),
                 "--build-id", str(API[2]), "--policy", str(policy), "--firmware", fwpath] +
                (keys if keyargs is None else keyargs) + list(extra))

    es_sku = ["--num-cpus", "2", "--cpu-family", "23", "--cpu-model", "49", "--cpu-stepping", "0"]
    dg_sku = ["--num-cpus", "2", "--cpu-family", "23", "--cpu-model", "49", "--cpu-stepping", "0"]

    def both(name, args, exit_code, substr, outputs=(), hint_ok=False, sg_exit=None,
             sg_substr=None, stdout_has=None):
        R.check(name, "compat", args, exit_code, substr, outputs, hint_ok, stdout_has)
        R.check(name, "validate", args, exit_code if sg_exit is None else sg_exit,
                substr if sg_substr is None else sg_substr, outputs)

    # ---- sanity: the base case is accepted (else every other case is moot)
    both("baseline SEV", base(), 0, None)
    both("baseline SEV-ES SKU", base(policy=7, blob=blob_for(
        fw, 7, vmsas=b"".join([M.vmsa_pair(M.cpu_sig(23, 49, 0), 0x80B004)[0],
                               M.vmsa_pair(M.cpu_sig(23, 49, 0), 0x80B004)[1]])), extra=es_sku), 0, None)
    both("baseline --tk", base(keyargs=["--tk", tk]), 0, None)

    # ---- firmware
    fw_cases = [
        ("truncated firmware (40 bytes, shorter than the footer)", fw[-40:], "OVMF footer GUID not found"),
        ("empty firmware with SKU", b"", "OVMF footer GUID not found"),
        ("footer total length 0", raw_footer(0), "zero length"),
        ("footer total length 5 (< 18)", raw_footer(5), "OVMF table"),
        ("footer total length overflows the file", raw_footer(0xFFFF, body=16), "OVMF table"),
        ("entry length overflows the table", raw_footer(18 + 22, struct.pack("<I", 0x80B004) +
                                                        struct.pack("<H", 0x7FFF) + M.gle(M.RESET_BLOCK_GUID)),
         "OVMF table"),
        ("entry length < 18", raw_footer(18 + 22, struct.pack("<I", 0x80B004) +
                                         struct.pack("<H", 3) + M.gle(M.RESET_BLOCK_GUID)),
         "OVMF table"),
        ("stray bytes before the first entry", raw_footer(18 + 22 + 7, b"\x01" * 7 + struct.pack("<I", 0x80B004) +
                                                          struct.pack("<H", 22) + M.gle(M.RESET_BLOCK_GUID)),
         "OVMF table"),
        ("no SEV-ES reset block", M.fw_build(bytes(256), [(M.HASH_AREA_GUID, struct.pack("<II", 0x80CC00, 0x400))]),
         "SEV info block GUID not found"),
    ]
    for i, (name, data, sub) in enumerate(fw_cases):
        p = W("badfw/%d.bin" % i, data)
        both(name + " (SEV-ES, 2 vCPUs, SKU)", base(fwpath=p, policy=7, fwbytes=data, extra=es_sku), 6, sub)
        if "info block" in sub:
            # well formed, just without the entry: ovmf show lists what is there
            R.check(name, "ovmf", ["show", p], 0, None)
        else:
            R.check(name, "ovmf", ["show", p], 6, sub)
        R.check(name, "digest", ["--firmware", p] + dg_sku, 6, sub)

    # empty firmware is fine for plain SEV (the reference hashes it as is)
    p = W("badfw/empty.bin", b"")
    both("empty firmware, plain SEV, correct measurement", base(fwpath=p, fwbytes=b""), 0, None)
    R.check("firmware is a directory", "compat", base(fwpath=R.path("out")), 6, "directory")
    R.check("firmware is a directory", "validate", base(fwpath=R.path("out")), 6, "directory")
    R.check("firmware is a directory", "ovmf", ["show", R.path("out")], 6, "directory")
    R.check("firmware is a directory", "digest", ["--firmware", R.path("out")], 6, "directory")
    both("missing firmware", base(fwpath=R.path("nope/fw.bin")), 6, "No such file")
    R.check("missing firmware", "ovmf", ["show", R.path("nope.bin")], 6, "No such file")
    if os.geteuid() == 0:
        print("skip: unreadable firmware (chmod 000) - running as root, permissions are not enforced")
    else:
        p = W("unreadable.bin", fw, 0o000)
        both("unreadable firmware (chmod 000)", base(fwpath=p), 6, "Permission denied")

    # ---- keys
    for n in (0, 15, 17, 31, 33):
        p = W("keys/tik%d.bin" % n, bytes(n))
        both("TIK of %d bytes" % n, base(keyargs=["--tik", p, "--tek", tek]), 2,
             "Expected 16 bytes in TIK file, but got")
    for n in (0, 17):
        p = W("keys/tek%d.bin" % n, bytes(n))
        both("TEK of %d bytes" % n, base(keyargs=["--tik", tik, "--tek", p]), 2,
             "Expected 16 bytes in TEK file, but got")
    for n in (0, 15, 31, 33):
        p = W("keys/tk%d.bin" % n, bytes(n))
        both("TK of %d bytes" % n, base(keyargs=["--tk", p]), 2,
             "Expected 32 bytes in TIK/TEK file, but got")
    both("TIK path is a directory", base(keyargs=["--tik", R.path("out"), "--tek", tek]), 6, "directory")
    both("TK path is a directory", base(keyargs=["--tk", R.path("out")]), 6, "directory")
    both("missing TEK file", base(keyargs=["--tik", tik, "--tek", R.path("nope/tek")]), 6, "No such file")
    both("--tk with --tik", base(keyargs=["--tk", tk, "--tik", tik]), 2, "mutually exclusive")
    both("no keys", base(keyargs=[]), 2, "Either --tk or both of --tek/--tik are required")

    # ---- measurement
    good = base64.b64decode(blob_for(fw, 3))
    for name, m in (("bad base64 characters", "!!!!" + base64.b64encode(good).decode()[4:]),
                    ("wrong base64 padding", base64.b64encode(good).decode() + "=="),
                    ("base64 missing padding", base64.b64encode(good[:47]).decode().rstrip("=")),
                    ("47-byte measurement", base64.b64encode(good[:47]).decode()),
                    ("49-byte measurement", base64.b64encode(good + b"\x00").decode()),
                    ("empty measurement", ""),
                    ("measurement with embedded newline", base64.b64encode(good).decode()[:32] + "\n" +
                     base64.b64encode(good).decode()[32:])):
        both(name, base(blob=m), 2, "measurement")

    # ---- integers
    for opt, val, sub in (("--api-major", "256", "api-major"), ("--policy", "4294967296", "policy"),
                          ("--api-minor", "-1", "api-minor"), ("--build-id", "0x", "build-id"),
                          ("--policy", "1_0", "policy"), ("--api-major", " 7", "api-major"),
                          ("--policy", "+3", "policy"), ("--build-id", "", "build-id")):
        args = base()
        i = args.index(opt)
        args[i:i + 2] = ["%s=%s" % (opt, val)]
        both("%s %r" % (opt, val), args, 2, sub)
    both("--num-cpus 0", base(policy=7, extra=["--num-cpus", "0", "--cpu-family", "23",
                                               "--cpu-model", "49", "--cpu-stepping", "0"]), 2, "num-cpus")
    both("--num-cpus 4097", base(policy=7, extra=["--num-cpus", "4097"] + es_sku[2:]), 2, "num-cpus")
    both("--cpu-family 0x10f", base(policy=7, extra=["--num-cpus", "1", "--cpu-family", "0x10f",
                                                     "--cpu-model", "1", "--cpu-stepping", "0"]), 2, "cpu-family")
    both("--cpu-stepping 16", base(policy=7, extra=["--num-cpus", "1", "--cpu-family", "25",
                                                    "--cpu-model", "1", "--cpu-stepping", "16"]), 2, "cpu-stepping")
    R.check("--num-cpus 0", "digest", ["--firmware", fwp, "--num-cpus", "0", "--vcpu-type", "EPYC"], 2, "num-cpus")

    # ---- kernel command line
    kern = W("kernel.bin", b"KERNEL" * 100)
    big = "console=ttyS0 " + "x" * (120 * 1024)
    tbl = M.hashes_table_of(b"KERNEL" * 100, None, big)
    both("120 KiB --cmdline is accepted", base(blob=blob_for(fw, 3, tbl), extra=["--kernel", kern, "--cmdline", big]),
         0, None)
    print("skip: a >1 MiB --cmdline cannot be passed (Linux limits one argv string to 128 KiB)")
    both("--cmdline without --kernel", base(extra=["--cmdline", "x"]), 2, "--initrd/--cmdline require --kernel")
    R.check("--cmdline without --kernel", "digest", ["--firmware", fwp, "--cmdline", "x"], 2, "require --kernel")
    both("missing kernel file", base(extra=["--kernel", R.path("nope/vmlinuz")]), 6, "No such file")

    # kernel with firmware lacking a kernel-hashes table
    fw_nh = synth_fw(hash_area=False)
    p_nh = W("fw-nohash.bin", fw_nh)
    tbl = M.hashes_table_of(b"KERNEL" * 100)
    R.check("kernel + firmware without hashes table, computed as the reference does", "compat",
            base(fwpath=p_nh, blob=blob_for(fw_nh, 3, tbl), extra=["--kernel", kern]), 0, None)
    R.check("kernel + firmware without hashes table, mismatch", "compat",
            base(fwpath=p_nh, blob=blob_for(fw_nh, 3, tbl, flip=True), extra=["--kernel", kern]), 1,
            "Measurement does not match", hint_ok=True)
    R.check("kernel + firmware without hashes table", "validate",
            base(fwpath=p_nh, blob=blob_for(fw_nh, 3, tbl), extra=["--kernel", kern]), 2, "kernel-hashes")

    # ---- VMSA files
    v_ok = W("vmsa/ok.bin", bytes(4096))
    for n in (4095, 4097):
        p = W("vmsa/%d.bin" % n, bytes(n))
        both("VMSA file of %d bytes" % n, base(policy=7, extra=["--num-cpus", "2", "--vmsa-cpu0", p,
                                                                "--vmsa-cpu1", v_ok]), 2, "4096")
        R.check("VMSA file of %d bytes" % n, "vmsa", ["show", p], 2, "4096")
    both("VMSA file is a directory", base(policy=7, extra=["--num-cpus", "2", "--vmsa-cpu0", R.path("out"),
                                                           "--vmsa-cpu1", v_ok]), 6, "directory")
    both("--vmsa-cpu1 without --vmsa-cpu0", base(policy=7, extra=["--num-cpus", "2", "--vmsa-cpu1", v_ok]), 2,
         "VMSA for additional CPU also requires VMSA for boot CPU")
    both("VMSA files with SKU", base(policy=7, extra=es_sku + ["--vmsa-cpu0", v_ok]), 2,
         "VMSA files are mutually exclusive with CPU SKU")
    both("SKU with only --cpu-family", base(policy=7, extra=["--num-cpus", "2", "--cpu-family", "23"]), 2,
         "CPU SKU needs family, model and stepping")
    both("SEV-ES without --num-cpus", base(policy=7, extra=es_sku[2:]), 2, "Number of virtual CPUs")
    both("SEV-ES without VMSA or SKU", base(policy=7, extra=["--num-cpus", "2"]), 2, "VMSA for boot CPU required")
    both("SEV-ES SMP with only --vmsa-cpu0", base(policy=7, extra=["--num-cpus", "3", "--vmsa-cpu0", v_ok]), 2,
         "VMSA for additional CPUs required")
    both("unknown --vcpu-type", base(policy=7, extra=["--num-cpus", "2", "--vcpu-type", "EPYC-Pentium"]), 2,
         "vcpu-type")
    both("--vcpu-type with --cpu-family", base(policy=7, extra=es_sku + ["--vcpu-type", "EPYC"]), 2, "vcpu-type")
    R.check("unknown --vcpu-type", "digest", ["--firmware", fwp, "--num-cpus", "2", "--vcpu-type", "i486"], 2,
            "vcpu-type")
    both("unknown --vmsa-profile", base(policy=7, extra=es_sku + ["--vmsa-profile", "turbo"]), 2, "turbo")
    R.check("unknown --vmsa-profile", "digest", ["--firmware", fwp, "--vmsa-profile", "turbo"] + dg_sku, 2, "turbo")

    # ---- secrets (each expects no output files afterwards)
    sargs = ["--secret-header", hdr, "--secret-payload", pay]
    both("unknown secret alias", base(extra=sargs + ["--inject-secret", "luks-passphrase:" + secret]), 2,
         "Secret alias 'luks-passphrase' is not known", outs, stdout_has=None)
    both("GUID in braces is not a GUID", base(extra=sargs + ["--inject-secret",
                                                             "{736869e5-84f0-4973-92ec-06879ce3da0b}:" + secret]),
         2, "is not known", outs)
    both("secret spec without ':'", base(extra=sargs + ["--inject-secret", "luks-key"]), 2,
         "Expecting ALIAS-OR-GUID:PATH", outs)
    both("duplicate secret GUIDs", base(extra=sargs + ["-s", "luks-key:" + secret, "-s",
                                                       "736869E5-84F0-4973-92EC-06879CE3DA0B:" + secret]),
         2, "already loaded", outs)
    bigsec = W("secret-big.bin", bytes(3100))
    R.check("secret table bigger than the firmware's secret area", "compat",
            base(extra=sargs + ["-s", "luks-key:" + bigsec]), 2, "does not fit", outs)
    R.check("secret table bigger than the firmware's secret area", "validate",
            base(extra=sargs + ["-s", "luks-key:" + bigsec]), 2, "does not fit", outs)
    both("missing secret file", base(extra=sargs + ["-s", "luks-key:" + R.path("nope/secret")]), 6,
         "No such file", outs)
    both("secret file is a directory", base(extra=sargs + ["-s", "luks-key:" + R.path("out")]), 6,
         "directory", outs)
    both("measurement mismatch with secrets requested",
         base(blob=blob_for(fw, 3, flip=True), extra=sargs + ["-s", "luks-key:" + secret]), 1,
         "Measurement does not match", outs)
    both("secrets without --secret-header", base(extra=["--secret-payload", pay, "-s", "luks-key:" + secret]), 2,
         "Either --secret-header or --domain is required", outs)
    both("--secret-header without --secret-payload", base(extra=["--secret-header", hdr]), 2,
         "Both --secret-payload and --secret-header are required", outs)
    both("--secret-iv of 31 hex digits", base(extra=sargs + ["-s", "luks-key:" + secret,
                                                             "--secret-iv", "0" * 31]), 2, "secret-iv", outs)
    both("--secret-iv not hex", base(extra=sargs + ["-s", "luks-key:" + secret,
                                                    "--secret-iv", "zz" * 16]), 2, "secret-iv", outs)
    # a secret output path in a missing directory: attestation passed, writing fails -> 6, nothing left
    both("secret header in a missing directory",
         base(extra=["--secret-header", R.path("nope/hdr"), "--secret-payload", pay,
                     "-s", "luks-key:" + secret]), 6, "nope", (pay,))

    # writing the payload fails after the header was written: no half packet may stay behind
    os.makedirs(R.path("adir"), exist_ok=True)
    both("secret payload path is a directory (header must not be left behind)",
         base(extra=["--secret-header", hdr, "--secret-payload", R.path("adir"),
                     "-s", "luks-key:" + secret]), 6, "directory", (hdr,))

    # ---- options
    both("--domain with libvirt unreachable",
         base(extra=["--domain", "guest1", "--connect",
                     "test+unix:///default?socket=" + R.path("no-such-dir/libvirt-sock")]),
         6, "Failed to connect socket")
    both("unknown option", base(extra=["--frobnicate"]), 2, "frobnicate")
    both("option missing its argument", base() + ["--kernel"], 2, "kernel")
    both("stray positional argument", base(extra=["extra.bin"]), 2, "extra.bin")
    both("missing --measurement", base()[2:], 2, "Either --measurement or --domain is required")

    # ---- sevgate subcommands
    R.check("unknown subcommand", "sevgate", ["frobnicate"], 2, "unknown command")
    # the argument is the user's, yet it is shown escaped like any text from outside
    R.check("unknown subcommand escaped", "sevgate", ["frob\x1b[2J\u202e\\x"], 2,
            "error: unknown command 'frob\\x1b[2J\\u{202e}\\\\x' (sevgate --help lists them)")
    R.check("ovmf show without a file", "ovmf", ["show"], 2, "usage")
    R.check("vmsa show without a file", "vmsa", ["show"], 2, "usage")
    R.check("digest --format bogus", "digest", ["--firmware", fwp, "--format", "bogus"], 2, "format")
    R.check("digest without --firmware", "digest", ["--num-cpus", "1"], 2, "firmware")

    # secret open on a tampered packet
    good_hdr = "AAAAAEBBQkNERUZHSElKS0xNTk+XLEg6t73UNReUKG4IViCgCPPl+gb/QzkUgWxVs+/zVQ=="
    good_pay = "AL6trjC1iOR6h35gbJgneRBU4zMe7m7B/BTpWCgSGJ4Zhqf3HMjXySfxZqYjSONu"
    tv1 = "Jtkm6DPHOLtKnVthiMCUs4dyWKB2Kb5yGoM6nUd3nvqgoaKjpKWmp6ipqqusra6v"
    hp = W("pkt/hdr", good_hdr.encode())
    pp = W("pkt/pay", good_pay.encode())
    sopen = ["open", "--tik", tik, "--tek", tek, "--measurement", tv1, "--header", hp, "--payload", pp]
    R.check("secret open of the spec's vector", "secret", sopen, 0, None)
    tampered = bytearray(base64.b64decode(good_pay))
    tampered[5] ^= 0x40
    pt = W("pkt/pay-tampered", base64.b64encode(bytes(tampered)))
    R.check("secret open of a tampered payload", "secret", sopen[:-1] + [pt], 1, "MAC")
    ph = W("pkt/hdr-short", base64.b64encode(base64.b64decode(good_hdr)[:51]))
    R.check("secret open of a 51-byte header", "secret", sopen[:-3] + [ph, "--payload", pp], 6, "header")
    R.check("secret open with a 47-byte measurement", "secret",
            ["open", "--tik", tik, "--tek", tek, "--measurement",
             base64.b64encode(base64.b64decode(tv1)[:47]).decode(), "--header", hp, "--payload", pp],
            2, "measurement")


if __name__ == "__main__":
    sys.exit(main())
