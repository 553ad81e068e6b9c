"""The emulator's values: literals stay Python values; imports, calls and unmodelled things become symbols."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelseal.scanning.pickle.policy import Verdict


@dataclass(eq=False)
class Global:
    name: str
    verdict: Verdict
    offset: int
    used: bool = False


@dataclass(eq=False)
class Call:
    func: Any
    args: Any
    offset: int
    kind: str


@dataclass(eq=False)
class Opaque:
    """A value the emulator does not model (persistent ids, extension codes, out-of-band buffers)."""

    what: str


@dataclass(eq=False)
class PDict:
    items: list[tuple[Any, Any]] = field(default_factory=list)


@dataclass(eq=False)
class PSet:
    items: list[Any] = field(default_factory=list)


def render(value: Any, depth: int = 0) -> str:
    """A short Python-like picture of a value; bounded whatever the memo holds."""
    if depth > 4:
        return "…"
    if isinstance(value, Global):
        return value.name
    if isinstance(value, Call):
        args = value.args
        inner = (
            ", ".join(render(a, depth + 1) for a in args[:6]) if isinstance(args, tuple) else render(args, depth + 1)
        )
        if isinstance(args, tuple) and len(args) > 6:
            inner += ", …"
        return f"{render(value.func, depth + 1)}({inner})"
    if isinstance(value, (str, bytes, bytearray)):
        text = repr(value if len(value) <= 120 else value[:120])
        return text if len(value) <= 120 else text + "…"
    if isinstance(value, (list, tuple)):
        body = ", ".join(render(v, depth + 1) for v in value[:6]) + (", …" if len(value) > 6 else "")
        return f"[{body}]" if isinstance(value, list) else f"({body}{',' if len(value) == 1 else ''})"
    if isinstance(value, PDict):
        body = ", ".join(f"{render(k, depth + 1)}: {render(v, depth + 1)}" for k, v in value.items[:4])
        return "{" + body + (", …" if len(value.items) > 4 else "") + "}"
    if isinstance(value, PSet):
        return "{" + ", ".join(render(v, depth + 1) for v in value.items[:6]) + "}"
    if isinstance(value, Opaque):
        return f"<{value.what}>"
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"
