"""Bytes in no format modelseal knows, and Git LFS pointers.

Unknown bytes are data that no loader runs, with two exceptions that keep the verdict fail-closed: another format
found where its own loader looks (a zip directory at the end, which `zipfile`, numpy and joblib find behind any
prefix; an HDF5 superblock after a user block), and a name that says
a code-running loader will be pointed at it (`model.pkl`, `weights.pt`) while its bytes are nothing we can read.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import IO

from modelseal.scanning.context import MAX_TEXT_BYTES, ScanContext
from modelseal.scanning.network import find_network_indicators
from modelseal.scanning.registry import Format
from modelseal.scanning.secrets import find_secrets

TEXT_SUFFIXES = (".md", ".txt", ".rst", ".cfg", ".ini", ".env", ".toml", ".conf", ".properties")  # cards, notes

# what a code-running loader is usually pointed at, by name
LOADER_SUFFIXES = {
    ".pkl": "pickle.load",
    ".pickle": "pickle.load",
    ".pt": "torch.load",
    ".pth": "torch.load",
    ".ckpt": "torch.load",
    ".joblib": "joblib.load",
    ".jbl": "joblib.load",
    ".dill": "dill.load",
    ".npy": "numpy.load",
    ".npz": "numpy.load",
    ".keras": "keras.models.load_model",
    ".h5": "keras.models.load_model",
    ".hdf5": "keras.models.load_model",
    ".nemo": "NeMo's restore_from",
    ".mar": "TorchServe",
    ".t7": "Lua Torch7's torch.load (Torch7 files may hold Lua functions)",
}
# a TensorFlow checkpoint's `.index` is a TF table: this magic number ends the file (its `.data-*` shards are raw
# tensor bytes, data); TF reads tensors from it and runs nothing
TF_TABLE_MAGIC = (0xDB4775248B80FB57).to_bytes(8, "little")


def other_readings(stream: IO[bytes], size: int) -> list[Format]:
    """The formats other loaders find in the same bytes wherever they start: `zipfile` looks for its directory at
    the end, HDF5 for its superblock after a user block."""
    from modelseal.scanning.sniff import hdf5_after_user_block

    found = []
    stream.seek(max(0, size - 65558))
    if b"PK\x05\x06" in stream.read():
        found.append(Format.ZIP)
    if hdf5_after_user_block(stream, size):
        found.append(Format.HDF5)
    stream.seek(0)
    return found


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    readings = other_readings(stream, size)
    if readings:
        return ", ".join(ctx.scan_as(fmt, stream, size, member, depth) for fmt in readings)
    if size >= 48:
        stream.seek(size - 8)
        if stream.read(8) == TF_TABLE_MAGIC:
            return "tf-checkpoint-index"
    stream.seek(0)
    if is_flax_msgpack(stream.read(64 * 1024)):
        return "flax-msgpack"
    loader = LOADER_SUFFIXES.get(PurePosixPath(ctx.display_name(member)).suffix.lower())
    if loader is not None:
        ctx.gap(
            member, f"named for {loader}, which would run code from it, but its content is no format modelseal reads"
        )
        return "unknown"
    if PurePosixPath(ctx.display_name(member)).suffix.lower() in TEXT_SUFFIXES and size <= MAX_TEXT_BYTES:
        stream.seek(0)
        text = stream.read(size).decode("utf-8", "replace")
        ctx.add_all(member, find_secrets(text, "text"))
        ctx.add_all(member, find_network_indicators(text, "text", prose=True))
    if not member:
        ctx.data_only = True
    return "unknown"


def is_flax_msgpack(head: bytes) -> bool:
    """A msgpack map whose first key is text (`params`, `opt_state`, ...): Flax's checkpoint layout. Its values
    are nested maps and ext-typed arrays, which msgpack decodes to data only."""
    if not head or not (0x80 < head[0] <= 0x8F or head[0] in (0xDE, 0xDF)):
        return False
    import msgpack

    unpacker = msgpack.Unpacker(max_buffer_size=len(head), raw=False)  # map keys: text or bytes only
    unpacker.feed(head)
    try:
        unpacker.read_map_header()
        key = unpacker.unpack()
    except (ValueError, TypeError, msgpack.OutOfData, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        return False
    return isinstance(key, str) and key.isidentifier()


def scan_git_lfs_pointer(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    """The content is not here: the engine reports the file as skipped, never clean."""
    if member:
        ctx.gap(member, "a Git LFS pointer: the content is not in this archive")
    return "git-lfs-pointer"
