"""RFC 3161 timestamps, so a certificate signature outlives its certificate. At signing, `--tsa-url` asks a
Time-Stamping Authority to timestamp the DSSE signature bytes and puts its reply in the bundle's
`timestampVerificationData` (allowed by OMS v1.0; model-signing ignores it). At verification, a token from a
trusted TSA over exactly those bytes proves when the signature existed, and the certificate is judged at that
time: an expired leaf with a token from inside its validity passes; a token from after expiry, over other bytes or
from a TSA not trusted fails. Requests and tokens are built and checked with `rfc3161-client`."""

from __future__ import annotations

import base64
import dataclasses
import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from modelseal.errors import InputError, ServiceError, VerificationError
from modelseal.oms.bundle import Bundle
from modelseal.signing.base import Signer
from modelseal.signing.keys import load_certificates

TIMEOUT = 30
MAX_REPLY = 1 << 20


def request_timestamp(url: str, signature: bytes) -> bytes:
    """A granted TimeStampResponse (DER) from the TSA at `url` over `signature`, checked to answer this request
    (the same message imprint and nonce) before it is kept."""
    import requests
    from rfc3161_client import PKIStatus, TimestampRequestBuilder, decode_timestamp_response

    request = TimestampRequestBuilder().data(signature).nonce(nonce=True).cert_request(cert_request=True).build()
    try:
        answer = requests.post(
            url,
            data=request.as_bytes(),
            headers={"Content-Type": "application/timestamp-query"},
            timeout=TIMEOUT,
            stream=True,
        )
        reply: bytes = answer.raw.read(MAX_REPLY + 1, decode_content=True)
    except requests.RequestException as exc:
        raise ServiceError(f"cannot reach the timestamp authority {url}: {exc}") from exc
    if answer.status_code != 200 or len(reply) > MAX_REPLY:
        raise ServiceError(f"the timestamp authority {url} answered {answer.status_code}")
    try:
        response = decode_timestamp_response(reply)
    except ValueError as exc:
        raise ServiceError(f"the timestamp authority {url} sent no timestamp reply: {exc}") from exc
    if PKIStatus(response.status) not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise ServiceError(f"the timestamp authority {url} refused the request (status {response.status})")
    info = response.tst_info
    if info.nonce != request.nonce or info.message_imprint.message != request.message_imprint.message:
        raise ServiceError(f"the timestamp authority {url} answered another request")
    return reply


@dataclass(frozen=True)
class TimestampingSigner:
    """Wraps a signer: every bundle it makes carries a timestamp over its signature."""

    signer: Signer
    url: str

    def sign(self, payload: bytes) -> Bundle:
        bundle = self.signer.sign(payload)
        token = base64.b64encode(request_timestamp(self.url, bundle.signature)).decode("ascii")
        material = {
            **bundle.verification_material,
            "timestampVerificationData": {"rfc3161Timestamps": [{"signedTimestamp": token}]},
        }
        return dataclasses.replace(bundle, verification_material=material, raw=b"")


@dataclass(frozen=True)
class TimestampAuthority:
    """A TSA to trust: its root(s), and the intermediates and TSA certificate if the tokens do not carry them."""

    roots: tuple[x509.Certificate, ...]
    others: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_files(cls, paths: Sequence[Path]) -> TimestampAuthority:
        certificates = [c for path in paths for c in load_certificates(path)]
        roots = tuple(c for c in certificates if c.issuer == c.subject)
        if not roots:
            raise InputError("the timestamp authority's certificates include no root (self-signed) certificate")
        return cls(roots, tuple(c for c in certificates if c.issuer != c.subject))

    def time_of(self, reply: bytes, signature: bytes) -> datetime.datetime:
        """When the TSA saw `signature`; VerificationError if this TSA did not sign a token over it."""
        from rfc3161_client import VerificationError as TokenError
        from rfc3161_client import VerifierBuilder, decode_timestamp_response

        try:
            response = decode_timestamp_response(reply)
        except ValueError as exc:
            raise VerificationError(f"the signature's timestamp cannot be parsed: {exc}") from exc
        builder = VerifierBuilder()
        for root in self.roots:
            builder = builder.add_root_certificate(root)
        for certificate in self.others:
            if _is_ca(certificate):
                builder = builder.add_intermediate_certificate(certificate)
            else:
                builder = builder.tsa_certificate(certificate)
        try:
            builder.build().verify_message(response, signature)
        except (TokenError, ValueError) as exc:
            raise VerificationError(
                "the signature's timestamp does not verify with the trusted timestamp authority",
                details=(str(exc),),
            ) from exc
        return response.tst_info.gen_time.astimezone(datetime.UTC)


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def signing_time(bundle: Bundle, authorities: Sequence[TimestampAuthority]) -> datetime.datetime | None:
    """The time a trusted TSA vouches the bundle's signature existed; None if the bundle carries no timestamp.
    A timestamp that no trusted TSA vouches for is an error, never ignored."""
    tokens = bundle.timestamps()
    if not tokens:
        return None
    failures: list[str] = []
    for token in tokens:
        for authority in authorities:
            try:
                return authority.time_of(token, bundle.signature)
            except VerificationError as exc:
                failures.extend((exc.message, *exc.details))
    raise VerificationError(
        "the signature's timestamp is not from a trusted timestamp authority, or covers other bytes",
        details=tuple(dict.fromkeys(failures))[:6],
    )
