"""Text reports for people: a scan's report made for 80-column CI logs (one summary line, then only the files
that need a look, worst first, data files folded into one line, then the verdict), and a check's steps."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from modelseal.reporting import View
from modelseal.scanning.findings import FileResult, Severity, Status
from modelseal.scanning.report import ScanSummary, relative_path

if TYPE_CHECKING:
    from modelseal.attest.check import CheckReport

_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
_STATUS = {
    Status.SCANNED: "",
    Status.INCOMPLETE: " [yellow](incomplete)[/]",
    Status.UNSUPPORTED: " [dim](data, no code)[/]",
    Status.SKIPPED: " [yellow](skipped, not clean)[/]",
}
MAX_FOLDED = 6


def _say(out: Console, text: str) -> None:
    """Wrapped at the console's width (80 columns in a CI log), unlike the other commands' soft-wrapped output."""
    out.print(text, soft_wrap=False)


def summary_line(summary: ScanSummary) -> str:
    results = summary.results
    clean = sum(1 for r in results if r.status is Status.SCANNED and not r.findings)
    parts = [f"{len(results)} file(s)", f"{clean} clean"]
    counts = {
        "with findings": sum(1 for r in results if r.findings),
        "incomplete": len(summary.incomplete),
        "data": sum(1 for r in results if r.status is Status.UNSUPPORTED and not r.findings),
        "skipped": len(summary.skipped),
    }
    parts += [f"{n} {label}" for label, n in counts.items() if n]
    line = "modelseal scan: " + ", ".join(parts)
    found = [f"{n} {name.lower()}" for name, n in summary.counts().items() if n]
    return line + (f"; findings: {', '.join(found)}" if found else "")


def _print_file(out: Console, result: FileResult) -> None:
    _say(
        out, f"\n[bold]{escape(relative_path(result.path))}[/] [dim]{escape(result.format)}[/]{_STATUS[result.status]}"
    )
    for finding in sorted(result.findings, key=lambda f: -f.severity):
        where = escape(finding.member) if finding.member else ""
        if finding.offset is not None:
            where += f"@{finding.offset}"
        _say(
            out,
            f"  [{_STYLE[finding.severity]}]{finding.severity.name}[/] {finding.rule} [dim]{where}[/]\n"
            f"    {escape(finding.message)}",
        )
        if finding.payload:
            _say(out, f"    would run: [bold]{escape(finding.payload)}[/]")
    for note in result.notes:
        _say(out, f"  [dim]note: {escape(note)}[/]")


def _print_scan(out: Console, summary: ScanSummary, show_all: bool) -> None:
    _say(out, summary_line(summary))
    results = summary.results
    data = [r for r in results if r.status is Status.UNSUPPORTED and not r.findings]
    for result in sorted(results, key=lambda r: (-(r.worst or -1), r.path)):
        quiet = result.status in (Status.SCANNED, Status.UNSUPPORTED) and not result.findings
        if not quiet or (show_all and result.status is Status.SCANNED):
            _print_file(out, result)
    if data and show_all:
        for result in data:
            _print_file(out, result)
    elif data:
        names = ", ".join(relative_path(r.path) for r in data[:MAX_FOLDED])
        more = f" (+{len(data) - MAX_FOLDED} more; --show-all lists them)" if len(data) > MAX_FOLDED else ""
        _say(out, f"\n[dim]data that carries no code: {escape(names)}{more}[/]")
    failing, total, incomplete = len(summary.failing), len(results), len(summary.incomplete)
    if failing:
        _say(
            out,
            f"\n[red bold]FAIL[/]: {failing} finding(s) at or above {summary.fail_on.name}: do not load these "
            "files; the findings say what would run.",
        )
    elif incomplete:
        _say(
            out,
            f"\n[yellow bold]INCONCLUSIVE[/]: {incomplete} of {total} file(s) could not be fully scanned (see the "
            "notes); they are not known to be safe.",
        )
    elif not total or total == len(summary.skipped):
        _say(out, "\n[yellow bold]INCONCLUSIVE[/]: no file was scanned, so nothing is known to be safe.")
    else:
        judged = total - len(summary.skipped)
        _say(out, f"\n[green bold]PASS[/]: {judged} file(s), nothing at or above {summary.fail_on.name}.")
    if summary.skipped:
        _say(
            out,
            f"[yellow]{len(summary.skipped)} file(s) skipped, not clean[/]: Git LFS pointers whose content is not in "
            "this checkout, or entries that are not regular files (never opened).",
        )


_MARKS = {  # by outcome
    "passed": "[green]✓[/]",
    "failed": "[red]✗[/]",
    "inconclusive": "[yellow]?[/]",
    "skipped": "[dim]–[/]",
}
_ADVICE = {
    "passed": "[green bold]PASSED[/]: the model is signed by a trusted signer and its scan is clean.",
    "failed": "[red bold]FAILED[/]: do not load this model.",
    "inconclusive": "[yellow bold]INCONCLUSIVE[/]: no verdict could be reached; do not load this model yet.",
}


def _print_check(console: Console, report: CheckReport) -> None:
    console.print(f"modelseal check {escape(str(report.model))}")
    for step in report.steps:
        console.print(f"  {_MARKS[step.outcome.value]} {step.name:<12} {escape(step.summary)}")
        for line in step.details[:20]:
            console.print(f"      {escape(line)}")
        if len(step.details) > 20:
            console.print(f"      … and {len(step.details) - 20} more")
    console.print(_ADVICE[report.verdict.value])


def _captured(view: View, draw: Callable[[Console], None]) -> str:
    """What `draw` prints: with the terminal's colours and width on standard output, plain 160 columns in a file."""
    if view.to_terminal:
        console = Console(highlight=False, soft_wrap=True)
        with console.capture() as captured:
            draw(console)
        return captured.get()
    buffer = io.StringIO()
    draw(Console(file=buffer, width=160, highlight=False, no_color=True))
    return buffer.getvalue()


def render_scan(summary: ScanSummary, view: View) -> str:
    return _captured(view, lambda console: _print_scan(console, summary, view.show_all))


def render_check(report: CheckReport, view: View) -> str:
    return _captured(view, lambda console: _print_check(console, report))
