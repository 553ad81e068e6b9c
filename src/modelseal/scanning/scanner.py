"""Scan files by content, recursing into containers the way their loaders would read them.

One `FileScan` per top-level file collects findings (with the member path inside archives) and every reason
the file could not be fully examined; a file with any such reason is INCOMPLETE, never clean.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

from modelseal.scanning.findings import FileResult, Finding, Severity, Status
from modelseal.scanning.pickle.interpreter import Interpreter
from modelseal.scanning.pickle.opcodes import OpcodeReader
from modelseal.scanning.pickle.policy import DEFAULT_POLICY, PicklePolicy
from modelseal.scanning.pickle.vm import Limits, PickleMachine, ScanLimitError
from modelseal.scanning.sniff import HEADER_BYTES, sniff
from modelseal.scanning.streams import window
from modelseal.scanning.zipread import Member, ZipFormatError, member_crc, open_member, read_directory

SPOOL_IN_MEMORY = 64 << 20
_STORAGE_MEMBER = re.compile(r"(^|/)data/\d+$")


def _decompressor(fmt: str, handle: IO[bytes]) -> IO[bytes]:
    """A streaming decompressor over `handle` (joblib's compressors, and plain .gz/.bz2/.xz files)."""
    import bz2
    import gzip
    import lzma

    if fmt == "gzip":
        return cast(IO[bytes], gzip.GzipFile(fileobj=handle))
    if fmt == "bz2":
        return cast(IO[bytes], bz2.BZ2File(handle))
    if fmt == "zlib":
        return cast(IO[bytes], _ZlibStream(handle))
    return cast(IO[bytes], lzma.LZMAFile(handle, format=lzma.FORMAT_ALONE if fmt == "lzma" else lzma.FORMAT_AUTO))


@dataclass(frozen=True)
class ScanOptions:
    policy: PicklePolicy = DEFAULT_POLICY
    limits: Limits = field(default_factory=Limits)
    max_depth: int = 5
    max_expanded_bytes: int = 8 << 30
    max_ratio: int = 1000


class FileScan:
    """The findings and gaps of one top-level file."""

    def __init__(self, path: Path, options: ScanOptions) -> None:
        self.path = path
        self.options = options
        self.findings: list[Finding] = []
        self.gaps: list[str] = []
        self.notes: list[str] = []
        self.expanded = 0

    def add(self, member: str, finding: Finding) -> None:
        self.findings.append(
            Finding(
                finding.rule, finding.severity, finding.message, member, finding.offset, finding.target, finding.payload
            )
        )

    def gap(self, member: str, reason: str) -> None:
        self.gaps.append(f"{member + ': ' if member else ''}{reason}")

    # --- entry -----------------------------------------------------------------------------------------------

    def run(self) -> FileResult:
        try:
            size = self.path.stat().st_size
            with open(self.path, "rb") as handle:
                fmt = self.scan_handle(handle, size, "", 0)
        except OSError as exc:
            return FileResult(str(self.path), "unreadable", Status.INCOMPLETE, notes=(f"cannot read: {exc.strerror}",))
        except Exception as exc:  # noqa: BLE001 - one bad file must not end a directory scan, nor pass as clean
            note = f"internal error while scanning ({type(exc).__name__}: {exc}); please report it"
            return FileResult(str(self.path), "error", Status.INCOMPLETE, tuple(self.findings), (note,))
        status = Status.INCOMPLETE if self.gaps else Status.UNSUPPORTED if fmt in _UNSCANNED else Status.SCANNED
        return FileResult(str(self.path), fmt, status, tuple(self.findings), tuple(self.gaps + self.notes))

    def scan_handle(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        """Scan a seekable stream of `size` bytes; returns the detected format."""
        if depth > self.options.max_depth:
            self.gap(member, f"nested deeper than {self.options.max_depth} levels")
            return "nested"
        handle.seek(0)
        header = handle.read(HEADER_BYTES)
        fmt = sniff(header, size)
        handle.seek(0)
        if fmt == "unknown" and (member or self.path.name).endswith(".py"):
            fmt = "python"  # source has no magic: the name is the only hint (content-sniffed formats won above)
        scanner = getattr(self, f"_scan_{fmt}", None)
        if scanner is None:
            return fmt
        result: str = scanner(handle, size, member, depth) or fmt
        return result

    def scan_bytes(self, data: bytes, member: str, depth: int) -> None:
        with tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY) as spool:
            spool.write(data)
            self.scan_handle(spool, len(data), member, depth)

    # --- pickle ----------------------------------------------------------------------------------------------

    def _scan_pickle(self, handle: IO[bytes], size: int, member: str, depth: int, strict: bool = False) -> str:
        collected: list[Finding] = []

        def nested(data: bytes, label: str, offset: int) -> None:
            self.scan_bytes(data, _join(member, label), depth + 1)

        machine = PickleMachine(self.options.policy, collected.append, nested, self.options.limits)
        interpreter = Interpreter(machine)
        reader = OpcodeReader(handle)
        count = 0
        try:
            while not reader.at_end():
                start = reader.position
                try:
                    interpreter.run(reader)
                    count += 1
                except ScanLimitError as exc:
                    self.gap(member, f"scan bound reached: {exc}")
                    break
                except Exception as exc:  # noqa: BLE001 - malformed input is reported, never trusted
                    if strict:  # not a pickle after all (raw tensor bytes): nothing it "contained" counts
                        collected.clear()
                        return "data"
                    if count == 0:
                        collected.append(
                            Finding(
                                "PICKLE-MALFORMED",
                                Severity.MEDIUM,
                                f"the pickle is malformed ({exc}); the unpickler stops there, after running what "
                                "came before",
                                offset=start,
                            )
                        )
                        self.gap(member, f"pickle could not be parsed to its end ({exc})")
                    else:
                        self.notes.append(
                            f"{member or 'file'}: {size - start:,} bytes after pickle {count} "
                            "are not a pickle (ignored by pickle.load)"
                        )
                    break
        finally:
            for finding in collected:
                self.add(member, finding)
        if count > 1:
            self.notes.append(f"{member or 'file'}: {count} concatenated pickles, all scanned")
        self._polyglot_zip(handle, size, member, depth)
        return "pickle"

    def _polyglot_zip(self, handle: IO[bytes], size: int, member: str, depth: int) -> None:
        """A pickle with a zip appended is both: scan the zip half too."""
        handle.seek(max(0, size - 65558))
        if b"PK\x05\x06" in handle.read():
            self.add(member, Finding("POLYGLOT", Severity.MEDIUM, "the file is both a pickle and a zip archive"))
            self._scan_zip(handle, size, member, depth)

    # --- archives ---------------------------------------------------------------------------------------------

    def _scan_zip(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        try:
            archive = read_directory(handle, size)
        except (ZipFormatError, OSError, ValueError) as exc:
            self.gap(member, f"zip directory unreadable ({exc})")
            return "zip"
        names = [m.name for m in archive.members]
        torch = any(n.endswith("data.pkl") for n in names)
        keras = "config.json" in names and "metadata.json" in names
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
            inner = _join(member, entry.name)
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
        return "pytorch-zip" if torch else "keras" if keras else "zip"

    def _keras_config(self, handle: IO[bytes], entry: Member, member: str) -> None:
        from modelseal.scanning.formats.keras import check_config

        try:
            with open_member(handle, entry, MAX_JSON_BYTES) as stream:
                config = json.loads(stream.read(MAX_JSON_BYTES).decode("utf-8"))
        except (ZipFormatError, OverflowError, zlib.error, OSError, UnicodeDecodeError, ValueError) as exc:
            self.gap(_join(member, entry.name), f"Keras config unreadable ({exc})")
            return
        for finding in check_config(config):
            self.add(_join(member, entry.name), finding)

    def _zip_anomalies(self, entry: Member, seen: set[str], member: str) -> None:
        inner = _join(member, entry.name)
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

    def _budget(self, size: int) -> int | None:
        self.expanded += size
        if self.expanded > self.options.max_expanded_bytes:
            return None
        return max(size, 1) + (1 << 20)

    def _spooled(self, stream: IO[bytes]) -> _SpoolContext:
        return _SpoolContext(stream, self.options.max_expanded_bytes)

    def _scan_tar(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        import tarfile

        try:
            with tarfile.open(fileobj=handle, mode="r:") as archive:
                for info in archive:
                    inner = _join(member, info.name)
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
                            self.scan_handle(extracted, target.stat().st_size, _join(member, entry.filename), depth + 1)
        except Exception as exc:  # noqa: BLE001 - py7zr raises many types for corrupt archives
            self.gap(member, f"7z archive unreadable ({type(exc).__name__}: {exc})")
        return "7z"

    # --- compressed streams ----------------------------------------------------------------------------------

    def _decompressed(self, fmt: str, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        label = _join(member, f"<{fmt}>")
        try:
            with self._spooled(_decompressor(fmt, handle)) as (spool, length):
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

    # --- safetensors -----------------------------------------------------------------------------------------

    def _scan_safetensors(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        from modelseal.scanning.formats import safetensors

        def scan_region(start: int, length: int, label: str) -> None:
            with window(handle, start, length) as region:
                self.scan_handle(region, length, _join(member, label), depth + 1)

        try:
            for finding in safetensors.check(handle, size, scan_region):
                self.add(member, finding)
        except safetensors.SafetensorsError as exc:
            self.add(
                member,
                Finding(
                    "SAFETENSORS-INVALID", Severity.MEDIUM, f"not a valid safetensors file: {exc} (loaders refuse it)"
                ),
            )
            self.gap(member, f"invalid safetensors header ({exc})")
        return "safetensors"

    # --- GGUF and chat templates ------------------------------------------------------------------------------

    def _scan_hdf5(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        """Legacy Keras H5: the model config lives in a root attribute; weights-only files have none."""
        import h5py

        from modelseal.scanning.formats.keras import check_config

        try:
            handle.seek(0)
            with h5py.File(handle, "r") as store:  # h5py reads file objects: archive members are not copied out
                raw = store.attrs.get("model_config")
        except (OSError, ValueError) as exc:
            self.gap(member, f"HDF5 file unreadable ({exc})")
            return "hdf5"
        if raw is None:
            return "hdf5"
        try:
            config = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else str(raw))
        except (UnicodeDecodeError, ValueError) as exc:
            self.gap(member, f"Keras model_config is not JSON ({exc})")
            return "keras-h5"
        for finding in check_config(config):
            self.add(member, finding)
        return "keras-h5"

    @contextlib.contextmanager
    def _as_file(self, handle: IO[bytes], member: str, suffix: str) -> Iterator[str]:
        """A filesystem path for readers that need one: the file itself, or a copy of an archive member."""
        if not member:
            yield str(self.path)
            return
        with tempfile.NamedTemporaryFile(prefix="modelseal-", suffix=suffix) as copy:
            handle.seek(0)
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
            copy.flush()
            yield copy.name

    def _scan_gguf(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        from modelseal.scanning.formats import gguf

        try:
            with self._as_file(handle, member, ".gguf") as path:
                findings = gguf.check(path, size)
        except gguf.GGUFError as exc:
            self.add(member, Finding("GGUF-INVALID", Severity.MEDIUM, f"not a valid GGUF file: {exc}"))
            self.gap(member, f"GGUF could not be read ({exc})")
            return "gguf"
        for finding in findings:
            self.add(member, finding)
        return "gguf"

    def _scan_json(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        """Hugging Face configs: remote-code mappings and Jinja2 chat templates; other JSON is not scanned yet."""
        from modelseal.scanning.formats import hf
        from modelseal.scanning.formats.templates import check_template

        if size > MAX_JSON_BYTES:
            return "json"
        try:
            document = json.loads(handle.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return "json"
        if hf.is_hf_config(document):
            for finding in hf.check_config(document, self.path.parent if not member else None):
                self.add(member, finding)
        templates = document.get("chat_template") if isinstance(document, dict) else None
        if isinstance(templates, str):
            templates = [{"name": "default", "template": templates}]
        if not isinstance(templates, list):
            return "json (hugging face config)" if hf.is_hf_config(document) else "json"
        for entry in templates:
            if isinstance(entry, dict) and isinstance(entry.get("template"), str):
                for finding in check_template(entry["template"], f"chat_template[{entry.get('name', '?')}]"):
                    self.add(member, finding)
        return "json (chat template)"

    def _scan_protobuf(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        """ONNX if it parses as a model with a graph; other protobufs (SavedModel) are not scanned yet."""
        from modelseal.scanning.formats import onnx

        if size > MAX_PROTOBUF_BYTES:
            return "protobuf"
        base = self.path.parent if not member else None
        try:
            findings = onnx.check(handle.read(), base)
        except onnx.OnnxError:
            return "protobuf"
        for finding in findings:
            self.add(member, finding)
        return "onnx"

    def _scan_python(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        from modelseal.scanning.formats.hf import check_python

        if size > MAX_JSON_BYTES:
            self.gap(member, "Python source larger than the scan bound")
            return "python"
        for finding in check_python(handle.read().decode("utf-8", "replace"), member or self.path.name):
            self.add(member, finding)
        return "python"

    def _scan_jinja(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        from modelseal.scanning.formats.templates import check_template

        if size > MAX_JSON_BYTES:
            self.gap(member, "template larger than the scan bound")
            return "jinja"
        text = handle.read().decode("utf-8", "replace")
        for finding in check_template(text, member or self.path.name):
            self.add(member, finding)
        return "jinja"

    # --- numpy -----------------------------------------------------------------------------------------------

    def _scan_npy(self, handle: IO[bytes], size: int, member: str, depth: int) -> str:
        """Object arrays carry a pickle right after the header; plain arrays are data."""
        prefix = handle.read(10)
        major = prefix[6]
        if major == 1:
            length, start = int.from_bytes(prefix[8:10], "little"), 10
        else:
            length, start = int.from_bytes(prefix[8:10] + handle.read(2), "little"), 12
        handle.seek(start)
        header = handle.read(length).decode("latin-1")
        descr = _NPY_DESCR.search(header)
        if descr is None:
            self.gap(member, "npy header unreadable (no 'descr')")
            return "npy"
        if _NPY_OBJECT.search(descr.group(1)):
            with window(handle, start + length, size - start - length) as payload:
                self._scan_pickle(payload, size - start - length, _join(member, "<npy object data>"), depth + 1)
            return "npy (object)"
        return "npy"


_UNSCANNED = {"unknown", "json", "protobuf"}
MAX_PROTOBUF_BYTES = 2 << 30  # protobuf's own message limit
MAX_JSON_BYTES = 32 << 20


# the header is a Python dict literal; read it with patterns, not `ast` (which compiles): only the dtype matters
_NPY_DESCR = re.compile(r"""['"]descr['"]\s*:\s*(.*?)\s*,\s*['"](?:fortran_order|shape)['"]""", re.S)
_NPY_OBJECT = re.compile(r"""['"][<>|=]?O\d*['"]""")


def _join(member: str, name: str) -> str:
    return f"{member}!{name}" if member else name


class ExpandError(Exception):
    """A compressed stream or member could not be expanded (corrupt, or over the scan budget)."""


class _SpoolContext:
    """Copy a stream into a seekable spool (memory, then disk), bounded."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self.stream, self.limit = stream, limit
        self.spool: tempfile.SpooledTemporaryFile[bytes] | None = None

    def __enter__(self) -> tuple[IO[bytes], int]:
        import lzma

        self.spool = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY)
        copied = 0
        try:
            while chunk := self.stream.read(1 << 20):
                copied += len(chunk)
                if copied > self.limit:
                    raise ExpandError(f"expands beyond {self.limit:,} bytes")
                self.spool.write(chunk)
        except (OSError, EOFError, zlib.error, OverflowError, lzma.LZMAError) as exc:
            self.spool.close()
            raise ExpandError(str(exc)) from exc
        self.spool.seek(0)
        return self.spool, copied

    def __exit__(self, *exc: object) -> None:
        if self.spool is not None:
            self.spool.close()


class _ZlibStream:
    def __init__(self, source: IO[bytes]) -> None:
        self.source, self.inflater, self.done = source, zlib.decompressobj(), False

    def read(self, size: int = -1) -> bytes:
        while not self.done:
            chunk = self.source.read(1 << 16)
            if not chunk:
                self.done = True
                return self.inflater.flush()
            out = self.inflater.decompress(chunk)
            if out:
                return out
        return b""


def iter_files(paths: list[Path], ignore: tuple[str, ...] = ()) -> Iterator[Path]:
    """Every regular file under the given paths, symlinked files included (directory links are not followed),
    except `.git` and paths matching an `ignore` glob (relative to the path given, or by file name)."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for root, directories, files in os.walk(path):
            directories[:] = sorted(d for d in directories if d != ".git")
            for name in sorted(files):
                candidate = Path(root, name)
                relative = candidate.relative_to(path).as_posix()
                if any(fnmatch.fnmatch(relative, g) or fnmatch.fnmatch(name, g) for g in ignore):
                    continue
                if candidate.is_file():
                    yield candidate


def scan_file(path: Path, options: ScanOptions | None = None) -> FileResult:
    return FileScan(Path(path), options or ScanOptions()).run()


def _boundary(directory: Path) -> Path:
    """Where symlinks may point: the directory scanned, or the whole Hugging Face cache entry when it is a
    snapshot inside one (`models--org--name/snapshots/<rev>/` links into `models--org--name/blobs/`)."""
    for candidate in (directory, *directory.resolve().parents):
        if candidate.name.startswith(("models--", "datasets--", "spaces--")):
            return candidate.resolve()
    return directory.resolve()


def iter_targets(paths: list[Path], ignore: tuple[str, ...] = ()) -> Iterator[tuple[Path, Path | None]]:
    """(file, boundary) for every file to scan; files named on the command line have no boundary."""
    for path in paths:
        boundary = _boundary(path) if path.is_dir() else None
        for file in iter_files([path], ignore):
            yield file, boundary


def scan_target(path: Path, boundary: Path | None, options: ScanOptions) -> FileResult:
    """Scan one file, unless it is a symlink that leaves the tree being scanned (reported, never clean)."""
    if boundary is not None and path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(boundary):
            note = f"symlink to {target}, outside {boundary}: not followed (scan the target itself if you trust it)"
            return FileResult(str(path), "symlink", Status.INCOMPLETE, notes=(note,))
    return scan_file(path, options)


def scan_paths(paths: list[Path] | list[str], options: ScanOptions | None = None) -> list[FileResult]:
    """Scan files and directories (recursively); one result per file, in path order."""
    options = options or ScanOptions()
    targets = iter_targets([Path(p) for p in paths], options.policy.ignore_paths)
    return [scan_target(path, boundary, options) for path, boundary in targets]


def scan(*paths: str | Path, policy: Path | None = None) -> list[FileResult]:
    """The library entry point: `modelseal.scan("model.pt")`, optionally with a policy file."""
    from modelseal.scanning.pickle.policy import load_policy

    return scan_paths([Path(p) for p in paths], ScanOptions(policy=load_policy(policy)))


__all__ = ["ScanOptions", "iter_targets", "scan", "scan_file", "scan_paths", "scan_target"]
