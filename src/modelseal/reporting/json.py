"""The JSON documents, one schema version per kind (docs/*.schema.json); a version changes only on incompatible
changes, and keys are only ever added."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from modelseal import __version__
from modelseal.reporting import View
from modelseal.scanning.findings import Status
from modelseal.scanning.records import finding_record
from modelseal.scanning.report import ScanSummary, relative_path

if TYPE_CHECKING:
    from modelseal.attest.check import CheckReport

SCAN_SCHEMA_VERSION = 1
CHECK_SCHEMA_VERSION = 1


def scan_document(summary: ScanSummary) -> dict[str, Any]:
    """The documented, versioned JSON report (`schema_version` changes only on incompatible changes)."""
    return {
        "schema_version": SCAN_SCHEMA_VERSION,
        "tool": {"name": "modelseal", "version": __version__},
        "fail_on": summary.fail_on.name,
        "summary": {
            "files": len(summary.results),
            "incomplete": len(summary.incomplete),
            "unsupported": sum(1 for r in summary.results if r.status is Status.UNSUPPORTED),
            "skipped": len(summary.skipped),
            "findings": summary.counts(),
            "failing": len(summary.failing),
        },
        "files": [
            {
                "path": relative_path(result.path),
                "format": result.format,
                "status": result.status.value,
                "worst": result.worst.name if result.worst is not None else None,
                "notes": list(result.notes),
                "findings": [finding_record(f) for f in result.findings],
            }
            for result in summary.results
        ],
    }


def check_document(report: CheckReport) -> dict[str, Any]:
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
        "scan": scan_document(report.scan) if report.scan is not None else None,
    }


def render_scan(summary: ScanSummary, view: View) -> str:
    return json.dumps(scan_document(summary), indent=2) + "\n"


def render_check(report: CheckReport, view: View) -> str:
    return json.dumps(check_document(report), indent=2) + "\n"
