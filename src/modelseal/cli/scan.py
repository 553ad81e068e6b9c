"""`modelseal scan`: run the scanner, render the chosen report, decide the exit code."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from modelseal import __version__
from modelseal.cli.exit_codes import ExitCode
from modelseal.errors import InputError
from modelseal.scanning.findings import FileResult, Severity
from modelseal.scanning.policy import load_policy
from modelseal.scanning.report import ScanSummary, relative_path, to_json, to_sarif
from modelseal.scanning.scanner import ScanOptions, iter_targets, scan_target


def _size(path: Path) -> int:
    try:
        return path.stat().st_size if path.is_file() else 0
    except OSError:
        return 0


def _scan_all(paths: list[Path], options: ScanOptions, interactive: bool) -> list[FileResult]:
    files = list(iter_targets(paths, options.policy.ignore_paths))
    if not interactive or len(files) < 2:
        return [scan_target(path, boundary, options) for path, boundary in files]
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from modelseal.cli.render import err

    sizes = [_size(path) for path, _ in files]
    columns = (TextColumn("scanning"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    results = []
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("scan", total=sum(sizes))
        for (path, boundary), size in zip(files, sizes, strict=True):
            results.append(scan_target(path, boundary, options))
            bar.advance(task, size)
    return results


def _apply_baseline(results: list[FileResult], baseline: Path) -> list[FileResult]:
    """Drop findings already accepted in a baseline (a JSON report from an earlier `--format json` run)."""
    try:
        document = json.loads(baseline.read_text(encoding="utf-8"))
        accepted = {
            (entry["path"], finding.get("member"), finding["rule"], finding.get("target"))
            for entry in document["files"]
            for finding in entry["findings"]
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"baseline {baseline} is not a modelseal JSON report ({exc})") from exc
    kept = []
    for result in results:
        path = relative_path(result.path)
        findings = tuple(f for f in result.findings if (path, f.member or None, f.rule, f.target) not in accepted)
        notes = result.notes
        if len(findings) < len(result.findings):
            notes = (*notes, f"{len(result.findings) - len(findings)} finding(s) accepted by the baseline")
        kept.append(dataclasses.replace(result, findings=findings, notes=notes))
    return kept


def _interactive(output_format: str, output: Path | None) -> bool:
    if output_format != "text" or output is not None:
        return False
    from modelseal.cli.render import err

    return err.is_terminal


def run_scan(
    paths: list[Path],
    output_format: str,
    output: Path | None,
    fail_on: str,
    policy: Path | None,
    show_all: bool,
    baseline: Path | None = None,
) -> int:
    options = ScanOptions(policy=load_policy(policy))
    results = _scan_all(paths, options, _interactive(output_format, output))
    if baseline is not None:
        results = _apply_baseline(results, baseline)
    summary = ScanSummary(tuple(results), Severity.parse(fail_on))
    if output_format == "text":
        from modelseal.cli import scan_render

        if output is not None:
            from rich.console import Console

            with open(output, "w", encoding="utf-8") as handle:
                scan_render.print_report(summary, show_all, Console(file=handle, width=160, highlight=False))
        else:
            scan_render.print_report(summary, show_all)
    else:
        if output_format == "html":
            from modelseal.reporting.html import render_scan

            text = render_scan(summary, ", ".join(str(p) for p in paths))
        else:
            document = to_json(summary, __version__) if output_format == "json" else to_sarif(summary, __version__)
            text = json.dumps(document, indent=2) + "\n"
        if output is not None:
            output.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    if summary.failing:
        return ExitCode.FAILED
    if summary.incomplete or len(summary.skipped) == len(summary.results):
        return ExitCode.INCONCLUSIVE  # nothing scanned (an empty directory, only LFS pointers) is not a pass
    return ExitCode.OK
