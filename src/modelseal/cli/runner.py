"""Run a command's body and turn every outcome into its exit code: no traceback reaches a user unless asked
(MODELSEAL_DEBUG=1)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import click

from modelseal.cli.exit_codes import ExitCode, for_error


def run(action: Callable[[], None], as_json: bool = False) -> None:
    """Run a command body; map every outcome to its exit code, never show a traceback unless asked."""
    from modelseal.errors import ModelsealError

    try:
        action()
    except ModelsealError as exc:
        from modelseal.cli import render

        render.error(exc, as_json)
        sys.exit(for_error(exc))
    except click.ClickException:
        raise  # a usage error found while running: click prints it and exits 2
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as exc:
        if os.environ.get("MODELSEAL_DEBUG"):
            raise
        from modelseal.cli import render

        render.internal_error(exc)
        sys.exit(for_error(exc))
