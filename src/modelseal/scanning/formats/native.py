"""Model files whose loaders read numbers and names, never code: LightGBM text models, CatBoost `.cbm`, XGBoost
UBJSON, sentencepiece `.model`, ExecuTorch `.pte` programs (operators are resolved against kernels the runtime was
built with), MXNet `.params`, OpenVINO IR and PMML documents. Each is recognised by the structure its own loader
requires and reported scanned and clean; bytes that only look like one are data."""

from __future__ import annotations

from typing import IO

from modelseal.scanning.context import ScanContext


def scan(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    """LightGBM text (key=value lines and numbers), CatBoost (a flatbuffer of trees behind CBM1), XGBoost UBJSON (its
    JSON model in binary), sentencepiece (sniffed by its pieces), ExecuTorch and MXNet params: the magic the sniffer
    matched is the structure their loaders require, and their format's name is the label."""
    return None


def scan_model_xml(ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None:
    """OpenVINO IR (`<net ... version=...>`, weights in a `.bin` beside it) or PMML: layer and model descriptions."""
    return "pmml" if b"<PMML" in stream.read(4096) else "openvino-ir"
