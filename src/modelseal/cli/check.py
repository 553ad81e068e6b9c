"""`modelseal check`: the one decision before loading a model."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from modelseal.cli.exit_codes import for_check
from modelseal.cli.options import FILE, MODEL, Scanning, option, pull, report_output, scanning_options
from modelseal.cli.runner import run
from modelseal.remote import RemoteLocation
from modelseal.reporting import OutputFormat, View, emit, render_check


@click.command("check")
@click.argument("model", type=MODEL)
@option(
    "--policy",
    env="TRUST_POLICY",
    type=FILE,
    required=True,
    help="Trust policy (TOML): trusted signers and, in [scan], what the scan must show.",
)
@option("--attestation", env="ATTESTATION", type=FILE, default=None, help="Scan attestation to consider.")
@option(
    "--bom",
    env="BOM",
    type=FILE,
    default=None,
    help="Signed ML-BOM (`attest bom`) to consider. Default: model.bom.sig in a local model.",
)
@option(
    "--format",
    "output_format",
    env="FORMAT",
    type=click.Choice([f.value for f in OutputFormat]),
    default="text",
    help="Report format. sarif is SARIF 2.1.0 for code scanning (one result per step, and the scan's findings); "
    "html is one self-contained file for a reviewer.",
)
@report_output
@option("--signature", env="SIGNATURE", type=FILE, default=None, help="Signature file. Default: as for verify.")
@option("--workers", env="WORKERS", type=click.IntRange(1, 256), default=None, help="Hashing threads.")
@pull
@scanning_options
def check_command(
    model: Path | RemoteLocation,
    policy: Path,
    attestation: Path | None,
    bom: Path | None,
    output_format: str,
    output: Path | None,
    signature: Path | None,
    workers: int | None,
    pull: bool,
    scanning: Scanning,
) -> None:
    """Decide whether MODEL may be used: its signature, its signer, and its scan (attested or run now).

    Exit codes: 0 pass, 1 a step failed, 2 usage error, 3 inconclusive (something could not be read).
    """

    def action() -> None:
        from modelseal.attest.check import check, check_remote
        from modelseal.cli import render

        if isinstance(model, RemoteLocation):
            if attestation is not None:
                raise click.UsageError("--attestation is for local models; a remote model is scanned now")
            report = check_remote(model, policy, signature=signature, bom=bom, scan_cache=scanning.cache, pull=pull)
            view = View(to_terminal=output is None, target=str(model))
            emit(render_check(OutputFormat(output_format), report, view), output)
            sys.exit(for_check(report))
        with render.hashing_progress(output_format == "text" and output is None) as progress:
            report = check(
                model,
                policy,
                signature=signature,
                attestation=attestation,
                bom=bom,
                workers=workers,
                progress=progress,
                scan_workers=scanning.workers,
                scan_cache=scanning.cache,
            )
        view = View(to_terminal=output is None, target=str(model))
        emit(render_check(OutputFormat(output_format), report, view), output)
        sys.exit(for_check(report))

    run(action, output_format == "json")
