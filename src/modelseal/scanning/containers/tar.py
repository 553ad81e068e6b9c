"""Tar archives (NeMo `.nemo` files, legacy torch checkpoints, pandas' tar compression): every regular member is
scanned in place by content; links and names that leave the extraction directory are findings."""

from __future__ import annotations

import tarfile
from typing import IO

from modelseal.scanning.context import ScanContext, join
from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.streams import window


def _escapes(name: str) -> bool:
    return name.startswith("/") or ".." in name.split("/")


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    try:
        with tarfile.open(fileobj=stream, mode="r:") as archive:
            for info in archive:
                ctx.budget.count_entry()
                inner = join(member, info.name)
                if _escapes(info.name):
                    ctx.add(
                        inner,
                        Finding(
                            "TAR-PATH-TRAVERSAL", Severity.HIGH, "the member name escapes the extraction directory"
                        ),
                    )
                if info.issym() or info.islnk():
                    if _escapes(info.linkname):
                        ctx.add(
                            inner,
                            Finding("TAR-LINK-ESCAPE", Severity.HIGH, f"links outside the archive: {info.linkname}"),
                        )
                    continue
                if not info.isfile():
                    continue
                if info.sparse is not None:
                    ctx.gap(inner, "a sparse tar member: its content is not scanned")
                    continue
                with window(stream, info.offset_data, info.size) as content:
                    ctx.scan(content, info.size, inner, depth + 1)
    except (tarfile.TarError, OSError, EOFError) as exc:
        ctx.gap(member, f"tar archive unreadable ({exc})")
    return "tar"
