"""A dataset of a million small files: sign, verify and re-sign after one edit, against model-signing 1.1.1.

    python benchmarks/bench_dataset.py --workdir /tmp/bench --files 1000000   # ~4.1 GB, 1,000 directories

Each tool runs as its own process, in this order, with the page cache as the machine leaves it (this VM reclaims
idle page cache within seconds, and a million files do not stay warm: these are mostly disk-bound runs, so the
later ones, the reference's included, are the ones that may find files still cached). Prints wall time, files per
second and peak memory of the process tree as each run ends. `--skip-reference` leaves the reference out.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_signing import BIN, make_keys
from measure import Run, timed

PER_DIRECTORY = 1000


def build(root: Path, files: int) -> None:
    """`files` files of 4 KiB, 1,000 per directory, each with distinct content."""
    marker = root.parent / f"{root.name}.complete"
    if marker.exists():
        return
    payload = os.urandom(4096)
    for index in range(files):
        directory = root / f"{index // PER_DIRECTORY:05d}"
        if index % PER_DIRECTORY == 0:
            directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{index % PER_DIRECTORY:04d}.bin").write_bytes(payload[:4088] + index.to_bytes(8, "big"))
    marker.touch()


def modelseal(op: str, root: Path, signature: Path, keys: dict[str, Path], cache: Path, *extra: str) -> Run:
    key = ["--private-key", str(keys["private"])] if op == "sign" else ["--public-key", str(keys["public"])]
    command = [str(BIN / "modelseal"), op, "key", str(root), "--signature", str(signature), *key, *extra]
    return timed(command, env={"MODELSEAL_CACHE_DIR": str(cache)})


def reference(op: str, root: Path, signature: Path, keys: dict[str, Path]) -> Run:
    flag, key = ("--private_key", keys["private"]) if op == "sign" else ("--public_key", keys["public"])
    return timed([str(BIN / "model_signing"), op, "key", str(root), "--signature", str(signature), flag, str(key)])


def edit_then(tool: Callable[..., Run], *args: Any) -> Run:
    """Change one file's content, then run: the re-sign after a small edit."""
    edited = args[1] / "00000" / "0000.bin"
    edited.write_bytes(b"edited" + edited.read_bytes()[6:])
    return tool(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=None, help="where to build the dataset (kept if given)")
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="modelseal-bench-"))
    root = work / f"dataset-{args.files}"
    try:
        build(root, args.files)
        keys = make_keys(work)
        cache = work / f"cache-{args.files}"
        shutil.rmtree(cache, ignore_errors=True)
        ours, theirs = work / f"dataset-{args.files}-modelseal.sig", work / f"dataset-{args.files}-reference.sig"
        print(f"{args.files:,} files of 4 KiB in {args.files // PER_DIRECTORY:,} directories")
        print(f"{'run':<36}{'wall s':>9}{'files/s':>12}{'peak MB':>9}", flush=True)
        runs = [
            ("modelseal sign --no-cache", lambda: modelseal("sign", root, ours, keys, cache, "--no-cache")),
            ("modelseal verify", lambda: modelseal("verify", root, ours, keys, cache)),
            ("modelseal sign (fills cache)", lambda: modelseal("sign", root, ours, keys, cache)),
            ("modelseal re-sign, 1 file edited", lambda: edit_then(modelseal, "sign", root, ours, keys, cache)),
        ]
        if not args.skip_reference:
            runs.append(("model-signing sign", lambda: reference("sign", root, theirs, keys)))
        for name, run in runs:
            result = run()
            print(
                f"{name:<36}{result.seconds:>9.1f}{args.files / result.seconds:>12,.0f}{result.peak_mb:>9.0f}",
                flush=True,
            )
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
