"""Protobuf files: an ONNX model if it parses as one with a graph, else a TensorFlow SavedModel if it has a meta
graph, else TF-Keras' `keras_metadata.pb` by name; any other protobuf is data."""

from __future__ import annotations

from typing import IO

from modelseal.scanning.context import ScanContext
from modelseal.scanning.findings import Finding, Severity

MAX_PROTOBUF_BYTES = 2 << 30  # protobuf's own message limit


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    from modelseal.scanning.formats import onnx, savedmodel

    if size > MAX_PROTOBUF_BYTES:
        ctx.gap(member, "protobuf larger than protobuf's own 2 GiB limit")
        return "protobuf"
    data = stream.read()
    name = ctx.display_name(member)
    if name.endswith("keras_metadata.pb"):
        from modelseal.scanning.formats.keras import scan_keras_metadata

        return scan_keras_metadata(ctx, data, member, depth)
    try:
        ctx.add_all(member, onnx.check(data, ctx.directory(member)))
        return "onnx"
    except onnx.OnnxError:
        pass
    try:
        ctx.add_all(member, savedmodel.check(data))
        return "tf-savedmodel"
    except savedmodel.SavedModelError as exc:
        if name.endswith("saved_model.pb"):
            ctx.gap(member, f"SavedModel could not be read ({exc})")
            return "protobuf"
    label = _named_protobuf(ctx, data, name, member)
    if label is None and not member:
        ctx.data_only = True  # a protobuf of no model format: data
    return label or "protobuf"


def _named_protobuf(ctx: ScanContext, data: bytes, name: str, member: str) -> str | None:
    """Protobuf model formats known by their file names: Core ML (`.mlmodel`: layer specs; a custom layer names a
    native class the app must ship) and PaddlePaddle programs (`.pdmodel`: op descriptions; `py_func` ops call
    Python functions registered in the loading process)."""
    if name.endswith(".mlmodel"):
        return "coreml"
    if name.endswith(".pdmodel"):
        if b"\x07py_func" in data:  # an OpDesc type string: length 7, "py_func"
            ctx.add(
                member,
                Finding(
                    "PADDLE-PY-FUNC",
                    Severity.MEDIUM,
                    "the program holds a py_func op: it calls a Python function registered by the loading process",
                ),
            )
        return "paddle-program"
    return None
