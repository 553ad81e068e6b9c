"""False positives are failures too: pickles written by the real libraries scan below HIGH (most of them clean)."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelseal.scanning.findings import FileResult, Severity, Status
from modelseal.scanning.scanner import scan_file
from tests.scanning.benign_models import PRODUCERS

JOBLIB_TEST_DATA = Path(joblib.__file__).parent / "test" / "data"


def clean(result: FileResult) -> bool:
    return result.status is Status.SCANNED and not result.findings


def below_high(result: FileResult) -> bool:
    return result.status is not Status.INCOMPLETE and (result.worst is None or result.worst < Severity.HIGH)


class TinyNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.BatchNorm1d(8))
        self.head = torch.nn.Linear(8, 2)


@pytest.fixture(scope="module")
def sklearn_model() -> object:
    x = np.random.default_rng(0).random((40, 3))
    y = np.arange(40) % 2
    return {
        "pipeline": make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y),
        "forest": RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y),
        "encoder": OneHotEncoder().fit([["a"], ["b"]]),
    }


def test_torch_state_dict(tmp_path: Path) -> None:
    torch.save(TinyNet().state_dict(), tmp_path / "model.pt")
    result = scan_file(tmp_path / "model.pt")
    assert result.format == "pytorch-zip" and clean(result), result


def test_torch_checkpoint_with_optimizer_and_dtypes(tmp_path: Path) -> None:
    net = TinyNet()
    torch.save(
        {
            "model": net.state_dict(),
            "optimizer": torch.optim.AdamW(net.parameters()).state_dict(),
            "epoch": 3,
            "dtype": torch.bfloat16,
            "device": torch.device("cpu"),
        },
        tmp_path / "ckpt.pt",
    )
    assert clean(scan_file(tmp_path / "ckpt.pt"))


def test_torch_full_module_of_library_layers(tmp_path: Path) -> None:
    torch.save(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU()), tmp_path / "full.pt")
    assert clean(scan_file(tmp_path / "full.pt"))


def test_torch_full_module_of_a_user_class_is_medium(tmp_path: Path) -> None:
    torch.save(TinyNet(), tmp_path / "full.pt")
    result = scan_file(tmp_path / "full.pt")
    assert result.worst is Severity.MEDIUM
    assert {f.target for f in result.findings} == {f"{__name__}.TinyNet"}


def test_torch_legacy_stacked_pickles(tmp_path: Path) -> None:
    torch.save(TinyNet().state_dict(), tmp_path / "legacy.bin", _use_new_zipfile_serialization=False)
    result = scan_file(tmp_path / "legacy.bin")
    assert result.format == "pickle" and below_high(result) and not result.findings, result


def test_plain_pickle_of_tensors(tmp_path: Path) -> None:
    (tmp_path / "tensors.pkl").write_bytes(pickle.dumps({"w": torch.randn(3, 3)}))
    result = scan_file(tmp_path / "tensors.pkl")
    assert below_high(result) and all(f.severity <= Severity.LOW for f in result.findings), result


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_sklearn_pickles(sklearn_model: object, tmp_path: Path, protocol: int) -> None:
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(sklearn_model, protocol=protocol))
    assert clean(scan_file(tmp_path / "model.pkl"))


@pytest.mark.parametrize("compress", [0, "zlib", "gzip", "bz2", "lzma", "xz"])
def test_joblib_every_compressor(sklearn_model: object, tmp_path: Path, compress: object) -> None:
    """Raw numpy bytes sit inside joblib streams after each array wrapper: they must be skipped exactly."""
    payload = {
        "models": sklearn_model,
        "objects": np.array([1, "a", None], dtype=object),
        "text": np.array(["ab", "c"]),
        "big": np.arange(100_000, dtype=np.float32),
    }
    joblib.dump(payload, tmp_path / "model.joblib", compress=compress)
    result = scan_file(tmp_path / "model.joblib")
    assert clean(result), result


def test_numpy_object_arrays_of_plain_data(tmp_path: Path) -> None:
    np.save(tmp_path / "objects.npy", np.array([1, "a", None, {"k": [1.5, 2]}], dtype=object), allow_pickle=True)
    np.savez_compressed(tmp_path / "arrays.npz", a=np.arange(10), o=np.array([1, "x"], dtype=object))
    assert clean(scan_file(tmp_path / "objects.npy"))
    assert clean(scan_file(tmp_path / "arrays.npz"))


def test_pandas_dataframe(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "a": [1, 2, 3],
            "b": ["x", "y", "z"],
            "c": pd.to_datetime(["2020-01-01"] * 3),
            "d": pd.Categorical(["u", "v", "u"]),
            "e": pd.array([1, None, 3], dtype="Int64"),
        }
    )
    frame.to_pickle(tmp_path / "frame.pkl")
    assert clean(scan_file(tmp_path / "frame.pkl"))


def test_real_hugging_face_training_args(tmp_path: Path) -> None:
    from transformers import TrainingArguments as HFTrainingArguments

    torch.save(HFTrainingArguments(output_dir=str(tmp_path / "out"), report_to="none"), tmp_path / "training_args.bin")
    assert clean(scan_file(tmp_path / "training_args.bin"))


@dataclasses.dataclass
class TrainingArguments:
    """A user's own arguments dataclass, saved the way training_args.bin is."""

    output_dir: str = "out"
    learning_rate: float = 5e-5
    report_to: tuple[str, ...] = ("none",)


def test_training_args_style_object_is_medium(tmp_path: Path) -> None:
    torch.save(TrainingArguments(), tmp_path / "training_args.bin")
    result = scan_file(tmp_path / "training_args.bin")
    assert result.worst is Severity.MEDIUM and below_high(result)


JOBLIB_FILES = sorted(p for p in JOBLIB_TEST_DATA.iterdir() if p.is_file() and p.suffix != ".py")


def test_joblib_wheel_ships_its_test_pickles() -> None:
    assert len(JOBLIB_FILES) > 40


@pytest.mark.parametrize("path", JOBLIB_FILES, ids=[p.name for p in JOBLIB_FILES])
def test_pickles_shipped_in_the_joblib_wheel(path: Path) -> None:
    result = scan_file(path)
    assert result.worst is None or result.worst < Severity.HIGH, result
    assert result.status is not Status.INCOMPLETE, result


def test_gensim_word2vec_model(tmp_path: Path) -> None:
    from gensim.models import Word2Vec

    sentences = [["model", "signing", "scan"], ["pickle", "scan", "safe"]] * 20
    Word2Vec(sentences, vector_size=8, min_count=1, epochs=1, workers=1).save(str(tmp_path / "w2v.model"))
    for path in tmp_path.iterdir():
        result = scan_file(path)
        assert below_high(result) and not any(f.severity >= Severity.MEDIUM for f in result.findings), result


def _gensim_files() -> list[Path]:
    import gensim

    data = Path(gensim.__file__).parent / "test" / "test_data"
    return sorted(p for p in data.rglob("*") if p.is_file())


GENSIM_FILES = _gensim_files()


def test_gensim_wheel_ships_its_test_models() -> None:
    assert sum(1 for p in GENSIM_FILES if scan_file(p).format == "pickle") > 50


@pytest.mark.parametrize("path", GENSIM_FILES, ids=[p.name for p in GENSIM_FILES])
def test_models_shipped_in_the_gensim_wheel(path: Path) -> None:
    result = scan_file(path)
    assert result.worst is None or result.worst < Severity.HIGH, result
    assert result.status is not Status.INCOMPLETE, result


class ScriptedNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x).view([1, 2])


def test_torchscript_debug_tables_are_not_alarms(tmp_path: Path) -> None:
    """Every TorchScript file holds `torch.jit._pickle.build_intlist([...])` in its debug pickles: allowed by
    its exact name for literal arguments only (it was CRITICAL under the `torch.jit` deny prefix)."""
    torch.jit.save(torch.jit.script(ScriptedNet()), tmp_path / "scripted.pt")
    result = scan_file(tmp_path / "scripted.pt")
    assert below_high(result), result
    assert "TORCHSCRIPT-CODE" in {f.rule for f in result.findings}  # still says torch.jit.load compiles code


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_time_zone_aware_pandas_objects(tmp_path: Path, protocol: int) -> None:
    """pandas pickles `zoneinfo.ZoneInfo` as `getattr(ZoneInfo, '_unpickle')(key, 1)`: the getattr of a literal
    name on an allowed class is judged as the dotted name it resolves to."""
    frame = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=3, tz="Europe/Paris"), "x": [1, 2, 3]})
    path = tmp_path / "frame.pkl"
    frame.to_pickle(path, protocol=protocol)
    result = scan_file(path)
    assert clean(result), result


@pytest.mark.parametrize("name", sorted(PRODUCERS))
def test_real_model_corpus(tmp_path: Path, name: str) -> None:
    """Issue 11's bar on models the real frameworks write: every file read as a format we know (never INCOMPLETE,
    never `unsupported`), nothing at MEDIUM or above (LOW notes, such as torch's embedded loaders, are fine)."""
    PRODUCERS[name](tmp_path)
    results = [scan_file(path) for path in sorted(tmp_path.rglob("*")) if path.is_file()]
    assert results
    for result in results:
        assert result.status is Status.SCANNED, result
        assert result.worst is None or result.worst < Severity.MEDIUM, result
