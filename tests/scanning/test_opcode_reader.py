"""The fast opcode reader agrees with `pickletools.genops`, opcode for opcode, and fails where it fails."""

from __future__ import annotations

import io
import pickle
import pickletools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelseal.scanning.pickle.opcodes import OpcodeReader
from tests.conftest import FIXTURES


def reference(data: bytes) -> tuple[list[tuple[str, Any, int]], bool]:
    ops, ok = [], True
    try:
        for opcode, arg, position in pickletools.genops(io.BytesIO(data)):
            ops.append((opcode.name, arg, position))
    except Exception:  # noqa: BLE001 - the reference failing is an outcome to compare
        ok = False
    return ops, ok


def ours(data: bytes) -> tuple[list[tuple[str, Any, int]], bool]:
    ops, ok = [], True
    names = {ord(op.code): op.name for op in pickletools.opcodes}
    try:
        for code, arg, position in OpcodeReader(io.BytesIO(data)).ops():
            ops.append((names[code], arg, position))
            if names[code] == "STOP":
                break
    except Exception:  # noqa: BLE001
        ok = False
    return ops, ok


def _non_ascii_name(actual: list[tuple[str, Any, int]]) -> bool:
    """Our reader decoded a GLOBAL/INST name that is not ASCII (pickletools stops there)."""
    return any(name in ("GLOBAL", "INST") and not str(arg).isascii() for name, arg, _ in actual)


def agree(data: bytes) -> None:
    expected, expected_ok = reference(data)
    actual, actual_ok = ours(data)
    if not expected_ok and actual_ok and _non_ascii_string(data, len(expected)):
        return  # the one deliberate difference: STRING is read as latin-1, like pickle.load(encoding="latin1")
    if not expected_ok and actual_ok and _non_ascii_name(actual):
        return  # the other: GLOBAL/INST names are read as UTF-8 without escapes, like pickle.load
    assert repr(actual) == repr(expected[: len(actual)])  # repr: a NaN argument equals itself
    assert actual_ok == expected_ok
    if expected_ok:
        assert repr(actual) == repr(expected)


def _non_ascii_string(data: bytes, index: int) -> bool:
    actual, _ = ours(data)
    return len(actual) > index and actual[index][0] == "STRING" and not actual[index][1].isascii()


def test_python2_strings_are_read_as_latin1() -> None:
    (name, arg, _), *_ = ours(b"S'caf\xe9'\n.")[0]
    assert (name, arg) == ("STRING", "café")


plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary(),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=5), children, max_size=5)
        | st.tuples(children, children)
        | st.frozensets(st.integers(), max_size=3)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(value=plain, protocol=st.integers(0, 5))
def test_agrees_on_real_pickles(value: object, protocol: int) -> None:
    agree(pickle.dumps(value, protocol=protocol))


@settings(max_examples=400, deadline=None)
@given(value=plain, protocol=st.integers(0, 5), cut=st.integers(0, 400), junk=st.binary(max_size=8))
def test_agrees_on_damaged_pickles(value: object, protocol: int, cut: int, junk: bytes) -> None:
    data = pickle.dumps(value, protocol=protocol)
    agree(data[:cut] + junk)


CORPUS = sorted(p for p in (FIXTURES / "peer-corpora").rglob("*") if p.is_file() and p.suffix in (".pkl", ".pickle"))


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_agrees_on_the_peer_corpus(path: Path) -> None:
    agree(path.read_bytes())


def test_large_arguments_cross_buffer_refills() -> None:
    agree(pickle.dumps([b"x" * 3_000_000, "y" * 2_500_000, list(range(100_000))], protocol=4))
