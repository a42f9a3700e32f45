#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The inspection commands against the peers' own fixtures:
sevgate digest == sev-snp-measure/sevctl launch digests (every row of launch-digests.tsv),
sevgate vmsa build == sevctl's and sev-snp-measure's VMSA pages byte for byte,
sevgate vmsa show == sevctl vmsa show (every field both print),
sevgate ovmf show == the footer-table facts in the vectors README.

usage: inspect_test.py --sevgate BIN --data tests/data [--vectors ../shared/vectors]
Rows needing files only in ../shared run when it is present (a failure under CI=true if not).
"""
import argparse, json, os, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import harness  # noqa: E402

skipped = 0
# No key or secret is used here (nothing to register); the outputs are fed all the same, so
# one added later is scanned once it is registered.
T = harness.Suite()
SCAN = T.scan


def check(name, ok, detail=""):
    T.check(ok, f"{name} {detail}")


def sg(a, *args):
    p = subprocess.run([a.sevgate, *args], capture_output=True, text=True, timeout=60)
    SCAN.proc(p.args, p.stdout, p.stderr)
    return p


def find(a, rel):
    for base in (a.vectors, a.data):
        if base and os.path.exists(os.path.join(base, rel)):
            return os.path.join(base, rel)
    return None


def digest_rows(a):
    global skipped
    tsv = find(a, "launch-digests.tsv")
    for line in open(tsv):
        if line.startswith("#") or not line.strip():
            continue
        f = line.rstrip("\n").split("\t")
        rid, mode, variant, vcpus, sig, ovmf, kernel, initrd, append, expected = f[0], *f[2:11]
        fw = find(a, ovmf)
        if not fw:
            skipped += 1
            continue
        args = ["digest", "--firmware", fw]
        opt = lambda v: None if v == "<none>" else ("" if v == "<empty>" else v)
        if opt(kernel) is not None:
            args += ["--kernel", kernel if kernel == "/dev/null" else find(a, kernel)]
            if opt(initrd) is not None:
                args += ["--initrd", initrd if initrd == "/dev/null" else find(a, initrd)]
            if opt(append) is not None:
                args += ["--cmdline", opt(append)]
        if mode == "seves":
            args += ["--sev-es", "--num-cpus", vcpus,
                     "--vmsa-profile", "init2" if variant == "fpu" else "legacy"]
            if rid == "C03":
                args += ["--vmsa-cpu0", find(a, "sevctl/tests/data/vmsa0.bin"),
                         "--vmsa-cpu1", find(a, "sevctl/tests/data/vmsa1.bin")]
            else:
                args += ["--vcpu-type", "EPYC-v4"]  # signature 0x800f12 in every such row
        else:
            args += ["--sev"]
        p = sg(a, *args)
        if expected.startswith("ERROR"):
            check(f"digest {rid}", p.returncode == 2 and "no kernel-hashes table" in p.stderr,
                  p.stderr)
        else:
            check(f"digest {rid}", p.returncode == 0 and p.stdout.strip() == expected,
                  f"{p.stdout.strip()} != {expected} {p.stderr}")


def vmsa(a, tmp):
    global skipped
    fw = find(a, "sevctl/tests/data/OVMF.amdsev.fd_trimmed_edk2-ovmf-20220126gitbb1bba3d77-4.el9")
    b0, b1 = os.path.join(tmp, "b0"), os.path.join(tmp, "b1")
    for how in (["--vcpu-type", "EPYC-Milan"], ["--cpu-family", "25", "--cpu-model", "1",
                                               "--cpu-stepping", "1"], ["--cpu-sig", "0xa00f11"]):
        p = sg(a, "vmsa", "build", *how, "--firmware", fw, b0, b1)
        ok = p.returncode == 0
        for n, out in ((0, b0), (1, b1)):
            ref = find(a, f"sevctl/tests/data/vmsa{n}.bin")
            check(f"vmsa build {how[0]} cpu{n} == sevctl", ok and open(out, "rb").read()
                  == open(ref, "rb").read(), p.stderr)
            shown = json.loads(sg(a, "vmsa", "show", ref).stdout)
            want = json.load(open(find(a, f"sevctl/tests/data/vmsa{n}-show.txt")))
            common = [k for k in shown if k in want]
            check(f"vmsa show cpu{n} == sevctl", len(common) >= 50 and all(
                shown[k] == want[k] for k in common), str([k for k in common if shown[k] != want[k]]))
    gen = "generated/vmsa-seves-EPYC-v4-OVMF_CODE_4M"
    ovmf4m = find(a, "debian-ovmf/usr/share/OVMF/OVMF_CODE_4M.fd")
    if not (a.vectors and ovmf4m and os.path.isdir(os.path.join(a.vectors, gen))):
        skipped += 1
        return
    for variant, profile in (("fpu", "init2"), ("nofpu", "legacy")):
        p = sg(a, "vmsa", "build", "--vcpu-type", "EPYC-v4", "--vmsa-profile", profile,
               "--firmware", ovmf4m, b0, b1)
        for n, out in ((0, b0), (1, b1)):
            ref = os.path.join(a.vectors, gen, variant, f"vmsa{n}.bin")
            check(f"vmsa build {profile} cpu{n} == sev-snp-measure", p.returncode == 0 and
                  open(out, "rb").read() == open(ref, "rb").read(), p.stderr)


def ovmf(a):
    cases = {
        "sev-snp-measure/tests/fixtures/ovmf_AmdSev_suffix.bin":
            (True, 0x80b004, {"sev-hash-table-area": (0x810c00, 0x400),
                              "sev-secret-area": (0x810000, 0xc00)}),
        "sev-snp-measure/tests/fixtures/ovmf_OvmfX64_suffix.bin": (False, 0x80b004, {}),
        "sevctl/tests/data/OVMF.amdsev.fd_trimmed_edk2-ovmf-20220126gitbb1bba3d77-4.el9":
            (True, 0x80b004, {"sev-hash-table-area": (0x80cc00, None),
                              "sev-secret-area": (0x80c000, None)}),
        "debian-ovmf/usr/share/OVMF/OVMF_CODE_4M.fd":
            (False, 0x808004, {"sev-hash-table-area": (0, 0), "sev-secret-area": (0, 0)}),
    }
    global skipped
    for rel, (hashes, reset, areas) in cases.items():
        path = find(a, rel)
        if not path:
            skipped += 1
            continue
        p = sg(a, "ovmf", "show", path)
        j = json.loads(p.stdout) if p.returncode == 0 else {}
        check(f"ovmf show {os.path.basename(rel)} kernel_hashes", j.get("kernel_hashes") == hashes,
              p.stderr)
        check(f"ovmf show {os.path.basename(rel)} reset", j.get("sev_es_reset_addr") == reset)
        byname = {e["name"]: e for e in j.get("entries", []) if e["name"]}
        for name, (base, size) in areas.items():
            e = byname.get(name, {})
            check(f"ovmf show {os.path.basename(rel)} {name}", e.get("base") == base
                  and (size is None or e.get("size") == size), str(e))


def ovmf_path_json(a, tmp):
    """--json is valid UTF-8 whatever the path: an invalid byte is U+FFFD (issue 11 #18)."""
    src = find(a, "sev-snp-measure/tests/fixtures/ovmf_AmdSev_suffix.bin")
    dst = os.path.join(os.fsencode(tmp), b"fw-\xff\x1b.bin")
    with open(src, "rb") as f, open(dst, "wb") as g:
        g.write(f.read())
    p = subprocess.run([a.sevgate, "ovmf", "show", os.fsdecode(dst)], capture_output=True,
                       timeout=60)
    try:
        j = json.loads(p.stdout.decode("utf-8", "strict"))
    except ValueError:
        j = None
    want = os.path.join(tmp, "fw-\ufffd\x1b.bin")
    check("ovmf show: an invalid UTF-8 path is valid JSON", p.returncode == 0 and j is not None
          and j.get("path") == want, repr(p.stdout[:200]) + repr(p.stderr[:200]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sevgate", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--vectors")
    a = ap.parse_args()
    a.vectors = harness.shared_vectors(a.vectors)
    T.scan_selfcheck("secret scan self-check ")
    with tempfile.TemporaryDirectory() as tmp:
        digest_rows(a)
        vmsa(a, tmp)
        ovmf(a)
        ovmf_path_json(a, tmp)
        T.scan_tree(tmp, "secret scan ")
    print(f"{T.passed} passed, {len(T.failures)} failed, {skipped} skipped")
    return 1 if T.failures else 0


if __name__ == "__main__":
    sys.exit(main())
