"""A symbolic pickle machine: walks the opcodes as the unpickler would, without importing or calling anything.

Values on the stack are literals, containers, or symbols (`Global`, `Call`, `Opaque`). Every place where the
real unpickler would call code (REDUCE, INST, OBJ, NEWOBJ(_EX), BUILD, APPEND(S)/SETITEM(S)/ADDITEMS on objects
that are not fresh containers, EXT*, PERSID) is judged against the policy, and the would-be call is rendered
from the emulated stack so a human sees what would run. The memo stores references, so memo "bombs" cost
nothing; rendering is bounded in depth and length.
"""

from __future__ import annotations

import pickletools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.pickle.names import canonical, reachable_names
from modelseal.scanning.pickle.policy import PicklePolicy, Verdict

NESTED_MIN_BYTES = 24
MAX_FINDINGS_PER_TARGET = 5


@dataclass(frozen=True)
class Limits:
    """Bounds for hostile input; hitting one makes the result incomplete, never clean."""

    max_opcodes: int = 50_000_000
    max_seconds: float = 120.0
    max_stack: int = 5_000_000


class LimitReached(Exception):
    """A scanning bound was hit."""


class _Mark:
    def __repr__(self) -> str:
        return "<mark>"


MARK = _Mark()


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


NestedScanner = Callable[[bytes, str, int], None]


class PickleMachine:
    """Emulates one stream of (possibly several concatenated) pickles and reports findings."""

    def __init__(
        self,
        policy: PicklePolicy,
        emit: Callable[[Finding], None],
        nested: NestedScanner | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.policy = policy
        self._emit = emit
        self.nested = nested
        self.limits = limits or Limits()
        self.protocol = 0
        self.opcodes = 0
        self.started = time.monotonic()
        self._counts: dict[tuple[str, str], int] = {}
        self._pending_imports: list[tuple[Global, str, str]] = []  # denied globals, reported if never called

    # --- reporting -------------------------------------------------------------------------------------------

    def emit(
        self,
        rule: str,
        severity: Severity,
        message: str,
        offset: int,
        target: str | None = None,
        payload: str | None = None,
    ) -> None:
        key = (rule, target or "")
        self._counts[key] = self._counts.get(key, 0) + 1
        if self._counts[key] > MAX_FINDINGS_PER_TARGET:
            return
        override = self.policy.severity_overrides.get(rule)
        if override:
            severity = Severity.parse(override)
        self._emit(Finding(rule, severity, message, offset=offset, target=target, payload=payload))

    # --- globals ---------------------------------------------------------------------------------------------

    def _global(self, module: str, name: str, offset: int) -> Global:
        module, qual = canonical(module, name, self.protocol)
        full = f"{module}.{qual}"
        reach = reachable_names(module, qual)
        verdicts = [self.policy.verdict(n) for n in reach]
        verdict = Verdict.DENIED if Verdict.DENIED in verdicts else verdicts[0]
        dunder = self.policy.dunder_in(qual)
        imported = Global(full, Verdict.DENIED if dunder and verdict is not Verdict.ALLOWED else verdict, offset)
        if dunder and verdict is not Verdict.ALLOWED:
            reason = f"the dunder attribute {dunder} reaches interpreter internals"
            self._pending_imports.append((imported, "PICKLE-DUNDER", reason))
        elif verdict is Verdict.DENIED:
            self._pending_imports.append((imported, "PICKLE-DENIED-IMPORT", self._deny_reason(reach)))
        elif "." in qual and verdict is Verdict.UNKNOWN:
            self.emit(
                "PICKLE-DOTTED",
                Severity.HIGH,
                f"imports {full} through attribute traversal (protocol 4 getattr chain)",
                offset,
                full,
            )
        return imported

    def _deny_reason(self, names: list[str]) -> str:
        for name in names:
            if name in self.policy.loaders:
                return "a nested loader that deserialises more data, and can run anything it contains"
            if name in self.policy.resolvers:
                return "turns strings into arbitrary callables at load time"
        return "a module or function that can run commands, touch files or the network, or execute code"

    # --- call sites ------------------------------------------------------------------------------------------

    def _callable_name(self, value: Any) -> tuple[str | None, Verdict | None]:
        if isinstance(value, Global):
            return value.name, value.verdict
        return None, None

    def _call(self, func: Any, args: Any, offset: int, kind: str) -> Call:
        result = Call(func, args, offset, kind)
        payload = render(result)
        instantiate_only = kind in ("newobj", "newobj_ex")
        if isinstance(func, Global):
            func.used = True
            if func.verdict is Verdict.DENIED:
                reason = next((r for g, _, r in self._pending_imports if g is func), "denied by policy")
                self.emit(
                    "PICKLE-DANGEROUS-CALL",
                    Severity.CRITICAL,
                    f"calls {func.name} at load time: {reason}",
                    offset,
                    func.name,
                    payload,
                )
            elif func.verdict is Verdict.ALLOWED or func.name in self.policy.embedded_loaders:
                self._allowed_call(func, args, offset, payload)
            elif instantiate_only:
                self.emit(
                    "PICKLE-UNKNOWN-CLASS",
                    Severity.MEDIUM,
                    f"instantiates {func.name}, a class outside the allowlist (its __new__ and "
                    "__setstate__ run at load time)",
                    offset,
                    func.name,
                    payload,
                )
            else:
                self.emit(
                    "PICKLE-UNKNOWN-CALL",
                    Severity.HIGH,
                    f"calls {func.name}, a callable outside the allowlist, at load time",
                    offset,
                    func.name,
                    payload,
                )
        elif isinstance(func, Call) and isinstance(func.func, Global) and func.func.name == "functools.partial":
            inner = func.args[0] if isinstance(func.args, tuple) and func.args else None
            self._call(inner, args, offset, kind)
        elif isinstance(func, Call):
            severity = Severity.CRITICAL if self._is_resolver_result(func) else Severity.HIGH
            self.emit(
                "PICKLE-COMPUTED-CALL",
                severity,
                "calls a value computed at load time (the callable is itself the result of a call)",
                offset,
                None,
                payload,
            )
        else:
            self.emit(
                "PICKLE-COMPUTED-CALL",
                Severity.HIGH,
                f"calls a non-global value ({render(func)})",
                offset,
                None,
                payload,
            )
        return result

    def _is_resolver_result(self, value: Call) -> bool:
        return isinstance(value.func, Global) and (
            value.func.verdict is Verdict.DENIED or value.func.name in self.policy.resolvers
        )

    def _allowed_call(self, func: Global, args: Any, offset: int, payload: str) -> None:
        """Allowed helpers whose arguments decide: class factories and torch's embedded loader."""
        first = args[0] if isinstance(args, tuple) and args else None
        if func.name in ("copyreg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__"):
            if isinstance(first, Global):
                self._call(first, (), offset, "newobj")
            elif first is not None:
                self.emit(
                    "PICKLE-COMPUTED-CALL",
                    Severity.HIGH,
                    "instantiates a class computed at load time",
                    offset,
                    None,
                    payload,
                )
        elif func.name in self.policy.embedded_loaders:
            if isinstance(first, (bytes, bytearray)):  # the literal itself was scanned when it was pushed
                self.emit(
                    "PICKLE-EMBEDDED-LOAD",
                    Severity.LOW,
                    f"{func.name} loads embedded bytes (scanned as a nested file)",
                    offset,
                    func.name,
                )
            else:
                self.emit(
                    "PICKLE-DANGEROUS-CALL",
                    Severity.CRITICAL,
                    f"{func.name} loads bytes computed at load time",
                    offset,
                    func.name,
                    payload,
                )

    def _mutate(self, target: Any, offset: int, method: str) -> None:
        """APPEND/SETITEM/ADDITEMS/BUILD on something other than a fresh container calls its methods."""
        origin = target.func if isinstance(target, Call) else target
        if isinstance(origin, Global):
            if origin.verdict is Verdict.DENIED:
                self.emit(
                    "PICKLE-DANGEROUS-CALL",
                    Severity.CRITICAL,
                    f"calls {origin.name} object's {method}",
                    offset,
                    origin.name,
                )
            elif origin.verdict is Verdict.UNKNOWN and isinstance(target, Global):
                self.emit(
                    "PICKLE-ATTRIBUTE-WRITE",
                    Severity.HIGH,
                    f"{method} on {origin.name} itself (writes attributes of a class, function or module)",
                    offset,
                    origin.name,
                )
        elif isinstance(target, Call):
            self.emit("PICKLE-COMPUTED-CALL", Severity.HIGH, f"{method} on a value computed at load time", offset)

    # --- the opcode loop ------------------------------------------------------------------------------------

    def run(self, stream: IO[bytes], base_offset: int = 0) -> None:
        """Emulate one pickle from `stream` until STOP; raise on malformed input (findings so far are kept)."""
        try:
            self._run(stream, base_offset)
        finally:
            self._finish_pickle([])

    def _run(self, stream: IO[bytes], base_offset: int) -> None:
        stack: list[Any] = []
        marks: list[int] = []
        memo: dict[int, Any] = {}
        frame_end = -1
        previous = -1
        limits = self.limits

        def pop_mark() -> list[Any]:
            if not marks:
                raise ValueError("MARK expected but the mark stack is empty")
            start = marks.pop()
            items = stack[start:]
            del stack[start:]
            return items

        for opcode, arg, pos in pickletools.genops(stream):
            offset = base_offset + (pos or 0)
            self.opcodes += 1
            if self.opcodes % 65536 == 0:
                if self.opcodes > limits.max_opcodes:
                    raise LimitReached(f"more than {limits.max_opcodes:,} opcodes")
                if time.monotonic() - self.started > limits.max_seconds:
                    raise LimitReached(f"scanning took longer than {limits.max_seconds:.0f} s")
                if len(stack) > limits.max_stack:
                    raise LimitReached(f"stack deeper than {limits.max_stack:,}")
            if previous < frame_end < (pos or 0):
                self.emit(
                    "PICKLE-FRAME-STRADDLE",
                    Severity.MEDIUM,
                    "an opcode straddles a FRAME boundary: the C and Python unpicklers read this differently",
                    offset,
                )
            previous = pos or 0
            name = opcode.name

            if name == "PROTO":
                self.protocol = int(arg)
            elif name == "FRAME":
                if (pos or 0) < frame_end:
                    self.emit("PICKLE-FRAME-NESTED", Severity.MEDIUM, "a FRAME starts inside another frame", offset)
                frame_end = (pos or 0) + 9 + int(arg)
            elif name == "STOP":
                return
            elif name in _LITERALS:
                value = _LITERALS[name](arg)
                if isinstance(value, (bytes, bytearray, str)) and len(value) >= NESTED_MIN_BYTES and self.nested:
                    self._maybe_nested(value, offset)
                stack.append(value)
            elif name == "MARK":
                marks.append(len(stack))
            elif name == "EMPTY_LIST":
                stack.append([])
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name == "EMPTY_DICT":
                stack.append(PDict())
            elif name == "EMPTY_SET":
                stack.append(PSet())
            elif name == "TUPLE":
                stack.append(tuple(pop_mark()))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                count = int(name[-1])
                if len(stack) < count:
                    raise ValueError(f"{name} on a stack of {len(stack)}")
                items = tuple(stack[-count:])
                del stack[-count:]
                stack.append(items)
            elif name == "LIST":
                stack.append(pop_mark())
            elif name == "DICT":
                items = pop_mark()
                stack.append(PDict(list(zip(items[::2], items[1::2], strict=False))))
            elif name == "FROZENSET":
                stack.append(PSet(pop_mark()))
            elif name in ("APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS"):
                if name == "APPEND":
                    items = [stack.pop()]
                elif name == "SETITEM":
                    value, key = stack.pop(), stack.pop()
                    items = [key, value]
                else:
                    items = pop_mark()
                target = stack[-1]
                if isinstance(target, list) and name.startswith("APPEND"):
                    target.extend(items)
                elif isinstance(target, PDict) and name.startswith("SETITEM"):
                    target.items.extend(zip(items[::2], items[1::2], strict=False))
                elif isinstance(target, PSet) and name == "ADDITEMS":
                    target.items.extend(items)
                else:
                    self._mutate(target, offset, name.lower())
            elif name == "POP":
                if stack:
                    stack.pop()
                elif marks:
                    marks.pop()
                else:
                    raise ValueError("POP on an empty stack")
            elif name == "POP_MARK":
                pop_mark()
            elif name == "DUP":
                stack.append(stack[-1])
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = stack[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                if int(arg) not in memo:
                    raise ValueError(f"memo key {arg} read before it was written")
                stack.append(memo[int(arg)])
            elif name in ("GLOBAL", "INST"):
                module, _, attribute = str(arg).partition(" ")
                imported = self._global(module, attribute, offset)
                if name == "GLOBAL":
                    stack.append(imported)
                else:
                    stack.append(self._call(imported, tuple(pop_mark()), offset, "inst"))
            elif name == "STACK_GLOBAL":
                attribute, module = stack.pop(), stack.pop()
                if isinstance(module, str) and isinstance(attribute, str):
                    stack.append(self._global(module, attribute, offset))
                else:
                    self.emit(
                        "PICKLE-COMPUTED-IMPORT",
                        Severity.CRITICAL,
                        f"imports a name computed at load time ({render(module)}, {render(attribute)})",
                        offset,
                    )
                    stack.append(Opaque("computed global"))
            elif name == "REDUCE":
                args, func = stack.pop(), stack.pop()
                stack.append(self._call(func, args, offset, "reduce"))
            elif name == "OBJ":
                items = pop_mark()
                if not items:
                    raise ValueError("OBJ without a class")
                stack.append(self._call(items[0], tuple(items[1:]), offset, "obj"))
            elif name == "NEWOBJ":
                args, cls = stack.pop(), stack.pop()
                stack.append(self._call(cls, args, offset, "newobj"))
            elif name == "NEWOBJ_EX":
                kwargs, args, cls = stack.pop(), stack.pop(), stack.pop()
                stack.append(self._call(cls, (args, kwargs), offset, "newobj_ex"))
            elif name == "BUILD":
                state = stack.pop()
                target = stack[-1]
                if isinstance(target, Global):  # instances were judged when they were created
                    self._mutate(target, offset, "BUILD (attribute writes)")
                elif (
                    isinstance(target, Call)
                    and isinstance(target.func, Global)
                    and target.func.name == JOBLIB_ARRAY_WRAPPER
                ):
                    self._skip_joblib_array(stream, state)
                    previous = stream.tell()  # the raw bytes are outside any frame
            elif name in ("EXT1", "EXT2", "EXT4"):
                self.emit(
                    "PICKLE-EXTENSION",
                    Severity.HIGH,
                    f"uses extension code {arg}: resolved through the copyreg registry at load time",
                    offset,
                )
                stack.append(Opaque(f"extension {arg}"))
            elif name in ("PERSID", "BINPERSID"):
                pid = arg if name == "PERSID" else stack.pop()
                stack.append(Opaque(f"persistent id {render(pid)}"))
            elif name == "NEXT_BUFFER":
                stack.append(Opaque("out-of-band buffer"))
            elif name == "READONLY_BUFFER":
                pass
            else:  # pragma: no cover - every opcode of protocols 0-5 is handled above
                raise ValueError(f"unhandled opcode {name}")
        raise ValueError("the pickle ends without a STOP opcode")

    def _skip_joblib_array(self, stream: IO[bytes], state: Any) -> None:
        """joblib writes an array's raw bytes into the pickle stream right after its wrapper's BUILD (and a
        whole nested pickle for object arrays): step over them exactly, as joblib's unpickler does."""
        fields = {k: v for k, v in state.items if isinstance(k, str)} if isinstance(state, PDict) else {}
        shape, dtype = fields.get("shape"), fields.get("dtype")
        descr = dtype.args[0] if isinstance(dtype, Call) and isinstance(dtype.args, tuple) and dtype.args else None
        if (
            not isinstance(shape, tuple)
            or not all(isinstance(n, int) and n >= 0 for n in shape)
            or not isinstance(descr, str)
        ):
            raise ValueError("a joblib array wrapper without a readable shape and dtype")
        if descr.lstrip("<>|=").startswith("O"):
            saved = self.protocol
            self._run(stream, 0)  # object arrays are a complete pickle of their own, without padding
            self.protocol = saved
            return
        if fields.get("numpy_array_alignment_bytes") is not None:
            padding = stream.read(1)
            stream.read(padding[0] if padding else 0)
        count = 1
        for n in shape:
            count *= n
        size = count * _itemsize(descr)
        start = stream.tell()
        stream.seek(start + size)
        if stream.tell() != start + size or not stream.read(1):
            raise ValueError("the stream ends inside a joblib array")
        stream.seek(start + size)

    def _finish_pickle(self, stack: list[Any]) -> None:
        """Denied imports that were never called are still CRITICAL: importing alone runs module code."""
        for imported, rule, reason in self._pending_imports:
            if not imported.used:
                self.emit(rule, Severity.CRITICAL, f"imports {imported.name}: {reason}", imported.offset, imported.name)
        self._pending_imports = []
        del stack[:]

    def _maybe_nested(self, value: bytes | bytearray | str, offset: int) -> None:
        from modelseal.scanning.pickle.nested import embedded_payload

        assert self.nested is not None
        found = embedded_payload(value)
        if found is not None:
            data, encoding = found
            self.emit(
                "PICKLE-NESTED-PAYLOAD",
                Severity.LOW,
                f"a {encoding} literal holds a serialised payload (scanned as a nested file)",
                offset,
            )
            self.nested(data, f"{encoding} literal at offset {offset}", offset)


JOBLIB_ARRAY_WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"
_DTYPE = re.compile(r"([?biufcmMOSUVa])(\d*)")


def _itemsize(descr: str) -> int:
    match = _DTYPE.fullmatch(descr.lstrip("<>|="))
    if match is None:
        raise ValueError(f"unknown numpy dtype {descr!r} in a joblib array")
    kind, digits = match.groups()
    size = int(digits) if digits else 1
    return size * 4 if kind == "U" else size


_LITERALS: dict[str, Callable[[Any], Any]] = {
    **{
        n: (lambda a: a)
        for n in (
            "INT",
            "BININT",
            "BININT1",
            "BININT2",
            "LONG",
            "LONG1",
            "LONG4",
            "STRING",
            "BINSTRING",
            "SHORT_BINSTRING",
            "UNICODE",
            "BINUNICODE",
            "SHORT_BINUNICODE",
            "BINUNICODE8",
            "BINBYTES",
            "SHORT_BINBYTES",
            "BINBYTES8",
            "BYTEARRAY8",
            "FLOAT",
            "BINFLOAT",
        )
    },
    "NONE": lambda a: None,
    "NEWTRUE": lambda a: True,
    "NEWFALSE": lambda a: False,
}
