"""Every format the scanner knows, and the one module that scans each.

Adding a format is one module with a `scan` function and one line here. The registry is checked at import time to
name a scanner for every `Format`, so no detected format can fall through unscanned; modules are imported only
when a file of their format turns up, which keeps the CLI's start-up light.
"""

from __future__ import annotations

import importlib
from enum import StrEnum
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from modelseal.scanning.context import ScanContext


class Format(StrEnum):
    """What a stream's bytes are, as the loaders that accept them would read them."""

    PICKLE = "pickle"
    ZIP = "zip"
    TAR = "tar"
    SEVENZIP = "7z"
    RAR = "rar"
    GZIP = "gzip"
    BZ2 = "bz2"
    XZ = "xz"
    LZMA = "lzma"
    ZLIB = "zlib"
    ZFILE = "zfile"  # joblib < 0.10: 'ZF', the length in hex, then zlib data
    LZ4 = "lz4"
    ZSTD = "zstd"
    NPY = "npy"
    HDF5 = "hdf5"
    GGUF = "gguf"
    SAFETENSORS = "safetensors"
    PROTOBUF = "protobuf"
    JSON = "json"
    YAML = "yaml"
    JINJA = "jinja"
    PYTHON = "python"
    PYTHON_BYTECODE = "python-bytecode"
    TFLITE = "tflite"
    LIGHTGBM = "lightgbm-text"
    CATBOOST = "catboost-cbm"
    XGBOOST_UBJ = "xgboost-ubj"
    SENTENCEPIECE = "sentencepiece"
    EXECUTORCH = "executorch"
    MXNET_PARAMS = "mxnet-params"
    MODEL_XML = "model-xml"
    EXECUTABLE = "executable"
    R_DATA = "r-data"
    GIT_LFS_POINTER = "git-lfs-pointer"
    UNKNOWN = "unknown"


class FormatScanner(Protocol):
    """Scan `size` bytes of a seekable `stream` (at `member` inside the file, `depth` levels down), adding findings,
    gaps and notes to `ctx`; return a more precise format label (e.g. "pytorch-zip"), or None."""

    def __call__(self, ctx: ScanContext, stream: IO[bytes], size: int, member: str, depth: int) -> str | None: ...


REGISTRY: dict[Format, str] = {
    Format.PICKLE: "modelseal.scanning.formats.pickle",
    Format.ZIP: "modelseal.scanning.containers.zip",
    Format.TAR: "modelseal.scanning.containers.tar",
    Format.SEVENZIP: "modelseal.scanning.containers.sevenzip",
    Format.RAR: "modelseal.scanning.containers.unreadable",
    Format.GZIP: "modelseal.scanning.containers.compressed",
    Format.BZ2: "modelseal.scanning.containers.compressed",
    Format.XZ: "modelseal.scanning.containers.compressed",
    Format.LZMA: "modelseal.scanning.containers.compressed",
    Format.ZLIB: "modelseal.scanning.containers.compressed",
    Format.ZFILE: "modelseal.scanning.containers.compressed",
    Format.LZ4: "modelseal.scanning.containers.compressed",
    Format.ZSTD: "modelseal.scanning.containers.compressed",
    Format.NPY: "modelseal.scanning.formats.npy",
    Format.HDF5: "modelseal.scanning.formats.hdf5",
    Format.GGUF: "modelseal.scanning.formats.gguf",
    Format.SAFETENSORS: "modelseal.scanning.formats.safetensors",
    Format.PROTOBUF: "modelseal.scanning.formats.protobuf",
    Format.JSON: "modelseal.scanning.formats.json",
    Format.YAML: "modelseal.scanning.formats.yaml",
    Format.JINJA: "modelseal.scanning.formats.templates",
    Format.PYTHON: "modelseal.scanning.formats.hf",
    Format.PYTHON_BYTECODE: "modelseal.scanning.formats.hf",
    Format.TFLITE: "modelseal.scanning.formats.tflite",
    Format.LIGHTGBM: "modelseal.scanning.formats.native",
    Format.CATBOOST: "modelseal.scanning.formats.native",
    Format.XGBOOST_UBJ: "modelseal.scanning.formats.native",
    Format.SENTENCEPIECE: "modelseal.scanning.formats.native",
    Format.EXECUTORCH: "modelseal.scanning.formats.native",
    Format.MXNET_PARAMS: "modelseal.scanning.formats.native",
    Format.MODEL_XML: "modelseal.scanning.formats.native",
    Format.EXECUTABLE: "modelseal.scanning.formats.executable",
    Format.R_DATA: "modelseal.scanning.containers.unreadable",
    Format.GIT_LFS_POINTER: "modelseal.scanning.formats.data",
    Format.UNKNOWN: "modelseal.scanning.formats.data",
}
_missing = set(Format) - set(REGISTRY)
if _missing:  # pragma: no cover - a programming error, caught by the first import in any test
    raise RuntimeError(f"formats without a scanner: {sorted(_missing)}")


def scanner_for(fmt: Format) -> FormatScanner:
    """The scanner of a format: `scan` in its module, or `scan_<format>` where one module serves several."""
    module = importlib.import_module(REGISTRY[fmt])
    specific = getattr(module, f"scan_{fmt.name.lower()}", None)
    scanner: FormatScanner = specific if specific is not None else module.scan
    return scanner
