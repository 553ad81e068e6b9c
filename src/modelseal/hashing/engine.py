"""Schedule hash tasks over every core.

- Large ranges each get a thread (up to `MAX_LARGE_STREAMS` at once, more than the cores): one SHA-256 stream
  cannot be split, so three equal files on two cores finish soonest when all three share the cores, not when
  two run and the third waits. Largest first.
- Small files can be handed over while the model is still being listed (`HashPool.prefetch`). Once there are
  many, helper processes hash them in batches (the GIL makes per-file Python work serial in threads), so
  listing a dataset and hashing it overlap.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from types import TracebackType
from typing import TYPE_CHECKING

from modelseal.hashing.reader import PIPELINE_THRESHOLD, HashTask, ProgressCallback, hash_range
from modelseal.hashing.worker import HelperProcess

if TYPE_CHECKING:
    from modelseal.hashing.cache import DigestCache

BATCH_FILES = 512
MAX_LARGE_STREAMS = 16
HELPERS_AFTER_FILES = 4096


def default_workers() -> int:
    """One worker per usable core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def hash_tasks(
    tasks: Sequence[HashTask],
    hash_type: str,
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> list[str]:
    """Digests of `tasks`, in the same order, using threads. The first failure stops the rest and is raised."""
    digests = [""] * len(tasks)
    order = sorted(range(len(tasks)), key=lambda i: tasks[i].end - tasks[i].start, reverse=True)
    groups: list[list[int]] = []
    for index in order:
        if not groups or tasks[index].end - tasks[index].start >= PIPELINE_THRESHOLD or len(groups[-1]) >= BATCH_FILES:
            groups.append([index])
        else:
            groups[-1].append(index)

    def run(group: list[int]) -> None:
        for index in group:
            digests[index] = hash_range(tasks[index], hash_type, progress)

    cores = workers or default_workers()
    large = sum(1 for i in order if tasks[i].end - tasks[i].start >= PIPELINE_THRESHOLD)
    threads = min(max(cores, min(large, MAX_LARGE_STREAMS)), len(groups))
    if threads <= 1:
        for group in groups:
            run(group)
        return digests
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="modelseal-hash") as pool:
        futures: list[Future[None]] = [pool.submit(run, group) for group in groups]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f in done and f.exception() is not None), None)
        if failed is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            failed.result()
    return digests


class HashPool:
    """The hashing resources of one sign or verify: prefetches small files, then hashes whatever is left."""

    def __init__(
        self,
        hash_type: str,
        *,
        workers: int | None = None,
        progress: ProgressCallback | None = None,
        cache: DigestCache | None = None,
    ) -> None:
        self.hash_type = hash_type
        self.cache = cache
        self._cached: set[tuple[str, int]] = set()  # results that came from the cache, not from reading
        self.workers = workers or default_workers()
        self.progress = progress
        self._backlog: list[HashTask] = []
        self._batches: queue.SimpleQueue[list[HashTask] | None] = queue.SimpleQueue()
        self._drivers: list[threading.Thread] = []
        self._results: dict[tuple[str, int], str] = {}  # (name, start): cheap to hash, unique per task
        self._errors: list[BaseException] = []
        self._stop = threading.Event()

    def prefetch(self, task: HashTask) -> None:
        """Offer a small task while listing; it may be hashed now, by a helper process.

        One core keeps listing, the others run helpers; when listing ends, the caller's thread joins in."""
        if self.workers < 2 or self._stop.is_set() or self._from_cache(task):
            return
        self._backlog.append(task)
        if not self._drivers and len(self._backlog) >= HELPERS_AFTER_FILES:
            self._drivers = [threading.Thread(target=self._drive, daemon=True) for _ in range(self.workers - 1)]
            for driver in self._drivers:
                driver.start()
        if self._drivers and len(self._backlog) >= BATCH_FILES:
            self._enqueue()

    def _from_cache(self, task: HashTask) -> bool:
        digest = self.cache.lookup(task) if self.cache is not None else None
        if digest is None:
            return False
        key = (task.file.name, task.start)
        self._results[key] = digest
        self._cached.add(key)
        if self.progress is not None:
            self.progress(task.end - task.start)
        return True

    def _enqueue(self) -> None:
        for start in range(0, len(self._backlog), BATCH_FILES):
            self._batches.put(self._backlog[start : start + BATCH_FILES])
        self._backlog = []

    def _store(self, batch: list[HashTask], digests: list[str]) -> None:
        for task, digest in zip(batch, digests, strict=True):
            self._results[(task.file.name, task.start)] = digest
        if self.progress is not None:
            self.progress(sum(t.end - t.start for t in batch))

    def _drive(self) -> None:
        """Feed one helper process until the queue closes or anything fails."""
        try:
            helper = HelperProcess()
        except OSError as exc:
            self._errors.append(exc)
            return
        try:
            while not self._stop.is_set():
                batch = self._batches.get()
                if batch is None:
                    return
                self._store(batch, helper.hash_batch(self.hash_type, batch))
        except BaseException as exc:  # noqa: BLE001 - re-raised by `hash_all` in the caller's thread
            self._errors.append(exc)
            self._stop.set()
        finally:
            helper.close()

    def _drain(self) -> None:
        """Finish the prefetched work, this thread helping, then stop the helpers."""
        try:
            if self._drivers and not self._stop.is_set():
                self._enqueue()
                self._help()
        except BaseException:
            self._stop.set()
            raise
        finally:
            self._backlog = []
            self._finish_drivers()

    def _help(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._batches.get_nowait()
            except queue.Empty:
                return
            if batch is None:
                return
            self._store(batch, [hash_range(task, self.hash_type) for task in batch])

    def _finish_drivers(self) -> None:
        for _ in self._drivers:
            self._batches.put(None)
        for driver in self._drivers:
            driver.join()
        self._drivers = []

    def hash_all(self, tasks: Sequence[HashTask]) -> list[str]:
        """Digests of `tasks` in order: prefetched ones are reused, the rest hashed now."""
        self._drain()
        if self._errors:
            raise self._errors[0]
        announce = getattr(self.progress, "set_total", None)  # a display that shows a total and an ETA
        if announce is not None:
            announce(sum(t.end - t.start for t in tasks))
        results = self._results
        missing = [t for t in tasks if (t.file.name, t.start) not in results and not self._from_cache(t)]
        fresh = hash_tasks(missing, self.hash_type, workers=self.workers, progress=self.progress)
        results.update(((t.file.name, t.start), digest) for t, digest in zip(missing, fresh, strict=True))
        digests = [results[(t.file.name, t.start)] for t in tasks]
        self._results = {}  # a dataset's digests are big: the caller holds them now
        if self.cache is not None:
            cached = self._cached
            self.cache.store(
                (t, d) for t, d in zip(tasks, digests, strict=True) if (t.file.name, t.start) not in cached
            )
        return digests

    def __enter__(self) -> HashPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._drain()
        self._results = {}  # a dataset's digests are big: let them go with the pool
