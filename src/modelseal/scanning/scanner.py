"""The scanner's stable façade: `scan`, `scan_paths`, `scan_file` and friends, implemented by `engine`."""

from __future__ import annotations

from pathlib import Path

from modelseal.scanning.context import ScanOptions
from modelseal.scanning.engine import iter_files, iter_targets, scan_file, scan_paths, scan_target, symlink_boundary
from modelseal.scanning.findings import FileResult


def scan(*paths: str | Path, policy: Path | None = None) -> list[FileResult]:
    """The library entry point: `modelseal.scan("model.pt")`, optionally with a policy file."""
    from modelseal.scanning.policy import load_policy

    return scan_paths([Path(p) for p in paths], ScanOptions(policy=load_policy(policy)))


__all__ = [
    "ScanOptions",
    "iter_files",
    "iter_targets",
    "scan",
    "scan_file",
    "scan_paths",
    "scan_target",
    "symlink_boundary",
]
