"""NumPy `.npy`: an array whose dtype holds objects (anywhere: plain, structured or sub-array) is a pickle right
after the header, which `numpy.load(allow_pickle=True)` unpickles; every other array is data."""

from __future__ import annotations

import re
from typing import IO

from modelseal.scanning.context import ScanContext, join
from modelseal.scanning.streams import window

# the header is a Python dict literal; read it with patterns, not `ast` (which compiles): only the dtype matters
_NPY_DESCR = re.compile(r"""['"]descr['"]\s*:\s*(.*?)\s*,\s*['"](?:fortran_order|shape)['"]""", re.S)
_NPY_OBJECT = re.compile(r"""['"][<>|=]?O\d*['"]""")


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    from modelseal.scanning.formats.pickle import scan_pickles

    prefix = stream.read(10)
    if len(prefix) < 10 or prefix[6] not in (1, 2, 3):
        ctx.gap(member, "npy header truncated or of an unknown version")
        return "npy"
    if prefix[6] == 1:
        length, start = int.from_bytes(prefix[8:10], "little"), 10
    else:
        length, start = int.from_bytes(prefix[8:10] + stream.read(2), "little"), 12
    stream.seek(start)
    header = stream.read(length).decode("latin-1")
    descr = _NPY_DESCR.search(header)
    if descr is None:
        ctx.gap(member, "npy header unreadable (no 'descr')")
        return "npy"
    if _NPY_OBJECT.search(descr.group(1)):
        with window(stream, start + length, size - start - length) as payload:
            scan_pickles(ctx, payload, size - start - length, join(member, "<npy object data>"), depth + 1, False)
        return "npy (object)"
    return "npy"
