"""Regression tests for issue 10, "the scanner fails closed by construction", each built from raw bytes.

Every class here once passed a hostile file or hung the scanner. Where the point is that a real loader accepts
the bytes, a throwaway subprocess loads the sample with a harmless canary payload (it touches a file) to prove
the sample is live; the scan itself runs nothing.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import pickle
import random
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest

from modelseal.scanning.budget import Limits
from modelseal.scanning.findings import FileResult, Severity, Status
from modelseal.scanning.scanner import ScanOptions, scan_file, scan_paths
from tests.scanning.pickles import binbytes, call, global_, stack_global, unicode


def touch(canary: Path) -> bytes:
    """`os.system('touch CANARY')` as GLOBAL, MARK, argument, TUPLE, REDUCE: no PROTO, no STOP."""
    return call(global_("os", "system"), unicode(f"touch {canary}"))


def runs_when_loaded(code: str, canary: Path) -> bool:
    """Load in a throwaway interpreter; True when the canary payload ran."""
    subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, check=False)
    return canary.exists()


def critical(result: FileResult) -> bool:
    return result.worst is Severity.CRITICAL and result.status is not Status.UNSUPPORTED


# --- pickles the unpickler accepts without PROTO, STOP or a "pickle-looking" first byte ---------------------


@pytest.mark.parametrize(
    "prefix",
    [b"", b"M\x01\x000", b"K\x070", b"\x95\x40\x00\x00\x00\x00\x00\x00\x00", b"N0", b"I5\n0", b"(0"],
    ids=["global-first", "binint2-pop", "binint1-pop", "frame", "none-pop", "int-pop", "mark-pop"],
)
def test_pickle_without_proto_or_stop_is_scanned(tmp_path: Path, prefix: bytes) -> None:
    canary = tmp_path / "ran"
    sample = tmp_path / "notes.txt"
    sample.write_bytes(prefix + touch(canary))  # ends right after REDUCE: pickle.load raises only at EOF
    result = scan_file(sample)
    assert critical(result), result
    assert not canary.exists()
    assert runs_when_loaded(f"import pickle; pickle.load(open({str(sample)!r}, 'rb'))", canary)


def test_protocol_0_inst_without_stop_is_scanned(tmp_path: Path) -> None:
    canary = tmp_path / "ran"
    sample = tmp_path / "model.bin"
    sample.write_bytes(b"(S'touch " + str(canary).encode() + b"'\nios\nsystem\n")
    assert critical(scan_file(sample))
    assert runs_when_loaded(f"import pickle; pickle.load(open({str(sample)!r}, 'rb'))", canary)


@pytest.mark.parametrize(
    "text",
    [b"cat is great\nbut dogs are too\n", b"copyright 2024\nAll rights reserved\n", b"(see below)\n", b"Intro\n"],
)
def test_text_the_unpickler_rejects_before_importing_is_data(tmp_path: Path, text: bytes) -> None:
    sample = tmp_path / "README"
    sample.write_bytes(text * 20)
    result = scan_file(sample)
    assert result.status is Status.UNSUPPORTED and not result.findings, result


# --- zips as each loader reads them -------------------------------------------------------------------------


def _object_npy(payload: bytes) -> bytes:
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }".ljust(117) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\x80\x02" + payload + b"."


def test_zip_whose_end_record_declares_no_entries(tmp_path: Path) -> None:
    """miniz trusts the entry count (0: nothing to see); zipfile reads the directory by size, so numpy loads."""
    canary = tmp_path / "ran"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.npy", _object_npy(touch(canary)))
    data = bytearray(buffer.getvalue())
    eocd = data.rfind(b"PK\x05\x06")
    data[eocd + 8 : eocd + 12] = b"\x00\x00\x00\x00"  # entries on this disk, entries in total
    sample = tmp_path / "weights.npz"
    sample.write_bytes(bytes(data))
    result = scan_file(sample)
    assert critical(result)
    assert "ZIP-READERS-DISAGREE" in {f.rule for f in result.findings}
    code = f"import numpy; numpy.load({str(sample)!r}, allow_pickle=True)['x']"
    assert runs_when_loaded(code, canary)


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_zip_members_in_every_method_zipfile_reads(tmp_path: Path, method: int) -> None:
    sample = tmp_path / "model.zip"
    with zipfile.ZipFile(sample, "w", compression=method) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x04" + touch(tmp_path / "ran") + b".")
    assert critical(scan_file(sample))


def test_many_entries_sharing_one_member_are_read_once(tmp_path: Path) -> None:
    """65k directory entries pointing at the same stored member: one scan, the sharing reported."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.pkl", b"\x80\x04" + touch(tmp_path / "ran") + b".")
    data = buffer.getvalue()
    eocd = data.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack("<L", data[eocd + 16 : eocd + 20])[0]
    entry = data[cd_offset:eocd]
    count = 65_000
    directory = entry * count
    end = b"PK\x05\x06" + struct.pack("<4H2LH", 0, 0, 0xFFFF, 0xFFFF, len(directory), cd_offset, 0)
    sample = tmp_path / "many.zip"
    sample.write_bytes(data[:cd_offset] + directory + end)
    result = scan_file(sample)
    assert critical(result)
    assert "ZIP-OVERLAP" in {f.rule for f in result.findings}
    assert sum(1 for f in result.findings if f.rule == "PICKLE-DANGEROUS-CALL") == 1


# --- every compression frame, by its magic ------------------------------------------------------------------


def _lz4(data: bytes) -> bytes:
    import lz4.frame

    return bytes(lz4.frame.compress(data))


def _zstd(data: bytes) -> bytes:
    import zstandard

    return bytes(zstandard.ZstdCompressor().compress(data))


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, bz2.compress, lzma.compress, zlib.compress, _lz4, _zstd],
    ids=["gzip", "bz2", "xz", "zlib", "lz4", "zstd"],
)
def test_compressed_pickles_are_scanned(tmp_path: Path, compress: object) -> None:
    sample = tmp_path / "model.pkl"
    sample.write_bytes(compress(b"\x80\x04" + touch(tmp_path / "ran") + b"."))  # type: ignore[operator]
    assert critical(scan_file(sample))


def test_joblib_lz4_file_is_scanned(tmp_path: Path) -> None:
    """joblib.load decompresses lz4 and unpickles: it was `unsupported` (exit 0)."""
    import joblib

    canary = tmp_path / "ran"
    sample = tmp_path / "model.joblib"
    sample.write_bytes(_lz4(b"\x80\x04" + touch(canary) + b"."))
    assert critical(scan_file(sample))
    assert runs_when_loaded(f"import joblib; joblib.load({str(sample)!r})", canary)
    benign = tmp_path / "benign.joblib"
    joblib.dump({"weights": list(range(100))}, benign, compress="lz4")
    assert scan_file(benign).status is Status.SCANNED and not scan_file(benign).findings


def test_pandas_zstd_pickle_is_scanned(tmp_path: Path) -> None:
    import pandas

    canary = tmp_path / "ran"
    sample = tmp_path / "frame.pkl.zst"
    # STACK_GLOBAL, as pandas pickles: zstd's reader has no readline, which text GLOBAL needs
    sample.write_bytes(_zstd(b"\x80\x04" + call(stack_global("os", "system"), unicode(f"touch {canary}")) + b"."))
    assert critical(scan_file(sample))
    assert runs_when_loaded(f"import pandas; pandas.read_pickle({str(sample)!r})", canary)
    benign = tmp_path / "benign.pkl.zst"
    pandas.DataFrame({"a": [1, 2, 3]}).to_pickle(benign)
    result = scan_file(benign)
    assert result.status is Status.SCANNED and not result.findings, result


@pytest.mark.parametrize("container", ["tar", "zip", "gzip"])
def test_gzipped_benign_pickle_inside_a_container_is_read(tmp_path: Path, container: str) -> None:
    """`GzipFile(fileobj=spool)` without mode='rb' opened write-only spools for writing: nothing was read."""
    inner = gzip.compress(pickle.dumps({"a": [1, 2.0, "three"]}))
    sample = tmp_path / f"model.{container}"
    if container == "tar":
        with tarfile.open(sample, "w") as archive:
            info = tarfile.TarInfo("model.pkl.gz")
            info.size = len(inner)
            archive.addfile(info, io.BytesIO(inner))
    elif container == "zip":
        with zipfile.ZipFile(sample, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("model.pkl.gz", inner)
    else:
        sample.write_bytes(gzip.compress(inner))
    result = scan_file(sample)
    assert result.status is Status.SCANNED and not result.findings, result


# --- configs a framework instantiates ------------------------------------------------------------------------


def test_cve_2025_23304_nemo_config_target(tmp_path: Path) -> None:
    """A NeMo archive's model_config.yaml: Hydra's instantiate imports and calls `_target_`."""
    config = b"model:\n  preprocessor:\n    _target_: os.system\n    command: touch /tmp/x\n"
    sample = tmp_path / "model.nemo"
    with tarfile.open(sample, "w:gz") as archive:
        info = tarfile.TarInfo("./model_config.yaml")
        info.size = len(config)
        archive.addfile(info, io.BytesIO(config))
    result = scan_file(sample)
    assert critical(result)
    assert any(f.rule == "CONFIG-DANGEROUS-TARGET" and f.target == "os.system" for f in result.findings)


def test_pyyaml_python_tag(tmp_path: Path) -> None:
    sample = tmp_path / "config.yml"
    sample.write_text("run: !!python/object/apply:os.system ['touch /tmp/x']\n")
    result = scan_file(sample)
    assert any(f.rule == "YAML-PYTHON-TAG" and f.severity is Severity.CRITICAL for f in result.findings)


def test_json_config_target_judged_by_the_policy(tmp_path: Path) -> None:
    sample = tmp_path / "config.json"
    sample.write_text(json.dumps({"optim": {"_target_": "torch.optim.Adam"}, "cb": {"_target_": "subprocess.run"}}))
    findings = scan_file(sample).findings
    assert {f.target: f.severity for f in findings}["subprocess.run"] is Severity.CRITICAL


# --- nothing unscanned is ever PASS --------------------------------------------------------------------------


def test_fifo_inside_a_directory_is_skipped_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (results,) = scan_paths([tmp_path])  # a FIFO opened for reading would block here forever
    assert results.status is Status.SKIPPED and results.format == "fifo"


def test_unknown_bytes_named_for_a_code_running_loader_are_incomplete(tmp_path: Path) -> None:
    sample = tmp_path / "model.pkl"
    sample.write_bytes(b"\x00\x01\x02 not a format modelseal reads")
    assert scan_file(sample).status is Status.INCOMPLETE


def test_rar_archive_is_incomplete(tmp_path: Path) -> None:
    sample = tmp_path / "model.rar"
    sample.write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(64))
    assert scan_file(sample).status is Status.INCOMPLETE


def test_hdf5_behind_a_user_block_is_read(tmp_path: Path) -> None:
    """h5py opens files whose superblock sits after a user block; so does Keras."""
    import h5py

    sample = tmp_path / "model.h5"
    config = {"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {}}]}}
    with h5py.File(sample, "w", userblock_size=512) as store:
        store.attrs["model_config"] = json.dumps(config)
    result = scan_file(sample)
    assert result.format == "keras-h5" and "KERAS-LAMBDA" in {f.rule for f in result.findings}


def test_v7_tar_without_magic_is_read(tmp_path: Path) -> None:
    """tarfile accepts a pre-POSIX header that has no 'ustar' magic, only a valid checksum."""
    payload = b"\x80\x04" + touch(tmp_path / "ran") + b"."
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        info = tarfile.TarInfo("model.pkl")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    data = bytearray(buffer.getvalue())
    data[257:265] = bytes(8)  # no magic, no version
    data[148:156] = b"        "
    data[148:156] = b"%06o\0 " % sum(data[:512])
    sample = tmp_path / "checkpoint"
    sample.write_bytes(bytes(data))
    with tarfile.open(sample) as archive:
        assert archive.getnames() == ["model.pkl"]
    assert critical(scan_file(sample))


# --- one budget per top-level file ---------------------------------------------------------------------------


def test_nested_pickles_share_the_file_budget(tmp_path: Path) -> None:
    """Each zlib literal nested in a pickle once got a fresh opcode allowance."""

    def literal(n: int) -> bytes:
        inner = b"\x80\x04J" + struct.pack("<i", n) + b"0"  # each differs: identical ones are scanned once
        inner += b"".join(b"K" + bytes([i % 251]) + b"0" for i in range(400)) + b"N."
        return binbytes(zlib.compress(inner)) + b"0"

    sample = tmp_path / "nested.pkl"
    sample.write_bytes(b"\x80\x04" + b"".join(literal(n) for n in range(10)) + b"N.")
    limits = Limits(max_opcodes=2_000)
    assert scan_file(sample).status is Status.SCANNED  # 10 x 800 opcodes: well within the default budget
    result = scan_file(sample, ScanOptions(limits=limits))
    assert result.status is Status.INCOMPLETE and any("opcodes" in n for n in result.notes), result.notes


def test_a_repeated_nested_payload_is_judged_once(tmp_path: Path) -> None:
    payload = zlib.compress(b"\x80\x04" + touch(tmp_path / "ran") + b".")
    sample = tmp_path / "repeated.pkl"
    sample.write_bytes(b"\x80\x04" + (binbytes(payload) + b"0") * 1_000 + b"N.")
    result = scan_file(sample)
    assert critical(result)
    assert sum(1 for f in result.findings if f.rule == "PICKLE-DANGEROUS-CALL") == 1


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress, _zstd])
def test_small_compression_bombs_stop_at_the_ratio_bound(tmp_path: Path, compress: object) -> None:
    zeros = bytes(256 << 20)
    sample = tmp_path / "bomb.bin"
    sample.write_bytes(compress(zeros))  # type: ignore[operator]
    assert sample.stat().st_size < 2 << 20
    result = scan_file(sample)
    assert result.status is Status.INCOMPLETE and any("decompression bomb" in n for n in result.notes), result.notes


def test_nested_bombs_share_one_expansion_budget(tmp_path: Path) -> None:
    """gzip in gzip in gzip: every level draws on the same byte budget."""
    data = bytes(48 << 20)
    for _ in range(3):
        data = gzip.compress(data, compresslevel=1)
    sample = tmp_path / "nested.gz"
    sample.write_bytes(data)
    result = scan_file(sample, ScanOptions(limits=Limits(max_expanded_bytes=32 << 20)))
    assert result.status is Status.INCOMPLETE and any("expands beyond" in n for n in result.notes), result.notes


def test_safetensors_shape_of_huge_dimensions_is_refused_at_once(tmp_path: Path) -> None:
    header = json.dumps({"t": {"dtype": "F32", "shape": [2**62] * 200_000, "data_offsets": [0, 4]}}).encode()
    sample = tmp_path / "model.safetensors"
    sample.write_bytes(struct.pack("<Q", len(header)) + header + bytes(4))
    result = scan_file(sample)
    assert result.status is Status.INCOMPLETE and "SAFETENSORS-INVALID" in {f.rule for f in result.findings}


def test_gguf_array_of_millions_of_empty_strings_is_a_bound(tmp_path: Path) -> None:
    count = 4_000_001
    body = b"GGUF" + struct.pack("<IQQ", 3, 0, 1)
    key = b"tokenizer.ggml.tokens"
    body += struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, 8, count)
    sample = tmp_path / "model.gguf"
    with open(sample, "wb") as handle:
        handle.write(body)
        handle.write(bytes(8 * count))
    result = scan_file(sample)
    assert result.status is Status.INCOMPLETE and any("strings" in n for n in result.notes), result.notes


def test_template_of_millions_of_chained_filters_is_a_bound(tmp_path: Path) -> None:
    sample = tmp_path / "chat_template.jinja"
    sample.write_text("{{ x" + "|trim" * 2_000_000 + " }}")
    result = scan_file(sample)
    assert result.status is Status.INCOMPLETE and any("template" in n for n in result.notes), result.notes


def test_huge_pickle_literal_is_scanned_in_place_and_what_follows_is_still_read(tmp_path: Path) -> None:
    size = 600 << 20
    sample = tmp_path / "big.pkl"
    with open(sample, "wb") as handle:
        handle.write(b"\x80\x04\x8e" + struct.pack("<Q", size))
        handle.seek(size, os.SEEK_CUR)  # sparse: no disk, and no memory unless a reader buffers it
        handle.write(b"0" + touch(tmp_path / "ran") + b".")
    result = scan_file(sample)
    assert critical(result) and result.status is Status.SCANNED, result


@pytest.mark.parametrize("name", ["config.json", "tokenizer.json", "model.safetensors.index.json"])
def test_deeply_nested_json_is_a_named_bound_not_an_internal_error(tmp_path: Path, name: str) -> None:
    sample = tmp_path / name
    sample.write_text("[" * 200_000 + "]" * 200_000)
    result = scan_file(sample)
    assert result.format != "error" and result.status is Status.INCOMPLETE, result
    assert any("deeper" in n for n in result.notes)


# --- one policy, applied in one place ------------------------------------------------------------------------


def test_severity_overrides_apply_to_every_format(tmp_path: Path) -> None:
    from modelseal.scanning.policy import load_policy

    policy_file = tmp_path / "policy.toml"
    policy_file.write_text('[severity]\nCONFIG-UNKNOWN-TARGET = "info"\nYAML-PYTHON-TAG = "low"\n')
    sample = tmp_path / "config.yaml"
    sample.write_text("a: !!python/name:foo.bar\nb:\n  _target_: mylib.Model\n")
    result = scan_file(sample, ScanOptions(policy=load_policy(policy_file)))
    assert {f.rule: f.severity for f in result.findings} == {
        "YAML-PYTHON-TAG": Severity.LOW,
        "CONFIG-UNKNOWN-TARGET": Severity.INFO,
    }


def test_user_deny_list_reaches_configs(tmp_path: Path) -> None:
    from modelseal.scanning.policy import load_policy

    policy_file = tmp_path / "policy.toml"
    policy_file.write_text('[deny]\nprefixes = ["mylib"]\n')
    sample = tmp_path / "config.json"
    sample.write_text(json.dumps({"_target_": "mylib.Model"}))
    assert scan_file(sample).worst is Severity.MEDIUM
    assert scan_file(sample, ScanOptions(policy=load_policy(policy_file))).worst is Severity.CRITICAL


def test_partly_overlapping_zip_members_are_reported(tmp_path: Path) -> None:
    """Two directory entries over the same bytes with different lengths: each name reads a different file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.pkl", b"\x80\x04N." * 50)
    data = buffer.getvalue()
    eocd = data.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack("<L", data[eocd + 16 : eocd + 20])[0]
    first = data[cd_offset:eocd]
    second = bytearray(first)
    second[46:51], second[20:24] = b"b.pkl", struct.pack("<L", 10)  # same start, a shorter span
    directory = first + bytes(second)
    end = b"PK\x05\x06" + struct.pack("<4H2LH", 0, 0, 2, 2, len(directory), cd_offset, 0)
    sample = tmp_path / "overlap.zip"
    sample.write_bytes(data[:cd_offset] + directory + end)
    assert "ZIP-OVERLAP" in {f.rule for f in scan_file(sample).findings}


def test_global_names_are_read_as_utf8_like_the_unpickler(tmp_path: Path) -> None:
    """pickletools reads GLOBAL lines as ASCII with escapes; pickle.load reads UTF-8 as is. Found by scripts/fuzz:
    a non-ASCII attribute name made the whole file 'data'."""
    sample = tmp_path / "model.pkl"
    sample.write_bytes(call(global_("mödule", "fünc"), unicode("x")) + b".")
    result = scan_file(sample)
    assert result.format == "pickle" and any(f.target == "mödule.fünc" for f in result.findings), result


def test_pickle_in_the_user_block_of_an_hdf5_file_is_both(tmp_path: Path) -> None:
    """h5py reads the superblock after the user block; pickle.load reads the user block: scan both halves."""
    import h5py

    sample = tmp_path / "model.h5"
    config = {"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {}}]}}
    with h5py.File(sample, "w", userblock_size=512) as store:
        store.attrs["model_config"] = json.dumps(config)
    data = bytearray(sample.read_bytes())
    payload = b"\x80\x04" + touch(tmp_path / "ran") + b"."
    data[: len(payload)] = payload
    sample.write_bytes(bytes(data))
    rules = {f.rule for f in scan_file(sample).findings}
    assert {"PICKLE-DANGEROUS-CALL", "POLYGLOT", "KERAS-LAMBDA"} <= rules, rules


def test_scan_file_on_a_fifo_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    result = scan_file(tmp_path / "pipe")  # a blocking open would wait here forever
    assert result.status is Status.SKIPPED and result.format == "fifo"


@pytest.mark.parametrize("first", [0x8D, 0x8E, 0x81, 0x85, 0x8F])
def test_raw_weights_that_start_like_a_pickle_or_msgpack_are_data(tmp_path: Path, first: int) -> None:
    """Random tensor bytes: BINUNICODE8/BINBYTES8 with a length past the file system's largest offset, msgpack maps
    with unhashable keys. Found by CI on os.urandom weights: they were 'incomplete', not data."""
    import random

    rng = random.Random(first)
    for _ in range(60):
        path = tmp_path / "weights.bin"
        path.write_bytes(bytes([first]) + rng.randbytes(2000))
        result = scan_file(path)
        assert result.status is not Status.INCOMPLETE, result.notes


@pytest.mark.parametrize("head", [b"\x78\xbb", b"\x78\x01", b"\x78\x9c", b"\x1f\x8b\x08", b"BZh9", b"\x5d\x00\x00"])
def test_raw_weights_that_start_like_a_compressed_stream_are_data(tmp_path: Path, head: bytes) -> None:
    """Random tensor bytes whose first bytes happen to be a zlib, gzip, bz2 or lzma header (one random file in
    ~8,000 for zlib; CI met `78 bb`): the decoder refuses them before producing a byte, so no loader reads
    anything from them; they were 'incomplete'."""
    rng = random.Random(head)
    for _ in range(40):
        path = tmp_path / "weights.bin"
        path.write_bytes(head + rng.randbytes(2000))
        result = scan_file(path)
        assert result.status in (Status.UNSUPPORTED, Status.SCANNED) and not result.findings, result.notes


@pytest.mark.parametrize("compress", [zlib.compress, gzip.compress], ids=["zlib", "gzip"])
def test_a_compressed_pickle_that_breaks_after_its_payload_is_caught(tmp_path: Path, compress: object) -> None:
    """A streaming loader unpickles what decodes before the break, so the payload runs: what came before a break
    is scanned as the loader reads it, never waved through as noise."""
    noise = random.Random(0).randbytes(4000)
    body = compress(b"\x80\x04" + touch(tmp_path / "ran") + b"." + noise)  # type: ignore[operator]
    path = tmp_path / "model.bin"
    path.write_bytes(body[: len(body) // 2] + b"\xff" * 200)
    result = scan_file(path)
    assert critical(result), result


def test_a_compressed_pickle_cut_short_stays_incomplete(tmp_path: Path) -> None:
    body = zlib.compress(pickle.dumps({"weights": list(range(5000))}, protocol=4))
    path = tmp_path / "model.bin"
    path.write_bytes(body[: len(body) // 2] + b"\xff" * 64)
    assert scan_file(path).status is Status.INCOMPLETE


def test_raw_weights_that_start_like_a_template_are_data(tmp_path: Path) -> None:
    """`{{` then binary (found by a random sweep): transformers reads templates as strict UTF-8, so this is no
    template and a syntax finding on it was a false alarm; a real template that large stays a bound."""
    rng = random.Random(7)
    path = tmp_path / "weights.bin"
    for _ in range(20):
        path.write_bytes(b"{{" + rng.randbytes(3000))
        result = scan_file(path)
        assert result.status is Status.UNSUPPORTED and not result.findings, result
    path.write_bytes(b"{{ x }}" + b"\xff" * (2 << 20))
    assert scan_file(path).status is Status.UNSUPPORTED
    path.write_bytes(b"{{ x }}" + b"a" * (2 << 20))
    assert scan_file(path).status is Status.INCOMPLETE


def test_random_weights_are_data(tmp_path: Path) -> None:
    """Raw tensor bytes start with anything: 3,000 seeded random files of three sizes are each data or scanned
    clean, never a finding or 'incomplete'. The sweep that found the zlib, gzip and `{{` cases above."""
    rng = random.Random(20261203)
    path = tmp_path / "weights.bin"
    for _ in range(3000):
        path.write_bytes(rng.randbytes(rng.choice((64, 2000, 70000))))
        result = scan_file(path)
        assert result.status in (Status.UNSUPPORTED, Status.SCANNED) and not result.findings, (
            path.read_bytes()[:8].hex(),
            result,
        )


@pytest.mark.parametrize("ext", [b"\x82\x00", b"\x83\x00\x00", b"\x84\x00\x7f\xfd\xb3", b"\x84\x00\x00\x00\x00"])
def test_an_extension_code_copyreg_cannot_register_is_data(tmp_path: Path, ext: bytes) -> None:
    """EXT1/2/4 with a code <= 0: both unpicklers raise before importing anything (the random sweep met one)."""
    path = tmp_path / "weights.bin"
    path.write_bytes(ext + b"." + bytes(100))
    result = scan_file(path)
    assert result.status is Status.UNSUPPORTED and not result.findings, result


@pytest.mark.parametrize("loader", ["pickle.load", "pickle._load"], ids=["C", "Python"])
def test_pop_after_mark_discards_the_mark_not_the_callable(tmp_path: Path, loader: str) -> None:
    """POP with nothing above the last MARK pops the MARK itself (both unpicklers): the callable under it stays
    for REDUCE. The emulator popped the callable instead, read a different object and fell off the stack."""
    canary = tmp_path / "ran"
    sample = tmp_path / "model.bin"
    marked = global_("os", "system") + b"(0" + b"(" + unicode(f"touch {canary}") + b"tR."
    sample.write_bytes(marked)
    assert critical(scan_file(sample))
    assert runs_when_loaded(f"import pickle; {loader}(open({str(sample)!r}, 'rb'))", canary)


def test_stop_with_nothing_above_the_mark_is_not_a_pickle(tmp_path: Path) -> None:
    """`.` on an empty stack underflows in both unpicklers (the random sweep met `2e 82`): nothing was read."""
    path = tmp_path / "weights.bin"
    path.write_bytes(b".\x82\xc1" + bytes(100))
    assert scan_file(path).status is Status.UNSUPPORTED
    path.write_bytes(b"N(." + bytes(100))
    assert scan_file(path).status is Status.UNSUPPORTED


@pytest.mark.parametrize("head", [b"\x80\x02m", b"\x80\x03\xb3", b"\x80\x00D", b"\x80\x05\xff"])
def test_a_protocol_header_then_no_opcode_is_data(tmp_path: Path, head: bytes) -> None:
    """Raw weights starting `80 0x` then a byte that is no opcode (the random sweep met four): the unpickler
    refuses that byte before building anything. A pickle that breaks later stays a corrupt pickle (incomplete,
    test_a_compressed_pickle_cut_short_stays_incomplete)."""
    path = tmp_path / "weights.bin"
    path.write_bytes(head + bytes(50))
    result = scan_file(path)
    assert result.status is Status.UNSUPPORTED and not result.findings, result


def test_a_link_to_a_directory_outside_the_tree_is_reported(tmp_path: Path) -> None:
    """os.walk listed it as a directory and never followed it: its pickles went unmentioned."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.pkl").write_bytes(touch(tmp_path / "ran"))
    model = tmp_path / "model"
    (model / "inner").mkdir(parents=True)
    (model / "weights.json").write_text("{}")
    (model / "elsewhere").symlink_to(outside, target_is_directory=True)
    (model / "again").symlink_to(model / "inner", target_is_directory=True)  # inside: walked as itself
    results = {Path(r.path).name: r for r in scan_paths([model])}
    assert set(results) == {"weights.json", "elsewhere"}
    assert results["elsewhere"].status is Status.INCOMPLETE and "not followed" in results["elsewhere"].notes[0]
