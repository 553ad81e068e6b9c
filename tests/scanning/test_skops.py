"""skops archives: a real sklearn pipeline from skops is clean; denied types and functions are found."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelseal.scanning.findings import Severity
from modelseal.scanning.scanner import scan_file
from tests.conftest import FIXTURES


def test_real_skops_pipeline_is_clean(tmp_path: Path) -> None:
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(np.random.rand(20, 3), np.arange(20) % 2)
    sio.dump(model, tmp_path / "model.skops")
    result = scan_file(tmp_path / "model.skops")
    assert result.format == "skops" and not result.findings, result


def skops_archive(schema: dict[str, object]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    return buffer.getvalue()


def test_function_node_calling_a_denied_function(tmp_path: Path) -> None:
    schema = {
        "__class__": "dict",
        "__module__": "builtins",
        "__loader__": "DictNode",
        "content": {
            "f": {
                "__class__": "function",
                "__module__": "os",
                "__loader__": "FunctionNode",
                "content": {"module_path": "os", "function": "system"},
            }
        },
    }
    (tmp_path / "evil.skops").write_bytes(skops_archive(schema))
    result = scan_file(tmp_path / "evil.skops")
    assert any(f.target == "os.system" and f.severity is Severity.CRITICAL for f in result.findings)


def test_modelaudit_sample_with_a_main_module_class() -> None:
    """labels.json calls it malicious; it holds a user class from __main__ that skops would ask to trust."""
    result = scan_file(FIXTURES / "peer-corpora" / "modelaudit" / "ma_samples" / "pipeline.skops")
    assert result.format == "skops"
    assert {f.target for f in result.findings} == {"__main__.DivideColumns"}
    assert result.worst is Severity.MEDIUM
