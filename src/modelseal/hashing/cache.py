"""An embedded cache of file digests, so re-signing a 100 GB model after editing its README rehashes the README.

A digest is reused only when the file's identity is unchanged: same path, device, inode, size, mtime *and*
ctime. ctime is set by the kernel on every write or metadata change and cannot be set back by a user, so a
rewritten file that keeps its size and mtime still misses. What the cache cannot see: writes to the raw block
device, or a clock turned back by root. That is why `verify` never uses it unless asked (`--trust-cache`).

The cache is a convenience: if it cannot be opened or written, hashing goes on without it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from modelseal.hashing.reader import HashTask

SCHEMA = """
CREATE TABLE IF NOT EXISTS digests (
    path TEXT NOT NULL, algorithm TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    device INTEGER NOT NULL, inode INTEGER NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (path, algorithm, start, end)
) WITHOUT ROWID
"""
_Key = tuple[str, int, int]  # absolute path, start, end


def default_cache_path() -> Path:
    """`$MODELSEAL_CACHE_DIR`, else the XDG user cache directory."""
    base = os.environ.get("MODELSEAL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "modelseal"
    )
    return Path(base) / "digests.sqlite3"


def open_store(path: Path, schema: str) -> sqlite3.Connection:
    """A cache's SQLite file, created with its directory; write-ahead logging lets concurrent runs share it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=10, check_same_thread=False)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(schema)
    except sqlite3.Error:
        connection.close()
        raise
    return connection


class DigestCache:
    """Digests of byte ranges of files under one model root, for one algorithm."""

    def __init__(self, path: Path, root: Path, algorithm: str) -> None:
        self.path = path
        self.prefix = os.path.join(os.path.abspath(root), "")
        self.algorithm = algorithm
        self.warning: str | None = None
        self.hits = 0
        self._known: dict[_Key, tuple[tuple[int, ...], str]] = {}
        self._connection: sqlite3.Connection | None = None
        try:
            self._connection = open_store(path, SCHEMA)
            self._load()
        except (OSError, sqlite3.Error) as exc:
            self._disable(exc)

    def _disable(self, exc: BaseException) -> None:
        self.warning = f"digest cache {self.path} unusable, hashing everything: {exc}"
        if self._connection is not None:
            self._connection.close()
        self._connection = None
        self._known = {}

    def _load(self) -> None:
        assert self._connection is not None
        rows = self._connection.execute(
            "SELECT path, start, end, device, inode, size, mtime_ns, ctime_ns, digest FROM digests "
            "WHERE algorithm = ? AND path >= ? AND path < ?",
            (self.algorithm, self.prefix, self.prefix[:-1] + chr(ord(self.prefix[-1]) + 1)),
        )
        self._known = {(r[0], r[1], r[2]): (tuple(r[3:8]), r[8]) for r in rows}

    @staticmethod
    def _key(task: HashTask) -> _Key:
        return os.path.abspath(task.file.path), task.start, task.end

    def lookup(self, task: HashTask) -> str | None:
        """The cached digest, if the file's identity at listing is exactly the one it was hashed under."""
        known = self._known.get(self._key(task))
        if known is None or known[0] != tuple(task.file.identity):
            return None
        self.hits += 1
        return known[1]

    def store(self, entries: Iterable[tuple[HashTask, str]]) -> None:
        """Remember fresh digests (their files' identities were re-checked when they were read)."""
        if self._connection is None:
            return
        rows = [(*self._key(t), self.algorithm, *t.file.identity, digest) for t, digest in entries]
        try:
            with self._connection:
                self._connection.executemany(
                    "INSERT OR REPLACE INTO digests (path, start, end, algorithm, device, inode, size, mtime_ns, "
                    "ctime_ns, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.Error as exc:
            self._disable(exc)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
