"""Hostile models and signatures against `modelseal verify`: each must end in a refusal, quickly, within bounds.

    python benchmarks/bench_gate_bombs.py      # builds each case in benchmarks/work/gate-bombs, then verifies it

The attacker controls the files (and, for the shard and JSON cases, is the signer). For every case: wall
seconds, the process tree's peak memory, the exit code and the first line of the refusal. Nothing is asserted;
tests/integration/test_gate_attacks.py holds the behaviour.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from measure import timed

WORK = Path(__file__).resolve().parent / "work" / "gate-bombs"
MODELSEAL = [sys.executable, "-m", "modelseal"]


def _keys() -> tuple[Path, Path]:
    private, public = WORK / "key.pem", WORK / "key.pub"
    if not private.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        public.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    return private, public


def _model(name: str, *extra: str) -> Path:
    """A fresh small model, signed (extra arguments go to `sign`)."""
    model = WORK / name
    subprocess.run(["rm", "-rf", str(model)], check=True)  # shutil.rmtree recurses: the 1,100-level case ends it
    model.mkdir(parents=True)
    (model / "config.json").write_text('{"hidden": 8}')
    (model / "weights.bin").write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    private, _ = _keys()
    subprocess.run(
        [*MODELSEAL, "sign", "key", str(model), "--private-key", str(private), *extra], check=True, capture_output=True
    )
    return model


def _resign(model: Path, edit: Callable[[dict[str, object]], None]) -> None:
    """The attacker as signer: rewrite the statement and sign it again with the key the verifier trusts."""
    from modelseal import KeySigner
    from modelseal.oms.bundle import read_bundle
    from modelseal.oms.statement import canonical_json

    statement = json.loads(read_bundle(model / "model.sig").payload)
    edit(statement)
    (model / "model.sig").write_bytes(KeySigner.from_file(_keys()[0]).sign(canonical_json(statement)).to_json())


def added_sparse_file() -> Path:
    model = _model("added-64g")
    with open(model / "zeros.bin", "wb") as handle:
        handle.truncate(64 << 30)
    return model


def huge_signature() -> Path:
    model = _model("sig-3g")
    with open(model / "model.sig", "r+b") as handle:
        handle.truncate(3 << 30)
    return model


def bundle_with_bad_signature(entries: int) -> Callable[[], Path]:
    def build() -> Path:
        model = _model(f"bundle-{entries}")
        document = json.loads((model / "model.sig").read_text())
        statement = json.loads(base64.b64decode(document["dsseEnvelope"]["payload"]))
        statement["predicate"]["resources"] = [
            {"name": f"f{i:07d}", "algorithm": "sha256", "digest": "0" * 64} for i in range(entries)
        ]
        document["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
        (model / "model.sig").write_text(json.dumps(document))
        return model

    return build


def shard_size(value: object) -> Callable[[], Path]:
    def build() -> Path:
        model = _model(f"shard-{value}", "--shard-size", "4096")
        _resign(model, lambda s: s["predicate"]["serialization"].update(shard_size=value))  # type: ignore[index]
        return model

    return build


def deep_json() -> Path:
    model = _model("deep-json")
    text = (model / "model.sig").read_text()
    (model / "model.sig").write_text(text[:-1] + ', "x": ' + "[" * 1_000_000 + "]" * 1_000_000 + "}")
    return model


def deep_directory() -> Path:
    model = _model("deep-dir")
    deep = model
    for _ in range(1100):
        deep = deep / "d"
        deep.mkdir()
    (deep / "x.bin").write_bytes(b"x")
    return model


CASES: dict[str, Callable[[], Path]] = {
    "added 64 GiB sparse file": added_sparse_file,
    "3 GiB model.sig (sparse)": huge_signature,
    "400,000 resources, bad signature": bundle_with_bad_signature(400_000),
    "1,000,000 resources, bad signature": bundle_with_bad_signature(1_000_000),
    "shard_size 1 (signed)": shard_size(1),
    "shard_size Infinity (signed)": shard_size(float("inf")),
    "shard_size NaN (signed)": shard_size(float("nan")),
    "model.sig nested 1,000,000 deep": deep_json,
    "directory 1,100 levels deep": deep_directory,
}


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    _, public = _keys()
    print(f"{'case':<38} {'seconds':>8} {'peak MB':>8} exit  refusal")
    for label, build in CASES.items():
        model = build()
        run = timed([*MODELSEAL, "verify", "key", str(model), "--public-key", str(public)], check=False)
        reason = next((line for line in run.output.splitlines() if line.strip()), "?")
        print(f"{label:<38} {run.seconds:>8.2f} {run.peak_mb:>8.0f} {run.returncode:>4}  {reason[:100]}")


if __name__ == "__main__":
    main()
