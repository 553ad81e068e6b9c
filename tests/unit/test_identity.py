"""Signer matching on Fulcio-style certificates: identity patterns, the issuer, and GitHub Actions claims in both
the v1 (raw) and v2 (DER UTF8String) extension encodings Fulcio has used."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from modelseal.signing.identity import SigstoreIdentity, certificate_claim, glob_matches

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
WORKFLOW_URI = "https://github.com/acme/models/.github/workflows/release.yml@refs/tags/v1.2"


def _der_utf8(text: str) -> bytes:
    body = text.encode()
    length = bytes([len(body)]) if len(body) < 0x80 else bytes([0x81, len(body)])
    return b"\x0c" + length + body


def fulcio_certificate(san: str, v2: dict[str, str], v1: dict[str, str] | None = None) -> x509.Certificate:
    """A certificate carrying the SAN and extensions Fulcio writes for a CI token."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sigstore-intermediate")])
    general = x509.UniformResourceIdentifier(san) if "://" in san else x509.RFC822Name(san)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(minutes=10))
        .add_extension(x509.SubjectAlternativeName([general]), critical=True)
    )
    for suffix, value in v2.items():
        oid = ObjectIdentifier(f"1.3.6.1.4.1.57264.1.{suffix}")
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, _der_utf8(value)), critical=False)
    for suffix, value in (v1 or {}).items():
        oid = ObjectIdentifier(f"1.3.6.1.4.1.57264.1.{suffix}")
        builder = builder.add_extension(x509.UnrecognizedExtension(oid, value.encode()), critical=False)
    return builder.sign(key, hashes.SHA256())


@pytest.fixture(scope="module")
def github_v2() -> x509.Certificate:
    return fulcio_certificate(
        WORKFLOW_URI,
        {
            "8": GITHUB_ISSUER,
            "12": "https://github.com/acme/models",
            "14": "refs/tags/v1.2",
            "20": "push",
            "13": "0123abcd",
            "18": WORKFLOW_URI,
            "11": "github-hosted",
        },
    )


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("https://github.com/acme/*/.github/workflows/*@refs/tags/*", WORKFLOW_URI, True),
        ("https://github.com/acme/**", WORKFLOW_URI, True),
        ("*@example.com", "ml@example.com", True),
        ("*@example.com", "ml@example.com.evil.org", False),
        # `*` stays in its segment: a branch named to look like a tag cannot satisfy a tag pattern
        (
            "https://github.com/acme/*/.github/workflows/*@refs/tags/*",
            "https://github.com/acme/m/.github/workflows/x.yml@refs/heads/a/.github/workflows/y@refs/tags/v1",
            False,
        ),
        ("https://github.com/acme/*", "https://github.com/acme-evil/x", False),
        ("refs/tags/v?.*", "refs/tags/v1.2", True),
        ("a.b", "axb", False),  # regex metacharacters are literal
    ],
)
def test_glob_semantics(pattern: str, value: str, expected: bool) -> None:
    assert glob_matches(pattern, value) is expected


def test_github_claims_read_from_v2_extensions(github_v2: x509.Certificate) -> None:
    assert certificate_claim(github_v2, "issuer") == GITHUB_ISSUER
    assert certificate_claim(github_v2, "repository") == "acme/models"
    assert certificate_claim(github_v2, "workflow") == ".github/workflows/release.yml"
    assert certificate_claim(github_v2, "ref") == "refs/tags/v1.2"
    assert certificate_claim(github_v2, "runner-environment") == "github-hosted"


def test_github_claims_fall_back_to_v1_extensions() -> None:
    old = fulcio_certificate(
        WORKFLOW_URI, {}, {"1": GITHUB_ISSUER, "5": "acme/models", "6": "refs/heads/main", "2": "workflow_dispatch"}
    )
    assert certificate_claim(old, "issuer") == GITHUB_ISSUER
    assert certificate_claim(old, "repository") == "acme/models"
    assert certificate_claim(old, "trigger") == "workflow_dispatch"
    assert certificate_claim(old, "workflow") is None


def test_signer_with_pattern_and_claims_matches(github_v2: x509.Certificate) -> None:
    signer = SigstoreIdentity(
        GITHUB_ISSUER,
        identity_pattern="https://github.com/acme/*/.github/workflows/*@refs/tags/*",
        github=(("repository", "acme/*"), ("trigger", "push"), ("ref", "refs/tags/v*")),
    )
    assert signer.mismatches(github_v2) == []


@pytest.mark.parametrize(
    ("signer", "reason"),
    [
        (SigstoreIdentity("https://accounts.google.com", identity=WORKFLOW_URI), "issuer is"),
        (SigstoreIdentity(GITHUB_ISSUER, identity=WORKFLOW_URI.replace("v1.2", "v9")), "identity is"),
        (SigstoreIdentity(GITHUB_ISSUER, identity_pattern="https://github.com/other/**"), "does not match"),
        (SigstoreIdentity(GITHUB_ISSUER, identity=WORKFLOW_URI, github=(("trigger", "release"),)), "trigger is"),
        (
            SigstoreIdentity(GITHUB_ISSUER, identity=WORKFLOW_URI, github=(("ref", "refs/heads/main"),)),
            "GitHub ref is 'refs/tags/v1.2'",
        ),
    ],
)
def test_signer_mismatch_says_why(github_v2: x509.Certificate, signer: SigstoreIdentity, reason: str) -> None:
    reasons = signer.mismatches(github_v2)
    assert reasons and any(reason in r for r in reasons)


def test_missing_claim_is_a_mismatch() -> None:
    email = fulcio_certificate("ml@example.com", {"8": "https://accounts.google.com"})
    signer = SigstoreIdentity("https://accounts.google.com", identity="ml@example.com", github=(("repository", "*"),))
    assert signer.mismatches(email) == ["the certificate has no GitHub repository claim (wanted '*')"]


def test_signer_needs_exactly_one_identity_form() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        SigstoreIdentity(GITHUB_ISSUER)
    with pytest.raises(ValueError, match="exactly one"):
        SigstoreIdentity(GITHUB_ISSUER, identity="a", identity_pattern="b")
    with pytest.raises(ValueError, match="unknown GitHub claim"):
        SigstoreIdentity(GITHUB_ISSUER, identity="a", github=(("colour", "red"),))
