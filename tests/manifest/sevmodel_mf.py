# SPDX-License-Identifier: LGPL-2.1-or-later
"""
An independent Python model of the SEV/SEV-ES launch measurement (spec
sections 2-4, /work/shared/vectors/README.md), written for the manifest
tests and deliberately not sharing code with tests/cli/sevmodel.py or with
sevgate: the fleet test compares sevgate's verdicts against it.

  LD = SHA-256(firmware || [hashes table] || [BSP VMSA || AP VMSA x (n-1)])
  measurement = HMAC-SHA256(TIK, 0x04 || api_major || api_minor || build ||
                            policy_le32 || LD || mnonce)
  blob = base64(measurement || mnonce)
"""
import base64
import hashlib
import hmac
import struct
import uuid


def _gle(s):
    return uuid.UUID(s).bytes_le


FOOTER_GUID = _gle("96b582de-1fb2-45f7-baea-a366c55a082d")
SEV_ES_RESET_GUID = _gle("00f771de-1a7e-4fcb-890e-68c77e2fb44e")
HASH_AREA_GUID = _gle("7255371f-3a3b-4b04-927b-1da6efa8d454")
SECRET_AREA_GUID = _gle("4c2eb361-7d9b-4cc3-8081-127c90d3d294")
HASHES_TABLE_GUID = _gle("9438d606-4f22-4cc9-b479-a793d411fd21")
CMDLINE_GUID = _gle("97d02dd8-bd20-4c94-aa78-e7714d36ab2a")
INITRD_GUID = _gle("44baf731-3a2f-4bd7-9af1-41e29169781d")
KERNEL_GUID = _gle("4de79437-abd2-427f-b835-d5b172d2045b")
SECRET_TABLE_GUID = _gle("1e74f542-71dd-4d66-963e-ef4287ff173b")
LUKS_KEY_GUID = _gle("736869e5-84f0-4973-92ec-06879ce3da0b")

POLICY_ES = 0x4


def sha256(b):
    return hashlib.sha256(b).digest()


# ---- firmware (OVMF footer GUID table, spec 3.1) ----

def make_firmware(size, mult, add, reset_addr, hash_area=(0x80C000, 0x400), secret_area=None):
    """A synthetic firmware image laid out like spec 13's fw_synth.bin."""
    body = bytearray((i * mult + add) % 251 for i in range(size))
    entries = b""
    if hash_area is not None:
        entries += struct.pack("<IIH", hash_area[0], hash_area[1], 26) + HASH_AREA_GUID
    if secret_area is not None:
        entries += struct.pack("<IIH", secret_area[0], secret_area[1], 26) + SECRET_AREA_GUID
    entries += struct.pack("<IH", reset_addr, 22) + SEV_ES_RESET_GUID
    tail = entries + struct.pack("<H", len(entries) + 18) + FOOTER_GUID + b"\x90" * 16 + b"\x00" * 16
    body[-len(tail):] = tail
    return bytes(body)


def fw_entries(fw):
    if fw[-48:-32] != FOOTER_GUID:
        raise ValueError("no OVMF footer")
    (total,) = struct.unpack("<H", fw[-50:-48])
    area = fw[-(32 + total):-50]
    out = {}
    while len(area) >= 18:
        guid = area[-16:]
        (ln,) = struct.unpack("<H", area[-18:-16])
        out[guid] = area[-ln:-18]
        area = area[:-ln]
    return out


def fw_reset_addr(fw):
    return int.from_bytes(fw_entries(fw)[SEV_ES_RESET_GUID], "little")


# ---- kernel hashes table (spec 3.2) ----

def hashes_table(kernel_sha, initrd_sha=None, cmdline=None):
    if initrd_sha is None:
        initrd_sha = sha256(b"")
    cmd_sha = sha256((cmdline or "").encode() + b"\0")
    body = b""
    for guid, h in ((CMDLINE_GUID, cmd_sha), (INITRD_GUID, initrd_sha), (KERNEL_GUID, kernel_sha)):
        body += guid + struct.pack("<H", 50) + h
    table = HASHES_TABLE_GUID + struct.pack("<H", 18 + len(body)) + body
    pad = 16 - len(table) % 16
    return table + b"\0" * pad


# ---- VMSA pages (spec 4) ----

VCPU_TYPES = {
    "EPYC": (23, 1, 2), "EPYC-IBPB": (23, 1, 2), "EPYC-Rome": (23, 49, 0),
    "EPYC-Milan": (25, 1, 1), "EPYC-Genoa": (25, 17, 0), "EPYC-Turin": (26, 0, 0),
}


def vcpu_type_sku(name):
    base = name
    if len(name) > 3 and name[-3:-1] == "-v" and name[-1] in "123456789":
        base = name[:-3]
    return VCPU_TYPES[base]


def cpu_sig(family, model, stepping):
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
        struct.pack_into("<I", p, 0x408, 0x1F80)
        struct.pack_into("<H", p, 0x410, 0x37F)
    elif profile not in ("legacy", "nofpu"):
        raise ValueError(profile)
    return bytes(p)


def vmsa_pair(sig, reset_addr, profile="legacy", sev_features=0):
    bsp = vmsa_page(sig, profile, sev_features)
    ap = vmsa_page(sig, profile, sev_features, reset_addr & 0xFFFF0000, reset_addr & 0xFFFF)
    return bsp, ap


# ---- launch digest and measurement (spec 2, 3) ----

def launch_digest(fw, table=b"", bsp=None, ap=None, vcpus=0):
    data = fw + table
    if vcpus:
        data += bsp + ap * (vcpus - 1)
    return sha256(data)


def measurement_blob(tik, api_major, api_minor, build_id, policy, ld, mnonce):
    msg = bytes([0x04, api_major, api_minor, build_id]) + struct.pack("<I", policy) + ld + mnonce
    mac = hmac.new(tik, msg, hashlib.sha256).digest()
    return base64.b64encode(mac + mnonce).decode()


# ---- secret packets (spec 5), to open what sevgate releases ----

def open_secret_payload(tek, header_b64, payload_b64):
    """Decrypt a LAUNCH_SECRET payload; returns {guid_bytes_le: data}."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    header = base64.b64decode(header_b64)
    iv = header[4:20]
    payload = base64.b64decode(payload_b64)
    dec = Cipher(algorithms.AES(tek), modes.CTR(iv)).decryptor()
    table = dec.update(payload) + dec.finalize()
    if table[:16] != SECRET_TABLE_GUID:
        raise ValueError("secret table GUID")
    (total,) = struct.unpack("<I", table[16:20])
    out, pos = {}, 20
    while pos < total:
        guid = table[pos:pos + 16]
        (ln,) = struct.unpack("<I", table[pos + 16:pos + 20])
        out[guid] = table[pos + 20:pos + ln]
        pos += ln
    return out
