"""Keyless signing through sigstore-python: an OIDC identity token buys a short-lived Fulcio certificate for an
ephemeral key, and the signature is logged in Rekor.

Everything that needs the network or a person happens in `SigstoreSigner.connect`, before the model is hashed:
a missing network, a bad token or a refused certificate fails in seconds, not after an hour of hashing.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelseal.errors import InputError, ServiceError
from modelseal.oms.bundle import Bundle, parse_bundle

DEFAULT_CLIENT_ID = "sigstore"
_GITHUB_HINT = "in GitHub Actions, give the job `permissions: id-token: write`"


@dataclass(frozen=True)
class SigstoreOptions:
    """Where the identity comes from and which Sigstore instance signs (the reference tool's options)."""

    identity_token: str | None = None
    use_ambient_credentials: bool = True
    interactive: bool = True
    force_oob: bool = False
    staging: bool = False
    trust_config: Path | None = None
    oidc_issuer: str | None = None
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = ""


def _unreachable(what: str, exc: BaseException) -> ServiceError:
    return ServiceError(
        f"cannot reach {what}: keyless signing needs network access to Sigstore",
        details=(
            f"{type(exc).__name__}: {exc}".rstrip(": "),
            "offline or air-gapped: sign with `modelseal sign key|certificate|pkcs11-key` instead; "
            "verification of Sigstore signatures works offline",
        ),
    )


def _trust_config(options: SigstoreOptions) -> Any:
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import ClientTrustConfig

    if options.trust_config is not None:
        try:
            return ClientTrustConfig.from_json(options.trust_config.read_text(encoding="utf-8"))
        except (OSError, ValueError, SigstoreError) as exc:
            raise InputError(f"cannot load the Sigstore trust config {options.trust_config}: {exc}") from exc
    logging.getLogger("tuf").setLevel(logging.CRITICAL)  # its retries would print tracebacks on stderr
    try:
        return ClientTrustConfig.staging() if options.staging else ClientTrustConfig.production()
    except SigstoreError as exc:
        instance = "staging" if options.staging else "production"
        raise _unreachable(f"the Sigstore {instance} TUF repository", exc) from exc


def _known_token(options: SigstoreOptions) -> Any:
    """The explicit token, else ambient CI credentials; checked locally (claims, audience, expiry). None when
    only a login can provide one, which is refused up front where nobody can log in."""
    from sigstore.oidc import IdentityError, IdentityToken, detect_credential

    raw = options.identity_token
    try:
        if raw is None and options.use_ambient_credentials:
            raw = detect_credential(options.client_id)
    except IdentityError as exc:
        raise InputError(f"ambient OIDC credentials were found but unusable: {exc}", details=(_GITHUB_HINT,)) from exc
    if raw is not None:
        try:
            return IdentityToken(raw, options.client_id)
        except IdentityError as exc:
            raise InputError(
                f"the identity token was refused: {exc}",
                details=(f"it must be an unexpired OIDC ID token with audience {options.client_id!r}",),
            ) from exc
    if not options.interactive or not sys.stdin.isatty():
        raise InputError(
            "no identity token: pass --identity-token, run where ambient credentials exist "
            "(GitHub Actions, GitLab CI, Google Cloud, Buildkite), or sign from a terminal to log in",
            details=(_GITHUB_HINT,),
        )
    return None


def _login(options: SigstoreOptions, config: Any) -> Any:
    """The browser (or out-of-band) OAuth flow against the instance's OIDC issuer."""
    from sigstore.errors import NetworkError
    from sigstore.oidc import IdentityError, Issuer, IssuerError

    issuer_url = options.oidc_issuer or config.signing_config.get_oidc_url()
    try:
        return Issuer(issuer_url).identity_token(options.client_id, options.client_secret, options.force_oob)
    except NetworkError as exc:
        raise _unreachable(f"the OIDC issuer {issuer_url}", exc) from exc
    except (IssuerError, IdentityError) as exc:
        raise ServiceError(f"the OIDC issuer {issuer_url} refused the login: {exc}") from exc


@dataclass
class SigstoreSigner:
    """A Sigstore signer holding its Fulcio certificate; create it with `connect`."""

    signer: Any
    identity: str
    issuer: str

    @classmethod
    def connect(cls, options: SigstoreOptions) -> SigstoreSigner:
        import requests
        from sigstore.errors import Error as SigstoreError
        from sigstore.errors import NetworkError
        from sigstore.sign import Signer, SigningContext

        token = _known_token(options)  # local checks first: they need no network
        config = _trust_config(options)
        if token is None:
            token = _login(options, config)
        try:
            context = SigningContext.from_trust_config(config)
            signer = Signer(token, context, cache=True)  # asks Fulcio for the certificate now
        except (requests.RequestException, NetworkError) as exc:
            raise _unreachable("Fulcio (the Sigstore certificate authority)", exc) from exc
        except SigstoreError as exc:
            raise ServiceError(f"Fulcio did not issue a signing certificate: {exc}") from exc
        return cls(signer, token.identity, token.issuer)

    def sign(self, payload: bytes) -> Bundle:
        import requests
        from sigstore._internal.fulcio.client import ExpiredCertificate  # raised by Signer, not re-exported
        from sigstore.dsse import Statement
        from sigstore.errors import Error as SigstoreError
        from sigstore.errors import NetworkError

        try:
            signed = self.signer.sign_dsse(Statement(payload))
        except ExpiredCertificate as exc:
            raise ServiceError(
                "the Sigstore certificate expired while the model was hashed (it is valid for 10 minutes)",
                details=("sign again where hashing is faster, or sign with a key",),
            ) from exc
        except (requests.RequestException, NetworkError) as exc:
            raise _unreachable("Rekor (the Sigstore transparency log)", exc) from exc
        except SigstoreError as exc:
            raise ServiceError(f"Rekor did not log the signature: {exc}") from exc
        return parse_bundle(signed.to_json().encode("utf-8"))
