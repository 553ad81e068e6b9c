"""SARIF 2.1.0 as GitHub code scanning accepts it, for scans: relative URIs, stable rule ids, security-severity,
and a result for every file left unjudged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelseal import __version__
from modelseal.reporting import View
from modelseal.scanning.findings import Severity, Status
from modelseal.scanning.report import ScanSummary, relative_path

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


def sarif_document(summary: ScanSummary) -> dict[str, Any]:
    """SARIF 2.1.0 as GitHub code scanning accepts it: relative URIs, stable rule ids, security-severity."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for result in summary.results:
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


def render_scan(summary: ScanSummary, view: View) -> str:
    return json.dumps(sarif_document(summary), indent=2) + "\n"
