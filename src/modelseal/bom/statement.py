"""The ML-BOM as a signed statement: an in-toto statement whose subject is the model's root digest (the same as
its signature's) and whose predicate is the BOM itself, written as `MODEL/model.bom.sig` by `attest bom`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from modelseal.errors import BundleFormatError
from modelseal.oms.bundle import load_json
from modelseal.oms.manifest import Manifest
from modelseal.oms.statement import STATEMENT_TYPE, canonical_json, parse_subject, require

PREDICATE_TYPES = {"cyclonedx": "https://cyclonedx.org/bom", "spdx": "https://spdx.dev/Document/v3"}


@dataclass(frozen=True)
class SignedBom:
    model_name: str
    root_digest: str
    format: str  # cyclonedx or spdx
    document: dict[str, Any]


def build_bom_statement(manifest: Manifest, document: bytes, fmt: str) -> bytes:
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": manifest.model_name, "digest": {"sha256": manifest.root_digest()}}],
        "predicateType": PREDICATE_TYPES[fmt],
        "predicate": json.loads(document),
    }
    return canonical_json(statement)


def parse_bom_statement(payload: bytes) -> SignedBom:
    try:
        statement = load_json(payload)
    except ValueError as exc:
        raise BundleFormatError(f"the BOM attestation's statement is not JSON: {exc}") from exc
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise BundleFormatError("the BOM attestation does not carry an in-toto statement")
    formats = {uri: name for name, uri in PREDICATE_TYPES.items()}
    fmt = formats.get(str(statement.get("predicateType")))
    if fmt is None:
        raise BundleFormatError(f"the BOM attestation's predicate type {statement.get('predicateType')!r} is not a BOM")
    name, digest = parse_subject(statement)
    return SignedBom(name, digest, fmt, require(statement, "predicate", dict, "statement"))


def bom_summary(signed: SignedBom) -> dict[str, Any]:
    """What `inspect` shows of a signed BOM: its subject, the model's licences and its files."""
    document = signed.document
    if signed.format == "cyclonedx":
        component = document.get("metadata", {}).get("component", {})
        licences = [
            entry.get("expression") or entry.get("license", {}).get("id") for entry in component.get("licenses", [])
        ]
        files = [str(c.get("name")) for c in document.get("components", []) if isinstance(c, dict)]
    else:
        graph = [g for g in document.get("@graph", []) if isinstance(g, dict)]
        licences = [
            g.get("simplelicensing_licenseExpression")
            for g in graph
            if g.get("type") == "simplelicensing_LicenseExpression"
        ]
        files = [str(g.get("name")) for g in graph if g.get("type") == "software_File"]
    return {
        "subject": {"name": signed.model_name, "sha256": signed.root_digest},
        "licenses": ", ".join(str(x) for x in licences if x) or "none declared",
        "files": files,
    }
