"""Detect a file's format from its bytes, never from its name."""

from __future__ import annotations

import io
import pickletools
import re
import warnings

HEADER_BYTES = 64 * 1024
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1\n"
_GLOBAL_LINE = re.compile(rb"^c[A-Za-z_][\w.]*\n")
_PROTOCOL0_START = frozenset(b"(cdlI]}SVNLFKJ)GtpgqaehiosuV.")


def _parses_as_pickle(header: bytes) -> bool:
    """Protocol 0/1 have no magic: accept when the first opcodes (up to 64, or STOP) parse without error."""
    count = 0
    with warnings.catch_warnings():  # codecs warns about hostile STRING escapes; sniffing must stay quiet
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            for opcode, _, _ in pickletools.genops(io.BytesIO(header)):
                count += 1
                if opcode.name == "STOP" or count >= 64:
                    break
        except Exception:  # noqa: BLE001 - any parse failure means "not recognisably a pickle"
            return False
    return count >= 2


_PROTOBUF_NEXT_FIELD = frozenset({b"\x12", b"\x1a", b"\x22", b"\x28", b"\x32", b"\x3a", b"\x42"})
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"PK\x03\x04", "zip"),
    (0, b"PK\x05\x06", "zip"),
    (0, b"PK\x07\x08", "zip"),
    (0, b"\x1f\x8b", "gzip"),
    (0, b"BZh", "bz2"),
    (0, b"\xfd7zXZ\x00", "xz"),
    (0, b"7z\xbc\xaf\x27\x1c", "7z"),
    (0, b"\x93NUMPY", "npy"),
    (0, b"\x89HDF\r\n\x1a\n", "hdf5"),
    (0, b"GGUF", "gguf"),
    (257, b"ustar", "tar"),
    (0, b"\x5d\x00\x00", "lzma"),
)


def sniff(header: bytes, size: int | None = None) -> str:
    """A format name: pickle, zip, gzip, bz2, xz, lzma, zlib, zfile, 7z, tar, npy, hdf5, gguf, safetensors, or
    unknown."""
    if len(header) >= 2 and header[0] == 0x80 and header[1] <= 5:
        return "pickle"
    if header.startswith(LFS_POINTER):
        return "git-lfs-pointer"
    for offset, magic, name in _MAGIC:
        if header[offset : offset + len(magic)] == magic:
            return name
    if header[:2] == b"ZF" and len(header) > 21 and all(c in b"0123456789abcdefx" for c in header[2:21].strip()):
        return "zfile"  # joblib < 0.10: 'ZF', the length in hex, then zlib data
    if header[:1] == b"\x78" and len(header) > 1 and (header[0] * 256 + header[1]) % 31 == 0:
        return "zlib"
    if len(header) >= 10 and header[8:9] == b"{" and (size is None or int.from_bytes(header[:8], "little") + 8 <= size):
        return "safetensors"
    if header[:1] and header[0] in _PROTOCOL0_START and (_GLOBAL_LINE.match(header) or _parses_as_pickle(header)):
        return "pickle"
    if len(header) > 2 and header[0] == 0x08 and 0 < header[1] <= 20 and header[2:3] in _PROTOBUF_NEXT_FIELD:
        return "protobuf"  # ONNX ModelProto or TensorFlow SavedModel: told apart by parsing
    if header.lstrip()[:2] in (b"{%", b"{{", b"{#"):
        return "jinja"  # a standalone chat template (transformers saves chat_template.jinja)
    if header.lstrip()[:1] == b"{":
        return "json"
    return "unknown"
