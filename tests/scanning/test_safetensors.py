"""safetensors: real files are clean; every way a header can lie is reported; hidden bytes are scanned."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file as save_torch

from modelseal.scanning.findings import Severity, Status
from modelseal.scanning.scanner import scan_file
from tests.conftest import FIXTURES
from tests.scanning.pickles import system

SAMPLES = FIXTURES / "peer-corpora" / "modelaudit" / "ma_samples" / "safetensors"


def build(header: dict[str, object], data: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def two_tensors(**overrides: object) -> dict[str, object]:
    header: dict[str, object] = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]},
    }
    header.update(overrides)
    return header


def test_files_written_by_the_safetensors_library_are_clean(tmp_path: Path) -> None:
    save_numpy({"w": np.ones((3, 4), dtype=np.float16), "b": np.arange(5, dtype=np.int64)}, str(tmp_path / "np.st"))
    save_torch(
        {"w": torch.randn(8, 8, dtype=torch.bfloat16), "m": torch.zeros(3, dtype=torch.bool)},
        str(tmp_path / "model.safetensors"),
        metadata={"format": "pt"},
    )
    for path in tmp_path.iterdir():
        result = scan_file(path)
        assert result.format == "safetensors" and result.status is Status.SCANNED and not result.findings, result


def test_modelaudit_metadata_samples_are_reported_below_high() -> None:
    assert not scan_file(SAMPLES / "safe_model.safetensors").findings
    for path in SAMPLES.glob("*.safetensors"):
        result = scan_file(path)
        assert result.worst is None or result.worst < Severity.HIGH
        if path.name != "safe_model.safetensors":
            assert result.findings, path.name


def test_prose_mentioning_import_is_not_code() -> None:
    result = scan_file(SAMPLES / "malicious_import.safetensors")
    assert {f.message.split("'")[1] for f in result.findings} == {"model_info"}


@pytest.mark.parametrize(
    ("header", "data", "message"),
    [
        (two_tensors(b={"dtype": "I64", "shape": [2], "data_offsets": [8, 16]}), bytes(16), "needs 16 bytes"),
        (two_tensors(b={"dtype": "Q99", "shape": [1], "data_offsets": [8, 16]}), bytes(16), "unknown dtype"),
        (two_tensors(b={"dtype": "I64", "shape": [1], "data_offsets": [8, 99]}), bytes(16), "outside"),
        (two_tensors(b={"dtype": "I64", "shape": [-1], "data_offsets": [8, 16]}), bytes(16), "invalid shape"),
    ],
)
def test_lying_headers_are_invalid(tmp_path: Path, header: dict[str, object], data: bytes, message: str) -> None:
    (tmp_path / "m.safetensors").write_bytes(build(header, data))
    result = scan_file(tmp_path / "m.safetensors")
    assert result.status is Status.INCOMPLETE
    assert any(f.rule == "SAFETENSORS-INVALID" and message in f.message for f in result.findings)


def test_overlapping_tensors(tmp_path: Path) -> None:
    header = two_tensors(b={"dtype": "I64", "shape": [1], "data_offsets": [0, 8]})
    (tmp_path / "m.safetensors").write_bytes(build(header, bytes(8)))
    assert "SAFETENSORS-OVERLAP" in {f.rule for f in scan_file(tmp_path / "m.safetensors").findings}


@pytest.mark.parametrize("where", ["gap", "trailing"])
def test_a_pickle_hidden_outside_the_tensors_is_found(tmp_path: Path, where: str) -> None:
    payload = system()
    if where == "gap":
        header = two_tensors(b={"dtype": "I64", "shape": [1], "data_offsets": [8 + len(payload), 16 + len(payload)]})
        data = bytes(8) + payload + bytes(8)
    else:
        header, data = two_tensors(), bytes(16) + payload
    (tmp_path / "m.safetensors").write_bytes(build(header, data))
    result = scan_file(tmp_path / "m.safetensors")
    assert any(f.target == "os.system" and f.severity is Severity.CRITICAL for f in result.findings)


def test_a_pickle_named_safetensors_is_scanned_as_a_pickle(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(system())
    result = scan_file(tmp_path / "model.safetensors")
    assert result.format == "pickle" and result.worst is Severity.CRITICAL


def test_header_length_beyond_the_file(tmp_path: Path) -> None:
    (tmp_path / "m.safetensors").write_bytes(struct.pack("<Q", 10**9) + b'{"a": 1}')
    assert scan_file(tmp_path / "m.safetensors").format != "safetensors"


def test_hydra_target_in_safetensors_metadata(tmp_path: Path) -> None:
    """Training frameworks keep their config as JSON in `__metadata__`; a `_target_` there is instantiated by
    whoever rebuilds the model from it (issue 11: config-driven calls)."""
    config = json.dumps({"model": {"_target_": "builtins.exec", "_args_": ["import os"]}})
    header = json.dumps(
        {"__metadata__": {"config": config}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    )
    raw = header.encode()
    (tmp_path / "model.safetensors").write_bytes(len(raw).to_bytes(8, "little") + raw + b"\0" * 4)
    result = scan_file(tmp_path / "model.safetensors")
    assert [(f.rule, f.severity) for f in result.findings if f.rule.startswith("CONFIG")] == [
        ("CONFIG-DANGEROUS-TARGET", Severity.CRITICAL)
    ]
