"""Pickle streams: every concatenated pickle through the symbolic interpreter, and the zip half of polyglots."""

from __future__ import annotations

from typing import IO

from modelseal.scanning.context import ScanContext, join
from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.pickle.interpreter import Interpreter
from modelseal.scanning.pickle.opcodes import OpcodeReader
from modelseal.scanning.pickle.vm import PickleMachine, ScanLimitError


class PickleScans(ScanContext):
    def _scan_pickle(self, handle: IO[bytes], size: int, member: str, depth: int, strict: bool = False) -> str:
        collected: list[Finding] = []

        def nested(data: bytes, label: str, offset: int) -> None:
            self.scan_bytes(data, join(member, label), depth + 1)

        machine = PickleMachine(self.options.policy, collected.append, nested, self.options.limits)
        interpreter = Interpreter(machine)
        reader = OpcodeReader(handle)
        count = 0
        try:
            while not reader.at_end():
                start = reader.position
                try:
                    interpreter.run(reader)
                    count += 1
                except ScanLimitError as exc:
                    self.gap(member, f"scan bound reached: {exc}")
                    break
                except Exception as exc:  # noqa: BLE001 - malformed input is reported, never trusted
                    if strict:  # not a pickle after all (raw tensor bytes): nothing it "contained" counts
                        collected.clear()
                        return "data"
                    if count == 0:
                        collected.append(
                            Finding(
                                "PICKLE-MALFORMED",
                                Severity.MEDIUM,
                                f"the pickle is malformed ({exc}); the unpickler stops there, after running what "
                                "came before",
                                offset=start,
                            )
                        )
                        self.gap(member, f"pickle could not be parsed to its end ({exc})")
                    else:
                        self.notes.append(
                            f"{member or 'file'}: {size - start:,} bytes after pickle {count} "
                            "are not a pickle (ignored by pickle.load)"
                        )
                    break
        finally:
            self.add_all(member, collected)
        if count > 1:
            self.notes.append(f"{member or 'file'}: {count} concatenated pickles, all scanned")
        self._polyglot_zip(handle, size, member, depth)
        return "pickle"

    def _polyglot_zip(self, handle: IO[bytes], size: int, member: str, depth: int) -> None:
        """A pickle with a zip appended is both: scan the zip half too."""
        handle.seek(max(0, size - 65558))
        if b"PK\x05\x06" in handle.read():
            self.add(member, Finding("POLYGLOT", Severity.MEDIUM, "the file is both a pickle and a zip archive"))
            self._scan_zip(handle, size, member, depth)
