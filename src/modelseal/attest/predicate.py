"""The scan attestation: an in-toto statement whose subject is the model's root digest (the one its signature
binds) and whose predicate holds the scan's verdicts. Documented in docs/scan-attestation.schema.json.

The predicate embeds the manifest (serialization and per-file digests) so the statement stands alone: the
subject digest is checked against it exactly as for a model signature, and every verdict names a file whose
digest is signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelseal.errors import BundleFormatError
from modelseal.oms.manifest import Manifest
from modelseal.oms.statement import (
    STATEMENT_TYPE,
    canonical_json,
    load_statement,
    manifest_json,
    parse_manifest,
    parse_subject,
    require,
)
from modelseal.scanning.findings import FileResult, Severity, Status
from modelseal.scanning.records import RecordError, parse_result, result_record

SCAN_PREDICATE_TYPE = "https://modelseal.dev/attestation/scan/v1"


@dataclass(frozen=True)
class ScanAttestation:
    """What a signed scan attestation says: these bytes were scanned, by this scanner, under this policy."""

    manifest: Manifest
    scanner_version: str
    policy_digest: str
    scanned_at: str
    results: tuple[FileResult, ...]  # paths are the model-relative names

    @property
    def root_digest(self) -> str:
        return self.manifest.root_digest()

    @property
    def worst(self) -> Severity | None:
        return max((r.worst for r in self.results if r.worst is not None), default=None)


def build_scan_statement(attestation: ScanAttestation) -> bytes:
    results = attestation.results
    worst = attestation.worst
    predicate = {
        "scanner": {"name": "modelseal", "version": attestation.scanner_version},
        "scannedAt": attestation.scanned_at,
        "policy": {"sha256": attestation.policy_digest},
        "model": manifest_json(attestation.manifest),
        "summary": {
            "files": len(results),
            "incomplete": sum(1 for r in results if r.status is Status.INCOMPLETE),
            "worst": worst.name if worst is not None else None,
        },
        "files": [result_record(r) for r in results],
    }
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": attestation.manifest.model_name, "digest": {"sha256": attestation.root_digest}}],
        "predicateType": SCAN_PREDICATE_TYPE,
        "predicate": predicate,
    }
    return canonical_json(statement)


def _fail(reason: str) -> BundleFormatError:
    return BundleFormatError(f"the scan attestation is invalid: {reason}")


def _file(raw: Any, index: int) -> FileResult:
    try:
        return parse_result(raw, f"files[{index}]")
    except RecordError as exc:
        raise _fail(str(exc)) from exc


def parse_scan_statement(payload: bytes) -> ScanAttestation:
    """Parse a signed payload as a scan attestation; the embedded manifest must match the subject."""
    statement = load_statement(payload, SCAN_PREDICATE_TYPE, "scan attestation")
    subject_name, subject_digest = parse_subject(statement)
    predicate = require(statement, "predicate", dict, "statement")
    manifest = parse_manifest(subject_name, subject_digest, require(predicate, "model", dict, "predicate"))
    scanner = require(predicate, "scanner", dict, "predicate")
    policy = require(predicate, "policy", dict, "predicate")
    results = tuple(_file(raw, i) for i, raw in enumerate(require(predicate, "files", list, "predicate")))
    return ScanAttestation(
        manifest=manifest,
        scanner_version=require(scanner, "version", str, "scanner"),
        policy_digest=require(policy, "sha256", str, "policy"),
        scanned_at=require(predicate, "scannedAt", str, "predicate"),
        results=results,
    )
