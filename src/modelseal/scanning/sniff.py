"""Detect a file's format from its bytes, never from its name."""

from __future__ import annotations

import io
import pickletools
import re

HEADER_BYTES = 64 * 1024
_GLOBAL_LINE = re.compile(rb"^c[A-Za-z_][\w.]*\n")
_PROTOCOL0_START = frozenset(b"(cdlI]}SVNLFKJ)GtpgqaehiosuV.")


def _parses_as_pickle(header: bytes) -> bool:
    """Protocol 0/1 have no magic: accept when the first opcodes parse (and are not prose)."""
    count = 0
    try:
        for opcode, _, _ in pickletools.genops(io.BytesIO(header)):
            count += 1
            if opcode.name == "STOP" or count >= 64:
                return count >= 2
    except Exception:  # noqa: BLE001 - any parse failure means "not recognisably a pickle"
        return False
    return count >= 2


def sniff(header: bytes, size: int | None = None) -> str:
    """A format name: pickle, zip, gzip, bz2, xz, lzma, zlib, zfile, 7z, tar, npy, hdf5, gguf, safetensors, or
    unknown."""
    if len(header) >= 2 and header[0] == 0x80 and header[1] <= 5:
        return "pickle"
    if header[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if header[:2] == b"\x1f\x8b":
        return "gzip"
    if header[:3] == b"BZh":
        return "bz2"
    if header[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if header[:6] == b"7z\xbc\xaf\x27\x1c":
        return "7z"
    if header[:2] == b"ZF" and len(header) > 21 and all(c in b"0123456789abcdefx" for c in header[2:21].strip()):
        return "zfile"  # joblib < 0.10: 'ZF', the length in hex, then zlib data
    if header[:6] == b"\x93NUMPY":
        return "npy"
    if header[:8] == b"\x89HDF\r\n\x1a\n":
        return "hdf5"
    if header[:4] == b"GGUF":
        return "gguf"
    if len(header) >= 263 and header[257:262] == b"ustar":
        return "tar"
    if header[:3] == b"\x5d\x00\x00":
        return "lzma"
    if header[:1] == b"\x78" and len(header) > 1 and (header[0] * 256 + header[1]) % 31 == 0:
        return "zlib"
    if len(header) >= 10 and header[8:9] == b"{":
        length = int.from_bytes(header[:8], "little")
        if size is None or length + 8 <= size:
            return "safetensors"
    if header[:1] and header[0] in _PROTOCOL0_START:
        if _GLOBAL_LINE.match(header) or _parses_as_pickle(header):
            return "pickle"
    return "unknown"
