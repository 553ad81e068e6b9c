"""File-like views used while scanning: a window onto part of a seekable stream."""

from __future__ import annotations

import io
from typing import IO


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
