"""Sign, verify and digest a model: the orchestration behind `modelseal.sign/verify/digest`.

Verification follows the spec's order and fails closed at each step: the bundle's structure, the signature by
method, the statement, then the model re-enumerated and re-hashed with the settings recorded in the signature.
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from modelseal.errors import InputError, ModelTreeError, SymlinkError, VerificationError
from modelseal.hashing.engine import HashPool
from modelseal.hashing.reader import ProgressCallback
from modelseal.layout import DOCUMENT_NAMES, default_metadata_path, default_signature_path
from modelseal.oms.bundle import read_bundle, write_atomically
from modelseal.oms.manifest import (
    SINGLE_FILE_COMPAT_NAME,
    Manifest,
    Serialization,
    compute_manifest,
    early_task,
    parse_shard_name,
)
from modelseal.oms.metadata import Document, build_metadata_statement
from modelseal.oms.options import HashingOptions, HashingSettings
from modelseal.oms.statement import build_statement, parse_statement
from modelseal.signing.base import Signer, SignerIdentity, Verifier
from modelseal.tree import GIT_PATHS, ModelFile, ModelTree, TreeOptions, enumerate_model, normalize_ignore_path

if TYPE_CHECKING:
    from modelseal.hashing.cache import DigestCache

MAX_LISTED_DIFFERENCES = 50


@dataclass(frozen=True)
class SignResult:
    signature: Path | str  # a path, or where a registry stored it
    manifest: Manifest
    warnings: tuple[str, ...]
    metadata: Path | None = None  # the metadata attestation, when documents were bound


@dataclass(frozen=True)
class VerifyResult:
    model: Path | str  # a path, or a remote model's location
    signature: Path | str
    signer: SignerIdentity
    manifest: Manifest
    files_verified: int
    unsigned_ignored: tuple[str, ...]
    warnings: tuple[str, ...]
    files: tuple[ModelFile, ...] = field(default=(), repr=False)  # what was hashed, with identities
    excluded: tuple[str, ...] = ()  # paths the signer left out (beyond git and modelseal's own documents)
    excluded_present: tuple[str, ...] = ()  # entries in the model left out by those or the verifier's ignores


@contextmanager
def _bulk_allocation() -> Iterator[None]:
    """Pause the cyclic GC: a dataset's millions of small tuples make it rescan the heap over and over
    (measured: 5x slower manifest building at 100,000 files), and nothing here creates cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _relative_ignores(model: Path, raw: Sequence[str | Path]) -> list[str]:
    """User-given ignore paths as model-relative names (those outside the model are dropped)."""
    return [p for p in (normalize_ignore_path(model, str(r)) for r in raw) if p]


def _document_names(model: Path, signature: Path | None) -> list[str]:
    """modelseal's own documents inside a directory model, never part of it: the default signature, the
    attestations, and the signature given (even when kept elsewhere, so a copy carrying its own verifies too)."""
    if not model.is_dir():
        return []
    names: list[str] = []
    for document in (signature, *(model / name for name in DOCUMENT_NAMES)):
        inside = normalize_ignore_path(model, str(document.absolute())) if document is not None else None
        if inside and inside not in names:
            names.append(inside)
    return names


def hashing_plan(model: Path, options: HashingOptions, signature: Path | None) -> tuple[TreeOptions, Serialization]:
    """How `model` is listed and the serialisation its signature will record: the user's exclusions, git's
    paths and modelseal's own documents (those inside the model), recorded so a verifier leaves out the same."""
    ignores = _relative_ignores(model, options.ignore_paths)
    documents = _document_names(model, signature or default_signature_path(model))
    tree_options = TreeOptions(tuple(ignores), options.ignore_git_paths, options.allow_symlinks, tuple(documents))
    return tree_options, recorded_serialization(options, ignores, documents)


def recorded_serialization(options: HashingOptions, ignores: Sequence[str], documents: Sequence[str]) -> Serialization:
    """The serialisation a signature records: the method and hash, and every path left out (the user's
    exclusions, modelseal's documents, git's paths unless kept), so a verifier leaves out the same."""
    recorded = set(ignores) | set(documents) | (set(GIT_PATHS) if options.ignore_git_paths else set())
    return Serialization(
        method="shards" if options.shard_size else "files",
        hash_type=options.hash_type,
        allow_symlinks=options.allow_symlinks,
        ignore_paths=tuple(sorted(recorded)),
        shard_size=options.shard_size,
    )


@_bulk_allocation()
def digest_tree(
    model: Path,
    options: HashingOptions,
    *,
    signature: Path | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[Manifest, ModelTree]:
    """The manifest of `model` and the enumerated files it was computed from. With `options.cache` (a digest
    cache file), unchanged files are not read again (see `modelseal.hashing.cache`)."""
    model = Path(model)
    tree_options, serialization = hashing_plan(model, options, signature)
    single_name = SINGLE_FILE_COMPAT_NAME if options.compat else None
    with (
        _digest_cache(options.cache, model, options.hash_type) as digests,
        HashPool(options.hash_type, workers=options.workers, progress=progress, cache=digests) as pool,
    ):
        tree = enumerate_model(model, tree_options, on_file=_prefetcher(pool, serialization))
        manifest = compute_manifest(tree, serialization, pool, compat=options.compat, single_file_name=single_name)
        if digests is not None and digests.warning:
            tree = dataclasses.replace(tree, warnings=(*tree.warnings, digests.warning))
    return manifest, tree


@contextmanager
def _digest_cache(path: Path | None, model: Path, hash_type: str) -> Iterator[DigestCache | None]:
    if path is None:
        yield None
        return
    from modelseal.hashing.cache import DigestCache

    cache = DigestCache(path, model, hash_type)
    try:
        yield cache
    finally:
        cache.close()


def digest(
    model: Path,
    *,
    signature: Path | None = None,
    progress: ProgressCallback | None = None,
    **settings: Unpack[HashingSettings],
) -> tuple[Manifest, tuple[str, ...]]:
    """Enumerate and hash `model`: the manifest (whose root digest a signature would bind) and any warnings.
    `settings` are the fields of `HashingOptions`."""
    manifest, tree = digest_tree(model, HashingOptions.of(settings), signature=signature, progress=progress)
    return manifest, tree.warnings


def sign(
    model: Path,
    signer: Signer,
    *,
    signature: Path | None = None,
    progress: ProgressCallback | None = None,
    metadata: Sequence[Path] = (),
    **settings: Unpack[HashingSettings],
) -> SignResult:
    """Hash `model` and write an OMS v1.0 signature for it; the file appears whole or not at all. `metadata`
    documents (model card, evaluations) are bound to the same root digest in `model.meta.sig`. `settings` are
    the fields of `HashingOptions`."""
    return sign_with(
        model, signer, HashingOptions.of(settings), signature=signature, progress=progress, metadata=metadata
    )


@_bulk_allocation()
def sign_with(
    model: Path,
    signer: Signer,
    options: HashingOptions,
    *,
    signature: Path | None = None,
    progress: ProgressCallback | None = None,
    metadata: Sequence[Path] = (),
) -> SignResult:
    """`sign` with its settings in one object (what the CLI and the registry commands build)."""
    model = Path(model)
    signature = Path(signature) if signature else default_signature_path(model)
    if signature.is_dir():
        raise InputError(f"signature path {signature} is a directory")
    documents = tuple(Document.read(Path(p)) for p in metadata)  # before hashing: a bad path fails at once
    manifest, tree = digest_tree(model, options, signature=signature, progress=progress)
    bundle = signer.sign(build_statement(manifest))
    write_atomically(signature, bundle.to_json())
    if not documents:
        return SignResult(signature, manifest, tree.warnings)
    target = default_metadata_path(model)
    write_atomically(target, signer.sign(build_metadata_statement(manifest, documents)).to_json())
    return SignResult(signature, manifest, tree.warnings, target)


def signed_path(name: str, serialization: Serialization) -> str:
    if serialization.method == "shards":
        parsed = parse_shard_name(name)
        return parsed[0] if parsed else name
    return name


def differences(signed: Manifest, actual: Manifest) -> list[str]:
    """One line per difference between the signed manifest and the model on disk."""
    if [(r.name, r.digest) for r in sorted(signed.resources)] == [(r.name, r.digest) for r in actual.resources]:
        return []  # the common case, compared at C speed; `actual` is sorted by name
    expected, found = signed.digests_by_name(), actual.digests_by_name()
    algorithm = signed.serialization.hash_type
    lines: list[str] = []
    for name in sorted(expected.keys() & found.keys()):
        if expected[name] != found[name]:
            lines.append(f"modified: {name!r}: signed {algorithm} {expected[name]}, now {found[name]}")
    lines += [f"missing:  {name!r}: signed, but not in the model" for name in sorted(expected.keys() - found.keys())]
    lines += [
        f"unsigned: {name!r}: in the model, not in the signature" for name in sorted(found.keys() - expected.keys())
    ]
    return lines


def _prefetcher(
    pool: HashPool, serialization: Serialization, wanted: Callable[[ModelFile], bool] | None = None
) -> Callable[[ModelFile], None]:
    """Hand small files to the hashing pool while the model is still being listed."""

    def offer(file: ModelFile) -> None:
        task = early_task(file, serialization)
        if task is not None and (wanted is None or wanted(file)):
            pool.prefetch(task)

    return offer


def verification_options(
    model: Path, signed: Serialization, signature: Path, ignore_paths: Sequence[str | Path] = ()
) -> TreeOptions:
    """How the model is enumerated to verify it: the signer's recorded exclusions, the user's, and modelseal's
    documents only where the signature recorded them (or the signature verified itself), each only as a regular
    file; a legacy signature that recorded nothing gets the defaults it was made with."""
    recorded = signed.ignore_paths
    own = _document_names(model, signature)
    if recorded is None:
        documents, excluded = own, []
    else:
        itself = normalize_ignore_path(model, str(signature.absolute())) if model.is_dir() else None
        documents = [name for name in own if name in recorded or name == itself]
        excluded = [name for name in recorded if name not in own]
    ignores = _relative_ignores(model, ignore_paths) + excluded
    return TreeOptions(tuple(ignores), recorded is None, signed.allow_symlinks, tuple(documents))


def _verification_tree(model: Path, options: TreeOptions, on_file: Callable[[ModelFile], None]) -> ModelTree:
    try:
        return enumerate_model(model, options, on_file=on_file)
    except SymlinkError as exc:
        reason = "the signature was made without symlinks: a file was replaced by a link after signing"
        raise VerificationError(f"the model does not match its signature: {exc.message}", details=(reason,)) from exc
    except ModelTreeError as exc:
        raise VerificationError(f"the model does not match its signature: {exc.message}", details=exc.details) from exc


@_bulk_allocation()
def verify(
    model: Path,
    verifier: Verifier,
    *,
    signature: Path | None = None,
    ignore_paths: Sequence[str | Path] = (),
    ignore_unsigned_files: bool = False,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    trusted_cache: Path | None = None,
) -> VerifyResult:
    """Verify `model` against its signature; raises `VerificationError` on any mismatch. `trusted_cache` lets
    files whose identity is unchanged since they were last hashed skip reading: faster, but it trusts file
    metadata over content (see `modelseal.hashing.cache`)."""
    model = Path(model)
    signature, signer, signed = _signed_statement(model, verifier, signature)
    signed_paths = {signed_path(r.name, signed.serialization) for r in signed.resources}
    hash_type = signed.serialization.hash_type
    options = verification_options(model, signed.serialization, signature, ignore_paths)
    with (
        _digest_cache(trusted_cache, model, hash_type) as digests,
        HashPool(hash_type, workers=workers, progress=progress, cache=digests) as pool,
    ):
        # only files the signature names are read early; the rest waits for the listing to be compared
        on_file = _prefetcher(pool, signed.serialization, lambda f: f.name in signed_paths)
        tree = _verification_tree(model, options, on_file)
        listed, single_name = files_to_verify(tree, signed, ignore_unsigned_files)
        hashed_tree = dataclasses.replace(tree, files=listed)
        actual = compute_manifest(hashed_tree, signed.serialization, pool, single_file_name=single_name)
    fail_on(differences(signed, actual))
    unsigned = tuple(f.name for f in tree.files if f.name not in signed_paths) if ignore_unsigned_files else ()
    own = _own_names(model, signature)
    excluded = tuple(name for name in signed.serialization.ignore_paths or () if name not in own)
    present = tuple(name for name in tree.ignored if name not in own)
    return VerifyResult(
        model,
        signature,
        signer,
        signed,
        covered(signed.serialization, hashed_tree.files),
        unsigned,
        tree.warnings + empty_shard_warning(signed.serialization, listed),
        hashed_tree.files,
        excluded,
        present,
    )


@dataclass(frozen=True)
class SignedModel:
    """A model whose signature verified and whose listing matches it, with nothing hashed yet: for loaders that
    read a few shards of a large model, each file is verified when (and only when) it is about to be read."""

    model: Path
    signer: SignerIdentity
    manifest: Manifest
    files: dict[str, ModelFile]  # by model-relative name: every file the signature covers, as listed
    excluded_present: tuple[str, ...] = ()  # entries present but left out of the signature (see VerifyResult)

    def verify_files(self, names: Sequence[str]) -> None:
        """Hash the named files (one worker: a loader asks for a few) and compare each with the signature; raises
        `VerificationError` on a mismatch and `FileChangedError` when one changed since it was listed."""
        wanted = set(names)
        unknown = sorted(wanted - self.files.keys())
        if unknown:
            raise VerificationError(f"not signed: {', '.join(repr(n) for n in unknown[:5])}")
        serialization = self.manifest.serialization
        tree = ModelTree(self.model, False, tuple(self.files[name] for name in sorted(wanted)))
        with HashPool(serialization.hash_type, workers=1) as pool:
            actual = compute_manifest(tree, serialization, pool)
        chosen = tuple(r for r in self.manifest.resources if signed_path(r.name, serialization) in wanted)
        fail_on(differences(dataclasses.replace(self.manifest, resources=chosen), actual))


def open_signed(model: Path, verifier: Verifier, *, signature: Path | None = None) -> SignedModel:
    """Verify the signature and compare the model's listing with it (names, and sizes for shards), reading no
    file's content: the cheap half of `verify`, for lazy loading."""
    model = Path(model)
    if not model.is_dir():
        raise InputError(f"{model} is not a directory: lazy verification is for models of many files")
    signature, signer, signed = _signed_statement(model, verifier, signature)
    options = verification_options(model, signed.serialization, signature)
    tree = _verification_tree(model, options, lambda file: None)
    fail_on(listing_differences(signed, tree.files))
    own = _own_names(model, signature)
    present = tuple(name for name in tree.ignored if name not in own)
    return SignedModel(model, signer, signed, {f.name: f for f in tree.files}, present)


def _signed_statement(model: Path, verifier: Verifier, signature: Path | None) -> tuple[Path, SignerIdentity, Manifest]:
    """Steps 1-3 of verification: the bundle read within its bounds, its signature checked against the verifier
    before anything in it is trusted, then the statement parsed."""
    hint = () if signature else ("pass its location with --signature",)
    signature = Path(signature) if signature else default_signature_path(model)
    if not signature.is_file():
        raise InputError(f"signature file {signature} does not exist", details=hint)
    bundle = read_bundle(signature)
    signer = verifier.verify(bundle)
    return signature, signer, parse_statement(bundle.payload)


def _own_names(model: Path, signature: Path) -> set[str]:
    """Names left out of every model that are no signer's choice: modelseal's documents and git's paths."""
    return set(_document_names(model, signature)) | set(GIT_PATHS)


def files_to_verify(
    tree: ModelTree, signed: Manifest, ignore_unsigned_files: bool
) -> tuple[tuple[ModelFile, ...], str | None]:
    """The listed files to hash, and the resource name of a single-file model; a listing that differs from the
    signature fails here, before a byte is hashed (an added 64 GiB file costs nothing)."""
    if tree.single_file:
        names = {signed_path(r.name, signed.serialization) for r in signed.resources}
        return tree.files, SINGLE_FILE_COMPAT_NAME if SINGLE_FILE_COMPAT_NAME in names else tree.files[0].name
    listed = tree.files
    if ignore_unsigned_files:
        names = {signed_path(r.name, signed.serialization) for r in signed.resources}
        listed = tuple(f for f in tree.files if f.name in names)
    fail_on(listing_differences(signed, listed))
    return listed, None


def listing_differences(signed: Manifest, listed: Sequence[ModelFile]) -> list[str]:
    """Names (and, for shards, sizes) the signature records that the model's listing does not match."""
    shards = signed.serialization.method == "shards"
    expected: dict[str, int] = {}  # name -> size (-1: the files method records none)
    for resource in signed.resources:
        parsed = parse_shard_name(resource.name) if shards else None
        if parsed is None:
            expected.setdefault(resource.name, -1)
        else:
            expected[parsed[0]] = max(expected.get(parsed[0], 0), parsed[2])
    found = {f.name: f.size for f in listed}
    lines = [f"missing:  {name!r}: signed, but not in the model" for name in sorted(expected.keys() - found.keys())]
    lines += [
        f"unsigned: {name!r}: in the model, not in the signature"
        for name in sorted(found.keys() - expected.keys())
        if not (shards and found[name] == 0)  # shard signatures have no record of empty files (a spec gap)
    ]
    lines += [
        f"modified: {name!r}: signed with {expected[name]:,} bytes, now {found[name]:,}"
        for name in sorted(expected.keys() & found.keys())
        if expected[name] >= 0 and expected[name] != found[name]
    ]
    return lines


def covered(serialization: Serialization, files: Sequence[ModelFile]) -> int:
    """How many files the signature really vouched for: under shards, an empty file has no record to check."""
    if serialization.method != "shards":
        return len(files)
    return sum(1 for f in files if f.size)


def empty_shard_warning(serialization: Serialization, listed: Sequence[ModelFile]) -> tuple[str, ...]:
    """A shard signature covers bytes, not names of empty files: say so when the model has any."""
    if serialization.method != "shards":
        return ()
    empty = [f.name for f in listed if f.size == 0]
    if not empty:
        return ()
    return (
        f"{len(empty)} empty file(s) ({', '.join(repr(n) for n in empty[:3])}{', ...' if len(empty) > 3 else ''}) "
        "are not covered: a shard signature has no record of empty files (OMS v1.0), so adding or removing one "
        "goes unseen; sign with the files method to cover them",
    )


def fail_on(problems: list[str]) -> None:
    if not problems:
        return
    shown = problems[:MAX_LISTED_DIFFERENCES]
    if len(problems) > len(shown):
        shown.append(f"... and {len(problems) - len(shown)} more")
    raise VerificationError(
        f"the model does not match its signature: {len(problems)} difference(s)", details=tuple(shown)
    )


__all__ = [
    "SignResult",
    "SignedModel",
    "VerifyResult",
    "digest",
    "digest_tree",
    "hashing_plan",
    "open_signed",
    "sign",
    "sign_with",
    "verify",
]
