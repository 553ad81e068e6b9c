"""The hashing engine: parallel, pipelined, change-detecting digests of files and shards."""

from __future__ import annotations

from modelseal.hashing.algorithms import HASH_TYPES, new_hasher
from modelseal.hashing.engine import hash_tasks
from modelseal.hashing.reader import HashTask

__all__ = ["HASH_TYPES", "HashTask", "hash_tasks", "new_hasher"]
