"""A file's scan result as plain JSON and back, for every place a result crosses a trust or time boundary:
signed attestations, replies from scanner worker processes (which read hostile bytes, so they speak JSON, never
pickle), and the scan cache. A worker's record also says whether the verdict may be cached (`bytes_only`);
an attestation's does not."""

from __future__ import annotations

import dataclasses
from typing import Any

from modelseal.scanning.findings import FileResult, Finding, Severity, Status


class RecordError(ValueError):
    """A record that is not a scan result."""


def finding_record(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "severity": finding.severity.name,
        "message": finding.message,
        "member": finding.member or None,
        "offset": finding.offset,
        "target": finding.target,
        "payload": finding.payload,
    }


def result_record(result: FileResult) -> dict[str, Any]:
    return {
        "path": result.path,
        "format": result.format,
        "status": result.status.value,
        "notes": list(result.notes),
        "findings": [finding_record(f) for f in result.findings],
    }


def _field(raw: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = raw.get(key)
    if not isinstance(value, kind):
        raise RecordError(f"{where}.{key} is not a {kind.__name__}")
    return value


def _optional(raw: dict[str, Any], key: str, kind: type) -> Any:
    value = raw.get(key)
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def parse_finding(raw: Any, where: str) -> Finding:
    if not isinstance(raw, dict):
        raise RecordError(f"{where} is not an object")
    try:
        severity = Severity.parse(_field(raw, "severity", str, where))
    except KeyError as exc:
        raise RecordError(f"{where}.severity is not a severity") from exc
    return Finding(
        rule=_field(raw, "rule", str, where),
        severity=severity,
        message=_field(raw, "message", str, where),
        member=raw.get("member") or "",
        offset=_optional(raw, "offset", int),
        target=_optional(raw, "target", str),
        payload=_optional(raw, "payload", str),
    )


def parse_result(raw: Any, where: str) -> FileResult:
    if not isinstance(raw, dict):
        raise RecordError(f"{where} is not an object")
    try:
        status = Status(_field(raw, "status", str, where))
    except ValueError as exc:
        raise RecordError(f"{where}.status is not a scan status") from exc
    findings = _field(raw, "findings", list, where)
    notes = raw.get("notes", [])
    return FileResult(
        path=_field(raw, "path", str, where),
        format=_field(raw, "format", str, where),
        status=status,
        findings=tuple(parse_finding(f, f"{where}.findings[{i}]") for i, f in enumerate(findings)),
        notes=tuple(n for n in notes if isinstance(n, str)) if isinstance(notes, list) else (),
    )


def worker_record(result: FileResult) -> dict[str, Any]:
    return {**result_record(result), "bytes_only": result.bytes_only}


def parse_worker_record(raw: Any, where: str) -> FileResult:
    result = parse_result(raw, where)
    return dataclasses.replace(result, bytes_only=raw.get("bytes_only") is True)
