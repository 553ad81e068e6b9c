"""A scan's results as one object (what passed, failed, went unread) and the pieces every report shares."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from modelseal.scanning.findings import FileResult, Finding, Severity, Status


@dataclass(frozen=True)
class ScanSummary:
    results: tuple[FileResult, ...]
    fail_on: Severity

    @property
    def failing(self) -> list[tuple[FileResult, Finding]]:
        return [(r, f) for r in self.results for f in r.findings if f.severity >= self.fail_on]

    @property
    def incomplete(self) -> list[FileResult]:
        return [r for r in self.results if r.status is Status.INCOMPLETE]

    @property
    def skipped(self) -> list[FileResult]:
        return [r for r in self.results if r.status is Status.SKIPPED]

    @property
    def verdict(self) -> str:
        """`failed` (a finding at or above `fail_on`), `inconclusive` (a file not fully read, or nothing judged at
        all: an empty directory, only LFS pointers) or `passed`."""
        if self.failing:
            return "failed"
        if self.incomplete or len(self.skipped) == len(self.results):
            return "inconclusive"
        return "passed"

    def counts(self) -> dict[str, int]:
        by_severity = Counter(f.severity.name for r in self.results for f in r.findings)
        return {name: by_severity.get(name, 0) for name in (s.name for s in reversed(Severity))}


def relative_path(path: str) -> str:
    """The path as reports show it: relative to the working directory when inside it, POSIX separators; a remote
    file's URL as it is."""
    if "://" in path:
        return path
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return Path(path).as_posix()
    return Path(relative).as_posix() if not relative.startswith("..") else Path(path).as_posix()
