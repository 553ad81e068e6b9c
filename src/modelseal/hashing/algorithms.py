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
    """Read size that keeps buffers in cache; BLAKE3 needs larger updates to spread over its threads.

    Measured on 2 cores, page cache warm: SHA-256 best at 1 MiB (1.74 GB/s, one stream); BLAKE3 at 4 MiB
    (11.6 GB/s one file, 8.6 GB/s three files) against 8.8 / 7.1 GB/s at 16 MiB."""
    return 4 << 20 if hash_type == "blake3" else 1 << 20
