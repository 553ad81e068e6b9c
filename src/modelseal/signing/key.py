"""Sign and verify with a bare EC key pair."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from modelseal.oms.bundle import PAYLOAD_TYPE, Bundle, pae
from modelseal.signing.base import SignerIdentity, check_envelope_signature, require_method
from modelseal.signing.keys import SigningKey, SoftwareKey, load_public_key, public_key_hint


@dataclass(frozen=True)
class KeySigner:
    """Signs with a key from a PEM file or on a PKCS#11 token; the bundle names the public key by its hint."""

    key: SigningKey

    @classmethod
    def from_file(cls, path: Path, password: str | None = None) -> KeySigner:
        return cls(SoftwareKey.from_file(path, password))

    def sign(self, payload: bytes) -> Bundle:
        hint = public_key_hint(self.key.public_key())
        return Bundle(
            method="key",
            verification_material={"publicKey": {"hint": hint}, "tlogEntries": []},
            payload=payload,
            payload_type=PAYLOAD_TYPE,
            signature=self.key.sign(pae(payload)),
        )


@dataclass(frozen=True)
class KeyVerifier:
    """Trusts exactly one public key; the key embedded in old bundles (`rawBytes`) is never used."""

    public_key: ec.EllipticCurvePublicKey
    method: str = "key"

    @classmethod
    def from_file(cls, path: Path) -> KeyVerifier:
        return cls(load_public_key(path))

    def verify(self, bundle: Bundle) -> SignerIdentity:
        require_method(bundle, "key")
        hint = public_key_hint(self.public_key)
        recorded = bundle.public_key_hint()
        details = (f"the signature names key {recorded}, yours is {hint}",) if recorded and recorded != hint else ()
        check_envelope_signature(bundle, self.public_key, f"the public key {hint[:16]}…", details)
        return SignerIdentity("key", f"EC {self.public_key.curve.name} key {hint[:16]}…", {"key_hint": hint})
