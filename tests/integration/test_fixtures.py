"""Every signature the reference tool ever wrote (key and certificate) verifies; any flipped byte fails.
The OMS v1.0 test vectors: valid ones verify, invalid ones are rejected with a reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelseal import CertificateVerifier, KeyVerifier, VerificationError, verify
from modelseal.errors import BundleFormatError
from tests.conftest import MT, MT_KEYS, OMS_VECTORS, copy_tree

SINGLE_FILE_FIXTURES = {"v0.3.1-elliptic-key", "v1.0.0-elliptic-key"}
FIXTURE_DIRS = sorted(d.name for d in MT.iterdir() if d.is_dir() and d.name != "keys" and "sigstore" not in d.name)


def verifier_for(name: str) -> KeyVerifier | CertificateVerifier:
    if "elliptic-key" in name:
        return KeyVerifier.from_file(MT_KEYS / "signing-key-pub.pem")
    return CertificateVerifier.from_files([MT_KEYS / "int-ca-cert.pem", MT_KEYS / "ca-cert.pem"])


def verify_fixture(directory: Path, name: str) -> None:
    model = directory / "signme-1" if name in SINGLE_FILE_FIXTURES else directory
    verify(model, verifier_for(name), signature=directory / "model.sig", ignore_paths=[directory / "ignore-me"])


def test_every_key_and_certificate_fixture_is_covered() -> None:
    versions = {name.split("-")[0] for name in FIXTURE_DIRS}
    assert {"v0.2.0", "v0.3.1", "v1.0.0", "v1.0.1", "v1.1.0"} <= versions
    assert len(FIXTURE_DIRS) == 9


@pytest.mark.parametrize("name", FIXTURE_DIRS)
def test_reference_fixture_verifies(name: str) -> None:
    verify_fixture(MT / name, name)


@pytest.mark.parametrize("name", FIXTURE_DIRS)
def test_flipped_byte_in_any_signed_file_fails(name: str, tmp_path: Path) -> None:
    signed_files = ["signme-1"] if name in SINGLE_FILE_FIXTURES else ["signme-1", "signme-2"]
    for signed in signed_files:
        copy = copy_tree(MT / name, tmp_path / f"{name}-{signed}")
        data = bytearray((copy / signed).read_bytes())
        data[len(data) // 2] ^= 0x01
        (copy / signed).write_bytes(bytes(data))
        with pytest.raises(VerificationError, match="modified"):
            verify_fixture(copy, name)


@pytest.mark.parametrize("name", FIXTURE_DIRS)
def test_flipped_byte_in_the_signature_fails(name: str, tmp_path: Path) -> None:
    copy = copy_tree(MT / name, tmp_path / name)
    signature = bytearray((copy / "model.sig").read_bytes())
    index = signature.index(b'"sig"') + 12  # inside the base64 signature value
    signature[index] = ord("A") if signature[index] != ord("A") else ord("B")
    (copy / "model.sig").write_bytes(bytes(signature))
    with pytest.raises(VerificationError):
        verify_fixture(copy, name)


def test_fixture_needs_its_ignore_path_when_the_signature_does_not_record_it() -> None:
    """v1.0.1 signatures do not record ignore_paths: the extra `ignore-me` file is reported unsigned."""
    with pytest.raises(VerificationError, match="unsigned: 'ignore-me'"):
        verify(MT / "v1.0.1-elliptic-key", verifier_for("elliptic-key"), signature=MT / "v1.0.1-elliptic-key/model.sig")


@pytest.fixture
def vector_model(tmp_path: Path) -> Path:
    """The files the OMS test vectors were signed over (same bytes as the v1.1.0 key fixture)."""
    model = tmp_path / "model"
    model.mkdir()
    for name in ("signme-1", "signme-2", "ignore-me"):
        shutil.copyfile(MT / "v1.1.0-elliptic-key" / name, model / name)
    return model


@pytest.mark.parametrize("vector", ["key", "certificate"])
def test_valid_oms_vectors_verify(vector: str, vector_model: Path) -> None:
    result = verify(
        vector_model,
        verifier_for("elliptic-key" if vector == "key" else "certificate"),
        signature=OMS_VECTORS / "valid" / f"{vector}.bundle.json",
    )
    assert result.files_verified == 2


def test_valid_sigstore_vector_is_recognised_as_sigstore(vector_model: Path) -> None:
    with pytest.raises(VerificationError, match="'sigstore' method"):
        verify(vector_model, verifier_for("elliptic-key"), signature=OMS_VECTORS / "valid" / "sigstore.bundle.json")


@pytest.mark.parametrize(
    ("vector", "reason"),
    [
        ("invalid/empty.bundle.json", "empty"),
        ("invalid/missing-envelope.bundle.json", "dsseEnvelope is missing"),
        ("invalid/missing-tlog-entries.bundle.json", "transparency log"),
        ("invalid/missing-verification-material.bundle.json", "verificationMaterial is missing"),
        ("invalid-payload/wrong-predicate.bundle.json", "does not verify|predicateType"),
    ],
)
def test_invalid_oms_vectors_are_rejected_with_a_reason(vector: str, reason: str, vector_model: Path) -> None:
    with pytest.raises(VerificationError, match=reason):
        verify(vector_model, verifier_for("elliptic-key"), signature=OMS_VECTORS / vector)


def test_invalid_vector_errors_are_bundle_format_errors(vector_model: Path) -> None:
    with pytest.raises(BundleFormatError):
        verify(vector_model, verifier_for("elliptic-key"), signature=OMS_VECTORS / "invalid/empty.bundle.json")
