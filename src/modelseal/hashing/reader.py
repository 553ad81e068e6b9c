"""Hash one byte range of one file, proving the file did not change while it was read.

Large ranges are read by a helper thread into a small ring of reusable buffers while the calling thread
hashes: hashlib and blake3 release the GIL, so reading and hashing overlap and a single SHA-256 stream runs at
the speed of the hash, not hash + copy. Small ranges are read in one `pread`.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable
from typing import NamedTuple

from modelseal.errors import FileChangedError, UnreadableFileError
from modelseal.hashing.algorithms import new_hasher, read_size_for
from modelseal.tree import ModelFile, identity_of

PIPELINE_THRESHOLD = 4 << 20
RING_SIZE = 4

ProgressCallback = Callable[[int], None]


class HashTask(NamedTuple):
    """Hash bytes [start, end) of `file` (a tuple: datasets make millions)."""

    file: ModelFile
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def _open(task: HashTask) -> int:
    try:
        fd = os.open(task.file.path, _OPEN_FLAGS)
    except OSError as exc:
        raise UnreadableFileError(f"cannot open {task.file.name!r}: {exc.strerror}") from exc
    return fd


def _check_unchanged(task: HashTask, fd: int) -> None:
    """After reading: any write since enumeration moved mtime (or size, or the inode was replaced)."""
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) == task.file.identity:  # no object built
        return
    now = identity_of(st)
    if now != task.file.identity:
        raise FileChangedError(
            f"file {task.file.name!r} changed after it was listed or while it was hashed: refusing to use its digest",
            details=(
                f"enumerated: size {task.file.identity.size}, mtime_ns {task.file.identity.mtime_ns}, "
                f"inode {task.file.identity.inode}",
                f"now:        size {now.size}, mtime_ns {now.mtime_ns}, inode {now.inode}",
                "stop whatever is writing to the model and run again",
            ),
        )


def _short_read(task: HashTask, got: int) -> FileChangedError:
    return FileChangedError(
        f"file {task.file.name!r} changed while it was hashed: expected {task.length} bytes "
        f"from offset {task.start}, read {got}"
    )


def _hash_small(task: HashTask, fd: int, hash_type: str) -> str:
    data = os.pread(fd, task.length, task.start) if task.start else os.read(fd, task.length)
    if len(data) != task.length:
        raise _short_read(task, len(data))
    if hash_type == "sha256":  # the common case, without the generic hasher's extra calls
        return hashlib.sha256(data).hexdigest()
    hasher = new_hasher(hash_type)
    hasher.update(data)
    return hasher.hexdigest()


def _hash_pipelined(task: HashTask, fd: int, hash_type: str, progress: ProgressCallback | None) -> str:
    chunk = read_size_for(hash_type)
    free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
    filled: queue.SimpleQueue[tuple[bytearray, int] | BaseException] = queue.SimpleQueue()
    for _ in range(RING_SIZE):
        free.put(bytearray(chunk))
    stop = threading.Event()

    def read_ahead() -> None:
        offset = task.start
        try:
            while offset < task.end and not stop.is_set():
                buffer = free.get()
                want = min(chunk, task.end - offset)
                got = os.preadv(fd, [memoryview(buffer)[:want]], offset)
                filled.put((buffer, got))
                if got == 0:
                    return
                offset += got
            filled.put((bytearray(), 0))
        except BaseException as exc:  # noqa: BLE001 - handed to the hashing thread, which re-raises it
            filled.put(exc)

    reader = threading.Thread(target=read_ahead, name="modelseal-read", daemon=True)
    reader.start()
    hasher = new_hasher(hash_type, large_input=True)
    done = 0
    try:
        while done < task.length:
            item = filled.get()
            if isinstance(item, BaseException):
                raise UnreadableFileError(f"cannot read {task.file.name!r}: {item}") from item
            buffer, got = item
            if got == 0:
                raise _short_read(task, done)
            hasher.update(memoryview(buffer)[:got])
            done += got
            free.put(buffer)
            if progress is not None:
                progress(got)
    finally:
        stop.set()
        free.put(bytearray(chunk))
        reader.join()
    return hasher.hexdigest()


def hash_range(task: HashTask, hash_type: str, progress: ProgressCallback | None = None) -> str:
    """Digest of the task's byte range, checked against the identity recorded at enumeration."""
    fd = _open(task)
    try:
        if task.end - task.start < PIPELINE_THRESHOLD:
            digest = _hash_small(task, fd, hash_type)
            if progress is not None:
                progress(task.length)
        else:
            digest = _hash_pipelined(task, fd, hash_type, progress)
        _check_unchanged(task, fd)
        return digest
    finally:
        os.close(fd)
