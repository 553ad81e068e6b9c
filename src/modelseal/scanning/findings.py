"""What a scan reports: findings with a severity, and a per-file result that admits what it could not read."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class Severity(IntEnum):
    """Ordered, so thresholds compare. Names admit uncertainty: HIGH means "would run unknown code"."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


class Status(StrEnum):
    """How completely a file was examined. Only SCANNED with no finding is clean."""

    SCANNED = "scanned"
    INCOMPLETE = "incomplete"  # a bound was hit or part of the file could not be read: no clean verdict
    UNSUPPORTED = "unsupported"  # not a format this scanner reads (reported, never called clean)
    SKIPPED = "skipped"  # the content is not here (a Git LFS pointer): nothing was judged


@dataclass(frozen=True)
class Finding:
    """One reason for concern, located as precisely as the format allows."""

    rule: str
    severity: Severity
    message: str
    member: str = ""  # path inside archives, '!'-separated for nesting
    offset: int | None = None  # byte offset of the call site in the (decompressed) stream
    target: str | None = None  # the callable, as `module.qualname`
    payload: str | None = None  # the reconstructed call, e.g. posix.system('id')


@dataclass(frozen=True)
class FileResult:
    path: str
    format: str
    status: Status
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = field(default=())
    # the verdict is a function of the file's bytes and name alone: read completely, nothing beside it consulted
    # (what a content-keyed cache may keep)
    bytes_only: bool = field(default=False, compare=False, repr=False)

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)
