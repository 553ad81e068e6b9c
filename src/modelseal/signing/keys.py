"""Load EC keys and certificates, and the curve-to-hash rule of OMS v1.0."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from modelseal.errors import InputError

_CURVE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}
SUPPORTED_CURVES = ("P-256", "P-384", "P-521")


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from exc


def hash_for(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> hashes.HashAlgorithm:
    """The hash OMS pairs with the key's curve."""
    return _CURVE_HASHES[key.curve.name]()


def _check_curve(key: object, path: Path) -> None:
    if not isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        raise InputError(
            f"{path} is not an EC key ({type(key).__name__.lstrip('_')})",
            details=(f"OMS v1.0 signatures use EC keys on {', '.join(SUPPORTED_CURVES)}",),
        )
    if key.curve.name not in _CURVE_HASHES:
        raise InputError(f"{path} uses curve {key.curve.name}; OMS v1.0 allows {', '.join(SUPPORTED_CURVES)}")


def load_private_key(path: Path, password: str | None = None) -> ec.EllipticCurvePrivateKey:
    """A PEM (optionally encrypted) EC private key on one of the OMS curves. An encrypted key without a password
    is asked for at a terminal (never echoed); elsewhere it is an error that says to pass one."""
    data = _read(path, "private key")
    if password is None and b"ENCRYPTED" in data[:200] and sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"Password for {path}: ")
    secret = password.encode("utf-8") if password is not None else None
    try:
        key = serialization.load_pem_private_key(data, password=secret)
    except TypeError as exc:
        hint = (
            "the key is encrypted: pass --password" if secret is None else "the key is not encrypted: drop --password"
        )
        raise InputError(f"cannot load private key {path}", details=(hint,)) from exc
    except ValueError as exc:
        reason = "wrong password or not a PEM private key" if secret is not None else "not a PEM private key"
        raise InputError(f"cannot load private key {path}: {reason}") from exc
    _check_curve(key, path)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    """A PEM EC public key (text before the PEM block, as `certtool` writes, is fine)."""
    data = _read(path, "public key")
    start = data.find(b"-----BEGIN")
    try:
        key = serialization.load_pem_public_key(data[start:] if start >= 0 else data)
    except ValueError as exc:
        raise InputError(f"cannot load public key {path}: not a PEM public key") from exc
    _check_curve(key, path)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every PEM certificate in the file (a chain file may hold several)."""
    data = _read(path, "certificate")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise InputError(f"cannot load certificates from {path}: not PEM certificates") from exc
    return certificates


def public_key_hint(key: ec.EllipticCurvePublicKey) -> str:
    """The OMS key hint: sha256 of the SubjectPublicKeyInfo PEM text."""
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()


class SigningKey(Protocol):
    """A private EC key that can sign but need not be readable: a PEM file's, or one held on a token."""

    def public_key(self) -> ec.EllipticCurvePublicKey: ...

    def sign(self, data: bytes) -> bytes:
        """DER ECDSA over `data`, hashed with the curve's OMS hash."""
        ...


@dataclass(frozen=True)
class SoftwareKey:
    """A private key held in memory (loaded from a PEM file)."""

    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def from_file(cls, path: Path, password: str | None = None) -> SoftwareKey:
        return cls(load_private_key(path, password))

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def sign(self, data: bytes) -> bytes:
        return sign_bytes(self.private_key, data)


def sign_bytes(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """DER ECDSA over `data`; deterministic (RFC 6979) where the OpenSSL build supports it."""
    try:
        return key.sign(data, ec.ECDSA(hash_for(key), deterministic_signing=True))
    except UnsupportedAlgorithm:  # older OpenSSL: fall back to randomised ECDSA
        return key.sign(data, ec.ECDSA(hash_for(key)))


def signature_valid(
    key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None = None
) -> bool:
    try:
        key.verify(signature, data, ec.ECDSA(algorithm or hash_for(key)))
    except InvalidSignature:
        return False
    return True
