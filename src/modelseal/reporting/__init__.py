"""Reports of scans and checks: one `OutputFormat`, one renderer module per format, each a pure function of
the result (`render_scan`, `render_check`) returning the whole document."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelseal.attest.check import CheckReport
    from modelseal.scanning.report import ScanSummary


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"  # findings (and a check's steps) in code scanning
    HTML = "html"


@dataclass(frozen=True)
class View:
    """Where and how a report is shown, beside what it says."""

    to_terminal: bool = False  # standard output: the terminal's colours and width; a file gets plain 160 columns
    show_all: bool = False  # the text report lists clean files too
    target: str = ""  # what was scanned, as the user named it (the HTML page's title)


def _renderer(output_format: OutputFormat) -> ModuleType:
    """The module named after the format (`reporting.text`, `.json`, `.sarif`, `.html`), imported on use: the
    text renderer needs rich, the HTML one jinja2."""
    return importlib.import_module(f"modelseal.reporting.{output_format.value}")


def render_scan(output_format: OutputFormat, summary: ScanSummary, view: View) -> str:
    text: str = _renderer(output_format).render_scan(summary, view)
    return text


def render_check(output_format: OutputFormat, report: CheckReport, view: View) -> str:
    text: str = _renderer(output_format).render_check(report, view)
    return text


def emit(text: str, output: Path | None) -> None:
    """Standard output, or the file written whole (atomically) or not at all."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from modelseal.oms.bundle import write_atomically

    write_atomically(output, text.encode("utf-8"), "report")
