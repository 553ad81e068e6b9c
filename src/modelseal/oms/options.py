"""How a model is turned into a manifest: one frozen object for the settings `sign`, `digest`, `attest` and the
CLI share, instead of the same ten keyword arguments at every layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from modelseal.layout import DOCUMENT_NAMES
from modelseal.oms.manifest import Serialization
from modelseal.tree import GIT_PATHS


class HashingSettings(TypedDict, total=False):
    """The keyword spelling of `HashingOptions`, as the public `sign` and `digest` accept it."""

    hash_type: str
    shard_size: int | None
    ignore_paths: Sequence[str | Path]
    ignore_git_paths: bool
    allow_symlinks: bool
    compat: bool
    workers: int | None
    cache: Path | None


@dataclass(frozen=True)
class HashingOptions:
    """What to hash and how: the serialisation a signature records, plus how this run reads the bytes."""

    hash_type: str = "sha256"
    shard_size: int | None = None  # None: one digest per file (the files method)
    ignore_paths: tuple[str | Path, ...] = ()  # model-relative or absolute; outside the model they are dropped
    ignore_git_paths: bool = True
    allow_symlinks: bool = False
    compat: bool = False  # write what model-signing 1.x writes where it differs from the spec
    workers: int | None = None  # hashing threads; None: one per core
    cache: Path | None = None  # a digest cache file: files unchanged since they were hashed are not read again

    @classmethod
    def of(cls, settings: HashingSettings) -> HashingOptions:
        values = dict(settings)
        values["ignore_paths"] = tuple(settings.get("ignore_paths", ()))
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def reproducing(cls, signed: Serialization, *, compat: bool = False, workers: int | None = None) -> HashingOptions:
        """The options that hash a model the way its signature says it was hashed, so both name the same bytes."""
        recorded = set(signed.ignore_paths or ())
        return cls(
            hash_type=signed.hash_type,
            shard_size=signed.shard_size,
            allow_symlinks=signed.allow_symlinks,
            ignore_git_paths=signed.ignore_paths is None or bool(recorded & set(GIT_PATHS)),
            ignore_paths=tuple(sorted(recorded - set(GIT_PATHS) - set(DOCUMENT_NAMES))),
            compat=compat,
            workers=workers,
        )
