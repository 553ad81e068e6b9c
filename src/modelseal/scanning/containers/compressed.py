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

from modelseal.scanning.containers.zip import CODEC_ERRORS, _DecompressorStream
from modelseal.scanning.context import ScanContext, join
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
    return cast(IO[bytes], _DecompressorStream(source, zlib.decompressobj()))


def _lz4(source: IO[bytes]) -> IO[bytes]:
    import lz4.frame  # lazy: only lz4 files pay for it

    return cast(IO[bytes], lz4.frame.LZ4FrameFile(source, mode="rb"))


def _zstd(source: IO[bytes]) -> IO[bytes]:
    import zstandard  # lazy: only zstd files pay for it

    return cast(IO[bytes], zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True))


def _codec_errors() -> tuple[type[Exception], ...]:
    """What a codec raises on corrupt input (lz4 raises RuntimeError; zstandard its own ZstdError)."""
    import zstandard

    return (*CODEC_ERRORS, RuntimeError, zstandard.ZstdError)


def _decompress(ctx: ScanContext, label: str, codec: Codec, stream: IO[bytes], member: str, depth: int) -> str:
    inner = join(member, f"<{label}>")
    try:
        with ctx.expanded(stream, codec) as (spool, size):
            ctx.scan(spool, size, inner, depth + 1)
    except _codec_errors() as exc:
        ctx.gap(inner, f"{label} stream could not be decompressed ({type(exc).__name__}: {exc})")
    return label


def scan_gzip(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    return _decompress(ctx, "gzip", _gzip, stream, member, depth)


def scan_bz2(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    return _decompress(ctx, "bz2", _bz2, stream, member, depth)


def scan_xz(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    return _decompress(ctx, "xz", _xz, stream, member, depth)


def scan_lzma(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    return _decompress(ctx, "lzma", _lzma_alone, stream, member, depth)


def scan_zlib(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    return _decompress(ctx, "zlib", _zlib, stream, member, depth)


def scan_lz4(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    return _decompress(ctx, "lz4", _lz4, stream, member, depth)


def scan_zstd(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    return _decompress(ctx, "zstd", _zstd, stream, member, depth)


def scan_zfile(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    """joblib < 0.10: 'ZF', the uncompressed length in hex, then a zlib stream."""
    header = stream.read(22)
    start = 21 if header[21:22] != b" " else 22
    with window(stream, start, size - start) as payload:
        _decompress(ctx, "zlib", _zlib, payload, member, depth)
    return "zfile"
