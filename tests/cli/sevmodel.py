# SPDX-License-Identifier: LGPL-2.1-or-later
"""
An independent Python model of SEV / SEV-ES launch measurement and launch
secrets, written from the spec (shared/spec/sev-validate-spec.md sections
2-5, 13), used by the CLI tests as their own oracle. Standard library plus
`cryptography` (AES-128-CTR only).
"""

import base64
import hashlib
import hmac
import struct
import uuid

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# ---------------------------------------------------------------- GUIDs

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


# ---------------------------------------------------------------- firmware

def fw_entry(guid, data):
    return bytes(data) + struct.pack("<H", len(data) + 18) + gle(guid)


def fw_build(body, entries, tail=None):
    """body || entries (first listed = furthest from the footer) || u16 total || footer GUID || 32-byte tail."""
    area = b"".join(fw_entry(g, d) for g, d in entries)
    if tail is None:
        tail = b"\x90" * 16 + b"\x00" * 16
    assert len(tail) == 32
    return bytes(body) + area + struct.pack("<H", len(area) + 18) + gle(FOOTER_GUID) + tail


def fw_entries(fw):
    """Walk a footer table (bounds-checked). Returns {guid: data} or None without a footer."""
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
    e = fw_entries(fw)
    if not e or RESET_BLOCK_GUID not in e:
        return None
    return int.from_bytes(e[RESET_BLOCK_GUID], "little")


def fw_area(fw, guid):
    e = fw_entries(fw)
    if not e or guid not in e or len(e[guid]) != 8:
        return None
    return struct.unpack("<II", e[guid])


def fw_can_hash_kernel(fw):
    a = fw_area(fw, HASH_AREA_GUID)
    return a is not None and a[0] != 0 and a[1] >= 176


# ---------------------------------------------------------------- hashes table

def guid_table(guid, payload, lenlen):
    """The reference's generic GUID table: pad = 16 - len % 16 (16 when aligned)."""
    t = gle(guid) + (16 + lenlen + len(payload)).to_bytes(lenlen, "little") + payload
    return t + b"\x00" * (16 - len(t) % 16)


def hashes_table(kernel, initrd=None, cmdline=None):
    kh = sha256(kernel)
    ih = sha256(initrd if initrd is not None else b"")
    ch = sha256((cmdline if cmdline is not None else "").encode("utf-8") + b"\x00")
    ents = b""
    for g, h in ((CMDLINE_GUID, ch), (INITRD_GUID, ih), (KERNEL_GUID, kh)):
        ents += gle(g) + struct.pack("<H", 50) + h
    t = guid_table(HASHES_TABLE_GUID, ents, 2)
    assert len(t) == 176
    return t


# ---------------------------------------------------------------- VMSA

def cpu_sig(family, model, stepping):
    stepping &= 0xF
    model &= 0xFF
    family &= 0xFFF
    sig = stepping
    if family > 0xF:
        sig |= 0xF00 | ((family - 0xF) << 20)
    else:
        sig |= family << 8
    sig |= ((model & 0xF) << 4) | ((model >> 4) << 16)
    return sig


def vmsa_page(sig, cs_base=0xFFFF0000, rip=0xFFF0):
    """Legacy (nofpu, sev_features 0) VMSA page, from the spec's field table."""
    p = bytearray(4096)

    def seg(off, sel, attr, limit, base):
        struct.pack_into("<HHIQ", p, off, sel, attr, limit, base)

    seg(0x000, 0, 0x93, 0xFFFF, 0)           # es
    seg(0x010, 0xF000, 0x9B, 0xFFFF, cs_base)  # cs
    for off in (0x020, 0x030, 0x040, 0x050):  # ss ds fs gs
        seg(off, 0, 0x93, 0xFFFF, 0)
    seg(0x060, 0, 0, 0xFFFF, 0)              # gdtr
    seg(0x070, 0, 0x82, 0xFFFF, 0)           # ldtr
    seg(0x080, 0, 0, 0xFFFF, 0)              # idtr
    seg(0x090, 0, 0x8B, 0xFFFF, 0)           # tr
    for off, val in ((0x0D0, 0x1000), (0x148, 0x40), (0x158, 0x10), (0x160, 0x400),
                     (0x168, 0xFFFF0FF0), (0x170, 0x2), (0x178, rip),
                     (0x268, 0x0007040600070406), (0x310, sig), (0x3E8, 0x1)):
        struct.pack_into("<Q", p, off, val)
    return bytes(p)


def vmsa_pair(sig, reset_addr):
    bsp = vmsa_page(sig)
    ap = None
    if reset_addr is not None:
        ap = vmsa_page(sig, reset_addr & 0xFFFF0000, reset_addr & 0xFFFF)
    return bsp, ap


# ---------------------------------------------------------------- measurement

def launch_digest(fw, table=b"", vmsas=b""):
    return sha256(bytes(fw) + table + vmsas)


def measure_msg(api_major, api_minor, build_id, policy, ld, nonce):
    return (bytes([0x04, api_major, api_minor, build_id]) + struct.pack("<I", policy) +
            ld + nonce)


def measurement_blob(tik, api_major, api_minor, build_id, policy, ld, nonce):
    mac = hmac.new(tik, measure_msg(api_major, api_minor, build_id, policy, ld, nonce),
                   hashlib.sha256).digest()
    return mac + nonce


# ---------------------------------------------------------------- secrets

def secret_table_unpadded_len(sizes):
    return 20 + sum(20 + n for n in sizes)


def pad_reference(n):
    return n + (16 - n % 16)


def pad_sevctl(n):
    return (n + 15) // 16 * 16


def aes_ctr(key, iv, data):
    c = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return c.update(data) + c.finalize()


class PacketError(Exception):
    pass


def open_packet(tik, tek, measure32, header_b64, payload_b64):
    """Check the MAC and decrypt a LAUNCH_SECRET packet. Returns (entries, unpadded, padded_table)."""
    try:
        hdr = base64.b64decode(header_b64, validate=True)
        ct = base64.b64decode(payload_b64, validate=True)
    except Exception as e:  # noqa: BLE001
        raise PacketError("bad base64: %s" % e)
    if len(hdr) != 52:
        raise PacketError("header is %d bytes, expected 52" % len(hdr))
    flags, iv, mac = hdr[0:4], hdr[4:20], hdr[20:52]
    if flags != b"\x00" * 4:
        raise PacketError("flags %s" % flags.hex())
    msg = (b"\x01" + flags + iv + struct.pack("<II", len(ct), len(ct)) + ct + measure32)
    want = hmac.new(tik, msg, hashlib.sha256).digest()
    if not hmac.compare_digest(want, mac):
        raise PacketError("MAC mismatch")
    pt = aes_ctr(tek, iv, ct)
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
    return ents, total, pt
