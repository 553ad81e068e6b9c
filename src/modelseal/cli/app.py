"""Command-line parsing only: every command calls the library and hands the result to `render`.

Underscore spellings of options (`--private_key`, as the reference tool writes them) are accepted through
click's token normalisation; every option also reads a `MODELSEAL_*` environment variable.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from modelseal.cli.exit_codes import ExitCode, for_error

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT = {
    "token_normalize_func": lambda token: token.replace("_", "-"),
    "help_option_names": ["-h", "--help"],
    "show_default": True,
}


if TYPE_CHECKING:
    _PathType = click.ParamType[Path]
else:  # click < 8.3 has no generic ParamType at runtime
    _PathType = click.ParamType


class _ModelPath(_PathType):
    """An existing file or directory, or `org/name[@revision]` from the local Hugging Face cache (no network)."""

    name = "model"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        if isinstance(value, Path):
            return value
        path = Path(value)
        if path.exists() or path.is_symlink():
            return path
        from modelseal.errors import InputError
        from modelseal.hf_cache import looks_like_repo_id, resolve_repo

        if not looks_like_repo_id(value):
            self.fail(f"path {value!r} does not exist", param, ctx)
        try:
            return resolve_repo(value)
        except InputError as exc:
            self.fail(exc.diagnostics(), param, ctx)


EXISTING = _ModelPath()
FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _option(*names: str, env: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(*names, envvar=f"MODELSEAL_{env}", show_envvar=True, **kwargs)


def _common(func: F) -> F:
    """Options every model command shares."""
    func = _option(
        "--signature",
        env="SIGNATURE",
        type=click.Path(path_type=Path),
        help="Signature file. Default: MODEL/model.sig, or MODEL.sig for a single file.",
    )(func)
    func = _option(
        "--ignore-paths",
        env="IGNORE_PATHS",
        multiple=True,
        help="Path (relative to the model, or absolute) to leave out; repeat for more.",
    )(func)
    func = _option("--json", "as_json", env="JSON", is_flag=True, help="Print a machine-readable JSON result.")(func)
    func = _option(
        "--workers",
        env="WORKERS",
        type=click.IntRange(1, 256),
        default=None,
        help="Hashing threads. Default: one per core.",
    )(func)
    return func


def _signing(func: F) -> F:
    """Options that choose how the model is serialised; verification reads them from the signature."""
    func = _option(
        "--ignore-git-paths/--no-ignore-git-paths",
        env="IGNORE_GIT_PATHS",
        default=True,
        help="Leave out top-level .git, .github, .gitignore, .gitattributes.",
    )(func)
    func = _option(
        "--allow-symlinks",
        env="ALLOW_SYMLINKS",
        is_flag=True,
        help="Follow symlinks, hashing the target's content under the link's name.",
    )(func)
    func = _option(
        "--hash",
        "hash_type",
        env="HASH",
        type=click.Choice(["sha256", "blake2b", "blake3"]),
        default="sha256",
        help="Digest algorithm for files (the root digest is always sha256).",
    )(func)
    func = _option(
        "--shard-size",
        env="SHARD_SIZE",
        type=click.IntRange(min=1),
        default=None,
        help="Sign fixed-size shards of this many bytes instead of whole files.",
    )(func)
    func = _option(
        "--cache/--no-cache",
        env="CACHE",
        default=True,
        help="Reuse digests of files unchanged since they were last hashed (same inode, size, mtime, ctime), "
        "from a SQLite file under $MODELSEAL_CACHE_DIR or ~/.cache/modelseal.",
    )(func)
    func = _option(
        "--compat",
        env="COMPAT",
        type=click.Choice(["spec", "reference"]),
        default="spec",
        help="'reference' writes what model-signing 1.x writes where it differs from the spec "
        "(single-file name '.', shard algorithm names).",
    )(func)
    return func


_signing_certificate = _option(
    "--signing-certificate", env="SIGNING_CERTIFICATE", type=FILE, required=True, help="PEM leaf certificate."
)
_embedded_chain = _option(
    "--certificate-chain",
    env="CERTIFICATE_CHAIN",
    type=FILE,
    multiple=True,
    help="PEM intermediate certificates to embed; repeat or put several in one file.",
)
_metadata = _option(
    "--metadata",
    env="METADATA",
    type=FILE,
    multiple=True,
    help="A document about the model (model card, evaluation results) to bind to its bytes in model.meta.sig; "
    "repeatable.",
)


def _writable_output(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Refuse an --output in a directory that does not exist before doing the work, not after it."""
    if value is not None and not value.absolute().parent.is_dir():
        raise click.BadParameter(f"the directory {value.absolute().parent} does not exist", ctx, param)
    return value


_report_output = _option(
    "--output",
    env="OUTPUT",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    callback=_writable_output,
    help="Write the report to this file instead of standard output.",
)
_password = _option("--password", env="PASSWORD", default=None, help="Password of an encrypted private key.")


def run(action: Callable[[], None], as_json: bool = False) -> None:
    """Run a command body; map every outcome to its exit code, never show a traceback unless asked."""
    from modelseal.errors import ModelsealError

    try:
        action()
    except ModelsealError as exc:
        from modelseal.cli import render

        render.error(exc, as_json)
        sys.exit(for_error(exc))
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as exc:
        if os.environ.get("MODELSEAL_DEBUG"):
            raise
        from modelseal.cli import render

        render.internal_error(exc)
        sys.exit(for_error(exc))


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="modelseal", prog_name="modelseal")
def main() -> None:
    """Sign, verify and scan machine-learning models (OpenSSF Model Signing v1.0)."""


@main.group()
def sign() -> None:
    """Sign a model directory or file."""


class _VerifyGroup(click.Group):
    """`modelseal verify --policy FILE MODEL` is `modelseal verify policy --policy FILE MODEL`: with a policy
    the method comes from the signature, so no method subcommand is needed."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        policy_given = any(a == "--policy" or a.startswith("--policy=") for a in args)
        if args and args[0] not in self.commands and policy_given:
            args = ["policy", *args]
        return super().parse_args(ctx, args)


@main.group(cls=_VerifyGroup)
def verify() -> None:
    """Verify a model against its signature. Hash type, method and ignore rules come from the signature.

    With `--policy FILE` (a trust policy) no method is named: `modelseal verify --policy trust.toml MODEL`.
    """


def _serialization(options: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments `sign` and `digest` share, from the parsed options."""
    return {
        "signature": options["signature"],
        "hash_type": options["hash_type"],
        "shard_size": options["shard_size"],
        "ignore_paths": options["ignore_paths"],
        "ignore_git_paths": options["ignore_git_paths"],
        "allow_symlinks": options["allow_symlinks"],
        "compat": options["compat"] == "reference",
        "workers": options["workers"],
        "cache": _cache_path(options["cache"]),
    }


def _cache_path(enabled: bool) -> Path | None:
    from modelseal.hashing.cache import default_cache_path

    return default_cache_path() if enabled else None


def _sign(model: Path, signer_factory: Callable[[], Any], options: dict[str, Any]) -> None:
    from modelseal import signature
    from modelseal.cli import render

    def action() -> None:
        with render.hashing_progress(not options["as_json"]) as progress:
            result = signature.sign(
                model, signer_factory(), progress=progress, metadata=options["metadata"], **_serialization(options)
            )
        render.signed(result, options["as_json"])

    run(action, options["as_json"])


@sign.command("key")
@click.argument("model", type=EXISTING)
@_option("--private-key", env="PRIVATE_KEY", type=FILE, required=True, help="PEM EC private key (P-256/384/521).")
@_password
@_metadata
@_signing
@_common
def sign_key(model: Path, private_key: Path, password: str | None, **options: Any) -> None:
    """Sign MODEL with an EC private key."""
    from modelseal.signing.key import KeySigner

    _sign(model, lambda: KeySigner.from_file(private_key, password), options)


@sign.command("certificate")
@click.argument("model", type=EXISTING)
@_option("--private-key", env="PRIVATE_KEY", type=FILE, required=True, help="PEM EC private key of the certificate.")
@_signing_certificate
@_embedded_chain
@_password
@_metadata
@_signing
@_common
def sign_certificate(
    model: Path,
    private_key: Path,
    signing_certificate: Path,
    certificate_chain: tuple[Path, ...],
    password: str | None,
    **options: Any,
) -> None:
    """Sign MODEL with a key and its X.509 certificate chain."""
    from modelseal.signing.certificate import CertificateSigner

    _sign(
        model,
        lambda: CertificateSigner.from_files(private_key, signing_certificate, certificate_chain, password),
        options,
    )


_pkcs11_uri = _option(
    "--pkcs11-uri",
    env="PKCS11_URI",
    required=True,
    help="RFC 7512 URI of the key on the token, e.g. "
    "'pkcs11:token=ml;object=model-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:pin.txt'.",
)


@sign.command("pkcs11-key")
@click.argument("model", type=EXISTING)
@_pkcs11_uri
@_metadata
@_signing
@_common
def sign_pkcs11_key(model: Path, pkcs11_uri: str, **options: Any) -> None:
    """Sign MODEL with an EC key on a PKCS#11 token (HSM, smart card); the key never leaves the token."""
    from modelseal.signing.key import KeySigner
    from modelseal.signing.pkcs11 import TokenKey

    _sign(model, lambda: KeySigner(TokenKey.open(pkcs11_uri)), options)


@sign.command("pkcs11-certificate")
@click.argument("model", type=EXISTING)
@_pkcs11_uri
@_signing_certificate
@_embedded_chain
@_metadata
@_signing
@_common
def sign_pkcs11_certificate(
    model: Path, pkcs11_uri: str, signing_certificate: Path, certificate_chain: tuple[Path, ...], **options: Any
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


_staging = _option(
    "--staging", "--use-staging", env="STAGING", is_flag=True, help="Use Sigstore's staging instance (for testing)."
)
_trust_config = _option(
    "--trust-config",
    env="TRUST_CONFIG",
    type=FILE,
    default=None,
    help="A Sigstore ClientTrustConfig JSON for a private Sigstore instance (trusted root + service URLs).",
)


@sign.command("sigstore")
@click.argument("model", type=EXISTING)
@_option(
    "--identity-token",
    env="IDENTITY_TOKEN",
    default=None,
    help="An OIDC ID token (audience 'sigstore'). Default: ambient CI credentials, else a browser login.",
)
@_option(
    "--use-ambient-credentials/--no-ambient-credentials",
    env="USE_AMBIENT_CREDENTIALS",
    default=True,
    help="Detect CI credentials (GitHub Actions, GitLab CI, Google Cloud, Buildkite) when no token is given.",
)
@_option("--oauth-force-oob", env="OAUTH_FORCE_OOB", is_flag=True, help="Log in without opening a browser.")
@_option("--oidc-issuer", env="OIDC_ISSUER", default=None, help="OIDC issuer for the login flow.")
@_option("--client-id", env="CLIENT_ID", default="sigstore", help="OIDC client ID for the login flow.")
@_option("--client-secret", env="CLIENT_SECRET", default="", show_default=False, help="OIDC client secret.")
@_staging
@_trust_config
@_metadata
@_signing
@_common
def sign_sigstore(
    model: Path,
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


def _verify(
    model: Path, verifier_factory: Callable[[], Any], ignore_unsigned_files: bool, options: dict[str, Any]
) -> None:
    from modelseal import signature
    from modelseal.cli import render

    def action() -> None:
        with render.hashing_progress(not options["as_json"]) as progress:
            result = signature.verify(
                model,
                verifier_factory(),
                signature=options["signature"],
                ignore_paths=options["ignore_paths"],
                ignore_unsigned_files=ignore_unsigned_files,
                workers=options["workers"],
                progress=progress,
                trusted_cache=_cache_path(options["trust_cache"]),
            )
        render.verified(result, options["as_json"])

    run(action, options["as_json"])


def _verify_options(func: F) -> F:
    """Options of every verify command."""
    func = _option(
        "--ignore-unsigned-files",
        env="IGNORE_UNSIGNED_FILES",
        is_flag=True,
        help="Accept files that are in the model but not in the signature (they are listed).",
    )(func)
    return _option(
        "--trust-cache",
        env="TRUST_CACHE",
        is_flag=True,
        help="Skip reading files whose inode, size, mtime and ctime match the digest cache: fast, but trusts "
        "file metadata over content. Off by default.",
    )(func)


@verify.command("key")
@click.argument("model", type=EXISTING)
@_option("--public-key", env="PUBLIC_KEY", type=FILE, required=True, help="PEM EC public key of the signer.")
@_verify_options
@_common
def verify_key(model: Path, public_key: Path, ignore_unsigned_files: bool, **options: Any) -> None:
    """Verify MODEL's signature with the signer's public key."""
    from modelseal.signing.key import KeyVerifier

    _verify(model, lambda: KeyVerifier.from_file(public_key), ignore_unsigned_files, options)


@verify.command("certificate")
@click.argument("model", type=EXISTING)
@_option(
    "--certificate-chain",
    env="CERTIFICATE_CHAIN",
    type=FILE,
    multiple=True,
    required=True,
    help="PEM certificates to trust (roots and intermediates); nothing else is trusted.",
)
@_option(
    "--identity",
    env="IDENTITY",
    default=None,
    help="Require the signing certificate to name this subject, common name, email, URI or DNS name.",
)
@_verify_options
@_common
def verify_certificate(
    model: Path, certificate_chain: tuple[Path, ...], identity: str | None, ignore_unsigned_files: bool, **options: Any
) -> None:
    """Verify MODEL's certificate signature against the certificates you trust."""
    from modelseal.signing.certificate import CertificateVerifier

    _verify(model, lambda: CertificateVerifier.from_files(certificate_chain, identity), ignore_unsigned_files, options)


@verify.command("sigstore")
@click.argument("model", type=EXISTING)
@_option("--identity", env="IDENTITY", default=None, help="The signer's exact identity (e-mail, or workflow URI).")
@_option(
    "--identity-pattern",
    env="IDENTITY_PATTERN",
    default=None,
    help="Or a pattern: '*' within a path segment, '**' across, e.g. "
    "'https://github.com/acme/*/.github/workflows/*@refs/tags/*'.",
)
@_option(
    "--identity-provider",
    env="IDENTITY_PROVIDER",
    required=True,
    help="The OIDC issuer that vouched for the identity, e.g. https://token.actions.githubusercontent.com.",
)
@_option(
    "--github",
    "github_claims",
    env="GITHUB",
    multiple=True,
    metavar="CLAIM=PATTERN",
    help="Require a GitHub Actions claim of the certificate: repository, ref, trigger, workflow, sha or "
    "runner-environment, e.g. --github repository=acme/models --github 'ref=refs/tags/*'.",
)
@_option(
    "--trusted-root",
    env="TRUSTED_ROOT",
    type=FILE,
    default=None,
    help="A Sigstore trusted_root.json. Default: the production root shipped with sigstore-python (offline).",
)
@_staging
@_trust_config
@_option(
    "--offline/--online",
    env="OFFLINE",
    default=True,
    help="Use the trusted root shipped with sigstore-python (no network), or refresh it from Sigstore's TUF "
    "repository first.",
)
@_verify_options
@_common
def verify_sigstore(
    model: Path,
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
@click.argument("model", type=EXISTING)
@_option(
    "--policy",
    env="TRUST_POLICY",
    type=FILE,
    required=True,
    help="Trust policy (TOML): the signers trusted for which models. The method comes from the signature.",
)
@_verify_options
@_common
def verify_policy(model: Path, policy: Path, ignore_unsigned_files: bool, **options: Any) -> None:
    """Verify MODEL against the signers a trust policy file accepts for it."""
    from modelseal.policy.trust import load_trust_policy

    _verify(model, lambda: load_trust_policy(policy).verifier_for(model), ignore_unsigned_files, options)


@main.group()
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
        from modelseal.signing.certificate import CertificateSigner
        from modelseal.signing.key import KeySigner
        from modelseal.signing.keys import open_signing_key

        key = open_signing_key(private_key, password, pkcs11_uri)
        if signing_certificate is None:
            return KeySigner(key)
        return CertificateSigner.for_key(key, keys[0], signing_certificate, certificate_chain)

    return signer


@attest.command("scan")
@click.argument("model", type=EXISTING)
@_option("--private-key", env="PRIVATE_KEY", type=FILE, default=None, help="Sign with this PEM EC private key...")
@_option("--pkcs11-uri", env="PKCS11_URI", default=None, help="...or with this key on a PKCS#11 token...")
@_option("--sigstore", env="SIGSTORE", is_flag=True, help="...or keylessly with Sigstore (see `sign sigstore`).")
@_option("--identity-token", env="IDENTITY_TOKEN", default=None, help="With --sigstore: an OIDC ID token.")
@_option(
    "--signing-certificate",
    env="SIGNING_CERTIFICATE",
    type=FILE,
    default=None,
    help="With a key: its PEM certificate, to sign as a certificate signer.",
)
@_embedded_chain
@_password
@_option(
    "--attestation",
    env="ATTESTATION",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write it. Default: MODEL/model.scan.sig, or MODEL.scan.sig beside a single file.",
)
@_option("--policy", env="POLICY", type=FILE, default=None, help="Scan policy TOML (as for `scan --policy`).")
@_common
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
            )
        render.attested(result, options["as_json"])

    run(action, options["as_json"])


@main.command("check")
@click.argument("model", type=EXISTING)
@_option(
    "--policy",
    env="TRUST_POLICY",
    type=FILE,
    required=True,
    help="Trust policy (TOML): trusted signers and, in [scan], what the scan must show.",
)
@_option("--attestation", env="ATTESTATION", type=FILE, default=None, help="Scan attestation to consider.")
@_option(
    "--format",
    "output_format",
    env="FORMAT",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    help="Report format; html is one self-contained file for a reviewer.",
)
@_report_output
@_option("--signature", env="SIGNATURE", type=FILE, default=None, help="Signature file. Default: as for verify.")
@_option("--workers", env="WORKERS", type=click.IntRange(1, 256), default=None, help="Hashing threads.")
def check_command(
    model: Path,
    policy: Path,
    attestation: Path | None,
    output_format: str,
    output: Path | None,
    signature: Path | None,
    workers: int | None,
) -> None:
    """Decide whether MODEL may be used: its signature, its signer, and its scan (attested or run now).

    Exit codes: 0 pass, 1 a step failed, 2 usage error, 3 inconclusive (something could not be read).
    """

    def action() -> None:
        from modelseal.attest.check import check
        from modelseal.cli import render
        from modelseal.cli.check_render import exit_code, write_report

        with render.hashing_progress(output_format == "text" and output is None) as progress:
            report = check(
                model, policy, signature=signature, attestation=attestation, workers=workers, progress=progress
            )
        write_report(report, output_format, output)
        sys.exit(exit_code(report))

    run(action, output_format == "json")


@main.command("inspect")
@click.argument("file", type=FILE)
@_option("--json", "as_json", env="JSON", is_flag=True, help="Print the decoded bundle as JSON.")
def inspect_command(file: Path, as_json: bool) -> None:
    """Show what a signature or attestation file says, without verifying it."""

    def action() -> None:
        from modelseal.cli.inspect import describe_file, print_description

        print_description(describe_file(file), as_json)

    run(action, as_json)


@main.command("public-key")
@_option("--pkcs11-uri", env="PKCS11_URI", default=None, help="RFC 7512 URI of a key on a PKCS#11 token.")
@_option("--private-key", env="PRIVATE_KEY", type=FILE, default=None, help="Or a PEM EC private key.")
@_password
@_option(
    "--output",
    env="PUBLIC_KEY_OUTPUT",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the PEM public key here instead of standard output.",
)
def public_key_command(
    pkcs11_uri: str | None, private_key: Path | None, password: str | None, output: Path | None
) -> None:
    """Print the PEM public key of a signing key, for `modelseal verify key --public-key` on the consumer's side."""
    if (pkcs11_uri is None) == (private_key is None):
        raise click.UsageError("give exactly one of --pkcs11-uri and --private-key")

    def action() -> None:
        from cryptography.hazmat.primitives import serialization

        from modelseal.oms.bundle import write_atomically
        from modelseal.signing.keys import open_signing_key

        pem = (
            open_signing_key(private_key, password, pkcs11_uri)
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        if output is None:
            click.echo(pem.decode("ascii"), nl=False)
        else:
            write_atomically(output, pem)

    run(action)


@main.command("digest")
@click.argument("model", type=EXISTING)
@_signing
@_common
def digest_command(model: Path, **options: Any) -> None:
    """Print MODEL's root digest: the sha256 a signature with these settings would bind."""
    from modelseal import signature
    from modelseal.cli import render

    def action() -> None:
        with render.hashing_progress(not options["as_json"]) as progress:
            manifest, _ = signature.digest(model, progress=progress, **_serialization(options))
        render.digested(manifest, options["as_json"])

    run(action, options["as_json"])


@main.command("scan")
@click.argument("paths", nargs=-1, required=True, type=EXISTING)
@_option(
    "--format",
    "output_format",
    env="FORMAT",
    type=click.Choice(["text", "json", "sarif", "html"]),
    default="text",
    help="Report format. json has a versioned schema; sarif is SARIF 2.1.0 for code scanning; html is one "
    "self-contained page for a reviewer.",
)
@_report_output
@_option(
    "--fail-on",
    env="FAIL_ON",
    type=click.Choice(["critical", "high", "medium", "low", "info"], case_sensitive=False),
    default="high",
    help="Exit 1 when a finding is at or above this severity.",
)
@_option(
    "--policy",
    env="POLICY",
    type=FILE,
    default=None,
    help="TOML file extending the pickle policy: [allow] exact, [deny] prefixes, [severity] RULE = LEVEL.",
)
@_option(
    "--baseline",
    env="BASELINE",
    type=FILE,
    default=None,
    help="A JSON report from an earlier run: its findings are accepted and not reported again.",
)
@_option("--show-all", env="SHOW_ALL", is_flag=True, help="List clean files in the text report too.")
def scan_command(
    paths: tuple[Path, ...],
    output_format: str,
    output: Path | None,
    fail_on: str,
    policy: Path | None,
    baseline: Path | None,
    show_all: bool,
) -> None:
    """Scan model files and directories for serialisation attacks, without loading them.

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage error, 3 some file could not be fully scanned.
    """

    def action() -> None:
        from modelseal.cli.scan import run_scan

        code = run_scan(list(paths), output_format, output, fail_on, policy, show_all, baseline)
        sys.exit(code)

    run(action, output_format == "json")


@main.command("demo")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to build the example (default: a temporary directory, removed afterwards).",
)
def demo_command(directory: Path | None) -> None:
    """Sign, verify and tamper with a small generated model, then scan a booby-trapped pickle. Offline."""
    from modelseal.cli.demo import run_demo

    run(lambda: run_demo(directory))
