"""Scan files in worker processes: biggest first, one file per worker at a time, each within hard limits.

The scanner's own budget (`budget.Limits`) bounds well-behaved work; the pool bounds everything else. A worker
runs under a memory limit (RLIMIT_DATA), and one that takes longer than the time limit on a file is killed. A
file whose worker died, was killed or answered nonsense is INCOMPLETE with the reason, never clean, and the pool
starts a fresh worker for the rest. Results come back in the order the files were given, so a parallel report is
the serial one.

Workers are plain `python -c` children, like the hashing helpers: they never fork a threaded process or re-import
the caller's `__main__`. Requests are the parent's own pickles; replies are JSON lines, because a worker reads
hostile bytes and what it says is not trusted further than a scan result.
"""

from __future__ import annotations

import atexit
import json
import os
import pickle
import resource
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from modelseal import frames
from modelseal.scanning.context import ScanOptions
from modelseal.scanning.findings import FileResult, Status
from modelseal.scanning.records import RecordError, parse_worker_record, worker_record

Target = tuple[Path, Path | None]  # an entry to scan and the directory its symlinks must stay in
_ENTRY = "import sys; from modelseal.scanning.pool import serve; serve(int(sys.argv[1]))"
MAX_REPLY_BYTES = 64 << 20  # one file's result; a worker saying more is not believed
READY = b"ready\n"  # a worker's first line: the clock of its first file starts after its start-up
START_SECONDS = 60.0  # a worker not ready by then is stopped
MAX_FAILED_STARTS = 3  # workers that died before they were ready, in a row: the rest cannot be scanned


@dataclass(frozen=True)
class Workers:
    """How many worker processes scan, and the hard bounds on one file's scan in each, beyond the scanner's own
    budget. `jobs=1` scans in the calling process, under the budget alone."""

    jobs: int = 1
    seconds: float = 300.0  # the budget stops at 120 s; this catches what does not return to it
    memory_bytes: int = 4 << 30  # heap and anonymous mappings of the worker


SERIAL = Workers()
# Idle ready workers kept between calls that ask for it (registry tasks: many small batches in one process), by
# the options and memory limit they were started with.
_SPARE: dict[bytes, list[_Worker]] = {}
_SPARE_LOCK = threading.Lock()


@atexit.register
def _stop_spares() -> None:
    with _SPARE_LOCK:
        for idle in _SPARE.values():
            for worker in idle:
                worker.stop()
        _SPARE.clear()


def serve(memory_bytes: int) -> None:
    """The worker: options first, then one (index, path, boundary) request at a time, one JSON line each."""
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    from modelseal.scanning.engine import scan_target

    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    options = frames.receive(requests)
    assert isinstance(options, ScanOptions)
    replies.write(READY)
    replies.flush()
    while True:
        try:
            request = frames.receive(requests)
        except EOFError:
            return
        assert isinstance(request, tuple)
        index, path, boundary = request
        result = scan_target(path, boundary, options)
        reply = {"index": index, "result": worker_record(result)}
        replies.write(json.dumps(reply).encode() + b"\n")
        replies.flush()


def _incomplete(path: Path, reason: str) -> FileResult:
    return FileResult(str(path), "unknown", Status.INCOMPLETE, notes=(f"{reason}: the file was not fully scanned",))


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    task: int | None = None
    ready: bool = False
    started: float = field(default_factory=time.monotonic)  # of the worker until ready, then of its file
    pending: bytearray = field(default_factory=bytearray)

    @classmethod
    def start(cls, options: ScanOptions, workers: Workers) -> _Worker:
        process = subprocess.Popen(
            [sys.executable, "-c", _ENTRY, str(workers.memory_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert process.stdin is not None and process.stdout is not None
        os.set_blocking(process.stdout.fileno(), False)
        try:
            frames.send(process.stdin, options)
        except OSError:
            process.kill()
            process.wait()
            raise
        return cls(process)

    def assign(self, index: int, target: Target) -> None:
        assert self.process.stdin is not None
        self.task, self.started = index, time.monotonic()
        frames.send(self.process.stdin, (index, *target))

    def stop(self) -> None:
        frames.stop(self.process)

    def end(self) -> str:
        """Reap a worker whose output ended: why it ended."""
        self.stop()
        code = self.process.returncode
        if code < 0:
            return f"the scanner process was killed by signal {-code}"
        return f"the scanner process exited with status {code}"

    def kill(self) -> None:
        self.process.kill()
        self.stop()


class _Pool:
    def __init__(
        self,
        targets: Sequence[Target],
        options: ScanOptions,
        workers: Workers,
        on_result: Callable[[int, FileResult], None] | None,
        reuse: bool,
    ) -> None:
        self.targets, self.options, self.settings, self.on_result = targets, options, workers, on_result
        self.spare_key = pickle.dumps((options, workers.memory_bytes)) if reuse else None
        self.results: list[FileResult | None] = [None] * len(targets)
        self.queue = sorted(range(len(targets)), key=lambda i: _size(targets[i][0]))  # popped from the end
        self.selector = selectors.DefaultSelector()
        self.running: list[_Worker] = []
        self.remaining = len(targets)
        self.failed_starts = 0
        for _ in range(min(workers.jobs, len(targets))):
            self._add_worker()

    def _add_worker(self) -> None:
        worker = self._spare()
        if worker is None:
            try:
                worker = _Worker.start(self.options, self.settings)
            except OSError:  # it could not start, or died before reading its options
                self.failed_starts += 1
                return
        assert worker.process.stdout is not None
        self.selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
        self.running.append(worker)
        if worker.ready:
            self._feed(worker)

    def _spare(self) -> _Worker | None:
        if self.spare_key is None:
            return None
        with _SPARE_LOCK:
            idle = _SPARE.get(self.spare_key, [])
            return idle.pop() if idle else None

    def _keep_or_stop(self, worker: _Worker) -> None:
        """After the run: an idle ready worker waits for the next call that reuses workers; others stop."""
        if self.spare_key is not None and worker.ready and worker.task is None and worker.process.poll() is None:
            with _SPARE_LOCK:
                _SPARE.setdefault(self.spare_key, []).append(worker)
        else:
            worker.stop()

    def _feed(self, worker: _Worker) -> None:
        if self.queue:
            index = self.queue.pop()
            try:
                worker.assign(index, self.targets[index])
            except OSError:  # it died before reading the request: the file waits for another worker
                worker.task, worker.ready = None, False
                self.queue.append(index)
                self._retire(worker, "the scanner process stopped reading")
        elif self.spare_key is None and worker.process.stdin is not None:
            worker.process.stdin.close()  # nothing left for it: it exits at the end of its input

    def _retire(self, worker: _Worker, reason: str | None) -> None:
        """Drop a worker (killed when `reason` says why; reaped when its output ended); its file, if any, is
        INCOMPLETE, and a fresh worker takes its place while files remain."""
        assert worker.process.stdout is not None
        self.selector.unregister(worker.process.stdout)
        self.running.remove(worker)
        if reason is None:
            reason = worker.end()
        else:
            worker.kill()
        if worker.task is not None:
            self._finish(worker.task, _incomplete(self.targets[worker.task][0], reason))
        elif not worker.ready:
            self.failed_starts += 1
        if self.queue and self.failed_starts < MAX_FAILED_STARTS:
            self._add_worker()

    def _finish(self, index: int, result: FileResult) -> None:
        self.results[index] = result
        self.remaining -= 1
        if self.on_result is not None:
            self.on_result(index, result)

    def _read(self, worker: _Worker) -> None:
        assert worker.process.stdout is not None
        try:
            chunk = os.read(worker.process.stdout.fileno(), 1 << 20)
        except BlockingIOError:
            return
        if not chunk:
            self._retire(worker, None)
            return
        worker.pending += chunk
        while worker in self.running and b"\n" in worker.pending:
            line, _, rest = bytes(worker.pending).partition(b"\n")
            worker.pending = bytearray(rest)
            if not worker.ready and line + b"\n" == READY:
                worker.ready, self.failed_starts = True, 0
                self._feed(worker)
            elif worker.task is None:
                self._retire(worker, "the scanner process spoke out of turn")
            else:
                self._reply(worker, worker.task, line)
        if worker in self.running and len(worker.pending) > MAX_REPLY_BYTES:
            self._retire(worker, "the scanner process answered with an oversized result")

    def _reply(self, worker: _Worker, index: int, line: bytes) -> None:
        try:
            reply = json.loads(line)
            if not isinstance(reply, dict) or reply.get("index") != index:
                raise RecordError("the reply is for another file")
            result = parse_worker_record(reply.get("result"), "result")
        except (ValueError, RecordError) as exc:
            self._retire(worker, f"the scanner process answered with an unreadable result ({exc})")
            return
        worker.task = None
        self._finish(index, result)
        self._feed(worker)

    def _deadline(self, worker: _Worker) -> float:
        if worker.ready and worker.task is None:
            return float("inf")  # idle, kept for a later call
        return worker.started + (self.settings.seconds if worker.ready else START_SECONDS)

    def _stop_late(self) -> None:
        now = time.monotonic()
        for worker in [w for w in self.running if now > self._deadline(w)]:
            if worker.ready:
                self._retire(worker, f"scanning took longer than {self.settings.seconds:g} s; the worker was stopped")
            else:
                self._retire(worker, f"a scanner process was not ready within {START_SECONDS:g} s")

    def run(self) -> list[FileResult]:
        try:
            while self.remaining:
                self._stop_late()
                if not self.running:  # no worker could be started: what is left is not scanned
                    for index in self.queue:
                        self._finish(index, _incomplete(self.targets[index][0], "no scanner process could start"))
                    break
                timeout = min(1.0, max(0.0, min(self._deadline(w) for w in self.running) - time.monotonic()))
                for key, _ in self.selector.select(timeout):
                    if key.data in self.running:
                        self._read(key.data)
        finally:
            self.selector.close()
            for worker in self.running:
                self._keep_or_stop(worker)
        return [result for result in self.results if result is not None]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def scan_in_workers(
    targets: Sequence[Target],
    options: ScanOptions,
    workers: Workers,
    on_result: Callable[[int, FileResult], None] | None = None,
    reuse: bool = False,
) -> list[FileResult]:
    """One result per target, in the targets' order, scanned by up to `workers.jobs` worker processes. With
    `reuse`, idle workers are kept for the next call in this process (they exit when it does)."""
    if not targets:
        return []
    return _Pool(targets, options, workers, on_result, reuse).run()


def scan_targets(
    targets: Sequence[Target],
    options: ScanOptions,
    workers: Workers = SERIAL,
    on_result: Callable[[int, FileResult], None] | None = None,
) -> list[FileResult]:
    """One result per target, in order: in this process when `workers.jobs` is 1 or there is a single file
    (the scanner's own budget bounds it), else in worker processes under the workers' limits."""
    if workers.jobs > 1 and len(targets) > 1:
        return scan_in_workers(targets, options, workers, on_result)
    from modelseal.scanning.engine import scan_target

    results = []
    for index, (path, boundary) in enumerate(targets):
        results.append(scan_target(path, boundary, options))
        if on_result is not None:
            on_result(index, results[-1])
    return results
