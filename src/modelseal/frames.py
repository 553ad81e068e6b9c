"""Length-prefixed pickles over the pipes between modelseal and the helper processes it starts (hashing helpers,
scanner workers): both ends are modelseal's own code. A helper that parses hostile bytes (a scanner worker) only
receives frames and answers in JSON, so nothing it could be made to say is ever unpickled."""

from __future__ import annotations

import pickle
import subprocess
from typing import IO, Any


def send(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(8, "little") + data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next frame; EOFError when the pipe closes (cleanly or mid-frame)."""
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError
    size = int.from_bytes(header, "little")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Close a helper's input and let it finish; one that does not within 10 s is killed."""
    if process.stdin is not None and not process.stdin.closed:
        process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
