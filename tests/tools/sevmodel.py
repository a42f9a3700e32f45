# SPDX-License-Identifier: LGPL-2.1-or-later
"""
The test harnesses' reference model of SEV / SEV-ES launch measurement and
launch secrets: the one oracle the CLI, manifest, audit and online suites
and bench/fleet.py compare sevgate against. Written from the spec
(shared/spec/sev-validate-spec.md sections 2-5, vectors in section 13),
never from sevgate's C code, and never calling sevgate.

  LD = SHA-256(firmware || [hashes table] || [BSP VMSA || AP VMSA x (n-1)])
  measurement = HMAC-SHA256(TIK, 0x04 || api_major || api_minor || build ||
                            policy_le32 || LD || mnonce)
  blob = measurement || mnonce (48 bytes; base64 in files and XML)

GUIDs are the canonical lower-case strings; gle() gives the 16 bytes stored
in firmware and tables (EFI mixed-endian, Python's UUID.bytes_le). Standard
library, plus `cryptography` for AES-128-CTR; without it the model still
imports (CRYPTO_ERROR says why) so that a harness can say why it skips.
"""

import base64
import hashlib
import hmac
import struct
import uuid

try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    CRYPTO_ERROR = None
except ImportError as _e:  # the harnesses skip (or fail under CI=true) on this
    Cipher = algorithms = modes = None
    CRYPTO_ERROR = _e

# ---------------------------------------------------------------- GUIDs (spec 3.1, 3.2, 5.2)

FOOTER_GUID = "96b582de-1fb2-45f7-baea-a366c55a082d"
RESET_BLOCK_GUID = "00f771de-1a7e-4fcb-890e-68c77e2fb44e"
HASH_AREA_GUID = "7255371f-3a3b-4b04-927b-1da6efa8d454"
SECRET_AREA_GUID = "4c2eb361-7d9b-4cc3-8081-127c90d3d294"

HASHES_TABLE_GUID = "9438d606-4f22-4cc9-b479-a793d411fd21"
CMDLINE_GUID = "97d02dd8-bd20-4c94-aa78-e7714d36ab2a"
INITRD_GUID = "44baf731-3a2f-4bd7-9af1-41e29169781d"
KERNEL_GUID = "4de79437-abd2-427f-b835-d5b172d2045b"

SECRET_TABLE_GUID = "1e74f542-71dd-4d66-963e-ef4287ff173b"
LUKS_KEY_GUID = "736869e5-84f0-4973-92ec-06879ce3da0b"

POLICY_ES = 0x4


def gle(s):
    """EFI mixed-endian bytes of a GUID string."""
    return uuid.UUID(s).bytes_le


def sha256(b):
    return hashlib.sha256(b).digest()


# ---------------------------------------------------------------- firmware (spec 3.1)

def fw_entry(guid, data):
    return bytes(data) + struct.pack("<H", len(data) + 18) + gle(guid)


def fw_build(body, entries, tail=None):
    """body || entries (first listed = furthest from the footer) || u16 total || footer GUID || 32-byte tail."""
    area = b"".join(fw_entry(g, d) for g, d in entries)
    if tail is None:
        tail = b"\x90" * 16 + b"\x00" * 16
    assert len(tail) == 32
    return bytes(body) + area + struct.pack("<H", len(area) + 18) + gle(FOOTER_GUID) + tail


def make_firmware(size, mult, add, reset_addr, hash_area=(0x80C000, 0x400), secret_area=None):
    """A size-byte image, byte i = (i * mult + add) % 251, its last bytes a footer table
    (hash area, secret area, reset block), laid out like spec 13's fw_synth.bin."""
    ents = []
    if hash_area is not None:
        ents.append((HASH_AREA_GUID, struct.pack("<II", *hash_area)))
    if secret_area is not None:
        ents.append((SECRET_AREA_GUID, struct.pack("<II", *secret_area)))
    ents.append((RESET_BLOCK_GUID, struct.pack("<I", reset_addr)))
    tail = fw_build(b"", ents)
    body = bytearray((i * mult + add) % 251 for i in range(size))
    body[-len(tail):] = tail
    return bytes(body)


def fw_synth():
    """Spec section 13 synthetic firmware (8192 bytes, AP reset address 0x80B004)."""
    return make_firmware(8192, 1, 0, 0x0080B004)


def fw_entries(fw):
    """Walk a footer table backwards, bounds-checked. Returns {guid: data} (a later
    duplicate overwrites an earlier one, as the spec says), or None when there is no
    footer or the table is malformed."""
    if len(fw) < 50 or fw[-48:-32] != gle(FOOTER_GUID):
        return None
    total = struct.unpack("<H", fw[-50:-48])[0]
    if total < 18 or total + 32 > len(fw):
        return None
    area = fw[len(fw) - 32 - total:len(fw) - 50]
    out = {}
    while area:
        if len(area) < 18:
            return None
        g = str(uuid.UUID(bytes_le=bytes(area[-16:])))
        n = struct.unpack("<H", area[-18:-16])[0]
        if n < 18 or n > len(area):
            return None
        out[g] = bytes(area[len(area) - n:len(area) - 18])
        area = area[:len(area) - n]
    return out


def fw_reset_addr(fw):
    """The SEV-ES reset block's address (the whole data field, little-endian), or None."""
    e = fw_entries(fw)
    if not e or RESET_BLOCK_GUID not in e:
        return None
    return int.from_bytes(e[RESET_BLOCK_GUID], "little")


def fw_area(fw, guid):
    """(base, size) of a hash or secret area entry, or None."""
    e = fw_entries(fw)
    if not e or guid not in e or len(e[guid]) != 8:
        return None
    return struct.unpack("<II", e[guid])


def fw_can_hash_kernel(fw):
    """QEMU's kernel-hashes=on needs a hash area with a base and room for the 176-byte table."""
    a = fw_area(fw, HASH_AREA_GUID)
    return a is not None and a[0] != 0 and a[1] >= 176


# ---------------------------------------------------------------- GUID tables (spec 3.2, 5.2)

def guid_table(guid, entries, lenlen):
    """GUID || total || entries (GUID || length || data), lengths u16 (lenlen 2) or
    u32 (4); padding 16 - len % 16, so a full 16 bytes when already aligned."""
    fmt = "<H" if lenlen == 2 else "<I"
    body = b"".join(gle(g) + struct.pack(fmt, 16 + lenlen + len(d)) + bytes(d) for g, d in entries)
    t = gle(guid) + struct.pack(fmt, 16 + lenlen + len(body)) + body
    return t + b"\x00" * (16 - len(t) % 16)


def hashes_table(kernel_sha, initrd_sha=None, cmdline=None):
    """The 176-byte kernel hashes table from the digests (initrd: SHA-256 of nothing when
    absent; cmdline: its UTF-8 bytes and a NUL, "" when absent)."""
    if initrd_sha is None:
        initrd_sha = sha256(b"")
    cmd_sha = sha256((cmdline or "").encode("utf-8") + b"\x00")
    t = guid_table(HASHES_TABLE_GUID, [(CMDLINE_GUID, cmd_sha), (INITRD_GUID, initrd_sha),
                                       (KERNEL_GUID, kernel_sha)], 2)
    assert len(t) == 176
    return t


def hashes_table_of(kernel, initrd=None, cmdline=None):
    """hashes_table() of the kernel and initrd bytes."""
    return hashes_table(sha256(kernel), None if initrd is None else sha256(initrd), cmdline)


def secret_table(entries):
    """The plaintext secret table of [(guid, data)], padded the reference's way."""
    return guid_table(SECRET_TABLE_GUID, entries, 4)


# ---------------------------------------------------------------- VMSA (spec 4)

# vcpu-type -> (family, model, stepping), spec 4.4 / vectors README
VCPU_TYPES = {
    "EPYC": (23, 1, 2), "EPYC-IBPB": (23, 1, 2), "EPYC-Rome": (23, 49, 0),
    "EPYC-Milan": (25, 1, 1), "EPYC-Genoa": (25, 17, 0), "EPYC-Turin": (26, 0, 0),
}


def vcpu_type_sku(name):
    """(family, model, stepping) of a QEMU CPU model name, a -vN suffix ignored."""
    base = name
    if len(name) > 3 and name[-3:-1] == "-v" and name[-1] in "123456789":
        base = name[:-3]
    return VCPU_TYPES[base]


def cpu_sig(family, model, stepping):
    """CPUID Fn0000_0001 EAX (spec 4.4)."""
    stepping &= 0xF
    model &= 0xFF
    family &= 0xFFF
    sig = stepping
    if family > 0xF:
        sig |= 0xF00 | ((family - 0xF) << 20)
    else:
        sig |= family << 8
    return sig | ((model & 0xF) << 4) | ((model >> 4) << 16)


def vmsa_page(sig, profile="legacy", sev_features=0, cs_base=0xFFFF0000, rip=0xFFF0):
    """One VMSA page from the spec's field table: profile legacy (= nofpu, KVM_SEV_ES_INIT)
    or init2 (= fpu: mxcsr and x87 fcw set)."""
    p = bytearray(4096)

    def seg(off, sel, attr, limit, base):
        struct.pack_into("<HHIQ", p, off, sel, attr, limit, base)

    for off in (0x000, 0x020, 0x030, 0x040, 0x050):  # es ss ds fs gs
        seg(off, 0, 0x93, 0xFFFF, 0)
    seg(0x010, 0xF000, 0x9B, 0xFFFF, cs_base)
    seg(0x060, 0, 0, 0xFFFF, 0)     # gdtr
    seg(0x070, 0, 0x82, 0xFFFF, 0)  # ldtr
    seg(0x080, 0, 0, 0xFFFF, 0)     # idtr
    seg(0x090, 0, 0x8B, 0xFFFF, 0)  # tr (busy TSS, QEMU)
    for off, val in ((0x0D0, 0x1000), (0x148, 0x40), (0x158, 0x10), (0x160, 0x400),
                     (0x168, 0xFFFF0FF0), (0x170, 0x2), (0x178, rip),
                     (0x268, 0x0007040600070406), (0x310, sig), (0x3B0, sev_features),
                     (0x3E8, 0x1)):
        struct.pack_into("<Q", p, off, val)
    if profile in ("init2", "fpu"):
        struct.pack_into("<I", p, 0x408, 0x1F80)  # mxcsr
        struct.pack_into("<H", p, 0x410, 0x37F)   # x87 fcw
    elif profile not in ("legacy", "nofpu"):
        raise ValueError(profile)
    return bytes(p)


def vmsa_pair(sig, reset_addr, profile="legacy", sev_features=0):
    """(BSP page, AP page); the AP page is None without a reset address."""
    bsp = vmsa_page(sig, profile, sev_features)
    ap = None
    if reset_addr is not None:
        ap = vmsa_page(sig, profile, sev_features, reset_addr & 0xFFFF0000, reset_addr & 0xFFFF)
    return bsp, ap


def vmsa_run(bsp, ap, vcpus):
    """The measured VMSA bytes of vcpus CPUs: BSP, then vcpus - 1 AP pages (nothing for 0)."""
    return bsp + ap * (vcpus - 1) if vcpus else b""


# ---------------------------------------------------------------- measurement (spec 2, 3)

def launch_digest(fw, table=b"", vmsas=b""):
    return sha256(bytes(fw) + table + vmsas)


def measure_msg(api_major, api_minor, build_id, policy, ld, nonce):
    """The 56-byte LAUNCH_MEASURE HMAC message (spec 2.2)."""
    return (bytes([0x04, api_major, api_minor, build_id]) + struct.pack("<I", policy) +
            ld + nonce)


def measurement_blob(tik, api_major, api_minor, build_id, policy, ld, nonce):
    """The 48 bytes the firmware reports: HMAC-SHA256(TIK, message) || MNONCE."""
    mac = hmac.new(tik, measure_msg(api_major, api_minor, build_id, policy, ld, nonce),
                   hashlib.sha256).digest()
    return mac + nonce


def measurement_b64(tik, api_major, api_minor, build_id, policy, ld, nonce):
    """measurement_blob() in base64, as libvirt and the measurement files carry it."""
    return base64.b64encode(measurement_blob(tik, api_major, api_minor, build_id, policy,
                                             ld, nonce)).decode()


# ---------------------------------------------------------------- secrets (spec 5)

def secret_table_unpadded_len(sizes):
    return 20 + sum(20 + n for n in sizes)


def pad_reference(n):
    """The reference's padding: 16 - n % 16 bytes (16 when aligned)."""
    return n + (16 - n % 16)


def pad_sevctl(n):
    """Round up to 16 (sevctl, and sevgate validate)."""
    return (n + 15) // 16 * 16


def aes_ctr(key, iv, data):
    c = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return c.update(data) + c.finalize()


def packet_mac(tik, flags, iv, ct, measure32):
    """HMAC-SHA256(TIK, 0x01 || FLAGS || IV || GUEST_LENGTH || TRANS_LENGTH || ct || MEASURE)."""
    msg = b"\x01" + flags + iv + struct.pack("<II", len(ct), len(ct)) + ct + measure32
    return hmac.new(tik, msg, hashlib.sha256).digest()


def seal_packet(tik, tek, measure32, table, iv):
    """A LAUNCH_SECRET packet of a plaintext table: (header base64, payload base64)."""
    ct = aes_ctr(tek, iv, table)
    flags = b"\x00" * 4
    hdr = flags + iv + packet_mac(tik, flags, iv, ct, measure32)
    return base64.b64encode(hdr).decode(), base64.b64encode(ct).decode()


class PacketError(ValueError):
    pass


def parse_secret_table(pt):
    """Entries [(guid, data)] and the unpadded length of a decrypted secret table."""
    if len(pt) < 20 or pt[0:16] != gle(SECRET_TABLE_GUID):
        raise PacketError("bad table GUID")
    total = struct.unpack("<I", pt[16:20])[0]
    if total > len(pt):
        raise PacketError("table length %d > %d" % (total, len(pt)))
    if any(pt[total:]):
        raise PacketError("non-zero padding")
    off = 20
    ents = []
    while off < total:
        if total - off < 20:
            raise PacketError("truncated entry")
        g = str(uuid.UUID(bytes_le=pt[off:off + 16]))
        n = struct.unpack("<I", pt[off + 16:off + 20])[0]
        if n < 20 or off + n > total:
            raise PacketError("bad entry length")
        ents.append((g, pt[off + 20:off + n]))
        off += n
    return ents, total


def _decode(header_b64, payload_b64):
    try:
        hdr = base64.b64decode(header_b64, validate=True)
        ct = base64.b64decode(payload_b64, validate=True)
    except Exception as e:  # noqa: BLE001
        raise PacketError("bad base64: %s" % e)
    if len(hdr) != 52:
        raise PacketError("header is %d bytes, expected 52" % len(hdr))
    return hdr[0:4], hdr[4:20], hdr[20:52], ct


def open_packet(tik, tek, measure32, header_b64, payload_b64):
    """Check the MAC and decrypt a LAUNCH_SECRET packet. Returns (entries, unpadded, padded_table)."""
    flags, iv, mac, ct = _decode(header_b64, payload_b64)
    if flags != b"\x00" * 4:
        raise PacketError("flags %s" % flags.hex())
    if not hmac.compare_digest(packet_mac(tik, flags, iv, ct, measure32), mac):
        raise PacketError("MAC mismatch")
    pt = aes_ctr(tek, iv, ct)
    ents, total = parse_secret_table(pt)
    return ents, total, pt


def open_payload(tek, header_b64, payload_b64):
    """Decrypt a LAUNCH_SECRET payload without the MAC (no measurement at hand): {guid: data}."""
    _, iv, _, ct = _decode(header_b64, payload_b64)
    return dict(parse_secret_table(aes_ctr(tek, iv, ct))[0])


# ---------------------------------------------------------------- self check (spec 13)

V_TIK = bytes(range(0x00, 0x10))
V_TEK = bytes(range(0x10, 0x20))
V_MNONCE = bytes(range(0xA0, 0xB0))
V_API = (0, 24, 15)
V_KERNEL = b"KERNEL" * 1000
V_INITRD = b"INITRD" * 500
V_CMDLINE = "console=ttyS0 root=/dev/vda1"


def self_check():
    """The model against the spec section 13 vectors; raises AssertionError."""
    def m(ld, policy):
        return measurement_b64(V_TIK, *V_API, policy, ld, V_MNONCE)

    fw = fw_synth()
    assert sha256(fw).hex() == "f2e01b2a910bf940bc877e47e66b7c3e0879a5bc3ee3c6263f8c1191f59f089e"
    assert m(launch_digest(fw), 3) == "Jtkm6DPHOLtKnVthiMCUs4dyWKB2Kb5yGoM6nUd3nvqgoaKjpKWmp6ipqqusra6v"
    assert (m(launch_digest(fw, hashes_table_of(V_KERNEL, V_INITRD, V_CMDLINE)), 3) ==
            "8aqg6GI6ehleI6dN5f8gp5YBR+fpfVgsIpynh1ounnmgoaKjpKWmp6ipqqusra6v")
    assert (m(launch_digest(fw, hashes_table_of(V_KERNEL)), 3) ==
            "NVH7tC6Bi98gBuGcTAe5Um0jRQNR3sZYAuyRd7wGi3WgoaKjpKWmp6ipqqusra6v")
    sig = cpu_sig(23, 49, 0)
    assert sig == 0x830F10
    bsp, ap = vmsa_pair(sig, fw_reset_addr(fw))
    assert sha256(bsp).hex() == "c0ad5dc8305470b14945bf19c79b6b25ef0aeb1cbbda8318902f731078e2641b"
    assert sha256(ap).hex() == "e66281015adf6958a619ec00d5b96ce5cbbca43b48d76b0778467bff07dd0118"
    assert (m(launch_digest(fw, b"", vmsa_run(bsp, ap, 2)), 7) ==
            "wwFH+LARKpueawD/K5fckKHatM8S1XZ3eU2u267aqh2goaKjpKWmp6ipqqusra6v")
    # Secret vector: the packet with the fixed IV, and open it again.
    table = secret_table([(LUKS_KEY_GUID, b"hunter2")])
    assert table.hex() == ("42f5741edd71664d963eef4287ff173b2f000000e5696873f084734992ec06879c"
                           "e3da0b1b00000068756e7465723200")
    m1 = base64.b64decode("Jtkm6DPHOLtKnVthiMCUs4dyWKB2Kb5yGoM6nUd3nvqgoaKjpKWmp6ipqqusra6v")[:32]
    hdr, pay = seal_packet(V_TIK, V_TEK, m1, table, bytes(range(0x40, 0x50)))
    assert hdr == "AAAAAEBBQkNERUZHSElKS0xNTk+XLEg6t73UNReUKG4IViCgCPPl+gb/QzkUgWxVs+/zVQ=="
    assert pay == "AL6trjC1iOR6h35gbJgneRBU4zMe7m7B/BTpWCgSGJ4Zhqf3HMjXySfxZqYjSONu"
    ents, total, pt = open_packet(V_TIK, V_TEK, m1, hdr, pay)
    assert ents == [(LUKS_KEY_GUID, b"hunter2")] and len(pt) == pad_reference(total)
    assert open_payload(V_TEK, hdr, pay) == {LUKS_KEY_GUID: b"hunter2"}
    # ... and what it must refuse: another measurement, a flipped byte, no footer.
    for args, want in (((V_TIK, V_TEK, bytes(32), hdr, pay), "MAC mismatch"),
                       ((V_TIK, V_TEK, m1, hdr, "B" + pay[1:]), "MAC mismatch"),
                       ((V_TIK, V_TEK, m1, hdr[:8], pay), "header is 6 bytes, expected 52")):
        try:
            open_packet(*args)
            raise AssertionError("open_packet accepted a bad packet (%s)" % want)
        except PacketError as e:
            assert str(e) == want, (str(e), want)
    assert fw_entries(fw[:-1]) is None and fw_reset_addr(bytes(8192)) is None
    assert fw_area(fw, HASH_AREA_GUID) == (0x80C000, 0x400) and fw_can_hash_kernel(fw)


if __name__ == "__main__":
    import sys

    if CRYPTO_ERROR:  # the harnesses' skip rule (tests/tools/harness.py)
        import harness

        harness.skip_exit("cannot import the Python model (%s)" % CRYPTO_ERROR)
    self_check()
    print("sevmodel: spec 13 vectors ok")
    sys.exit(0)
