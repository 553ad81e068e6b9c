"""The work a registry command hands out: pure functions of paths and bytes, so a retry is always safe. Each
worker reads its own files (paths travel, bytes do not), and returns plain data, never objects."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelseal.tree import FileIdentity

RangeSpec = tuple[str, int, int, "FileIdentity"]  # path, start, end, identity at listing


def hash_ranges(batch: list[RangeSpec], hash_type: str) -> list[str]:
    """Digests of byte ranges; a file that changed since it was listed raises (the model is inconclusive)."""
    from modelseal.hashing.reader import HashTask, hash_range
    from modelseal.tree import ModelFile

    return [
        hash_range(HashTask(ModelFile(path, path, identity), start, end), hash_type)
        for path, start, end, identity in batch
    ]


def scan_files(
    targets: list[tuple[Path, Path | None]], policy: str | None, seconds: float, memory_bytes: int
) -> list[dict[str, Any]]:
    """Scan records of files (with the directory their links must stay in), each in a scanner subprocess under
    the per-file limits: this worker never parses a scanned byte itself. The subprocess is kept for this
    process's next task (a Ray worker or an engine thread runs many)."""
    from modelseal.scanning.policy import load_policy
    from modelseal.scanning.pool import Workers, scan_in_workers
    from modelseal.scanning.records import worker_record
    from modelseal.scanning.scanner import ScanOptions

    options = ScanOptions(policy=load_policy(Path(policy) if policy else None))
    results = scan_in_workers(targets, options, Workers(1, seconds, memory_bytes), reuse=True)
    return [worker_record(result) for result in results]


def check_model(model: str, policy: str, seconds: float, memory_bytes: int) -> dict[str, Any]:
    """`modelseal check` of one model, as its JSON report."""
    from modelseal.attest.check import check
    from modelseal.reporting.json import check_document
    from modelseal.scanning.pool import Workers

    return check_document(check(Path(model), Path(policy), scan_workers=Workers(2, seconds, memory_bytes)))
