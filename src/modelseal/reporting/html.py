"""One self-contained HTML page for a reviewer: verdict, signer, steps, per-file table, findings with the
reconstructed payload. No scripts, no external resources (a Content-Security-Policy forbids them), and every
value is escaped: payloads are attacker-written text."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from modelseal import __version__
from modelseal.reporting import View
from modelseal.scanning.findings import FileResult, Status
from modelseal.scanning.report import ScanSummary, relative_path

if TYPE_CHECKING:
    from modelseal.attest.check import CheckReport

_CHECK_TEXT = {
    "passed": "PASSED: signed by a trusted signer, and the scan is clean.",
    "failed": "FAILED: do not load this model.",
    "inconclusive": "INCONCLUSIVE: no verdict could be reached; do not load this model yet.",
}


def _render(context: dict[str, Any]) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    environment = Environment(
        loader=PackageLoader("modelseal.reporting", "templates"), autoescape=select_autoescape(["j2", "html"])
    )
    generated = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return environment.get_template("report.html.j2").render(version=__version__, generated=generated, **context)


def _label(result: FileResult) -> str:
    """The worst severity, "clean" only for a file read completely without findings, else a dash."""
    if result.worst is not None:
        return result.worst.name
    return "clean" if result.status is Status.SCANNED else "—"


def _scan_context(summary: ScanSummary | None, relative: bool) -> dict[str, Any]:
    if summary is None:
        return {"files": [], "findings": []}
    name = relative_path if relative else str
    files = [
        {"path": name(r.path), "format": r.format, "status": r.status.value, "label": _label(r)}
        for r in summary.results
    ]
    findings = [
        {
            "path": name(r.path),
            "member": f.member,
            "severity": f.severity.name,
            "message": f.message,
            "payload": f.payload,
        }
        for r in summary.results
        for f in sorted(r.findings, key=lambda f: -f.severity)
    ]
    return {"files": files, "findings": findings}


def render_scan(summary: ScanSummary, view: View) -> str:
    if summary.failing:
        verdict, text = "failed", f"{len(summary.failing)} finding(s) at or above {summary.fail_on.name}: do not load."
    elif summary.incomplete:
        verdict, text = "inconclusive", f"{len(summary.incomplete)} file(s) could not be fully scanned: no verdict."
    else:
        verdict, text = "passed", f"Nothing at or above {summary.fail_on.name} in {len(summary.results)} file(s)."
    return _render({"kind": "scan", "model": view.target, "verdict": verdict, "verdict_text": text, "signer": None,
                    "steps": [], **_scan_context(summary, relative=True)})  # fmt: skip


def render_check(report: CheckReport, view: View) -> str:
    signer = None
    if report.signer is not None:
        signer = {"signed by": report.signer.summary, **report.signer.details}
        if report.root_digest:
            signer["root digest"] = f"sha256:{report.root_digest}"
    steps = [
        {"name": s.name, "outcome": s.outcome.value, "summary": s.summary, "details": s.details} for s in report.steps
    ]
    verdict = report.verdict.value
    return _render({"kind": "check", "model": str(report.model), "verdict": verdict,
                    "verdict_text": _CHECK_TEXT[verdict], "signer": signer, "steps": steps,
                    **_scan_context(report.scan, relative=False)})  # fmt: skip
