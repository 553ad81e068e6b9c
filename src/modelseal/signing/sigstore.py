"""Verify Sigstore (keyless) signatures with sigstore-python, offline: the trusted root comes from a file, a
private instance's trust config, or the root that sigstore-python ships, so no network is needed. The signer
must be one of the accepted `SigstoreIdentity`s (any of them)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from modelseal.errors import InputError, ServiceError, VerificationError
from modelseal.oms.bundle import Bundle
from modelseal.signing.base import SignerIdentity, require_method
from modelseal.signing.identity import (
    SigstoreIdentity,
    certificate_claim,
    certificate_details,
    certificate_identities,
)


@dataclass(frozen=True)
class SigstoreTrust:
    """Which Sigstore instance's roots to trust: a trusted_root.json, a ClientTrustConfig, or the production
    (default) or staging root, as shipped (offline, the default) or refreshed from Sigstore's TUF repository."""

    trusted_root: Path | None = None
    trust_config: Path | None = None
    staging: bool = False
    online: bool = False

    def load(self) -> Any:
        from sigstore.errors import Error as SigstoreError
        from sigstore.models import ClientTrustConfig, TrustedRoot

        try:
            if self.trusted_root is not None:
                return TrustedRoot.from_file(str(self.trusted_root))
            if self.trust_config is not None:
                return ClientTrustConfig.from_json(self.trust_config.read_text(encoding="utf-8")).trusted_root
        except Exception as exc:
            raise InputError(
                f"cannot load the Sigstore trust root {self.trusted_root or self.trust_config}: {exc}"
            ) from exc
        logging.getLogger("sigstore").setLevel(logging.ERROR)  # "offline mode" notices are expected here
        logging.getLogger("tuf").setLevel(logging.CRITICAL)
        offline = not self.online
        try:
            config = ClientTrustConfig.staging(offline) if self.staging else ClientTrustConfig.production(offline)
        except SigstoreError as exc:
            raise ServiceError(
                "cannot refresh the Sigstore trusted root from its TUF repository",
                details=(str(exc), "without network, verify with the shipped root (the default, --offline)"),
            ) from exc
        return config.trusted_root


@dataclass
class _AnyOf:
    """A sigstore-python verification policy: the certificate must be one of the accepted signers."""

    signers: tuple[SigstoreIdentity, ...]
    matched: SigstoreIdentity | None = None
    certificate: x509.Certificate | None = None
    reasons: list[str] = field(default_factory=list)

    def verify(self, certificate: x509.Certificate) -> None:
        from sigstore.errors import VerificationError as PolicyError

        self.certificate = certificate
        for signer in self.signers:
            problems = signer.mismatches(certificate)
            if not problems:
                self.matched = signer
                return
            self.reasons.append(f"not {signer.describe()}: {'; '.join(problems)}")
        raise PolicyError("the signer is none of the accepted identities")


@dataclass(frozen=True)
class SigstoreVerifier:
    """Accepts a bundle signed through Sigstore by any of `signers`, chained to the trusted root."""

    signers: tuple[SigstoreIdentity, ...]
    trust: SigstoreTrust = SigstoreTrust()
    method: str = "sigstore"

    @classmethod
    def exact(cls, identity: str, issuer: str, trust: SigstoreTrust = SigstoreTrust()) -> SigstoreVerifier:
        """The reference tool's rule: exactly this identity, vouched for by exactly this issuer."""
        return cls((SigstoreIdentity(issuer, identity=identity),), trust)

    def verify(self, bundle: Bundle) -> SignerIdentity:
        return self.verify_matching(bundle)[0]

    def verify_matching(self, bundle: Bundle) -> tuple[SignerIdentity, SigstoreIdentity]:
        """The signer, and which of the accepted identities it matched."""
        from sigstore.errors import Error as SigstoreError
        from sigstore.models import Bundle as SigstoreBundle
        from sigstore.verify import Verifier

        require_method(bundle, "sigstore")
        if not self.signers:
            raise InputError("no Sigstore signer is trusted: name at least one identity and issuer")
        root = self.trust.load()
        policy = _AnyOf(self.signers)
        try:
            parsed = SigstoreBundle.from_json(bundle.raw)
            payload_type, payload = Verifier(trusted_root=root).verify_dsse(parsed, policy)
        except (SigstoreError, ValueError) as exc:
            signed_by = _signed_by(policy.certificate)
            if policy.reasons:
                raise VerificationError(
                    f"the Sigstore signer is not trusted: signed by {signed_by}", details=tuple(policy.reasons)
                ) from exc
            expected = "; ".join(s.describe() for s in self.signers)
            raise VerificationError(
                "the Sigstore signature does not verify", details=(str(exc), f"expected signer: {expected}")
            ) from exc
        if payload != bundle.payload or payload_type != bundle.payload_type:
            raise VerificationError("the Sigstore-verified payload differs from the bundle's statement")
        assert policy.matched is not None and policy.certificate is not None
        return _signer_identity(policy.certificate), policy.matched


def _signed_by(certificate: x509.Certificate | None) -> str:
    if certificate is None:
        return "an unknown signer"
    return f"{', '.join(certificate_identities(certificate))} ({certificate_claim(certificate, 'issuer')})"


def _signer_identity(certificate: x509.Certificate) -> SignerIdentity:
    return SignerIdentity("sigstore", _signed_by(certificate), certificate_details(certificate))
