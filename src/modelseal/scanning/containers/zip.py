"""Zip archives, read the way each consuming loader reads them.

PyTorch's reader (miniz) trusts the central directory's entry count, ignores CRCs, flag bits and local-header
names; Python's `zipfile` (and so numpy's `.npz`, joblib, pandas, Keras) reads entries until the directory's byte
size is used up, whatever the count says. This reader takes every entry either would see, scans each distinct
member once by content, and reports every point where the readers could disagree (CVE-2025-1944, CVE-2025-1945,
CVE-2025-10156) instead of refusing what a loader accepts.
"""

from __future__ import annotations

import bz2
import io
import json
import lzma
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from modelseal.scanning.budget import ScanBoundError
from modelseal.scanning.context import MAX_TEXT_BYTES, SPOOL_IN_MEMORY, CorruptStreamError, ScanContext, join
from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.sniff import HEADER_BYTES
from modelseal.scanning.streams import window

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_STORAGE_MEMBER = re.compile(r"(^|/)data/\d+$")
STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14  # the methods Python's zipfile reads
MAX_SHARED_LISTED = 5


class ZipFormatError(Exception):
    """The archive's directory cannot be read at all."""


@dataclass(frozen=True)
class Member:
    name: str
    local_name: str
    flags: int
    method: int
    crc: int
    compressed_size: int
    size: int
    data_offset: int  # -1: no local header where the directory says

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


@dataclass(frozen=True)
class Archive:
    members: tuple[Member, ...]
    prefix_bytes: int  # data before the first member (polyglots, self-extractors)
    declared_count: int  # the entry count in the end record: what miniz (torch.load) reads


def _find_eocd(handle: IO[bytes], size: int) -> tuple[int, bytes]:
    span = min(size, 65536 + 22)
    handle.seek(size - span)
    tail = handle.read(span)
    position = tail.rfind(_EOCD)
    if position < 0:
        raise ZipFormatError("no end-of-central-directory record")
    return size - span + position, tail[position:]


def read_directory(handle: IO[bytes], size: int, max_entries: int) -> Archive:
    """Parse the central directory (zip64 included) as `zipfile` does, and locate each member's data."""
    eocd_at, eocd = _find_eocd(handle, size)
    if len(eocd) < 22:
        raise ZipFormatError("truncated end-of-central-directory record")
    _, _, _, _, count, cd_size, cd_offset, _ = struct.unpack("<4s4H2LH", eocd[:22])
    directory_end = eocd_at
    handle.seek(max(0, eocd_at - 20))
    locator = handle.read(20)
    if locator[:4] == _EOCD64_LOCATOR:
        (recorded_at,) = struct.unpack("<Q", locator[8:16])
        directory_end = eocd_at - 20 - 56  # the zip64 record (without extensible data) precedes its locator
        handle.seek(directory_end)
        record = handle.read(56)
        if record[:4] != b"PK\x06\x06":
            handle.seek(recorded_at)
            record = handle.read(56)
            directory_end = recorded_at
        if len(record) < 56:
            raise ZipFormatError("truncated zip64 end record")
        count, cd_size, cd_offset = struct.unpack("<QQQ", record[32:56])
    # archives with data prepended: the directory sits `shift` bytes after where it says
    shift = max(0, directory_end - cd_size - cd_offset)
    handle.seek(cd_offset + shift)
    directory = handle.read(min(cd_size, size))
    members: list[Member] = []
    position = 0
    while position + 46 <= len(directory):  # as zipfile: until the directory's bytes are used up
        if directory[position : position + 4] != _CENTRAL:
            raise ZipFormatError(f"corrupt central directory entry {len(members)}")
        if len(members) >= max_entries:
            raise ScanBoundError(f"more than {max_entries:,} archive members")
        fields = struct.unpack("<4s6H3L5H2L", directory[position : position + 46])
        flags, method, crc, csize, usize = fields[3], fields[4], fields[7], fields[8], fields[9]
        name_len, extra_len, comment_len, offset = fields[10], fields[11], fields[12], fields[16]
        name_bytes = directory[position + 46 : position + 46 + name_len]
        extra = directory[position + 46 + name_len : position + 46 + name_len + extra_len]
        usize, csize, offset = _zip64_extra(extra, usize, csize, offset)
        name = name_bytes.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        members.append(_locate(handle, name, flags, method, crc, csize, usize, offset + shift))
        position += 46 + name_len + extra_len + comment_len
    located = [m for m in members if m.data_offset >= 0]
    prefix = 0
    if located:
        handle.seek(0)
        first = min(located, key=lambda m: m.data_offset)
        prefix = 0 if handle.read(4) == _LOCAL else max(0, first.data_offset - 30 - len(first.local_name))
    return Archive(tuple(members), prefix + shift, count)


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    position = 0
    while position + 4 <= len(extra):
        tag, length = struct.unpack("<HH", extra[position : position + 4])
        body = extra[position + 4 : position + 4 + length]
        if tag == 0x0001:
            values = [struct.unpack("<Q", body[i : i + 8])[0] for i in range(0, len(body) - 7, 8)]
            if usize == 0xFFFFFFFF and values:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF and values:
                csize = values.pop(0)
            if offset == 0xFFFFFFFF and values:
                offset = values.pop(0)
        position += 4 + length
    return usize, csize, offset


def _locate(
    handle: IO[bytes], name: str, flags: int, method: int, crc: int, csize: int, usize: int, offset: int
) -> Member:
    handle.seek(offset)
    local = handle.read(30)
    if local[:4] != _LOCAL:
        return Member(name, name, flags, method, crc, csize, usize, -1)
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    local_name = handle.read(name_len).decode("utf-8", "replace")
    return Member(name, local_name, flags, method, crc, csize, usize, offset + 30 + name_len + extra_len)


def _lzma_member(source: IO[bytes]) -> DecompressorStream:
    """zipfile's LZMA members: a 4-byte header, the LZMA1 properties, then raw LZMA1 data."""
    header = source.read(4)
    if len(header) < 4:
        raise ZipFormatError("truncated LZMA member header")
    properties = source.read(int.from_bytes(header[2:4], "little"))
    filters = [lzma._decode_filter_properties(lzma.FILTER_LZMA1, properties)]  # type: ignore[attr-defined]
    return DecompressorStream(source, lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters))


class DecompressorStream(io.RawIOBase):
    """A stream over a one-shot decompressor object (zlib, bz2 and lzma all share the `decompress` shape)."""

    def __init__(
        self, source: IO[bytes], decompressor: zlib._Decompress | bz2.BZ2Decompressor | lzma.LZMADecompressor
    ) -> None:
        super().__init__()
        self.source, self.decompressor, self.pending = source, decompressor, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self.pending:
            chunk = self.source.read(1 << 16)
            if not chunk:
                flush = getattr(self.decompressor, "flush", None)
                self.pending = flush() if flush is not None else b""
                if not self.pending:
                    return 0
                break
            self.pending = self.decompressor.decompress(chunk)
        count = min(len(buffer), len(self.pending))
        buffer[:count] = self.pending[:count]
        self.pending = self.pending[count:]
        return count


def member_codec(member: Member) -> Callable[[IO[bytes]], IO[bytes]] | None:
    """How the member's bytes are decompressed (None: stored)."""
    if member.method == STORED:
        return None
    if member.method == DEFLATED:
        return lambda source: io.BufferedReader(DecompressorStream(source, zlib.decompressobj(-15)), 1 << 16)
    if member.method == BZIP2:
        return lambda source: io.BufferedReader(DecompressorStream(source, bz2.BZ2Decompressor()), 1 << 16)
    if member.method == LZMA:
        return lambda source: io.BufferedReader(_lzma_member(source), 1 << 16)
    raise ZipFormatError(f"compression method {member.method}, which Python's zipfile does not read either")


# --- scanning -----------------------------------------------------------------------------------------------


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    try:
        archive = read_directory(stream, size, ctx.budget.limits.max_entries - ctx.budget.entries)
    except (ZipFormatError, OSError, ValueError, struct.error) as exc:
        ctx.gap(member, f"zip directory unreadable ({exc})")
        return "zip"
    names = [m.name for m in archive.members]
    torch = any(n.endswith("data.pkl") for n in names)
    # Keras 3 needs only config.json (metadata.json is optional to its loader); the .keras suffix is what it requires
    keras = "config.json" in names and ("metadata.json" in names or ctx.display_name(member).endswith(".keras"))
    skops = "schema.json" in names and not keras
    _archive_anomalies(ctx, archive, member)
    scanned: dict[tuple[int, int], str] = {}
    seen: set[str] = set()
    shared = 0
    _overlaps(ctx, archive, member)
    for entry in archive.members:
        ctx.budget.count_entry()
        if entry.is_dir:
            continue
        inner = join(member, entry.name)
        _member_anomalies(ctx, entry, seen, inner)
        if entry.data_offset < 0:
            ctx.gap(inner, "no local header where the directory says: the member cannot be read")
            continue
        span = (entry.data_offset, entry.compressed_size)
        if span in scanned:  # the same bytes under another name: judged once, reported as what it is
            shared += 1
            if shared <= MAX_SHARED_LISTED:
                message = f"shares its data with {scanned[span]!r} (overlapping members)"
                ctx.add(inner, Finding("ZIP-OVERLAP", Severity.MEDIUM, message))
            continue
        scanned[span] = entry.name
        if torch and "/code/" in f"/{entry.name}" and entry.name.endswith(".py"):
            ctx.add(
                inner,
                Finding(
                    "TORCHSCRIPT-CODE",
                    Severity.MEDIUM,
                    "TorchScript code: torch.load hands such archives to torch.jit.load, which compiles and runs it "
                    "(CVE-2025-32434)",
                ),
            )
        _scan_member(ctx, stream, entry, inner, depth, storage=torch and bool(_STORAGE_MEMBER.search(entry.name)))
    if shared > MAX_SHARED_LISTED:
        ctx.note(member or "archive", f"{shared - MAX_SHARED_LISTED:,} more members share data already scanned")
    if keras:
        _keras_configs(ctx, stream, archive, member, depth)
    if skops and _skops_schema(ctx, stream, archive, member):
        return "skops"
    if "MAR-INF/MANIFEST.json" in names:
        _torchserve_handler(ctx, stream, archive, member)
        return "torchserve-mar"
    return "pytorch-zip" if torch else "keras" if keras else "zip"


def _torchserve_handler(ctx: ScanContext, stream: IO[bytes], archive: Archive, member: str) -> None:
    """TorchServe imports the handler its manifest names: a module shipped in the archive is code that runs on
    every model load (its source is judged as Python too); a built-in handler name is TorchServe's own."""
    entry = next(m for m in archive.members if m.name == "MAR-INF/MANIFEST.json")
    manifest = _json_member(ctx, stream, entry, member)
    model = manifest.get("model") if isinstance(manifest, dict) else None
    handler = model.get("handler") if isinstance(model, dict) else None
    if not isinstance(handler, str):
        return
    module = handler.split(":")[0]
    shipped = {m.name for m in archive.members}
    if module in shipped or f"{module}.py" in shipped:
        message = f"TorchServe imports and runs the handler {handler!r} shipped in the archive on every model load"
        ctx.add(join(member, entry.name), Finding("TORCHSERVE-HANDLER", Severity.MEDIUM, message, target=handler))


def _keras_configs(ctx: ScanContext, stream: IO[bytes], archive: Archive, member: str, depth: int) -> None:
    from modelseal.scanning.formats import keras as keras_format

    for entry in (m for m in archive.members if m.name == "config.json"):  # Keras reads the last one; all judged
        document = _json_member(ctx, stream, entry, member)
        if document is not None:
            keras_format.scan_config(ctx, document, join(member, entry.name), depth)


def _skops_schema(ctx: ScanContext, stream: IO[bytes], archive: Archive, member: str) -> bool:
    """True when the archive is a skops file (its schema names every type it will construct), judged."""
    from modelseal.scanning.formats import skops as skops_format

    entry = next(m for m in archive.members if m.name == "schema.json")
    schema = _json_member(ctx, stream, entry, member, quiet=True)
    if schema is None or not skops_format.is_schema(schema):
        return False
    ctx.add_all(join(member, entry.name), skops_format.check_schema(schema, ctx.policy))
    return True


def _archive_anomalies(ctx: ScanContext, archive: Archive, member: str) -> None:
    if archive.prefix_bytes:
        ctx.add(
            member,
            Finding(
                "ZIP-PREFIX-DATA",
                Severity.LOW,
                f"{archive.prefix_bytes:,} bytes precede the archive (polyglot or self-extractor)",
            ),
        )
    if archive.declared_count != len(archive.members):
        ctx.add(
            member,
            Finding(
                "ZIP-READERS-DISAGREE",
                Severity.HIGH,
                f"the end record declares {archive.declared_count} member(s), the directory holds "
                f"{len(archive.members)}: Python's zipfile (numpy, joblib, Keras) and PyTorch's reader see "
                "different archives (all members were scanned)",
            ),
        )


def _overlaps(ctx: ScanContext, archive: Archive, member: str) -> None:
    """Members whose data ranges partly overlap: bytes that two names read differently (a zip-bomb shape too).
    Members that share exactly the same range are reported where they are skipped, in `scan`."""
    spans = sorted({(m.data_offset, m.compressed_size, m.name) for m in archive.members if m.data_offset >= 0})
    end, owner = -1, (-1, -1, "")
    for span in spans:
        start, length, name = span
        if start < end and (start, length) != owner[:2]:
            ctx.add(
                join(member, name),
                Finding(
                    "ZIP-OVERLAP", Severity.MEDIUM, f"its data overlaps that of {owner[2]!r} (overlapping members)"
                ),
            )
        if start + length > end:
            end, owner = start + length, span


def _member_anomalies(ctx: ScanContext, entry: Member, seen: set[str], inner: str) -> None:
    if entry.name in seen:
        ctx.add(inner, Finding("ZIP-DUPLICATE-NAME", Severity.MEDIUM, "the name appears twice in the archive"))
    seen.add(entry.name)
    if entry.data_offset >= 0 and entry.local_name != entry.name:
        ctx.add(
            inner,
            Finding(
                "ZIP-NAME-MISMATCH",
                Severity.MEDIUM,
                f"local header names it {entry.local_name!r} (CVE-2025-1944: loaders disagree)",
            ),
        )
    if entry.flags & 0x1:
        ctx.add(
            inner,
            Finding(
                "ZIP-ENCRYPTED-FLAG",
                Severity.MEDIUM,
                "marked encrypted; PyTorch ignores the flag and reads it anyway (CVE-2025-1945)",
            ),
        )
    if ".." in entry.name.split("/") or entry.name.startswith("/") or re.match(r"^[A-Za-z]:", entry.name):
        ctx.add(inner, Finding("ZIP-PATH-TRAVERSAL", Severity.HIGH, "the member name escapes the extraction directory"))
    limits = ctx.budget.limits
    if entry.compressed_size and entry.size / entry.compressed_size > limits.max_ratio and entry.size > 1 << 26:
        ctx.add(
            inner,
            Finding(
                "ZIP-BOMB",
                Severity.MEDIUM,
                f"expands {entry.size / entry.compressed_size:,.0f}x to {entry.size:,} bytes",
            ),
        )


def _scan_member(ctx: ScanContext, handle: IO[bytes], entry: Member, inner: str, depth: int, storage: bool) -> None:
    """Stored members are read in place; compressed ones are expanded (charged to the budget) into a spool."""
    try:
        codec = member_codec(entry)
        with window(handle, entry.data_offset, entry.compressed_size) as raw:
            if codec is None:
                if entry.size <= SPOOL_IN_MEMORY and not storage:
                    _check_crc(ctx, raw, entry, inner)
                _scan_content(ctx, raw, entry.compressed_size, entry, inner, depth, storage)
                return
            with ctx.expanded(raw, codec) as (spool, size):
                if size <= SPOOL_IN_MEMORY:
                    _check_crc(ctx, spool, entry, inner)
                _scan_content(ctx, spool, size, entry, inner, depth, storage)
    except (CorruptStreamError, ZipFormatError) as exc:
        ctx.gap(inner, f"member could not be read ({exc})")


def _check_crc(ctx: ScanContext, stream: IO[bytes], entry: Member, inner: str) -> None:
    stream.seek(0)
    crc = 0
    while chunk := stream.read(1 << 20):
        crc = zlib.crc32(chunk, crc)
    stream.seek(0)
    if crc != entry.crc:
        ctx.add(
            inner,
            Finding("ZIP-BAD-CRC", Severity.MEDIUM, "CRC-32 does not match; PyTorch loads it anyway (CVE-2025-10156)"),
        )


def _scan_content(
    ctx: ScanContext, stream: IO[bytes], size: int, entry: Member, inner: str, depth: int, storage: bool
) -> None:
    if storage:
        _scan_storage(ctx, stream, size, inner, depth)
        return
    fmt = ctx.scan(stream, size, inner, depth + 1)
    if fmt == "unknown" and entry.flags & 0x1:
        ctx.gap(inner, "encrypted member: its content cannot be scanned")


def _scan_storage(ctx: ScanContext, stream: IO[bytes], size: int, inner: str, depth: int) -> None:
    """Raw tensor bytes are never unpickled by torch; look only for a complete pickle or archive hidden there."""
    from modelseal.scanning.formats.pickle import scan_pickles
    from modelseal.scanning.registry import Format
    from modelseal.scanning.sniff import sniff

    stream.seek(0)
    header = stream.read(HEADER_BYTES)
    stream.seek(0)
    if sniff(header, size) is Format.ZIP:
        ctx.scan(stream, size, inner, depth + 1)
    elif header[:1] == b"\x80":
        scan_pickles(ctx, stream, size, inner, depth + 1, raw_storage=True)


def _json_member(ctx: ScanContext, handle: IO[bytes], entry: Member, member: str, quiet: bool = False) -> object:
    """A small JSON member, parsed (None, and a gap unless `quiet`, when it cannot be)."""
    reason = ""
    try:
        text = _member_bytes(ctx, handle, entry, MAX_TEXT_BYTES + 1)
        if len(text) > MAX_TEXT_BYTES:
            reason = f"larger than {MAX_TEXT_BYTES:,} bytes"
        else:
            return json.loads(text.decode("utf-8"))
    except (CorruptStreamError, ZipFormatError, ValueError) as exc:
        reason = str(exc)
    except RecursionError:
        reason = "nested deeper than the parser follows (bound)"
    if not quiet:
        ctx.gap(join(member, entry.name), f"config unreadable ({reason})")
    return None


def _member_bytes(ctx: ScanContext, handle: IO[bytes], entry: Member, limit: int) -> bytes:
    if entry.data_offset < 0:
        raise ZipFormatError("no local header where the directory says")
    codec = member_codec(entry)
    with window(handle, entry.data_offset, entry.compressed_size) as raw:
        if codec is None:
            return raw.read(limit)
        with ctx.expanded(raw, codec) as (spool, _):
            return spool.read(limit)
