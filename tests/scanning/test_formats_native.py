"""Issue 11, formats read to the depth their loaders read: TFLite operator codes, executables, R serialization,
and model formats whose loaders run no code (recognised, scanned and clean)."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import zipfile
from pathlib import Path

import flatbuffers
import pytest

from modelseal.scanning.findings import FileResult, Severity, Status
from modelseal.scanning.scanner import scan_file
from tests.scanning.pickles import system


def scan(tmp_path: Path, data: bytes, name: str) -> FileResult:
    (tmp_path / name).write_bytes(data)
    return scan_file(tmp_path / name)


def tflite_model(custom_ops: list[str], builtin_ops: int = 2) -> bytes:
    """A TFLite flatbuffer as the converter lays it out (schema v3): Model.version, Model.operator_codes (each
    OperatorCode with deprecated_builtin_code, custom_code, version, builtin_code), no subgraphs or buffers."""
    builder = flatbuffers.Builder(256)
    codes = []
    for name in custom_ops:
        text = builder.CreateString(name)
        builder.StartObject(4)
        builder.PrependUOffsetTRelativeSlot(1, text, 0)
        builder.PrependInt32Slot(3, 32, 0)  # BuiltinOperator.CUSTOM
        codes.append(builder.EndObject())
    for code in range(builtin_ops):
        builder.StartObject(4)
        builder.PrependInt32Slot(3, code + 1, 0)
        codes.append(builder.EndObject())
    builder.StartVector(4, len(codes), 4)
    for code in reversed(codes):
        builder.PrependUOffsetTRelative(code)
    vector = builder.EndVector()
    builder.StartObject(5)
    builder.PrependUint32Slot(0, 3, 0)
    builder.PrependUOffsetTRelativeSlot(1, vector, 0)
    builder.Finish(builder.EndObject(), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_tflite_with_builtin_operators_is_clean(tmp_path: Path) -> None:
    result = scan(tmp_path, tflite_model([]), "model.tflite")
    assert (result.format, result.status, result.findings) == ("tflite", Status.SCANNED, ())


def test_tflite_custom_operator_is_named(tmp_path: Path) -> None:
    result = scan(tmp_path, tflite_model(["MyVendorOp"]), "model.tflite")
    assert [(f.rule, f.severity, f.target) for f in result.findings] == [
        ("TFLITE-CUSTOM-OP", Severity.MEDIUM, "MyVendorOp")
    ]


def test_tflite_flex_kernel_that_writes_files(tmp_path: Path) -> None:
    result = scan(tmp_path, tflite_model(["FlexWriteFile", "FlexAddV2"]), "model.tflite")
    assert {(f.rule, f.severity) for f in result.findings} == {
        ("TFLITE-FLEX-EFFECT", Severity.HIGH),
        ("TFLITE-CUSTOM-OP", Severity.MEDIUM),
    }


def test_tflite_with_offsets_outside_the_file_is_incomplete(tmp_path: Path) -> None:
    data = bytearray(tflite_model(["MyVendorOp"]))
    data[0:4] = (len(data) + 100).to_bytes(4, "little")
    assert scan(tmp_path, bytes(data), "model.tflite").status is Status.INCOMPLETE


def test_real_sentencepiece_model_is_recognised(tmp_path: Path) -> None:
    import sentencepiece

    (tmp_path / "corpus.txt").write_text("a model is signed\nthen scanned\nand checked before use\n" * 50)
    sentencepiece.SentencePieceTrainer.train(
        input=str(tmp_path / "corpus.txt"), model_prefix=str(tmp_path / "tokenizer"), vocab_size=26
    )
    result = scan_file(tmp_path / "tokenizer.model")
    assert (result.format, result.status, result.findings) == ("sentencepiece", Status.SCANNED, ())


def test_an_elf_executable_is_never_clean(tmp_path: Path) -> None:
    shutil.copy(shutil.which("true") or "/bin/true", tmp_path / "model.bin")
    result = scan_file(tmp_path / "model.bin")
    assert result.format == "elf" and "EXECUTABLE" in {f.rule for f in result.findings}


def test_llamafile_style_executable_with_weights_inside(tmp_path: Path) -> None:
    """A llamafile is a shell/PE polyglot with a zip of weights appended: both readings are reported."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("weights.pkl", system())
    result = scan(tmp_path, b"MZqFpD='\n\n" + b"\0" * 200 + archive.getvalue(), "model.llamafile")
    assert {"EXECUTABLE", "PICKLE-DANGEROUS-CALL"} <= {f.rule for f in result.findings}


def test_text_that_starts_with_mz_is_not_an_executable(tmp_path: Path) -> None:
    assert scan(tmp_path, b"MZ is a postcode\n" * 10, "notes.txt").findings == ()


@pytest.mark.parametrize("header", [b"X\n\x00\x00\x00\x03", b"RDX3\nX\n"])
def test_cve_2024_27322_r_serialization_is_incomplete(tmp_path: Path, header: bytes) -> None:
    """readRDS/load evaluate promises stored in the stream; modelseal cannot read R's format: never clean."""
    result = scan(tmp_path, gzip.compress(header + b"\x00" * 64), "model.rds")
    assert result.status is Status.INCOMPLETE
    assert any("CVE-2024-27322" in note for note in result.notes)


def test_compiled_python_in_a_model_repository(tmp_path: Path) -> None:
    import py_compile

    (tmp_path / "modeling.py").write_text("VALUE = 1\n")
    py_compile.compile(str(tmp_path / "modeling.py"), cfile=str(tmp_path / "modeling.pyc"))
    result = scan_file(tmp_path / "modeling.pyc")
    assert (result.format, [f.rule for f in result.findings]) == ("python-bytecode", ["PYTHON-BYTECODE"])


def test_pytables_object_rows_and_pickled_attributes(tmp_path: Path) -> None:
    """pandas' HDF5 files: PyTables unpickles every row of an object atom and string attributes that hold a
    pickle. Both are scanned, each as its own nested file."""
    import h5py
    import numpy as np
    import pandas as pd

    path = tmp_path / "frame.h5"
    pd.DataFrame({"objects": [{"k": 1}, [1, 2]]}).to_hdf(path, key="frame", mode="w")
    with h5py.File(path, "a") as store:
        store["frame/block0_values"][0] = np.frombuffer(system(), dtype=np.uint8)
        store["frame"].attrs["non_index_axes"] = np.bytes_(system())
    result = scan_file(path)
    assert result.format == "pytables"
    assert {f.member for f in result.findings if f.rule == "PICKLE-DANGEROUS-CALL"} == {
        "frame/block0_values[0]",
        "frame@non_index_axes",
    }


def test_tensorflow_checkpoint_index_is_recognised(tmp_path: Path) -> None:
    """A TF table ends with a 48-byte footer: two block handles, padding, then the table magic number."""
    footer = bytes([1, 2, 3, 4]) + b"\0" * 36 + (0xDB4775248B80FB57).to_bytes(8, "little")
    result = scan(tmp_path, b"\0\x05\x00" + b"block" * 20 + footer, "model.ckpt-100.index")
    assert (result.format, result.status, result.findings) == ("tf-checkpoint-index", Status.SCANNED, ())


def test_torch7_file_is_incomplete(tmp_path: Path) -> None:
    """Lua Torch7's torch.load runs the Lua functions such a file may hold; modelseal cannot read the format."""
    assert scan(tmp_path, b"\x04\x00\x00\x00\x01\x00\x00\x00" * 8, "model.t7").status is Status.INCOMPLETE


@pytest.mark.parametrize(
    ("name", "data", "label"),
    [
        ("model.pte", b"\x1c\x00\x00\x00ET12" + b"\0" * 56, "executorch"),
        ("model-0000.params", (0x112).to_bytes(8, "little") + b"\0" * 56, "mxnet-params"),
        ("model.xml", b'<?xml version="1.0"?>\n<net name="m" version="11">\n<layers/></net>\n', "openvino-ir"),
        ("model.pmml", b'<?xml version="1.0"?>\n<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"/>\n', "pmml"),
    ],
)
def test_model_formats_without_code_are_recognised(tmp_path: Path, name: str, data: bytes, label: str) -> None:
    result = scan(tmp_path, data, name)
    assert (result.format, result.status, result.findings) == (label, Status.SCANNED, ())


def test_flax_msgpack_checkpoint_is_recognised(tmp_path: Path) -> None:
    """Flax's `msgpack_serialize` layout: nested maps of names, arrays as msgpack ext types (here built with
    msgpack itself, as flax.serialization does). Its first byte is also a pickle opcode: the emulator calls it data
    first, then its layout names it."""
    import msgpack
    import numpy as np

    kernel = np.ones((2, 3), dtype=np.float32)
    array = msgpack.ExtType(1, msgpack.packb((kernel.shape, kernel.dtype.name, kernel.tobytes())))
    data = msgpack.packb({"params": {"Dense_0": {"kernel": array, "bias": array}}})
    result = scan(tmp_path, data, "flax_model.msgpack")
    assert (result.format, result.status, result.findings) == ("flax-msgpack", Status.SCANNED, ())


def test_torchserve_archive_names_its_shipped_handler(tmp_path: Path) -> None:
    manifest = {"model": {"modelName": "m", "handler": "handler.py", "serializedFile": "model.pt"}}
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("MAR-INF/MANIFEST.json", json.dumps(manifest))
        zipped.writestr("handler.py", "import os\nclass Handler:\n    pass\n")
    result = scan(tmp_path, archive.getvalue(), "model.mar")
    assert result.format == "torchserve-mar"
    assert {"TORCHSERVE-HANDLER", "PYTHON-SOURCE"} <= {f.rule for f in result.findings}


def test_core_ml_and_paddle_programs_are_recognised(tmp_path: Path) -> None:
    core_ml = b"\x08\x04\x12\x02\x0a\x00"  # specificationVersion 4, an empty description
    assert scan(tmp_path, core_ml, "model.mlmodel").format == "coreml"
    op = b"\x1a\x07py_func"  # OpDesc.type
    program = b"\x0a" + bytes([len(op) + 6]) + b"\x08\x00\x10\x00\x22" + bytes([len(op)]) + op
    result = scan(tmp_path, program, "inference.pdmodel")
    assert (result.format, [f.rule for f in result.findings]) == ("paddle-program", ["PADDLE-PY-FUNC"])
