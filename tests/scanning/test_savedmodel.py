"""TensorFlow SavedModel without TensorFlow: graphs built from raw protobuf bytes, as an attacker would."""

from __future__ import annotations

from pathlib import Path

from modelseal.scanning.findings import Severity, Status
from modelseal.scanning.scanner import scan_file
from tests.conftest import FIXTURES

SAMPLES = FIXTURES / "peer-corpora" / "modelaudit" / "ma_samples" / "tensorflow"


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def node(name: str, op: str, attrs: bytes = b"") -> bytes:
    return field(1, name) + field(2, op) + attrs


def string_tensor_attr(key: str, value: bytes) -> bytes:
    tensor = varint(1 << 3) + varint(7) + field(8, value)  # dtype DT_STRING, string_val
    return field(5, field(1, key) + field(2, field(8, tensor)))


def function(name: str, *nodes: bytes) -> bytes:
    return field(1, field(1, name)) + b"".join(field(3, n) for n in nodes)


def graph(*nodes: bytes, functions: tuple[bytes, ...] = ()) -> bytes:
    library = field(2, b"".join(field(1, f) for f in functions)) if functions else b""
    return b"".join(field(1, n) for n in nodes) + library


def saved_model(graph_def: bytes) -> bytes:
    return varint(1 << 3) + varint(1) + field(2, field(2, graph_def))


def scan_model(tmp_path: Path, data: bytes) -> object:
    (tmp_path / "saved_model.pb").write_bytes(data)
    return scan_file(tmp_path / "saved_model.pb")


def test_ordinary_graph_with_its_saver_is_clean(tmp_path: Path) -> None:
    data = saved_model(
        graph(
            node("x", "Placeholder"),
            node("w", "Const"),
            node("y", "MatMul"),
            node("save/SaveV2", "SaveV2"),
            node("save/RestoreV2", "RestoreV2"),
            functions=(
                function(
                    "__inference__traced_save_42",
                    node("SaveV2", "SaveV2"),
                    node("MergeV2Checkpoints", "MergeV2Checkpoints"),
                ),
                function("__inference__traced_restore_43", node("RestoreV2", "RestoreV2")),
            ),
        )
    )
    result = scan_model(tmp_path, data)
    assert result.format == "tf-savedmodel" and result.status is Status.SCANNED and not result.findings, result


def test_pyfunc_is_critical(tmp_path: Path) -> None:
    result = scan_model(tmp_path, saved_model(graph(node("x", "Placeholder"), node("bad", "PyFunc"))))
    assert result.worst is Severity.CRITICAL


def test_file_ops_in_the_function_library(tmp_path: Path) -> None:
    data = saved_model(graph(node("x", "Const"), functions=(function("__inference_call_7", node("r", "ReadFile")),)))
    finding = scan_model(tmp_path, data).findings[0]
    assert finding.rule == "TF-FILE-OP" and "function __inference_call_7" in finding.message


def test_saver_ops_outside_the_saver_are_reported(tmp_path: Path) -> None:
    result = scan_model(tmp_path, saved_model(graph(node("exfiltrate", "SaveV2"))))
    assert {f.rule for f in result.findings} == {"TF-SAVER-OP"}


def test_graph_hidden_in_a_string_tensor(tmp_path: Path) -> None:
    hidden = graph(node("inner", "EagerPyFunc"))
    result = scan_model(tmp_path, saved_model(graph(node("c", "Const", string_tensor_attr("value", hidden)))))
    assert result.worst is Severity.CRITICAL and "string tensor" in result.findings[0].message


def test_truncated_savedmodel_is_incomplete(tmp_path: Path) -> None:
    data = saved_model(graph(node("x", "PyFunc")))
    result = scan_model(tmp_path, data[:-3])
    assert result.status is Status.INCOMPLETE


def test_modelaudit_samples() -> None:
    assert scan_file(SAMPLES / "malicious_pyfunc" / "saved_model.pb").worst is Severity.CRITICAL
    # labelled "malicious" in labels.json, but it is the benign control: one Const node
    assert not scan_file(SAMPLES / "safe_savedmodel" / "saved_model.pb").findings


def test_keras_metadata_lambda(tmp_path: Path) -> None:
    """TF-Keras SavedModels carry layer configs as JSON in keras_metadata.pb."""
    import json

    layer = {"class_name": "Lambda", "config": {"function": "lambda x: __import__('os').system('id')"}}
    dense = {"class_name": "Dense", "config": {"units": 2}}
    data = b"".join(field(1, field(5, json.dumps(c))) for c in (dense, layer))
    (tmp_path / "keras_metadata.pb").write_bytes(data)
    result = scan_file(tmp_path / "keras_metadata.pb")
    assert result.format == "keras-metadata" and result.worst is Severity.CRITICAL


def string_attr(key: str, value: str) -> bytes:
    return field(5, field(1, key) + field(2, field(2, value)))


def string_list_attr(key: str, *values: str) -> bytes:
    return field(5, field(1, key) + field(2, field(1, b"".join(field(2, v) for v in values))))


def test_print_v2_to_a_file_stream_in_the_function_library(tmp_path: Path) -> None:
    """tf.print(output_stream="file:///...") writes wherever the graph says, each time the function runs."""
    printer = node("p", "PrintV2", string_attr("output_stream", "file:///home/user/.bashrc"))
    console = node("q", "PrintV2", string_attr("output_stream", "stderr"))
    result = scan_model(tmp_path, saved_model(graph(console, functions=(function("__inference_call_7", printer),))))
    assert [(f.rule, f.severity) for f in result.findings] == [("TF-FILE-OP", Severity.HIGH)]  # type: ignore[attr-defined]


def test_debug_identity_with_a_file_url(tmp_path: Path) -> None:
    debug = node("d", "DebugIdentityV2", string_list_attr("debug_urls", "file:///tmp/dump"))
    result = scan_model(tmp_path, saved_model(graph(debug)))
    assert [f.rule for f in result.findings] == ["TF-FILE-OP"]  # type: ignore[attr-defined]
