"""Sigstore (keyless) signatures from the reference tool verify offline, against sigstore-python's shipped roots;
a wrong identity, issuer, trusted root or a flipped model byte each fail with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelseal import VerificationError, verify
from modelseal.signing.sigstore import SigstoreVerifier
from tests.conftest import MT, OMS_VECTORS, copy_tree
from tests.integration.test_cli import modelseal

IDENTITY, ISSUER = "stefanb@us.ibm.com", "https://sigstore.verify.ibm.com/oauth2"
FIXTURES = sorted(d.name for d in MT.iterdir() if d.name.endswith("-sigstore"))


def test_every_sigstore_fixture_is_covered() -> None:
    assert FIXTURES == ["v0.3.1-sigstore", "v1.0.0-sigstore", "v1.0.1-sigstore", "v1.1.0-sigstore"]


@pytest.mark.parametrize("name", FIXTURES)
def test_reference_sigstore_fixture_verifies_offline(name: str) -> None:
    result = verify(MT / name, SigstoreVerifier(IDENTITY, ISSUER), ignore_paths=[MT / name / "ignore-me"])
    assert result.signer.method == "sigstore" and result.files_verified == 2


@pytest.mark.parametrize(
    ("verifier", "message"),
    [
        (SigstoreVerifier("attacker@example.com", ISSUER), "does not verify"),
        (SigstoreVerifier(IDENTITY, "https://accounts.google.com"), "does not verify"),
        (SigstoreVerifier(IDENTITY, ISSUER, staging=True), "does not verify"),
    ],
    ids=["wrong identity", "wrong issuer", "wrong trusted root"],
)
def test_wrong_signer_or_root_fails(verifier: SigstoreVerifier, message: str) -> None:
    with pytest.raises(VerificationError, match=message):
        verify(MT / "v1.1.0-sigstore", verifier)


def test_flipped_model_byte_fails(tmp_path: Path) -> None:
    copy = copy_tree(MT / "v1.1.0-sigstore", tmp_path / "model")
    data = bytearray((copy / "signme-1").read_bytes())
    data[0] ^= 1
    (copy / "signme-1").write_bytes(bytes(data))
    with pytest.raises(VerificationError, match="modified: 'signme-1'"):
        verify(copy, SigstoreVerifier(IDENTITY, ISSUER))


def test_key_verifier_is_told_to_use_sigstore() -> None:
    from modelseal import KeyVerifier
    from tests.conftest import MT_KEYS

    with pytest.raises(VerificationError, match="modelseal verify sigstore"):
        verify(MT / "v1.1.0-sigstore", KeyVerifier.from_file(MT_KEYS / "signing-key-pub.pem"))


def test_cli_verify_sigstore_with_reference_spellings() -> None:
    ok = modelseal("verify", "sigstore", MT / "v1.1.0-sigstore", "--identity", IDENTITY, "--identity_provider", ISSUER)
    assert ok.returncode == 0, ok.stderr
    wrong = modelseal(
        "verify", "sigstore", MT / "v1.1.0-sigstore", "--identity", "eve@example.com", "--identity-provider", ISSUER
    )
    assert wrong.returncode == 1 and "VERIFICATION FAILED" in wrong.stderr and "Traceback" not in wrong.stderr


def test_oms_sigstore_vector_is_structurally_accepted() -> None:
    """The spec's valid Sigstore vector parses as a Sigstore bundle (its signer is not the fixtures' one)."""
    from modelseal.oms.bundle import read_bundle

    assert read_bundle(OMS_VECTORS / "valid" / "sigstore.bundle.json").method == "sigstore"
