"""Interoperability with the real reference tool, model-signing 1.1.1, both ways."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from modelseal import CertificateSigner, CertificateVerifier, KeySigner, KeyVerifier, VerificationError, sign, verify
from tests.conftest import KeyPair, Pki

pytestmark = pytest.mark.interop

REFERENCE_CLI = Path(sys.executable).parent / "model_signing"


def reference(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert REFERENCE_CLI.exists(), "install the test extra: pip install -e '.[test]'"
    return subprocess.run(
        [str(REFERENCE_CLI), *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def rich_model(model_dir: Path) -> Path:
    """Nested directories, empty files and unicode names, as the issue asks."""
    (model_dir / "ünï" / "名前").mkdir(parents=True)
    (model_dir / "ünï" / "名前" / "データ.bin").write_bytes(os.urandom(3000))
    (model_dir / "another-empty").write_bytes(b"")
    return model_dir


@pytest.mark.parametrize("curve", ["P-256", "P-384", "P-521"])
def test_reference_verifies_our_key_signature(
    curve: str, rich_model: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    pair = make_key_pair(curve)
    sign(rich_model, KeySigner.from_file(pair.private))
    result = reference(
        "verify", "key", rich_model, "--signature", rich_model / "model.sig", "--public_key", pair.public
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verification succeeded" in result.stdout + result.stderr


def test_reference_rejects_our_signature_after_tampering(
    rich_model: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    """Guards the test above: the reference really checks the files we listed."""
    pair = make_key_pair()
    sign(rich_model, KeySigner.from_file(pair.private))
    (rich_model / "another-empty").write_bytes(b"!")
    result = reference(
        "verify", "key", rich_model, "--signature", rich_model / "model.sig", "--public_key", pair.public
    )
    assert result.returncode != 0


def test_reference_verifies_our_certificate_signature(rich_model: Path, pki: Pki, tmp_path: Path) -> None:
    signature = tmp_path / "cert.sig"
    sign(rich_model, CertificateSigner.from_files(pki.leaf_key, pki.leaf_cert, [pki.intermediate]), signature=signature)
    result = reference(
        "verify",
        "certificate",
        rich_model,
        "--signature",
        signature,
        "--certificate_chain",
        pki.intermediate,
        "--certificate_chain",
        pki.root,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_reference_verifies_our_single_file_signature_in_compat_mode(
    tmp_path: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    pair = make_key_pair()
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(5000))
    signed = sign(weights, KeySigner.from_file(pair.private), compat=True)
    result = reference("verify", "key", weights, "--signature", signed.signature, "--public_key", pair.public)
    assert result.returncode == 0, result.stdout + result.stderr


def test_reference_verifies_our_shard_signature_in_compat_mode(
    rich_model: Path, make_key_pair: Callable[..., KeyPair]
) -> None:
    """model-signing's verifier reads the serialization from the signature to re-hash: it needs an integer shard
    size (a float, its own writer's spelling, ends in a TypeError there)."""
    from model_signing import verifying

    pair = make_key_pair()
    signed = sign(rich_model, KeySigner.from_file(pair.private), shard_size=4096, compat=True)
    verifying.Config().use_elliptic_key_verifier(public_key=pair.public).verify(rich_model, signed.signature)
    (rich_model / "another-empty").write_bytes(b"!")
    with pytest.raises(ValueError, match="another-empty"):
        verifying.Config().use_elliptic_key_verifier(public_key=pair.public).verify(rich_model, signed.signature)


def test_we_verify_reference_key_signature(
    rich_model: Path, make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    pair = make_key_pair("P-384")
    signature = tmp_path / "ref.sig"
    result = reference("sign", "key", rich_model, "--signature", signature, "--private_key", pair.private)
    assert result.returncode == 0, result.stdout + result.stderr
    verify(rich_model, KeyVerifier.from_file(pair.public), signature=signature)
    (rich_model / "config.json").write_text("{}")
    with pytest.raises(VerificationError, match=r"modified: 'config\.json'"):
        verify(rich_model, KeyVerifier.from_file(pair.public), signature=signature)


def test_we_verify_reference_certificate_signature(rich_model: Path, pki: Pki, tmp_path: Path) -> None:
    signature = tmp_path / "ref.sig"
    result = reference(
        "sign",
        "certificate",
        rich_model,
        "--signature",
        signature,
        "--private_key",
        pki.leaf_key,
        "--signing_certificate",
        pki.leaf_cert,
        "--certificate_chain",
        pki.intermediate,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    verified = verify(rich_model, CertificateVerifier.from_files([pki.root]), signature=signature)
    assert verified.signer.summary == "CN=Model Publisher"


def _reference_sign(model: Path, key: Path, signature: Path, hashing_config: object) -> None:
    from model_signing import signing

    signing.Config().use_elliptic_key_signer(private_key=key).set_hashing_config(hashing_config).sign(model, signature)  # type: ignore[arg-type]


def test_we_verify_reference_shard_signature(
    rich_model: Path, make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    """The reference's shard spelling (`sha256-sharded-N`, float shard size) through its library API."""
    from model_signing import hashing

    pair = make_key_pair()
    signature = tmp_path / "shards.sig"
    _reference_sign(rich_model, pair.private, signature, hashing.Config().use_shard_serialization(shard_size=4096))
    result = verify(rich_model, KeyVerifier.from_file(pair.public), signature=signature)
    assert result.manifest.serialization.method == "shards"
    assert result.manifest.serialization.shard_size == 4096
    assert result.manifest.resources[0].algorithm == "sha256-sharded-4096"


def test_we_verify_reference_blake3_signature(
    rich_model: Path, make_key_pair: Callable[..., KeyPair], tmp_path: Path
) -> None:
    """(The reference silently writes files mode when asked for blake3 shards, so files mode is what we test.)"""
    from model_signing import hashing

    pair = make_key_pair()
    signature = tmp_path / "blake3.sig"
    config = hashing.Config().use_file_serialization(hashing_algorithm="blake3")
    _reference_sign(rich_model, pair.private, signature, config)
    result = verify(rich_model, KeyVerifier.from_file(pair.public), signature=signature)
    assert result.manifest.serialization.hash_type == "blake3"
