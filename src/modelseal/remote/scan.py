"""Scan a remote model: every file through the same engine as a local one (`scanning.engine.judge`), its bytes
from `open_remote_file`: small files fetched whole and checked against their published digest, large ones read
in ranges only where a format looks (a safetensors header, a zip's central directory and the pickles in it).

With a scan cache, a file of a content-addressed store (an OCI registry, whose pullers check every digest) is
answered from a verdict on the same bytes, made locally or remotely, without a byte fetched. Other stores' digests
(the Hub's) are claims no loader checks, so their files are always read. Only verdicts on bytes read whole and
checked against a published sha256 are stored: a store cannot file a verdict on some bytes under another digest."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from modelseal.remote.objects import WHOLE_READ_MAX, RemoteFile, RemoteModel, open_remote_file
from modelseal.scanning.cache import CACHED_NOTE, CacheKey, ScanCache
from modelseal.scanning.context import ScanContext, ScanOptions
from modelseal.scanning.engine import ignored_by, judge
from modelseal.scanning.findings import FileResult
from modelseal.tree import FileIdentity


def remote_path(model: RemoteModel, file: RemoteFile) -> str:
    """How a remote file is named in reports: the model's location, then its name inside the model."""
    return model.location if model.single_file else f"{model.location}/{file.name}"


def scan_remote_file(model: RemoteModel, file: RemoteFile, options: ScanOptions) -> FileResult:
    def read(ctx: ScanContext) -> str:
        with open_remote_file(file) as stream:
            return ctx.scan(stream, file.size, "", 0)

    return judge(ScanContext(Path(file.name), options, local=False), remote_path(model, file), read)


def cache_key(file: RemoteFile) -> str | None:
    """The scan cache's key for a file whose store publishes its sha256 (the key a local scan of the same bytes
    files its verdict under)."""
    if file.published is None or file.published.algorithm != "sha256":
        return None
    digest = f"sha256:{file.published.hexdigest}"
    return CacheKey.of(file.name, digest, FileIdentity(0, 0, file.size, 0, 0)).content


def scan_remote(model: RemoteModel, options: ScanOptions, cache: ScanCache | None = None) -> list[FileResult]:
    """One result per file, in name order; files the policy ignores are left out, as in a directory."""
    chosen = [f for f in model.files if not ignored_by(f.name, options.policy.ignore_paths)]
    keys = [cache_key(f) if cache is not None else None for f in chosen]
    trusted = [
        key if f.published is not None and f.published.vouched else None for f, key in zip(chosen, keys, strict=True)
    ]
    known = cache.lookup(sorted({k for k in trusted if k is not None})) if cache is not None else {}
    results, fresh = [], []
    for file, key, lookup in zip(chosen, keys, trusted, strict=True):
        hit = known.get(lookup) if lookup is not None else None
        if hit is not None:
            results.append(dataclasses.replace(hit, path=remote_path(model, file), notes=(*hit.notes, CACHED_NOTE)))
            continue
        result = scan_remote_file(model, file, options)
        results.append(result)
        if key is not None and result.bytes_only and file.size <= WHOLE_READ_MAX:
            fresh.append((key, result))
    if cache is not None:
        cache.store(fresh)
    return results
