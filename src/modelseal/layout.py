"""Where modelseal's documents live relative to a model: one place for the names every command agrees on.

A directory model carries them inside (`MODEL/model.sig`); a single file has them beside it (`MODEL.sig`).
None of them is ever part of the model itself.
"""

from __future__ import annotations

from pathlib import Path

SIGNATURE_NAME = "model.sig"
ATTESTATION_NAME = "model.scan.sig"  # signed scan results beside the signature
METADATA_NAME = "model.meta.sig"  # signed documents about the model (card, evaluations)
BOM_NAME = "model.bom.sig"  # the signed ML-BOM
DOCUMENT_NAMES = (SIGNATURE_NAME, ATTESTATION_NAME, METADATA_NAME, BOM_NAME)


def _document_path(model: Path, name: str) -> Path:
    suffix = name.removeprefix("model")
    return model / name if model.is_dir() else model.with_name(model.name + suffix)


def default_signature_path(model: Path) -> Path:
    """`MODEL/model.sig` for a directory, `MODEL.sig` beside a single file."""
    return _document_path(model, SIGNATURE_NAME)


def default_attestation_path(model: Path) -> Path:
    """`MODEL/model.scan.sig` for a directory, `MODEL.scan.sig` beside a single file."""
    return _document_path(model, ATTESTATION_NAME)


def default_metadata_path(model: Path) -> Path:
    """`MODEL/model.meta.sig` for a directory, `MODEL.meta.sig` beside a single file."""
    return _document_path(model, METADATA_NAME)


def default_bom_path(model: Path) -> Path:
    """`MODEL/model.bom.sig` for a directory, `MODEL.bom.sig` beside a single file."""
    return _document_path(model, BOM_NAME)
