"""A seed corpus of every format the scanner reads, built by the real writers where a writer exists. Malicious
seeds carry a canary payload only: `pathlib.Path(CANARY).touch()`, never a command."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import pickle
import struct
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

from tests.scanning.pickles import call, global_, unicode


def canary_payload(canary: str) -> bytes:
    """The body of a pickle that creates `canary` when loaded: `open(canary, "a")` (no PROTO, no STOP)."""
    return call(global_("builtins", "open"), unicode(canary), unicode("a"))


def _npy(payload: bytes) -> bytes:
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }".ljust(117) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _formats() -> dict[str, bytes]:
    """One small benign file of each structured format, from its real writer."""
    import gguf
    import h5py
    import lz4.frame
    import numpy as np
    import py7zr
    import zstandard
    from onnx import TensorProto, helper
    from safetensors.numpy import save as save_safetensors

    seeds: dict[str, bytes] = {
        "safetensors": save_safetensors({"w": np.ones((2, 3), dtype=np.float32)}, metadata={"format": "np"}),
        "plain.npy": _npy_plain(np),
        "lz4.pkl": lz4.frame.compress(pickle.dumps({"a": 1})),
        "zstd.pkl": zstandard.ZstdCompressor().compress(pickle.dumps([1, 2, 3])),
    }
    with tempfile.TemporaryDirectory() as directory:
        writer = gguf.GGUFWriter(f"{directory}/m.gguf", "llama")
        writer.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
        writer.add_token_list(["a", "b", "c"])
        writer.add_tensor("w", np.ones((2, 2), dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        seeds["gguf"] = Path(f"{directory}/m.gguf").read_bytes()
        with h5py.File(f"{directory}/m.h5", "w") as store:
            store.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"layers": []}})
            store["w"] = np.ones(3)
        seeds["h5"] = Path(f"{directory}/m.h5").read_bytes()
        with py7zr.SevenZipFile(f"{directory}/m.7z", "w") as archive:
            archive.writestr(pickle.dumps({"x": 1}), "model.pkl")
        seeds["7z"] = Path(f"{directory}/m.7z").read_bytes()
    graph = helper.make_graph(
        [helper.make_node("Relu", ["X"], ["Y"])],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])],
    )
    seeds["onnx"] = helper.make_model(graph).SerializeToString()
    keras_config = {"module": "keras", "class_name": "Sequential", "config": {"layers": [{"class_name": "Dense"}]}}
    seeds["keras"] = _zip({"config.json": json.dumps(keras_config).encode(), "metadata.json": b"{}"})
    seeds["hf-config.json"] = json.dumps({"model_type": "x", "chat_template": "{{ messages[0]['content'] }}"}).encode()
    seeds["hydra.yaml"] = b"model:\n  _target_: torch.nn.Linear\n  in_features: 2\n"
    seeds["template.jinja"] = b"{% for m in messages %}{{ m.role }}: {{ m.content }}{% endfor %}"
    return seeds


def _npy_plain(np: object) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(6, dtype=np.int32))  # type: ignore[attr-defined]
    return buffer.getvalue()


def build_seeds(canary: str) -> dict[str, bytes]:
    """Name -> bytes: every container and format, each benign and (where code can hide) with the canary."""
    payload = canary_payload(canary)
    live = b"\x80\x04" + payload + b"."
    benign = pickle.dumps({"weights": [1.0, 2.0], "name": "model"}, protocol=4)
    seeds = {
        "pickle-live": live,
        "pickle-no-proto": payload,
        "pickle-protocol0": pickle.dumps({"a": [1, 2]}, protocol=0),
        "pickle-benign": benign,
        "torch-zip-live": _zip({"archive/data.pkl": live, "archive/data/0": bytes(16), "archive/version": b"3\n"}),
        "npz-live": _zip({"x.npy": _npy(live)}, zipfile.ZIP_DEFLATED),
        "npy-live": _npy(live),
        "gzip-live": gzip.compress(live),
        "bz2-live": bz2.compress(live),
        "xz-live": lzma.compress(live),
        "zlib-live": zlib.compress(live),
        "tar-live": _tar({"model_config.yaml": b"a:\n  _target_: builtins.exec\n", "model.pkl": live}),
        "nested-literal": b"\x80\x04C" + bytes([len(zlib.compress(live))]) + zlib.compress(live) + b".",
    }
    seeds.update(_formats())
    return seeds
