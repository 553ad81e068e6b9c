"""What every signing method provides, and the envelope signature check they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from modelseal.errors import VerificationError
from modelseal.oms.bundle import Bundle, legacy_pae, pae
from modelseal.oms.statement import LEGACY_PREDICATE_TYPE
from modelseal.signing.keys import signature_valid


@dataclass(frozen=True)
class SignerIdentity:
    """Who signed, as far as the method can tell: shown to users and put in `--json` output."""

    method: str
    summary: str
    details: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, str]:
        return {"method": self.method, "summary": self.summary, **self.details}


class Signer(Protocol):
    """Turns statement bytes into a signed bundle."""

    def sign(self, payload: bytes) -> Bundle: ...


class Verifier(Protocol):
    """Checks a bundle's signature and signer; raises `VerificationError` on any doubt."""

    @property
    def method(self) -> str: ...

    def verify(self, bundle: Bundle) -> SignerIdentity: ...


def require_method(bundle: Bundle, method: str) -> None:
    if bundle.method != method:
        raise VerificationError(
            f"the signature was made with the {bundle.method!r} method, not {method!r}",
            details=(f"use `modelseal verify {bundle.method}`",),
        )


def _is_legacy(payload: bytes) -> bool:
    """Whether the legacy encoding is worth trying: a substring test, not a parse, since it runs before the
    signature is known to be good (parsing a 60 MB payload here cost 1.4 s and 300 MB per forged bundle). Which
    predicate the payload really has is decided when the verified statement is parsed."""
    return f'"{LEGACY_PREDICATE_TYPE}"'.encode() in payload


def check_envelope_signature(
    bundle: Bundle, key: ec.EllipticCurvePublicKey, signer: str, details: tuple[str, ...] = ()
) -> None:
    """The DSSE signature over the exact payload bytes; v0.2 bundles used a different encoding and SHA-256."""
    if signature_valid(key, bundle.signature, pae(bundle.payload, bundle.payload_type)):
        return
    legacy = legacy_pae(bundle.payload, bundle.payload_type)
    if _is_legacy(bundle.payload) and signature_valid(key, bundle.signature, legacy, hashes.SHA256()):
        return
    raise VerificationError(
        f"the signature does not verify with {signer}",
        details=(*details, "the signature was made by another key, or the signed statement was altered"),
    )
