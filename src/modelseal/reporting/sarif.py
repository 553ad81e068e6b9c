"""SARIF 2.1.0 as GitHub code scanning accepts it: relative URIs, stable rule ids, security-severity, and a result
for every file left unjudged; a check adds one result per step (CHECK-SIGNATURE, CHECK-LICENSES, ...), failed
steps as errors, inconclusive ones as warnings, passed ones as `pass` results that code scanning files no alert for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelseal import __version__
from modelseal.reporting import View
from modelseal.scanning.findings import Severity, Status
from modelseal.scanning.report import ScanSummary, relative_path

if TYPE_CHECKING:
    from modelseal.attest.check import CheckReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.8",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.0",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}
# statuses that leave a file unjudged: (rule id, name, description, SARIF level)
_UNREAD_RULES = {
    Status.INCOMPLETE: ("SCAN-INCOMPLETE", "ScanIncomplete", "file could not be fully scanned", "warning"),
    Status.SKIPPED: ("SCAN-SKIPPED", "ScanSkipped", "content not present (Git LFS pointer), not scanned", "note"),
}
_SARIF_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}


def sarif_document(summary: ScanSummary | None, check: CheckReport | None = None) -> dict[str, Any]:
    """SARIF 2.1.0 as GitHub code scanning accepts it: relative URIs, stable rule ids, security-severity."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = [] if check is None else _step_results(check, rules)
    for result in summary.results if summary else ():
        for finding in result.findings:
            rule = rules.setdefault(
                finding.rule,
                {
                    "id": finding.rule,
                    "name": finding.rule.title().replace("-", ""),
                    "shortDescription": {"text": finding.rule.replace("-", " ").lower()},
                    "properties": {"security-severity": _SECURITY_SEVERITY[finding.severity], "tags": ["security"]},
                },
            )
            if float(_SECURITY_SEVERITY[finding.severity]) > float(rule["properties"]["security-severity"]):
                rule["properties"]["security-severity"] = _SECURITY_SEVERITY[finding.severity]
            text = finding.message + (f" — would run: {finding.payload}" if finding.payload else "")
            if finding.member:
                text = f"[{finding.member}] {text}"
            location: dict[str, Any] = {
                "artifactLocation": {"uri": relative_path(result.path), "uriBaseId": "%SRCROOT%"}
            }
            if finding.offset is not None and not finding.member:
                location["region"] = {"byteOffset": finding.offset}
            results.append(
                {
                    "ruleId": finding.rule,
                    "level": _SARIF_LEVEL[finding.severity],
                    "message": {"text": text},
                    "locations": [{"physicalLocation": location}],
                    "properties": {"severity": finding.severity.name, "member": finding.member or None},
                }
            )
        unread = _UNREAD_RULES.get(result.status)
        if unread is not None:
            rule_id, name, text, level = unread
            rules.setdefault(
                rule_id,
                {
                    "id": rule_id,
                    "name": name,
                    "shortDescription": {"text": text},
                    "properties": {"security-severity": "5.0", "tags": ["security"]},
                },
            )
            results.append(
                {
                    "ruleId": rule_id,
                    "level": level,
                    "message": {"text": f"{text}: " + "; ".join(result.notes[:3])},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": relative_path(result.path), "uriBaseId": "%SRCROOT%"}
                            }
                        }
                    ],
                }
            )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "modelseal",
                        "version": __version__,
                        "rules": sorted(rules.values(), key=lambda r: r["id"]),
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
                "results": results,
            }
        ],
    }


def _step_results(check: CheckReport, rules: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    from modelseal.attest.check import Outcome

    kinds = {
        Outcome.FAILED: ("fail", "error", "8.0"),
        Outcome.INCONCLUSIVE: ("open", "warning", "5.0"),
        Outcome.PASSED: ("pass", "none", "1.0"),
        Outcome.SKIPPED: ("notApplicable", "none", "1.0"),
    }
    where = {
        "physicalLocation": {"artifactLocation": {"uri": relative_path(str(check.model)), "uriBaseId": "%SRCROOT%"}}
    }
    results = []
    for step in check.steps:
        kind, level, severity = kinds[step.outcome]
        rule_id = f"CHECK-{step.name.upper()}"
        rule = rules.setdefault(
            rule_id,
            {
                "id": rule_id,
                "name": "Check" + step.name.title().replace("-", ""),
                "shortDescription": {"text": f"check: {step.name}"},
                "properties": {"security-severity": severity, "tags": ["security"]},
            },
        )
        rule["properties"]["security-severity"] = max(rule["properties"]["security-severity"], severity, key=float)
        text = "\n".join((f"{step.name}: {step.summary}", *step.details))
        results.append(
            {
                "ruleId": rule_id,
                "kind": kind,
                "level": level,
                "message": {"text": text},
                "locations": [where],
                "properties": {"outcome": step.outcome.value},
            }
        )
    return results


def render_scan(summary: ScanSummary, view: View) -> str:
    return json.dumps(sarif_document(summary), indent=2) + "\n"


def render_check(report: CheckReport, view: View) -> str:
    return json.dumps(sarif_document(report.scan, report), indent=2) + "\n"
