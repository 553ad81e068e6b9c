"""`attest scan`: hash the model, scan exactly the hashed files, and sign the verdicts bound to the root digest.

The scan must describe the bytes the digest names: every file's identity (device, inode, size, mtime) is
compared after scanning with the one recorded before hashing, so a file swapped in between is an error, not
a clean verdict for bytes nobody scanned.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from modelseal import __version__
from modelseal.attest.predicate import ScanAttestation, build_scan_statement
from modelseal.errors import FileChangedError, InputError, ModelsealError
from modelseal.hashing.reader import ProgressCallback
from modelseal.layout import default_attestation_path, default_signature_path
from modelseal.oms.bundle import read_bundle, write_atomically
from modelseal.oms.manifest import Manifest, Serialization, parse_shard_name
from modelseal.oms.options import HashingOptions
from modelseal.oms.statement import parse_statement
from modelseal.scanning.cache import CacheKey, ScanCache, scan_cache_at, scan_cached
from modelseal.scanning.findings import FileResult
from modelseal.scanning.policy import load_policy, policy_digest
from modelseal.scanning.pool import SERIAL, Workers
from modelseal.scanning.scanner import ScanOptions, symlink_boundary
from modelseal.signature import digest_tree
from modelseal.signing.base import Signer
from modelseal.tree import ModelFile, normalize_ignore_path, unchanged


def manifest_keys(manifest: Manifest, files: Sequence[ModelFile]) -> list[CacheKey | None]:
    """Scan-cache keys from the digests a manifest already holds: a file's digest (files method), or its shards'
    digests together (shards method). The identity is the one the file was hashed under."""
    serialization = manifest.serialization
    digests: dict[str, list[str]] = {}
    for resource in manifest.resources:
        parsed = parse_shard_name(resource.name) if serialization.method == "shards" else None
        digests.setdefault(parsed[0] if parsed else resource.name, []).append(f"{resource.algorithm}:{resource.digest}")
    prefix = f"shards-{serialization.shard_size}:" if serialization.method == "shards" else ""
    return [
        CacheKey.of(f.name, prefix + ",".join(digests[f.name]), f.identity) if f.name in digests else None
        for f in files
    ]


def scan_model_files(
    model: Path,
    files: Sequence[ModelFile],
    manifest: Manifest,
    options: ScanOptions,
    workers: Workers = SERIAL,
    cache: ScanCache | None = None,
) -> tuple[FileResult, ...]:
    """Scan `files` (the tree `manifest` was computed from), each named by its model-relative name, and prove
    that none changed since it was hashed. With a cache, bytes already judged (by the manifest's digests) are not
    read again."""
    boundary = symlink_boundary(model) if model.is_dir() else None
    targets = [(Path(file.path), boundary) for file in files]
    keys = manifest_keys(manifest, files) if cache is not None else [None] * len(files)
    results = scan_cached(targets, keys, options, cache, workers)
    for file in files:
        if not unchanged(file.path, file.identity):
            raise FileChangedError(
                f"{file.name!r} changed between hashing and scanning",
                details=("the scan would not describe the hashed bytes; run again when nothing writes the model",),
            )
    return tuple(dataclasses.replace(result, path=file.name) for result, file in zip(results, files, strict=True))


def now_utc() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class AttestResult:
    path: Path
    attestation: ScanAttestation


def signed_serialization(model: Path, signature: Path | None) -> Serialization:
    """How the model's signature hashed it, so the attestation's subject is the signature's subject; the
    defaults when the model is not signed yet."""
    path = signature or default_signature_path(model)
    if not path.is_file():
        return Serialization("files", "sha256")
    try:
        return parse_statement(read_bundle(path).payload).serialization
    except ModelsealError as exc:
        raise InputError(f"cannot read the model's signature {path}: {exc.message}") from exc


def refuse_unexcluded_target(model: Path, target: Path, signed: Serialization) -> None:
    """An attestation written inside a model whose signature recorded its exclusions without this name (the
    reference tool's, or an older modelseal's) would be an unsigned file that verification refuses: say so
    before anything is written."""
    inside = normalize_ignore_path(model, str(target.absolute())) if model.is_dir() else None
    if inside is not None and signed.ignore_paths is not None and inside not in signed.ignore_paths:
        raise InputError(
            f"the model's signature does not exclude {inside!r}: written there, the attestation would be an unsigned "
            "file, and verification (modelseal's and model-signing's) would refuse the model",
            details=("write it beside the model with --attestation PATH, or re-sign the model with modelseal",),
        )


def attest_scan(
    model: Path,
    signer: Signer,
    *,
    attestation: Path | None = None,
    policy: Path | None = None,
    signature: Path | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    scan_workers: Workers = SERIAL,
    scan_cache: Path | None = None,
) -> AttestResult:
    """Scan `model` and write a signed scan attestation (default `MODEL/model.scan.sig`)."""
    model = Path(model)
    target = Path(attestation) if attestation else default_attestation_path(model)
    signed = signed_serialization(model, signature)
    refuse_unexcluded_target(model, target, signed)
    hashing = HashingOptions.reproducing(signed, workers=workers)
    hashing = dataclasses.replace(hashing, ignore_paths=(*hashing.ignore_paths, str(target.absolute())))
    manifest, tree = digest_tree(
        model, hashing, signature=signature or default_signature_path(model), progress=progress
    )
    options = ScanOptions(policy=load_policy(policy))
    with scan_cache_at(scan_cache, policy, options) as cache:
        results = scan_model_files(model, tree.files, manifest, options, scan_workers, cache)
    statement = ScanAttestation(manifest, __version__, policy_digest(policy), now_utc(), results)
    bundle = signer.sign(build_scan_statement(statement))
    write_atomically(target, bundle.to_json())
    return AttestResult(target, statement)
