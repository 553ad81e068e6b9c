"""The driver of `modelseal registry scan|sign|check`.

Per model, what stays here is cheap and serial: listing its files, merging digests into its manifest, looking up
and storing scan-cache verdicts, signing (the key, token or Sigstore identity never leaves the driver) and writing
one result line. What costs bytes runs as tasks on the engine: hashing batches of byte ranges (shards spread one
big file over the cluster) and scanning batches of files, small models sharing a task. A model passes only when
every one of its tasks succeeded and its scan is clean; a failed task makes it inconclusive, never passed.

Results stream to a JSONL file, one line per model as each batch of models finishes; a rerun skips the models
already there, so a crashed run resumes where it stopped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from modelseal.errors import ModelsealError
from modelseal.hashing.reader import HashTask
from modelseal.layout import default_attestation_path, default_signature_path
from modelseal.oms.manifest import Manifest, Serialization, compute_manifest, plan
from modelseal.oms.options import HashingOptions
from modelseal.registry.engines import Engine, Failed
from modelseal.registry.tasks import RangeSpec, check_model, hash_ranges, scan_files
from modelseal.scanning.findings import FileResult, Severity, Status
from modelseal.scanning.pool import Target, Workers
from modelseal.scanning.records import parse_worker_record
from modelseal.scanning.report import ScanSummary
from modelseal.signing.base import Signer
from modelseal.tree import ModelTree

HASH_BATCH_RANGES = 64
HASH_BATCH_BYTES = 1 << 30
SCAN_BATCH_FILES = 16  # per task; its scanner subprocess is kept between tasks
HASH_SECONDS_PER_GIB = 60.0  # a task's time limit: a minute per GiB (a slow disk reads 20 MB/s), plus start-up
TASK_START_SECONDS = 60.0
_UNDECIDED = ("failed", "inconclusive")


@dataclass(frozen=True)
class RegistryJob:
    """What to do to every model."""

    sign: bool = False
    hashing: HashingOptions = field(default_factory=HashingOptions)  # how to hash (and sign)
    policy: Path | None = None  # scan policy
    workers: Workers = field(default_factory=Workers)  # per-file scan limits (jobs: the engine's parallelism)
    cache: Path | None = None  # scan cache file
    fail_on: Severity = Severity.HIGH


@dataclass(eq=False)  # one object per model: hashed by identity
class _Model:
    path: Path
    tree: ModelTree | None = None
    serialization: Serialization | None = None
    tasks: list[HashTask] = field(default_factory=list)  # in the manifest plan's order
    digests: dict[int, str] = field(default_factory=dict)  # by task index
    manifest: Manifest | None = None
    results: list[FileResult | None] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    signature: Path | None = None
    attestation: Path | None = None


def done_models(results: Path) -> set[str]:
    """Models already recorded in a results file (a torn last line is not a record: that model runs again)."""
    done: set[str] = set()
    if not results.is_file():
        return done
    for line in results.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("model"), str):
            done.add(record["model"])
    return done


Item = tuple["_Model", int]  # a model and the index of one of its ranges (hashing) or files (scanning)


def _batches(items: Sequence[tuple[Item, int]], max_items: int, max_bytes: int) -> Iterator[list[Item]]:
    """Items of any models grouped in order, each group under both bounds (a large item alone): one task per
    group, so small models share a task and its start-up."""
    group: list[Item] = []
    size = 0
    for item, length in items:
        if group and (len(group) >= max_items or size + length > max_bytes):
            yield group
            group, size = [], 0
        group.append(item)
        size += length
    if group:
        yield group


def _fail(group: list[Item], problem: str) -> None:
    for model in dict.fromkeys(model for model, _ in group):
        model.problems.append(problem)


def _hash(models: list[_Model], job: RegistryJob, engine: Engine) -> None:
    """List every model, hash all their ranges as tasks, and build each manifest from the digests."""
    from modelseal.signature import hashing_plan
    from modelseal.tree import enumerate_model

    ranges: list[tuple[Item, int]] = []
    for model in models:
        try:
            tree_options, model.serialization = hashing_plan(model.path, job.hashing, None)
            model.tree = enumerate_model(model.path, tree_options)
        except ModelsealError as exc:
            model.problems.append(f"cannot list the model: {exc.message}")
            continue
        model.tasks = [task for _, task in plan(model.tree, model.serialization)]
        ranges += [((model, i), task.length) for i, task in enumerate(model.tasks)]
    groups = list(_batches(ranges, HASH_BATCH_RANGES, HASH_BATCH_BYTES))
    inputs, timeouts = [], []
    for group in groups:
        tasks = [model.tasks[i] for model, i in group]
        specs: list[RangeSpec] = [(t.file.path, t.start, t.end, t.file.identity) for t in tasks]
        inputs.append((specs, job.hashing.hash_type))
        timeouts.append(TASK_START_SECONDS + HASH_SECONDS_PER_GIB * sum(t.length for t in tasks) / (1 << 30))
    for index, outcome in engine.map(hash_ranges, inputs, timeouts):
        if isinstance(outcome, Failed):
            _fail(groups[index], f"hashing failed: {outcome.reason}")
            continue
        for (model, position), digest in zip(groups[index], outcome, strict=True):
            model.digests[position] = digest
    for model in models:
        if model.tree is None or model.serialization is None or model.problems:
            continue
        digests = _Precomputed([model.digests[i] for i in range(len(model.tasks))])
        model.manifest = compute_manifest(model.tree, model.serialization, digests, compat=job.hashing.compat)


@dataclass(frozen=True)
class _Precomputed:
    """The digests the cluster computed, handed to `compute_manifest` in its own plan's order."""

    digests: list[str]

    def hash_all(self, tasks: Sequence[Any]) -> list[str]:
        assert len(tasks) == len(self.digests)
        return self.digests


def _scan(models: list[_Model], job: RegistryJob, engine: Engine) -> None:
    """Answer what the scan cache knows, scan the rest as tasks, remember the fresh verdicts."""
    from modelseal.attest.attest import manifest_keys
    from modelseal.scanning.cache import CacheKey, answer_from_cache, remember, scan_cache_at
    from modelseal.scanning.engine import symlink_boundary
    from modelseal.scanning.policy import load_policy
    from modelseal.scanning.scanner import ScanOptions

    with scan_cache_at(job.cache, job.policy, ScanOptions(policy=load_policy(job.policy))) as cache:
        keyed: dict[_Model, tuple[list[Target], list[CacheKey | None]]] = {}
        files: list[tuple[Item, int]] = []
        for model in models:
            if model.tree is None or model.manifest is None:
                continue
            boundary = symlink_boundary(model.path)
            targets: list[Target] = [(Path(f.path), boundary) for f in model.tree.files]
            keyed[model] = (targets, manifest_keys(model.manifest, model.tree.files))
            model.results, todo = answer_from_cache(*keyed[model], cache)
            files += [((model, i), 1) for i in todo]
        groups = list(_batches(files, SCAN_BATCH_FILES, SCAN_BATCH_FILES))
        policy = str(job.policy) if job.policy else None
        limits = (job.workers.seconds, job.workers.memory_bytes)
        inputs = [([keyed[model][0][i] for model, i in group], policy, *limits) for group in groups]
        timeouts = [TASK_START_SECONDS + job.workers.seconds * len(group) for group in groups]
        for index, outcome in engine.map(scan_files, inputs, timeouts):
            for model, fresh in _collect(groups[index], outcome).items():
                remember(cache, *keyed[model], fresh)


def _collect(group: list[Item], outcome: Any) -> dict[_Model, dict[int, FileResult]]:
    """A scan task's results into their models; a failed task or an unreadable answer is a problem of each."""
    if isinstance(outcome, Failed):
        _fail(group, f"scanning failed: {outcome.reason}")
        return {}
    try:
        parsed = [parse_worker_record(record, "result") for record in outcome]
        if len(parsed) != len(group):
            raise ValueError(f"{len(parsed)} results for {len(group)} files")
    except (ValueError, AttributeError, TypeError) as exc:  # RecordError is a ValueError
        _fail(group, f"scanning answered with an unreadable result: {exc}")
        return {}
    fresh: dict[_Model, dict[int, FileResult]] = {}
    for (model, position), result in zip(group, parsed, strict=True):
        model.results[position] = result
        fresh.setdefault(model, {})[position] = result
    return fresh


def _changed(model: _Model) -> list[str]:
    """Files whose identity is not the one they were listed (and hashed) under: the verdict and the digest
    would describe different bytes."""
    from modelseal.tree import unchanged

    return [file.name for file in model.tree.files if not unchanged(file.path, file.identity)] if model.tree else []


def _verdict(model: _Model, job: RegistryJob) -> tuple[str, ScanSummary | None]:
    if not model.problems and (changed := _changed(model)):
        model.problems.append(f"changed while it was hashed and scanned: {', '.join(changed[:5])}")
    if model.problems or model.manifest is None or any(r is None for r in model.results):
        return "inconclusive", None
    summary = ScanSummary(tuple(r for r in model.results if r is not None), job.fail_on)
    return summary.verdict, summary


def _sign(model: _Model, signer: Signer, job: RegistryJob, summary: ScanSummary | None) -> None:
    """The model's signature, and, when it was fully scanned, the scan attestation on the same root digest."""
    import dataclasses

    from modelseal import __version__
    from modelseal.attest.attest import now_utc
    from modelseal.attest.predicate import ScanAttestation, build_scan_statement
    from modelseal.oms.bundle import write_atomically
    from modelseal.oms.statement import build_statement
    from modelseal.scanning.policy import policy_digest

    assert model.manifest is not None and model.tree is not None
    model.signature = default_signature_path(model.path)
    write_atomically(model.signature, signer.sign(build_statement(model.manifest)).to_json())
    if summary is None:
        return
    named = tuple(
        dataclasses.replace(result, path=file.name)
        for result, file in zip(summary.results, model.tree.files, strict=True)
    )
    statement = ScanAttestation(model.manifest, __version__, policy_digest(job.policy), now_utc(), named)
    model.attestation = default_attestation_path(model.path)
    write_atomically(model.attestation, signer.sign(build_scan_statement(statement)).to_json())


def _record(model: _Model, verdict: str, summary: ScanSummary | None) -> dict[str, Any]:
    results = summary.results if summary is not None else ()
    return {
        "model": str(model.path),
        "verdict": verdict,
        "root_digest": model.manifest.root_digest() if model.manifest is not None else None,
        "files": len(model.tree.files) if model.tree is not None else None,
        "findings": sum(len(r.findings) for r in results),
        "failing": len(summary.failing) if summary is not None else None,
        "incomplete": sum(1 for r in results if r.status is Status.INCOMPLETE),
        "signature": str(model.signature) if model.signature else None,
        "attestation": str(model.attestation) if model.attestation else None,
        "problems": model.problems,
    }


@dataclass
class RegistryOutcome:
    """What a run did: one record per model processed now (earlier runs' are in the results file)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    results: list[FileResult] = field(default_factory=list)  # every file's result, for the SARIF report
    skipped: int = 0  # models already in the results file

    def count(self, verdict: str) -> int:
        return sum(1 for record in self.records if record["verdict"] == verdict)


def _open_results(results: Path) -> IO[str]:
    """The results file for appending, after a newline if a crash left its last line torn."""
    handle = open(results, "a+", encoding="utf-8")  # noqa: SIM115 - closed by the caller's with
    if handle.tell() > 0:
        handle.seek(handle.tell() - 1)
        if handle.read(1) != "\n":
            handle.write("\n")
    return handle


def _append(handle: IO[str], record: dict[str, Any]) -> None:
    handle.write(json.dumps(record, sort_keys=True) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def run_registry(
    models: Sequence[Path],
    job: RegistryJob,
    engine: Engine,
    results: Path,
    signer: Callable[[], Signer] | None = None,
    batch: int = 256,
) -> RegistryOutcome:
    """Scan (and sign) `models` in batches of `batch` models, appending one line per model to `results`."""
    done = done_models(results)
    todo = [path for path in models if str(path) not in done]
    outcome = RegistryOutcome(skipped=len(models) - len(todo))
    chosen_signer = signer() if signer is not None and job.sign else None
    with _open_results(results) as handle:
        for start in range(0, len(todo), batch):
            group = [_Model(path) for path in todo[start : start + batch]]
            _hash(group, job, engine)
            _scan(group, job, engine)
            for model in group:
                verdict, summary = _verdict(model, job)
                if chosen_signer is not None and model.manifest is not None and not model.problems:
                    _sign(model, chosen_signer, job, summary if verdict != "inconclusive" else None)
                record = _record(model, verdict, summary)
                _append(handle, record)
                outcome.records.append(record)
                if summary is not None:
                    outcome.results.extend(summary.results)
    return outcome


def check_registry(
    models: Sequence[Path], policy: Path, workers: Workers, engine: Engine, results: Path
) -> RegistryOutcome:
    """`modelseal check` of every model, one task each, appending one line per model to `results`."""
    done = done_models(results)
    todo = [path for path in models if str(path) not in done]
    outcome = RegistryOutcome(skipped=len(models) - len(todo))
    inputs = [(str(path), str(policy), workers.seconds, workers.memory_bytes) for path in todo]
    timeouts = [TASK_START_SECONDS * 5 + workers.seconds * 10 for _ in todo]
    with _open_results(results) as handle:
        for index, report in engine.map(check_model, inputs, timeouts):
            record: dict[str, Any]
            if isinstance(report, Failed):
                record = {"model": str(todo[index]), "verdict": "inconclusive", "problems": [report.reason]}
            else:
                record = {
                    "model": str(todo[index]),
                    "verdict": report["verdict"],
                    "root_digest": (report.get("root_digest") or {}).get("sha256"),
                    "steps": {step["name"]: step["outcome"] for step in report["steps"]},
                    "problems": [
                        f"{s['name']}: {s['summary']}"
                        for s in report["steps"]
                        if s["outcome"] in ("failed", "inconclusive")
                    ],
                }
            _append(handle, record)
            outcome.records.append(record)
    return outcome
