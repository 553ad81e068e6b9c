"""Find serialised payloads hidden in pickle literals: raw, latin-1 (protocol 2 bytes), base64, hex, zlib."""

from __future__ import annotations

import base64
import binascii
import re
import zlib

from modelseal.scanning.budget import Budget

MAX_NESTED_BYTES = 256 << 20
_BASE64 = re.compile(rb"^[A-Za-z0-9+/\s]+={0,2}\s*$")
_HEX = re.compile(rb"^[0-9a-fA-F]+$")


def looks_serialised(data: bytes) -> str | None:
    """The format of `data` if it is something a loader would deserialise: a pickle, a zip or an npy file."""
    if len(data) >= 2 and data[0] == 0x80 and data[1] <= 5:
        return "pickle"
    if data[:4] == b"PK\x03\x04":
        return "zip"
    if data[:6] == b"\x93NUMPY":
        return "npy"
    if data[:1] in (b"c", b"(") and b"\n" in data[:200] and (data.rstrip().endswith(b".")):
        return "pickle"
    return None


def _decoded(raw: bytes, budget: Budget) -> tuple[bytes, str] | None:
    """Hex, base64 or zlib text that decodes to something serialised."""
    stripped = raw.strip()
    if len(stripped) >= 16 and len(stripped) % 2 == 0 and _HEX.match(stripped):
        decoded = binascii.unhexlify(stripped)
        if looks_serialised(decoded):
            return decoded, "hex"
    if len(stripped) >= 16 and _BASE64.match(stripped):
        try:
            decoded = base64.b64decode(stripped, validate=False)
        except (binascii.Error, ValueError):
            decoded = b""
        if looks_serialised(decoded):
            return decoded, "base64"
    if raw[:1] == b"\x78":
        return _zlib_payload(raw, budget)
    return None


def _zlib_payload(raw: bytes, budget: Budget) -> tuple[bytes, str] | None:
    """Peek at the first bytes; only a serialised payload is expanded whole, charged to the file's budget."""
    try:
        if not looks_serialised(zlib.decompressobj().decompress(raw, 256)):
            return None
        inflater = zlib.decompressobj()
        decoded = inflater.decompress(raw, MAX_NESTED_BYTES)
    except zlib.error:
        return None
    budget.expand(len(decoded))
    budget.check_ratio(len(decoded), len(raw))
    return decoded, "zlib"


def embedded_payload(value: bytes | bytearray | str, budget: Budget) -> tuple[bytes, str] | None:
    """(decoded bytes, how they were encoded) when the literal carries a payload, else None."""
    if len(value) > MAX_NESTED_BYTES:
        return None
    if isinstance(value, str):
        try:
            raw = value.encode("latin-1")  # protocol 2 carries bytes as latin-1 text for _codecs.encode
        except UnicodeEncodeError:
            return None
        kind = "string"
    else:
        raw, kind = bytes(value), "bytes"
    if looks_serialised(raw):
        return raw, kind
    return _decoded(raw, budget)
