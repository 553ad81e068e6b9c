"""`modelseal verify …`: the consumer's side. How the model was hashed comes from the signature."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from modelseal.cli.options import (
    FILE,
    MODEL,
    cache_path,
    common_options,
    option,
    staging,
    trust_config,
    verify_options,
)
from modelseal.cli.runner import run
from modelseal.remote import RemoteLocation


class _VerifyGroup(click.Group):
    """`modelseal verify --policy FILE MODEL` is `modelseal verify policy --policy FILE MODEL`: with a policy
    the method comes from the signature, so no method subcommand is needed."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        policy_given = any(a == "--policy" or a.startswith("--policy=") for a in args)
        if args and args[0] not in self.commands and policy_given:
            args = ["policy", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_VerifyGroup)
def verify() -> None:
    """Verify a model against its signature. Hash type, method and ignore rules come from the signature.

    With `--policy FILE` (a trust policy) no method is named: `modelseal verify --policy trust.toml MODEL`.
    """


def _verify(
    model: Path | RemoteLocation,
    verifier_factory: Callable[[], Any],
    ignore_unsigned_files: bool,
    options: dict[str, Any],
) -> None:
    from modelseal import signature
    from modelseal.cli import render

    def action() -> None:
        with render.hashing_progress(not options["as_json"]) as progress:
            if isinstance(model, RemoteLocation):
                from modelseal.remote.signing import verify_remote

                result = verify_remote(
                    model,
                    verifier_factory(),
                    signature=options["signature"],
                    ignore_paths=options["ignore_paths"],
                    ignore_unsigned_files=ignore_unsigned_files,
                    read_all=options["read_all"],
                    pull=options["pull"],
                    progress=progress,
                )
            else:
                result = signature.verify(
                    model,
                    verifier_factory(),
                    signature=options["signature"],
                    ignore_paths=options["ignore_paths"],
                    ignore_unsigned_files=ignore_unsigned_files,
                    workers=options["workers"],
                    progress=progress,
                    trusted_cache=cache_path(options["trust_cache"]),
                )
        render.verified(result, options["as_json"])

    run(action, options["as_json"])


@verify.command("key")
@click.argument("model", type=MODEL)
@option("--public-key", env="PUBLIC_KEY", type=FILE, required=True, help="PEM EC public key of the signer.")
@verify_options
@common_options
def verify_key(model: Path | RemoteLocation, public_key: Path, ignore_unsigned_files: bool, **options: Any) -> None:
    """Verify MODEL's signature with the signer's public key."""
    from modelseal.signing.key import KeyVerifier

    _verify(model, lambda: KeyVerifier.from_file(public_key), ignore_unsigned_files, options)


@verify.command("certificate")
@click.argument("model", type=MODEL)
@option(
    "--certificate-chain",
    env="CERTIFICATE_CHAIN",
    type=FILE,
    multiple=True,
    required=True,
    help="PEM certificates to trust (roots and intermediates); nothing else is trusted.",
)
@option(
    "--identity",
    env="IDENTITY",
    default=None,
    help="Require the signing certificate to name this subject, common name, email, URI or DNS name.",
)
@option(
    "--tsa-certificate",
    env="TSA_CERTIFICATE",
    type=FILE,
    multiple=True,
    help="PEM certificates of a timestamp authority to trust (its root, and its own certificate if the tokens do "
    "not carry it): a timestamp it made over the signature sets the time the certificate is judged at.",
)
@verify_options
@common_options
def verify_certificate(
    model: Path | RemoteLocation,
    certificate_chain: tuple[Path, ...],
    identity: str | None,
    tsa_certificate: tuple[Path, ...],
    ignore_unsigned_files: bool,
    **options: Any,
) -> None:
    """Verify MODEL's certificate signature against the certificates you trust."""
    from modelseal.signing.certificate import CertificateVerifier

    def verifier() -> CertificateVerifier:
        return CertificateVerifier.from_files(certificate_chain, identity, timestamp_authority=tsa_certificate)

    _verify(model, verifier, ignore_unsigned_files, options)


@verify.command("sigstore")
@click.argument("model", type=MODEL)
@option("--identity", env="IDENTITY", default=None, help="The signer's exact identity (e-mail, or workflow URI).")
@option(
    "--identity-pattern",
    env="IDENTITY_PATTERN",
    default=None,
    help="Or a pattern: '*' within a path segment, '**' across, e.g. "
    "'https://github.com/acme/*/.github/workflows/*@refs/tags/*'.",
)
@option(
    "--identity-provider",
    env="IDENTITY_PROVIDER",
    required=True,
    help="The OIDC issuer that vouched for the identity, e.g. https://token.actions.githubusercontent.com.",
)
@option(
    "--github",
    "github_claims",
    env="GITHUB",
    multiple=True,
    metavar="CLAIM=PATTERN",
    help="Require a GitHub Actions claim of the certificate: repository, ref, trigger, workflow, sha or "
    "runner-environment, e.g. --github repository=acme/models --github 'ref=refs/tags/*'.",
)
@option(
    "--trusted-root",
    env="TRUSTED_ROOT",
    type=FILE,
    default=None,
    help="A Sigstore trusted_root.json. Default: the production root shipped with sigstore-python (offline).",
)
@staging
@trust_config
@option(
    "--offline/--online",
    env="OFFLINE",
    default=True,
    help="Use the trusted root shipped with sigstore-python (no network), or refresh it from Sigstore's TUF "
    "repository first.",
)
@verify_options
@common_options
def verify_sigstore(
    model: Path | RemoteLocation,
    identity: str | None,
    identity_pattern: str | None,
    identity_provider: str,
    github_claims: tuple[str, ...],
    trusted_root: Path | None,
    staging: bool,
    trust_config: Path | None,
    offline: bool,
    ignore_unsigned_files: bool,
    **options: Any,
) -> None:
    """Verify MODEL's Sigstore (keyless) signature offline, for this identity (or pattern) and issuer."""
    from modelseal.signing.identity import SigstoreIdentity
    from modelseal.signing.sigstore import SigstoreTrust, SigstoreVerifier

    if (identity is None) == (identity_pattern is None):
        raise click.UsageError("give exactly one of --identity and --identity-pattern")
    claims = []
    for item in github_claims:
        claim, equals, pattern = item.partition("=")
        if not equals:
            raise click.BadParameter(f"{item!r} is not CLAIM=PATTERN", param_hint="--github")
        claims.append((claim.strip(), pattern))
    try:
        signer = SigstoreIdentity(identity_provider, identity, identity_pattern, tuple(claims))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--github") from exc
    trust = SigstoreTrust(trusted_root, trust_config, staging, online=not offline)
    _verify(model, lambda: SigstoreVerifier((signer,), trust), ignore_unsigned_files, options)


@verify.command("policy")
@click.argument("model", type=MODEL)
@option(
    "--policy",
    env="TRUST_POLICY",
    type=FILE,
    required=True,
    help="Trust policy (TOML): the signers trusted for which models. The method comes from the signature.",
)
@verify_options
@common_options
def verify_policy(model: Path | RemoteLocation, policy: Path, ignore_unsigned_files: bool, **options: Any) -> None:
    """Verify MODEL against the signers a trust policy file accepts for it."""
    from modelseal.policy.trust import load_trust_policy

    _verify(
        model,
        lambda: load_trust_policy(policy).verifier_for(str(model) if isinstance(model, RemoteLocation) else model),
        ignore_unsigned_files,
        options,
    )
