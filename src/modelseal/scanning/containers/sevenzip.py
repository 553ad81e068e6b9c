"""7z archives (nullifAI hid its pickles in one), extracted by py7zr into a private temporary directory within the
file's budget, then every member scanned by content."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import IO

from modelseal.scanning.budget import ScanBoundError
from modelseal.scanning.context import ScanContext, join


def _extract(ctx: ScanContext, stream: IO[bytes], member: str, directory: str) -> list[str] | None:
    """The names of the extracted files, or None (with a gap) when the archive cannot be read."""
    import py7zr  # lazy: only 7z archives pay for it

    try:
        with py7zr.SevenZipFile(stream, mode="r") as archive:
            if archive.needs_password():
                ctx.gap(member, "encrypted 7z archive: its content cannot be scanned")
                return None
            entries = [e for e in archive.list() if not e.is_directory]
            for _ in entries:
                ctx.budget.count_entry()
            ctx.budget.expand(sum(e.uncompressed for e in entries))
            archive.extractall(path=directory)
            return [e.filename for e in entries]
    except ScanBoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - py7zr and its codecs raise many types on hostile bytes; only its
        # own reading is inside this block, so no bug of the scanner's is mistaken for a corrupt archive
        ctx.gap(member, f"7z archive unreadable ({type(exc).__name__}: {exc})")
        return None


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    with tempfile.TemporaryDirectory(prefix="modelseal-7z-") as directory:
        for name in _extract(ctx, stream, member, directory) or ():
            target = Path(directory, name)
            if not target.is_file() or target.is_symlink():
                continue
            with open(target, "rb") as extracted:
                ctx.scan(extracted, target.stat().st_size, join(member, name), depth + 1)
    return "7z"
