"""Pickle streams: every concatenated pickle through the emulator, until the unpickler would stop.

A stream reaches here whenever its first byte is a pickle opcode, PROTO or not. If the emulation breaks before the
unpickler would have imported anything, nothing in it runs: without a PROTO header that is data (a README that
starts with a letter), with one it is a corrupt pickle, which is reported and left inconclusive, unless the break is
the byte right after PROTO, and that byte is no opcode at all (raw weights that start `80 02 6d`: the unpickler's own
table refuses it before anything is built).
"""

from __future__ import annotations

from typing import IO

from modelseal.scanning.context import ScanContext, join
from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.network import find_network_indicators
from modelseal.scanning.pickle.interpreter import Interpreter
from modelseal.scanning.pickle.judge import PickleJudge
from modelseal.scanning.pickle.opcodes import MalformedPickleError, OpcodeReader, UnknownOpcodeError
from modelseal.scanning.secrets import find_secrets
from modelseal.scanning.streams import window

SOURCE_TEXT_MIN = 1024  # a string this long is source code or documentation (torch's legacy format keeps both)


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    """The pickles, then their string literals as the unpickler decodes them: credentials pickled with an object,
    and the addresses in short strings (a long one is source or prose, full of links)."""
    texts: list[str] = []
    label = scan_pickles(ctx, stream, size, member, depth, raw_storage=False, texts=texts)
    if texts:
        ctx.add_all(member, find_secrets("\n".join(texts), "pickle's strings"))
        short = "\n".join(t for t in texts if len(t) < SOURCE_TEXT_MIN)
        ctx.add_all(member, find_network_indicators(short, "pickle's strings"))
    return label


def scan_pickles(
    ctx: ScanContext,
    stream: IO[bytes],
    size: int,
    member: str,
    depth: int,
    raw_storage: bool,
    texts: list[str] | None = None,
) -> str:
    """Scan the stream as pickles. `raw_storage`: the bytes are tensor data that no loader unpickles (a torch zip
    storage), so only a complete pickle hidden there counts. `texts` collects the string literals."""
    collected: list[Finding] = []
    stream.seek(0)
    magic = stream.read(2)
    stream.seek(0)
    headed = len(magic) == 2 and magic[0] == 0x80 and magic[1] <= 5

    def nested(data: bytes, label: str, offset: int) -> None:
        if ctx.first_sight(data):  # a payload repeated a thousand times is judged once
            ctx.scan_bytes(data, join(member, label), depth + 1)

    def region(offset: int, length: int, label: str) -> None:
        with window(stream, offset, length) as part:
            ctx.scan(part, length, join(member, label), depth + 1)

    judge = PickleJudge(ctx.policy, collected.append, nested, ctx.budget, region, texts)
    interpreter = Interpreter(judge)
    reader = OpcodeReader(stream)
    count, not_pickle = 0, False
    try:
        while not reader.at_end():
            start = reader.position
            try:
                interpreter.run(reader)
                count += 1
            except MalformedPickleError as exc:
                nothing_ran = count == 0 and judge.imports == 0
                refused_at_once = isinstance(exc, UnknownOpcodeError) and exc.position == 2  # right after PROTO
                if raw_storage or (nothing_ran and (not headed or refused_at_once)):
                    not_pickle = True  # the unpickler would run nothing from these bytes
                elif count == 0:
                    collected.append(
                        Finding(
                            "PICKLE-MALFORMED",
                            Severity.MEDIUM,
                            f"the pickle is malformed ({exc}); the unpickler stops there, after running what "
                            "came before",
                            offset=start,
                        )
                    )
                    ctx.gap(member, f"pickle could not be parsed to its end ({exc})")
                else:
                    ctx.note(
                        member or "file", f"{size - start:,} bytes after pickle {count} are not a pickle (ignored)"
                    )
                break
    finally:
        if not not_pickle:
            ctx.add_all(member, collected)
    if not_pickle:
        from modelseal.scanning.formats import data

        return "data" if raw_storage else data.scan(ctx, stream, size, member, depth) or "data"
    if count > 1:
        ctx.note(member or "file", f"{count} concatenated pickles, all scanned")
    _polyglots(ctx, stream, size, member, depth)
    return "pickle"


def _polyglots(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> None:
    """A pickle whose bytes another loader also reads (a zip appended, an HDF5 superblock after a pickle used as
    its user block) is both: the other half is scanned too."""
    from modelseal.scanning.formats.data import other_readings

    for fmt in other_readings(stream, size):
        ctx.add(member, Finding("POLYGLOT", Severity.MEDIUM, f"the file is both a pickle and {fmt.value} data"))
        ctx.scan_as(fmt, stream, size, member, depth)
