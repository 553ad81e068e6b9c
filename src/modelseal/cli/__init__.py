"""The `modelseal` command line: parsing and rendering over the library API."""

from __future__ import annotations

from modelseal.cli.main import main

__all__ = ["main"]
