"""`modelseal inspect` and `modelseal demo`: commands that stand alone. Their work lives in `cli.inspect` and
`cli.demo`, imported only when they run (both need cryptography)."""

from __future__ import annotations

from pathlib import Path

import click

from modelseal.cli.options import FILE, option
from modelseal.cli.runner import run


@click.command("inspect")
@click.argument("file", type=FILE)
@option("--json", "as_json", env="JSON", is_flag=True, help="Print the decoded bundle as JSON.")
def inspect_command(file: Path, as_json: bool) -> None:
    """Show what a signature or attestation file says, without verifying it."""

    def action() -> None:
        from modelseal.cli.inspect import describe_file, print_description

        print_description(describe_file(file), as_json)

    run(action, as_json)


@click.command("demo")
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
