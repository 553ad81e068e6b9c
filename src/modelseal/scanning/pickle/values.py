"""The emulator's values: literals stay Python values; imports, calls and unmodelled things become symbols."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from modelseal.scanning.policy import Verdict


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
    state: Any = None  # what BUILD gave it, where the judge needs it (functools.partial)


@dataclass(eq=False)
class Opaque:
    """A value the emulator does not model (persistent ids, extension codes, out-of-band buffers)."""

    what: str


@dataclass(eq=False)
class PDict:
    items: list[tuple[Any, Any]] = field(default_factory=list)
    symbolic: bool = False  # holds an import, a call or an opaque value among its kept items (kept up to date)


@dataclass(eq=False)
class PSet:
    items: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Plain:
    """A stand-in the memo keeps for plain data (containers, long or non-name text), so that a pickle of a
    million small objects does not cost a million emulated objects. Calls and imports are always kept."""

    kind: str


PLAIN_LIST, PLAIN_DICT, PLAIN_SET, PLAIN_VALUE = Plain("list"), Plain("dict"), Plain("set"), Plain("value")
KEEP_ITEMS = 16  # container items kept for rendering and for reading small states (joblib, copyreg)
KEEP_TEXT = 512  # characters of a literal kept once it sits inside a container
_NAME = re.compile(r"[A-Za-z_][\w.]{0,127}")


def retained(value: Any) -> Any:
    """What the memo stores for `value`: symbols and importable-looking names as they are, plain data as a
    stand-in (a memoised module or attribute name may feed a later STACK_GLOBAL; nothing else needs its text)."""
    kind = type(value)
    if kind is str:
        return value if len(value) <= 128 and _NAME.fullmatch(value) else PLAIN_VALUE
    if kind is PDict:
        return value if value.symbolic else PLAIN_DICT
    if kind in _KEPT_AS_IS or value is None:
        return value
    if isinstance(value, list):
        return value if any(isinstance(v, (Global, Call)) for v in value) else PLAIN_LIST
    if isinstance(value, PDict):
        return value if any(isinstance(v, (Global, Call)) for pair in value.items for v in pair) else PLAIN_DICT
    if isinstance(value, PSet):
        return PLAIN_SET
    return PLAIN_VALUE


_KEPT_AS_IS = frozenset({Global, Call, Opaque, tuple, int, float, bool})
LEAVES = frozenset({int, float, str, bytes, bytearray, bool, complex, type(None), Plain})


def symbolic(value: Any) -> bool:
    """Whether `value` is, or holds among its kept items, an import, a call or an opaque value: what an argument
    contract looks for. Containers are capped, so this is cheap; dicts carry the answer."""
    kind = type(value)
    if kind in LEAVES:
        return False
    if kind is Global or kind is Call or kind is Opaque:
        return True
    if kind is PDict:
        return bool(value.symbolic)
    if kind is tuple or kind is list:
        for item in value:  # noqa: SIM110 - a plain loop: this runs for every item past a container's cap
            if type(item) not in LEAVES and symbolic(item):
                return True
        return False
    if kind is PSet:
        return any(symbolic(item) for item in value.items)
    return False


def kept(value: Any) -> Any:
    """A literal as stored inside a container: long text is cut (it was scanned for payloads when pushed)."""
    if isinstance(value, (str, bytes, bytearray)) and len(value) > KEEP_TEXT:
        return value[:KEEP_TEXT]
    return value


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
    if isinstance(value, Plain):
        return {"list": "[…]", "dict": "{…}", "set": "{…}"}.get(value.kind, "…")
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"
