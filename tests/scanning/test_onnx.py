"""ONNX: external data that escapes the model directory, missing or short external files, custom domains;
every model in the onnx wheel's backend test data is clean."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelseal.scanning.findings import Severity, Status
from modelseal.scanning.scanner import scan_file

BACKEND_MODELS = sorted(Path(onnx.__file__).parent.joinpath("backend", "test", "data").rglob("*.onnx"))


def tiny_model(domain: str = "", external: dict[str, str] | None = None) -> onnx.ModelProto:
    weight = numpy_helper.from_array(np.ones((2, 2), dtype=np.float32), name="W")
    if external is not None:
        weight.ClearField("raw_data")
        weight.data_location = TensorProto.EXTERNAL
        for key, value in external.items():
            weight.external_data.add(key=key, value=value)
    node = helper.make_node("MatMul", ["X", "W"], ["Y"], domain=domain)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2, 2])],
        [weight],
    )
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return helper.make_model(graph, opset_imports=opsets)


def test_backend_test_models_are_there() -> None:
    assert len(BACKEND_MODELS) > 100


@pytest.mark.parametrize("path", BACKEND_MODELS, ids=lambda p: p.parent.name)
def test_models_shipped_in_the_onnx_wheel_are_clean(path: Path) -> None:
    result = scan_file(path)
    assert result.format == "onnx" and result.status is Status.SCANNED and not result.findings, result


def test_model_with_proper_external_data_is_clean(tmp_path: Path) -> None:
    model = tiny_model()
    onnx.save_model(
        model,
        str(tmp_path / "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    assert (tmp_path / "weights.bin").exists()
    result = scan_file(tmp_path / "model.onnx")
    assert result.format == "onnx" and not result.findings, result


@pytest.mark.parametrize("location", ["../../../etc/passwd", "/etc/passwd", "..\\..\\windows\\win.ini", "C:/x"])
def test_cve_2022_25882_external_data_escaping_the_directory(tmp_path: Path, location: str) -> None:
    onnx.save_model(tiny_model(external={"location": location}), str(tmp_path / "model.onnx"))
    result = scan_file(tmp_path / "model.onnx")
    assert "ONNX-EXTERNAL-PATH-ESCAPE" in {f.rule for f in result.findings}
    assert result.worst is Severity.HIGH


def test_cve_2024_27318_symlink_escape(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    os.symlink("/etc", tmp_path / "model" / "data")
    onnx.save_model(tiny_model(external={"location": "data/passwd"}), str(tmp_path / "model" / "model.onnx"))
    result = scan_file(tmp_path / "model" / "model.onnx")
    assert "ONNX-EXTERNAL-PATH-ESCAPE" in {f.rule for f in result.findings}


def test_missing_and_short_external_files(tmp_path: Path) -> None:
    onnx.save_model(tiny_model(external={"location": "gone.bin"}), str(tmp_path / "a.onnx"))
    (tmp_path / "short.bin").write_bytes(b"1234")
    onnx.save_model(
        tiny_model(external={"location": "short.bin", "offset": "0", "length": "16"}), str(tmp_path / "b.onnx")
    )
    assert {f.rule for f in scan_file(tmp_path / "a.onnx").findings} == {"ONNX-EXTERNAL-MISSING"}
    assert {f.rule for f in scan_file(tmp_path / "b.onnx").findings} == {"ONNX-EXTERNAL-SHORT"}


def test_custom_operator_domain(tmp_path: Path) -> None:
    onnx.save_model(tiny_model(domain="com.example.custom"), str(tmp_path / "custom.onnx"))
    result = scan_file(tmp_path / "custom.onnx")
    assert result.worst is Severity.MEDIUM and "ONNX-CUSTOM-DOMAIN" in {f.rule for f in result.findings}


def test_other_protobufs_are_not_called_onnx(tmp_path: Path) -> None:
    (tmp_path / "other.pb").write_bytes(b"\x08\x01\x12\x04\x0a\x02\x08\x01")
    result = scan_file(tmp_path / "other.pb")
    assert result.format == "protobuf" and result.status is Status.UNSUPPORTED


def test_model_exported_by_torch_onnx_is_clean(tmp_path: Path) -> None:
    import warnings

    import torch

    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter needs no onnxscript
        torch.onnx.export(model, (torch.randn(1, 4),), str(tmp_path / "model.onnx"), dynamo=False)
    result = scan_file(tmp_path / "model.onnx")
    assert result.format == "onnx" and result.status is Status.SCANNED and not result.findings, result


def test_external_data_in_a_loop_body_constant_and_a_sparse_initializer(tmp_path: Path) -> None:
    """A loader fills every external tensor, however deep: Constant values inside a subgraph, sparse initializers."""
    from onnx import TensorProto, helper

    def external(name: str, location: str) -> TensorProto:
        tensor = helper.make_tensor(name, TensorProto.FLOAT, [1], [0.0])
        tensor.ClearField("float_data")
        tensor.data_location = TensorProto.EXTERNAL
        tensor.external_data.add(key="location", value=location)
        return tensor

    constant = helper.make_node("Constant", [], ["c"], value=external("c", "/etc/passwd"))
    body = helper.make_graph([constant], "body", [], [helper.make_tensor_value_info("c", TensorProto.FLOAT, [1])])
    loop = helper.make_node("If", ["cond"], ["out"], then_branch=body, else_branch=body)
    sparse = helper.make_sparse_tensor(
        external("v", "../../outside.bin"), helper.make_tensor("i", TensorProto.INT64, [1], [0]), [4]
    )
    graph = helper.make_graph(
        [loop],
        "g",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1])],
        sparse_initializer=[sparse],
    )
    (tmp_path / "model.onnx").write_bytes(helper.make_model(graph).SerializeToString())
    messages = [f.message for f in scan_file(tmp_path / "model.onnx").findings if f.rule.startswith("ONNX-EXTERNAL")]
    assert any("/etc/passwd" in m for m in messages) and any("outside.bin" in m for m in messages)
