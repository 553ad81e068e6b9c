"""One budget per top-level file, shared by everything nested in it.

Every nested stream, archive member, decompressed frame and embedded pickle draws on the same budget, so a file
of a few kilobytes cannot buy itself a fresh allowance at every level. Hitting a bound raises `ScanBoundError`,
which the engine turns into an INCOMPLETE result that names the bound: never a hang, never a pass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """The bounds one top-level file is scanned within."""

    max_expanded_bytes: int = 8 << 30  # bytes produced by every decompressor and archive member, together
    max_ratio: int = 1000  # decompressed bytes per compressed byte, once past `ratio_floor`
    ratio_floor: int = 64 << 20  # small expansions are never ratio-checked (tiny files compress very well)
    max_opcodes: int = 50_000_000  # pickle opcodes across every pickle in the file
    max_stack: int = 5_000_000
    max_seconds: float = 120.0  # wall time for the whole file
    max_depth: int = 5  # containers and encodings nested in one another
    max_entries: int = 100_000  # archive members across every archive in the file


class ScanBoundError(Exception):
    """A scan bound was hit: what was not read is unknown, so the file cannot be called clean."""


class Budget:
    """What one top-level file has used so far."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_seconds
        self.expanded = 0
        self.opcodes = 0
        self.entries = 0

    def expand(self, count: int) -> None:
        """Charge `count` more decompressed bytes to the file."""
        self.expanded += count
        if self.expanded > self.limits.max_expanded_bytes:
            raise ScanBoundError(f"expands beyond {self.limits.max_expanded_bytes:,} bytes in all")

    def check_ratio(self, produced: int, consumed: int) -> None:
        """One stream has produced `produced` bytes from `consumed` compressed ones."""
        limits = self.limits
        if produced > limits.ratio_floor and produced > limits.max_ratio * max(consumed, 1):
            raise ScanBoundError(f"a compressed stream expands more than {limits.max_ratio}x (decompression bomb)")

    def count_opcodes(self, count: int, stack: int) -> None:
        self.opcodes += count
        if self.opcodes > self.limits.max_opcodes:
            raise ScanBoundError(f"more than {self.limits.max_opcodes:,} pickle opcodes")
        if stack > self.limits.max_stack:
            raise ScanBoundError(f"a pickle stack deeper than {self.limits.max_stack:,}")
        self.check_time()

    def count_entry(self) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise ScanBoundError(f"more than {self.limits.max_entries:,} archive members")

    def seconds_left(self) -> float:
        return self.deadline - time.monotonic()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise ScanBoundError(f"scanning took longer than {self.limits.max_seconds:.0f} s")
