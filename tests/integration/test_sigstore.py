"""Sigstore (keyless) signatures from the reference tool verify offline, against sigstore-python's shipped roots;
a wrong identity, issuer, trusted root or a flipped model byte each fail with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelseal import VerificationError, verify
from modelseal.signing.identity import SigstoreIdentity
from modelseal.signing.sigstore import SigstoreTrust, SigstoreVerifier
from tests.conftest import MT, OMS_VECTORS, copy_tree
from tests.integration.test_cli import modelseal

IDENTITY, ISSUER = "stefanb@us.ibm.com", "https://sigstore.verify.ibm.com/oauth2"
FIXTURES = sorted(d.name for d in MT.iterdir() if d.name.endswith("-sigstore"))


def test_every_sigstore_fixture_is_covered() -> None:
    assert FIXTURES == ["v0.3.1-sigstore", "v1.0.0-sigstore", "v1.0.1-sigstore", "v1.1.0-sigstore"]


@pytest.mark.parametrize("name", FIXTURES)
def test_reference_sigstore_fixture_verifies_offline(name: str) -> None:
    result = verify(MT / name, SigstoreVerifier.exact(IDENTITY, ISSUER), ignore_paths=[MT / name / "ignore-me"])
    assert result.signer.method == "sigstore" and result.files_verified == 2


@pytest.mark.parametrize(
    ("verifier", "message"),
    [
        (SigstoreVerifier.exact("attacker@example.com", ISSUER), "not trusted: signed by stefanb@us.ibm.com"),
        (SigstoreVerifier.exact(IDENTITY, "https://accounts.google.com"), "not trusted"),
        (SigstoreVerifier.exact(IDENTITY, ISSUER, SigstoreTrust(staging=True)), "does not verify"),
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
        verify(copy, SigstoreVerifier.exact(IDENTITY, ISSUER))


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


# --- identity patterns, several accepted signers, GitHub claims (real fixture certificates) ----------------------


def test_identity_pattern_accepts_the_fixture_signer() -> None:
    pattern = SigstoreVerifier((SigstoreIdentity(ISSUER, identity_pattern="*@us.ibm.com"),))
    result = verify(MT / "v1.0.1-sigstore", pattern, ignore_paths=[MT / "v1.0.1-sigstore" / "ignore-me"])
    assert result.signer.details == {"identity": IDENTITY, "issuer": ISSUER}


def test_any_of_accepts_when_one_signer_matches_and_explains_the_others() -> None:
    others = (
        SigstoreIdentity("https://token.actions.githubusercontent.com", identity_pattern="https://github.com/acme/**"),
        SigstoreIdentity(ISSUER, identity_pattern="*@example.com"),
    )
    assert verify(MT / "v1.1.0-sigstore", SigstoreVerifier((*others, SigstoreIdentity(ISSUER, identity=IDENTITY))))
    with pytest.raises(VerificationError) as caught:
        verify(MT / "v1.1.0-sigstore", SigstoreVerifier(others))
    assert "signed by stefanb@us.ibm.com (https://sigstore.verify.ibm.com/oauth2)" in caught.value.message
    assert len(caught.value.details) == 2 and "does not match '*@example.com'" in caught.value.details[1]


def test_github_claim_is_required_when_asked() -> None:
    signer = SigstoreIdentity(ISSUER, identity=IDENTITY, github=(("repository", "acme/models"),))
    with pytest.raises(VerificationError, match="not trusted") as caught:
        verify(MT / "v1.1.0-sigstore", SigstoreVerifier((signer,)))
    assert "no GitHub repository claim" in caught.value.details[0]


def shipped_trust_config(directory: Path, service_url: str = "http://127.0.0.1:9") -> Path:
    """A ClientTrustConfig holding the production trusted root that sigstore-python ships, with every service URL
    pointed at `service_url` (nothing listens on port 9: the discard port)."""
    import sigstore

    store = Path(sigstore.__file__).parent / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
    signing_config = json.loads((store / "signing_config.v0.2.json").read_text())
    for services in signing_config.values():
        for service in services if isinstance(services, list) else ():
            service["url"] = service_url
    config = {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": json.loads((store / "trusted_root.json").read_text()),
        "signingConfig": signing_config,
    }
    path = directory / "trust_config.json"
    path.write_text(json.dumps(config))
    return path


def test_cli_identity_pattern_github_claims_and_trust_config(tmp_path: Path) -> None:
    model = MT / "v1.1.0-sigstore"
    config = shipped_trust_config(tmp_path)
    ok = modelseal(
        "verify", "sigstore", model, "--identity-pattern", "*@us.ibm.com", "--identity-provider", ISSUER,
        "--trust-config", config, "--json",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["signer"]["identity"] == IDENTITY
    claim = modelseal(
        "verify", "sigstore", model, "--identity", IDENTITY, "--identity-provider", ISSUER, "--github", "ref=refs/*"
    )
    assert claim.returncode == 1 and "no GitHub ref claim" in claim.stderr
    both = modelseal(
        "verify", "sigstore", model, "--identity", IDENTITY, "--identity-pattern", "*", "--identity-provider", ISSUER
    )
    assert both.returncode == 2 and "exactly one of --identity and --identity-pattern" in both.stderr
    bad_claim = modelseal(
        "verify", "sigstore", model, "--identity", IDENTITY, "--identity-provider", ISSUER, "--github", "colour=red"
    )
    assert bad_claim.returncode == 2 and "unknown GitHub claim" in bad_claim.stderr


def test_offline_is_the_default_and_online_refresh_fails_clearly_without_network() -> None:
    model = MT / "v1.1.0-sigstore"
    offline = modelseal("verify", "sigstore", model, "--identity", IDENTITY, "--identity-provider", ISSUER, "--offline")
    assert offline.returncode == 0, offline.stderr
    online = modelseal("verify", "sigstore", model, "--identity", IDENTITY, "--identity-provider", ISSUER, "--online")
    assert online.returncode == 3 and "cannot refresh the Sigstore trusted root" in online.stderr
    assert "Traceback" not in online.stderr
