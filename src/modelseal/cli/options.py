"""The parsing pieces every command shares: path types, options, and the options-to-settings conversions.

Underscore spellings of options (`--private_key`, as the reference tool writes them) are accepted through
click's token normalisation; every option also reads a `MODELSEAL_*` environment variable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from modelseal.bom import FORMATS as BOM_FORMATS
from modelseal.remote import RemoteLocation, remote_location

if TYPE_CHECKING:
    from modelseal.oms.options import HashingOptions
    from modelseal.scanning.pool import Workers

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


class _ModelLocation(click.ParamType):  # type: ignore[type-arg]
    """A model path as for EXISTING, or where a model lives: oci://, s3://, hf://, https:// (see modelseal.remote)."""

    name = "model"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path | RemoteLocation:
        if isinstance(value, (Path, RemoteLocation)):
            return value
        return remote_location(value) or EXISTING.convert(value, param, ctx)


MODEL = _ModelLocation()
FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def option(*names: str, env: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(*names, envvar=f"MODELSEAL_{env}", show_envvar=True, **kwargs)


def stacked(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Several options as one decorator, shown in `--help` in the order given."""

    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def common_options(func: F) -> F:
    """Options every model command shares."""
    func = option(
        "--signature",
        env="SIGNATURE",
        type=click.Path(path_type=Path),
        help="Signature file. Default: MODEL/model.sig, or MODEL.sig for a single file.",
    )(func)
    func = option(
        "--ignore-paths",
        env="IGNORE_PATHS",
        multiple=True,
        help="Path (relative to the model, or absolute) to leave out; repeat for more.",
    )(func)
    func = option("--json", "as_json", env="JSON", is_flag=True, help="Print a machine-readable JSON result.")(func)
    func = option(
        "--workers",
        env="WORKERS",
        type=click.IntRange(1, 256),
        default=None,
        help="Hashing threads. Default: one per core.",
    )(func)
    return func


bom_format = option(
    "--format",
    "output_format",
    env="BOM_FORMAT",
    type=click.Choice(BOM_FORMATS),
    default="cyclonedx",
    help="cyclonedx: CycloneDX 1.6 JSON with a modelCard; spdx: SPDX 3.0.1 JSON-LD with the AI profile.",
)

tsa_url = option(
    "--tsa-url",
    env="TSA_URL",
    default=None,
    help="Timestamp the signature at this RFC 3161 timestamp authority, so it can be verified after the "
    "certificate expires (the token goes in the bundle; model-signing ignores it).",
)

pull = option(
    "--pull",
    env="PULL",
    is_flag=True,
    help="For an OCI artifact with tarball layers (KitOps, ModelPack .tar): fetch and unpack them, so their files "
    "are signed or verified as a directory's would be. Without it such layers are refused.",
)


def signing_options(func: F) -> F:
    """Options that choose how the model is serialised; verification reads them from the signature."""
    func = pull(func)
    func = option(
        "--ignore-git-paths/--no-ignore-git-paths",
        env="IGNORE_GIT_PATHS",
        default=True,
        help="Leave out top-level .git, .github, .gitignore, .gitattributes.",
    )(func)
    func = option(
        "--allow-symlinks",
        env="ALLOW_SYMLINKS",
        is_flag=True,
        help="Follow symlinks, hashing the target's content under the link's name.",
    )(func)
    func = option(
        "--hash",
        "hash_type",
        env="HASH",
        type=click.Choice(["sha256", "blake2b", "blake3"]),
        default="sha256",
        help="Digest algorithm for files (the root digest is always sha256).",
    )(func)
    func = option(
        "--shard-size",
        env="SHARD_SIZE",
        type=click.IntRange(min=1),
        default=None,
        help="Sign fixed-size shards of this many bytes instead of whole files.",
    )(func)
    func = option(
        "--cache/--no-cache",
        env="CACHE",
        default=True,
        help="Reuse digests of files unchanged since they were last hashed (same inode, size, mtime, ctime), "
        "from a SQLite file under $MODELSEAL_CACHE_DIR or ~/.cache/modelseal.",
    )(func)
    func = option(
        "--compat",
        env="COMPAT",
        type=click.Choice(["spec", "reference"]),
        default="spec",
        help="'reference' writes what model-signing 1.x writes where it differs from the spec "
        "(single-file name '.', shard algorithm names).",
    )(func)
    return func


signing_certificate = option(
    "--signing-certificate", env="SIGNING_CERTIFICATE", type=FILE, required=True, help="PEM leaf certificate."
)
embedded_chain = option(
    "--certificate-chain",
    env="CERTIFICATE_CHAIN",
    type=FILE,
    multiple=True,
    help="PEM intermediate certificates to embed; repeat or put several in one file.",
)
metadata_documents = option(
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


report_output = option(
    "--output",
    env="OUTPUT",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    callback=_writable_output,
    help="Write the report to this file instead of standard output.",
)
password = option("--password", env="PASSWORD", default=None, help="Password of an encrypted private key.")


pkcs11_uri = option(
    "--pkcs11-uri",
    env="PKCS11_URI",
    required=True,
    help="RFC 7512 URI of the key on the token, e.g. "
    "'pkcs11:token=ml;object=model-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:pin.txt'.",
)


staging = option(
    "--staging", "--use-staging", env="STAGING", is_flag=True, help="Use Sigstore's staging instance (for testing)."
)
trust_config = option(
    "--trust-config",
    env="TRUST_CONFIG",
    type=FILE,
    default=None,
    help="A Sigstore ClientTrustConfig JSON for a private Sigstore instance (trusted root + service URLs).",
)


def verify_options(func: F) -> F:
    """Options of every verify command."""
    func = pull(func)
    func = option(
        "--read-all",
        env="READ_ALL",
        is_flag=True,
        help="For an OCI artifact: read and hash every blob too, instead of trusting the registry's content "
        "addressing for the digests (models in s3://, hf:// and https:// are always read).",
    )(func)
    func = option(
        "--ignore-unsigned-files",
        env="IGNORE_UNSIGNED_FILES",
        is_flag=True,
        help="Accept files that are in the model but not in the signature (they are listed).",
    )(func)
    return option(
        "--trust-cache",
        env="TRUST_CACHE",
        is_flag=True,
        help="Skip reading files whose inode, size, mtime and ctime match the digest cache: fast, but trusts "
        "file metadata over content. Off by default.",
    )(func)


def hashing_options(options: dict[str, Any]) -> HashingOptions:
    """The hashing settings `sign` and `digest` share, from the parsed options."""
    from modelseal.oms.options import HashingOptions

    return HashingOptions(
        hash_type=options["hash_type"],
        shard_size=options["shard_size"],
        ignore_paths=tuple(options["ignore_paths"]),
        ignore_git_paths=options["ignore_git_paths"],
        allow_symlinks=options["allow_symlinks"],
        compat=options["compat"] == "reference",
        workers=options["workers"],
        cache=cache_path(options["cache"]),
    )


def cache_path(enabled: bool) -> Path | None:
    from modelseal.hashing.cache import default_cache_path

    return default_cache_path() if enabled else None


# How files are scanned: in how many worker processes, within which hard limits per file, with the cache.
_scanning_flags = stacked(
    option(
        "--jobs",
        "-j",
        env="JOBS",
        type=click.IntRange(1, 256),
        default=None,
        help="Scan in this many worker processes, biggest files first; 1 scans in this process. Default: one per core.",
    ),
    option(
        "--file-timeout",
        env="FILE_TIMEOUT",
        type=click.FloatRange(min=1),
        default=300.0,
        help="Seconds one file may take in a worker before it is stopped and the file reported incomplete.",
    ),
    option(
        "--file-memory",
        env="FILE_MEMORY",
        type=click.IntRange(min=64),
        default=4096,
        help="MiB of memory a worker may use on one file; beyond it the file is reported incomplete.",
    ),
    option(
        "--cache/--no-cache",
        "use_cache",
        env="SCAN_CACHE",
        default=True,
        help="Reuse verdicts on bytes already scanned by this scanner under this policy (keyed by content "
        "digest, in a SQLite file beside the digest cache).",
    ),
)


@dataclass(frozen=True)
class Scanning:
    """The scanning options as one value: the worker processes and their per-file limits, and the scan cache
    file (None: off)."""

    workers: Workers
    cache: Path | None


def scanning_options(func: F) -> F:
    """The scanning flags, handed to the command as one `scanning` argument."""

    @functools.wraps(func)
    def command(*args: Any, jobs: int | None, file_timeout: float, file_memory: int, use_cache: bool, **kw: Any) -> Any:
        from modelseal.hashing.engine import default_workers
        from modelseal.scanning.cache import default_scan_cache_path
        from modelseal.scanning.pool import Workers

        workers = Workers(jobs or default_workers(), file_timeout, file_memory << 20)
        return func(*args, scanning=Scanning(workers, default_scan_cache_path() if use_cache else None), **kw)

    return _scanning_flags(cast(F, command))
