#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Threaded token batches under ThreadSanitizer (issue 13; CTest tsan-token-batch, label
tsan-token, in a -DSEVGATE_TSAN=ON build: `make check-tsan`).

usage: tsan_batch.py --sevgate BIN --bench-token BIN --shim SO --hsm-script SH
                     --suppressions FILE [--keep]

Every run is `sevgate batch --jobs 8` over 300 guests whose tk: URIs name their own pairs on a
SoftHSM token, each with the TSan-built sevgate, halt_on_error=1 (the first report ends the
process) and the suppressions file (frames inside SoftHSM and p11-kit only). The parts are the
paths the token layer's threads share: lookups and operations (plain, three runs), a session
recovered mid-run (the shim fails one C_VerifyInit with CKR_SESSION_HANDLE_INVALID), misses of a
key the token does not hold (the rate limit's bookkeeping), every guest releasing a secret
(C_Sign and C_Encrypt from every worker), a pair imported by another process
mid-run (a targeted search inserting into the index others read), and the token directory
swapped for a copy of itself around a call (token_test.py batch_token_swap (b)). A part fails on any ThreadSanitizer report or
when a guest that must be trusted is not.
Exit 77 (skip) when SoftHSM is missing, unless CI=true.
"""
import argparse, os, re, shutil, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pairfleet  # noqa: E402

N = 300
failed = 0


def check(name, ok, detail=""):
    global failed
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else " " + detail), flush=True)
    failed += 0 if ok else 1


def tsan_reports(stderr):
    """The ThreadSanitizer reports in @stderr, each cut to its first 60 lines."""
    text = stderr.decode(errors="replace")
    parts = re.split(r"(?m)^(?==+\nWARNING: ThreadSanitizer)", text)
    return ["\n".join(p.splitlines()[:60]) for p in parts if "WARNING: ThreadSanitizer" in p]


def part(a, name, md, env, trusted):
    """One batch: no report; @trusted(guest record) says whether a guest must be trusted."""
    p, recs, summ, _ = pairfleet.batch(a.sevgate, md, env, 8)
    reports = tsan_reports(p.stderr)
    check(f"{name}: no ThreadSanitizer report", not reports and p.returncode != 66,
          f"rc={p.returncode}\n" + "\n\n".join(reports[:3]))
    bad = [(r.get("guest"), r.get("verdict"), r.get("message")) for r in recs
           if trusted(r) and r.get("verdict") != "trusted"]
    check(f"{name}: {len(recs)} guest records, the ones that must be trusted are", len(recs) == N
          and not bad, f"rc={p.returncode} {bad[:3]} stderr={p.stderr.decode()[-300:]!r}")
    print(f"     wall {summ.get('wall_ms', 0):.0f} ms, token {summ.get('token', 'n/a')}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    for o in ("sevgate", "bench-token", "shim", "hsm-script", "suppressions"):
        ap.add_argument("--" + o, required=True)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    for k in ("sevgate", "bench_token", "shim", "hsm_script", "suppressions"):
        setattr(a, k, os.path.abspath(getattr(a, k)))
    if not shutil.which("softhsm2-util") or not os.path.exists(pairfleet.SOFTHSM):
        if os.environ.get("CI") == "true":
            print("FAIL: SoftHSM2 is not installed (CI=true)")
            return 1
        print("SKIP: SoftHSM2 is not installed (apt-get install softhsm2)")
        return 77
    # a plain sevgate here would pass every part and prove nothing
    libs = subprocess.run(["ldd", a.sevgate], capture_output=True, text=True).stdout
    if "libtsan" not in libs:
        print(f"FAIL: {a.sevgate} is not built with ThreadSanitizer (no libtsan in ldd)")
        return 1
    opts = [o for o in os.environ.get("TSAN_OPTIONS", "").split(":")
            if o and not o.startswith(("halt_on_error=", "suppressions="))]
    opts += ["halt_on_error=1", "suppressions=" + a.suppressions]
    if not any(o.startswith("second_deadlock_stack=") for o in opts):
        opts.append("second_deadlock_stack=1")
    d = pairfleet.fast_dir("sevgate-tsan-")
    try:
        env = dict(os.environ, HOME="/nonexistent", TSAN_OPTIONS=":".join(opts))
        env.pop("SEVGATE_CONFIG", None)
        tok = pairfleet.PairToken(a.hsm_script, a.bench_token, d, "tsan", N, shim=a.shim, env=env)
        every = lambda r: True

        md = tok.manifests("plain", [{"tk": tok.tk(i)} for i in range(N)])
        for k in range(3):
            part(a, f"plain, run {k + 1}", md, tok.env, every)

        # every guest releases a secret: the packet's MAC (C_Sign*) and payload (C_Encrypt*)
        open(os.path.join(d, "secret"), "wb").write(b"tsan-secret-0123456789")
        rel = lambda i, m: ("secrets:\n  - {guid: luks-key, file: '%s'}\nsecret-header: '%s'\n"
                            "secret-payload: '%s'\n" % (os.path.join(d, "secret"),
                                                         os.path.join(m, "g%04d.hdr" % i),
                                                         os.path.join(m, "g%04d.pay" % i)))
        md = tok.manifests("release", [{"tk": tok.tk(i)} for i in range(N)], rel)
        part(a, "every guest releases a secret", md, tok.env, every)
        packets = sum(os.path.exists(os.path.join(md, "g%04d.hdr" % i)) for i in range(N))
        check("every guest releases a secret: 300 packets written", packets == N, f"{packets}")

        md = tok.manifests("recover", [{"tk": tok.tk(i, "shim")} for i in range(N)])
        part(a, "a session lost mid-run", md,
             dict(tok.env, SEVGATE_SHIM_FAIL_CALL="C_VerifyInit", SEVGATE_SHIM_FAIL_AT="100",
                  SEVGATE_SHIM_FAIL_TIMES="1", SEVGATE_SHIM_FAIL_RV="0xb3"), every)

        # every third guest names the same pair the token does not hold
        md = tok.manifests("miss", [{"tk": tok.tk(5000 if i % 3 == 0 else i)} for i in range(N)])
        part(a, "a missing key, one guest in three", md, tok.env,
             lambda r: int(r.get("guest", "g0")[1:]) % 3 != 0)

        # the last 50 guests name a pair `sevgate keys import` adds before the 10th C_VerifyInit;
        # with 8 workers some may look it up before the import is done: those may be errors
        keys = [{"tk": tok.tk(i, "shim")} for i in range(N - 50)]
        keys += [{"tik": tok.obj("late-tik", "shim"), "tek": tok.obj("late-tek", "shim")}] * 50
        md = tok.manifests("late", keys)
        imp = "%s keys import --tik %s --tek %s --token '%s' --label late >/dev/null 2>&1" % (
            a.sevgate, os.path.join(d, "tik"), os.path.join(d, "tek"), tok.token_uri)
        part(a, "a pair imported mid-run", md,
             dict(tok.env, SEVGATE_SHIM_EXEC_CALL="C_VerifyInit", SEVGATE_SHIM_EXEC_AT="10",
                  SEVGATE_SHIM_EXEC=imp), lambda r: int(r.get("guest", "g0")[1:]) < N - 50)

        md = tok.manifests("swap", [{"tk": tok.tk(i, "shim")} for i in range(N)])
        cmd = pairfleet.swap_command(tok.tokendir, os.path.join(d, "swap.log"), exchange=True)
        part(a, "the token directory swapped atomically among calls", md,
             dict(tok.env, SEVGATE_SHIM_EXEC_CALL="C_VerifyInit", SEVGATE_SHIM_EXEC_AT="100",
                  SEVGATE_SHIM_EXEC=cmd), every)
    finally:
        if a.keep:
            print(f"kept {d}")
        else:
            pairfleet.cleanup(d)
    print(f"tsan token batches: {'FAILED' if failed else 'OK'} ({failed} failed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
