"""A zip reader as tolerant as PyTorch's (miniz): it trusts the central directory, ignores CRCs, flag bits and
local-header names, and reports each of those oddities instead of refusing the file. A scanner that rejects
what torch happily loads is a bypass (CVE-2025-1944, CVE-2025-1945, CVE-2025-10156).
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import IO

from modelseal.scanning.streams import window

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"


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
    data_offset: int

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


@dataclass(frozen=True)
class Archive:
    members: tuple[Member, ...]
    prefix_bytes: int  # data before the first member (polyglots, self-extractors)


def _find_eocd(handle: IO[bytes], size: int) -> tuple[int, bytes]:
    window = min(size, 65536 + 22)
    handle.seek(size - window)
    tail = handle.read(window)
    position = tail.rfind(_EOCD)
    if position < 0:
        raise ZipFormatError("no end-of-central-directory record")
    return size - window + position, tail[position:]


def read_directory(handle: IO[bytes], size: int) -> Archive:
    """Parse the central directory (zip64 included) and locate each member's data."""
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
        count, cd_size, cd_offset = struct.unpack("<QQQ", record[32:56])
    elif count == 0xFFFF or cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
        raise ZipFormatError("zip64 archive without its locator")
    # archives with data prepended: the directory sits `shift` bytes after where it says
    shift = max(0, directory_end - cd_size - cd_offset)
    handle.seek(cd_offset + shift)
    directory = handle.read(cd_size)
    members: list[Member] = []
    position = 0
    for _ in range(count):
        if directory[position : position + 4] != _CENTRAL:
            raise ZipFormatError(f"corrupt central directory entry {len(members)}")
        fields = struct.unpack("<4s6H3L5H2L", directory[position : position + 46])
        flags, method, crc, csize, usize = fields[3], fields[4], fields[7], fields[8], fields[9]
        name_len, extra_len, comment_len, offset = fields[10], fields[11], fields[12], fields[16]
        name_bytes = directory[position + 46 : position + 46 + name_len]
        extra = directory[position + 46 + name_len : position + 46 + name_len + extra_len]
        usize, csize, offset = _zip64_extra(extra, usize, csize, offset)
        name = name_bytes.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        members.append(_locate(handle, name, flags, method, crc, csize, usize, offset + shift))
        position += 46 + name_len + extra_len + comment_len
    first = min((m.data_offset for m in members), default=0)
    prefix = 0
    if members:
        handle.seek(0)
        prefix = 0 if handle.read(4) == _LOCAL else max(0, first - 30 - len(members[0].local_name))
    return Archive(tuple(members), prefix + shift)


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
        raise ZipFormatError(f"member {name!r} has no local header at offset {offset}")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    local_name = handle.read(name_len).decode("utf-8", "replace")
    return Member(name, local_name, flags, method, crc, csize, usize, offset + 30 + name_len + extra_len)


class _Inflater(io.RawIOBase):
    """Streams a raw-deflate member, refusing to produce more than `limit` bytes (bomb guard)."""

    def __init__(self, source: IO[bytes], limit: int) -> None:
        self.source, self.limit, self.produced = source, limit, 0
        self.inflater = zlib.decompressobj(-15)
        self.pending = b""
        self.exhausted = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self.pending and not self.exhausted:
            chunk = self.source.read(1 << 16)
            if not chunk:
                self.pending = self.inflater.flush()
                self.exhausted = True
                break
            self.pending = self.inflater.decompress(chunk, 1 << 20)
            while self.inflater.unconsumed_tail and len(self.pending) < (1 << 20):
                self.pending += self.inflater.decompress(self.inflater.unconsumed_tail, 1 << 20)
        if self.produced + len(self.pending) > self.limit:
            raise OverflowError(f"member expands beyond {self.limit:,} bytes")
        count = min(len(buffer), len(self.pending))
        buffer[:count] = self.pending[:count]
        self.pending = self.pending[count:]
        self.produced += count
        return count


def open_member(handle: IO[bytes], member: Member, limit: int) -> IO[bytes]:
    """A buffered stream of the member's uncompressed bytes (stored or deflated)."""
    raw = window(handle, member.data_offset, member.compressed_size)
    if member.method == 0:
        return raw
    if member.method == 8:
        return io.BufferedReader(_Inflater(raw, limit), 1 << 16)
    raise ZipFormatError(f"member {member.name!r} uses compression method {member.method}, which is not read")


def member_crc(handle: IO[bytes], member: Member, limit: int) -> int:
    crc = 0
    with open_member(handle, member, limit) as stream:
        while chunk := stream.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc
