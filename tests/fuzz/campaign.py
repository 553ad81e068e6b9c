"""A mutational fuzzing campaign against the scanner (`scripts/fuzz SECONDS`).

Each input is scanned in a worker process (so a hang is a timeout and a blow-up is a measured RSS, not a dead
campaign) and, when the scanner would pass it, read by the reference loaders (tests/fuzz/reference.py). It prints

    N inputs, C crashes, H hangs, M over-memory, P passed-but-loadable, E executed

and exits 1 when any count but N is non-zero, saving each such input under --save for a regression test.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HANG_SECONDS = 90.0  # beyond the scan budget (20 s here) plus a killed HDF5 reader
MEMORY_LIMIT = 1 << 30  # bytes of peak RSS while scanning one input
REFERENCE_MEMORY = 6 << 30


def _peak_rss() -> int:
    """This process's peak resident memory since it started its program. Not `ru_maxrss`: Linux carries that over
    exec from the fork, so a worker spawned by a large test process (torch, catboost, ... loaded) would start
    "over memory" before scanning anything. VmHWM belongs to the current program's memory map."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _worker(connection: Connection, directory: str) -> None:
    from modelseal.scanning.budget import Limits
    from modelseal.scanning.findings import Severity, Status
    from modelseal.scanning.pickle.names import canonical
    from modelseal.scanning.policy import DEFAULT_POLICY, Verdict
    from modelseal.scanning.scanner import ScanOptions, scan_file
    from tests.fuzz.reference import called_names

    options = ScanOptions(limits=Limits(max_seconds=20))
    sample = Path(directory, "input")
    # the reference is CPython's own unpickler, which allocates whatever memo index a hostile pickle names
    resource.setrlimit(resource.RLIMIT_AS, (REFERENCE_MEMORY, REFERENCE_MEMORY))
    while True:
        data = connection.recv()
        if data is None:
            return
        sample.write_bytes(data)
        result = scan_file(sample, options)
        passed = result.status in (Status.SCANNED, Status.UNSUPPORTED) and (
            result.worst is None or result.worst < Severity.HIGH
        )
        scan_peak = _peak_rss()
        loadable: list[str] = []
        try:
            names = called_names(data) if passed else []
        except MemoryError:
            names = []
        if passed:
            for name in names:
                module, _, attribute = name.rpartition(".")
                full = ".".join(canonical(module, attribute, 2))
                if DEFAULT_POLICY.verdict(full) is not Verdict.ALLOWED:
                    loadable.append(name)
        peak = _peak_rss()
        connection.send((result.format, result.status.value, loadable, scan_peak, list(result.notes)[:2], peak))


class _Scanner:
    """A worker process fed one input at a time; restarted after a hang or once its peak RSS is spent."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.context = multiprocessing.get_context("spawn")
        self._start()

    def _start(self) -> None:
        self.connection, child = self.context.Pipe()
        self.process = self.context.Process(target=_worker, args=(child, self.directory), daemon=True)
        self.process.start()

    def restart(self) -> None:
        self.process.kill()
        self.process.join()
        self._start()

    def scan(self, data: bytes) -> Any:
        self.connection.send(data)
        if not self.connection.poll(HANG_SECONDS):
            self.restart()
            return None
        try:
            return self.connection.recv()
        except (EOFError, OSError, SystemError):  # the worker died (a crash of the interpreter or a C library)
            self.restart()
            return "died"

    def close(self) -> None:
        self.connection.send(None)
        self.process.join(10)


def run(seconds: float, seed: int, save: Path | None) -> Counter[str]:
    from tests.fuzz.mutate import mutate
    from tests.fuzz.seeds import build_seeds

    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="modelseal-fuzz-") as directory:
        canary = Path(directory, "canary")
        corpus = list(build_seeds(str(canary)).values())
        scanner = _Scanner(directory)
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                data = mutate(rng.choice(corpus), corpus, rng)
                counts["inputs"] += 1
                outcome = scanner.scan(data)
                kind = _classify(outcome)
                if kind:
                    counts[kind] += 1
                    _keep(save, kind, counts[kind], data, outcome)
                if kind == "over-memory" or (outcome not in (None, "died") and outcome[5] > MEMORY_LIMIT // 2):
                    scanner.restart()  # peak RSS only grows: start fresh before it blurs the next measurement
        finally:
            scanner.close()
        counts["executed"] += int(canary.exists())
    return counts


def _classify(outcome: Any) -> str | None:
    if outcome is None:
        return "hangs"
    if outcome == "died" or outcome[0] == "error":
        return "crashes"
    if outcome[3] > MEMORY_LIMIT:
        return "over-memory"
    if outcome[2]:
        return "passed-but-loadable"
    return None


def _keep(save: Path | None, kind: str, number: int, data: bytes, outcome: Any) -> None:
    if save is None:
        return
    save.mkdir(parents=True, exist_ok=True)
    (save / f"{kind}-{number}.bin").write_bytes(data)
    (save / f"{kind}-{number}.txt").write_text(repr(outcome) + "\n")


def summary(counts: Counter[str]) -> str:
    return (
        f"{counts['inputs']} inputs, {counts['crashes']} crashes, {counts['hangs']} hangs, "
        f"{counts['over-memory']} over-memory, {counts['passed-but-loadable']} passed-but-loadable, "
        f"{counts['executed']} executed"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("seconds", type=float, help="how long to run")
    parser.add_argument("--seed", type=int, default=0, help="random seed (fixed in CI: the same inputs every run)")
    parser.add_argument("--save", type=Path, default=Path("fuzz-findings"), help="where failing inputs are kept")
    args = parser.parse_args(argv)
    counts = run(args.seconds, args.seed, args.save)
    print(summary(counts))
    return 1 if any(v for k, v in counts.items() if k != "inputs") else 0


if __name__ == "__main__":
    sys.exit(main())
