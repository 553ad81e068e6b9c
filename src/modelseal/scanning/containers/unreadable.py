"""Formats modelseal recognises but cannot read: RAR archives (no maintained reader that is safe on hostile bytes)
and R's serialization (`readRDS`/`load` evaluate promise objects: CVE-2024-27322).

A loader or a person may unpack or load them, so their content is unknown: the file is inconclusive, never clean."""

from __future__ import annotations

from typing import IO

from modelseal.scanning.context import ScanContext


def scan_rar(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    ctx.gap(member, "a RAR archive: modelseal cannot read its members, so their content is unknown")
    return "rar"


def scan_r_data(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    ctx.gap(
        member,
        "R serialization (.rds/.RData): readRDS and load evaluate the promises it may hold (CVE-2024-27322), "
        "and modelseal cannot read it",
    )
    return "r-data"
