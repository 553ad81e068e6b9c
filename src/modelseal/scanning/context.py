"""The state of one top-level file's scan, handed to every format scanner: options, policy, the shared budget, and
the findings, gaps and notes collected so far. `scan` is the one way down into nested content: it sniffs a
stream, checks the depth bound, and calls the registered scanner of the detected format."""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from modelseal.scanning.budget import Budget, Limits, ScanBoundError
from modelseal.scanning.findings import Finding
from modelseal.scanning.policy import DEFAULT_POLICY, ScanPolicy
from modelseal.scanning.registry import Format, scanner_for
from modelseal.scanning.sniff import HEADER_BYTES, sniff_stream
from modelseal.scanning.streams import Expanding

SPOOL_IN_MEMORY = 64 << 20
MAX_TEXT_BYTES = 32 << 20  # JSON, YAML, templates and Python sources read whole


@dataclass(frozen=True)
class ScanOptions:
    policy: ScanPolicy = DEFAULT_POLICY
    limits: Limits = field(default_factory=Limits)


class CorruptStreamError(Exception):
    """A compressed stream could not be decompressed: what it holds is unknown."""


def join(member: str, name: str) -> str:
    """The path of `name` inside `member`, '!' between nesting levels."""
    return f"{member}!{name}" if member else name


class ScanContext:
    """Findings, gaps and notes of one top-level file, and the budget everything nested in it shares."""

    def __init__(self, path: Path, options: ScanOptions, *, local: bool = True) -> None:
        self.path = path  # a remote file's model-relative name when not `local`
        self.local = local
        self.options = options
        self.policy = options.policy
        self.budget = Budget(options.limits)
        self.findings: list[Finding] = []
        self.gaps: list[str] = []
        self.notes: list[str] = []
        self.data_only = False  # set by the top-level scanner when the file holds nothing a loader runs
        self.read_siblings = False  # the verdict looked beside the file, so it is not a function of its bytes
        self._seen: set[bytes] = set()

    # --- what scanners report -------------------------------------------------------------------------------

    def add(self, member: str, finding: Finding) -> None:
        self.findings.append(
            Finding(
                finding.rule, finding.severity, finding.message, member, finding.offset, finding.target, finding.payload
            )
        )

    def add_all(self, member: str, findings: list[Finding]) -> None:
        for finding in findings:
            self.add(member, finding)

    def gap(self, member: str, reason: str) -> None:
        """Part of the file was not read: the file can no longer be called clean."""
        self.gaps.append(f"{member + ': ' if member else ''}{reason}")

    def note(self, member: str, text: str) -> None:
        self.notes.append(f"{member + ': ' if member else ''}{text}")

    # --- where things are -----------------------------------------------------------------------------------

    def display_name(self, member: str) -> str:
        """The member's path inside archives, or the file's own name: what name-based hints look at."""
        return member.rsplit("!", 1)[-1] if member else self.path.name

    def directory(self, member: str) -> Path | None:
        """The directory beside the file, for formats that reference sibling files (None inside archives)."""
        if member or not self.local:
            return None
        self.read_siblings = True
        return self.path.parent

    # --- going down -----------------------------------------------------------------------------------------

    def first_sight(self, data: bytes) -> bool:
        """False when the same bytes were already scanned somewhere in this file (their findings stand)."""
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if digest in self._seen:
            return False
        self._seen.add(digest)
        return True

    def scan(self, stream: IO[bytes], size: int, member: str, depth: int) -> str:
        """Sniff a seekable stream of `size` bytes and scan it with its format's scanner; returns the format."""
        if depth > self.options.limits.max_depth:
            self.gap(member, f"nested deeper than {self.options.limits.max_depth} levels (bound)")
            return "nested"
        self.budget.check_time()
        fmt = sniff_stream(stream, size, self.display_name(member))  # leaves the stream at its start
        label = scanner_for(fmt)(self, stream, size, member, depth)
        return label or fmt.value

    def scan_as(self, fmt: Format, stream: IO[bytes], size: int, member: str, depth: int) -> str:
        """Scan a stream as a format found by other means than its first bytes (a polyglot's other half)."""
        stream.seek(0)
        return scanner_for(fmt)(self, stream, size, member, depth) or fmt.value

    def scan_bytes(self, data: bytes, member: str, depth: int) -> str:
        with tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY) as spool:
            spool.write(data)
            return self.scan(spool, len(data), member, depth)

    @contextlib.contextmanager
    def expanded(self, stream: IO[bytes], codec: Callable[[IO[bytes]], IO[bytes]]) -> Iterator[tuple[IO[bytes], int]]:
        """The decompressed content of `stream` as a seekable spool; every byte is charged to the budget as it is
        produced, so the spool never holds more than the budget allows."""
        with tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY) as spool:
            size = 0
            try:
                source = Expanding(stream, codec, self.budget)
                while chunk := source.read(1 << 20):
                    spool.write(chunk)
                    size += len(chunk)
            except ScanBoundError:
                raise
            except Exception as exc:
                # bytes means the stream is corrupt (zlib, lzma, bz2, lz4 and zstd each have their own types)
                raise CorruptStreamError(f"{type(exc).__name__}: {exc}") from exc
            spool.seek(0)
            yield spool, size

    @contextlib.contextmanager
    def as_file(self, handle: IO[bytes], member: str, suffix: str) -> Iterator[str]:
        """A filesystem path for readers that need one: the file itself, or a copy of an archive member."""
        if not member and self.local:
            yield str(self.path)
            return
        with tempfile.NamedTemporaryFile(prefix="modelseal-", suffix=suffix) as copy:
            handle.seek(0)
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
            copy.flush()
            yield copy.name


__all__ = ["HEADER_BYTES", "MAX_TEXT_BYTES", "CorruptStreamError", "ScanContext", "ScanOptions", "join"]
