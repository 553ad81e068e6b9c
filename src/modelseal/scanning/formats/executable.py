"""Executable programs (ELF, PE, Mach-O, and llamafile's actually-portable executables): whoever runs one runs
anything, so no scan can call one clean. Anything other loaders find inside (llamafile's zip of GGUF weights) is
scanned as well."""

from __future__ import annotations

from typing import IO

from modelseal.scanning.context import ScanContext
from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.sniff import executable_kind


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    from modelseal.scanning.formats.data import other_readings

    kind = executable_kind(stream.read(4096)) or "executable"
    ctx.add(
        member,
        Finding(
            "EXECUTABLE",
            Severity.HIGH,
            f"an executable program ({kind}): running it runs anything, whatever its embedded weights are",
        ),
    )
    readings = other_readings(stream, size)
    inner = [ctx.scan_as(fmt, stream, size, member, depth) for fmt in readings]
    return ", ".join([kind.split(" ")[0].lower(), *inner])
