"""What every format scanner shares: options, the findings and gaps of one file, format dispatch, bounded
expansion of compressed data into seekable spools, and file paths for readers that need one."""

from __future__ import annotations

import contextlib
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

from modelseal.scanning.findings import Finding
from modelseal.scanning.pickle.policy import DEFAULT_POLICY, PicklePolicy
from modelseal.scanning.pickle.vm import Limits
from modelseal.scanning.sniff import HEADER_BYTES, sniff

SPOOL_IN_MEMORY = 64 << 20
MAX_JSON_BYTES = 32 << 20
MAX_PROTOBUF_BYTES = 2 << 30  # protobuf's own message limit
UNSCANNED = {"unknown", "json", "protobuf"}


@dataclass(frozen=True)
class ScanOptions:
    policy: PicklePolicy = DEFAULT_POLICY
    limits: Limits = field(default_factory=Limits)
    max_depth: int = 5
    max_expanded_bytes: int = 8 << 30
    max_ratio: int = 1000


def join(member: str, name: str) -> str:
    """The path of `name` inside `member`, '!' between nesting levels."""
    return f"{member}!{name}" if member else name


class ExpandError(Exception):
    """A compressed stream or member could not be expanded (corrupt, or over the scan budget)."""


class SpoolContext:
    """Copy a stream into a seekable spool (memory, then disk), bounded."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self.stream, self.limit = stream, limit
        self.spool: tempfile.SpooledTemporaryFile[bytes] | None = None

    def __enter__(self) -> tuple[IO[bytes], int]:
        import lzma

        self.spool = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY)
        copied = 0
        try:
            while chunk := self.stream.read(1 << 20):
                copied += len(chunk)
                if copied > self.limit:
                    raise ExpandError(f"expands beyond {self.limit:,} bytes")
                self.spool.write(chunk)
        except (OSError, EOFError, zlib.error, OverflowError, lzma.LZMAError) as exc:
            self.spool.close()
            raise ExpandError(str(exc)) from exc
        self.spool.seek(0)
        return self.spool, copied

    def __exit__(self, *exc: object) -> None:
        if self.spool is not None:
            self.spool.close()


class ZlibStream:
    """A bare zlib stream read in chunks (what joblib's zlib compressor writes)."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source, self.inflater, self.done = source, zlib.decompressobj(), False

    def read(self, size: int = -1) -> bytes:
        while not self.done:
            chunk = self.source.read(1 << 16)
            if not chunk:
                self.done = True
                return self.inflater.flush()
            out = self.inflater.decompress(chunk)
            if out:
                return out
        return b""


def decompressor(fmt: str, handle: IO[bytes]) -> IO[bytes]:
    """A streaming decompressor over `handle` (joblib's compressors, and plain .gz/.bz2/.xz files)."""
    import bz2
    import gzip
    import lzma

    if fmt == "gzip":
        return cast(IO[bytes], gzip.GzipFile(fileobj=handle))
    if fmt == "bz2":
        return cast(IO[bytes], bz2.BZ2File(handle))
    if fmt == "zlib":
        return cast(IO[bytes], ZlibStream(handle))
    return cast(IO[bytes], lzma.LZMAFile(handle, format=lzma.FORMAT_ALONE if fmt == "lzma" else lzma.FORMAT_AUTO))


class ScanContext:
    """The findings and gaps of one top-level file. Format mixins add `_scan_<format>` methods; `scan_handle`
    sniffs a stream and calls the matching one."""

    def __init__(self, path: Path, options: ScanOptions) -> None:
        self.path = path
        self.options = options
        self.findings: list[Finding] = []
        self.gaps: list[str] = []
        self.notes: list[str] = []
        self.expanded = 0

    def add(self, member: str, finding: Finding) -> None:
        self.findings.append(
            Finding(
                finding.rule, finding.severity, finding.message, member, finding.offset, finding.target, finding.payload
            )
        )

    def add_all(self, member: str, findings: list[Finding]) -> None:
        for finding in findings:
            self.add(member, finding)

    def display_name(self, member: str) -> str:
        """The member's path inside archives, or the file's own name: what name-based hints look at."""
        return member or self.path.name

    def directory(self, member: str) -> Path | None:
        """The directory beside the file, for formats that reference sibling files (None inside archives)."""
        return None if member else self.path.parent

    def gap(self, member: str, reason: str) -> None:
        self.gaps.append(f"{member + ': ' if member else ''}{reason}")

    def scan_handle(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        """Scan a seekable stream of `size` bytes; returns the detected format."""
        if depth > self.options.max_depth:
            self.gap(member, f"nested deeper than {self.options.max_depth} levels")
            return "nested"
        handle.seek(0)
        header = handle.read(HEADER_BYTES)
        fmt = sniff(header, size)
        handle.seek(0)
        name = member.rsplit("!", 1)[-1] if member else self.path.name
        if fmt == "unknown" and name.rsplit("/", 1)[-1] in ("saved_model.pb", "keras_metadata.pb"):
            fmt = "protobuf"  # a SavedModel may start with any field: its name is the hint, parsing decides
        if fmt == "unknown" and self.display_name(member).endswith(".py"):
            fmt = "python"  # source has no magic: the name is the only hint (content-sniffed formats won above)
        scanner = getattr(self, f"_scan_{fmt}", None)
        if scanner is None:
            return fmt
        result: str = scanner(handle, size, member, depth) or fmt
        return result

    def scan_bytes(self, data: bytes, member: str, depth: int) -> None:
        with tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY) as spool:
            spool.write(data)
            self.scan_handle(spool, len(data), member, depth)

    def _budget(self, size: int) -> int | None:
        self.expanded += size
        if self.expanded > self.options.max_expanded_bytes:
            return None
        return max(size, 1) + (1 << 20)

    def _spooled(self, stream: IO[bytes]) -> SpoolContext:
        return SpoolContext(stream, self.options.max_expanded_bytes)

    @contextlib.contextmanager
    def _as_file(self, handle: IO[bytes], member: str, suffix: str) -> Iterator[str]:
        """A filesystem path for readers that need one: the file itself, or a copy of an archive member."""
        if not member:
            yield str(self.path)
            return
        with tempfile.NamedTemporaryFile(prefix="modelseal-", suffix=suffix) as copy:
            handle.seek(0)
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
            copy.flush()
            yield copy.name

    # implemented by the pickle and archive mixins; declared here because other formats hand data to them
    def _scan_pickle(self, handle: IO[bytes], size: int, member: str, depth: int, strict: bool = False) -> str:
        raise NotImplementedError

    def _scan_zip(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        raise NotImplementedError
