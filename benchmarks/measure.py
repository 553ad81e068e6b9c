"""Shared by the benchmark scripts: run a command, time it, and measure its process tree's peak memory."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float
    returncode: int = 0
    output: str = ""


def _descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        try:  # a process may end while it is walked (Ray starts and reaps many)
            for task in Path(f"/proc/{current}/task").glob("*/children"):
                stack += [int(child) for child in task.read_text().split()]
        except OSError:
            continue
    return found


def _high_water_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def timed(command: list[str], *, check: bool = True, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Wall time, and peak memory: the most, over polls, of the process tree's live processes' high-water RSS
    summed (processes that have ended no longer count: a pool of short-lived workers is not summed over time).

    (rusage's maxrss is no good here: a child forked from this big process inherits its high-water mark.)"""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=cwd
    )
    peak_kb = 0
    chunks: list[bytes] = []
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    while process.poll() is None:
        peak_kb = max(peak_kb, sum(_high_water_kb(pid) for pid in _descendants(process.pid)))
        chunks.append(process.stdout.read() or b"")
        time.sleep(0.005)
    seconds = time.perf_counter() - start
    chunks.append(process.stdout.read() or b"")
    output = b"".join(chunks).decode("utf-8", "replace")
    if check and process.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(command)}\n{output[-3000:]}")
    return Run(seconds, peak_kb / 1024, process.returncode, output)
