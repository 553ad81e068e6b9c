"""Compressed streams, each opened by the library made for it, all drawing on the file's one budget: gzip, bz2,
xz/lzma, zlib (joblib's compressors, and joblib < 0.10's 'ZF' files), lz4 frames (joblib) and zstd frames
(pandas `.zst`). The content is scanned by what it is, whatever the file is called."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from collections.abc import Callable
from typing import IO, TypeAlias, cast

from modelseal.scanning.containers.zip import DecompressorStream
from modelseal.scanning.context import CorruptStreamError, ScanContext, join
from modelseal.scanning.registry import FormatScanner
from modelseal.scanning.streams import window

Codec = Callable[[IO[bytes]], IO[bytes]]
Decoder: TypeAlias = "zlib._Decompress | bz2.BZ2Decompressor | lzma.LZMADecompressor"
PROBE_BYTES = 64 * 1024


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


def _decompress(
    ctx: ScanContext,
    label: str,
    codec: Codec,
    stream: IO[bytes],
    size: int,
    member: str,
    depth: int,
    decoder: Callable[[], Decoder] | None = None,
) -> str:
    inner = join(member, f"<{label}>")
    try:
        with ctx.expanded(stream, codec) as (spool, expanded_size):
            ctx.scan(spool, expanded_size, inner, depth + 1)
    except CorruptStreamError as exc:
        prefix = _prefix_before_break(decoder(), stream, ctx) if decoder is not None else None
        if prefix is None:
            ctx.gap(inner, f"{label} stream could not be decompressed ({exc})")
            return label
        return _scan_prefix(ctx, label, prefix, stream, size, member, depth)
    return label


def _prefix_before_break(decoder: Decoder, stream: IO[bytes], ctx: ScanContext) -> bytes | None:
    """What a streaming loader gets out of a stream that breaks early: the decoder is fed one byte at a time, so
    nothing decoded before the break is lost with the error. None when it does not break within the first
    PROBE_BYTES, or breaks only after its end (a stream that far along is not salvaged: it stays inconclusive)."""
    stream.seek(0)
    head = stream.read(PROBE_BYTES)
    stream.seek(0)
    decoded = bytearray()
    try:
        for index in range(len(head)):
            piece = decoder.decompress(head[index : index + 1])
            ctx.budget.expand(len(piece))
            decoded += piece
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
        return bytes(decoded)
    if len(head) < PROBE_BYTES and not decoder.eof:
        return bytes(decoded)  # the file ends inside the stream: a loader reads this much, then fails
    return None


def _scan_prefix(
    ctx: ScanContext, label: str, prefix: bytes, stream: IO[bytes], size: int, member: str, depth: int
) -> str:
    """A loader reads the prefix and then fails: the prefix is scanned for what it would run. Random weights that
    merely start like a zlib or gzip header (one random file in ~8,000 for zlib) decode to nothing or to noise:
    they are data, not an inconclusive archive."""
    inner = join(member, f"<{label}, broken after {len(prefix):,} bytes>")
    before = len(ctx.findings), len(ctx.gaps)
    found = ctx.scan_bytes(prefix, inner, depth + 1) if prefix else "unknown"
    if found == "unknown" and (len(ctx.findings), len(ctx.gaps)) == before:
        from modelseal.scanning.formats import data

        return data.scan(ctx, stream, size, member, depth) or "data"
    ctx.note(inner, f"the {label} stream breaks there; a loader reads what came before, which was scanned")
    return label


def _scanner(label: str, codec: Codec, decoder: Callable[[], Decoder] | None = None) -> FormatScanner:
    def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
        return _decompress(ctx, label, codec, stream, size, member, depth, decoder)

    return scan


# Magics of two or three bytes are met by chance in raw tensor data; those formats get a decoder to probe with.
scan_gzip = _scanner("gzip", _gzip, lambda: zlib.decompressobj(16 + zlib.MAX_WBITS))
scan_bz2 = _scanner("bz2", _bz2, bz2.BZ2Decompressor)
scan_xz = _scanner("xz", _xz)
scan_lzma = _scanner("lzma", _lzma_alone, lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE))
scan_zlib = _scanner("zlib", _zlib, zlib.decompressobj)
scan_lz4 = _scanner("lz4", _lz4)
scan_zstd = _scanner("zstd", _zstd)


def scan_zfile(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    """joblib < 0.10: 'ZF', the uncompressed length in hex, then a zlib stream."""
    header = stream.read(22)
    start = 21 if header[21:22] != b" " else 22
    with window(stream, start, size - start) as payload:
        _decompress(ctx, "zlib", _zlib, payload, size - start, member, depth)
    return "zfile"
