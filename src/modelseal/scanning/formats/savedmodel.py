"""TensorFlow SavedModel (`saved_model.pb`) without TensorFlow: a bounded walk of the protobuf wire format
along the few fields that hold operations (meta graphs, graphs, function library, node ops and attributes), the
same paths TensorFlow takes when it loads the graph. Ops that run Python or touch files are reported; the saver
ops are normal inside the saver subgraph and save/restore functions, and only reported elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from modelseal.scanning.findings import Finding, Severity

CRITICAL_OPS = frozenset({"PyFunc", "EagerPyFunc", "PyFuncStateless"})
FILE_OPS = frozenset(
    {"ReadFile", "WriteFile", "MatchingFiles", "WholeFileReader", "WholeFileReaderV2", "LoadLibrary", "ImmutableConst"}
)
# ops that write wherever a string attribute says: a file stream for PrintV2, file:// or grpc:// debug URLs
STREAM_OPS = {"PrintV2": "output_stream"}
DEBUG_URL_OPS = frozenset({"DebugIdentity", "DebugIdentityV2", "DebugNanCount", "DebugNumericSummary"})
CONSOLE_STREAMS = frozenset({"stdout", "stderr", "log(info)", "log(warning)", "log(error)", ""})
SAVER_OPS = frozenset({"Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2", "RestoreSlice", "MergeV2Checkpoints"})
MAX_DEPTH = 32


class SavedModelError(Exception):
    """The bytes are not a SavedModel this walker can read."""


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    where: str
    strings: tuple[tuple[str, str], ...] = ()  # (attribute, value) for string and list-of-string attributes


def read_varint(data: memoryview | bytes, index: int) -> tuple[int, int]:
    """A protobuf varint at `index`: (value, index after it); SavedModelError when truncated or oversized."""
    result = shift = 0
    while True:
        if index >= len(data) or shift > 63:
            raise SavedModelError("truncated or oversized varint")
        byte = data[index]
        result |= (byte & 0x7F) << shift
        index += 1
        if not byte & 0x80:
            return result, index
        shift += 7


def fields(data: memoryview) -> Iterator[tuple[int, int, memoryview | int]]:
    """(field number, wire type, value) for one message; length-delimited values are zero-copy views."""
    index = 0
    while index < len(data):
        key, index = read_varint(data, index)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, index = read_varint(data, index)
            yield number, wire, value
        elif wire == 2:
            length, index = read_varint(data, index)
            if index + length > len(data):
                raise SavedModelError(f"field {number} claims {length:,} bytes beyond its message")
            yield number, wire, data[index : index + length]
            index += length
        elif wire in (1, 5):
            index += 8 if wire == 1 else 4
            if index > len(data):
                raise SavedModelError("truncated fixed-size field")
        else:
            raise SavedModelError(f"wire type {wire} in field {number}")


def _messages(data: memoryview, number: int) -> Iterator[memoryview]:
    for field, wire, value in fields(data):
        if field == number and wire == 2 and isinstance(value, memoryview):
            yield value


def _text(data: memoryview, number: int) -> str:
    return next((bytes(v).decode("utf-8", "replace") for v in _messages(data, number)), "")


def _nodes_of_graph(graph: memoryview, where: str, depth: int) -> Iterator[Node]:
    if depth > MAX_DEPTH:
        raise SavedModelError("graphs nested deeper than the scan bound")
    for node in _messages(graph, 1):  # GraphDef.node
        yield from _node(node, where, depth)
    for library in _messages(graph, 2):  # GraphDef.library
        for function in _messages(library, 1):  # FunctionDefLibrary.function
            name = next((_text(sig, 1) for sig in _messages(function, 1)), "?")  # FunctionDef.signature.name
            for node in _messages(function, 3):  # FunctionDef.node_def
                yield from _node(node, f"function {name}", depth)


def _node(node: memoryview, where: str, depth: int) -> Iterator[Node]:
    """The node, then any graph serialised in its string tensors; its attributes are walked once."""
    strings: list[tuple[str, str]] = []
    tensor_strings: list[memoryview] = []
    for entry in _messages(node, 5):  # NodeDef.attr: map entries {1: key, 2: AttrValue}
        key = _text(entry, 1)
        for value in _messages(entry, 2):
            strings.extend((key, bytes(v).decode("utf-8", "replace")) for v in _messages(value, 2))  # AttrValue.s
            for listed in _messages(value, 1):  # AttrValue.list
                strings.extend((key, bytes(v).decode("utf-8", "replace")) for v in _messages(listed, 2))
            for tensor in _messages(value, 8):  # AttrValue.tensor
                tensor_strings.extend(_messages(tensor, 8))  # TensorProto.string_val: may hold a serialised graph
    name = _text(node, 1)
    yield Node(name, _text(node, 2), where, tuple(strings))
    for string in tensor_strings:
        yield from _embedded_graph(string, f"{where} > string tensor in {name!r}", depth + 1)


def _embedded_graph(data: memoryview, where: str, depth: int) -> Iterator[Node]:
    try:
        nodes = list(_nodes_of_graph(data, where, depth))
    except SavedModelError:
        return
    if nodes and all(n.op[:1].isupper() and n.op.isalnum() for n in nodes):
        yield from nodes


def _in_saver(node: Node) -> bool:
    return node.name.startswith(("save/", "save_", "saver")) or any(
        word in node.where for word in ("save", "restore", "Save", "Restore")
    )


def _writes_outside(node: Node) -> str | None:
    """Where a printing or debugging op writes, when that is a file or a URL rather than the console."""
    if node.op in STREAM_OPS:
        return next((v for k, v in node.strings if k == STREAM_OPS[node.op] and v not in CONSOLE_STREAMS), None)
    if node.op in DEBUG_URL_OPS:
        return next((v for k, v in node.strings if k == "debug_urls" and "://" in v), None)
    return None


def check(data: bytes) -> list[Finding]:
    """Findings for a serialised SavedModel; SavedModelError when it has no meta graph to read."""
    view = memoryview(data)
    graphs = [graph for meta in _messages(view, 2) for graph in _messages(meta, 2)]  # meta_graphs[].graph_def
    if not graphs:
        raise SavedModelError("no meta graph with a graph")
    findings = []
    for index, graph in enumerate(graphs):
        for node in _nodes_of_graph(graph, f"meta graph {index}", 0):
            if node.op in CRITICAL_OPS:
                findings.append(
                    Finding(
                        "TF-PYFUNC",
                        Severity.CRITICAL,
                        f"{node.where}: node {node.name!r} is {node.op}, which calls Python code",
                    )
                )
            elif node.op in FILE_OPS:
                findings.append(
                    Finding(
                        "TF-FILE-OP",
                        Severity.HIGH,
                        f"{node.where}: node {node.name!r} is {node.op}, which reads or writes files",
                    )
                )
            elif destination := _writes_outside(node):
                findings.append(
                    Finding(
                        "TF-FILE-OP",
                        Severity.HIGH,
                        f"{node.where}: node {node.name!r} is {node.op}, writing to {destination!r}",
                    )
                )
            elif node.op in SAVER_OPS and not _in_saver(node):
                findings.append(
                    Finding(
                        "TF-SAVER-OP",
                        Severity.HIGH,
                        f"{node.where}: node {node.name!r} is {node.op} outside the saver subgraph",
                    )
                )
    return findings


def keras_metadata(data: bytes) -> list[object]:
    """The Keras configs in `keras_metadata.pb` (SavedMetadata.nodes[].metadata, each a JSON string)."""
    import json

    configs: list[object] = []
    for saved_object in _messages(memoryview(data), 1):
        for metadata in _messages(saved_object, 5):
            try:
                configs.append(json.loads(bytes(metadata).decode("utf-8")))
            except (UnicodeDecodeError, ValueError) as exc:
                raise SavedModelError(f"Keras metadata that is not JSON ({exc})") from exc
    if not configs:
        raise SavedModelError("no Keras metadata")
    return configs
