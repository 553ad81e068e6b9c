"""`modelseal sign …`, `digest` and `public-key`: the signer's side."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from modelseal.cli.keys import kms_uri, open_signing_key, signer_command, timestamped
from modelseal.cli.options import (
    FILE,
    MODEL,
    common_options,
    embedded_chain,
    hashing_options,
    metadata_documents,
    option,
    password,
    pkcs11_uri,
    signing_certificate,
    signing_options,
    staging,
    trust_config,
    tsa_url,
)
from modelseal.cli.runner import run
from modelseal.remote import RemoteLocation


@click.group()
def sign() -> None:
    """Sign a model directory or file, or a model where it lives (oci://, s3://, hf://, https://)."""


def _sign(model: Path | RemoteLocation, signer_factory: Callable[[], Any], options: dict[str, Any]) -> None:
    from modelseal import signature
    from modelseal.cli import render

    def action() -> None:
        if isinstance(model, RemoteLocation) and options["metadata"]:
            raise click.UsageError("--metadata binds documents beside a local model; sign the directory")
        signer = timestamped(signer_factory(), options.get("tsa_url"))  # before any progress: a login may prompt
        with render.hashing_progress(not options["as_json"]) as progress:
            if isinstance(model, RemoteLocation):
                from modelseal.remote.signing import sign_remote

                result = sign_remote(
                    model,
                    signer,
                    hashing_options(options),
                    signature=options["signature"],
                    pull=options["pull"],
                    progress=progress,
                )
            else:
                result = signature.sign_with(
                    model,
                    signer,
                    hashing_options(options),
                    signature=options["signature"],
                    progress=progress,
                    metadata=options["metadata"],
                )
        render.signed(result, options["as_json"])

    run(action, options["as_json"])


@sign.command("key")
@click.argument("model", type=MODEL)
@option("--private-key", env="PRIVATE_KEY", type=FILE, default=None, help="PEM EC private key (P-256/384/521)...")
@kms_uri
@signer_command
@password
@metadata_documents
@tsa_url
@signing_options
@common_options
def sign_key(
    model: Path | RemoteLocation,
    private_key: Path | None,
    kms_uri: str | None,
    signer_command: str | None,
    password: str | None,
    **options: Any,
) -> None:
    """Sign MODEL with an EC private key: a PEM file, a key in AWS KMS, or one behind a signer command."""
    from modelseal.signing.key import KeySigner

    _sign(model, lambda: KeySigner(open_signing_key(private_key, password, None, kms_uri, signer_command)), options)


@sign.command("certificate")
@click.argument("model", type=MODEL)
@option("--private-key", env="PRIVATE_KEY", type=FILE, default=None, help="PEM EC private key of the certificate...")
@kms_uri
@signer_command
@signing_certificate
@embedded_chain
@password
@metadata_documents
@tsa_url
@signing_options
@common_options
def sign_certificate(
    model: Path | RemoteLocation,
    private_key: Path | None,
    kms_uri: str | None,
    signer_command: str | None,
    signing_certificate: Path,
    certificate_chain: tuple[Path, ...],
    password: str | None,
    **options: Any,
) -> None:
    """Sign MODEL with a key (a PEM file, in AWS KMS, or behind a signer command) and its X.509 certificate chain."""
    from modelseal.signing.certificate import CertificateSigner

    def signer() -> CertificateSigner:
        key = open_signing_key(private_key, password, None, kms_uri, signer_command)
        name = str(private_key or kms_uri or "the signer command's key")
        return CertificateSigner.for_key(key, name, signing_certificate, certificate_chain)

    _sign(model, signer, options)


@sign.command("pkcs11-key")
@click.argument("model", type=MODEL)
@pkcs11_uri
@metadata_documents
@tsa_url
@signing_options
@common_options
def sign_pkcs11_key(model: Path | RemoteLocation, pkcs11_uri: str, **options: Any) -> None:
    """Sign MODEL with an EC key on a PKCS#11 token (HSM, smart card); the key never leaves the token."""
    from modelseal.signing.key import KeySigner
    from modelseal.signing.pkcs11 import TokenKey

    _sign(model, lambda: KeySigner(TokenKey.open(pkcs11_uri)), options)


@sign.command("pkcs11-certificate")
@click.argument("model", type=MODEL)
@pkcs11_uri
@signing_certificate
@embedded_chain
@metadata_documents
@tsa_url
@signing_options
@common_options
def sign_pkcs11_certificate(
    model: Path | RemoteLocation,
    pkcs11_uri: str,
    signing_certificate: Path,
    certificate_chain: tuple[Path, ...],
    **options: Any,
) -> None:
    """Sign MODEL with a key on a PKCS#11 token and its X.509 certificate chain."""
    from modelseal.signing.certificate import CertificateSigner
    from modelseal.signing.pkcs11 import TokenKey
    from modelseal.signing.pkcs11_uri import redact

    _sign(
        model,
        lambda: CertificateSigner.for_key(
            TokenKey.open(pkcs11_uri), redact(pkcs11_uri), signing_certificate, certificate_chain
        ),
        options,
    )


@sign.command("sigstore")
@click.argument("model", type=MODEL)
@option(
    "--identity-token",
    env="IDENTITY_TOKEN",
    default=None,
    help="An OIDC ID token (audience 'sigstore'). Default: ambient CI credentials, else a browser login.",
)
@option(
    "--use-ambient-credentials/--no-ambient-credentials",
    env="USE_AMBIENT_CREDENTIALS",
    default=True,
    help="Detect CI credentials (GitHub Actions, GitLab CI, Google Cloud, Buildkite) when no token is given.",
)
@option("--oauth-force-oob", env="OAUTH_FORCE_OOB", is_flag=True, help="Log in without opening a browser.")
@option("--oidc-issuer", env="OIDC_ISSUER", default=None, help="OIDC issuer for the login flow.")
@option("--client-id", env="CLIENT_ID", default="sigstore", help="OIDC client ID for the login flow.")
@option("--client-secret", env="CLIENT_SECRET", default="", show_default=False, help="OIDC client secret.")
@staging
@trust_config
@metadata_documents
@signing_options
@common_options
def sign_sigstore(
    model: Path | RemoteLocation,
    identity_token: str | None,
    use_ambient_credentials: bool,
    oauth_force_oob: bool,
    oidc_issuer: str | None,
    client_id: str,
    client_secret: str,
    staging: bool,
    trust_config: Path | None,
    **options: Any,
) -> None:
    """Sign MODEL keylessly with Sigstore: your OIDC identity is bound to the signature and logged publicly.

    The token and the signing certificate are obtained before hashing, so without network this fails at once.
    """
    from modelseal.signing.sigstore_sign import SigstoreOptions, SigstoreSigner

    settings = SigstoreOptions(
        identity_token=identity_token,
        use_ambient_credentials=use_ambient_credentials,
        force_oob=oauth_force_oob,
        staging=staging,
        trust_config=trust_config,
        oidc_issuer=oidc_issuer,
        client_id=client_id,
        client_secret=client_secret,
    )
    _sign(model, lambda: SigstoreSigner.connect(settings), options)


@click.command("digest")
@click.argument("model", type=MODEL)
@signing_options
@common_options
def digest_command(model: Path | RemoteLocation, **options: Any) -> None:
    """Print MODEL's root digest: the sha256 a signature with these settings would bind."""
    from modelseal import signature
    from modelseal.cli import render

    def action() -> None:
        if isinstance(model, RemoteLocation):
            from modelseal.remote import open_model
            from modelseal.remote.signing import digest_remote

            manifest = digest_remote(open_model(model, pull=options["pull"]), hashing_options(options))
            render.digested(manifest, options["as_json"])
            return
        with render.hashing_progress(not options["as_json"]) as progress:
            manifest, _ = signature.digest_tree(
                model, hashing_options(options), signature=options["signature"], progress=progress
            )
        render.digested(manifest, options["as_json"])

    run(action, options["as_json"])


@click.command("public-key")
@option("--pkcs11-uri", env="PKCS11_URI", default=None, help="RFC 7512 URI of a key on a PKCS#11 token...")
@option("--private-key", env="PRIVATE_KEY", type=FILE, default=None, help="...or a PEM EC private key...")
@kms_uri
@signer_command
@password
@option(
    "--output",
    env="PUBLIC_KEY_OUTPUT",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the PEM public key here instead of standard output.",
)
def public_key_command(
    pkcs11_uri: str | None,
    private_key: Path | None,
    kms_uri: str | None,
    signer_command: str | None,
    password: str | None,
    output: Path | None,
) -> None:
    """Print the PEM public key of a signing key, for `modelseal verify key --public-key` on the consumer's side."""

    def action() -> None:
        from cryptography.hazmat.primitives import serialization

        from modelseal.oms.bundle import write_atomically

        pem = (
            open_signing_key(private_key, password, pkcs11_uri, kms_uri, signer_command)
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        if output is None:
            click.echo(pem.decode("ascii"), nl=False)
        else:
            write_atomically(output, pem)

    run(action)
