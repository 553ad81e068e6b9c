"""`modelseal inspect FILE`: what a model signature or scan attestation says, decoded but NOT verified."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from rich.markup import escape

from modelseal.attest.predicate import SCAN_PREDICATE_TYPE, parse_scan_statement
from modelseal.bom.statement import PREDICATE_TYPES, bom_summary, parse_bom_statement
from modelseal.cli.render import out, print_json
from modelseal.errors import InputError, VerificationError
from modelseal.oms.bundle import Bundle, read_bundle
from modelseal.oms.metadata import METADATA_PREDICATE_TYPE, parse_metadata_statement
from modelseal.oms.statement import parse_statement
from modelseal.signing.certificate import leaf_identities
from modelseal.signing.identity import certificate_details

MAX_LISTED = 20


def _signer(bundle: Bundle) -> dict[str, Any]:
    material = bundle.verification_material
    if bundle.method == "key":
        return {"method": "key", "key_hint": bundle.public_key_hint()}
    if bundle.method == "certificate":
        leaf = x509.load_der_x509_certificate(bundle.certificates_der()[0])
        return {
            "method": "certificate",
            "subject": leaf.subject.rfc4514_string(),
            "issuer": leaf.issuer.rfc4514_string(),
            "names": sorted(set(leaf_identities(leaf))),
            "not_after": f"{leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}",
        }
    leaf = x509.load_der_x509_certificate(base64.b64decode(material["certificate"]["rawBytes"]))
    entries = material.get("tlogEntries", [])
    logged = [
        {
            "log_index": entry.get("logIndex"),
            "integrated_time": datetime.datetime.fromtimestamp(int(entry["integratedTime"]), datetime.UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
        }
        for entry in entries
        if isinstance(entry, dict) and str(entry.get("integratedTime", "")).isdigit()
    ]
    return {"method": "sigstore", **certificate_details(leaf), "transparency_log": logged}


def _statement(bundle: Bundle) -> dict[str, Any]:
    predicate_type = json.loads(bundle.payload).get("predicateType")
    if predicate_type == METADATA_PREDICATE_TYPE:
        metadata = parse_metadata_statement(bundle.payload)
        return {
            "kind": "metadata attestation",
            "predicate_type": predicate_type,
            "subject": {"name": metadata.subject_name, "sha256": metadata.root_digest},
            "files": [
                f"{d.name}  {d.media_type}, {len(d.content)} bytes, sha256:{d.sha256}" for d in metadata.documents
            ],
        }
    if predicate_type in PREDICATE_TYPES.values():
        signed = parse_bom_statement(bundle.payload)
        return {"kind": f"ML-BOM ({signed.format})", "predicate_type": predicate_type, **bom_summary(signed)}
    if predicate_type == SCAN_PREDICATE_TYPE:
        scan = parse_scan_statement(bundle.payload)
        return {
            "kind": "scan attestation",
            "predicate_type": predicate_type,
            "subject": {"name": scan.manifest.model_name, "sha256": scan.root_digest},
            "scanner": f"modelseal {scan.scanner_version}",
            "scanned_at": scan.scanned_at,
            "policy_sha256": scan.policy_digest,
            "files": [
                {
                    "path": r.path,
                    "format": r.format,
                    "status": r.status.value,
                    "findings": [
                        f"{f.severity.name} {f.message}" + (f" ({f.payload})" if f.payload else "") for f in r.findings
                    ],
                }
                for r in scan.results
            ],
        }
    manifest = parse_statement(bundle.payload)
    s = manifest.serialization
    return {
        "kind": "model signature",
        "predicate_type": predicate_type,
        "subject": {"name": manifest.model_name, "sha256": manifest.root_digest()},
        "serialization": f"{s.method}/{s.hash_type}" + (f", shards of {s.shard_size} bytes" if s.shard_size else ""),
        "ignore_paths": list(s.ignore_paths or ()),
        "resources": len(manifest.resources),
        "files": [f"{r.name}  {r.algorithm}:{r.digest}" for r in manifest.resources],
    }


def describe_file(path: Path) -> dict[str, Any]:
    """What the file says, through the same strict parsers verification uses. A file that is not a signature or
    attestation is a usage error (exit 2): inspecting verifies nothing, so it cannot "fail verification"."""
    try:
        bundle = read_bundle(path)
        return {"file": str(path), "verified": False, "signer": _signer(bundle), "statement": _statement(bundle)}
    except (VerificationError, ValueError, KeyError, TypeError, RecursionError) as exc:
        reason = exc.message if isinstance(exc, VerificationError) else f"{type(exc).__name__}: {exc}"
        raise InputError(f"{path} is not a modelseal signature or attestation ({reason})") from exc


def print_description(description: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(description)
        return
    statement, signer = description["statement"], description["signer"]
    out.print(f"[bold]{escape(description['file'])}[/]: {statement['kind']} [yellow](not verified)[/]")
    out.print(f"  subject    {escape(statement['subject']['name'] or '-')} sha256:{statement['subject']['sha256']}")
    out.print(f"  signed by  {escape(json.dumps({k: v for k, v in signer.items() if k != 'transparency_log'}))}")
    for entry in signer.get("transparency_log", []):
        out.print(f"  logged     Rekor index {entry['log_index']} at {entry['integrated_time']}")
    for key in ("serialization", "scanner", "scanned_at", "resources", "licenses"):
        if key in statement:
            out.print(f"  {key.replace('_', ' '):<10} {escape(str(statement[key]))}")
    files = statement["files"]
    for item in files[:MAX_LISTED]:
        if isinstance(item, str):
            out.print(f"    {escape(item)}")
            continue
        findings = item["findings"]
        mark = "[green]clean[/]" if not findings and item["status"] == "scanned" else escape(item["status"])
        out.print(f"    {escape(item['path'])} ({escape(item['format'])}): {mark}")
        for finding in findings:
            out.print(f"      [red]{escape(finding)}[/]")
    if len(files) > MAX_LISTED:
        out.print(f"    … and {len(files) - MAX_LISTED} more")
    out.print("[dim]Verify before trusting any of this: modelseal verify / modelseal check.[/]")
