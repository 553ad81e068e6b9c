"""Sign and verify a model where it lives. The manifest is built and compared exactly as for a directory (the
same plan, the same names, the same differences), only the digests come from a `RemoteHasher`: from the
registry's content addressing for an OCI artifact under files/sha256, else from each byte streamed once.
So a model signed as a directory verifies as the artifact built from it, and the reverse."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from modelseal.errors import InputError, VerificationError
from modelseal.hashing.reader import ProgressCallback
from modelseal.layout import DOCUMENT_NAMES, SIGNATURE_NAME
from modelseal.oms.bundle import Bundle, parse_bundle, read_bundle, write_atomically
from modelseal.oms.manifest import SINGLE_FILE_COMPAT_NAME, Manifest, compute_manifest
from modelseal.oms.options import HashingOptions
from modelseal.oms.statement import PREDICATE_TYPE, build_statement, parse_statement
from modelseal.remote import RemoteLocation, open_artifact, open_model
from modelseal.remote.objects import RemoteHasher, RemoteModel
from modelseal.remote.oci import SIGNATURE
from modelseal.signature import (
    SignResult,
    VerifyResult,
    covered,
    differences,
    empty_shard_warning,
    fail_on,
    files_to_verify,
    recorded_serialization,
    signed_path,
)
from modelseal.signing.base import Signer, SignerIdentity, Verifier
from modelseal.tree import GIT_PATHS, FileIdentity, ModelFile, ModelTree


def _ignored(name: str, ignores: frozenset[str]) -> bool:
    return name in ignores or any(name.startswith(prefix + "/") for prefix in ignores)


def remote_tree(model: RemoteModel, ignores: frozenset[str]) -> ModelTree:
    """The remote model as the hashing plan sees a directory: model-relative names, sizes, nothing on disk."""
    files, left_out = [], []
    for file in model.files:
        if _ignored(file.name, ignores):
            left_out.append(file.name)
        else:
            files.append(ModelFile(file.name, model.location, FileIdentity(0, 0, file.size, 0, 0)))
    if not files:
        raise InputError(f"{model.location}: no files to sign or verify")
    return ModelTree(Path(model.name), model.single_file, tuple(files), (), tuple(sorted(left_out)))


def digest_remote(model: RemoteModel, options: HashingOptions, progress: ProgressCallback | None = None) -> Manifest:
    # recorded as for a directory holding all of modelseal's documents: a remote model lists them by name
    ignores = [str(p).strip("/") for p in options.ignore_paths]
    serialization = recorded_serialization(options, ignores, DOCUMENT_NAMES)
    tree = remote_tree(model, frozenset(serialization.ignore_paths or ()))
    single_name = SINGLE_FILE_COMPAT_NAME if options.compat else None
    hasher = RemoteHasher(model, options.hash_type, trust_published=True, progress=progress)
    manifest = compute_manifest(tree, serialization, hasher, compat=options.compat, single_file_name=single_name)
    return dataclasses.replace(manifest, model_name=model.name)


def sign_remote(
    location: RemoteLocation,
    signer: Signer,
    options: HashingOptions,
    *,
    signature: Path | None = None,
    pull: bool = False,
    progress: ProgressCallback | None = None,
) -> SignResult:
    """Sign the model at `location`: the bundle goes to `signature` when given, else beside an OCI artifact as
    a referrer (other stores need `signature`: modelseal does not write into them)."""
    if signature is None and location.scheme != "oci":
        raise InputError(
            f"where should the signature of {location} go?",
            details=("pass --signature FILE (signatures are pushed only to OCI registries)",),
        )
    artifact = open_artifact(location) if location.scheme == "oci" else None
    model = artifact.model("unpack" if pull else "refuse") if artifact is not None else open_model(location)
    manifest = digest_remote(model, options, progress)
    bundle = signer.sign(build_statement(manifest)).to_json()
    if signature is not None:
        write_atomically(signature, bundle)
        return SignResult(signature, manifest, ())
    assert artifact is not None
    return SignResult(artifact.push(bundle, SIGNATURE_NAME, SIGNATURE, PREDICATE_TYPE), manifest, ())


def signed_model(
    location: RemoteLocation, signature: Path | None, *, pull: bool = False
) -> tuple[RemoteModel, list[tuple[str, Bundle]]]:
    """The model's listing and its candidate signatures (where each came from, and the bundle): the file given,
    or every Sigstore bundle that refers to an OCI artifact."""
    if signature is not None:
        return open_model(location, pull=pull), [(str(signature), read_bundle(signature))]
    if location.scheme != "oci":
        raise InputError(f"{location} carries no signature", details=("pass its location with --signature",))
    artifact = open_artifact(location)
    model = artifact.model("unpack" if pull else "refuse")
    where = artifact.where(SIGNATURE)
    found = [(where, parse_bundle(data)) for data in artifact.documents(SIGNATURE)]
    if not found:
        raise VerificationError(
            f"{model.location} has no signature in the registry",
            details=("no referrer and no fallback tag carries a Sigstore bundle for this manifest",),
        )
    return model, found


def _verified(bundles: list[tuple[str, Bundle]], verifier: Verifier) -> tuple[str, SignerIdentity, Manifest]:
    """The first bundle the verifier accepts (a registry may hold several signatures of one artifact)."""
    failures: list[str] = []
    for where, bundle in bundles:
        try:
            signer = verifier.verify(bundle)
        except VerificationError as exc:
            failures.append(exc.message)
            continue
        return where, signer, parse_statement(bundle.payload)
    if len(failures) == 1:
        raise VerificationError(failures[0])
    raise VerificationError(f"none of the {len(failures)} signatures verified", details=tuple(failures[:10]))


def verify_remote(
    location: RemoteLocation,
    verifier: Verifier,
    *,
    signature: Path | None = None,
    ignore_paths: Sequence[str | Path] = (),
    ignore_unsigned_files: bool = False,
    read_all: bool = False,
    pull: bool = False,
    progress: ProgressCallback | None = None,
) -> VerifyResult:
    """Verify the model at `location` against its signature (given, or found beside an OCI artifact); with
    `read_all`, digests a registry vouches for are recomputed from the bytes it serves; with `pull`, tarball
    layers are unpacked and their files verified."""
    model, bundles = signed_model(location, signature, pull=pull)
    return verify_model(model, bundles, verifier, ignore_paths, ignore_unsigned_files, read_all, progress)


def verify_model(
    model: RemoteModel,
    bundles: list[tuple[str, Bundle]],
    verifier: Verifier,
    ignore_paths: Sequence[str | Path] = (),
    ignore_unsigned_files: bool = False,
    read_all: bool = False,
    progress: ProgressCallback | None = None,
) -> VerifyResult:
    """Steps of `signature.verify` on a listing: a bundle the verifier accepts, the listing against it, then the
    digests (from the store where it vouches for them, else every byte read once)."""
    where, signer, signed = _verified(bundles, verifier)
    serialization = signed.serialization
    recorded = serialization.ignore_paths
    ignores = set(recorded) if recorded is not None else set(GIT_PATHS) | set(DOCUMENT_NAMES)
    ignores |= {str(p).strip("/") for p in ignore_paths}
    tree = remote_tree(model, frozenset(ignores))
    signed_paths = {signed_path(r.name, serialization) for r in signed.resources}
    listed, single_name = files_to_verify(tree, signed, ignore_unsigned_files)
    hashed = dataclasses.replace(tree, files=listed)
    hasher = RemoteHasher(model, serialization.hash_type, trust_published=not read_all, progress=progress)
    actual = compute_manifest(hashed, serialization, hasher, single_file_name=single_name)
    fail_on(differences(signed, actual))
    unsigned = tuple(f.name for f in tree.files if f.name not in signed_paths) if ignore_unsigned_files else ()
    return VerifyResult(
        model.location,
        where,
        signer,
        signed,
        covered(serialization, listed),
        unsigned,
        empty_shard_warning(serialization, listed),
        listed,
        # as for a directory: what the signer left out, but neither modelseal's documents nor git's files
        excluded_present=tuple(name for name in tree.ignored if name not in (*DOCUMENT_NAMES, *GIT_PATHS)),
    )
