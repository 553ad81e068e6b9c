"""`modelseal attest …`: signed statements about a model, bound to the root digest of its signature."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from modelseal.cli.keys import signer_options
from modelseal.cli.options import (
    EXISTING,
    FILE,
    MODEL,
    F,
    Scanning,
    bom_format,
    common_options,
    option,
    scanning_options,
)
from modelseal.cli.runner import run
from modelseal.remote import RemoteLocation


@click.group()
def attest() -> None:
    """Sign statements about a model, bound to the same root digest as its signature."""


def _written_to(kind: str) -> Callable[[F], F]:
    """`--attestation`: where an attestation of `kind` goes, beside the signature by default."""
    return option(
        "--attestation",
        env="ATTESTATION",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=f"Where to write it. Default: MODEL/model.{kind}.sig, or MODEL.{kind}.sig beside a single file.",
    )


@attest.command("scan")
@click.argument("model", type=EXISTING)
@signer_options
@_written_to("scan")
@option("--policy", env="POLICY", type=FILE, default=None, help="Scan policy TOML (as for `scan --policy`).")
@scanning_options
@common_options
def attest_scan_command(
    model: Path,
    signer: Callable[[], Any],
    attestation: Path | None,
    policy: Path | None,
    scanning: Scanning,
    **options: Any,
) -> None:
    """Scan MODEL and sign the verdicts as an in-toto attestation bound to the model's root digest.

    The model is hashed as its signature says (when it has one), so both name the same bytes. Consumers then
    `modelseal check` without scanning again.
    """

    def action() -> None:
        from modelseal.attest.attest import attest_scan
        from modelseal.cli import render

        chosen = signer()  # before any progress display: a Sigstore login may prompt
        with render.hashing_progress(not options["as_json"]) as progress:
            result = attest_scan(
                model,
                chosen,
                attestation=attestation,
                policy=policy,
                signature=options["signature"],
                workers=options["workers"],
                progress=progress,
                scan_workers=scanning.workers,
                scan_cache=scanning.cache,
            )
        render.attested(result, options["as_json"])

    run(action, options["as_json"])


@attest.command("bom")
@click.argument("model", type=MODEL)
@signer_options
@bom_format
@_written_to("bom")
@common_options
def attest_bom_command(
    model: Path | RemoteLocation,
    signer: Callable[[], Any],
    output_format: str,
    attestation: Path | None,
    **options: Any,
) -> None:
    """Sign MODEL's ML-BOM (see `modelseal bom`) as an in-toto attestation bound to the model's root digest.

    MODEL may be remote (oci://, s3://, hf://, https://); its attestation then goes to --attestation FILE, and
    `check --bom FILE` considers it."""

    def action() -> None:
        from modelseal.bom import attest_bom
        from modelseal.cli import render

        target, description = attest_bom(
            model, signer(), output_format, attestation=attestation, signature=options["signature"]
        )
        render.bom_attested(target, description.manifest.root_digest(), output_format, options["as_json"])

    run(action, options["as_json"])
