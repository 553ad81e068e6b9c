"""Sign with a key and its X.509 certificate; verify the chain against roots the user names, and nothing else."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store
from cryptography.x509.verification import VerificationError as ChainError

from modelseal.errors import InputError, VerificationError
from modelseal.oms.bundle import PAYLOAD_TYPE, Bundle, pae
from modelseal.signing.base import SignerIdentity, check_envelope_signature, require_method
from modelseal.signing.keys import SUPPORTED_CURVES, SigningKey, SoftwareKey, load_certificates
from modelseal.signing.timestamp import TimestampAuthority, signing_time

AGNOSTIC = Criticality.AGNOSTIC


def _der(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")


def _same_key(key: SigningKey, certificate: x509.Certificate) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    mine = key.public_key().public_bytes(serialization.Encoding.DER, spki)
    return mine == certificate.public_key().public_bytes(serialization.Encoding.DER, spki)


@dataclass(frozen=True)
class CertificateSigner:
    """Signs with a key (PEM file or PKCS#11 token) and embeds its certificate chain, leaf first."""

    key: SigningKey
    signing_certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_files(
        cls, private_key: Path, signing_certificate: Path, chain: Sequence[Path] = (), password: str | None = None
    ) -> CertificateSigner:
        return cls.for_key(SoftwareKey.from_file(private_key, password), str(private_key), signing_certificate, chain)

    @classmethod
    def for_key(
        cls, key: SigningKey, key_name: str, signing_certificate: Path, chain: Sequence[Path] = ()
    ) -> CertificateSigner:
        leaf = load_certificates(signing_certificate)[0]
        if not _same_key(key, leaf):
            raise InputError(f"the private key {key_name} does not belong to the certificate {signing_certificate}")
        intermediates = tuple(cert for path in chain for cert in load_certificates(path))
        return cls(key, leaf, intermediates)

    def sign(self, payload: bytes) -> Bundle:
        certificates = [{"rawBytes": _der(c)} for c in (self.signing_certificate, *self.chain)]
        return Bundle(
            method="certificate",
            verification_material={"x509CertificateChain": {"certificates": certificates}, "tlogEntries": []},
            payload=payload,
            payload_type=PAYLOAD_TYPE,
            signature=self.key.sign(pae(payload)),
        )


def leaf_identities(leaf: x509.Certificate) -> list[str]:
    """Names a policy may match: subject (RFC 4514), common name, and every SAN value."""
    names = [leaf.subject.rfc4514_string()]
    names += [str(a.value) for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return names
    for kind in (x509.RFC822Name, x509.DNSName, x509.UniformResourceIdentifier):
        names += [str(v) for v in san.get_values_for_type(kind)]
    return names


ANY_EXTENDED_KEY_USAGE = x509.ObjectIdentifier("2.5.29.37.0")
_USAGE_NAMES = {
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


def usage_name(oid: x509.ObjectIdentifier) -> str:
    return _USAGE_NAMES.get(oid, oid.dotted_string)


class _UsagePolicy:
    """What the chain must allow, as `cryptography` extension policies: the leaf carries the required extended key
    usage (codeSigning unless the policy names another), may sign (KeyUsage digitalSignature, when present) and
    cannot issue certificates; a CA that restricts its extended key usages must include it (or anyExtendedKeyUsage).
    Reasons are kept so the refusal says which rule failed."""

    def __init__(self, required: x509.ObjectIdentifier) -> None:
        self.required = required
        self.reasons: list[str] = []

    def _refuse(self, reason: str) -> None:
        self.reasons.append(reason)
        raise ValueError(reason)

    def _leaf_eku(self, policy: object, cert: x509.Certificate, value: x509.ExtendedKeyUsage | None) -> None:
        if value is None:
            self._refuse(f"it has no extended key usage; {usage_name(self.required)} is required")
        elif self.required not in value:
            names = ", ".join(usage_name(oid) for oid in value)
            self._refuse(f"its extended key usages ({names}) do not include {usage_name(self.required)}")

    def _leaf_key_usage(self, policy: object, cert: x509.Certificate, value: x509.KeyUsage | None) -> None:
        if value is not None and not value.digital_signature:
            self._refuse("its KeyUsage does not allow digitalSignature")

    def _leaf_constraints(self, policy: object, cert: x509.Certificate, value: x509.BasicConstraints | None) -> None:
        if value is None or not value.ca:
            return
        try:
            issues = cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
        except x509.ExtensionNotFound:
            issues = True
        if issues:  # CA:TRUE limited to digitalSignature cannot issue: model-signing's own test certificate is one
            self._refuse("it is a CA certificate that can issue certificates, not a signer's")

    def _ca_eku(self, policy: object, cert: x509.Certificate, value: x509.ExtendedKeyUsage | None) -> None:
        if value is not None and self.required not in value and ANY_EXTENDED_KEY_USAGE not in value:
            subject, required = cert.subject.rfc4514_string(), usage_name(self.required)
            self._refuse(f"the CA {subject} restricts its extended key usages to exclude {required}")

    def policies(self) -> tuple[ExtensionPolicy, ExtensionPolicy]:
        ca = ExtensionPolicy.webpki_defaults_ca().may_be_present(x509.ExtendedKeyUsage, AGNOSTIC, self._ca_eku)
        leaf = (
            ExtensionPolicy.permit_all()
            .may_be_present(x509.ExtendedKeyUsage, AGNOSTIC, self._leaf_eku)  # absent: refused, with the reason
            .may_be_present(x509.KeyUsage, AGNOSTIC, self._leaf_key_usage)
            .may_be_present(x509.BasicConstraints, AGNOSTIC, self._leaf_constraints)
        )
        return ca, leaf


def _check_validity(leaf: x509.Certificate, when: datetime.datetime, stamped: bool = False) -> None:
    """The leaf was valid at `when`: now, or the signing time a trusted timestamp proves (`stamped`)."""
    at = f" at the timestamped signing time {when:%Y-%m-%d %H:%M}Z" if stamped else ""
    if when < leaf.not_valid_before_utc:
        raise VerificationError(
            f"the signing certificate is not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M}Z{at}"
        )
    if when > leaf.not_valid_after_utc:
        message = f"the signing certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M}Z"
        hint = () if stamped else ("a timestamp from a trusted TSA (--tsa-certificate) would prove an earlier time",)
        raise VerificationError(message + at, details=hint)


@dataclass(frozen=True)
class CertificateVerifier:
    """Trust anchors are exactly the certificates given; `identity` (optional) must name the leaf."""

    trust_anchors: tuple[x509.Certificate, ...]
    identity: str | None = None
    extended_key_usage: x509.ObjectIdentifier = ExtendedKeyUsageOID.CODE_SIGNING
    now: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.UTC))
    method: str = "certificate"
    # TSAs whose RFC 3161 timestamps set the time the certificate is judged at (see modelseal.signing.timestamp)
    timestamp_authorities: tuple[TimestampAuthority, ...] = ()

    @classmethod
    def from_files(
        cls,
        chain: Sequence[Path],
        identity: str | None = None,
        extended_key_usage: x509.ObjectIdentifier = ExtendedKeyUsageOID.CODE_SIGNING,
        timestamp_authority: Sequence[Path] = (),
    ) -> CertificateVerifier:
        """`timestamp_authority`: the certificate files of a TSA whose timestamps set the signing time."""
        anchors = tuple(cert for path in chain for cert in load_certificates(path))
        if not anchors:
            raise InputError(
                "no trusted certificates given",
                details=("pass the root (and intermediate) certificates with --certificate-chain",),
            )
        authorities = (TimestampAuthority.from_files(timestamp_authority),) if timestamp_authority else ()
        return cls(anchors, identity, extended_key_usage, timestamp_authorities=authorities)

    def _leaf_and_chain(self, bundle: Bundle) -> tuple[x509.Certificate, list[x509.Certificate]]:
        try:
            certificates = [x509.load_der_x509_certificate(der) for der in bundle.certificates_der()]
        except ValueError as exc:
            raise VerificationError("the signature carries a certificate that cannot be parsed") from exc
        return certificates[0], certificates[1:]

    def _check_chain(
        self, leaf: x509.Certificate, intermediates: list[x509.Certificate], when: datetime.datetime
    ) -> list[str]:
        usage = _UsagePolicy(self.extended_key_usage)
        ca_policy, ee_policy = usage.policies()
        verifier = (
            PolicyBuilder()
            .store(Store(list(self.trust_anchors)))
            .time(when)
            .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
            .build_client_verifier()
        )
        try:
            verified = verifier.verify(leaf, intermediates)
        except ChainError as exc:
            where = f"leaf: {leaf.subject.rfc4514_string()}, issued by {leaf.issuer.rfc4514_string()}"
            if usage.reasons:
                raise VerificationError(
                    "the signing certificate is not allowed to sign models",
                    details=(*dict.fromkeys(usage.reasons), where),
                ) from exc
            raise VerificationError(
                "the signing certificate does not chain to a trusted certificate", details=(str(exc), where)
            ) from exc
        return [c.subject.rfc4514_string() for c in verified.chain]

    def verify(self, bundle: Bundle) -> SignerIdentity:
        require_method(bundle, "certificate")
        leaf, intermediates = self._leaf_and_chain(bundle)
        stamped = signing_time(bundle, self.timestamp_authorities) if self.timestamp_authorities else None
        when = stamped or self.now
        _check_validity(leaf, when, stamped is not None)
        chain = self._check_chain(leaf, intermediates, when)
        key = leaf.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in (
            "secp256r1",
            "secp384r1",
            "secp521r1",
        ):
            raise VerificationError(f"the signing certificate's key is not EC on {', '.join(SUPPORTED_CURVES)}")
        names = leaf_identities(leaf)
        if self.identity is not None and self.identity not in names:
            raise VerificationError(
                f"the signing certificate does not belong to {self.identity!r}",
                details=(f"it names: {', '.join(dict.fromkeys(names))}",),
            )
        check_envelope_signature(bundle, key, f"the signing certificate ({leaf.subject.rfc4514_string()})")
        return SignerIdentity(
            "certificate",
            leaf.subject.rfc4514_string(),
            {
                "subject": leaf.subject.rfc4514_string(),
                "chain": " → ".join(chain),
                "not_after": f"{leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}",
                **({"timestamped": f"{stamped:%Y-%m-%dT%H:%M:%SZ}"} if stamped else {}),
            },
        )
