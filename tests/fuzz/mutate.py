"""Byte-level mutations that find parser bugs: flips, inserts, deletes, truncation, splices between seeds, and the
lengths and counts that hostile files use (huge, negative, off by one)."""

from __future__ import annotations

import random
import struct

INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 2**62, 2**64 - 1]
TOKENS = [
    b"X\xff\xff\xff\x7f",  # BINUNICODE claiming 2 GiB
    b"\x8e" + struct.pack("<Q", 2**40),  # BINBYTES8 claiming a terabyte
    b"\x93",  # STACK_GLOBAL
    b"R",  # REDUCE
    b"cos\nsystem\n",
    b"PK\x05\x06",
    b"PK\x03\x04",
    b"\x80\x05",
    b"\x95",  # FRAME
    b"{{ ''.__class__ }}",
    b"_target_: os.system\n",
]


def mutate(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        kind = rng.randrange(8)
        at = rng.randrange(len(out) + 1)
        if kind == 0 and out:
            out[min(at, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 1:
            out[at:at] = rng.randbytes(rng.randint(1, 16))
        elif kind == 2 and out:
            del out[at : at + rng.randint(1, 64)]
        elif kind == 3:
            del out[at:]
        elif kind == 4:
            out[at:at] = rng.choice(TOKENS)
        elif kind == 5 and len(out) >= 4:
            width = rng.choice((1, 2, 4, 8))
            value = rng.choice(INTERESTING) & ((1 << (8 * width)) - 1)
            start = min(at, len(out) - width) if len(out) >= width else 0
            out[start : start + width] = value.to_bytes(width, "little")
        elif kind == 6 and others:
            other = rng.choice(others)
            cut = rng.randrange(len(other) + 1)
            out[at:] = other[cut:]
        elif kind == 7 and out:
            chunk = out[at : at + rng.randint(1, 256)]
            out[at:at] = chunk * rng.randint(1, 8)
    return bytes(out)
