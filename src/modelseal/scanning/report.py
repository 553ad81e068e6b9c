"""Scan results as documents: a stable JSON schema and SARIF 2.1.0 for code-scanning dashboards."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelseal.scanning.findings import FileResult, Finding, Severity, Status

JSON_SCHEMA_VERSION = 1
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


@dataclass(frozen=True)
class ScanSummary:
    results: tuple[FileResult, ...]
    fail_on: Severity

    @property
    def failing(self) -> list[tuple[FileResult, Finding]]:
        return [(r, f) for r in self.results for f in r.findings if f.severity >= self.fail_on]

    @property
    def incomplete(self) -> list[FileResult]:
        return [r for r in self.results if r.status is Status.INCOMPLETE]

    @property
    def skipped(self) -> list[FileResult]:
        return [r for r in self.results if r.status is Status.SKIPPED]

    def counts(self) -> dict[str, int]:
        by_severity = Counter(f.severity.name for r in self.results for f in r.findings)
        return {name: by_severity.get(name, 0) for name in (s.name for s in reversed(Severity))}


def relative_path(path: str) -> str:
    """The path as reports show it: relative to the working directory when inside it, POSIX separators."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return Path(path).as_posix()
    return Path(relative).as_posix() if not relative.startswith("..") else Path(path).as_posix()


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "severity": finding.severity.name,
        "message": finding.message,
        "member": finding.member or None,
        "offset": finding.offset,
        "target": finding.target,
        "payload": finding.payload,
    }


def to_json(summary: ScanSummary, version: str) -> dict[str, Any]:
    """The documented, versioned JSON report (`schema_version` changes only on incompatible changes)."""
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "tool": {"name": "modelseal", "version": version},
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
                "findings": [finding_json(f) for f in result.findings],
            }
            for result in summary.results
        ],
    }


def to_sarif(summary: ScanSummary, version: str) -> dict[str, Any]:
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
                        "version": version,
                        "rules": sorted(rules.values(), key=lambda r: r["id"]),
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
                "results": results,
            }
        ],
    }
