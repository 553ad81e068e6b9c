"""A dataset of a million small files: sign, verify and re-sign after one edit, against model-signing 1.1.1.

    python benchmarks/bench_dataset.py --workdir /tmp/bench --files 1000000   # ~4.1 GB, 1,000 directories

Each tool runs as its own process, page cache warm; wall time, peak memory of the process tree, files per
second and the ratio to the reference. `--skip-reference` leaves the reference out (it takes minutes here).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from bench_signing import BIN, make_keys, warm
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
        rows: list[tuple[str, Run]] = []
        warm(root)
        rows.append(("modelseal sign --no-cache", modelseal("sign", root, ours, keys, cache, "--no-cache")))
        warm(root)
        rows.append(("modelseal verify", modelseal("verify", root, ours, keys, cache)))
        warm(root)
        rows.append(("modelseal sign (fills cache)", modelseal("sign", root, ours, keys, cache)))
        edited = root / "00000" / "0000.bin"
        edited.write_bytes(b"edited" + edited.read_bytes()[6:])
        warm(root)
        rows.append(("modelseal re-sign, 1 file edited", modelseal("sign", root, ours, keys, cache)))
        if not args.skip_reference:
            warm(root)
            rows.append(("model-signing sign", reference("sign", root, theirs, keys)))
            warm(root)
            rows.append(("model-signing verify", reference("verify", root, theirs, keys)))
        by_name = dict(rows)
        print(f"{args.files:,} files of 4 KiB in {args.files // PER_DIRECTORY:,} directories")
        print(f"{'run':<36}{'wall s':>9}{'files/s':>12}{'peak MB':>9}{'vs ref':>9}")
        for name, run in rows:
            op = "verify" if "verify" in name else "sign"
            ref = by_name.get(f"model-signing {op}")
            ratio = f"{ref.seconds / run.seconds:>8.1f}x" if ref and not name.startswith("model-") else ""
            print(f"{name:<36}{run.seconds:>9.1f}{args.files / run.seconds:>12,.0f}{run.peak_mb:>9.0f}{ratio}")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
