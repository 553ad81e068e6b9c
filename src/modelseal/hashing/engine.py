"""Schedule hash tasks over every core.

Largest tasks go first so one huge file does not start last; small files are grouped into batches so the
per-task overhead is paid once per batch, not once per file (datasets have millions of them).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait

from modelseal.hashing.reader import PIPELINE_THRESHOLD, HashTask, ProgressCallback, hash_range

BATCH_FILES = 256
BATCH_BYTES = 32 << 20


def default_workers() -> int:
    """One worker per usable core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _batches(tasks: Sequence[HashTask]) -> list[list[int]]:
    """Indices of `tasks`, grouped: each large task alone, small ones together, largest work first."""
    order = sorted(range(len(tasks)), key=lambda i: tasks[i].length, reverse=True)
    groups: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    for index in order:
        length = tasks[index].length
        if length >= PIPELINE_THRESHOLD:
            groups.append([index])
            continue
        current.append(index)
        current_bytes += length
        if len(current) >= BATCH_FILES or current_bytes >= BATCH_BYTES:
            groups.append(current)
            current, current_bytes = [], 0
    if current:
        groups.append(current)
    return groups


def hash_tasks(
    tasks: Sequence[HashTask],
    hash_type: str,
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> list[str]:
    """Digests of `tasks`, in the same order. The first failure cancels the rest and is raised."""
    digests = [""] * len(tasks)

    def run(group: list[int]) -> None:
        for index in group:
            digests[index] = hash_range(tasks[index], hash_type, progress)

    groups = _batches(tasks)
    count = min(workers or default_workers(), max(1, len(groups)))
    if count == 1:
        for group in groups:
            run(group)
        return digests
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="modelseal-hash") as pool:
        futures: list[Future[None]] = [pool.submit(run, group) for group in groups]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f in done and f.exception() is not None), None)
        if failed is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            failed.result()
    return digests
