"""The judge of an emulated pickle: `interpreter.Interpreter` walks the opcodes as the unpickler would, without
importing or calling anything, and asks the judge at every point where code would run.

Values on the stack are literals, containers, or symbols (`Global`, `Call`, `Opaque`). Every place where the
real unpickler would call code (REDUCE, INST, OBJ, NEWOBJ(_EX), BUILD, APPEND(S)/SETITEM(S)/ADDITEMS on objects
that are not fresh containers, EXT*, PERSID) is judged against the policy, and the would-be call is rendered
from the emulated stack so a human sees what would run. The memo stores references, so memo "bombs" cost
nothing; rendering is bounded in depth and length.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from modelseal.scanning.budget import Budget, Limits
from modelseal.scanning.context import MAX_TEXT_BYTES
from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.pickle.names import canonical, reachable_names
from modelseal.scanning.pickle.opcodes import LargeLiteral, MalformedPickleError
from modelseal.scanning.pickle.values import LEAVES, Call, Global, Opaque, PDict, PSet, render
from modelseal.scanning.policy import Contract, ContractKind, ScanPolicy, Verdict

NESTED_MIN_BYTES = 24
MAX_FINDINGS_PER_TARGET = 5


TEXTS_MAX = MAX_TEXT_BYTES  # characters of string literals kept per pickle stream for the text detectors


class EmbeddedData(Protocol):
    """What the opcode reader offers for stepping over raw bytes inside a pickle stream."""

    def take(self, count: int) -> bytes: ...

    def skip(self, count: int) -> bytes: ...


NestedScanner = Callable[[bytes, str, int], None]
RegionScanner = Callable[[int, int, str], None]  # (offset, length, label): bytes of the stream, scanned in place


class PickleJudge:
    """Judges what an emulated pickle does (imports, calls, attribute writes) and reports findings."""

    def __init__(
        self,
        policy: ScanPolicy,
        emit: Callable[[Finding], None],
        nested: NestedScanner | None = None,
        budget: Budget | None = None,
        region: RegionScanner | None = None,
        texts: list[str] | None = None,
    ) -> None:
        self.policy = policy
        self.texts = texts  # string literals as the unpickler decodes them, for the secret and network detectors
        self._text_left = TEXTS_MAX
        self._emit = emit
        self.nested = nested
        self.region = region
        self.budget = budget or Budget(Limits())
        self.protocol = 0
        self.imports = 0  # names imported so far: before the first one, the unpickler has run nothing
        self._counts: dict[tuple[str, str], int] = {}
        self._pending_imports: list[tuple[Global, str, str]] = []  # denied globals, reported if never called
        self._unknown_imports: list[Global] = []  # reported if never called or instantiated

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
        self._emit(Finding(rule, severity, message, offset=offset, target=target, payload=payload))

    # --- globals ---------------------------------------------------------------------------------------------

    def import_global(self, module: str, name: str, offset: int) -> Global:
        if not _is_dotted_identifier(module) or not _is_dotted_identifier(name):
            # find_class cannot import such a name: the unpickler raises here and runs nothing more
            raise MalformedPickleError(f"import of {module!r}.{name!r}, which no module can be named")
        self.imports += 1
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
        if verdict is Verdict.UNKNOWN and not dunder:
            self._unknown_imports.append(imported)
        if "." in qual and verdict is Verdict.UNKNOWN and not dunder:
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
            sink = self.policy.deny_reason(name)
            if sink is not None:
                return sink
        return "a module or function that can run commands, touch files or the network, or execute code"

    # --- call sites ------------------------------------------------------------------------------------------

    def call(self, func: Any, args: Any, offset: int, kind: str, via: str | None = None) -> Call | Global:
        """Judge `func(*args)` as the unpickler would make it (`kind`: the opcode family), or as an allowed helper
        would make it on the pickle's behalf (`via`: that helper, named in the finding)."""
        attribute = self._literal_getattr(func, args, offset)
        if attribute is not None:
            return attribute
        result = Call(func, args, offset, kind)
        payload = render(result) + (f" via {via}" if via else "")
        laundered = f" (laundered through {via})" if via else ""
        instantiate_only = kind in ("newobj", "newobj_ex")
        if isinstance(func, Global):
            func.used = True
            if func.verdict is Verdict.DENIED:
                reason = next((r for g, _, r in self._pending_imports if g is func), "denied by policy")
                self.emit(
                    "PICKLE-DANGEROUS-CALL",
                    Severity.CRITICAL,
                    f"calls {func.name} at load time{laundered}: {reason}",
                    offset,
                    func.name,
                    payload,
                )
            elif func.verdict is Verdict.ALLOWED or func.name in self.policy.embedded_loaders:
                if not instantiate_only:
                    self._allowed_call(func, args, offset, payload)
            elif instantiate_only:
                self.emit(
                    "PICKLE-UNKNOWN-CLASS",
                    Severity.MEDIUM,
                    f"instantiates {func.name}, a class outside the allowlist (its __new__ and "
                    f"__setstate__ run at load time){laundered}",
                    offset,
                    func.name,
                    payload,
                )
            else:
                self.emit(
                    "PICKLE-UNKNOWN-CALL",
                    Severity.CRITICAL if via else Severity.HIGH,
                    f"calls {func.name}, a callable outside the allowlist, at load time{laundered}",
                    offset,
                    func.name,
                    payload,
                )
        elif _is_partial(func):
            bound, inner = _partial_binding(func)
            self.call(inner, bound + (args if isinstance(args, tuple) else (args,)), offset, kind, "functools.partial")
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

    def _literal_getattr(self, func: Any, args: Any, offset: int) -> Global | None:
        """`getattr(X, 'name')` on an imported X with a literal name is the dotted name `X.name`, which the
        unpickler could import directly: judge that name (pandas reaches `zoneinfo.ZoneInfo._unpickle` this way),
        instead of the resolver. Anything else given to getattr stays a resolver call."""
        if not (isinstance(func, Global) and func.name == "builtins.getattr" and func.verdict is Verdict.DENIED):
            return None
        if not (isinstance(args, tuple) and len(args) == 2 and isinstance(args[0], Global)):
            return None
        owner, name = args
        if not isinstance(name, str) or not name.isidentifier() or owner.verdict is Verdict.DENIED:
            return None
        func.used = True
        owner.used = True
        module, _, qualname = owner.name.partition(".")
        return self.import_global(module, f"{qualname}.{name}" if qualname else name, offset)

    def _is_resolver_result(self, value: Call) -> bool:
        return isinstance(value.func, Global) and (
            value.func.verdict is Verdict.DENIED or value.func.name in self.policy.resolvers
        )

    def _allowed_call(self, func: Global, args: Any, offset: int, payload: str) -> None:
        """An allowed callable is held to its contract: what it may receive, and what it calls or instantiates
        with what it receives (judged as if the pickle had made that call)."""
        contract = self.policy.contract(func.name)
        if contract is None:
            if func.name in self.policy.embedded_loaders:
                self._embedded_load(func, args, offset, payload)
            return
        positional = args if isinstance(args, tuple) else ()
        checked = set(contract.classes)
        for position in contract.classes:
            if position < len(positional):
                self._instantiate(positional[position], offset, func.name, payload)
        if contract.kind is ContractKind.CALLS:
            checked |= self._laundered_call(contract, positional, offset, func.name)
        elif contract.kind is ContractKind.PARTIAL:
            return  # the bound callable is an import now, and a call when the partial is called
        rest = tuple(v for at, v in enumerate(args) if at not in checked) if isinstance(args, tuple) else (args,)
        if contract.kind is ContractKind.LITERALS:
            smuggled, allowed = _non_literal(rest), "literal arguments only"
        else:
            smuggled, allowed = self._callable_in(rest), "data arguments only (no callables)"
        if smuggled is not None:
            self.emit(
                "PICKLE-CONTRACT-BREACH",
                Severity.CRITICAL,
                f"{func.name} is allowed with {allowed}, and receives {render(smuggled)}: whatever it does with "
                "that value runs at load time",
                offset,
                func.name,
                payload,
            )

    def _laundered_call(self, contract: Contract, positional: tuple[Any, ...], offset: int, via: str) -> set[int]:
        """A higher-order helper calls one of its arguments with others: judge that call. The positions used."""
        if contract.callable >= len(positional):
            return set()
        if isinstance(contract.args, int):
            passed = positional[contract.args] if contract.args < len(positional) else ()
            used = {contract.callable, contract.args}
            call_args: Any = passed if isinstance(passed, tuple) else (passed,)
        else:
            call_args = tuple(positional[i] for i in contract.args if i < len(positional))
            used = {contract.callable}
        self.call(positional[contract.callable], call_args, offset, "reduce", via)
        return used

    def _instantiate(self, value: Any, offset: int, via: str, payload: str) -> None:
        """A helper creates an instance of `value` (`cls.__new__`, then maybe `__init__`/`__setstate__`)."""
        if isinstance(value, Global):
            self.call(value, (), offset, "newobj", via if value.verdict is not Verdict.ALLOWED else None)
        elif isinstance(value, (Call, Opaque)):
            self.emit(
                "PICKLE-COMPUTED-CALL",
                Severity.HIGH,
                f"{via} instantiates a class computed at load time",
                offset,
                None,
                payload,
            )
        elif _non_literal(value) is not None:
            self.emit(
                "PICKLE-CONTRACT-BREACH",
                Severity.CRITICAL,
                f"{via} is given {render(value)} where it expects a class",
                offset,
                via,
                payload,
            )

    def _callable_in(self, value: Any, depth: int = 0) -> Any:
        """The first callable inside `value`: a name outside the allowlist, a partial, or an allowed helper that
        calls or instantiates what it is given. Objects built by allowed classes are data."""
        if isinstance(value, Global):
            contract = self.policy.contract(value.name)
            if value.verdict is not Verdict.ALLOWED or (contract and contract.kind is not ContractKind.DATA):
                return value
            return None
        if isinstance(value, Call):
            if _is_partial(value):
                return value
            container = isinstance(value.func, Global) and value.func.name in _CONTAINER_CLASSES
            return self._callable_in(value.args, depth + 1) if container and depth < 20 else None
        items = _items(value) if depth <= 20 else None
        if items is None:
            return None
        return next((found for item in items if (found := self._callable_in(item, depth + 1)) is not None), None)

    def _embedded_load(self, func: Global, args: Any, offset: int, payload: str) -> None:
        first = args[0] if isinstance(args, tuple) and args else None
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

    def mutate(self, target: Any, offset: int, method: str) -> None:
        """APPEND/SETITEM/ADDITEMS/BUILD on something other than a fresh container calls its methods. On an
        imported name itself (a module, class or function, never an instance) it rewrites live code: model
        tampering as in Sleepy Pickle, whatever the name's verdict."""
        if isinstance(target, Global):
            self.emit(
                "PICKLE-GLOBAL-MUTATION",
                Severity.CRITICAL,
                f"{method} on {target.name} itself: rewrites attributes of a live module, class or function, "
                "for every later user of it (sleepy-pickle)",
                offset,
                target.name,
            )
        elif isinstance(target, Call) and isinstance(target.func, Global):
            if target.func.verdict is Verdict.DENIED:
                self.emit(
                    "PICKLE-DANGEROUS-CALL",
                    Severity.CRITICAL,
                    f"calls {target.func.name} object's {method}",
                    offset,
                    target.func.name,
                )
        elif isinstance(target, Call):
            self.emit("PICKLE-COMPUTED-CALL", Severity.HIGH, f"{method} on a value computed at load time", offset)

    def skip_joblib_array(self, reader: EmbeddedData, state: Any, run_nested: Callable[[], None]) -> None:
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
            raise MalformedPickleError("a joblib array wrapper without a readable shape and dtype")
        if descr.lstrip("<>|=").startswith("O") or (isinstance(dtype, Call) and _has_objects(dtype)):
            saved = self.protocol
            run_nested()  # object arrays are a complete pickle of their own, without padding
            self.protocol = saved
            return
        if fields.get("numpy_array_alignment_bytes") is not None:
            reader.skip(reader.take(1)[0])
        count = 1
        for n in shape:
            count *= n
        reader.skip(count * _itemsize(descr))

    def finish_pickle(self) -> None:
        """Denied imports that were never called are still CRITICAL: importing alone runs module code."""
        for imported, rule, reason in self._pending_imports:
            if not imported.used:
                self.emit(rule, Severity.CRITICAL, f"imports {imported.name}: {reason}", imported.offset, imported.name)
        self._pending_imports = []
        for imported in self._unknown_imports:
            if not imported.used:
                self.emit(
                    "PICKLE-UNKNOWN-IMPORT",
                    Severity.MEDIUM,
                    f"imports {imported.name}, outside the allowlist (importing a module runs its top-level code)",
                    imported.offset,
                    imported.name,
                )
        self._unknown_imports = []

    def text_literal(self, value: str | bytes | bytearray) -> None:
        """Keep a string literal (bytes as Latin-1) for the text detectors, up to `TEXTS_MAX` in all."""
        if self.texts is not None and len(value) <= self._text_left:
            self._text_left -= len(value)
            self.texts.append(value if isinstance(value, str) else value.decode("latin-1"))

    def large_literal(self, literal: LargeLiteral) -> None:
        """A literal too long to buffer is scanned where it lies, by content."""
        if self.region is not None:
            self.region(literal.offset, literal.length, f"literal at offset {literal.offset}")

    def maybe_nested(self, value: bytes | bytearray | str, offset: int) -> None:
        from modelseal.scanning.pickle.nested import embedded_payload

        if self.nested is None:
            return
        found = embedded_payload(value, self.budget)
        if found is not None:
            data, encoding = found
            self.emit(
                "PICKLE-NESTED-PAYLOAD",
                Severity.LOW,
                f"a {encoding} literal holds a serialised payload (scanned as a nested file)",
                offset,
            )
            self.nested(data, f"{encoding} literal at offset {offset}", offset)


def _items(value: Any) -> list[Any] | None:
    """The kept items of an emulated container (a dict's keys and values, flat), or None for anything else."""
    if type(value) is tuple or type(value) is list:
        return list(value)
    if isinstance(value, PDict):
        return [item for pair in value.items for item in pair]
    if isinstance(value, PSet):
        return list(value.items)
    return None


def _non_literal(value: Any, depth: int = 0) -> Any:
    """The first value inside `value` that is not a plain literal (a class, function or computed value), or None."""
    if type(value) in LEAVES:
        return None  # Plain: data the memo dropped, which never holds an import or a call
    items = _items(value) if depth <= 20 else None
    if items is None:
        return value
    return next((found for item in items if (found := _non_literal(item, depth + 1)) is not None), None)


_CONTAINER_CLASSES = frozenset(
    {
        "collections.OrderedDict",
        "collections.defaultdict",
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.set",
        "builtins.frozenset",
    }
)


def _is_partial(value: Any) -> bool:
    return isinstance(value, Call) and isinstance(value.func, Global) and value.func.name == "functools.partial"


def _partial_binding(partial: Call) -> tuple[tuple[Any, ...], Any]:
    """(bound positional arguments, callable) of a `functools.partial`: from its constructor arguments, or from
    the state its `__setstate__` receives (func, args, kwds, dict), which is how pickle restores one."""
    state = partial.state
    if isinstance(state, tuple) and state:
        bound = state[1] if len(state) > 1 and isinstance(state[1], tuple) else ()
        keywords = state[2] if len(state) > 2 and isinstance(state[2], PDict) and state[2].items else None
        return bound + ((keywords,) if keywords is not None else ()), state[0]  # keywords, as data to check
    args = partial.args if isinstance(partial.args, tuple) else ()
    return tuple(args[1:]), args[0] if args else None


def _is_dotted_identifier(name: str) -> bool:
    return bool(name) and all(part.isidentifier() for part in name.split("."))


JOBLIB_ARRAY_WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"
_NPY_ITEM_REFCOUNT = 0x01  # numpy's dtype flag for "holds Python objects", the 8th item of a dtype's state


def _has_objects(dtype: Call) -> bool:
    """A structured dtype with an object field: joblib then pickles the whole array instead of its raw bytes."""
    state = dtype.state
    flags = state[7] if isinstance(state, tuple) and len(state) > 7 else None
    return isinstance(flags, int) and bool(flags & _NPY_ITEM_REFCOUNT)


_DTYPE = re.compile(r"([?biufcmMOSUVa])(\d*)")


def _itemsize(descr: str) -> int:
    match = _DTYPE.fullmatch(descr.lstrip("<>|="))
    if match is None:
        raise MalformedPickleError(f"unknown numpy dtype {descr!r} in a joblib array")
    kind, digits = match.groups()
    size = int(digits) if digits else 1
    return size * 4 if kind == "U" else size
