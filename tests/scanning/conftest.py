from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from modelseal.scanning.findings import FileResult, Severity
from modelseal.scanning.scanner import scan_file


@pytest.fixture
def scan_bytes(tmp_path: Path) -> Callable[..., FileResult]:
    """Write bytes under a chosen name and scan the file."""

    def scan(data: bytes, name: str = "model.pkl") -> FileResult:
        path = tmp_path / name
        path.write_bytes(data)
        return scan_file(path)

    return scan


def rules(result: FileResult, at_least: Severity = Severity.INFO) -> set[str]:
    return {f.rule for f in result.findings if f.severity >= at_least}
