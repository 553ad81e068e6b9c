"""The signing key or signer a command names: a PEM key or a key on a PKCS#11 token (with its certificate, if
given), or Sigstore. Imports stay lazy: the token's library and cryptography are paid for only by commands that
sign."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from modelseal.cli.options import FILE, embedded_chain, option, password, stacked, tsa_url

if TYPE_CHECKING:
    from modelseal.signing.keys import SigningKey

F = TypeVar("F", bound=Callable[..., Any])


KEY_SOURCES = ("--private-key", "--pkcs11-uri", "--kms-uri", "--signer-command")


def open_signing_key(
    private_key: Path | None,
    password: str | None,
    pkcs11_uri: str | None,
    kms_uri: str | None = None,
    signer_command: str | None = None,
) -> SigningKey:
    """The one key the options name: on a PKCS#11 token, in a KMS, behind a signer command, or in a PEM file."""
    given = [n for n, v in zip(KEY_SOURCES, (private_key, pkcs11_uri, kms_uri, signer_command), strict=True) if v]
    if len(given) != 1:
        raise click.UsageError(f"give exactly one signing key: {', '.join(KEY_SOURCES)}")
    if pkcs11_uri is not None:
        from modelseal.signing.pkcs11 import TokenKey

        return TokenKey.open(pkcs11_uri)
    if kms_uri is not None:
        from modelseal.signing.kms import KmsKey

        return KmsKey(kms_uri)
    if signer_command is not None:
        from modelseal.signing.command import CommandKey

        return CommandKey(signer_command)
    from modelseal.signing.keys import SoftwareKey

    assert private_key is not None
    return SoftwareKey.from_file(private_key, password)


kms_uri = option(
    "--kms-uri",
    env="KMS_URI",
    default=None,
    help="...or with this key in AWS KMS (awskms:///KEY-ID, awskms:///alias/NAME, awskms:///arn:…)...",
)
signer_command = option(
    "--signer-command",
    env="SIGNER_COMMAND",
    default=None,
    help="...or with a program that signs digests (`CMD public-key`, `CMD sign ALGORITHM`; see the README).",
)


_signer_flags = stacked(
    option("--private-key", env="PRIVATE_KEY", type=FILE, default=None, help="Sign with this PEM EC private key..."),
    option("--pkcs11-uri", env="PKCS11_URI", default=None, help="...or with this key on a PKCS#11 token..."),
    kms_uri,
    signer_command,
    option("--sigstore", env="SIGSTORE", is_flag=True, help="...or keylessly with Sigstore (see `sign sigstore`)."),
    option("--identity-token", env="IDENTITY_TOKEN", default=None, help="With --sigstore: an OIDC ID token."),
    option(
        "--signing-certificate",
        env="SIGNING_CERTIFICATE",
        type=FILE,
        default=None,
        help="With a key: its PEM certificate, to sign as a certificate signer.",
    ),
    embedded_chain,
    password,
    tsa_url,
)


def _signer_factory(
    private_key: Path | None,
    password: str | None,
    signing_certificate: Path | None,
    certificate_chain: tuple[Path, ...],
    pkcs11_uri: str | None,
    kms_uri: str | None,
    signer_command: str | None,
    sigstore: bool,
    identity_token: str | None,
) -> Callable[[], Any]:
    """The signer the options name: a key (PEM, token, KMS or command), with a certificate if given, or Sigstore."""
    sources = (private_key, pkcs11_uri, kms_uri, signer_command)
    keys = [name for name, value in zip(KEY_SOURCES, sources, strict=True) if value]
    if sigstore == bool(keys) or len(keys) > 1:
        raise click.UsageError(f"sign with exactly one of {', '.join(KEY_SOURCES)} and --sigstore")
    if sigstore:
        from modelseal.signing.sigstore_sign import SigstoreOptions, SigstoreSigner

        return lambda: SigstoreSigner.connect(SigstoreOptions(identity_token=identity_token))

    def signer() -> Any:
        from modelseal.cli.keys import open_signing_key
        from modelseal.signing.certificate import CertificateSigner
        from modelseal.signing.key import KeySigner

        key = open_signing_key(private_key, password, pkcs11_uri, kms_uri, signer_command)
        if signing_certificate is None:
            return KeySigner(key)
        return CertificateSigner.for_key(key, keys[0], signing_certificate, certificate_chain)

    return signer


_SIGNER_PARAMETERS = (
    "private_key",
    "password",
    "signing_certificate",
    "certificate_chain",
    "pkcs11_uri",
    "kms_uri",
    "signer_command",
    "sigstore",
    "identity_token",
)


def timestamped(signer: Any, url: str | None) -> Any:
    """The signer, made to timestamp its signatures at `url` (an RFC 3161 TSA) when one is given."""
    if url is None:
        return signer
    from modelseal.signing.timestamp import TimestampingSigner

    return TimestampingSigner(signer, url)


def signer_options(func: F) -> F:
    """Options of commands that sign with any signer (one of a key file, a token key, or Sigstore), handed to the
    command as one `signer` argument: a factory called when the signing starts."""

    @functools.wraps(func)
    def command(*args: Any, **kw: Any) -> Any:
        factory = _signer_factory(**{name: kw.pop(name) for name in _SIGNER_PARAMETERS})
        tsa_url = kw.pop("tsa_url")
        return func(*args, signer=lambda: timestamped(factory(), tsa_url), **kw)

    return _signer_flags(cast(F, command))
