"""Compressed streams, each opened by the library made for it, all drawing on the file's one budget: gzip, bz2,
xz/lzma, zlib (joblib's compressors, and joblib < 0.10's 'ZF' files), lz4 frames (joblib) and zstd frames
(pandas `.zst`). The content is scanned by what it is, whatever the file is called."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from collections.abc import Callable
from typing import IO, cast

from modelseal.scanning.containers.zip import DecompressorStream
from modelseal.scanning.context import CorruptStreamError, ScanContext, join
from modelseal.scanning.registry import FormatScanner
from modelseal.scanning.streams import window

Codec = Callable[[IO[bytes]], IO[bytes]]


def _gzip(source: IO[bytes]) -> IO[bytes]:
    return cast(IO[bytes], gzip.GzipFile(fileobj=source, mode="rb"))


def _bz2(source: IO[bytes]) -> IO[bytes]:
    return cast(IO[bytes], bz2.BZ2File(source, mode="rb"))


def _xz(source: IO[bytes]) -> IO[bytes]:
    return cast(IO[bytes], lzma.LZMAFile(source, mode="rb", format=lzma.FORMAT_AUTO))


def _lzma_alone(source: IO[bytes]) -> IO[bytes]:
    return cast(IO[bytes], lzma.LZMAFile(source, mode="rb", format=lzma.FORMAT_ALONE))


def _zlib(source: IO[bytes]) -> IO[bytes]:
    return cast(IO[bytes], DecompressorStream(source, zlib.decompressobj()))


def _lz4(source: IO[bytes]) -> IO[bytes]:
    import lz4.frame  # lazy: only lz4 files pay for it

    return cast(IO[bytes], lz4.frame.LZ4FrameFile(source, mode="rb"))


def _zstd(source: IO[bytes]) -> IO[bytes]:
    import zstandard  # lazy: only zstd files pay for it

    return cast(IO[bytes], zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True))


def _decompress(ctx: ScanContext, label: str, codec: Codec, stream: IO[bytes], member: str, depth: int) -> str:
    inner = join(member, f"<{label}>")
    try:
        with ctx.expanded(stream, codec) as (spool, size):
            ctx.scan(spool, size, inner, depth + 1)
    except CorruptStreamError as exc:
        ctx.gap(inner, f"{label} stream could not be decompressed ({exc})")
    return label


def _scanner(label: str, codec: Codec) -> FormatScanner:
    def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
        return _decompress(ctx, label, codec, stream, member, depth)

    return scan


scan_gzip = _scanner("gzip", _gzip)
scan_bz2 = _scanner("bz2", _bz2)
scan_xz = _scanner("xz", _xz)
scan_lzma = _scanner("lzma", _lzma_alone)
scan_zlib = _scanner("zlib", _zlib)
scan_lz4 = _scanner("lz4", _lz4)
scan_zstd = _scanner("zstd", _zstd)


def scan_zfile(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    """joblib < 0.10: 'ZF', the uncompressed length in hex, then a zlib stream."""
    header = stream.read(22)
    start = 21 if header[21:22] != b" " else 22
    with window(stream, start, size - start) as payload:
        _decompress(ctx, "zlib", _zlib, payload, member, depth)
    return "zfile"
