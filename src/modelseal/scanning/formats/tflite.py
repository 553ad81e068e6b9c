"""TensorFlow Lite flatbuffers: the operator codes. Builtin operators are the runtime's own kernels; a custom
operator runs whatever kernel the application registers under its name, and Flex operators run full TensorFlow
kernels, some of which read and write files. The flatbuffer is walked with bounds checks on every offset
(no generated schema code: the four fields read here are stable since schema v3)."""

from __future__ import annotations

import struct
from typing import IO

from modelseal.scanning.context import ScanContext
from modelseal.scanning.findings import Finding, Severity
from modelseal.scanning.formats import savedmodel

MAX_TFLITE_HEADER_BYTES = 64 << 20  # operator codes sit near the start; buffers (weights) are never read
MAX_OPERATOR_CODES = 100_000
# TensorFlow kernels with effects outside the model, reachable through the Flex delegate: the ones a SavedModel
# graph is judged by, plus the dataset readers and writers a graph of a converted model could carry
FLEX_EFFECTS = (
    savedmodel.CRITICAL_OPS
    | savedmodel.FILE_OPS
    | savedmodel.SAVER_OPS
    | savedmodel.DEBUG_URL_OPS
    | frozenset(savedmodel.STREAM_OPS)
    | frozenset(
        {
            "DebugIdentityV3",
            "ShardedFilename",
            "TFRecordDataset",
            "FixedLengthRecordDataset",
            "TextLineDataset",
            "ExperimentalSaveDataset",
            "SaveDataset",
        }
    )
)


class TFLiteError(ValueError):
    """The flatbuffer does not hold what the TFLite loader would read."""


class _Flatbuffer:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def u32(self, position: int) -> int:
        if not 0 <= position <= len(self.data) - 4:
            raise TFLiteError(f"offset {position} outside the buffer")
        value: int = struct.unpack_from("<I", self.data, position)[0]
        return value

    def field(self, table: int, index: int) -> int | None:
        """The absolute position of field `index` of the table at `table`, or None when absent."""
        vtable = table - struct.unpack_from("<i", self.data, table)[0] if 0 <= table <= len(self.data) - 4 else -1
        if not 0 <= vtable <= len(self.data) - 4:
            raise TFLiteError("vtable outside the buffer")
        vtable_size = struct.unpack_from("<H", self.data, vtable)[0]
        slot = 4 + 2 * index
        if slot + 2 > vtable_size or vtable + slot + 2 > len(self.data):
            return None
        offset = struct.unpack_from("<H", self.data, vtable + slot)[0]
        return table + offset if offset else None

    def indirect(self, position: int) -> int:
        return position + self.u32(position)

    def vector(self, position: int) -> list[int]:
        start = self.indirect(position)
        count = self.u32(start)
        if count > MAX_OPERATOR_CODES or start + 4 + 4 * count > len(self.data):
            raise TFLiteError("vector longer than the buffer")
        return [self.indirect(start + 4 + 4 * i) for i in range(count)]

    def string(self, position: int) -> str:
        start = self.indirect(position)
        length = self.u32(start)
        if start + 4 + length > len(self.data):
            raise TFLiteError("string longer than the buffer")
        return self.data[start + 4 : start + 4 + length].decode("utf-8", "replace")


def custom_operators(data: bytes) -> list[str]:
    """The names of the custom operators a TFLite model uses."""
    buffer = _Flatbuffer(data)
    model = buffer.indirect(0)
    codes = buffer.field(model, 1)  # Model.operator_codes
    names = []
    for code in buffer.vector(codes) if codes is not None else []:
        custom = buffer.field(code, 1)  # OperatorCode.custom_code
        if custom is not None:
            names.append(buffer.string(custom))
    return names


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    data = stream.read(min(size, MAX_TFLITE_HEADER_BYTES))
    try:
        names = custom_operators(data)
    except (TFLiteError, struct.error) as exc:
        ctx.gap(member, f"TFLite flatbuffer could not be read ({exc})")
        return "tflite"
    for name in sorted(set(names)):
        flex = name.removeprefix("Flex")
        if name.startswith("Flex") and flex in FLEX_EFFECTS:
            finding = Finding(
                "TFLITE-FLEX-EFFECT",
                Severity.HIGH,
                f"uses the TensorFlow kernel {flex} through the Flex delegate: it touches files or runs Python",
                target=name,
            )
        else:
            finding = Finding(
                "TFLITE-CUSTOM-OP",
                Severity.MEDIUM,
                f"uses the custom operator {name}: the interpreter runs whatever kernel the application registers "
                "under that name",
                target=name,
            )
        ctx.add(member, finding)
    return "tflite"
