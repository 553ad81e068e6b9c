"""The `modelseal` command: one group, one module per command group. Command modules only parse options and
call the library; results go to `cli.render` or `modelseal.reporting`, outcomes to `cli.exit_codes`."""

from __future__ import annotations

import click

from modelseal.cli.attest import attest
from modelseal.cli.bom import bom_command
from modelseal.cli.check import check_command
from modelseal.cli.options import CONTEXT
from modelseal.cli.registry import registry
from modelseal.cli.scan import scan_command
from modelseal.cli.sign import digest_command, public_key_command, sign
from modelseal.cli.tools import demo_command, inspect_command
from modelseal.cli.verify import verify


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="modelseal", prog_name="modelseal")
def main() -> None:
    """Sign, verify and scan machine-learning models (OpenSSF Model Signing v1.0)."""


for command in (sign, verify, attest, check_command, inspect_command, public_key_command, digest_command,
                scan_command, registry, bom_command, demo_command):  # fmt: skip
    main.add_command(command)
