"""The in-toto statement that carries the manifest: canonical bytes out, strict parsing in."""

from __future__ import annotations

import json
import re
from typing import Any

from modelseal.errors import BundleFormatError, InputError
from modelseal.oms.bundle import load_json
from modelseal.oms.manifest import MIN_SHARD_SIZE, Manifest, Resource, Serialization, parse_shard_name, root_digest
from modelseal.tree import check_name

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
LEGACY_PREDICATE_TYPE = "https://model_signing/Digests/v0.1"
_ACCEPTED_PREDICATE = re.compile(r"^https://model_signing/signature/v1\.\d+$")
_DIGEST_LENGTHS = {"sha256": 64, "blake2b": 128, "blake3": 64}
_HEX = re.compile(r"^[0-9a-fA-F]+$")


def canonical_json(value: object) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same statement always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


_EMPTY_RESOURCES = b'"resources":[]'


def _resources_json(resources: tuple[Resource, ...]) -> str:
    """`canonical_json` of the resource list, written directly: a dataset has millions of entries, and this is
    4x faster than building dicts for `json.dumps`. Tests compare it with `canonical_json`."""
    quote = json.encoder.encode_basestring  # the C encoder, as json.dumps(ensure_ascii=False) uses
    return ",".join(
        f'{{"algorithm":{quote(r.algorithm)},"digest":"{r.digest}","name":{quote(r.name)}}}' for r in resources
    )


def build_statement(manifest: Manifest) -> bytes:
    """The payload bytes to sign for `manifest`: `canonical_json` of the statement. The shard size is written as an
    integer in every mode: model-signing's verifier reads the size back to re-hash, and a float (its own writer's
    spelling) makes that verifier fail with a TypeError."""
    serialization = serialization_json(manifest.serialization)
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": manifest.model_name, "digest": {"sha256": manifest.root_digest()}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": serialization,
            "resources": [],
        },
    }
    # keys are sorted and string values escape their quotes, so the first match is the predicate's key
    resources = f'"resources":[{_resources_json(manifest.resources)}]'.encode()
    return canonical_json(statement).replace(_EMPTY_RESOURCES, resources, 1)


def _fail(reason: str) -> BundleFormatError:
    return BundleFormatError(f"the signed statement is invalid: {reason}")


def require(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in obj:
        raise _fail(f"{where} has no {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _fail(f"{where}.{key} has the wrong type ({type(value).__name__})")
    return value


def _check_digest(digest: str, hash_type: str, where: str) -> str:
    if not _HEX.match(digest) or len(digest) != _DIGEST_LENGTHS[hash_type]:
        raise _fail(f"{where} digest {digest!r} is not a {hash_type} hex digest")
    return digest.lower()


def _parse_serialization(raw: dict[str, Any]) -> Serialization:
    method = require(raw, "method", str, "serialization")
    hash_type = require(raw, "hash_type", str, "serialization")
    allow_symlinks = raw.get("allow_symlinks", False)
    if not isinstance(allow_symlinks, bool):
        raise _fail("serialization.allow_symlinks is not a boolean")
    ignore_paths = raw.get("ignore_paths")
    if ignore_paths is not None and (
        not isinstance(ignore_paths, list) or not all(isinstance(p, str) for p in ignore_paths)
    ):
        raise _fail("serialization.ignore_paths is not a list of strings")
    shard_size: int | None = None
    if method == "shards":
        size = require(raw, "shard_size", (int, float), "serialization")
        if isinstance(size, float) and size.is_integer():
            size = int(size)  # model-signing writes 1e9 as 1000000000.0
        if isinstance(size, bool) or not isinstance(size, int):
            raise _fail(f"serialization.shard_size {size!r} is not an integer")
        if size < MIN_SHARD_SIZE:
            raise _fail(
                f"serialization.shard_size {size} is below {MIN_SHARD_SIZE:,} bytes: refused, re-hashing the model "
                "in shards that small costs more than it protects"
            )
        shard_size = size
    try:
        recorded = tuple(ignore_paths) if ignore_paths is not None else None
        return Serialization(method, hash_type, allow_symlinks, recorded, shard_size)
    except InputError as exc:
        raise _fail(exc.message) from exc


def _parse_resource(raw: object, serialization: Serialization, index: int) -> Resource:
    where = f"resources[{index}]"
    if not isinstance(raw, dict):
        raise _fail(f"{where} is not an object")
    name = require(raw, "name", str, where)
    algorithm = require(raw, "algorithm", str, where)
    digest = require(raw, "digest", str, where)
    if len(digest) != _DIGEST_LENGTHS[serialization.hash_type] or not _HEX.match(digest):
        raise _fail(f"{where} digest {digest!r} is not a {serialization.hash_type} hex digest")
    if algorithm not in (serialization.hash_type, f"{serialization.hash_type}-sharded-{serialization.shard_size}"):
        raise _fail(f"{where} algorithm {algorithm!r} does not match hash_type {serialization.hash_type!r}")
    path = name
    if serialization.method == "shards":
        parsed = parse_shard_name(name)
        if parsed is None or parsed[1] >= parsed[2]:
            raise _fail(f"{where} name {name!r} is not a 'path:start:end' shard name")
        path = parsed[0]
    problem = None if path == "." else check_name(path)
    if problem:
        raise _fail(f"{where} name {name!r} is unsafe: {problem}")
    return Resource(name, algorithm, digest.lower())


def parse_subject(statement: dict[str, Any]) -> tuple[str, str]:
    subjects = require(statement, "subject", list, "statement")
    if len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise _fail(f"expected exactly one subject, found {len(subjects)}")
    digest = require(subjects[0], "digest", dict, "subject")
    sha = require(digest, "sha256", str, "subject.digest")
    name = subjects[0].get("name", "")
    return (name if isinstance(name, str) else ""), _check_digest(sha, "sha256", "subject")


def _parse_legacy(statement: dict[str, Any]) -> Manifest:
    """v0.2 statements: one subject per file, digests are the files' sha256."""
    subjects = require(statement, "subject", list, "statement")
    resources = []
    for index, subject in enumerate(subjects):
        if not isinstance(subject, dict):
            raise _fail(f"subject[{index}] is not an object")
        digest = require(require(subject, "digest", dict, f"subject[{index}]"), "sha256", str, "digest")
        resources.append({"name": subject.get("name"), "algorithm": "sha256", "digest": digest})
    serialization = Serialization("files", "sha256")
    parsed = tuple(_parse_resource(r, serialization, i) for i, r in enumerate(resources))
    if not parsed:
        raise _fail("the statement lists no files")
    if len({r.name for r in parsed}) != len(parsed):
        raise _fail("a file is listed twice (with two digests, either could be taken for it)")
    return Manifest("", serialization, parsed)


def load_statement(payload: bytes, predicate_type: str, what: str) -> dict[str, Any]:
    """The payload as an in-toto statement of `predicate_type`, or a `BundleFormatError` naming `what`."""
    try:
        statement = load_json(payload)
    except ValueError as exc:
        raise BundleFormatError(f"the {what} is invalid: payload is {exc}") from exc
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise BundleFormatError(f"the {what} is invalid: payload is not an in-toto statement")
    if statement.get("predicateType") != predicate_type:
        found = statement.get("predicateType")
        raise BundleFormatError(f"the {what} is invalid: predicateType {found!r} is not {predicate_type!r}")
    return statement


def parse_statement(payload: bytes) -> Manifest:
    """Parse and check a signed payload; the subject must equal the root digest of the listed resources."""
    try:
        statement = load_json(payload)
    except ValueError as exc:
        raise _fail(f"payload is {exc}") from exc
    if not isinstance(statement, dict):
        raise _fail("payload is not a JSON object")
    if statement.get("_type") != STATEMENT_TYPE:
        raise _fail(f"_type is {statement.get('_type')!r}, expected {STATEMENT_TYPE!r}")
    predicate_type = statement.get("predicateType")
    if predicate_type == LEGACY_PREDICATE_TYPE:
        return _parse_legacy(statement)
    if not isinstance(predicate_type, str) or not _ACCEPTED_PREDICATE.match(predicate_type):
        raise _fail(f"predicateType {predicate_type!r} is not a model signature (expected {PREDICATE_TYPE})")
    subject_name, subject_digest = parse_subject(statement)
    return parse_manifest(subject_name, subject_digest, require(statement, "predicate", dict, "statement"))


def serialization_json(serialization: Serialization) -> dict[str, Any]:
    """The predicate's `serialization` object: how the resources were computed."""
    document: dict[str, Any] = {
        "method": serialization.method,
        "hash_type": serialization.hash_type,
        "allow_symlinks": serialization.allow_symlinks,
        "ignore_paths": sorted(serialization.ignore_paths or ()),
    }
    if serialization.method == "shards":
        document["shard_size"] = serialization.shard_size
    return document


def manifest_json(manifest: Manifest) -> dict[str, Any]:
    """`serialization` and `resources` as a model signature's predicate holds them (other statements embed them)."""
    resources = [{"name": r.name, "algorithm": r.algorithm, "digest": r.digest} for r in manifest.resources]
    return {"serialization": serialization_json(manifest.serialization), "resources": resources}


def parse_manifest(subject_name: str, subject_digest: str, predicate: dict[str, Any]) -> Manifest:
    """The manifest in a predicate's `serialization` and `resources`, checked against the subject digest."""
    serialization = _parse_serialization(require(predicate, "serialization", dict, "predicate"))
    raw_resources = require(predicate, "resources", list, "predicate")
    if not raw_resources:
        raise _fail("the statement lists no files: an empty model cannot be verified")
    resources = tuple(_parse_resource(r, serialization, i) for i, r in enumerate(raw_resources))
    names = [r.name for r in resources]
    if len(set(names)) != len(names):
        raise _fail("a resource name is listed twice")
    if root_digest(resources) != subject_digest:
        raise BundleFormatError(
            "the signed statement is inconsistent: its subject digest does not match its resources",
            details=(
                f"subject:                 {subject_digest}",
                f"computed from resources: {root_digest(resources)}",
            ),
        )
    return Manifest(subject_name, serialization, resources)
