"""Documents about a model (model card, evaluation results, data sheet) bound to its bytes: an in-toto statement
on the same subject as the model signature, carrying each document whole, so a consumer can read exactly what
the signer vouched for even when the documents are not shipped in the model directory.

Written as `MODEL/model.meta.sig` by `modelseal sign ... --metadata FILE`; shown by `inspect`; checked by `check`.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from modelseal.errors import BundleFormatError, InputError
from modelseal.oms.manifest import Manifest
from modelseal.oms.statement import STATEMENT_TYPE, canonical_json, load_statement, parse_subject, require

METADATA_PREDICATE_TYPE = "https://modelseal.dev/attestation/metadata/v1"
MAX_DOCUMENT_BYTES = 16 << 20


@dataclass(frozen=True)
class Document:
    name: str
    media_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @classmethod
    def read(cls, path: Path) -> Document:
        try:
            size = path.stat().st_size
            if size > MAX_DOCUMENT_BYTES:
                raise InputError(f"metadata document {path} is {size} bytes; the limit is {MAX_DOCUMENT_BYTES}")
            content = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read metadata document {path}: {exc.strerror}") from exc
        media_type = mimetypes.guess_type(path.name)[0] or (
            "text/markdown" if path.suffix.lower() == ".md" else "application/octet-stream"
        )
        return cls(path.name, media_type, content)


@dataclass(frozen=True)
class MetadataAttestation:
    subject_name: str
    root_digest: str
    documents: tuple[Document, ...]


def build_metadata_statement(manifest: Manifest, documents: tuple[Document, ...]) -> bytes:
    names = [d.name for d in documents]
    if len(set(names)) != len(names):
        raise InputError("two metadata documents have the same file name")
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": manifest.model_name, "digest": {"sha256": manifest.root_digest()}}],
        "predicateType": METADATA_PREDICATE_TYPE,
        "predicate": {
            "documents": [
                {
                    "name": d.name,
                    "mediaType": d.media_type,
                    "digest": {"sha256": d.sha256},
                    "content": base64.b64encode(d.content).decode("ascii"),
                }
                for d in documents
            ]
        },
    }
    return canonical_json(statement)


def _fail(reason: str) -> BundleFormatError:
    return BundleFormatError(f"the metadata attestation is invalid: {reason}")


def parse_metadata_statement(payload: bytes) -> MetadataAttestation:
    """Parse the signed payload; every document's content must match its recorded digest."""
    statement = load_statement(payload, METADATA_PREDICATE_TYPE, "metadata attestation")
    name, digest = parse_subject(statement)
    predicate = require(statement, "predicate", dict, "statement")
    documents = []
    for index, raw in enumerate(require(predicate, "documents", list, "predicate")):
        where = f"documents[{index}]"
        if not isinstance(raw, dict):
            raise _fail(f"{where} is not an object")
        try:
            content = base64.b64decode(require(raw, "content", str, where), validate=True)
        except ValueError as exc:
            raise _fail(f"{where}.content is not base64") from exc
        document = Document(require(raw, "name", str, where), require(raw, "mediaType", str, where), content)
        if require(require(raw, "digest", dict, where), "sha256", str, f"{where}.digest") != document.sha256:
            raise _fail(f"{where} ({document.name}) does not match its digest")
        documents.append(document)
    return MetadataAttestation(name, digest, tuple(documents))
