"""Hash batches of small files in helper processes.

Hashing a 4 KiB file costs more Python than hashing, so threads serialise on the GIL; datasets of millions of
small files need processes. Helpers are plain `python -c` children speaking
length-prefixed pickles over their stdin/stdout: unlike multiprocessing they never re-import the caller's
`__main__` and never fork a threaded process. Only this module's parent writes to a helper, so the pickles it
reads are its own.
"""

from __future__ import annotations

import subprocess
import sys
from typing import IO

from modelseal import frames
from modelseal.errors import FileChangedError, InputError, ModelsealError, UnreadableFileError
from modelseal.hashing.reader import HashTask, hash_range
from modelseal.tree import FileIdentity, ModelFile

_ENTRY = "import sys; from modelseal.hashing.worker import serve; serve(sys.stdin.buffer, sys.stdout.buffer)"
_ERRORS: dict[str, type[ModelsealError]] = {
    "FileChangedError": FileChangedError,
    "InputError": InputError,
    "UnreadableFileError": UnreadableFileError,
}


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """Answer batches until the parent closes the pipe."""
    while True:
        try:
            hash_type, batch = frames.receive(requests)
        except EOFError:
            return
        try:
            digests = [
                hash_range(HashTask(ModelFile(name, path, FileIdentity(*identity)), start, end), hash_type)
                for name, path, identity, start, end in batch
            ]
        except ModelsealError as exc:
            frames.send(replies, ("error", type(exc).__name__, exc.message, exc.details))
            continue
        frames.send(replies, ("ok", digests))


class HelperProcess:
    """One helper process and its pipes; `hash_batch` is a blocking round trip."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", _ENTRY], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def hash_batch(self, hash_type: str, tasks: list[HashTask]) -> list[str]:
        assert self.process.stdin is not None and self.process.stdout is not None
        batch = [(t.file.name, t.file.path, tuple(t.file.identity), t.start, t.end) for t in tasks]
        try:
            frames.send(self.process.stdin, (hash_type, batch))
            reply = frames.receive(self.process.stdout)
        except (EOFError, BrokenPipeError) as exc:
            raise InputError("a hashing helper process died unexpectedly") from exc
        if reply[0] == "ok":
            digests: list[str] = reply[1]
            return digests
        _, kind, message, details = reply
        raise _ERRORS.get(kind, InputError)(message, details=tuple(details))

    def close(self) -> None:
        frames.stop(self.process)
