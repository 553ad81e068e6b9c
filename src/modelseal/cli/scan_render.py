"""The terminal report of a scan: a summary table, then findings grouped by file, worst first."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelseal.cli import render
from modelseal.scanning.findings import Severity, Status
from modelseal.scanning.report import ScanSummary

_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def print_report(summary: ScanSummary, show_all: bool, console: Console | None = None) -> None:
    out = console or render.out
    table = Table(title="modelseal scan", show_edge=False)
    for column in ("files", "clean", "with findings", "incomplete", "unsupported", *summary.counts()):
        table.add_column(column, justify="right")
    results = summary.results
    clean = sum(1 for r in results if r.status is Status.SCANNED and not r.findings)
    flagged = sum(1 for r in results if r.findings)
    incomplete = len(summary.incomplete)
    unsupported = sum(1 for r in results if r.status is Status.UNSUPPORTED)
    table.add_row(
        str(len(results)),
        str(clean),
        str(flagged),
        str(incomplete),
        str(unsupported),
        *(str(v) for v in summary.counts().values()),
    )
    out.print(table)
    for result in sorted(results, key=lambda r: (-(r.worst or -1), r.path)):
        if not result.findings and result.status is Status.SCANNED and not show_all:
            continue
        status = {
            Status.SCANNED: "",
            Status.INCOMPLETE: " [yellow](incomplete)[/]",
            Status.UNSUPPORTED: " [dim](format not scanned)[/]",
            Status.SKIPPED: " [yellow](skipped: content not here)[/]",
        }[result.status]
        out.print(f"\n[bold]{escape(result.path)}[/] [dim]{escape(result.format)}[/]{status}")
        for finding in sorted(result.findings, key=lambda f: -f.severity):
            where = escape(finding.member) if finding.member else ""
            if finding.offset is not None:
                where += f"@{finding.offset}"
            out.print(
                f"  [{_STYLE[finding.severity]}]{finding.severity.name:<8}[/] {finding.rule} "
                f"[dim]{where}[/] {escape(finding.message)}"
            )
            if finding.payload:
                out.print(f"           would run: [bold]{escape(finding.payload)}[/]")
        for note in result.notes:
            out.print(f"  [dim]note: {escape(note)}[/]")
    failing, total = len(summary.failing), len(results)
    if failing:
        out.print(
            f"\n[red bold]FAIL[/]: {failing} finding(s) at or above {summary.fail_on.name} — do not load "
            "these files; the findings say what would run."
        )
    elif incomplete:
        out.print(
            f"\n[yellow bold]INCONCLUSIVE[/]: {incomplete} of {total} file(s) could not be fully scanned "
            "(see the notes); they are not known to be safe."
        )
    else:
        judged = total - len(summary.skipped)
        out.print(f"\n[green bold]PASS[/]: {judged} file(s), nothing at or above {summary.fail_on.name}.")
    if summary.skipped:
        out.print(
            f"[yellow]{len(summary.skipped)} file(s) skipped, not clean[/]: Git LFS pointers whose content is not "
            "in this checkout (scan them where they are fetched)."
        )
