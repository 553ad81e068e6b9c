"""Model files whose loaders read numbers and names, never code: LightGBM text models, CatBoost `.cbm`, XGBoost
UBJSON, sentencepiece `.model`, ExecuTorch `.pte` programs (operators are resolved against kernels the runtime was
built with), MXNet `.params`, OpenVINO IR and PMML documents. Each is recognised by the structure its own loader
requires and reported scanned and clean; bytes that only look like one are data."""

from __future__ import annotations

from typing import IO

from modelseal.scanning.context import ScanContext
from modelseal.scanning.sniff import is_sentencepiece


def scan_lightgbm(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    return "lightgbm-text"  # LightGBM's text model: key=value lines and numbers, parsed by its C++ loader


def scan_catboost(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    return "catboost-cbm"  # a flatbuffer of trees behind the CBM1 magic, read by CatBoost's C++ loader


def scan_xgboost_ubj(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    return "xgboost-ubj"  # XGBoost's UBJSON model: the same document as its JSON model, in binary


def scan_sentencepiece(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    """A sentencepiece ModelProto: a run of `pieces` (field 1) and then its specs (fields 2-5), all
    length-delimited. Anything else is data."""
    if not is_sentencepiece(stream.read(64 * 1024)):
        if not member:
            ctx.data_only = True
        return None
    return "sentencepiece"


def scan_executorch(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    return "executorch"


def scan_mxnet_params(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    return "mxnet-params"


def scan_model_xml(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    """OpenVINO IR (`<net ... version=...>`, weights in a `.bin` beside it) or PMML: layer and model descriptions."""
    return "pmml" if b"<PMML" in stream.read(4096) else "openvino-ir"
