"""Registry scale: a synthetic registry of 200 models scanned and signed serially, with --jobs 2, on the local
registry engine and on a local Ray cluster; the rerun with the scan cache warm; picklescan on the same tree.

    pip install -e '.[test]'                       # torch and safetensors build the models, ray runs the cluster
    python benchmarks/bench_registry.py            # builds benchmarks/work/registry once, then times every run
    python benchmarks/bench_registry.py --peers    # also picklescan, installed into benchmarks/work/peers-venv

Every run is a fresh CLI process on the same tree (the page cache warm: every byte is read once before timing);
every case runs --repeat times (3), interleaved with the others, and the median is reported with the range.
The Ray figures include starting and stopping a local cluster; its start-up and per-task costs are measured on
their own, and so is what stays serial on the driver (listing, merging digests, cache lookups, signing, the
result line), per model. Nothing is asserted: tests/integration/test_registry.py holds the behaviour.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from measure import Run, timed

WORK = Path(__file__).resolve().parent / "work"
REGISTRY = WORK / "registry"
MODELSEAL = [sys.executable, "-m", "modelseal"]
MODELS = 200


def build_registry(root: Path) -> Path:
    """200 models in ORG/NAME layout: torch zip checkpoints, safetensors shards, pickled estimators' state (the
    expensive kind to scan), configs and tokenizers; every 25th carries a malicious pickle."""
    if (root / "done").exists():
        for document in (*root.rglob("model.sig"), *root.rglob("model.scan.sig")):
            document.unlink()  # an earlier run's signatures: every run starts from the same tree
        return root
    import numpy as np
    import torch
    from safetensors.numpy import save_file

    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(0)
    for index in range(MODELS):
        model = root / f"org{index % 10}" / f"model{index:03d}"
        model.mkdir(parents=True)
        (model / "config.json").write_text(json.dumps({"architectures": ["Bench"], "hidden_size": 64 + index}))
        (model / "tokenizer.json").write_text(json.dumps({"vocab": {f"t{i}": i for i in range(2000)}}))
        kind = index % 3
        if kind == 0:
            torch.save({f"layer{i}": torch.from_numpy(rng.standard_normal((256, 256), np.float32)) for i in range(8)},
                       model / "pytorch_model.bin")  # fmt: skip
        elif kind == 1:
            for shard in (1, 2):
                tensors = {f"w{i}": rng.standard_normal((256, 256), np.float32) for i in range(4)}
                save_file(tensors, str(model / f"model-{shard:05d}-of-00002.safetensors"))
        else:
            rows = [
                {"id": i, "name": f"tree-{i}", "split": [i % 7, i * 0.5], "leaf": i % 2 == 0} for i in range(20_000)
            ]
            (model / "estimator.pkl").write_bytes(pickle.dumps(rows, protocol=4))
        if index % 25 == 7:
            (model / "extra_state.pkl").write_bytes(b"\x80\x04cposix\nsystem\n(\x8c\x02idtR.")
    (root / "done").touch()
    return root


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


@dataclass(frozen=True)
class Case:
    name: str
    command: list[str]
    env: dict[str, str]
    before: Callable[[], None] = lambda: None  # run before every repetition (fresh results file, empty cache)


def run_cases(cases: list[Case], repeat: int) -> list[dict[str, Any]]:
    """Every case `repeat` times, round-robin (so drift of the machine spreads over all), reported at the median."""
    runs: dict[str, list[Run]] = {case.name: [] for case in cases}
    for _ in range(repeat):
        for case in cases:
            case.before()
            run = timed(case.command, check=False, env=case.env)
            if run.returncode not in (0, 1):
                raise SystemExit(f"{case.name} failed ({run.returncode}):\n{run.output[-3000:]}")
            runs[case.name].append(run)
    rows = []
    for case in cases:
        ordered = sorted(runs[case.name], key=lambda r: r.seconds)
        median = ordered[len(ordered) // 2]
        spread = f"{ordered[0].seconds:.2f}-{ordered[-1].seconds:.2f}"
        rows.append({"name": case.name, "seconds": median.seconds, "spread": spread, "peak_mb": median.peak_mb,
                     "exit": median.returncode})  # fmt: skip
    return rows


def ray_costs() -> dict[str, float]:
    """Start-up and shut-down of a local 2-CPU Ray, and the cost of one no-op task, in a fresh process."""
    program = """
import json, time
import ray
start = time.perf_counter()
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
started = time.perf_counter()
@ray.remote
def nothing(x):
    return x
ray.get([nothing.remote(i) for i in range(50)])
warm = time.perf_counter()
ray.get([nothing.remote(i) for i in range(2000)])
tasks = time.perf_counter()
ray.shutdown()
print(json.dumps({"start_s": started - start, "task_ms": (tasks - warm) / 2000 * 1000,
                  "shutdown_s": time.perf_counter() - tasks}))
"""
    output = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def driver_cost(root: Path, sign: bool) -> dict[str, float]:
    """Wall time of the registry driver with tasks run inline and timed: what is left is the driver's own work."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from modelseal.registry.engines import LocalEngine
    from modelseal.registry.models import discover
    from modelseal.registry.run import RegistryJob, run_registry
    from modelseal.scanning.pool import Workers
    from modelseal.signing.key import KeySigner
    from modelseal.signing.keys import SoftwareKey

    class TimedEngine(LocalEngine):
        spent = 0.0

        def map(self, function: Any, inputs: Any, timeouts: Any) -> Any:
            def timed_call(*arguments: Any) -> Any:
                started = time.perf_counter()
                try:
                    return function(*arguments)
                finally:
                    TimedEngine.spent += time.perf_counter() - started

            return super().map(timed_call, inputs, timeouts)

    models = discover(root)
    engine = TimedEngine(1)
    signer = (lambda: KeySigner(SoftwareKey(ec.generate_private_key(ec.SECP256R1())))) if sign else None
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        run_registry(models, RegistryJob(sign=sign, workers=Workers(1)), engine, Path(scratch) / "r.jsonl", signer)
        wall = time.perf_counter() - started
    return {"per_model_ms": (wall - TimedEngine.spent) / len(models) * 1000, "tasks_s": TimedEngine.spent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peers", action="store_true", help="also time picklescan (installed into the peers venv)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every case (the median is reported)")
    args = parser.parse_args()
    root = build_registry(REGISTRY)
    files = sum(1 for p in root.rglob("*") if p.is_file() and p.name != "done")
    print(f"registry: {MODELS} models, {files} files, {_size(root) / 1e6:.0f} MB; {os.cpu_count()} CPUs")
    for path in root.rglob("*"):
        if path.is_file():
            path.read_bytes()  # the page cache warm for every run alike
    key = WORK / "registry-key.pem"
    if not key.exists():
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)], check=True)
    with tempfile.TemporaryDirectory() as scratch:
        cache_dir = Path(scratch) / "cache"
        cache = {"MODELSEAL_CACHE_DIR": str(cache_dir)}
        none = {"MODELSEAL_CACHE_DIR": str(Path(scratch) / "unused")}
        results = Path(scratch) / "results.jsonl"

        def empty_cache() -> None:
            shutil.rmtree(cache_dir, ignore_errors=True)

        def fresh_results() -> None:
            results.unlink(missing_ok=True)
            for document in (*root.rglob("model.sig"), *root.rglob("model.scan.sig")):
                document.unlink()

        def registry(*extra: str) -> list[str]:
            return [*MODELSEAL, "registry", *extra, str(root), "--results", str(results), "--no-cache"]

        def sign(*extra: str) -> list[str]:
            return registry("sign", "--private-key", str(key), *extra)

        scan = [*MODELSEAL, "scan", str(root), "--jobs"]
        cases = [
            Case("scan --jobs 1 (serial)", [*scan, "1", "--no-cache"], none),
            Case("scan --jobs 2", [*scan, "2", "--no-cache"], none),
            Case("scan --jobs 2, cache cold", [*scan, "2"], cache, empty_cache),
            Case("scan --jobs 2, cache warm", [*scan, "2"], cache),
            Case("registry scan, local -j 1", registry("scan", "--jobs", "1"), none, fresh_results),
            Case("registry scan, local -j 2", registry("scan", "--jobs", "2"), none, fresh_results),
            Case("registry scan, ray -j 2", registry("scan", "--engine", "ray", "--jobs", "2"), none, fresh_results),
            Case("registry sign, local -j 1", sign("--jobs", "1"), none, fresh_results),
            Case("registry sign, local -j 2", sign("--jobs", "2"), none, fresh_results),
            Case("registry sign, ray -j 2", sign("--engine", "ray", "--jobs", "2"), none, fresh_results),
        ]  # fmt: skip
        if args.peers:
            from bench_scanning import peers_venv

            picklescan = peers_venv(WORK, install=True) / "picklescan"
            cases.append(Case("picklescan -p (serial, peer)", [str(picklescan), "-p", str(root)], none))
        rows = run_cases(cases, args.repeat)
        fresh_results()
    serial_scan, serial_sign = rows[0]["seconds"], rows[7]["seconds"]
    print(f"\nmedian of {args.repeat} runs each, interleaved")
    print("\n| run | seconds | range | vs serial | peak MB | exit |\n|---|---|---|---|---|---|")
    for row in rows:
        base = serial_sign if row["name"].startswith("registry sign") else serial_scan
        ratio = base / row["seconds"]
        print(
            f"| {row['name']} | {row['seconds']:.2f} | {row['spread']} | {ratio:.2f}x | {row['peak_mb']:.0f} "
            f"| {row['exit']} |"
        )
    costs = ray_costs()
    print(f"\nRay, local 2 CPUs: start {costs['start_s']:.2f} s, stop {costs['shutdown_s']:.2f} s, "
          f"{costs['task_ms']:.2f} ms per no-op task")  # fmt: skip
    for sign in (False, True):
        cost = driver_cost(root, sign)
        print(f"driver ({'sign' if sign else 'scan'}): {cost['per_model_ms']:.1f} ms per model serial on the driver; "
              f"tasks {cost['tasks_s']:.1f} s in all")  # fmt: skip


if __name__ == "__main__":
    main()
