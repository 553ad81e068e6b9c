"""Build pickles opcode by opcode, as an attacker would, so regression tests need no pickler and run nothing."""

from __future__ import annotations

import struct


def proto(n: int = 4) -> bytes:
    return b"\x80" + bytes([n])


def unicode(text: str) -> bytes:
    data = text.encode("utf-8")
    return b"\x8c" + bytes([len(data)]) + data if len(data) < 256 else b"X" + struct.pack("<I", len(data)) + data


def binbytes(data: bytes) -> bytes:
    return b"C" + bytes([len(data)]) + data if len(data) < 256 else b"B" + struct.pack("<I", len(data)) + data


def global_(module: str, name: str) -> bytes:
    """GLOBAL (text form, any protocol)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def stack_global(module: str, name: str) -> bytes:
    return unicode(module) + unicode(name) + b"\x93"


def tuple_(*items: bytes) -> bytes:
    """A tuple of the pushed items: MARK ... TUPLE."""
    return b"(" + b"".join(items) + b"t"


def call(func: bytes, *args: bytes) -> bytes:
    """func(*args) via MARK ... TUPLE REDUCE."""
    return func + b"(" + b"".join(args) + b"tR"


def stop(body: bytes, protocol: int = 4) -> bytes:
    return proto(protocol) + body + b"."


def system(command: str = "touch /tmp/x") -> bytes:
    return stop(call(global_("os", "system"), unicode(command)))
