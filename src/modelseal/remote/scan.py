"""Scan a remote model: every file through the same engine as a local one (`scanning.engine.judge`), its bytes
from `open_remote_file`: small files fetched whole and checked against their published digest, large ones read
in ranges only where a format looks (a safetensors header, a zip's central directory and the pickles in it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, cast

from modelseal.remote.objects import RemoteFile, RemoteModel, open_remote_file
from modelseal.scanning.context import ScanContext, ScanOptions
from modelseal.scanning.engine import ignored_by, judge
from modelseal.scanning.findings import FileResult


def remote_path(model: RemoteModel, file: RemoteFile) -> str:
    """How a remote file is named in reports: the model's location, then its name inside the model."""
    return model.location if model.single_file else f"{model.location}/{file.name}"


def scan_remote_file(model: RemoteModel, file: RemoteFile, options: ScanOptions) -> FileResult:
    def read(ctx: ScanContext) -> str:
        with open_remote_file(file) as stream:
            return ctx.scan(cast(IO[bytes], stream), file.size, "", 0)

    return judge(ScanContext(Path(file.name), options, local=False), remote_path(model, file), read)


def scan_remote(
    model: RemoteModel, options: ScanOptions, on_file: Callable[[RemoteFile], None] | None = None
) -> list[FileResult]:
    """One result per file, in name order; files the policy ignores are left out, as in a directory."""
    results = []
    for file in model.files:
        if ignored_by(file.name, options.policy.ignore_paths):
            continue
        results.append(scan_remote_file(model, file, options))
        if on_file is not None:
            on_file(file)
    return results
