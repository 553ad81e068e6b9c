"""Archives modelseal recognises but cannot open (RAR: no maintained reader that is safe on hostile bytes).

A loader or a person may unpack them, so their content is unknown: the file is inconclusive, never clean."""

from __future__ import annotations

from typing import IO

from modelseal.scanning.context import ScanContext


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    ctx.gap(member, "a RAR archive: modelseal cannot read its members, so their content is unknown")
    return "rar"
