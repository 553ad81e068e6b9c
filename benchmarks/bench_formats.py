"""A model directory in today's formats: does the scan read headers and configs, not weights?

    pip install -e '.[test]'
    python benchmarks/bench_formats.py     # uses the peers' venv from bench_scanning.py for ModelAudit

Builds a directory with a 1 GB safetensors file, a 200 MB .keras model and a 500 MB GGUF, then measures, in one
run: the time to read every byte (page cache warm), `modelseal scan` on the directory, and ModelAudit on the same
directory; prints the scan time as a share of the read time and the ratio to ModelAudit. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench_scanning import QUIET, peers_venv
from measure import timed

REPO = Path(__file__).resolve().parents[1]


def build(directory: Path) -> Path:
    model = directory / "formats-model"
    model.mkdir(parents=True, exist_ok=True)
    if not (model / "model.safetensors").exists():
        import numpy as np
        from safetensors.numpy import save_file

        save_file(
            {f"layer{i}": np.ones((4096, 4096), dtype=np.float32) for i in range(15)},  # 15 x 64 MiB
            str(model / "model.safetensors"),
        )
    if not (model / "model.keras").exists():
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras

        keras.Sequential([keras.Input((4096,)), *[keras.layers.Dense(4096) for _ in range(3)]]).save(
            model / "model.keras"
        )
    if not (model / "model.gguf").exists():
        import gguf
        import numpy as np

        writer = gguf.GGUFWriter(str(model / "model.gguf"), "llama")
        writer.add_chat_template("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}")
        for i in range(8):  # 8 x 64 MiB
            writer.add_tensor(f"blk.{i}.weight", np.ones((4096, 4096), dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return model


def read_all(model: Path) -> tuple[float, int]:
    buffer, total = bytearray(8 << 20), 0
    start = time.perf_counter()
    for path in sorted(model.iterdir()):
        with open(path, "rb", buffering=0) as handle:
            while count := handle.readinto(buffer):
                total += count
    return time.perf_counter() - start, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks" / "work")
    parser.add_argument("--no-install", action="store_true")
    args = parser.parse_args()
    model = build(args.workdir)
    bin_dir = peers_venv(args.workdir, not args.no_install)
    read_all(model)  # warm the page cache
    read_seconds, total = read_all(model)
    ours = min(
        (
            timed([str(Path(sys.executable).parent / "modelseal"), "scan", str(model), "--format", "json"], check=False)
            for _ in range(3)
        ),
        key=lambda r: r.seconds,
    )
    audit = timed([str(bin_dir / "modelaudit"), "scan", str(model)], check=False, env=QUIET)
    from modelseal.scanning.scanner import scan_paths

    scan_paths([model])  # imports loaded once; what is left is the scan's own work
    start = time.perf_counter()
    scan_paths([model])
    work = time.perf_counter() - start
    print(f"{total / 1e9:.2f} GB in {model}")
    print(f"read every byte (warm):  {read_seconds:8.3f} s")
    print(
        f"modelseal scan:          {ours.seconds:8.3f} s  ({100 * ours.seconds / read_seconds:.1f}% of the read time; "
        f"exit {ours.returncode}; peak {ours.peak_mb:.0f} MB)"
    )
    print(
        f"  of which scanning:     {work:8.4f} s  ({100 * work / read_seconds:.1f}% of the warm read; in-process, "
        "after start-up and imports)"
    )
    print(f"ModelAudit scan:         {audit.seconds:8.3f} s  (exit {audit.returncode}; peak {audit.peak_mb:.0f} MB)")
    print(f"ModelAudit / modelseal:  {audit.seconds / ours.seconds:8.1f}x")


if __name__ == "__main__":
    main()
