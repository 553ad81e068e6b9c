"""`modelseal scan`: run the scanner, render the chosen report, decide the exit code."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelseal.cli.exit_codes import for_scan
from modelseal.cli.options import FILE, MODEL, Scanning, option, report_output, scanning_options
from modelseal.cli.runner import run
from modelseal.errors import InputError
from modelseal.remote import RemoteLocation
from modelseal.reporting import OutputFormat, View, emit, render_scan

if TYPE_CHECKING:  # the scanner is imported when a scan runs, not when any command starts
    from modelseal.scanning.cache import ScanCache
    from modelseal.scanning.findings import FileResult
    from modelseal.scanning.pool import Workers
    from modelseal.scanning.report import ScanSummary
    from modelseal.scanning.scanner import ScanOptions


def _size(path: Path) -> int:
    try:
        return path.stat().st_size if path.is_file() else 0
    except OSError:
        return 0


def _scan_all(
    paths: list[Path], options: ScanOptions, cache: ScanCache | None, interactive: bool, workers: Workers
) -> list[FileResult]:
    from modelseal.hashing.cache import default_cache_path
    from modelseal.scanning.cache import hashed_keys, scan_cached
    from modelseal.scanning.scanner import iter_targets

    files = list(iter_targets(paths, options.policy.ignore_paths))
    keys = hashed_keys(files, default_cache_path()) if cache is not None else [None] * len(files)
    if not interactive or len(files) < 2:
        return scan_cached(files, keys, options, cache, workers)
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from modelseal.cli.render import err

    sizes = [_size(path) for path, _ in files]
    columns = (TextColumn("scanning"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("scan", total=sum(sizes))
        advance = lambda index, _: bar.advance(task, sizes[index])  # noqa: E731
        return scan_cached(files, keys, options, cache, workers, advance)


def _apply_baseline(results: list[FileResult], baseline: Path) -> list[FileResult]:
    """Drop findings already accepted in a baseline (a JSON report from an earlier `--format json` run)."""
    from modelseal.scanning.report import relative_path

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


def _interactive(output_format: OutputFormat, output: Path | None) -> bool:
    if output_format is not OutputFormat.TEXT or output is not None:
        return False
    from modelseal.cli.render import err

    return err.is_terminal


def summarise(
    paths: list[Path | RemoteLocation],
    policy: Path | None,
    fail_on: str,
    baseline: Path | None,
    scanning: Scanning,
    interactive: bool,
) -> ScanSummary:
    """Scan `paths` as the options say; the summary the report is rendered from."""
    from rich.markup import escape

    from modelseal.scanning.cache import scan_cache_at
    from modelseal.scanning.findings import Severity
    from modelseal.scanning.policy import load_policy
    from modelseal.scanning.report import ScanSummary
    from modelseal.scanning.scanner import ScanOptions

    options = ScanOptions(policy=load_policy(policy))
    local = [p for p in paths if isinstance(p, Path)]
    with scan_cache_at(scanning.cache, policy, options) as cache:
        results = _scan_all(local, options, cache, interactive, scanning.workers) if local else []
        for location in (p for p in paths if isinstance(p, RemoteLocation)):
            from modelseal.remote import open_model
            from modelseal.remote.scan import scan_remote

            results += scan_remote(open_model(location, scanning=True), options, cache)
    if cache is not None and cache.warning:
        from modelseal.cli.render import err

        err.print(f"[yellow]warning:[/] {escape(cache.warning)}")
    if baseline is not None:
        results = _apply_baseline(results, baseline)
    return ScanSummary(tuple(results), Severity.parse(fail_on))


@click.command("scan")
@click.argument("paths", nargs=-1, required=True, type=MODEL)
@option(
    "--format",
    "output_format",
    env="FORMAT",
    type=click.Choice([f.value for f in OutputFormat]),
    default="text",
    help="Report format. json has a versioned schema; sarif is SARIF 2.1.0 for code scanning; html is one "
    "self-contained page for a reviewer.",
)
@report_output
@option(
    "--fail-on",
    env="FAIL_ON",
    type=click.Choice(["critical", "high", "medium", "low", "info"], case_sensitive=False),
    default="high",
    help="Exit 1 when a finding is at or above this severity.",
)
@option(
    "--policy",
    env="POLICY",
    type=FILE,
    default=None,
    help="TOML file extending the pickle policy: [allow] exact, [deny] prefixes, [severity] RULE = LEVEL.",
)
@option(
    "--baseline",
    env="BASELINE",
    type=FILE,
    default=None,
    help="A JSON report from an earlier run: its findings are accepted and not reported again.",
)
@option("--show-all", env="SHOW_ALL", is_flag=True, help="List clean files in the text report too.")
@scanning_options
def scan_command(
    paths: tuple[Path | RemoteLocation, ...],
    output_format: str,
    output: Path | None,
    fail_on: str,
    policy: Path | None,
    baseline: Path | None,
    show_all: bool,
    scanning: Scanning,
) -> None:
    """Scan model files and directories, or models where they live (oci://, s3://, hf://, https://), for
    serialisation attacks, without loading them.

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage error, 3 some file could not be fully scanned.
    """

    def action() -> None:
        chosen = OutputFormat(output_format)
        summary = summarise(list(paths), policy, fail_on, baseline, scanning, _interactive(chosen, output))
        view = View(to_terminal=output is None, show_all=show_all, target=", ".join(str(p) for p in paths))
        emit(render_scan(chosen, summary, view), output)
        sys.exit(for_scan(summary))

    run(action, output_format == "json")
