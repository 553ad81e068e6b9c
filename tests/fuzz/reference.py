"""The reference for "would a loader call code from these bytes?", answered by the loaders' own parsers without
running anything: Python's unpickler with a `find_class` that hands back a stand-in recording every call,
behind Python's zipfile, tarfile, numpy's header reader and the real decompressors. A fuzzed input from which
this reference would call a name outside the allowlist, while the scanner passes it, is a miss."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import tarfile
import zipfile
import zlib
from typing import Any

MAX_BYTES = 64 << 20


def _stand_in(name: str, called: list[str]) -> type:
    """A class standing for `name`: calling or instantiating it records the name and does nothing else."""

    class StandIn:
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            called.append(name)
            return object.__new__(cls)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def __setstate__(self, state: Any) -> None:
            pass

        def __setitem__(self, key: Any, value: Any) -> None:
            pass

        def append(self, value: Any) -> None:
            pass

        def extend(self, values: Any) -> None:
            pass

    return StandIn


class _Recorder(pickle.Unpickler):
    def __init__(self, stream: io.BytesIO, called: list[str]) -> None:
        super().__init__(stream)
        self.called = called

    def find_class(self, module: str, name: str) -> Any:
        if not all(part.isidentifier() for part in f"{module}.{name}".split(".")):
            raise pickle.UnpicklingError(f"no module can be named {module!r}.{name!r}: the import fails")
        return _stand_in(f"{module}.{name}", self.called)

    def persistent_load(self, pid: Any) -> Any:
        return None


def _unpickle(data: bytes, names: list[str]) -> None:
    stream = io.BytesIO(data)
    while stream.tell() < len(data):
        try:
            _Recorder(stream, names).load()
        except Exception:  # noqa: BLE001 - the unpickler stops at its first error, after what it already did
            return


def _decompressed(data: bytes) -> bytes | None:
    try:
        if data[:2] == b"\x1f\x8b":
            return gzip.GzipFile(fileobj=io.BytesIO(data)).read(MAX_BYTES)
        if data[:3] == b"BZh":
            return bz2.BZ2Decompressor().decompress(data, MAX_BYTES)
        if data[:6] == b"\xfd7zXZ\x00":
            return lzma.LZMADecompressor().decompress(data, MAX_BYTES)
        if data[:1] == b"\x78":
            return zlib.decompressobj().decompress(data, MAX_BYTES)
        if data[:4] == b"\x04\x22\x4d\x18":
            import lz4.frame

            return bytes(lz4.frame.LZ4FrameDecompressor().decompress(data, max_length=MAX_BYTES))
        if data[:4] == b"\x28\xb5\x2f\xfd":
            import zstandard

            return bytes(zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read(MAX_BYTES))
    except Exception:  # noqa: BLE001 - a corrupt stream: the loader reads nothing from it
        return None
    return None


def called_names(data: bytes, depth: int = 0) -> list[str]:
    """Every global a loader would call from `data` (through containers, decompressors and npy headers)."""
    names: list[str] = []
    if depth > 4:
        return names
    _unpickle(data, names)
    inner = _decompressed(data)
    if inner is not None:
        names += called_names(inner, depth + 1)
    if data[:6] == b"\x93NUMPY":
        names += _npy(data)
    stream = io.BytesIO(data)
    if zipfile.is_zipfile(stream):
        try:
            with zipfile.ZipFile(stream) as archive:
                for info in archive.infolist()[:64]:
                    names += called_names(archive.read(info)[:MAX_BYTES], depth + 1)
        except Exception:  # noqa: BLE001 - what zipfile cannot read, numpy and joblib cannot either
            pass
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            for member in archive.getmembers()[:64]:
                extracted = archive.extractfile(member) if member.isfile() else None
                if extracted is not None:
                    names += called_names(extracted.read(MAX_BYTES), depth + 1)
    except Exception:  # noqa: BLE001 - not a tar
        pass
    return names


def _npy(data: bytes) -> list[str]:
    import numpy.lib.format as npy_format

    stream = io.BytesIO(data)
    try:
        version = npy_format.read_magic(stream)
        _, _, dtype = npy_format._read_array_header(stream, version, max_header_size=1 << 20)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - numpy refuses the header: nothing is loaded
        return []
    if not dtype.hasobject:
        return []
    names: list[str] = []
    _unpickle(data[stream.tell() :], names)
    return names
