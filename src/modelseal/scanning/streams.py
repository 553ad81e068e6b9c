"""File-like views used while scanning: a window onto part of a seekable stream, and a decompressing reader that
charges every byte it produces to the file's budget."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO

from modelseal.scanning.budget import Budget


class Window(io.RawIOBase):
    """A read-only, seekable view of bytes [start, start + length) of a seekable stream."""

    def __init__(self, handle: IO[bytes], start: int, length: int) -> None:
        super().__init__()
        self.handle, self.start, self.length, self.position = handle, start, max(0, length), 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.length}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self.length - self.position)
        if want <= 0:
            return 0
        self.handle.seek(self.start + self.position)
        data = self.handle.read(want)
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


def window(handle: IO[bytes], start: int, length: int) -> IO[bytes]:
    """A buffered window: fast `read(1)`, `readline` and `tell`, as pickletools needs."""
    return io.BufferedReader(Window(handle, start, length), 1 << 16)


class CountingReader(io.RawIOBase):
    """Counts the compressed bytes a decompressor pulls from its source (for the ratio bound)."""

    def __init__(self, source: IO[bytes]) -> None:
        super().__init__()
        self.source, self.consumed = source, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.source.read(len(buffer))
        buffer[: len(data)] = data
        self.consumed += len(data)
        return len(data)


class Expanding(io.RawIOBase):
    """A decompressed stream whose every produced byte is charged to the budget as it is produced, so a bomb is
    stopped at the bound, whatever the codec and however deeply it is nested."""

    def __init__(self, source: IO[bytes], open_codec: Callable[[IO[bytes]], IO[bytes]], budget: Budget) -> None:
        super().__init__()
        self.counter = CountingReader(source)
        self.codec = open_codec(io.BufferedReader(self.counter, 1 << 16))
        self.budget, self.produced = budget, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.codec.read(min(len(buffer), 1 << 20))
        buffer[: len(data)] = data
        self.produced += len(data)
        self.budget.expand(len(data))
        self.budget.check_ratio(self.produced, self.counter.consumed)
        return len(data)
