"""The hash algorithms OMS allows, behind one small interface."""

from __future__ import annotations

import hashlib
from typing import Protocol

from modelseal.errors import InputError

HASH_TYPES = ("sha256", "blake2b", "blake3")


class Hasher(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> object: ...

    def hexdigest(self) -> str: ...


def new_hasher(hash_type: str, *, large_input: bool = False) -> Hasher:
    """A fresh hasher; `large_input` lets BLAKE3 use every core inside one stream."""
    if hash_type == "sha256":
        return hashlib.sha256()
    if hash_type == "blake2b":
        return hashlib.blake2b(digest_size=64)
    if hash_type == "blake3":
        import blake3  # lazy: only signing/verifying with BLAKE3 pays for the import

        threads = blake3.blake3.AUTO if large_input else 1
        return blake3.blake3(max_threads=threads)
    raise InputError(f"unknown hash type {hash_type!r}", details=(f"choose one of {', '.join(HASH_TYPES)}",))


def read_size_for(hash_type: str) -> int:
    """Read size that keeps the reader ahead of the hasher while buffers stay in cache."""
    return 16 << 20 if hash_type == "blake3" else 1 << 20
