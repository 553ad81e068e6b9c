"""One reader abstraction for bytes that are not on this machine: a remote model is a list of files, each with a
size and a ranged fetch (`fetch(start, end)` returns bytes [start, end)). The scanner reads them through
`open_remote_file` as a seekable stream, so no format scanner knows where its bytes come from; the hashing side
streams each range once through `RemoteHasher`.

Small files are fetched whole and compared with the digest their store publishes (an OCI layer digest, a Hub
LFS sha256 or git blob id) before a byte is scanned; large ones are read in ranges, only where a format looks.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

from modelseal.errors import VerificationError
from modelseal.hashing import HashTask
from modelseal.hashing.algorithms import new_hasher

WHOLE_READ_MAX = 32 << 20  # files up to this size are fetched whole and checked against their published digest
BLOCK_SIZE = 256 << 10  # the first ranged read; sequential reads double it up to MAX_BLOCK_SIZE
MAX_BLOCK_SIZE = 16 << 20
CACHED_BLOCKS = 16
HASH_CHUNK = 8 << 20
STREAMS = 4  # ranges hashed at once: enough to keep a link busy, few enough to hold 4 chunks in memory

Fetch = Callable[[int, int], bytes]


def take(chunks: Iterable[bytes], limit: int) -> bytes:
    """At most `limit` bytes of a streamed body: a server that sends more (or ignores a Range header and sends
    the whole object) costs no more memory than was asked for."""
    kept, size = [], 0
    for chunk in chunks:
        kept.append(chunk[: limit - size])
        size += len(kept[-1])
        if size >= limit:
            break
    return b"".join(kept)


def network_reason(exc: BaseException) -> str:
    """The innermost cause of a client library's network error (urllib3 and httpx wrap a refused connection
    several times): what a user can act on."""
    while isinstance(exc.__context__, Exception):
        exc = exc.__context__
    text = str(exc).split("): ", 1)[-1] or type(exc).__name__
    return text if len(text) < 160 else text[:160] + "…"


def is_transport_error(exc: BaseException) -> bool:
    """An httpx transport error (what huggingface_hub raises when the Hub cannot be reached)."""
    return type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore")


class Meter:
    """Bytes received from the network, counted where they arrive (thread-safe: hashing reads in threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bytes = 0
        self.requests = 0

    def count(self, data: bytes) -> bytes:
        with self._lock:
            self.bytes += len(data)
            self.requests += 1
        return data


@dataclass(frozen=True)
class Published:
    """A digest the store states for a file's bytes. `vouched`: the store is content-addressed (it serves the
    bytes *by* this digest and its clients check it), so a signature may be verified against it unread."""

    algorithm: str  # "sha256", or "git-sha1" (a git blob id: sha1 over "blob <size>\\0" + content)
    hexdigest: str
    vouched: bool = False

    def running(self, size: int) -> Any:
        """A hasher that ends at this digest when fed the file's `size` bytes."""
        if self.algorithm == "git-sha1":
            return hashlib.sha1(b"blob %d\x00" % size, usedforsecurity=False)
        return hashlib.new(self.algorithm)

    def matches(self, data: bytes) -> bool:
        hasher = self.running(len(data))
        hasher.update(data)
        return bool(hasher.hexdigest() == self.hexdigest)

    def mismatch(self, name: str) -> VerificationError:
        return VerificationError(
            f"{name}: the bytes served do not match the digest the store publishes for them "
            f"({self.algorithm} {self.hexdigest})",
            details=("the store (or something between it and you) is serving altered content",),
        )


@dataclass(frozen=True)
class RemoteFile:
    name: str  # the model-relative name, '/'-separated, as a local directory would list it
    size: int
    fetch: Fetch = field(repr=False)
    published: Published | None = None


@dataclass
class RemoteModel:
    location: str  # as the user wrote it, canonical (a tag resolved to a digest where the store has one)
    name: str  # the model's name in a manifest (the repository's last component)
    files: tuple[RemoteFile, ...]
    meter: Meter = field(default_factory=Meter)
    single_file: bool = False  # one file named by its URL (signed, like a local file, under its base name)
    keep: object = field(default=None, repr=False)  # what the files' bytes depend on (a pulled layer's directory)


class RangeReader(io.RawIOBase):
    """A seekable, read-only stream over a ranged fetch: blocks are cached (a few MiB), and reads that continue
    where the last one ended fetch ever larger blocks, so a sequential pass costs few requests."""

    def __init__(self, file: RemoteFile) -> None:
        super().__init__()
        self._file = file
        self._position = 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._next_block = BLOCK_SIZE
        self._last_end = -1

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._file.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self._file.size - self._position)
        done = 0
        while done < wanted:
            start, block = self._block_at(self._position + done)
            offset = self._position + done - start
            piece = block[offset : offset + wanted - done]
            buffer[done : done + len(piece)] = piece
            done += len(piece)
        self._position += done
        return done

    def _block_at(self, position: int) -> tuple[int, bytes]:
        for start, block in self._blocks.items():
            if start <= position < start + len(block):
                self._blocks.move_to_end(start)
                return start, block
        size = self._next_block if position == self._last_end else BLOCK_SIZE
        end = min(position + size, self._file.size)
        block = self._file.fetch(position, end)
        if len(block) != end - position:
            raise VerificationError(
                f"{self._file.name}: the server returned {len(block):,} bytes for a range of {end - position:,}"
            )
        self._next_block = min(size * 2, MAX_BLOCK_SIZE)
        self._last_end = end
        self._blocks[position] = block
        if len(self._blocks) > CACHED_BLOCKS:
            self._blocks.popitem(last=False)
        return position, block


def read_whole(file: RemoteFile) -> bytes:
    """All of a file's bytes, checked against its published digest: a store that serves other bytes than it
    names is refused before anything is parsed."""
    data = file.fetch(0, file.size) if file.size else b""
    if len(data) != file.size:
        raise VerificationError(f"{file.name}: the server returned {len(data):,} bytes, the listing says {file.size:,}")
    if file.published is not None and not file.published.matches(data):
        raise file.published.mismatch(file.name)
    return data


@contextlib.contextmanager
def open_remote_file(file: RemoteFile) -> Iterator[IO[bytes]]:
    """The file as a seekable binary stream for the scanner."""
    if file.size <= WHOLE_READ_MAX:
        yield io.BytesIO(read_whole(file))
        return
    with io.BufferedReader(RangeReader(file), buffer_size=64 << 10) as stream:
        yield stream


class RemoteHasher:
    """A `Hasher` (see `oms.manifest`) over remote files: each range streamed once through the hash, with no
    temporary file, a few ranges at a time (the wait is the network's); under the files method with SHA-256, a
    digest the store vouches for stands in for the read."""

    def __init__(
        self,
        model: RemoteModel,
        hash_type: str,
        *,
        trust_published: bool,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self._files = {f.name: f for f in model.files}
        self._hash_type = hash_type
        self._trust_published = trust_published and hash_type == "sha256"
        self._progress = progress

    def hash_all(self, tasks: Sequence[HashTask]) -> list[str]:
        announce = getattr(self._progress, "set_total", None)  # a display that shows a total and an ETA
        if announce is not None:
            announce(sum(t.length for t in tasks if self._vouched(t) is None))
        with ThreadPoolExecutor(max_workers=STREAMS) as pool:
            return list(pool.map(self._hash, tasks))

    def _vouched(self, task: HashTask) -> str | None:
        """The digest the store vouches for, when it may stand for reading the bytes."""
        file = self._files[task.file.name]
        published = file.published
        if not (self._trust_published and published and published.vouched and published.algorithm == "sha256"):
            return None
        return published.hexdigest if task.start == 0 and task.end == file.size else None

    def _hash(self, task: HashTask) -> str:
        vouched = self._vouched(task)
        if vouched is not None:
            return vouched
        file = self._files[task.file.name]
        published = file.published
        whole = task.start == 0 and task.end == file.size
        hasher = new_hasher(self._hash_type, large_input=True)
        check = published.running(file.size) if whole and published is not None else None
        for start in range(task.start, task.end, HASH_CHUNK):
            end = min(start + HASH_CHUNK, task.end)
            chunk = file.fetch(start, end)
            if len(chunk) != end - start:
                raise VerificationError(f"{file.name}: the server returned {len(chunk):,} bytes for {end - start:,}")
            hasher.update(chunk)
            if check is not None:
                check.update(chunk)
            if self._progress is not None:
                self._progress(len(chunk))
        if check is not None and published is not None and check.hexdigest() != published.hexdigest:
            raise published.mismatch(file.name)
        return hasher.hexdigest()
