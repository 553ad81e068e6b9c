"""GGUF: a bounded reader of the header, metadata and tensor table (the format is simple and `gguf`'s own reader
builds a Python object per array element, which a file of 10M empty strings turns into minutes and gigabytes).
Every chat template is checked with Jinja2's parser; tensor data must lie inside the file.

Token arrays of real models hold up to a few hundred thousand strings: arrays are stepped over in bulk, and more
than `MAX_ARRAY_STRINGS` strings in one file is a bound, never a pass.
"""

from __future__ import annotations

import struct
from typing import IO

from modelseal.scanning.context import MAX_TEXT_BYTES, ScanContext
from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.formats.templates import check_template
from modelseal.scanning.network import find_network_indicators
from modelseal.scanning.secrets import find_secrets

MAX_ARRAY_STRINGS = 4_000_000
MAX_TENSORS = 1_000_000
MAX_KEY_BYTES = 1 << 16
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
STRING, ARRAY = 8, 9


class GGUFError(Exception):
    """The file does not parse as GGUF."""


class _Reader:
    """Sequential little- or big-endian reads over a seekable stream, bounded by its size."""

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self.stream, self.size, self.order = stream, size, "<"

    def take(self, count: int) -> bytes:
        data = self.stream.read(count)
        if len(data) < count:
            raise GGUFError("truncated")
        return data

    def skip(self, count: int) -> None:
        target = self.stream.tell() + count
        if target > self.size:
            raise GGUFError("a value extends beyond the end of the file")
        self.stream.seek(target)

    def u32(self) -> int:
        value: int = struct.unpack(self.order + "I", self.take(4))[0]
        return value

    def u64(self) -> int:
        value: int = struct.unpack(self.order + "Q", self.take(8))[0]
        return value

    def string(self, limit: int) -> bytes | None:
        """The string's bytes, or None (skipped) when longer than `limit`."""
        length = self.u64()
        if length > limit:
            self.skip(length)
            return None
        return self.take(length)


def _skip_array(reader: _Reader, budget: list[int]) -> None:
    kind, count = reader.u32(), reader.u64()
    if kind in _SCALAR_SIZES:
        reader.skip(count * _SCALAR_SIZES[kind])
    elif kind == STRING:
        budget[0] -= count
        if budget[0] < 0:
            raise GGUFError(f"more than {MAX_ARRAY_STRINGS:,} strings in metadata arrays (bound)")
        for _ in range(count):
            reader.skip(reader.u64())
    elif kind == ARRAY:
        if count > MAX_ARRAY_STRINGS:
            raise GGUFError(f"a nested metadata array of {count:,} arrays")
        for _ in range(count):
            _skip_array(reader, budget)
    else:
        raise GGUFError(f"unknown array element type {kind}")


def _tensor_bytes(kind: int, dims: list[int]) -> int:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType  # lazy: only GGUF files pay for it

    try:
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(kind)]
    except (ValueError, KeyError) as exc:
        raise GGUFError(f"unknown tensor type {kind}") from exc
    count = 1
    for n in dims:
        count *= n
    return count * type_size // block


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    try:
        ctx.add_all(member, _check(ctx, stream, size))
    except (GGUFError, struct.error) as exc:
        ctx.add(member, Finding("GGUF-INVALID", Severity.MEDIUM, f"not a valid GGUF file: {exc}"))
        ctx.gap(member, f"GGUF could not be read ({exc})")
    return "gguf"


def _check(ctx: ScanContext, stream: IO[bytes], size: int) -> list[Finding]:
    reader = _Reader(stream, size)
    stream.seek(4)
    version = reader.u32()
    if version & 0xFFFF == 0 and version:  # written on a big-endian machine
        reader.order, version = ">", int.from_bytes(version.to_bytes(4, "little"), "big")
    if version not in (2, 3):
        raise GGUFError(f"unsupported version {version}")
    tensor_count, kv_count = reader.u64(), reader.u64()
    if tensor_count > MAX_TENSORS:
        raise GGUFError(f"declares {tensor_count:,} tensors")
    findings, alignment = _metadata(ctx, reader, kv_count)
    return findings + _tensor_layout(reader, tensor_count, alignment, size)


def _metadata(ctx: ScanContext, reader: _Reader, kv_count: int) -> tuple[list[Finding], int]:
    """Findings in the metadata's strings (chat templates), and the data alignment it declares."""
    findings: list[Finding] = []
    strings_left = [MAX_ARRAY_STRINGS]
    alignment = 32
    for index in range(kv_count):
        if not index & 0xFFF:
            ctx.budget.check_time()
        key_bytes = reader.string(MAX_KEY_BYTES)
        if key_bytes is None:
            raise GGUFError("a metadata key longer than 64 KiB")
        key = key_bytes.decode("utf-8", "replace")
        kind = reader.u32()
        if kind == STRING:
            raw = reader.string(MAX_TEXT_BYTES)
            if raw is None:
                ctx.gap("", f"metadata {key!r} is longer than {MAX_TEXT_BYTES:,} bytes: not checked")
                continue
            value = raw.decode("utf-8", "replace")
            if key.startswith("tokenizer.chat_template") or "{%" in value or "{{" in value:
                findings += check_template(value, key)
            findings += find_secrets(value, f"metadata {key!r}")
            if not key.startswith("general."):  # general.* holds the model's own links (source, licence, base model)
                findings += find_network_indicators(value, f"metadata {key!r}")
        elif kind == ARRAY:
            _skip_array(reader, strings_left)
        elif kind in _SCALAR_SIZES:
            data = reader.take(_SCALAR_SIZES[kind])
            if key == "general.alignment" and kind == 4:
                alignment = struct.unpack(reader.order + "I", data)[0] or 32
        else:
            raise GGUFError(f"metadata {key!r} has unknown type {kind}")
    return findings, alignment


def _tensor_layout(reader: _Reader, tensor_count: int, alignment: int, size: int) -> list[Finding]:
    """Every tensor's data must lie inside the file; overlaps are reported."""
    findings: list[Finding] = []
    spans: list[tuple[int, int, str]] = []
    for _ in range(tensor_count):
        name = (reader.string(MAX_KEY_BYTES) or b"?").decode("utf-8", "replace")
        n_dims = reader.u32()
        if n_dims > 8:
            raise GGUFError(f"tensor {name!r} has {n_dims} dimensions")
        dims = [reader.u64() for _ in range(n_dims)]
        kind, offset = reader.u32(), reader.u64()
        spans.append((offset, _tensor_bytes(kind, dims), name))
    data_start = -(-reader.stream.tell() // alignment) * alignment
    position = 0
    for offset, length, name in sorted(spans):
        if data_start + offset + length > size:
            raise GGUFError(
                f"tensor {name!r} ends at byte {data_start + offset + length:,}, beyond the {size:,}-byte file"
            )
        if offset < position:
            findings.append(Finding("GGUF-OVERLAP", Severity.MEDIUM, f"tensor {name!r} overlaps the previous one"))
        position = max(position, offset + length)
    return findings
