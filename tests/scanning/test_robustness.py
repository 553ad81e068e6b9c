"""Hostile input: bombs and mutated files end in a result (often incomplete), never a crash or a hang."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelseal.scanning.budget import Limits
from modelseal.scanning.findings import FileResult, Status
from modelseal.scanning.scanner import ScanOptions, scan_file
from tests.scanning.pickles import call, global_, proto, stop, system


def memo_bomb(levels: int = 39) -> bytes:
    """Each level is a list holding the previous level twice: 2**levels elements if anyone expanded it."""
    body = b"]q\x00"
    for level in range(levels):
        body += b"(h" + bytes([level]) + b"h" + bytes([level]) + b"lq" + bytes([level + 1])
    return proto(2) + body + b"."


def test_memo_bomb_is_scanned_in_bounded_memory(tmp_path: Path) -> None:
    """In a process limited to 1 GiB of address space: expanding 2**39 references would need terabytes."""
    bomb = tmp_path / "bomb.pkl"
    bomb.write_bytes(memo_bomb() + system())
    script = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from pathlib import Path
        from modelseal.scanning.scanner import scan_file
        result = scan_file(Path({str(bomb)!r}))
        print(result.status.value, max(f.severity for f in result.findings).name)
    """)
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.split() == ["scanned", "CRITICAL"]


def test_opcode_bound_makes_the_result_incomplete(tmp_path: Path) -> None:
    many = proto(4) + b"]" + b"(" + b"K\x01" * 200_000 + b"e" + b"."
    (tmp_path / "long.pkl").write_bytes(many)
    result = scan_file(tmp_path / "long.pkl", ScanOptions(limits=Limits(max_opcodes=100_000)))
    assert result.status is Status.INCOMPLETE
    assert any("bound" in note for note in result.notes)


def test_zip_bomb_is_bounded(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("archive/data.pkl", "w") as member:
        member.write(system())
        zeros = bytes(1 << 20)
        for _ in range(200):
            member.write(zeros)
    assert bomb.stat().st_size < 2_000_000
    result = scan_file(bomb, ScanOptions(limits=Limits(max_expanded_bytes=64 << 20)))
    assert result.status is Status.INCOMPLETE
    assert "ZIP-BOMB" in {f.rule for f in result.findings}


def _seeds() -> list[bytes]:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("archive/data.pkl", stop(call(global_("collections", "OrderedDict")) + b"."))
        zipped.writestr("archive/data/0", os.urandom(64))
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }".ljust(118) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + system()
    return [system(), memo_bomb(6), archive.getvalue(), npy, b"cos\nsystem\n(S'id'\ntR.", *_format_seeds()]


def _format_seeds() -> list[bytes]:
    """One small real file of each other format the scanner parses."""
    import json
    import tempfile

    import gguf
    import numpy as np
    from onnx import TensorProto, helper
    from safetensors.numpy import save as save_safetensors

    seeds = [save_safetensors({"w": np.ones((2, 3), dtype=np.float32)}, metadata={"format": "np"})]
    with tempfile.TemporaryDirectory() as directory:
        writer = gguf.GGUFWriter(f"{directory}/m.gguf", "llama")
        writer.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
        writer.add_tensor("w", np.ones((2, 2), dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        seeds.append(Path(f"{directory}/m.gguf").read_bytes())
    node = helper.make_node("Relu", ["X"], ["Y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])],
    )
    seeds.append(helper.make_model(graph).SerializeToString())
    keras_zip = io.BytesIO()
    with zipfile.ZipFile(keras_zip, "w") as archive:
        archive.writestr(
            "config.json",
            json.dumps(
                {
                    "module": "keras",
                    "class_name": "Sequential",
                    "config": {"layers": [{"class_name": "Lambda", "config": {"function": "lambda x: x"}}]},
                }
            ),
        )
        archive.writestr("metadata.json", "{}")
    seeds.append(keras_zip.getvalue())
    seeds.append(
        json.dumps(
            {"model_type": "x", "auto_map": {"AutoModel": "m.M"}, "chat_template": "{{ messages[0]['content'] }}"}
        ).encode()
    )
    return seeds


SEEDS = _seeds()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "huge-length"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete" and data:
            del data[at : at + draw(st.integers(1, 16))]
        elif kind == "truncate":
            del data[at:]
        elif kind == "huge-length":
            data[at:at] = b"X\xff\xff\xff\x7f"  # BINUNICODE claiming 2 GiB
    return bytes(data)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=mutated())
def test_mutated_inputs_always_give_a_result(tmp_path: Path, data: bytes) -> None:
    sample = tmp_path / "fuzz.bin"
    sample.write_bytes(data)
    result = scan_file(sample, ScanOptions(limits=Limits(max_seconds=20)))
    assert isinstance(result, FileResult)
    assert result.status in (Status.SCANNED, Status.INCOMPLETE, Status.UNSUPPORTED)
    assert result.format != "error", result.notes  # an internal error is a bug, even though it is never "clean"
    if result.status is Status.SCANNED and result.format == "pickle":
        assert not any(f.rule == "PICKLE-MALFORMED" for f in result.findings)


def test_npy_magic_alone_is_incomplete(tmp_path: Path) -> None:
    """Found by the fuzzer: a file that is only the npy magic."""
    (tmp_path / "a.npy").write_bytes(b"\x93NUMPY")
    assert scan_file(tmp_path / "a.npy").status is Status.INCOMPLETE


def test_unknown_bytes_are_unsupported_not_clean(tmp_path: Path) -> None:
    (tmp_path / "blob").write_bytes(b"\x00\x01 not any format we read")
    assert scan_file(tmp_path / "blob").status is Status.UNSUPPORTED


def test_member_that_cannot_be_decompressed(tmp_path: Path) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("archive/data.pkl", system() * 50)
    data = bytearray(archive.getvalue())
    start = data.index(b"archive/data.pkl") + len("archive/data.pkl")
    data[start + 5 : start + 40] = b"\xff" * 35  # corrupt the deflate stream
    (tmp_path / "bad.pt").write_bytes(bytes(data))
    result = scan_file(tmp_path / "bad.pt")
    assert result.status is Status.INCOMPLETE


def test_an_internal_error_is_incomplete_not_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelseal.scanning.containers import zip as zip_container

    def broken(*args: object, **kwargs: object) -> str:
        raise KeyError("simulated bug")

    monkeypatch.setattr(zip_container, "scan", broken)
    (tmp_path / "model.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    result = scan_file(tmp_path / "model.zip")
    assert result.status is Status.INCOMPLETE and "internal error" in result.notes[0]
