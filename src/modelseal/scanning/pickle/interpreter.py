"""The opcode loop: the unpickler's stack machine, one small handler per opcode family, nothing executed.

Every handler mirrors what `pickle._Unpickler` does with its stack, MARK stack and memo; wherever the real
unpickler would run code, the handler asks `PickleJudge` to judge it.
"""

from __future__ import annotations

import pickletools
from collections.abc import Callable
from typing import Any

from modelseal.scanning.findings import Severity
from modelseal.scanning.pickle.judge import JOBLIB_ARRAY_WRAPPER, NESTED_MIN_BYTES, PickleJudge
from modelseal.scanning.pickle.opcodes import LargeLiteral, MalformedPickleError, OpcodeReader
from modelseal.scanning.pickle.values import (
    KEEP_ITEMS,
    LEAVES,
    PLAIN_VALUE,
    Call,
    Global,
    Opaque,
    PDict,
    Plain,
    PSet,
    kept,
    render,
    retained,
    symbolic,
)

Handler = Callable[["_Pickle", Any, int], None]


class _Stop(Exception):  # noqa: N818 - a control-flow signal, not an error
    """STOP: the pickle is complete."""


class _Pickle:
    """The state of one pickle being emulated."""

    def __init__(self, machine: PickleJudge, reader: OpcodeReader) -> None:
        self.machine = machine
        self.reader = reader
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}  # only what `retained` keeps; see values.Plain
        self.memo_size = 0  # keys written, for MEMOIZE and to tell a missing key from a dropped one
        self.frame_end = -1
        self.previous = -1

    @property
    def fence(self) -> int:
        """Where the stack above the last MARK starts: both unpicklers refuse to read below it ("stack
        underflow"), so the emulator does too, or the two would build different objects from the same bytes."""
        return self.marks[-1] if self.marks else 0

    def above_fence(self, what: str) -> None:
        """At least one item lies above the fence, or the unpickler raises."""
        if len(self.stack) <= self.fence:
            raise MalformedPickleError(f"{what} with nothing on the stack above the last MARK")

    def pop(self) -> Any:
        self.above_fence("pop")
        return self.stack.pop()

    def top(self, what: str) -> Any:
        self.above_fence(what)
        return self.stack[-1]

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            raise MalformedPickleError("MARK expected but the mark stack is empty")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items


def _number(p: _Pickle, arg: Any, offset: int) -> None:
    p.stack.append(arg)


def _text(p: _Pickle, arg: Any, offset: int) -> None:
    if type(arg) is LargeLiteral:
        p.machine.large_literal(arg)
        p.stack.append(Opaque(f"{arg.length:,}-byte literal"))
        return
    if len(arg) >= NESTED_MIN_BYTES:
        p.machine.maybe_nested(arg, offset)
    p.machine.text_literal(arg)
    p.stack.append(arg)


def _proto(p: _Pickle, arg: Any, offset: int) -> None:
    p.machine.protocol = int(arg)


def _frame(p: _Pickle, arg: Any, offset: int) -> None:
    if offset < p.frame_end:
        p.machine.emit("PICKLE-FRAME-NESTED", Severity.MEDIUM, "a FRAME starts inside another frame", offset)
    p.frame_end = offset + 9 + int(arg)


def _stop(p: _Pickle, arg: Any, offset: int) -> None:
    p.above_fence("STOP")
    raise _Stop


def _push(factory: Callable[[], Any]) -> Handler:
    def push(p: _Pickle, arg: Any, offset: int) -> None:
        p.stack.append(factory())

    return push


def _mark(p: _Pickle, arg: Any, offset: int) -> None:
    p.marks.append(len(p.stack))


def _tuple_n(count: int) -> Handler:
    def build(p: _Pickle, arg: Any, offset: int) -> None:
        if len(p.stack) - p.fence < count:
            raise MalformedPickleError(f"TUPLE{count} with {len(p.stack) - p.fence} item(s) above the last MARK")
        items = tuple(kept(v) for v in p.stack[len(p.stack) - count :])
        del p.stack[len(p.stack) - count :]
        p.stack.append(items)

    return build


def _capped(items: list[Any], limit: int = KEEP_ITEMS, step: int = 1) -> list[Any]:
    """The first items of a container, long text cut: enough to render and to read small states; plus the first
    later item (a `step`-sized group: a key and its value) that holds an import or a call, so what a contract
    checks cannot hide behind `limit` literals."""
    head = [kept(v) for v in items[:limit]]
    start = limit - limit % step
    for index in range(start, len(items)):
        item = items[index]
        if type(item) not in LEAVES and symbolic(item):
            group = index - (index - start) % step
            return head + [kept(v) for v in items[group : group + step]]
    return head


def _dict(items: list[Any]) -> PDict:
    return PDict(_pairs(items), symbolic(items))


def _from_mark(factory: Callable[[list[Any]], Any]) -> Handler:
    def build(p: _Pickle, arg: Any, offset: int) -> None:
        p.stack.append(factory(p.pop_mark()))

    return build


def _pairs(items: list[Any]) -> list[tuple[Any, Any]]:
    return list(zip(items[::2], items[1::2], strict=False))


def _extend_list(target: list[Any], items: list[Any]) -> None:
    """APPEND(S) on a fresh list, ADDITEMS on a fresh set (its kept items)."""
    room = KEEP_ITEMS - len(target)
    if len(items) <= room:
        target.extend([kept(v) for v in items])
    elif room >= 0:
        target.extend(_capped(items, room))


def _extend_dict(target: PDict, items: list[Any]) -> None:
    """SETITEM(S) on a fresh dict: `items` is keys and values, flat."""
    room = 2 * (KEEP_ITEMS - len(target.items))
    if room >= 0:
        added = [kept(v) for v in items] if len(items) <= room else _capped(items, room, 2)
        target.items.extend(_pairs(added))
        if not target.symbolic:
            target.symbolic = symbolic(added)


def _add_items(kind: str) -> Handler:
    """APPEND(S), SETITEM(S), ADDITEMS: plain on fresh containers, a method call on anything else."""

    appends, setitems = kind.startswith("APPEND"), kind.startswith("SETITEM")

    def add(p: _Pickle, arg: Any, offset: int) -> None:
        if kind == "APPEND":
            items = [p.pop()]
        elif kind == "SETITEM":
            value, key = p.pop(), p.pop()
            items = [key, value]
        else:
            items = p.pop_mark()
        target = p.top(kind)
        kind_of = type(target)
        if kind_of is list and appends:
            _extend_list(target, items)
        elif kind_of is PDict and setitems:
            _extend_dict(target, items)
        elif kind_of is PSet and kind == "ADDITEMS":
            _extend_list(target.items, items)
        elif not isinstance(target, Plain):
            p.machine.mutate(target, offset, kind.lower())

    return add


def _pop(p: _Pickle, arg: Any, offset: int) -> None:
    if len(p.stack) > p.fence:
        p.stack.pop()
    elif p.marks:
        p.marks.pop()
    else:
        raise MalformedPickleError("POP on an empty stack")


def _pop_mark(p: _Pickle, arg: Any, offset: int) -> None:
    p.pop_mark()


def _dup(p: _Pickle, arg: Any, offset: int) -> None:
    p.stack.append(p.top("DUP"))


def _store(p: _Pickle, key: int) -> None:
    top = p.top("memo write")
    if key < 0:
        raise MalformedPickleError(f"negative memo key {key}")
    kind = type(top)
    value = PLAIN_VALUE if kind is list or kind is float or kind is bytes else retained(top)
    if kind is list and any(isinstance(v, (Global, Call)) for v in top):
        value = top
    if isinstance(value, Plain):
        if p.memo:
            p.memo.pop(key, None)
    else:
        p.memo[key] = value
    if key >= p.memo_size:
        p.memo_size = key + 1


def _put(p: _Pickle, arg: Any, offset: int) -> None:
    _store(p, arg)


def _memoize(p: _Pickle, arg: Any, offset: int) -> None:
    _store(p, p.memo_size)


def _get(p: _Pickle, arg: Any, offset: int) -> None:
    if arg >= p.memo_size:
        raise MalformedPickleError(f"memo key {arg} read before it was written")
    p.stack.append(p.memo.get(arg, PLAIN_VALUE))


def _global(p: _Pickle, arg: Any, offset: int) -> None:
    module, _, attribute = str(arg).partition(" ")
    p.stack.append(p.machine.import_global(module, attribute, offset))


def _inst(p: _Pickle, arg: Any, offset: int) -> None:
    module, _, attribute = str(arg).partition(" ")
    imported = p.machine.import_global(module, attribute, offset)
    p.stack.append(p.machine.call(imported, tuple(p.pop_mark()), offset, "inst"))


def _stack_global(p: _Pickle, arg: Any, offset: int) -> None:
    attribute, module = p.pop(), p.pop()
    if isinstance(module, str) and isinstance(attribute, str):
        p.stack.append(p.machine.import_global(module, attribute, offset))
        return
    if not isinstance(module, (Global, Call, Opaque)) or not isinstance(attribute, (str, Global, Call, Opaque)):
        raise MalformedPickleError("STACK_GLOBAL on values that are not strings")  # the unpickler raises, runs nothing
    p.machine.emit(
        "PICKLE-COMPUTED-IMPORT",
        Severity.CRITICAL,
        f"imports a name computed at load time ({render(module)}, {render(attribute)})",
        offset,
    )
    p.stack.append(Opaque("computed global"))


def _reduce(p: _Pickle, arg: Any, offset: int) -> None:
    args, func = p.pop(), p.pop()
    p.stack.append(p.machine.call(func, args, offset, "reduce"))


def _obj(p: _Pickle, arg: Any, offset: int) -> None:
    items = p.pop_mark()
    if not items:
        raise MalformedPickleError("OBJ without a class")
    p.stack.append(p.machine.call(items[0], tuple(items[1:]), offset, "obj"))


def _newobj(p: _Pickle, arg: Any, offset: int) -> None:
    args, cls = p.pop(), p.pop()
    p.stack.append(p.machine.call(cls, args, offset, "newobj"))


def _newobj_ex(p: _Pickle, arg: Any, offset: int) -> None:
    kwargs, args, cls = p.pop(), p.pop(), p.pop()
    p.stack.append(p.machine.call(cls, (args, kwargs), offset, "newobj_ex"))


def _build(p: _Pickle, arg: Any, offset: int) -> None:
    state = p.pop()
    target = p.top("BUILD")
    if isinstance(target, Plain):
        return
    if isinstance(target, Global):  # instances were judged when they were created
        p.machine.mutate(target, offset, "BUILD (attribute writes)")
    elif isinstance(target, Call) and isinstance(target.func, Global) and target.func.name in _STATE_READERS:
        target.state = state  # partial: the callable and its arguments; a dtype: its fields and flags
    elif isinstance(target, Call) and isinstance(target.func, Global) and target.func.name == JOBLIB_ARRAY_WRAPPER:
        p.machine.skip_joblib_array(p.reader, state, lambda: Interpreter(p.machine).run(p.reader))
        p.previous = p.reader.position  # the raw bytes lie outside any frame


_STATE_READERS = frozenset({"functools.partial", "numpy.dtype"})


def _extension(p: _Pickle, arg: Any, offset: int) -> None:
    if not isinstance(arg, int) or arg <= 0:  # copyreg registers 1..2**31-1; both unpicklers raise on the rest
        raise MalformedPickleError(f"extension code {arg} is not one copyreg can register")
    p.machine.emit(
        "PICKLE-EXTENSION",
        Severity.HIGH,
        f"uses extension code {arg}: resolved through the copyreg registry at load time",
        offset,
    )
    p.stack.append(Opaque(f"extension {arg}"))


def _persistent(record: Any) -> Any:
    """What a persistent id stands for. torch's legacy loader returns the class named by a ('module', cls,
    source file, source) record (every whole-module pickle before torch 1.6); anything else is opaque."""
    if isinstance(record, tuple) and len(record) >= 2 and record[0] == "module" and isinstance(record[1], Global):
        return record[1]
    return Opaque(f"persistent id {render(record)}")


def _persid(p: _Pickle, arg: Any, offset: int) -> None:
    p.stack.append(_persistent(arg))


def _binpersid(p: _Pickle, arg: Any, offset: int) -> None:
    p.stack.append(_persistent(p.pop()))


def _ignore(p: _Pickle, arg: Any, offset: int) -> None:
    return None


HANDLERS: dict[str, Handler] = {
    **{
        name: _number for name in ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT")
    },
    **{
        name: _text
        for name in (
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
        )
    },
    "NONE": _push(lambda: None),
    "NEWTRUE": _push(lambda: True),
    "NEWFALSE": _push(lambda: False),
    "PROTO": _proto,
    "FRAME": _frame,
    "STOP": _stop,
    "MARK": _mark,
    "EMPTY_LIST": _push(list),
    "EMPTY_TUPLE": _push(tuple),
    "EMPTY_DICT": _push(PDict),
    "EMPTY_SET": _push(PSet),
    "TUPLE": _from_mark(lambda items: tuple(_capped(items))),
    "TUPLE1": _tuple_n(1),
    "TUPLE2": _tuple_n(2),
    "TUPLE3": _tuple_n(3),
    "LIST": _from_mark(_capped),
    "DICT": _from_mark(lambda items: _dict(_capped(items, 2 * KEEP_ITEMS, 2))),
    "FROZENSET": _from_mark(lambda items: PSet(_capped(items))),
    **{name: _add_items(name) for name in ("APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS")},
    "POP": _pop,
    "POP_MARK": _pop_mark,
    "DUP": _dup,
    "PUT": _put,
    "BINPUT": _put,
    "LONG_BINPUT": _put,
    "MEMOIZE": _memoize,
    "GET": _get,
    "BINGET": _get,
    "LONG_BINGET": _get,
    "GLOBAL": _global,
    "INST": _inst,
    "STACK_GLOBAL": _stack_global,
    "REDUCE": _reduce,
    "OBJ": _obj,
    "NEWOBJ": _newobj,
    "NEWOBJ_EX": _newobj_ex,
    "BUILD": _build,
    "EXT1": _extension,
    "EXT2": _extension,
    "EXT4": _extension,
    "PERSID": _persid,
    "BINPERSID": _binpersid,
    "NEXT_BUFFER": _push(lambda: Opaque("out-of-band buffer")),
    "READONLY_BUFFER": _ignore,
}


HANDLER_BY_CODE: list[Handler | None] = [None] * 256
for _opcode in pickletools.opcodes:
    HANDLER_BY_CODE[ord(_opcode.code)] = HANDLERS[_opcode.name]


class Interpreter:
    """Runs one pickle (up to its STOP) through the handlers, checking the scan bounds as it goes."""

    def __init__(self, machine: PickleJudge) -> None:
        self.machine = machine

    def run(self, reader: OpcodeReader) -> None:
        """Emulate one pickle from the reader's position; raise `MalformedPickleError` on malformed input (findings so
        far are kept) or `ScanBoundError` on a bound of the file's budget."""
        state = _Pickle(self.machine, reader)
        machine, handlers = self.machine, HANDLER_BY_CODE
        count = 0
        try:
            for code, arg, offset in reader.ops():
                count += 1
                if not count & 0xFFFF:
                    machine.budget.count_opcodes(0x10000, len(state.stack))
                if state.previous < state.frame_end < offset:
                    machine.emit(
                        "PICKLE-FRAME-STRADDLE",
                        Severity.MEDIUM,
                        "an opcode straddles a FRAME boundary: the C and Python unpicklers read this differently",
                        offset,
                    )
                state.previous = offset
                handlers[code](state, arg, offset)  # type: ignore[misc]  # every known code has a handler
        except _Stop:
            pass
        finally:
            machine.finish_pickle()
        machine.budget.count_opcodes(count & 0xFFFF, 0)  # the rest of this pickle, so small nested ones add up
