"""Real models written by the real frameworks, for the false-alarm bar of issue 11: zero findings at HIGH or above,
nothing INCOMPLETE, and every model file read as a format we know.

Each producer writes one small model (or a training run's outputs) into an empty directory. The test suite scans
every producer's directory; `benchmarks/bench_scanning.py --detection` uses the same producers as its benign set.
"""

from __future__ import annotations

import os
import pickle
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

Producer = Callable[[Path], None]
PRODUCERS: dict[str, Producer] = {}


def producer(func: Producer) -> Producer:
    PRODUCERS[func.__name__] = func
    return func


def _xy(n: int = 60) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((n, 4))
    return x, (x[:, 0] + rng.random(n) > 1).astype(int)


# --- torch -------------------------------------------------------------------------------------------------


def _net() -> Any:
    import torch

    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))


@producer
def torch_full_model_legacy_format(out: Path) -> None:
    """The pre-1.6 stacked-pickle format of a whole module: its persistent-id records name the module classes."""
    import torch

    torch.save(_net(), out / "model.pt", _use_new_zipfile_serialization=False)


@producer
def torch_full_model_zip(out: Path) -> None:
    import torch

    torch.save(_net(), out / "model.pt")


@producer
def torch_training_state(out: Path) -> None:
    """Optimizer, scheduler and every RNG state a training loop checkpoints (transformers' Trainer does this)."""
    import numpy as np
    import torch

    net = _net()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    net(torch.randn(5, 4)).sum().backward()
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
    torch.save(optimizer.state_dict(), out / "optimizer.pt")
    torch.save(scheduler.state_dict(), out / "scheduler.pt")
    rng = {"python": random.getstate(), "numpy": np.random.get_state(), "cpu": torch.random.get_rng_state()}
    torch.save(rng, out / "rng_state.pth")
    torch.save({"generator": np.random.default_rng(1), "legacy": np.random.RandomState(2)}, out / "numpy_rng.pt")


@producer
def torch_quantized(out: Path) -> None:
    import torch

    model = torch.ao.quantization.quantize_dynamic(_net().eval(), {torch.nn.Linear}, dtype=torch.qint8)
    torch.save(model.state_dict(), out / "quantized.pt")
    tensor = torch.quantize_per_tensor(torch.randn(4, 4), scale=0.1, zero_point=3, dtype=torch.quint8)
    torch.save({"q": tensor}, out / "qtensor.pt")


@producer
def torch_export_program(out: Path) -> None:
    import torch

    torch.export.save(torch.export.export(_net().eval(), (torch.randn(3, 4),)), out / "program.pt2")


@producer
def torch_distributed_checkpoint(out: Path) -> None:
    import torch.distributed.checkpoint as dcp

    dcp.save({"model": _net().state_dict()}, checkpoint_id=str(out / "dcp"), no_dist=True)


@producer
def torch_sparse_and_complex_tensors(out: Path) -> None:
    import torch

    torch.save(
        {
            "sparse": torch.eye(4).to_sparse(),
            "csr": torch.eye(3).to_sparse_csr(),
            "complex": torch.randn(2, 2, dtype=torch.cfloat),
            "half": torch.randn(2, dtype=torch.float16),
            "param": torch.nn.Parameter(torch.randn(2)),
        },
        out / "tensors.pt",
    )


# --- Hugging Face ------------------------------------------------------------------------------------------


def _tiny_bert() -> Any:
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    return BertModel(config)


@producer
def transformers_safetensors(out: Path) -> None:
    _tiny_bert().save_pretrained(out, safe_serialization=True)


@producer
def transformers_pytorch_bin(out: Path) -> None:
    import torch

    model = _tiny_bert()
    model.config.save_pretrained(out)
    torch.save(model.state_dict(), out / "pytorch_model.bin")  # what save_pretrained(safe_serialization=False) wrote


@producer
def transformers_trainer_outputs(out: Path) -> None:
    import torch
    from transformers import TrainingArguments

    args = TrainingArguments(output_dir=str(out / "run"), report_to="none", lr_scheduler_type="cosine")
    torch.save(args, out / "training_args.bin")
    (out / "trainer_state.json").write_text('{"global_step": 10, "log_history": [{"loss": 1.5}]}')


# --- scikit-learn, joblib, skops ---------------------------------------------------------------------------


def _sklearn_models() -> dict[str, Any]:
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, IsolationForest
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    from sklearn.svm import SVC

    x, y = _xy()
    return {
        "gb": GradientBoostingClassifier(n_estimators=3).fit(x, y),
        "hgb": HistGradientBoostingClassifier(max_iter=3).fit(x, y),
        "kmeans": KMeans(n_clusters=2, n_init=1, random_state=0).fit(x),
        "svc": SVC(probability=True, random_state=0).fit(x, y),
        "mlp": MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(x, y),
        "iforest": IsolationForest(n_estimators=3, random_state=0).fit(x),
        "tfidf": TfidfVectorizer().fit(["a model", "a signed model", "scan it"]),
        "columns": ColumnTransformer([("scale", StandardScaler(), [0, 1])]).fit(x),
        "log1p": make_pipeline(FunctionTransformer(np.log1p), StandardScaler()).fit(x),
    }


@producer
def sklearn_estimators_pickle(out: Path) -> None:
    (out / "models.pkl").write_bytes(pickle.dumps(_sklearn_models(), protocol=5))


@producer
def sklearn_estimators_joblib(out: Path) -> None:
    import joblib

    joblib.dump(_sklearn_models(), out / "models.joblib", compress=3)


@producer
def joblib_structured_arrays(out: Path) -> None:
    """Structured dtypes: raw bytes in the stream, or (with an object field) a whole nested pickle."""
    import joblib
    import numpy as np

    arrays = {
        "numbers": np.zeros(3, dtype=[("a", "i4"), ("b", "f8")]),
        "objects": np.array([(1, "x"), (2, None)], dtype=[("a", "i4"), ("b", "O")]),
        "subarray": np.zeros(2, dtype=[("a", "f4", (3,))]),
        "after": [1, 2, 3],
    }
    joblib.dump(arrays, out / "arrays.joblib")
    np.save(out / "objects.npy", arrays["objects"], allow_pickle=True)


@producer
def skops_function_transformer(out: Path) -> None:
    """skops trusts numpy ufuncs in a FunctionTransformer; so must we."""
    import numpy as np
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    x, y = _xy()
    sio.dump(make_pipeline(FunctionTransformer(np.log1p), LogisticRegression()).fit(x, y), out / "model.skops")


# --- pandas and statsmodels --------------------------------------------------------------------------------


@producer
def pandas_every_dtype(out: Path) -> None:
    import numpy as np
    import pandas as pd

    index = pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["letter", "number"])
    frame = pd.DataFrame(
        {
            "tz": pd.date_range("2024-01-01", periods=4, tz="America/New_York"),
            "utc": pd.date_range("2024-01-01", periods=4, tz="UTC"),
            "naive": pd.date_range("2024-01-01", periods=4),
            "delta": pd.to_timedelta([1, 2, 3, 4], unit="h"),
            "period": pd.period_range("2024-01", periods=4, freq="M"),
            "interval": pd.interval_range(0, 4),
            "category": pd.Categorical(["x", "y", "x", "z"], ordered=True),
            "sparse": pd.arrays.SparseArray([0, 0, 1, 0]),
            "nullable": pd.array([1, None, 3, 4], dtype="Int64"),
            "boolean": pd.array([True, None, False, True], dtype="boolean"),
            "string": pd.array(["a", None, "c", "d"], dtype="string"),
            "float": np.linspace(0, 1, 4),
            "objects": [{"k": 1}, [1, 2], "s", None],
        },
        index=index,
    )
    frame.to_pickle(out / "frame.pkl")
    for suffix in ("gz", "bz2", "xz", "zst", "zip", "tar"):  # pandas' compressions: by suffix, one member archives
        frame["tz"].to_pickle(out / f"series.pkl.{suffix}")


@producer
def pandas_hdf5(out: Path) -> None:
    """PyTables files: object columns are a pickle per row, and some attributes are pickles too."""
    import pandas as pd

    frame = pd.DataFrame({"a": [1, 2], "objects": [{"k": 1}, [1, 2]], "text": ["x", "y"]})
    frame.to_hdf(out / "fixed.h5", key="frame", mode="w")
    frame[["a", "text"]].to_hdf(out / "table.h5", key="frame", mode="w", format="table")


@producer
def statsmodels_results(out: Path) -> None:
    import numpy as np
    import statsmodels.api as sm
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    x, y = _xy()
    sm.OLS(y.astype(float), sm.add_constant(x)).fit().save(str(out / "ols.pickle"))
    series = np.sin(np.arange(48) / 4) + np.random.default_rng(0).normal(0, 0.1, 48)
    SARIMAX(series, order=(1, 0, 0)).fit(disp=False).save(str(out / "sarimax.pickle"))


# --- gradient-boosting libraries -----------------------------------------------------------------------------


@producer
def xgboost_native_and_pickled(out: Path) -> None:
    import xgboost as xgb

    x, y = _xy()
    model = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(x, y)
    model.save_model(out / "model.json")
    model.save_model(out / "model.ubj")
    (out / "model.pkl").write_bytes(pickle.dumps(model))


@producer
def lightgbm_native_and_pickled(out: Path) -> None:
    import lightgbm as lgb

    x, y = _xy()
    model = lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(x, y)
    model.booster_.save_model(str(out / "model.txt"))
    (out / "model.pkl").write_bytes(pickle.dumps(model))


@producer
def catboost_native_and_pickled(out: Path) -> None:
    import catboost

    x, y = _xy()
    model = catboost.CatBoostClassifier(iterations=3, verbose=False, allow_writing_files=False).fit(x, y)
    model.save_model(str(out / "model.cbm"))
    (out / "model.pkl").write_bytes(pickle.dumps(model))
