"""Verify Sigstore (keyless) signatures with sigstore-python, offline: the trusted root comes from a file or from
the production root that sigstore-python ships, so no network is needed. The signer must match an exact identity
and OIDC issuer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelseal.errors import InputError, VerificationError
from modelseal.oms.bundle import Bundle
from modelseal.signing.base import SignerIdentity, require_method


def _trusted_root(path: Path | None, staging: bool) -> Any:
    from sigstore.models import ClientTrustConfig, TrustedRoot

    if path is not None:
        try:
            return TrustedRoot.from_file(str(path))
        except Exception as exc:
            raise InputError(f"cannot load trusted root {path}: {exc}") from exc
    logging.getLogger("sigstore").setLevel(logging.ERROR)  # "offline mode" notices are expected here
    config = ClientTrustConfig.staging(offline=True) if staging else ClientTrustConfig.production(offline=True)
    return config.trusted_root


@dataclass(frozen=True)
class SigstoreVerifier:
    """Accepts a bundle signed through Sigstore by exactly `identity` as issued by `issuer`."""

    identity: str
    issuer: str
    trusted_root: Path | None = None
    staging: bool = False
    method: str = "sigstore"

    def verify(self, bundle: Bundle) -> SignerIdentity:
        from sigstore.errors import Error as SigstoreError
        from sigstore.models import Bundle as SigstoreBundle
        from sigstore.verify import Verifier, policy

        require_method(bundle, "sigstore")
        root = _trusted_root(self.trusted_root, self.staging)
        try:
            parsed = SigstoreBundle.from_json(bundle.raw)
            payload_type, payload = Verifier(trusted_root=root).verify_dsse(
                parsed, policy.Identity(identity=self.identity, issuer=self.issuer)
            )
        except (SigstoreError, ValueError) as exc:
            raise VerificationError(
                "the Sigstore signature does not verify",
                details=(str(exc), f"expected signer {self.identity} from {self.issuer}"),
            ) from exc
        if payload != bundle.payload or payload_type != bundle.payload_type:
            raise VerificationError("the Sigstore-verified payload differs from the bundle's statement")
        return SignerIdentity(
            "sigstore", f"{self.identity} ({self.issuer})", {"identity": self.identity, "issuer": self.issuer}
        )
