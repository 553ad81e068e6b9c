"""Scan results keyed by content, so bytes judged once are not read again: a hub that sees the same 5 GB shard
in a thousand forks scans it once.

The key is the file's content digest and name (formats are recognised partly by name), under a context: the
scanner's release (its version and a digest of its own code and lists, so a changed scanner never reuses an old
verdict), the scan policy's digest and the budget. Only verdicts that are a function of the bytes alone are kept:
complete reads that consulted nothing beside the file. A result is stored only if the file's identity after the
scan is the one it was hashed under, so bytes swapped in between cannot be filed under another file's digest.

Digests come for free where they already exist (the manifest `check` and `attest scan` verify, or the digest
cache of earlier signing and scans); otherwise `scan` hashes files up to `HASH_FOR_KEY_MAX` bytes, which for
pickles costs far less than a scan. Larger files whose digest is not known are scanned and not cached: the
scanner reads only the headers of large tensor files, so hashing them would cost more than it saves.

Like the digest cache, this is a convenience: a cache that cannot be opened or read is ignored, with a warning.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from modelseal import __version__
from modelseal.hashing.cache import DigestCache, default_cache_path, open_store
from modelseal.scanning.context import ScanOptions
from modelseal.scanning.engine import leaves_tree
from modelseal.scanning.findings import FileResult
from modelseal.scanning.pool import SERIAL, Target, Workers, scan_targets
from modelseal.scanning.records import RecordError, parse_result, result_record
from modelseal.tree import FileIdentity, identity_of, unchanged

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    content TEXT NOT NULL, context TEXT NOT NULL, record TEXT NOT NULL, used INTEGER NOT NULL,
    PRIMARY KEY (content, context)
) WITHOUT ROWID
"""
MAX_ENTRIES = 1_000_000  # oldest-used rows beyond this are dropped (a row is a few hundred bytes)
HASH_FOR_KEY_MAX = 256 << 20
CACHED_NOTE = "result from the scan cache: these bytes were scanned before by this scanner under this policy"


def default_scan_cache_path() -> Path:
    """Beside the digest cache: `$MODELSEAL_CACHE_DIR/scans.sqlite3`, else under the XDG user cache directory."""
    return default_cache_path().with_name("scans.sqlite3")


@functools.cache
def scanner_release() -> str:
    """The version, and a digest of the scanner's own code and lists: a development build that changes a rule
    is a different release."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".toml")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{__version__}+{digest.hexdigest()[:16]}"


def context_key(policy_digest: str, options: ScanOptions) -> str:
    """What besides the bytes decides a verdict: the scanner release, the policy, the budget."""
    context = {"scanner": scanner_release(), "policy": policy_digest, "limits": dataclasses.asdict(options.limits)}
    return hashlib.sha256(json.dumps(context, sort_keys=True).encode()).hexdigest()


class CacheKey(NamedTuple):
    """A file's content key, and its identity when the digest behind the key was taken."""

    content: str
    identity: FileIdentity

    @classmethod
    def of(cls, name: str, digest: str, identity: FileIdentity) -> CacheKey:
        """`digest` spelled with its algorithm (and shard size), under the file's base name."""
        return cls(hashlib.sha256(f"{digest}\0{os.path.basename(name)}".encode()).hexdigest(), identity)


class ScanCache:
    """One SQLite file of verdicts, read and written under one context."""

    def __init__(self, path: Path, context: str) -> None:
        self.path, self.context = path, context
        self.warning: str | None = None
        self.hits = 0
        self._stored = 0
        self._connection: sqlite3.Connection | None = None
        try:
            self._connection = open_store(path, SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            self._disable(exc)

    def _disable(self, exc: BaseException) -> None:
        self.warning = f"scan cache {self.path} unusable, scanning everything: {exc}"
        if self._connection is not None:
            self._connection.close()
        self._connection = None

    def lookup(self, keys: Sequence[str]) -> dict[str, FileResult]:
        """The cached verdicts among `keys` (their paths are the ones first scanned; callers set their own)."""
        found: dict[str, FileResult] = {}
        if self._connection is None or not keys:
            return found
        try:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._connection.execute(
                    f"SELECT content, record FROM results WHERE context = ? AND content IN ({marks})",
                    (self.context, *chunk),
                ).fetchall()
                for content, record in rows:
                    found[content] = parse_result(json.loads(record), "record")
            with self._connection:
                self._connection.executemany(
                    "UPDATE results SET used = strftime('%s', 'now') WHERE content = ? AND context = ?",
                    [(key, self.context) for key in found],
                )
        except (sqlite3.Error, ValueError, RecordError) as exc:
            self._disable(exc)
            return {}
        self.hits += len(found)
        return found

    def store(self, entries: Sequence[tuple[str, FileResult]]) -> None:
        if self._connection is None or not entries:
            return
        rows = [(key, self.context, json.dumps(result_record(result))) for key, result in entries]
        try:
            with self._connection:
                self._connection.executemany(
                    "INSERT OR REPLACE INTO results (content, context, record, used) "
                    "VALUES (?, ?, ?, strftime('%s', 'now'))",
                    rows,
                )
            self._stored += len(rows)
        except sqlite3.Error as exc:
            self._disable(exc)

    def _prune(self) -> None:
        """Drop the least recently used rows beyond `MAX_ENTRIES` (once per run that stored something)."""
        assert self._connection is not None
        (count,) = self._connection.execute("SELECT count(*) FROM results").fetchone()
        if count > MAX_ENTRIES:
            with self._connection:
                self._connection.execute(
                    "DELETE FROM results WHERE (content, context) IN "
                    "(SELECT content, context FROM results ORDER BY used DESC LIMIT -1 OFFSET ?)",
                    (MAX_ENTRIES,),
                )

    def close(self) -> None:
        if self._connection is None:
            return
        try:
            if self._stored:
                self._prune()
        except sqlite3.Error as exc:
            self.warning = f"scan cache {self.path} could not be pruned: {exc}"
        finally:
            self._connection.close()
            self._connection = None


def answer_from_cache(
    targets: Sequence[Target], keys: Sequence[CacheKey | None], cache: ScanCache | None
) -> tuple[list[FileResult | None], list[int]]:
    """Results the cache holds (marked as cached, named by the current path), and the indices left to scan
    (all of them without a cache)."""
    hits = cache.lookup(sorted({key.content for key in keys if key is not None})) if cache is not None else {}
    results: list[FileResult | None] = [None] * len(targets)
    todo = []
    for index, ((path, _), key) in enumerate(zip(targets, keys, strict=True)):
        known = hits.get(key.content) if key is not None else None
        if known is None:
            todo.append(index)
        else:
            results[index] = dataclasses.replace(known, path=str(path), notes=(*known.notes, CACHED_NOTE))
    return results, todo


def remember(
    cache: ScanCache | None, targets: Sequence[Target], keys: Sequence[CacheKey | None], fresh: dict[int, FileResult]
) -> None:
    """Store fresh verdicts that depend on the bytes alone, for files still the ones that were hashed."""
    if cache is None:
        return
    cache.store(
        [
            (key.content, result)
            for index, result in fresh.items()
            if (key := keys[index]) is not None and result.bytes_only and unchanged(targets[index][0], key.identity)
        ]
    )


def scan_cached(
    targets: Sequence[Target],
    keys: Sequence[CacheKey | None],
    options: ScanOptions,
    cache: ScanCache | None,
    workers: Workers = SERIAL,
    on_result: Callable[[int, FileResult], None] | None = None,
) -> list[FileResult]:
    """`scan_targets`, answering from `cache` the targets whose content key is known and cached, and storing
    the fresh verdicts that depend on the bytes alone (when the file is still the one that was hashed)."""
    results, todo = answer_from_cache(targets, keys, cache)
    if on_result is not None:
        for index, known in enumerate(results):
            if known is not None:
                on_result(index, known)
    report = (lambda i, result: on_result(todo[i], result)) if on_result is not None else None
    fresh = dict(zip(todo, scan_targets([targets[i] for i in todo], options, workers, report), strict=True))
    remember(cache, targets, keys, fresh)
    for index, result in fresh.items():
        results[index] = result
    return [result for result in results if result is not None]


def hashed_keys(targets: Sequence[Target], digest_cache: Path | None) -> list[CacheKey | None]:
    """Content keys for `scan`: sha256 (the signing default, so digests cached by `sign` are reused) from the
    digest cache where a file is unchanged, else by hashing files up to `HASH_FOR_KEY_MAX`. None where no key
    is cheap: larger files, links that leave the tree, anything not a regular file, or when hashing fails."""
    from modelseal.errors import ModelsealError
    from modelseal.hashing.engine import HashPool
    from modelseal.hashing.reader import HashTask
    from modelseal.tree import ModelFile

    candidates: dict[int, HashTask] = {}
    for index, (path, boundary) in enumerate(targets):
        if leaves_tree(path, boundary):
            continue
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            absolute = os.path.abspath(path)
            candidates[index] = HashTask(ModelFile(absolute, absolute, identity_of(st)), 0, st.st_size)
    if not candidates:
        return [None] * len(targets)
    root = os.path.commonpath([os.path.dirname(task.file.path) for task in candidates.values()])
    digests = DigestCache(digest_cache, Path(root), "sha256") if digest_cache is not None else None
    try:
        known = {i: digests.lookup(t) for i, t in candidates.items()} if digests is not None else {}
        small = [i for i, t in candidates.items() if known.get(i) is None and t.length <= HASH_FOR_KEY_MAX]
        with HashPool("sha256", cache=digests) as pool:
            fresh = pool.hash_all([candidates[i] for i in small])
    except ModelsealError:
        return [None] * len(targets)  # a file that cannot be hashed is scanned (and judged) without the cache
    finally:
        if digests is not None:
            digests.close()
    found = {i: d for i, d in known.items() if d is not None} | dict(zip(small, fresh, strict=True))
    keys: list[CacheKey | None] = [None] * len(targets)
    for index, digest in found.items():
        task = candidates[index]
        keys[index] = CacheKey.of(task.file.name, f"sha256:{digest}", task.file.identity)
    return keys


@contextmanager
def scan_cache_at(path: Path | None, policy: Path | None, options: ScanOptions) -> Iterator[ScanCache | None]:
    """The cache file at `path` under the context of this scanner, policy file and budget, closed afterwards;
    None when `path` is None (caching is off)."""
    if path is None:
        yield None
        return
    from modelseal.scanning.policy import policy_digest

    cache = ScanCache(path, context_key(policy_digest(policy), options))
    try:
        yield cache
    finally:
        cache.close()
