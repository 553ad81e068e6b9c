"""Detect a stream's format from its bytes as the loaders accept them, never from its name alone.

Magic numbers first (each checked where its readers look for it: HDF5 also after a user block, tar by its header
checksum as `tarfile` does), then structure (safetensors, protobuf). A pickle has no magic: the unpickler runs
whatever opcodes it is given, with or without PROTO, so any stream whose first byte is a pickle opcode is handed
to the pickle scanner, which decides by emulation whether the unpickler would run anything from it. Names only
break ties where bytes cannot (source code, YAML, SavedModel protobufs).
"""

from __future__ import annotations

import pickletools
import re
from typing import IO

from modelseal.scanning.registry import Format

HEADER_BYTES = 64 * 1024
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1\n"
PICKLE_OPCODES = frozenset(ord(op.code) for op in pickletools.opcodes)
_MAGIC: tuple[tuple[int, bytes, Format], ...] = (
    (0, b"PK\x03\x04", Format.ZIP),
    (0, b"PK\x05\x06", Format.ZIP),
    (0, b"PK\x07\x08", Format.ZIP),
    (0, b"\x1f\x8b", Format.GZIP),
    (0, b"BZh", Format.BZ2),
    (0, b"\xfd7zXZ\x00", Format.XZ),
    (0, b"7z\xbc\xaf\x27\x1c", Format.SEVENZIP),
    (0, b"Rar!\x1a\x07", Format.RAR),
    (0, b"\x04\x22\x4d\x18", Format.LZ4),  # lz4 frame (joblib's lz4 compressor)
    (0, b"\x28\xb5\x2f\xfd", Format.ZSTD),  # zstd frame (pandas .zst)
    (0, b"\x93NUMPY", Format.NPY),
    (0, b"\x89HDF\r\n\x1a\n", Format.HDF5),
    (0, b"GGUF", Format.GGUF),
    (257, b"ustar", Format.TAR),
    (0, b"\x5d\x00\x00", Format.LZMA),
    (4, b"TFL3", Format.TFLITE),  # flatbuffer file identifier
    (0, b"CBM1", Format.CATBOOST),
    (0, b"tree\nversion=v", Format.LIGHTGBM),
    (4, b"ET12", Format.EXECUTORCH),  # flatbuffer file identifier of ExecuTorch programs (.pte)
    (0, (0x112).to_bytes(8, "little"), Format.MXNET_PARAMS),  # MXNet's NDArray-list magic
    (0, b"{L\x00\x00\x00\x00\x00\x00\x00\x07learner", Format.XGBOOST_UBJ),
    (0, b"RDX2\n", Format.R_DATA),  # save() / .RData
    (0, b"RDX3\n", Format.R_DATA),
    (0, b"X\n\x00\x00\x00", Format.R_DATA),  # saveRDS, XDR
    (0, b"B\n\x00\x00\x00", Format.R_DATA),  # saveRDS, native binary
)
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_PROTOBUF_NEXT_FIELD = frozenset({b"\x12", b"\x1a", b"\x22", b"\x28", b"\x32", b"\x3a", b"\x42"})
_PROTOBUF_NAMES = ("saved_model.pb", "keras_metadata.pb")
_PROTOBUF_SUFFIXES = (".mlmodel", ".pdmodel")  # Core ML specs, PaddlePaddle programs
_YAML_SUFFIXES = (".yaml", ".yml")
_MODEL_XML = re.compile(rb"<(net\b[^>]*\bversion=|PMML\b)")  # OpenVINO IR, PMML


def _is_tar_header(header: bytes) -> bool:
    """A pre-POSIX (v7) tar has no magic: `tarfile` accepts a block whose checksum field matches its bytes."""
    if len(header) < 512 or not header[:100].strip(b"\0"):
        return False
    field = header[148:156].replace(b"\0", b" ").strip()
    try:
        stored = int(field, 8)
    except ValueError:
        return False
    unsigned = sum(header[:148]) + 8 * 32 + sum(header[156:512])
    return stored == unsigned


def hdf5_after_user_block(stream: IO[bytes], size: int) -> bool:
    """HDF5 allows a user block before the superblock: the library looks at 512, 1024, 2048, ... bytes."""
    offset = 512
    while offset + 8 <= size:
        stream.seek(offset)
        if stream.read(8) == _HDF5_SIGNATURE:
            return True
        offset *= 2
    return False


def _by_magic(header: bytes) -> Format | None:
    if len(header) >= 2 and header[0] == 0x80 and header[1] <= 5:
        return Format.PICKLE
    if header.startswith(LFS_POINTER):
        return Format.GIT_LFS_POINTER
    for offset, magic, fmt in _MAGIC:
        if header[offset : offset + len(magic)] == magic:
            return fmt
    if header[:2] == b"ZF" and len(header) > 21 and all(c in b"0123456789abcdefx" for c in header[2:21].strip()):
        return Format.ZFILE
    if header[:1] == b"\x78" and len(header) > 1 and (header[0] * 256 + header[1]) % 31 == 0:
        return Format.ZLIB
    if _is_tar_header(header):
        return Format.TAR
    if executable_kind(header) is not None:
        return Format.EXECUTABLE
    if len(header) >= 16 and header[2:4] == b"\r\n" and 3000 <= int.from_bytes(header[:2], "little") < 4000:
        return Format.PYTHON_BYTECODE  # CPython 3's .pyc magic: a version number, then CR LF
    return None


_EXECUTABLES = {b"\x7fELF": "ELF", b"MZqFpD": "llamafile (actually-portable executable)", b"MZ": "PE (Windows)"}
_MACHO = (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")


def executable_kind(header: bytes) -> str | None:
    """The kind of executable `header` starts, or None. A PE needs its `PE\\0\\0` signature where the DOS header
    points, so text that merely starts with "MZ" is not one."""
    if header.startswith(_MACHO):
        return "Mach-O"
    for magic, kind in _EXECUTABLES.items():
        if header.startswith(magic):
            if kind.startswith("PE"):
                offset = int.from_bytes(header[0x3C:0x40], "little") if len(header) >= 0x40 else -1
                return kind if 0 < offset <= len(header) - 4 and header[offset : offset + 4] == b"PE\0\0" else None
            return kind
    return None


def is_sentencepiece(head: bytes) -> bool:
    """The first fields of `head` are sentencepiece pieces: field 1, length-delimited, each a message whose first
    field is the piece's text."""
    from modelseal.scanning.formats.savedmodel import SavedModelError, read_varint

    position, pieces = 0, 0
    while position < len(head) and pieces < 8:
        if head[position] != 0x0A:
            return False
        try:
            length, position = read_varint(head, position + 1)
        except SavedModelError:
            return False
        if position >= len(head) or head[position] != 0x0A:
            return False
        position += length
        pieces += 1
    return pieces >= 3 or position >= len(head) > 0


def sniff(header: bytes, size: int | None = None, name: str = "") -> Format:
    """The format of a stream from its first bytes (and its name, for formats without magic)."""
    by_magic = _by_magic(header)
    if by_magic is not None:
        return by_magic
    if len(header) >= 10 and header[8:9] == b"{" and (size is None or int.from_bytes(header[:8], "little") + 8 <= size):
        return Format.SAFETENSORS
    base = name.rsplit("/", 1)[-1]
    if len(header) > 2 and header[0] == 0x08 and 0 < header[1] <= 20 and header[2:3] in _PROTOBUF_NEXT_FIELD:
        return Format.PROTOBUF  # ONNX ModelProto or TensorFlow SavedModel: told apart by parsing
    if header[:1] == b"\x0a" and is_sentencepiece(header):
        return Format.SENTENCEPIECE  # tokenizer.model, spiece.model: pieces first, specs after
    if base in _PROTOBUF_NAMES or base.endswith(_PROTOBUF_SUFFIXES):
        return Format.PROTOBUF  # a SavedModel may start with any field: its name is the hint, parsing decides
    text = header.lstrip()
    if text[:2] in (b"{%", b"{{", b"{#"):
        return Format.JINJA  # a standalone chat template (transformers saves chat_template.jinja)
    if base.endswith(".py"):
        return Format.PYTHON
    if base.endswith(_YAML_SUFFIXES):
        return Format.YAML
    if text[:1] in (b"{", b"["):
        return Format.JSON
    if text[:1] == b"<" and _MODEL_XML.search(header[:4096]):
        return Format.MODEL_XML
    if header[:1] and header[0] in PICKLE_OPCODES:
        return Format.PICKLE  # the emulator decides whether the unpickler would run anything from it
    return Format.UNKNOWN


def sniff_stream(stream: IO[bytes], size: int, name: str = "") -> Format:
    """The format of a seekable stream by its first bytes; where others loaders find other formats in the same
    bytes (zip directories at the end, HDF5 after a user block) the format scanners look too."""
    stream.seek(0)
    fmt = sniff(stream.read(HEADER_BYTES), size, name)
    stream.seek(0)
    return fmt
