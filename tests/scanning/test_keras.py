"""Keras v3 `.keras` and legacy H5: real models from Keras (torch backend) are clean; Lambda layers, foreign modules
and dangerous functions are found wherever they sit in the config tree."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import pytest

from modelseal.scanning.findings import FileResult, Severity, Status
from modelseal.scanning.scanner import scan_file
from tests.conftest import FIXTURES

KERAS_SAMPLES = FIXTURES / "peer-corpora" / "modelaudit" / "ma_samples" / "keras"


@keras.saving.register_keras_serializable(package="modelseal_tests")
class Scale(keras.layers.Layer):
    def __init__(self, factor: float = 2.0, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs: object) -> object:
        return inputs * self.factor  # type: ignore[operator]

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="modelseal_tests")
class TwoTower(keras.Model):
    """A subclassed model built from a registered custom layer."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.scale = Scale(0.5)
        self.head = keras.layers.Dense(1)

    def call(self, inputs: object) -> object:
        return self.head(self.scale(inputs))


def subclassed() -> keras.Model:
    model = TwoTower()
    model(keras.ops.ones((1, 4)))
    return model


def sequential() -> keras.Model:
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])


def functional_shared() -> keras.Model:
    left, right = keras.Input((4,)), keras.Input((4,))
    shared = keras.layers.Dense(3)
    merged = keras.layers.Concatenate()([shared(left), shared(right)])
    return keras.Model([left, right], keras.layers.Dense(1)(merged))


def with_custom_layer() -> keras.Model:
    return keras.Sequential([keras.Input((4,)), Scale(3.0), keras.layers.Dense(1)])


def significant(result: FileResult) -> list[str]:
    return [f.rule for f in result.findings if f.severity > Severity.INFO]


@pytest.mark.parametrize(
    "build", [sequential, functional_shared, with_custom_layer, subclassed], ids=lambda f: f.__name__
)
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_real_keras_models_are_clean(tmp_path: Path, build: object, suffix: str) -> None:
    path = tmp_path / f"model{suffix}"
    build().save(path)  # type: ignore[operator]
    result = scan_file(path)
    assert result.format in ("keras", "keras-h5") and result.status is Status.SCANNED, result
    assert significant(result) == [], result


def test_weights_only_h5_is_clean(tmp_path: Path) -> None:
    sequential().save_weights(tmp_path / "model.weights.h5")
    result = scan_file(tmp_path / "model.weights.h5")
    assert result.format == "hdf5" and result.status is Status.SCANNED and not result.findings


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_cve_2024_3660_lambda_with_a_command(tmp_path: Path, suffix: str) -> None:
    evil = keras.Sequential(
        [keras.Input((4,)), keras.layers.Lambda(lambda x: __import__("os").system("touch /tmp/never") or x)]
    )
    evil.save(tmp_path / f"evil{suffix}")
    result = scan_file(tmp_path / f"evil{suffix}")
    finding = next(f for f in result.findings if f.rule == "KERAS-LAMBDA")
    assert finding.severity is Severity.CRITICAL
    assert "system" in finding.message and "touch /tmp/never" in finding.message


def test_lambda_nested_in_a_wrapper_is_found(tmp_path: Path) -> None:
    inner = keras.Sequential([keras.Input((3, 4)), keras.layers.TimeDistributed(keras.layers.Lambda(lambda x: x + 1))])
    outer = keras.Sequential([keras.Input((3, 4)), inner])
    outer.save(tmp_path / "nested.keras")
    assert "KERAS-LAMBDA" in significant(scan_file(tmp_path / "nested.keras"))


def keras_archive(config: dict[str, object]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.8.0"}))
    return buffer.getvalue()


def test_cve_2025_1550_object_from_a_dangerous_module(tmp_path: Path) -> None:
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "layers": [
                {"module": "subprocess", "class_name": "Popen", "config": {"args": ["id"]}, "registered_name": None}
            ]
        },
    }
    (tmp_path / "model.keras").write_bytes(keras_archive(config))
    result = scan_file(tmp_path / "model.keras")
    assert any(f.rule == "KERAS-FOREIGN-MODULE" and f.severity is Severity.CRITICAL for f in result.findings)


@pytest.mark.parametrize("function", ["enable_unsafe_deserialization", "get_file"])
def test_cve_2025_8747_and_9906_dangerous_functions(tmp_path: Path, function: str) -> None:
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "Lambda",
                    "config": {
                        "function": {
                            "module": "keras.config",
                            "class_name": "function",
                            "config": function,
                            "registered_name": function,
                        }
                    },
                }
            ]
        },
    }
    (tmp_path / "model.keras").write_bytes(keras_archive(config))
    rules = {f.rule for f in scan_file(tmp_path / "model.keras").findings if f.severity is Severity.CRITICAL}
    assert "KERAS-DANGEROUS-FUNCTION" in rules


def test_modelaudit_keras_samples() -> None:
    assert scan_file(KERAS_SAMPLES / "malicious_lambda.h5").worst is Severity.CRITICAL
    assert not scan_file(KERAS_SAMPLES / "safe_model.h5").findings


def test_real_torch_module_wrapper_embeds_a_checkpoint_that_is_scanned(tmp_path: Path) -> None:
    """Keras 3 saves a TorchModuleWrapper's module as a base64 `torch.save` of the whole module, which loading
    gives to torch.load: named MEDIUM, and the checkpoint is scanned as a nested file (clean here)."""
    import torch

    model = keras.Sequential([keras.Input((4,)), keras.layers.TorchModuleWrapper(torch.nn.Linear(4, 2))])
    model.save(tmp_path / "wrapped.keras")
    result = scan_file(tmp_path / "wrapped.keras")
    assert {(f.rule, f.severity) for f in result.findings} == {("KERAS-TORCH-MODULE", Severity.MEDIUM)}
    assert result.status is Status.SCANNED


def test_torch_module_wrapper_carrying_a_malicious_pickle(tmp_path: Path) -> None:
    import base64

    from tests.scanning.pickles import system

    layer = {
        "class_name": "TorchModuleWrapper",
        "module": "keras.layers",
        "config": {"module": base64.b64encode(system()).decode()},
    }
    config = {"module": "keras", "class_name": "Sequential", "config": {"layers": [layer]}}
    (tmp_path / "model.keras").write_bytes(keras_archive(config))
    result = scan_file(tmp_path / "model.keras")
    assert any(f.rule == "PICKLE-DANGEROUS-CALL" and f.member.endswith(".module") for f in result.findings)


def test_lookup_layer_reading_a_vocabulary_file_named_in_the_config(tmp_path: Path) -> None:
    layer = {"class_name": "StringLookup", "module": "keras.layers", "config": {"vocabulary": "/etc/passwd"}}
    config = {"module": "keras", "class_name": "Sequential", "config": {"layers": [layer]}}
    (tmp_path / "model.keras").write_bytes(keras_archive(config))
    assert "KERAS-FILE-REFERENCE" in {f.rule for f in scan_file(tmp_path / "model.keras").findings}


def test_two_config_entries_are_both_judged(tmp_path: Path) -> None:
    """zipfile (and so Keras) reads the last of two entries with one name; the first is what a naive scanner reads."""
    lambda_layer = {"class_name": "Lambda", "config": {"function": "lambda x: __import__('os').system('id')"}}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning):
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": []}}))
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": [lambda_layer]}}))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.8.0"}))
    (tmp_path / "model.keras").write_bytes(buffer.getvalue())
    assert "KERAS-LAMBDA" in {f.rule for f in scan_file(tmp_path / "model.keras").findings}
