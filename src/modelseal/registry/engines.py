"""Where registry tasks run: threads of this process (`local`; the scanning inside each task already runs in
subprocesses under per-file limits), or a Ray cluster (`ray`), where a task whose worker dies is retried, a task
that fails `ATTEMPTS` times or runs past its time limit is reported failed, and the rest go on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Protocol

from modelseal.errors import InputError

ATTEMPTS = 3  # a task whose worker dies is run again twice; one that dies a third time fails its model


@dataclass(frozen=True)
class Failed:
    """A task that produced no result, and why; its model is inconclusive."""

    reason: str


class Engine(Protocol):
    def map(
        self, function: Callable[..., Any], inputs: Sequence[tuple[Any, ...]], timeouts: Sequence[float]
    ) -> Iterator[tuple[int, Any]]:
        """(index, result or `Failed`) for every input, in completion order."""
        ...

    def close(self) -> None: ...


class LocalEngine:
    def __init__(self, jobs: int) -> None:
        self.jobs = jobs

    def map(
        self, function: Callable[..., Any], inputs: Sequence[tuple[Any, ...]], timeouts: Sequence[float]
    ) -> Iterator[tuple[int, Any]]:
        with ThreadPoolExecutor(self.jobs) as executor:
            futures = {executor.submit(function, *arguments): index for index, arguments in enumerate(inputs)}
            for future in as_completed(futures):
                try:
                    yield futures[future], future.result()
                except Exception as exc:  # noqa: BLE001 - a task's failure is its model's, not the run's
                    yield futures[future], Failed(f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        pass


class RayEngine:
    """Tasks on Ray: an existing cluster (`address`: `auto` or `ray://host:port`) or a local one started here
    with `jobs` CPUs and stopped afterwards. At most one task per CPU is in flight, so a task's clock starts
    close to when it starts running."""

    def __init__(self, address: str | None, jobs: int) -> None:
        try:
            import ray
        except ImportError as exc:
            raise InputError(
                "the ray engine needs Ray", details=("pip install 'modelseal[ray]'", "or use --engine local")
            ) from exc
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            if address is None:
                ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False, configure_logging=False)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
        self.slots = max(1, int(ray.cluster_resources().get("CPU", jobs)))  # type: ignore[no-untyped-call]

    def map(
        self, function: Callable[..., Any], inputs: Sequence[tuple[Any, ...]], timeouts: Sequence[float]
    ) -> Iterator[tuple[int, Any]]:
        ray = self.ray
        remote = ray.remote(max_retries=ATTEMPTS - 1, retry_exceptions=False)(function)
        waiting = list(range(len(inputs)))[::-1]
        running: dict[Any, tuple[int, float]] = {}  # ref -> (index, deadline)
        while waiting or running:
            while waiting and len(running) < self.slots:
                index = waiting.pop()
                running[remote.remote(*inputs[index])] = (index, time.monotonic() + timeouts[index])
            deadline = min(d for _, d in running.values())
            done, _ = ray.wait(list(running), num_returns=1, timeout=max(0.0, deadline - time.monotonic()))
            for ref in done:
                index, _ = running.pop(ref)
                try:
                    yield index, ray.get(ref)
                except ray.exceptions.RayError as exc:
                    yield index, Failed(_reason(exc))
            now = time.monotonic()
            for ref, (index, limit) in list(running.items()):
                if now > limit:
                    ray.cancel(ref, force=True)
                    running.pop(ref)
                    yield index, Failed(f"the task ran past its limit of {timeouts[index]:g} s and was stopped")

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    if cause is not None:
        return f"{type(cause).__name__}: {cause}"
    first = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0] if first else ''} (after {ATTEMPTS} attempts)"
