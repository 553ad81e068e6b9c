"""Archives and compressed streams, read the way their loaders read them: zip (tolerant, as PyTorch's miniz),
Keras v3 zips, tar, 7z, and gzip/bz2/xz/lzma/zlib (joblib's compressors, old joblib 'ZF' files)."""

from __future__ import annotations

import json
import re
import tempfile
import zlib
from pathlib import Path
from typing import IO

from modelseal.scanning.context import MAX_JSON_BYTES, SPOOL_IN_MEMORY, ExpandError, ScanContext, decompressor, join
from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.sniff import HEADER_BYTES, sniff
from modelseal.scanning.streams import window
from modelseal.scanning.zipread import Member, ZipFormatError, member_crc, open_member, read_directory

_STORAGE_MEMBER = re.compile(r"(^|/)data/\d+$")


class ArchiveScans(ScanContext):
    def _scan_zip(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        try:
            archive = read_directory(handle, size)
        except (ZipFormatError, OSError, ValueError) as exc:
            self.gap(member, f"zip directory unreadable ({exc})")
            return "zip"
        names = [m.name for m in archive.members]
        torch = any(n.endswith("data.pkl") for n in names)
        keras = "config.json" in names and "metadata.json" in names
        skops = "schema.json" in names and not keras
        if archive.prefix_bytes:
            self.add(
                member,
                Finding(
                    "ZIP-PREFIX-DATA",
                    Severity.LOW,
                    f"{archive.prefix_bytes:,} bytes precede the archive (polyglot or self-extractor)",
                ),
            )
        seen: set[str] = set()
        for entry in archive.members:
            if entry.is_dir:
                continue
            self._zip_anomalies(entry, seen, member)
            inner = join(member, entry.name)
            if torch and "/code/" in f"/{entry.name}" and entry.name.endswith(".py"):
                self.add(
                    inner,
                    Finding(
                        "TORCHSCRIPT-CODE",
                        Severity.MEDIUM,
                        "TorchScript code: torch.load hands such archives to torch.jit.load, which "
                        "compiles and runs it (CVE-2025-32434)",
                    ),
                )
            self._scan_zip_member(
                handle, entry, inner, depth, storage=torch and bool(_STORAGE_MEMBER.search(entry.name))
            )
        if keras:
            self._keras_config(handle, next(m for m in archive.members if m.name == "config.json"), member)
        if skops and self._skops_schema(handle, next(m for m in archive.members if m.name == "schema.json"), member):
            return "skops"
        return "pytorch-zip" if torch else "keras" if keras else "zip"

    def _skops_schema(self, handle: IO[bytes], entry: Member, member: str) -> bool:
        """True when the archive is a skops file (its schema names every type it will construct)."""
        from modelseal.scanning.formats.skops import check_schema, is_schema

        try:
            with open_member(handle, entry, MAX_JSON_BYTES) as stream:
                schema = json.loads(stream.read(MAX_JSON_BYTES).decode("utf-8"))
        except (ZipFormatError, OverflowError, zlib.error, OSError, UnicodeDecodeError, ValueError):
            return False
        if not is_schema(schema):
            return False
        self.add_all(join(member, entry.name), check_schema(schema))
        return True

    def _keras_config(self, handle: IO[bytes], entry: Member, member: str) -> None:
        from modelseal.scanning.formats.keras import check_config

        try:
            with open_member(handle, entry, MAX_JSON_BYTES) as stream:
                config = json.loads(stream.read(MAX_JSON_BYTES).decode("utf-8"))
        except (ZipFormatError, OverflowError, zlib.error, OSError, UnicodeDecodeError, ValueError) as exc:
            self.gap(join(member, entry.name), f"Keras config unreadable ({exc})")
            return
        self.add_all(join(member, entry.name), check_config(config))

    def _zip_anomalies(self, entry: Member, seen: set[str], member: str) -> None:
        inner = join(member, entry.name)
        if entry.name in seen:
            self.add(inner, Finding("ZIP-DUPLICATE-NAME", Severity.MEDIUM, "the name appears twice in the archive"))
        seen.add(entry.name)
        if entry.local_name != entry.name:
            self.add(
                inner,
                Finding(
                    "ZIP-NAME-MISMATCH",
                    Severity.MEDIUM,
                    f"local header names it {entry.local_name!r} (CVE-2025-1944: loaders disagree)",
                ),
            )
        if entry.flags & 0x1:
            self.add(
                inner,
                Finding(
                    "ZIP-ENCRYPTED-FLAG",
                    Severity.MEDIUM,
                    "marked encrypted; PyTorch ignores the flag and reads it anyway (CVE-2025-1945)",
                ),
            )
        if ".." in entry.name.split("/") or entry.name.startswith("/") or re.match(r"^[A-Za-z]:", entry.name):
            self.add(
                inner, Finding("ZIP-PATH-TRAVERSAL", Severity.HIGH, "the member name escapes the extraction directory")
            )
        if (
            entry.compressed_size
            and entry.size / entry.compressed_size > self.options.max_ratio
            and entry.size > 1 << 26
        ):
            self.add(
                inner,
                Finding(
                    "ZIP-BOMB",
                    Severity.MEDIUM,
                    f"expands {entry.size / entry.compressed_size:,.0f}x to {entry.size:,} bytes",
                ),
            )

    def _scan_zip_member(self, handle: IO[bytes], entry: Member, inner: str, depth: int, storage: bool) -> None:
        """Stored members are read in place; deflated ones are expanded (within the budget) into a spool."""
        if storage and entry.method == 0:  # raw tensor bytes: torch never checks their CRC or unpickles them
            with window(handle, entry.data_offset, entry.compressed_size) as raw:
                self._scan_storage(raw, entry.compressed_size, inner, depth)
            return
        limit = self._budget(entry.size if entry.method else 0)
        if limit is None:
            self.gap(inner, "skipped: the archive expands beyond the scan budget")
            return
        try:
            if (
                entry.size <= SPOOL_IN_MEMORY
                and entry.method in (0, 8)
                and member_crc(handle, entry, limit) != entry.crc
            ):
                self.add(
                    inner,
                    Finding(
                        "ZIP-BAD-CRC",
                        Severity.MEDIUM,
                        "CRC-32 does not match; PyTorch loads it anyway (CVE-2025-10156)",
                    ),
                )
            if entry.method == 0:
                with window(handle, entry.data_offset, entry.compressed_size) as stored:
                    self._scan_member_content(stored, entry.compressed_size, entry, inner, depth, storage)
                return
            with open_member(handle, entry, limit) as stream, self._spooled(stream) as (spool, size):
                self._scan_member_content(spool, size, entry, inner, depth, storage)
        except (ZipFormatError, ExpandError, OverflowError, zlib.error, OSError, EOFError) as exc:
            self.gap(inner, f"member could not be read ({exc})")

    def _scan_member_content(
        self, stream: IO[bytes], size: int, entry: Member, inner: str, depth: int, storage: bool
    ) -> None:
        if storage:
            self._scan_storage(stream, size, inner, depth)
            return
        fmt = self.scan_handle(stream, size, inner, depth + 1)
        if fmt == "unknown" and entry.flags & 0x1:
            self.gap(inner, "encrypted member: its content cannot be scanned")

    def _scan_storage(self, handle: IO[bytes], size: int, inner: str, depth: int) -> None:
        """Raw tensor bytes are never unpickled by torch; look only for a complete pickle or archive hidden there."""
        header = handle.read(HEADER_BYTES)
        handle.seek(0)
        if sniff(header, size) == "zip":
            self.scan_handle(handle, size, inner, depth + 1)
        elif header[:1] == b"\x80":
            self._scan_pickle(handle, size, inner, depth + 1, strict=True)

    def _scan_tar(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        import tarfile

        try:
            with tarfile.open(fileobj=handle, mode="r:") as archive:
                for info in archive:
                    inner = join(member, info.name)
                    if info.issym() or info.islnk():
                        if info.linkname.startswith("/") or ".." in info.linkname.split("/"):
                            self.add(
                                inner,
                                Finding(
                                    "TAR-LINK-ESCAPE", Severity.HIGH, f"links outside the archive: {info.linkname}"
                                ),
                            )
                        continue
                    if not info.isfile():
                        continue
                    if ".." in info.name.split("/") or info.name.startswith("/"):
                        self.add(
                            inner,
                            Finding(
                                "TAR-PATH-TRAVERSAL", Severity.HIGH, "the member name escapes the extraction directory"
                            ),
                        )
                    if self._budget(info.size) is None:
                        self.gap(inner, "skipped: the archive expands beyond the scan budget")
                        continue
                    extracted = archive.extractfile(info)
                    if extracted is not None:
                        with self._spooled(extracted) as (spool, length):
                            self.scan_handle(spool, length, inner, depth + 1)
        except (tarfile.TarError, ExpandError, OSError, EOFError) as exc:
            self.gap(member, f"tar archive unreadable ({exc})")
        return "tar"

    def _scan_7z(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        import py7zr  # lazy: only 7z archives pay for it

        try:
            with py7zr.SevenZipFile(handle, mode="r") as archive:
                if archive.needs_password():
                    self.gap(member, "encrypted 7z archive: its content cannot be scanned")
                    return "7z"
                entries = [e for e in archive.list() if not e.is_directory]
                total = sum(e.uncompressed for e in entries)
                if self._budget(total) is None:
                    self.gap(member, "skipped: the archive expands beyond the scan budget")
                    return "7z"
                with tempfile.TemporaryDirectory(prefix="modelseal-7z-") as directory:
                    archive.extractall(path=directory)
                    for entry in entries:
                        target = Path(directory, entry.filename)
                        if not target.is_file() or target.is_symlink():
                            continue
                        with open(target, "rb") as extracted:
                            self.scan_handle(extracted, target.stat().st_size, join(member, entry.filename), depth + 1)
        except Exception as exc:  # noqa: BLE001 - py7zr raises many types for corrupt archives
            self.gap(member, f"7z archive unreadable ({type(exc).__name__}: {exc})")
        return "7z"

    def _decompressed(self, fmt: str, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        label = join(member, f"<{fmt}>")
        try:
            with self._spooled(decompressor(fmt, handle)) as (spool, length):
                self.scan_handle(spool, length, label, depth + 1)
        except ExpandError as exc:
            self.gap(label, f"{fmt} stream could not be decompressed ({exc})")
        return fmt

    def _scan_gzip(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        return self._decompressed("gzip", handle, size, member, depth)

    def _scan_bz2(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        return self._decompressed("bz2", handle, size, member, depth)

    def _scan_xz(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        return self._decompressed("xz", handle, size, member, depth)

    def _scan_lzma(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        return self._decompressed("lzma", handle, size, member, depth)

    def _scan_zlib(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        return self._decompressed("zlib", handle, size, member, depth)

    def _scan_zfile(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        header = handle.read(22)
        handle.seek(21 if header[21:22] != b" " else 22)
        with window(handle, handle.tell(), size - handle.tell()) as payload:
            self._decompressed("zlib", payload, size, member, depth)
        return "zfile"
