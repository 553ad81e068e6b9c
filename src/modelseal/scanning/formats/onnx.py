"""ONNX: parse the protobuf (ONNX graphs hold no code) without loading external data, then check what a loader
would touch: external-data files must stay inside the model directory (CVE-2022-25882, CVE-2024-27318), exist,
and hold the bytes they promise; custom operator domains need a native library someone must load."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelseal.scanning.findings import Finding, Severity

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training"})


class OnnxError(Exception):
    """The bytes are not an ONNX model."""


def parse(data: bytes) -> Any:
    """The ModelProto, or OnnxError: protobuf parses many byte strings, so demand a graph with content."""
    import onnx
    from google.protobuf.message import DecodeError

    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise OnnxError(str(exc)) from exc
    if not model.HasField("graph") or not (model.graph.node or model.graph.initializer) or model.ir_version <= 0:
        raise OnnxError("no graph")
    return model


def _graphs(graph: Any) -> Iterator[Any]:
    """The graph and every subgraph held in node attributes (If, Loop, Scan bodies)."""
    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("g"):
                yield from _graphs(attribute.g)
            for sub in attribute.graphs:
                yield from _graphs(sub)


def _external(tensor: Any) -> dict[str, str]:
    return {entry.key: entry.value for entry in tensor.external_data}


def _check_location(name: str, info: dict[str, str], base: Path | None) -> Finding | None:
    location = info.get("location", "")
    if not location:
        return Finding("ONNX-EXTERNAL-DATA", Severity.MEDIUM, f"tensor {name!r} has external data without a location")
    portable = location.replace("\\", "/")  # a Windows loader splits on backslashes too
    if os.path.isabs(portable) or portable.startswith("/") or ".." in portable.split("/") or ":" in portable:
        return Finding(
            "ONNX-EXTERNAL-PATH-ESCAPE",
            Severity.HIGH,
            f"tensor {name!r} reads external data from {location!r}, outside the model directory "
            "(CVE-2022-25882, CVE-2024-27318)",
        )
    if base is None:
        return None
    target = base / location
    try:
        resolved = target.resolve(strict=False)
    except OSError:
        resolved = target
    if os.path.commonpath([str(resolved), str(base.resolve())]) != str(base.resolve()):
        return Finding(
            "ONNX-EXTERNAL-PATH-ESCAPE",
            Severity.HIGH,
            f"tensor {name!r} reads {location!r}, which resolves outside the model directory",
        )
    if not target.is_file():
        return Finding(
            "ONNX-EXTERNAL-MISSING", Severity.MEDIUM, f"tensor {name!r} needs {location!r}, which is missing"
        )
    end = int(info.get("offset", "0") or 0) + int(info.get("length", "0") or 0)
    if end > target.stat().st_size:
        return Finding(
            "ONNX-EXTERNAL-SHORT",
            Severity.MEDIUM,
            f"tensor {name!r} needs bytes up to {end:,} of {location!r}, which is shorter",
        )
    return None


def _tensors(graph: Any) -> Iterator[Any]:
    """Every tensor a loader may fill from external data: initializers (dense and sparse) and tensors held in node
    attributes (Constant's value, tensor lists), in this graph; subgraphs come from `_graphs`."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            if attribute.HasField("sparse_tensor"):
                yield from (attribute.sparse_tensor.values, attribute.sparse_tensor.indices)
            yield from attribute.tensors


def check(data: bytes, base: Path | None) -> list[Finding]:
    """Findings for a parsed model; `base` is the model's directory (None inside archives)."""
    model = parse(data)
    findings: list[Finding] = []
    for opset in model.opset_import:
        if opset.domain not in STANDARD_DOMAINS:
            findings.append(
                Finding(
                    "ONNX-CUSTOM-DOMAIN",
                    Severity.MEDIUM,
                    f"imports operator domain {opset.domain!r}: running it needs a custom native library",
                )
            )
    for graph in _graphs(model.graph):
        for tensor in _tensors(graph):
            if tensor.data_location == tensor.EXTERNAL:
                problem = _check_location(tensor.name, _external(tensor), base)
                if problem is not None:
                    findings.append(problem)
        domains = {node.domain for node in graph.node} - STANDARD_DOMAINS - {o.domain for o in model.opset_import}
        for domain in sorted(domains):
            findings.append(Finding("ONNX-CUSTOM-DOMAIN", Severity.MEDIUM, f"nodes use operator domain {domain!r}"))
    return findings
