"""The OMS manifest: how a model was serialised, one digest per file or shard, and the root digest."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from modelseal.errors import InputError
from modelseal.hashing import HASH_TYPES, HashTask
from modelseal.hashing.reader import PIPELINE_THRESHOLD
from modelseal.tree import ModelFile, ModelTree

DEFAULT_SHARD_SIZE = 1_000_000_000
SINGLE_FILE_COMPAT_NAME = "."


class Hasher(Protocol):
    """What computes digests for a manifest: the local `HashPool`, or digests a cluster computed beforehand."""

    def hash_all(self, tasks: Sequence[HashTask]) -> list[str]: ...


MIN_SHARD_SIZE = 4096  # a page: smaller shards only multiply digests (a shard size of 1 made 1 MB take 43 s)


@dataclass(frozen=True)
class Serialization:
    """The `serialization` block: everything a verifier needs to re-enumerate and re-hash the model."""

    method: str = "files"
    hash_type: str = "sha256"
    allow_symlinks: bool = False
    ignore_paths: tuple[str, ...] | None = None  # None: not recorded (bundles before v1.1)
    shard_size: int | None = None

    def __post_init__(self) -> None:
        if self.method not in ("files", "shards"):
            raise InputError(f"unknown serialization method {self.method!r}")
        if self.hash_type not in HASH_TYPES:
            raise InputError(f"unknown hash type {self.hash_type!r}", details=(f"choose one of {HASH_TYPES}",))
        if self.method == "shards" and (self.shard_size is None or self.shard_size < MIN_SHARD_SIZE):
            raise InputError(f"shard size must be at least {MIN_SHARD_SIZE:,} bytes (found {self.shard_size})")


class Resource(NamedTuple):
    """One signed file (or shard): its name, algorithm and lower-case hex digest."""

    name: str
    algorithm: str
    digest: str


@dataclass(frozen=True)
class Manifest:
    """Resources in their listed order; the root digest is defined over that order."""

    model_name: str
    serialization: Serialization
    resources: tuple[Resource, ...]

    def root_digest(self) -> str:
        return root_digest(self.resources)

    def digests_by_name(self) -> dict[str, str]:
        return {r.name: r.digest for r in self.resources}


def root_digest(resources: tuple[Resource, ...]) -> str:
    """sha256 over the concatenated raw digests, in listed order (the subject digest)."""
    outer = hashlib.sha256()
    for resource in resources:
        outer.update(bytes.fromhex(resource.digest))
    return outer.hexdigest()


def shard_name(file_name: str, start: int, end: int) -> str:
    return f"{file_name}:{start}:{end}"


def parse_shard_name(name: str) -> tuple[str, int, int] | None:
    """Split `path:start:end` on its last two colons (paths may contain colons)."""
    parts = name.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], int(parts[1]), int(parts[2])


def resource_algorithm(serialization: Serialization, *, compat: bool) -> str:
    """The per-resource algorithm name; the reference tool writes `sha256-sharded-<N>` for shards."""
    if compat and serialization.method == "shards":
        return f"{serialization.hash_type}-sharded-{serialization.shard_size}"
    return serialization.hash_type


def plan(
    tree: ModelTree, serialization: Serialization, *, single_file_name: str | None = None
) -> list[tuple[str, HashTask]]:
    """Resource names and the byte ranges behind them. Zero-byte files have no shards."""
    planned: list[tuple[str, HashTask]] = []
    for file in tree.files:
        name = single_file_name if (tree.single_file and single_file_name) else file.name
        if serialization.method == "files":
            planned.append((name, HashTask(file, 0, file.size)))
            continue
        step = serialization.shard_size or DEFAULT_SHARD_SIZE
        for start in range(0, file.size, step):
            end = min(start + step, file.size)
            planned.append((shard_name(name, start, end), HashTask(file, start, end)))
    return planned


def early_task(file: ModelFile, serialization: Serialization) -> HashTask | None:
    """The one small range a file will need, if it is small enough to hash while the model is still listed."""
    size = file.size
    if size >= PIPELINE_THRESHOLD or (serialization.method == "shards" and size == 0):
        return None
    if serialization.method == "shards" and size > (serialization.shard_size or DEFAULT_SHARD_SIZE):
        return None
    return HashTask(file, 0, size)


def compute_manifest(
    tree: ModelTree,
    serialization: Serialization,
    pool: Hasher,
    *,
    compat: bool = False,
    single_file_name: str | None = None,
) -> Manifest:
    """Hash the model and return its manifest, resources sorted by name in code-point order."""
    planned = plan(tree, serialization, single_file_name=single_file_name)
    digests = pool.hash_all([task for _, task in planned])
    algorithm = resource_algorithm(serialization, compat=compat)
    # names are unique, so tuple order is name order (code-point order), with no key function to call
    resources = sorted(Resource(name, algorithm, digest) for (name, _), digest in zip(planned, digests, strict=True))
    model_name = tree.root.resolve().name or str(tree.root)
    return Manifest(model_name, serialization, tuple(resources))
