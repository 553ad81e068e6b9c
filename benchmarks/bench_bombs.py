"""Small hostile files against `modelseal scan`: each must end within its bounds, named, never a hang or a pass.

    python benchmarks/bench_bombs.py            # builds the bombs in benchmarks/work/bombs, then scans each

For every bomb: wall seconds, the process tree's peak memory, the most bytes the scan's private temporary
directory held (TMPDIR is pointed at an empty directory and polled), the exit code and the bound the report names.
Nothing is asserted; tests/scanning/test_fail_closed.py holds the behaviour.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import struct
import sys
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from measure import timed

WORK = Path(__file__).resolve().parent / "work" / "bombs"
ZEROS = bytes(64 << 20)


def _stream_compress(path: Path, total: int, compressor: Callable[[], object]) -> None:
    engine = compressor()
    with open(path, "wb") as out:
        for _ in range(total // len(ZEROS)):
            out.write(engine.compress(ZEROS))  # type: ignore[attr-defined]
        out.write(engine.flush())  # type: ignore[attr-defined]


def _gzip_10g(path: Path) -> None:
    _stream_compress(path, 10 << 30, lambda: zlib.compressobj(9, zlib.DEFLATED, 31))


def _bz2_1g(path: Path) -> None:
    _stream_compress(path, 1 << 30, lambda: bz2.BZ2Compressor(1))


def _xz_2g(path: Path) -> None:
    _stream_compress(path, 2 << 30, lambda: lzma.LZMACompressor(preset=0))


def _nested_gzip(path: Path) -> None:
    data = bytes(256 << 20)
    for _ in range(3):
        data = gzip.compress(data, compresslevel=1)
    path.write_bytes(data)


def _zip_65k_entries(path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.pkl", b"\x80\x04N." + bytes(1 << 20))
    data = buffer.getvalue()
    eocd = data.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack("<L", data[eocd + 16 : eocd + 20])[0]
    directory = data[cd_offset:eocd] * 65_000
    end = b"PK\x05\x06" + struct.pack("<4H2LH", 0, 0, 65_000, 65_000, len(directory), cd_offset, 0)
    path.write_bytes(data[:cd_offset] + directory + end)


def _same_zlib_literals(path: Path) -> None:
    inner = b"\x80\x04" + b"".join(b"K" + bytes([i % 251]) + b"0" for i in range(20_000)) + b"N."
    literal = zlib.compress(inner, 9)
    path.write_bytes(b"\x80\x04" + (b"B" + struct.pack("<I", len(literal)) + literal + b"0") * 5_000 + b"N.")


def _nested_zlib_literals(path: Path) -> None:
    """Each literal differs (a repeated one is scanned once), and each expands to 20,000 opcodes."""
    items = []
    for n in range(5_000):
        inner = (
            b"\x80\x04"
            + struct.pack("<BI", 0x4A, n)
            + b"0"
            + b"".join(b"K" + bytes([i % 251]) + b"0" for i in range(20_000))
        )
        literal = zlib.compress(inner + b"N.")
        items.append(b"B" + struct.pack("<I", len(literal)) + literal + b"0")
    path.write_bytes(b"\x80\x04" + b"".join(items) + b"N.")


def _safetensors_dims(path: Path) -> None:
    header = json.dumps({"t": {"dtype": "F32", "shape": [2**62] * 200_000, "data_offsets": [0, 4]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(4))


def _gguf_empty_strings(path: Path) -> None:
    count = 10_000_000
    key = b"tokenizer.ggml.tokens"
    with open(path, "wb") as out:
        out.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key)
        out.write(struct.pack("<IIQ", 9, 8, count))
        out.write(bytes(8 * count))


def _jinja_filters(path: Path) -> None:
    path.write_text("{{ x" + "|trim" * 2_000_000 + " }}")


def _huge_literal(path: Path) -> None:
    size = 600 << 20
    with open(path, "wb") as out:
        out.write(b"\x80\x04\x8e" + struct.pack("<Q", size))
        out.seek(size, os.SEEK_CUR)
        out.write(b"N.")


def _deep_json(path: Path) -> None:
    path.write_text("[" * 1_000_000 + "]" * 1_000_000)


def _memo_bomb(path: Path) -> None:
    body = b"]q\x00"
    for level in range(39):
        body += b"(h" + bytes([level]) + b"h" + bytes([level]) + b"lq" + bytes([level + 1])
    path.write_bytes(b"\x80\x02" + body + b".")


BOMBS: dict[str, tuple[str, Callable[[Path], None]]] = {
    "gzip of 10 GiB of zeros": ("zeros.gz", _gzip_10g),
    "bz2 of 1 GiB of zeros": ("zeros.bz2", _bz2_1g),
    "xz of 2 GiB of zeros": ("zeros.xz", _xz_2g),
    "gzip in gzip in gzip (256 MiB)": ("nested.gz", _nested_gzip),
    "65,000 zip entries, one member": ("entries.zip", _zip_65k_entries),
    "5,000 same zlib literals in a pickle": ("same-literals.pkl", _same_zlib_literals),
    "5,000 distinct zlib literals": ("literals.pkl", _nested_zlib_literals),
    "safetensors, 200k dims of 2^62": ("dims.safetensors", _safetensors_dims),
    "GGUF, 10M empty strings": ("strings.gguf", _gguf_empty_strings),
    "Jinja, 2M chained filters": ("chat_template.jinja", _jinja_filters),
    "600 MiB pickle literal (sparse)": ("literal.pkl", _huge_literal),
    "JSON nested 1M deep": ("config.json", _deep_json),
    "memo bomb (2^39 references)": ("memo.pkl", _memo_bomb),
}


def _watch(directory: Path, stop: threading.Event, peak: list[int]) -> None:
    """Bytes held in files under `directory` by any process, deleted ones included (spools are unlinked)."""
    prefix = str(directory)
    while not stop.wait(0.02):
        total = 0
        for fd in Path("/proc").glob("[0-9]*/fd/*"):
            try:
                if os.readlink(fd).startswith(prefix):
                    total += os.stat(fd).st_blocks * 512
            except OSError:
                continue
        peak[0] = max(peak[0], total)


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"{'bomb':<34} {'file':>9} {'seconds':>8} {'peak MB':>8} {'tmp MB':>7} exit  bound named")
    for label, (name, build) in BOMBS.items():
        path = WORK / name
        if not path.exists():
            build(path)
        with tempfile.TemporaryDirectory(prefix="bomb-tmp-") as scratch:
            stop, peak = threading.Event(), [0]
            watcher = threading.Thread(target=_watch, args=(Path(scratch), stop, peak))
            watcher.start()
            command = [sys.executable, "-m", "modelseal", "scan", "--format", "json", str(path)]
            run = timed(command, check=False, env={"TMPDIR": scratch})
            stop.set()
            watcher.join()
        try:
            (result,) = json.loads(run.output[run.output.index("{") :])["files"]
            named = (result["notes"] or [result["status"]])[0]
        except (ValueError, KeyError):
            named = run.output.strip().splitlines()[-1][:60] if run.output.strip() else "?"
        size = path.stat().st_blocks * 512 / (1 << 20)
        print(
            f"{label:<34} {size:>7.1f}MB {run.seconds:>8.2f} {run.peak_mb:>8.0f} {peak[0] / (1 << 20):>7.1f} "
            f"{run.returncode:>4}  {named[:90]}"
        )


if __name__ == "__main__":
    main()
