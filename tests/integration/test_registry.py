"""`modelseal registry` on a real local Ray cluster (2 CPUs, no dashboard) and on the local engine: signatures
that plain `verify` accepts and serial `digest` reproduces, verdicts a serial scan agrees with, retries of dead
workers, time limits, and resuming after a crash."""

from __future__ import annotations

import json
import os
import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelseal.oms.options import HashingOptions
from modelseal.registry.engines import Failed, LocalEngine, RayEngine
from modelseal.registry.models import discover
from modelseal.registry.run import RegistryJob, run_registry
from modelseal.registry.tasks import RangeSpec, hash_ranges
from modelseal.scanning.pool import Workers
from modelseal.signing.key import KeySigner
from tests.integration.test_cli import modelseal
from tests.scanning.pickles import system

MALICIOUS = {"org1/model3", "org0/model8"}


def _build_registry(root: Path) -> Path:
    """Twenty small models in ORG/NAME layout, made by the real libraries: torch zips, safetensors shards,
    pickles and configs; two carry a malicious pickle."""
    import numpy as np
    import torch
    from safetensors.numpy import save_file

    for index in range(20):
        model = root / f"org{index % 2}" / f"model{index}"
        model.mkdir(parents=True)
        (model / "config.json").write_text(json.dumps({"architectures": ["Tiny"], "hidden_size": index + 1}))
        kind = index % 3
        if kind == 0:
            torch.save({"weight": torch.full((4, 4), float(index))}, model / "pytorch_model.bin")
        elif kind == 1:
            for shard in (1, 2):
                save_file({"w": np.full((64,), index, dtype=np.float32)}, str(model / f"model-0000{shard}.safetensors"))
        else:
            (model / "state.pkl").write_bytes(pickle.dumps({"step": index, "lr": 0.1}))
        (model / "weights.dat").write_bytes(os.urandom(8192 + index))
        if f"org{index % 2}/model{index}" in MALICIOUS:
            (model / "extra.pkl").write_bytes(system("id"))
    return root


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture
def registry_root(tmp_path: Path) -> Path:
    return _build_registry(tmp_path / "models")


def _records(results: Path) -> dict[str, dict[str, Any]]:
    lines = results.read_text().splitlines()
    return {Path(r["model"]).parent.name + "/" + Path(r["model"]).name: r for r in map(json.loads, lines)}


def test_sign_on_ray_verifies_reproduces_the_serial_digest_and_agrees_with_a_serial_scan(
    ray_cluster: None, registry_root: Path, make_key_pair: Any, tmp_path: Path
) -> None:
    pair = make_key_pair()
    results = tmp_path / "results.jsonl"
    job = RegistryJob(sign=True, workers=Workers(2, 60, 1 << 30))
    engine = RayEngine(None, 2)
    outcome = run_registry(discover(registry_root), job, engine, results, lambda: KeySigner.from_file(pair.private))
    engine.close()
    records = _records(results)
    assert len(records) == len(outcome.records) == 20
    for name, record in records.items():
        model = registry_root / name
        verified = modelseal("verify", "key", model, "--public-key", pair.public, "--json")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        digest = modelseal("digest", "--no-cache", model)
        assert (
            digest.stdout.split()[-1] == record["root_digest"] == json.loads(verified.stdout)["root_digest"]["sha256"]
        )
        scanned = modelseal("scan", "--no-cache", "--jobs", "1", model)
        expected = "failed" if name in MALICIOUS else "passed"
        assert record["verdict"] == expected, record
        assert scanned.returncode == (1 if name in MALICIOUS else 0), scanned.stdout  # the serial scan agrees
        assert Path(record["attestation"]).is_file()


def test_shards_of_one_file_spread_over_tasks_and_verify(ray_cluster: None, tmp_path: Path, make_key_pair: Any) -> None:
    model = tmp_path / "org" / "big"
    model.mkdir(parents=True)
    (model / "weights.bin").write_bytes(os.urandom(300_000))  # 74 shards of 4 KiB
    pair = make_key_pair()
    job = RegistryJob(sign=True, hashing=HashingOptions(shard_size=4096), workers=Workers(2))
    engine = RayEngine(None, 2)
    run_registry([model], job, engine, tmp_path / "r.jsonl", lambda: KeySigner.from_file(pair.private))
    engine.close()
    assert modelseal("verify", "key", model, "--public-key", pair.public).returncode == 0
    serial = modelseal("digest", "--no-cache", "--shard-size", "4096", model).stdout.split()[-1]
    assert _records(tmp_path / "r.jsonl")["org/big"]["root_digest"] == serial


def _ranges(model: Path) -> list[RangeSpec]:
    from modelseal.tree import identity_of

    files = sorted(p for p in model.rglob("*") if p.is_file())
    return [(str(p), 0, p.stat().st_size, identity_of(p.stat())) for p in files]


def exit_once(marker: str, batch: list[RangeSpec], hash_type: str) -> list[str]:
    """The real task, but its worker dies (os._exit) the first time it runs."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return hash_ranges(batch, hash_type)


def always_exit(batch: list[RangeSpec], hash_type: str) -> list[str]:
    os._exit(1)


def sleep_past_the_limit(seconds: float) -> str:
    time.sleep(seconds)
    return "late"


def test_a_worker_killed_mid_task_is_retried_and_the_result_is_unchanged(
    ray_cluster: None, registry_root: Path, tmp_path: Path
) -> None:
    ranges = _ranges(registry_root / "org0" / "model0")
    expected = hash_ranges(ranges, "sha256")
    marker = str(tmp_path / "died-once")
    engine = RayEngine(None, 2)
    [(_, result)] = list(engine.map(exit_once, [(marker, ranges, "sha256")], [120.0]))
    assert Path(marker).exists() and result == expected
    [(_, failed)] = list(engine.map(always_exit, [(ranges, "sha256")], [120.0]))
    assert isinstance(failed, Failed), failed
    assert "WorkerCrashedError" in failed.reason


def test_a_task_past_its_limit_is_stopped_and_reported(ray_cluster: None) -> None:
    engine = RayEngine(None, 2)
    outcomes = dict(engine.map(sleep_past_the_limit, [(60.0,), (0.0,)], [2.0, 30.0]))
    assert isinstance(outcomes[0], Failed) and "limit of 2 s" in outcomes[0].reason  # cancelled, not awaited
    assert outcomes[1] == "late"


def test_a_file_past_its_time_limit_makes_only_its_model_incomplete(ray_cluster: None, tmp_path: Path) -> None:
    root = _build_registry(tmp_path / "models")
    (root / "org1" / "model5" / "slow.pkl").write_bytes(b"\x80\x02" + b"N0" * 3_000_000 + b"N.")
    results = tmp_path / "results.jsonl"
    engine = RayEngine(None, 2)
    run_registry(discover(root), RegistryJob(workers=Workers(2, 1.0, 1 << 30)), engine, results)
    engine.close()
    verdicts = {name: record["verdict"] for name, record in _records(results).items()}
    assert verdicts.pop("org1/model5") == "inconclusive"
    assert verdicts == {name: "failed" if name in MALICIOUS else "passed" for name in verdicts}


def test_a_rerun_skips_models_already_recorded(registry_root: Path, tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    models = discover(registry_root)
    first = run_registry(models[:7], RegistryJob(), LocalEngine(2), results)
    with open(results, "a") as handle:
        handle.write('{"model": "torn')  # the run crashed while writing a line
    second = run_registry(models, RegistryJob(), LocalEngine(2), results)
    assert (len(first.records), second.skipped, len(second.records)) == (7, 7, 13)
    assert len(_records_without_torn(results)) == 20


def _records_without_torn(results: Path) -> list[dict[str, Any]]:
    records = []
    for line in results.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def test_the_cli_scans_a_registry_locally_and_checks_it(
    registry_root: Path, make_key_pair: Any, tmp_path: Path
) -> None:
    pair = make_key_pair()
    signed = modelseal(
        "registry", "sign", registry_root, "--private-key", pair.private, "--results", tmp_path / "s.jsonl",
        "--sarif", tmp_path / "s.sarif", "--no-cache",
    )  # fmt: skip
    assert signed.returncode == 1, signed.stdout + signed.stderr  # two models fail their scan
    assert "20 model(s): 18 passed, 2 failed, 0 inconclusive" in signed.stdout
    sarif = json.loads((tmp_path / "s.sarif").read_text())
    messages = [r["message"]["text"] for r in sarif["runs"][0]["results"]]
    assert sum("os.system('id')" in text for text in messages) == 2
    policy = tmp_path / "trust.toml"
    policy.write_text(f'version = 1\n\n[[signers]]\nname = "k"\nmethod = "key"\npublic-key = "{pair.public}"\n')
    checked = modelseal("registry", "check", registry_root, "--policy", policy, "--results", tmp_path / "c.jsonl")
    assert checked.returncode == 1
    verdicts = {name: r["verdict"] for name, r in _records(tmp_path / "c.jsonl").items()}
    assert verdicts == {name: "failed" if name in MALICIOUS else "passed" for name in verdicts} and len(verdicts) == 20


def test_a_model_list_and_a_missing_entry(registry_root: Path, tmp_path: Path) -> None:
    listing = tmp_path / "models.txt"
    listing.write_text(f"# two models\n{registry_root / 'org0' / 'model0'}\n{registry_root / 'org1' / 'model1'}\n")
    assert [p.name for p in discover(listing)] == ["model0", "model1"]
    listing.write_text("not/here/at-all\n")
    result = modelseal("registry", "scan", listing, "--results", tmp_path / "r.jsonl")
    assert result.returncode == 2 and "neither a path nor" in result.stderr


def test_a_file_changed_between_hashing_and_scanning_is_neither_judged_nor_signed(
    registry_root: Path, tmp_path: Path, make_key_pair: Any
) -> None:
    victim = registry_root / "org0" / "model0" / "weights.dat"

    class SwapBeforeScanning(LocalEngine):
        def map(self, function: Any, inputs: Any, timeouts: Any) -> Any:
            if function.__name__ == "scan_files":
                victim.write_bytes(os.urandom(100))  # after its digest was taken, before it is scanned
            return super().map(function, inputs, timeouts)

    pair = make_key_pair()
    results = tmp_path / "results.jsonl"
    models = [registry_root / "org0" / "model0", registry_root / "org1" / "model1"]
    run_registry(
        models, RegistryJob(sign=True), SwapBeforeScanning(2), results, lambda: KeySigner.from_file(pair.private)
    )
    records = _records(results)
    assert records["org0/model0"]["verdict"] == "inconclusive"
    assert "changed while it was hashed and scanned: weights.dat" in records["org0/model0"]["problems"][0]
    assert records["org0/model0"]["signature"] is None and not (victim.parent / "model.sig").exists()
    assert records["org1/model1"]["verdict"] == "passed" and records["org1/model1"]["signature"]
