"""HDF5 files, read by h5py in a child process: what the loaders that open them would run.

- Legacy Keras H5: the model config in the root attribute `model_config` (judged like a `.keras` config).
- PyTables (pandas `HDFStore`, `to_hdf`): each row of an object atom is a pickle, and PyTables unpickles string
  attributes that hold one (`non_index_axes`, `info`, ...). Every such row and attribute is scanned as a file.

HDF5's C library can loop forever on hostile files, beyond the reach of any Python-level bound: the child is
killed when it overstays the file's budget, and limited in memory.
"""

from __future__ import annotations

import base64
import json
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelseal.scanning.context import ScanContext

HDF5_SECONDS = 60.0
HDF5_MEMORY = 2 << 30
MAX_EXTRACTED_BYTES = 256 << 20  # pickled rows and attributes handed back by the child, per file

_READER = """
import base64, json, sys, h5py, numpy
limit, total, pickles, truncated = int(sys.argv[2]), 0, [], False

def take(where, data):
    global total, truncated
    if total + len(data) > limit:
        truncated = True
        return
    total += len(data)
    pickles.append([where, base64.b64encode(data).decode()])

def visit(name, node):
    for key, value in node.attrs.items():
        if isinstance(value, bytes) and len(value) > 1:
            take(f"{name or '/'}@{key}", bytes(value))
    if isinstance(node, h5py.Dataset) and node.attrs.get("PSEUDOATOM") == b"object":
        for index in range(node.shape[0] if node.shape else 0):
            take(f"{name}[{index}]", numpy.asarray(node[index], dtype=numpy.uint8).tobytes())

with h5py.File(sys.argv[1], "r") as store:
    config = store.attrs.get("model_config")
    pytables = "PYTABLES_FORMAT_VERSION" in store.attrs
    if pytables:
        visit("", store)
        store.visititems(visit)
if isinstance(config, bytes):
    config = config.decode("utf-8", "replace")
json.dump({"model_config": None if config is None else str(config), "pytables": pytables,
           "pickles": pickles, "truncated": truncated}, sys.stdout)
"""


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (HDF5_MEMORY, HDF5_MEMORY))


def _read(ctx: ScanContext, stream: IO[bytes], member: str) -> dict[str, Any] | None:
    import subprocess
    import sys

    with ctx.as_file(stream, member, ".h5") as path:
        try:
            child = subprocess.run(
                [sys.executable, "-c", _READER, path, str(MAX_EXTRACTED_BYTES)],
                capture_output=True,
                timeout=min(HDF5_SECONDS, max(1.0, ctx.budget.seconds_left())),
                preexec_fn=_limit_memory,
                check=False,
            )
        except subprocess.TimeoutExpired:
            ctx.gap(member, f"the HDF5 reader did not finish within {HDF5_SECONDS:.0f} s (bound)")
            return None
    if child.returncode != 0:
        reason = child.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        ctx.gap(member, f"HDF5 file unreadable ({reason[0][:200]})")
        return None
    found: dict[str, Any] = json.loads(child.stdout)
    return found


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    from modelseal.scanning.context import join
    from modelseal.scanning.formats.keras import scan_config

    found = _read(ctx, stream, member)
    if found is None:
        return "hdf5"
    for where, encoded in found["pickles"]:
        ctx.scan_bytes(base64.b64decode(encoded), join(member, where), depth + 1)
    if found["truncated"]:
        ctx.gap(member, f"PyTables objects beyond {MAX_EXTRACTED_BYTES:,} bytes were not read (bound)")
    label = "pytables" if found["pytables"] else "hdf5"
    if found["model_config"] is None:
        return label
    try:
        config = json.loads(found["model_config"])
    except (ValueError, RecursionError) as exc:
        ctx.gap(member, f"Keras model_config is not JSON ({type(exc).__name__})")
        return "keras-h5"
    scan_config(ctx, config, member, depth)
    return "keras-h5"
