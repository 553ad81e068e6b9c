"""`modelseal check` reports: a terminal summary of every step, stable JSON, or a self-contained HTML page."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from modelseal import __version__
from modelseal.attest.check import CheckReport, Outcome
from modelseal.cli.exit_codes import ExitCode
from modelseal.scanning.report import to_json

CHECK_SCHEMA_VERSION = 1
_MARKS = {
    Outcome.PASSED: "[green]✓[/]",
    Outcome.FAILED: "[red]✗[/]",
    Outcome.INCONCLUSIVE: "[yellow]?[/]",
    Outcome.SKIPPED: "[dim]–[/]",
}
_ADVICE = {
    Outcome.PASSED: "[green bold]PASSED[/]: the model is signed by a trusted signer and its scan is clean.",
    Outcome.FAILED: "[red bold]FAILED[/]: do not load this model.",
    Outcome.INCONCLUSIVE: "[yellow bold]INCONCLUSIVE[/]: no verdict could be reached; do not load this model yet.",
}


def exit_code(report: CheckReport) -> ExitCode:
    return {
        Outcome.PASSED: ExitCode.OK,
        Outcome.FAILED: ExitCode.FAILED,
        Outcome.INCONCLUSIVE: ExitCode.INCONCLUSIVE,
    }[report.verdict]


def to_document(report: CheckReport) -> dict[str, Any]:
    """The JSON report (`schema_version` changes only on incompatible changes)."""
    return {
        "schema_version": CHECK_SCHEMA_VERSION,
        "tool": {"name": "modelseal", "version": __version__},
        "model": str(report.model),
        "verdict": report.verdict.value,
        "root_digest": {"sha256": report.root_digest} if report.root_digest else None,
        "signer": report.signer.to_json() if report.signer else None,
        "attester": report.attester.to_json() if report.attester else None,
        "scan_source": report.scan_source,
        "steps": [
            {"name": s.name, "outcome": s.outcome.value, "summary": s.summary, "details": list(s.details)}
            for s in report.steps
        ],
        "scan": to_json(report.scan, __version__) if report.scan is not None else None,
    }


def print_text(report: CheckReport, console: Console) -> None:
    console.print(f"modelseal check {escape(str(report.model))}")
    for step in report.steps:
        console.print(f"  {_MARKS[step.outcome]} {step.name:<12} {escape(step.summary)}")
        for line in step.details[:20]:
            console.print(f"      {escape(line)}")
        if len(step.details) > 20:
            console.print(f"      … and {len(step.details) - 20} more")
    console.print(_ADVICE[report.verdict])


def write_report(report: CheckReport, output_format: str, output: Path | None) -> None:
    if output_format == "text":
        if output is None:
            print_text(report, Console(highlight=False, soft_wrap=True))
            return
        with open(output, "w", encoding="utf-8") as handle:
            print_text(report, Console(file=handle, width=160, highlight=False, no_color=True))
        return
    if output_format == "json":
        text = json.dumps(to_document(report), indent=2) + "\n"
    else:
        from modelseal.reporting.html import render_check

        text = render_check(report)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
