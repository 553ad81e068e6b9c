"""`modelseal attest …`: signed statements about a model, bound to the root digest of its signature."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from modelseal.cli.options import (
    EXISTING,
    FILE,
    common_options,
    embedded_chain,
    option,
    password,
    scan_workers,
    scanning_options,
)
from modelseal.cli.runner import run


@click.group()
def attest() -> None:
    """Sign statements about a model, bound to the same root digest as its signature."""


def _attestation_signer(
    private_key: Path | None,
    password: str | None,
    signing_certificate: Path | None,
    certificate_chain: tuple[Path, ...],
    pkcs11_uri: str | None,
    sigstore: bool,
    identity_token: str | None,
) -> Callable[[], Any]:
    """The signer the options name: a key (PEM or token), with a certificate if given, or Sigstore."""
    keys = [name for name, given in (("--private-key", private_key), ("--pkcs11-uri", pkcs11_uri)) if given]
    if sigstore == bool(keys) or len(keys) > 1:
        raise click.UsageError("sign with exactly one of --private-key, --pkcs11-uri and --sigstore")
    if sigstore:
        from modelseal.signing.sigstore_sign import SigstoreOptions, SigstoreSigner

        return lambda: SigstoreSigner.connect(SigstoreOptions(identity_token=identity_token))

    def signer() -> Any:
        from modelseal.cli.keys import open_signing_key
        from modelseal.signing.certificate import CertificateSigner
        from modelseal.signing.key import KeySigner

        key = open_signing_key(private_key, password, pkcs11_uri)
        if signing_certificate is None:
            return KeySigner(key)
        return CertificateSigner.for_key(key, keys[0], signing_certificate, certificate_chain)

    return signer


@attest.command("scan")
@click.argument("model", type=EXISTING)
@option("--private-key", env="PRIVATE_KEY", type=FILE, default=None, help="Sign with this PEM EC private key...")
@option("--pkcs11-uri", env="PKCS11_URI", default=None, help="...or with this key on a PKCS#11 token...")
@option("--sigstore", env="SIGSTORE", is_flag=True, help="...or keylessly with Sigstore (see `sign sigstore`).")
@option("--identity-token", env="IDENTITY_TOKEN", default=None, help="With --sigstore: an OIDC ID token.")
@option(
    "--signing-certificate",
    env="SIGNING_CERTIFICATE",
    type=FILE,
    default=None,
    help="With a key: its PEM certificate, to sign as a certificate signer.",
)
@embedded_chain
@password
@option(
    "--attestation",
    env="ATTESTATION",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write it. Default: MODEL/model.scan.sig, or MODEL.scan.sig beside a single file.",
)
@option("--policy", env="POLICY", type=FILE, default=None, help="Scan policy TOML (as for `scan --policy`).")
@scanning_options
@common_options
def attest_scan_command(
    model: Path,
    private_key: Path | None,
    pkcs11_uri: str | None,
    sigstore: bool,
    identity_token: str | None,
    signing_certificate: Path | None,
    certificate_chain: tuple[Path, ...],
    password: str | None,
    attestation: Path | None,
    policy: Path | None,
    jobs: int | None,
    file_timeout: float,
    file_memory: int,
    use_cache: bool,
    **options: Any,
) -> None:
    """Scan MODEL and sign the verdicts as an in-toto attestation bound to the model's root digest.

    The model is hashed as its signature says (when it has one), so both name the same bytes. Consumers then
    `modelseal check` without scanning again.
    """
    factory = _attestation_signer(
        private_key, password, signing_certificate, certificate_chain, pkcs11_uri, sigstore, identity_token
    )

    def action() -> None:
        from modelseal.attest.attest import attest_scan
        from modelseal.cli import render
        from modelseal.scanning.cache import default_scan_cache_path

        signer = factory()
        with render.hashing_progress(not options["as_json"]) as progress:
            result = attest_scan(
                model,
                signer,
                attestation=attestation,
                policy=policy,
                signature=options["signature"],
                workers=options["workers"],
                progress=progress,
                scan_workers=scan_workers(jobs, file_timeout, file_memory),
                scan_cache=default_scan_cache_path() if use_cache else None,
            )
        render.attested(result, options["as_json"])

    run(action, options["as_json"])
