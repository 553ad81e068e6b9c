"""`modelseal bom`: the model's ML-BOM, CycloneDX 1.6 or SPDX 3.0.1, on standard output or in a file."""

from __future__ import annotations

from pathlib import Path

import click

from modelseal.cli.options import FILE, MODEL, bom_format, option, report_output
from modelseal.cli.runner import run
from modelseal.remote import RemoteLocation


@click.command("bom")
@click.argument("model", type=MODEL)
@bom_format
@report_output
@option(
    "--signature",
    env="SIGNATURE",
    type=FILE,
    default=None,
    help="Signature whose digests to use. Default: as for verify.",
)
def bom_command(model: Path | RemoteLocation, output_format: str, output: Path | None, signature: Path | None) -> None:
    """Write MODEL's ML-BOM: the model with its card's facts and licences, each file with its digest (from the
    signature when the model has one, after checking the files still match it) and its scan verdict.

    MODEL may be remote (oci://, s3://, hf://, https://): it is read where it lives. `modelseal attest bom` signs
    the same document on the model's root digest.
    """

    def action() -> None:
        from modelseal.bom import render_bom
        from modelseal.bom.describe import describe
        from modelseal.reporting import emit

        emit(render_bom(describe(model, signature=signature), output_format).decode("utf-8"), output)

    run(action)
