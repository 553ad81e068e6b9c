"""A TOML file read for validation: errors name the file and the line at fault.

tomllib reports the line of a syntax error but keeps no positions for values, so `line_of` finds a value's line
by following table headers and keys through the text (dotted keys, quoted keys, arrays of tables).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelseal.errors import InputError

KeyPath = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=""")
_PART = re.compile(r""""([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+)""")


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(a or b or c for a, b, c in _PART.findall(dotted))


def _resolve(table: tuple[str, ...], arrays: dict[tuple[str, ...], int]) -> KeyPath:
    """A header's key path, with the index of the current element of every array of tables it passes through."""
    resolved: list[str | int] = []
    for depth in range(1, len(table) + 1):
        resolved.append(table[depth - 1])
        if table[:depth] in arrays:
            resolved.append(arrays[table[:depth]])
    return tuple(resolved)


def line_of(text: str, wanted: KeyPath) -> int | None:
    """The 1-based line where the value at `wanted` (or the closest enclosing table) is defined."""
    arrays: dict[tuple[str, ...], int] = {}
    current: KeyPath = ()
    best: tuple[int, int] | None = None  # (matched length, line)
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _parts(header.group(2))
            if header.group(1) == "[[":
                arrays[table] = arrays.get(table, -1) + 1
                arrays = {k: v for k, v in arrays.items() if k[: len(table)] != table or k == table}
            current = _resolve(table, arrays)
            found: KeyPath = current
        else:
            key = _KEY.match(line)
            if not key:
                continue
            found = current + _parts(key.group(1))
        common = 0
        while common < min(len(found), len(wanted)) and found[common] == wanted[common]:
            common += 1
        if common == len(found) and (best is None or common > best[0]):
            best = (common, number)
            if common == len(wanted):
                break
    return best[1] if best else None


@dataclass(frozen=True)
class TomlSource:
    path: Path
    text: str
    data: dict[str, Any]

    @classmethod
    def read(cls, path: Path, what: str) -> TomlSource:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {what} {path}: {exc}") from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            position = re.search(r"\(at line (\d+), column \d+\)", str(exc))
            where = f"{path}:{position.group(1)}" if position else str(path)
            raise InputError(f"{where}: not valid TOML: {str(exc).split(' (at ')[0]}") from exc
        return cls(Path(path), text, data)

    def error(self, at: KeyPath, message: str, *details: str) -> InputError:
        """`path:line: message`, the line being where the value at `at` is written."""
        line = line_of(self.text, at)
        where = f"{self.path}:{line}" if line else str(self.path)
        return InputError(f"{where}: {message}", details=details)
