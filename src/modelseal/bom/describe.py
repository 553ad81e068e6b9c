"""Everything a BOM states about a model, gathered once: the manifest (the signed one, after proving the files
still match it; else freshly computed), each file's scan verdict, and the model's facts."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from modelseal.attest.attest import scan_model_files
from modelseal.bom.facts import ModelFacts, Readable, model_facts
from modelseal.layout import default_attestation_path, default_signature_path
from modelseal.oms.bundle import read_bundle
from modelseal.oms.manifest import Manifest
from modelseal.oms.options import HashingOptions
from modelseal.oms.statement import parse_statement
from modelseal.remote import RemoteLocation
from modelseal.scanning.context import ScanOptions
from modelseal.scanning.findings import FileResult
from modelseal.signature import differences, digest_tree, fail_on
from modelseal.tree import ModelFile


@dataclass(frozen=True)
class ModelDescription:
    model: Path | str  # a directory or file, or a remote model's location
    manifest: Manifest
    signature: Path | None  # the signature whose manifest the digests are (its signer is not judged here)
    attestation: Path | None
    files: tuple[ModelFile, ...]
    results: dict[str, FileResult]  # by model-relative name
    facts: ModelFacts


def describe(model: Path | RemoteLocation, *, signature: Path | None = None) -> ModelDescription:
    """The model's description. With a signature (given, or beside a local model) its manifest's digests are
    used, and the model must still match them: a BOM never names digests of other bytes than the model's."""
    from modelseal.bom import require_extra

    require_extra()
    if not isinstance(model, Path):
        return _describe_remote(model, signature)
    signature = signature or default_signature_path(model)
    if signature.is_file():
        signed = parse_statement(read_bundle(signature).payload)
        actual, tree = digest_tree(model, HashingOptions.reproducing(signed.serialization), signature=signature)
        fail_on(differences(signed, actual))
        manifest, used = signed, signature
    else:
        manifest, tree = digest_tree(model, HashingOptions())
        used = None
    results = scan_model_files(model, tree.files, manifest, ScanOptions())
    by_name = {file.name: result for file, result in zip(tree.files, results, strict=True)}
    facts = model_facts(model.resolve().name, [Readable.local(f.name, Path(f.path)) for f in tree.files])
    attestation = default_attestation_path(model)
    return ModelDescription(
        model, manifest, used, attestation if attestation.is_file() else None, tree.files, by_name, facts
    )


def _describe_remote(location: RemoteLocation, signature: Path | None) -> ModelDescription:
    """A model where it lives (oci://, s3://, hf://, https://): digests as `sign` computes them (an OCI
    registry's layer digests stand in for reading), or the signature's after the store's bytes were proven to
    match it; every file scanned from the store."""
    import dataclasses

    from modelseal.remote import open_model
    from modelseal.remote.objects import open_remote_file
    from modelseal.remote.scan import remote_path, scan_remote
    from modelseal.remote.signing import digest_remote, remote_tree

    model = open_model(location)
    if signature is not None:
        signed = parse_statement(read_bundle(signature).payload)
        fail_on(differences(signed, digest_remote(model, HashingOptions.reproducing(signed.serialization))))
        manifest = signed
    else:
        manifest = digest_remote(model, HashingOptions())
    tree = remote_tree(model, frozenset(manifest.serialization.ignore_paths or ()))
    described = {f.name for f in tree.files}
    chosen = dataclasses.replace(model, files=tuple(f for f in model.files if f.name in described))
    names = {remote_path(chosen, f): f.name for f in chosen.files}
    by_name = {names[r.path]: r for r in scan_remote(chosen, ScanOptions())}
    readable = [Readable(f.name, functools.partial(open_remote_file, f)) for f in chosen.files]
    return ModelDescription(
        model.location, manifest, signature, None, tree.files, by_name, model_facts(model.name, readable)
    )
